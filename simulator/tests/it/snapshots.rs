//! The quickstart report, pinned: any change to what a run does or how it is reported shows up
//! here as a reviewable diff (`cargo insta review`). The commit is redacted: it changes with
//! every commit while the run does not.

use simulator::report;
use simulator::summary::COMMIT;

use crate::support::{run, shipped};

fn redact(text: &str) -> String {
    text.replace(COMMIT, "[commit]")
}

#[test]
fn quickstart_report() {
    let result = run(&shipped("quickstart"), 1);
    insta::assert_snapshot!("quickstart_report_md", redact(&report::run_markdown(&result)));
    let summary = serde_json::to_string_pretty(&result.summary).unwrap();
    insta::assert_snapshot!("quickstart_summary_json", redact(&summary));
}

#[test]
fn reports_have_no_empty_header_rows_and_one_time_axis_with_its_unit() {
    let text = "name = \"axes\"\nduration_ms = 30000\n[nodes]\nclients = 6\n[[faults.crashes]]\nnodes = \"2\"\n\
                at_ms = 5000\nrestart_at_ms = 9000\n[[faults.partitions]]\nat_ms = 12000\nheal_at_ms = 15000\n\
                side = \"1-3\"\n";
    let result = run(&crate::support::parse(text), 1);
    let html = report::run_html(&result);
    assert!(!html.contains("<th></th>") && !html.contains("<tr></tr>"), "an empty header row");
    assert_eq!(html.matches("pulse (1 s)").count(), 4, "every plot's x axis says its unit");
    assert!(html.matches(">\n30\n</text>").count() >= 4, "every plot spans the whole run (30 pulses)");
    assert!(html.contains("node 2 crashed") && html.contains("partition 0 healed"), "the faults table");
    assert!(html.contains("\nn2\n"), "the crash is labelled with its node on the plots");
    let md = report::run_markdown(&result);
    assert!(!md.contains("|  |  |"), "{md}");
}

#[test]
fn probability_axes_stay_within_zero_and_one() {
    use simulator::plot::{Chart, Line, chart};
    let lines =
        [Line { label: "AUC".into(), points: vec![(0.0, 0.2), (1.0, 0.4)], half_widths: vec![0.9, 0.9] }];
    let svg = chart(&Chart {
        title: "t",
        x_desc: "x",
        y_desc: "p",
        lines: &lines,
        y_range: Some((0.0, 1.0)),
        ..Chart::default()
    });
    assert!(svg.contains(">\n1.00\n</text>"), "the axis reaches 1");
    assert!(
        !svg.contains(">\n1.20\n</text>") && !svg.contains(">\n1.40\n</text>"),
        "and not beyond, error bars clipped"
    );
}
