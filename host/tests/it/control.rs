//! The control socket: a request joins the node's inputs and is answered `queued`; a
//! malformed one is answered with what is wrong and the connection stays open; a line past
//! the bound closes only that connection; the node seals on throughout. A non-loopback
//! control address is refused by key.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use host::config::{Faults, Limits};
use host::control::{CONTROL_LINE_MAX, Reply, Request};
use reference::Id;
use reference::node::governance::GovAction;

use super::*;

fn ask(reader: &mut BufReader<TcpStream>, line: &str) -> Reply {
    reader.get_mut().write_all(format!("{line}\n").as_bytes()).expect("write");
    let mut reply = String::new();
    reader.read_line(&mut reply).expect("a reply");
    serde_json::from_str(&reply).unwrap_or_else(|e| panic!("reply {reply:?}: {e}"))
}

fn error_of(reply: Reply) -> String {
    match reply {
        Reply::Error(why) => why,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn checkpoints(lines: &[Line]) -> u64 {
    lines.iter().filter(|l| matches!(l.ev, Ev::Checkpoint { .. })).map(|l| l.input).max().unwrap_or(0)
}

#[test]
fn requests_are_queued_and_bad_ones_are_answered_with_what_is_wrong() {
    let dir = scratch("control");
    let mut file = solo_file(&dir, 0, Limits::default(), Faults::default(), unix_ms() + 200);
    let control = free_addr();
    file.node.control = Some(control);
    let mut proc = Proc::start(&file);
    proc.wait_for("pulse 1 sealed", 20_000, |l| matches!(l.ev, Ev::Sealed { pulse: 1, .. }));
    let stream = TcpStream::connect(control).expect("the control socket");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut reader = BufReader::new(stream);
    let good = serde_json::to_string(&Request::gov(Id([7; 20]), 42, &GovAction::Heartbeat)).expect("json");

    let before = checkpoints(&proc.lines());
    assert_eq!(ask(&mut reader, &good), Reply::Queued(42));
    let why = error_of(ask(&mut reader, r#"{"gov": 5}"#));
    assert!(why.starts_with("request:"), "{why}");
    let why = error_of(ask(&mut reader, r#"{"transfer": {}}"#));
    assert!(why.contains("unknown variant") && why.contains("gov"), "{why}");
    let bad_action = format!(r#"{{"gov": {{"org": "{}", "tag": 1, "action": "zz"}}}}"#, "00".repeat(20));
    assert!(error_of(ask(&mut reader, &bad_action)).starts_with("gov.action:"));
    let truncated = format!(r#"{{"gov": {{"org": "{}", "tag": 1, "action": "05"}}}}"#, "00".repeat(20));
    assert!(error_of(ask(&mut reader, &truncated)).starts_with("gov.action:"));
    let short_org = r#"{"gov": {"org": "0011", "tag": 1, "action": "05"}}"#;
    assert!(error_of(ask(&mut reader, short_org)).contains("gov.org: not 20 bytes"));
    // A transfer from an account (D-046): queued; a short Id or nothing to pay is refused.
    let pay = serde_json::to_string(&Request::pay(Id([1; 20]), Id([2; 20]), 5, 45)).expect("json");
    assert_eq!(ask(&mut reader, &pay), Reply::Queued(45));
    let short_to =
        format!(r#"{{"pay": {{"from": "{}", "to": "00", "amount": 5, "tag": 1}}}}"#, "00".repeat(20));
    assert!(error_of(ask(&mut reader, &short_to)).contains("pay.to: not 20 bytes"));
    let nothing = pay.replace("\"amount\":5", "\"amount\":0");
    assert_ne!(nothing, pay);
    assert!(error_of(ask(&mut reader, &nothing)).starts_with("pay.amount:"));
    // Still open after every refusal.
    assert_eq!(ask(&mut reader, &good.replace("42", "43")), Reply::Queued(43));
    // The two requests became inputs (a bookkeeper has no use for them: it logs and ignores).
    proc.wait_for("the requests logged", 10_000, |l| {
        matches!(l.ev, Ev::Checkpoint { .. }) && l.input >= before + 2
    });

    // A line past the bound: answered, then that connection (only) is closed.
    let long = "x".repeat(CONTROL_LINE_MAX + 10);
    let why = error_of(ask(&mut reader, &long));
    assert!(why.contains("longer than"), "{why}");
    let mut rest = String::new();
    assert_eq!(reader.read_line(&mut rest).map_err(|e| e.kind()), Ok(0), "closed: {rest:?}");
    let mut again = BufReader::new(TcpStream::connect(control).expect("a new connection"));
    assert_eq!(ask(&mut again, &good.replace("42", "44")), Reply::Queued(44));
    let last = sealed_pulses(&proc.lines()).last().copied().expect("sealed");
    proc.wait_for("sealing on", 10_000, |l| matches!(l.ev, Ev::Sealed { pulse, .. } if pulse >= last + 2));
    assert!(proc.term().success());
}
