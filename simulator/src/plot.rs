//! SVG line charts with plotters (SVG backend, no system fonts). The output is a pure function
//! of the data, so reports stay byte-deterministic.

use plotters::prelude::*;

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

/// A fault marked on the time axis.
#[derive(Debug)]
pub struct Marker {
    /// Pulse at which it happened.
    pub pulse: u64,
    /// What happened.
    pub label: &'static str,
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn marker_color(label: &str) -> RGBColor {
    match label {
        "crash" => RGBColor(214, 39, 40),
        "restart" => RGBColor(44, 160, 44),
        "partition" => RGBColor(148, 103, 189),
        _ => RGBColor(127, 127, 127),
    }
}

/// A line chart as an SVG document string. Fault markers are vertical lines, labelled once.
pub fn lines(title: &str, x_desc: &str, y_desc: &str, lines: &[Line], markers: &[Marker]) -> String {
    let mut svg = String::new();
    // Drawing into a String cannot fail for I/O reasons; a plotters error here is a bug in
    // the chart code, and a report without that figure is better than no report.
    if let Err(error) = draw(&mut svg, title, x_desc, y_desc, lines, markers) {
        return format!("<p>figure {title:?} could not be drawn: {error}</p>");
    }
    svg
}

fn bounds(lines: &[Line], markers: &[Marker]) -> (f64, f64, f64) {
    let points = lines.iter().flat_map(|l| l.points.iter());
    let x_min = points.clone().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x_max = points.clone().map(|p| p.0).chain(markers.iter().map(|m| m.pulse as f64)).fold(0.0, f64::max);
    let tops = lines.iter().flat_map(|l| {
        l.points.iter().enumerate().map(|(i, p)| p.1 + l.half_widths.get(i).copied().unwrap_or(0.0))
    });
    let y_max = tops.fold(0.0, f64::max);
    let x_min = if x_min.is_finite() { x_min.min(0.0) } else { 0.0 };
    let x_max = if x_max > x_min { x_max } else { x_min + 1.0 };
    (x_min, x_max, if y_max > 0.0 { y_max * 1.1 } else { 1.0 })
}

fn draw<'a>(
    svg: &'a mut String,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    lines: &[Line],
    markers: &[Marker],
) -> Result<(), Box<dyn std::error::Error + 'a>> {
    let root = SVGBackend::with_string(svg, (760, 300)).into_drawing_area();
    root.fill(&WHITE)?;
    let (x_min, x_max, y_max) = bounds(lines, markers);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(32)
        .y_label_area_size(56)
        .build_cartesian_2d(x_min..x_max, 0.0..y_max)?;
    // Whole numbers for counts and times; decimals for small ranges such as probabilities.
    let decimals = |span: f64| if span > 10.0 { 0 } else { 3 };
    let (x_decimals, y_decimals) = (decimals(x_max - x_min), decimals(y_max));
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .light_line_style(WHITE)
        .x_label_formatter(&|x| format!("{x:.x_decimals$}"))
        .y_label_formatter(&|y| format!("{y:.y_decimals$}"))
        .draw()?;
    let mut labelled = Vec::new();
    for m in markers {
        let color = marker_color(m.label);
        let x = m.pulse as f64;
        let series = chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, 0.0), (x, y_max)],
            color.mix(0.35).stroke_width(1),
        )))?;
        if !labelled.contains(&m.label) {
            labelled.push(m.label);
            series.label(m.label).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
    }
    for (i, line) in lines.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let bars =
            line.points.iter().zip(&line.half_widths).filter(|(_, h)| **h > 0.0).map(|(&(x, y), h)| {
                PathElement::new(vec![(x, (y - h).max(0.0)), (x, y + h)], color.mix(0.6).stroke_width(1))
            });
        chart.draw_series(bars)?;
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), color.stroke_width(2)))?
            .label(line.label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    root.present()?;
    Ok(())
}
