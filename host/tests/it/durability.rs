//! A node killed mid-seal — after its batch's records are written, before they are committed —
//! restarts from exactly what it had made durable: replaying its log rebuilds the state it had
//! after its last committed batch (same fingerprint), and it seals on from there.

use host::config::{Faults, Limits};

use super::*;

fn last_checkpoint(lines: &[Line]) -> (u64, String) {
    lines
        .iter()
        .rev()
        .find_map(|l| match &l.ev {
            Ev::Checkpoint { fingerprint } => Some((l.input, fingerprint.clone())),
            _ => None,
        })
        .expect("a checkpoint")
}

#[test]
fn killed_mid_seal_it_restarts_from_its_last_durable_batch() {
    let dir = scratch("mid-seal");
    let faults = Faults { abort_sealing_pulse: Some(4), ..Faults::default() };
    let mut file = solo_file(&dir, 0, Limits::default(), faults, unix_ms() + 300);
    let mut proc = Proc::start(&file);
    let status = proc.child.wait().expect("it dies");
    assert!(!status.success(), "the node was to abort mid-seal: {status}");
    let before = proc.lines();
    let (input, fingerprint) = last_checkpoint(&before);
    let pulses_before = sealed_pulses(&before);
    assert_eq!(
        pulses_before.last(),
        Some(&3),
        "it sealed up to pulse 3 and died sealing 4: {pulses_before:?}"
    );
    drop(proc);

    file.faults = Faults::default();
    let mut proc = Proc::start(&file);
    let restarted = proc.wait_for("a restart", 20_000, |l| matches!(l.ev, Ev::Restarted { .. }));
    let Ev::Restarted { replayed, fingerprint: after, .. } = restarted.ev else { unreachable!() };
    assert_eq!(replayed, input + 1, "every committed record and no other is replayed");
    assert_eq!(after, fingerprint, "the replayed state is the state after the last durable batch");
    proc.wait_for("pulse 5 sealed", 20_000, |l| matches!(l.ev, Ev::Sealed { pulse: 5, .. }));
    let pulses = sealed_pulses(&proc.lines());
    assert!(pulses.windows(2).all(|w| w[0] < w[1]), "no pulse sealed twice or out of order: {pulses:?}");
    let status = proc.term();
    assert!(status.success(), "SIGTERM is a clean shutdown: {status}");
    assert!(matches!(
        host::events::read(&dir.join("events.jsonl")).expect("events").last().map(|l| &l.ev),
        Some(Ev::Shutdown)
    ));
}

#[test]
fn sigkill_at_any_moment_loses_nothing_it_made_durable() {
    let dir = scratch("sigkill");
    let file = solo_file(&dir, 0, Limits::default(), Faults::default(), unix_ms() + 200);
    for round in 0..3u64 {
        let mut proc = Proc::start(&file);
        let target = 2 + 2 * round;
        proc.wait_for("a seal", 30_000, |l| matches!(l.ev, Ev::Sealed { pulse, .. } if pulse >= target));
        // Some milliseconds into the next pulse: at an arbitrary point of the loop.
        std::thread::sleep(Duration::from_millis(137 * (round + 1)));
        let (input, fingerprint) = last_checkpoint(&proc.lines());
        proc.child.kill().expect("SIGKILL");
        proc.child.wait().expect("dead");
        let lines = proc.lines();
        let before = lines.len();
        drop(proc);
        let mut proc = Proc::start(&file);
        let restarted = proc
            .wait_for("a restart", 20_000, |l| matches!(l.ev, Ev::Restarted { .. }) && l.input + 1 > input);
        let Ev::Restarted { replayed, fingerprint: after, .. } = restarted.ev else { unreachable!() };
        assert!(replayed > input, "round {round}: replayed {replayed}, checkpoint at {input}");
        if replayed == input + 1 {
            assert_eq!(after, fingerprint, "round {round}: same state as at the checkpoint");
        }
        assert!(proc.lines().len() > before);
        proc.child.kill().expect("SIGKILL");
        proc.child.wait().expect("dead");
    }
    let pulses = sealed_pulses(&host::events::read(&dir.join("events.jsonl")).expect("events"));
    assert!(pulses.windows(2).all(|w| w[0] < w[1]), "across three kills no pulse sealed twice: {pulses:?}");
}
