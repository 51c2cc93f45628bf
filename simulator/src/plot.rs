//! SVG line charts with plotters (SVG backend, no system fonts). The output is a pure function
//! of the data, so reports stay byte-deterministic.
//!
//! A chart keeps its legend in a column of its own beside the plotting area, never over the
//! data; marks faults on the time axis as labelled dashed lines (which node crashed) and
//! partitions as shaded bands; takes a fixed x range so that a report's charts line up; draws a
//! log x axis when the values span decades; and holds probability axes to [0, 1].

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One line of a chart.
#[derive(Debug)]
pub struct Line {
    /// Legend label.
    pub label: String,
    /// Points in x order.
    pub points: Vec<(f64, f64)>,
    /// Half-widths of a confidence interval per point, drawn as error bars (empty = none).
    pub half_widths: Vec<f64>,
}

/// What a marker on the time axis marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkKind {
    /// A node crashed.
    Crash,
    /// A node restarted.
    Restart,
}

impl MarkKind {
    /// Its line's and label's colour.
    fn color(self) -> RGBColor {
        match self {
            MarkKind::Crash => CRASH,
            MarkKind::Restart => RESTART,
        }
    }
}

/// A fault marked on the time axis: a dashed vertical line with a short label.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    /// Where (x units).
    pub x: f64,
    /// What.
    pub kind: MarkKind,
    /// The label, e.g. `n3` (node 3); drawn above the plot where there is room.
    pub label: String,
}

/// An interval shaded across the plot, e.g. a partition in force.
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    /// Start (x units).
    pub from: f64,
    /// End (x units).
    pub to: f64,
    /// What it is, e.g. `partition 0`.
    pub label: String,
}

/// A chart to draw.
#[derive(Debug, Default)]
pub struct Chart<'a> {
    /// The caption.
    pub title: &'a str,
    /// The x axis' description, with its unit.
    pub x_desc: &'a str,
    /// The y axis' description, with its unit.
    pub y_desc: &'a str,
    /// The lines.
    pub lines: &'a [Line],
    /// Faults on the x axis.
    pub markers: &'a [Marker],
    /// Intervals to shade.
    pub bands: &'a [Band],
    /// The x range; `None` fits the data.
    pub x_range: Option<(f64, f64)>,
    /// A log x axis (ignored unless every x is positive).
    pub x_log: bool,
    /// The y range; `None` is 0 to 10% above the data.
    pub y_range: Option<(f64, f64)>,
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];
const CRASH: RGBColor = RGBColor(214, 39, 40);
const RESTART: RGBColor = RGBColor(44, 160, 44);
const BAND: RGBColor = RGBColor(148, 103, 189);

const WIDTH: u32 = 960;
const HEIGHT: u32 = 320;
/// The legend's column, right of the plot.
const LEGEND_WIDTH: u32 = 250;
/// Characters of a legend label before it is cut with `…`.
const LABEL_CHARS: usize = 40;

/// Whether swept values read better on a log axis: all positive, spanning at least a decade,
/// and crowded towards the small end (their median below half their midpoint — 1, 2, 4, … 32
/// is, 1, 2, 3, … 10 is not).
pub fn spans_decades(values: impl IntoIterator<Item = f64>) -> bool {
    let mut values: Vec<f64> = values.into_iter().collect();
    if values.is_empty() || values.iter().any(|v| !(*v > 0.0 && v.is_finite())) {
        return false;
    }
    values.sort_by(f64::total_cmp);
    values.dedup();
    let (min, max) = (values[0], values[values.len() - 1]);
    let n = values.len();
    let median = if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 };
    max / min >= 10.0 && median < (min + max) / 4.0
}

/// The chart as an SVG document string.
pub fn chart(chart: &Chart<'_>) -> String {
    let mut svg = String::new();
    // Drawing into a String cannot fail for I/O reasons; a plotters error here is a bug in
    // the chart code, and a report without that figure is better than no report.
    if let Err(error) = draw(&mut svg, chart) {
        return format!("<p>figure {:?} could not be drawn: {error}</p>", chart.title);
    }
    svg
}

/// The most lines a sweep figure draws: more are unreadable, and its title says how many were
/// left out.
pub const MAX_LINES: usize = 6;

/// One figure of a sweep's report: a metric against the swept key `x_key`.
#[derive(Debug)]
pub struct MetricFigure<'a> {
    /// The metric's name, the y axis.
    pub metric: &'a str,
    /// The swept key on the x axis.
    pub x_key: &'a str,
    /// The x axis' description (the key, and its categories if they are not numbers).
    pub x_desc: &'a str,
    /// How the points are averaged, for the title ("mean over seeds").
    pub averaged: &'a str,
    /// How many lines there were before the first [`MAX_LINES`] were taken, and what a line is.
    pub lines_total: (usize, &'a str),
    /// Whether the x values are categories (then never a log axis).
    pub categorical: bool,
    /// A fixed y range (probabilities, percentages).
    pub y_range: Option<(f64, f64)>,
}

/// The figure's chart as an SVG document string, with a log x axis where the values call for one.
pub fn metric_figure(figure: &MetricFigure<'_>, lines: &[Line]) -> String {
    let (total, noun) = figure.lines_total;
    let shown =
        if total > MAX_LINES { format!(", first {MAX_LINES} of {total} {noun}") } else { String::new() };
    let title = format!("{} vs {} ({}{shown})", figure.metric, figure.x_key, figure.averaged);
    let x_log = !figure.categorical && spans_decades(lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)));
    let x_desc = if x_log { format!("{} (log scale)", figure.x_desc) } else { figure.x_desc.to_string() };
    chart(&Chart {
        title: &title,
        x_desc: &x_desc,
        y_desc: figure.metric,
        lines,
        x_log,
        y_range: figure.y_range,
        ..Chart::default()
    })
}

/// x as drawn: its log10 on a log axis.
fn scale_x(log: bool, x: f64) -> f64 {
    if log { x.log10() } else { x }
}

fn log_axis(chart: &Chart<'_>) -> bool {
    chart.x_log && spans_decades(chart.lines.iter().flat_map(|l| l.points.iter().map(|p| p.0)))
}

fn x_bounds(chart: &Chart<'_>, log: bool) -> (f64, f64) {
    let xs = chart.lines.iter().flat_map(|l| l.points.iter().map(|p| scale_x(log, p.0)));
    let (min, max) = match chart.x_range {
        Some((min, max)) => (scale_x(log, min), scale_x(log, max)),
        None => xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x), hi.max(x))),
    };
    let (min, max) = if log { (min.floor(), max.ceil()) } else { (min.min(0.0), max) };
    if !(min.is_finite() && max.is_finite()) {
        return (0.0, 1.0);
    }
    if max > min { (min, max) } else { (min, min + 1.0) }
}

fn y_bounds(chart: &Chart<'_>) -> (f64, f64) {
    let values = chart.lines.iter().flat_map(|l| l.points.iter().map(|p| p.1));
    let data_max = values.fold(0.0, f64::max);
    if let Some((min, max)) = chart.y_range {
        // A fixed range (a probability's [0, 1]) is kept unless data would fall outside it.
        return (min, max.max(data_max));
    }
    let tops = chart.lines.iter().flat_map(|l| {
        let half = |i: usize| l.half_widths.get(i).copied().filter(|h| h.is_finite()).unwrap_or(0.0);
        l.points.iter().enumerate().map(move |(i, p)| p.1 + half(i))
    });
    let y_max = tops.fold(0.0, f64::max);
    (0.0, if y_max > 0.0 { y_max * 1.1 } else { 1.0 })
}

/// `label`, cut to fit the legend.
fn fit(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        return label.to_string();
    }
    let cut: String = label.chars().take(LABEL_CHARS - 1).collect();
    format!("{cut}…")
}

fn draw<'a>(svg: &'a mut String, c: &Chart<'_>) -> Result<(), Box<dyn std::error::Error + 'a>> {
    let root = SVGBackend::with_string(svg, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title_area, body) = root.split_vertically(26);
    let title_style = ("sans-serif", 16).into_font().color(&BLACK).pos(Pos::new(HPos::Center, VPos::Center));
    title_area.draw(&Text::new(c.title.to_string(), ((WIDTH - LEGEND_WIDTH) as i32 / 2, 14), title_style))?;
    let (plot_area, legend_area) = body.split_horizontally(WIDTH - LEGEND_WIDTH);
    let log = log_axis(c);
    let (x_min, x_max) = x_bounds(c, log);
    let (y_min, y_max) = y_bounds(c);
    let mut chart = ChartBuilder::on(&plot_area)
        .margin(10)
        .margin_top(if c.markers.is_empty() && c.bands.is_empty() { 8 } else { 28 }) // the fault labels' rows
        .x_label_area_size(34)
        .y_label_area_size(60)
        .build_cartesian_2d(x_min..x_max, y_min..y_max)?;
    // Whole numbers for counts and times; decimals for small ranges such as probabilities.
    let decimals = |span: f64| if span > 10.0 { 0 } else { 2 };
    let (x_decimals, y_decimals) = (decimals(x_max - x_min), decimals(y_max - y_min));
    let x_label = |x: &f64| {
        if log { format_decade(*x) } else { format!("{x:.x_decimals$}") }
    };
    chart
        .configure_mesh()
        .x_desc(c.x_desc)
        .y_desc(c.y_desc)
        .light_line_style(WHITE)
        .x_labels(if log { (x_max - x_min) as usize + 1 } else { 10 })
        .x_label_formatter(&x_label)
        .y_label_formatter(&|y| format!("{y:.y_decimals$}"))
        .draw()?;
    for band in c.bands {
        let (from, to) = (scale_x(log, band.from).max(x_min), scale_x(log, band.to).min(x_max));
        chart.draw_series(std::iter::once(Rectangle::new(
            [(from, y_min), (to, y_max)],
            BAND.mix(0.13).filled(),
        )))?;
    }
    for m in c.markers {
        let x = scale_x(log, m.x);
        let color = m.kind.color();
        let dashes =
            DashedLineSeries::new(vec![(x, y_min), (x, y_max)], 4, 3, color.mix(0.8).stroke_width(1));
        chart.draw_series(dashes)?;
    }
    draw_lines(&mut chart, c, log, (y_min, y_max))?;
    let pixel = |x: f64| chart.backend_coord(&(scale_x(log, x), y_max));
    // Bands are labelled at their middle, markers at their line, all in one set of rows so that
    // no label runs into another; on the root area, as `backend_coord` gives pixels of the image.
    let labels = c.bands.iter().map(|b| ((b.from + b.to) / 2.0, b.label.as_str(), BAND));
    let labels = labels.chain(c.markers.iter().map(|m| (m.x, m.label.as_str(), m.kind.color())));
    draw_labels(&root, labels.collect(), &pixel)?;
    draw_legend(&legend_area, c)?;
    root.present()?;
    Ok(())
}

/// The chart's lines, each with its confidence bars.
fn draw_lines<'a>(
    chart: &mut ChartContext<'_, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    c: &Chart<'_>,
    log: bool,
    (y_min, y_max): (f64, f64),
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    for (i, line) in c.lines.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let points: Vec<(f64, f64)> = line.points.iter().map(|&(x, y)| (scale_x(log, x), y)).collect();
        let bars = points.iter().zip(&line.half_widths).filter(|(_, h)| **h > 0.0).map(|(&(x, y), h)| {
            PathElement::new(
                vec![(x, (y - h).max(y_min)), (x, (y + h).min(y_max))],
                color.mix(0.6).stroke_width(1),
            )
        });
        chart.draw_series(bars)?;
        chart.draw_series(LineSeries::new(points, color.stroke_width(2)))?;
    }
    Ok(())
}

/// Labels `(x, text, colour)` above the plot, each where it does not run into the one before it
/// (two rows; one that fits in neither is left out — the report's fault table lists them all).
fn draw_labels<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    mut labels: Vec<(f64, &str, RGBColor)>,
    pixel: &dyn Fn(f64) -> (i32, i32),
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    const GAP_PX: i32 = 46;
    let mut row_end = [i32::MIN / 2, i32::MIN / 2];
    labels.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (x, text, color) in labels {
        let (x, top) = pixel(x);
        let Some(row) = (0..2).find(|r| x >= row_end[*r] + GAP_PX) else { continue };
        row_end[row] = x;
        let style = ("sans-serif", 10).into_font().color(&color).pos(Pos::new(HPos::Center, VPos::Bottom));
        area.draw(&Text::new(text.to_string(), (x, top - 2 - 11 * row as i32), style))?;
    }
    Ok(())
}

/// The legend, in its own column: the lines, then what the markers and bands mean.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    c: &Chart<'_>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let font = ("sans-serif", 12).into_font();
    let mut y = 40;
    let mut entry = |swatch: &dyn Fn(i32) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>,
                     label: String|
     -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        swatch(y)?;
        area.draw(&Text::new(label, (34, y - 6), font.clone()))?;
        y += 18;
        Ok(())
    };
    for (i, line) in c.lines.iter().enumerate().take(12) {
        let color = PALETTE[i % PALETTE.len()];
        entry(
            &|y| area.draw(&PathElement::new(vec![(8, y), (28, y)], color.stroke_width(2))),
            fit(&line.label),
        )?;
    }
    for (kind, name) in [(MarkKind::Crash, "crash (node)"), (MarkKind::Restart, "restart (node)")] {
        let color = kind.color();
        if c.markers.iter().any(|m| m.kind == kind) {
            let dash =
                |y| area.draw(&PathElement::new(vec![(8, y), (12, y), (16, y)], color.stroke_width(1)));
            entry(
                &|y| dash(y).and_then(|()| area.draw(&PathElement::new(vec![(20, y), (28, y)], color))),
                name.into(),
            )?;
        }
    }
    if let Some(band) = c.bands.first() {
        let kind = band.label.split(' ').next().unwrap_or("interval").to_string();
        entry(
            &|y| area.draw(&Rectangle::new([(8, y - 5), (28, y + 5)], BAND.mix(0.25).filled())),
            format!("{kind} in force"),
        )?;
    }
    Ok(())
}

/// A decade tick's label on a log axis: `0.01`, `1`, `1000`.
fn format_decade(exponent: f64) -> String {
    let value = 10f64.powf(exponent);
    if exponent >= 0.0 { format!("{value:.0}") } else { format!("{value:.*}", (-exponent).ceil() as usize) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decades_and_log_axes() {
        assert!(spans_decades([1.0, 2.0, 4.0, 8.0, 16.0, 32.0]));
        assert!(spans_decades([0.001, 0.01, 0.1, 1.0]));
        assert!(!spans_decades((1..=10).map(f64::from)), "evenly spaced: linear");
        assert!(!spans_decades([1.0, 5.0]));
        assert!(!spans_decades([0.0, 10.0, 1000.0]), "0 has no logarithm");
        assert_eq!(format_decade(3.0), "1000");
        assert_eq!(format_decade(-2.0), "0.01");
    }

    #[test]
    fn the_legend_is_beside_the_data_and_markers_say_what_they_mark() {
        let lines =
            [Line { label: "p50".into(), points: vec![(0.0, 1.0), (10.0, 5.0)], half_widths: vec![] }];
        let markers = [Marker { x: 4.0, kind: MarkKind::Crash, label: "n3".into() }];
        let bands = [Band { from: 2.0, to: 6.0, label: "partition 0".into() }];
        let svg = chart(&Chart {
            title: "t",
            x_desc: "pulse (1 s)",
            y_desc: "ms",
            lines: &lines,
            markers: &markers,
            bands: &bands,
            x_range: Some((0.0, 20.0)),
            ..Chart::default()
        });
        let texts: Vec<&str> =
            svg.split("</text>").filter_map(|t| t.rsplit('>').next()).map(str::trim).collect();
        for text in ["n3", "crash (node)", "partition 0", "partition in force", "p50", "pulse (1 s)"] {
            assert!(texts.contains(&text), "{text} in {texts:?}");
        }
        assert!(texts.contains(&"20"), "the x range given is the x range drawn: {texts:?}");
    }
}
