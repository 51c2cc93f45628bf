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
