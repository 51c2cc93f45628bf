//! The minimal pulse protocol of `reference::node`, driven by hand: every output is delivered
//! at once, in order, by a tiny loop. Checks commits with verified proofs, idempotent retries,
//! nonce resync after a restart, and that bad peer input becomes a `NodeError`, never a panic.

use std::collections::VecDeque;
use std::sync::Arc;

use reference::Id;
use reference::crypto::{Hash32, Signer, SimScheme};
use reference::ledger::{Ledger, LedgerError, Tx};
use reference::node::{Command, Message, Node, NodeConfig, NodeError, NodeEvent, Output, Timer};

struct Net {
    nodes: Vec<Node>,
    events: Vec<(usize, NodeEvent)>,
    timers: Vec<(usize, u64, Timer)>,
    scheme: SimScheme,
}

const PULSE_MS: u64 = 1000;

fn net(clients: u64) -> Net {
    let scheme = SimScheme::new(5);
    let signers: Vec<_> = (0..=clients).map(|i| scheme.signer(i)).collect();
    let org = scheme.signer(1_000);
    let distribution: Vec<(Id, u64)> = signers[1..].iter().map(|s| (s.id(), 1_000)).collect();
    let ledger = Ledger::genesis_with_distribution(org.id(), 1_000_000, &distribution).unwrap();
    let config = NodeConfig {
        pulse_ms: PULSE_MS,
        retry_ms: 3 * PULSE_MS,
        max_attempts: 3,
        bookkeeper: signers[0].id(),
    };
    let verifier = Arc::new(scheme.clone());
    let mut nodes = vec![Node::bookkeeper(signers[0].id(), ledger, verifier.clone(), config)];
    nodes.extend(signers[1..].iter().map(|s| Node::client(Arc::new(s.clone()), verifier.clone(), config)));
    Net { nodes, events: Vec::new(), timers: Vec::new(), scheme }
}

impl Net {
    fn index(&self, id: Id) -> usize {
        self.nodes.iter().position(|n| n.id() == id).expect("a node of the net")
    }

    /// Apply `outputs` of node `from`, delivering messages (and their consequences) at once.
    fn settle(&mut self, now: u64, from: usize, outputs: Vec<Output>) {
        let mut work: VecDeque<(usize, Output)> = outputs.into_iter().map(|o| (from, o)).collect();
        while let Some((from, output)) = work.pop_front() {
            let from_id = self.nodes[from].id();
            let mut out = Vec::new();
            match output {
                Output::Send { to, msg } => {
                    let to = self.index(to);
                    self.nodes[to].handle_message(now, from_id, &msg, &mut out);
                    work.extend(out.into_iter().map(|o| (to, o)));
                }
                Output::Broadcast { msg } => {
                    for to in (0..self.nodes.len()).filter(|i| *i != from) {
                        let mut out = Vec::new();
                        self.nodes[to].handle_message(now, from_id, &msg, &mut out);
                        work.extend(out.into_iter().map(|o| (to, o)));
                    }
                }
                Output::SetTimer { at_ms, timer } => self.timers.push((from, at_ms, timer)),
                Output::Event(event) => self.events.push((from, event)),
            }
        }
    }

    fn command(&mut self, now: u64, node: usize, to: usize, amount: u64, tag: u64) {
        let to = self.nodes[to].id();
        let mut out = Vec::new();
        self.nodes[node].handle_command(now, Command::Transfer { to, amount, tag }, &mut out);
        self.settle(now, node, out);
    }

    fn pulse(&mut self, now: u64) {
        let mut out = Vec::new();
        self.nodes[0].handle_timer(now, Timer::Pulse, &mut out);
        self.settle(now, 0, out);
    }

    fn deliver(&mut self, now: u64, from: usize, to: usize, msg: &Message) {
        let from_id = self.nodes[from].id();
        let mut out = Vec::new();
        self.nodes[to].handle_message(now, from_id, msg, &mut out);
        self.settle(now, to, out);
    }

    fn take_events(&mut self) -> Vec<(usize, NodeEvent)> {
        std::mem::take(&mut self.events)
    }
}

fn balance(net: &Net, node: usize) -> u64 {
    let id = net.nodes[node].id();
    net.nodes[0].ledger().unwrap().account(&id).unwrap().balance
}

#[test]
fn a_transfer_commits_at_the_pulse_with_a_verified_proof_for_both_parties() {
    let mut net = net(2);
    net.command(10, 1, 2, 300, 7);
    assert!(net.take_events().is_empty(), "nothing is committed before the pulse");
    assert_eq!(balance(&net, 2), 1_300, "applied to the working state");
    net.pulse(1000);
    let events = net.take_events();
    assert!(events.iter().any(|(n, e)| *n == 1 && matches!(e, NodeEvent::Committed { tag: 7, version: 2 })));
    assert!(events.iter().any(|(n, e)| *n == 2 && matches!(e, NodeEvent::Credited { version: 2, .. })));
    assert!(
        events.iter().any(|(n, e)| *n == 0
            && matches!(e, NodeEvent::Sealed { version: 2, applied, .. } if applied.len() == 1))
    );
    assert_eq!(net.nodes[2].root().unwrap().version, 2, "clients hold the broadcast root");
}

#[test]
fn queued_transfers_go_one_at_a_time_with_consecutive_nonces() {
    let mut net = net(2);
    for tag in 0..3 {
        net.command(10, 1, 2, 10, tag);
    }
    assert_eq!(net.nodes[1].queue_len(), 2);
    for pulse in 1..=3 {
        net.pulse(pulse * 1000);
    }
    let committed: Vec<u64> = net
        .take_events()
        .into_iter()
        .filter_map(|(_, e)| if let NodeEvent::Committed { tag, .. } = e { Some(tag) } else { None })
        .collect();
    assert_eq!(committed, [0, 1, 2]);
    let payer = net.nodes[1].id();
    assert_eq!(net.nodes[0].ledger().unwrap().account(&payer).unwrap().nonce, 3);
}

#[test]
fn a_retried_submission_is_applied_once_and_answered_with_its_commit_again() {
    let mut net = net(2);
    net.command(10, 1, 2, 50, 1);
    net.pulse(1000);
    net.take_events();
    // The retry timer fires as if the commit had been lost: the payer proposes again.
    let (node, at_ms, timer) =
        *net.timers.iter().find(|(n, _, t)| *n == 1 && matches!(t, Timer::Retry { .. })).unwrap();
    let mut out = Vec::new();
    net.nodes[node].handle_timer(at_ms, timer, &mut out);
    assert!(out.is_empty(), "the transfer committed, so its retry timer does nothing");
    // A duplicate submission of the sealed transfer (e.g. a duplicated message) is not re-applied.
    let payer = net.nodes[1].id();
    let before = net.nodes[0].ledger().unwrap().account(&payer).unwrap();
    let resubmit = resubmission(&net, 1, 2, 50, 1);
    net.deliver(1500, 2, 0, &resubmit);
    assert_eq!(net.nodes[0].ledger().unwrap().account(&payer).unwrap(), before);
    let events = net.take_events();
    assert!(events.iter().all(|(_, e)| !matches!(e, NodeEvent::BadMessage { .. })), "{events:?}");
}

/// The Submit the payee would send for the payer's `nonce`-th transfer (created at pulse 0).
fn resubmission(net: &Net, payer: u64, payee: u64, amount: u64, nonce: u64) -> Message {
    let (payer, payee) = (net.scheme.signer(payer), net.scheme.signer(payee));
    let tx = Tx { from: payer.id(), to: payee.id(), amount, from_nonce: nonce, created_pulse: 0 };
    Message::Submit(Box::new(tx.sign(&payer, &payee)))
}

#[test]
fn a_client_restarted_without_state_loses_its_queue_and_resyncs_its_nonce() {
    let mut net = net(2);
    net.command(10, 1, 2, 10, 0);
    net.pulse(1000);
    net.command(1010, 1, 2, 10, 1);
    net.command(1020, 1, 2, 10, 2);
    let mut out = Vec::new();
    net.nodes[1].restart(1030, false, &mut out);
    net.settle(1030, 1, out);
    net.pulse(2000); // transfer 1 was already submitted: it commits, but the payer forgot it
    let events = net.take_events();
    assert!(
        events.iter().any(|(_, e)| matches!(e, NodeEvent::Lost { tags } if *tags == [1, 2])),
        "{events:?}"
    );
    // The payer believes its nonce is 0; the bookkeeper says 3 is next; it re-signs.
    net.command(2010, 1, 2, 10, 3);
    let events = net.take_events();
    assert!(
        events.iter().any(|(_, e)| matches!(e, NodeEvent::NonceResynced { tag: 3, nonce: 3 })),
        "{events:?}"
    );
    net.pulse(3000);
    assert!(net.take_events().iter().any(|(_, e)| matches!(e, NodeEvent::Committed { tag: 3, .. })));
}

#[test]
fn an_overspend_is_refused_for_good_and_the_payer_moves_on() {
    let mut net = net(2);
    net.command(10, 1, 2, 5_000, 0);
    net.command(10, 1, 2, 5, 1);
    let events = net.take_events();
    assert!(events.iter().any(|(_, e)| matches!(
        e,
        NodeEvent::Refused {
            tag: 0,
            error: LedgerError::InsufficientSpendable { spendable: 1_000, amount: 5_000 }
        }
    )));
    net.pulse(1000);
    assert!(net.take_events().iter().any(|(_, e)| matches!(e, NodeEvent::Committed { tag: 1, .. })));
}

fn bad_message_error(net: &mut Net, from: usize, to: usize, msg: &Message) -> NodeError {
    net.take_events();
    net.deliver(500, from, to, msg);
    let events = net.take_events();
    match events.as_slice() {
        [(_, NodeEvent::BadMessage { error, .. })] => *error,
        other => panic!("expected one BadMessage, got {other:?}"),
    }
}

#[test]
fn bad_peer_input_is_a_typed_error_never_a_panic() {
    let mut net = net(3);
    let payer = net.scheme.signer(1);
    let tx = Tx { from: payer.id(), to: net.nodes[2].id(), amount: 5, from_nonce: 1, created_pulse: 0 };
    let good_sig = payer.sign(&tx.id().0);
    let mut forged = good_sig;
    forged.0[0] ^= 1;

    let msg = Message::Propose { tx, payer_key: payer.public_key(), payer_sig: forged };
    assert!(matches!(
        bad_message_error(&mut net, 1, 2, &msg),
        NodeError::BadProposal(LedgerError::BadSignature { .. })
    ));

    let msg = Message::Propose { tx, payer_key: payer.public_key(), payer_sig: good_sig };
    assert!(matches!(bad_message_error(&mut net, 1, 3, &msg), NodeError::NotThePayee { .. }));

    let msg = Message::Propose { tx, payer_key: net.scheme.signer(3).public_key(), payer_sig: good_sig };
    assert!(matches!(
        bad_message_error(&mut net, 1, 2, &msg),
        NodeError::BadProposal(LedgerError::KeyMismatch { .. })
    ));

    let zero = Tx { amount: 0, ..tx };
    let msg =
        Message::Propose { tx: zero, payer_key: payer.public_key(), payer_sig: payer.sign(&zero.id().0) };
    assert!(matches!(
        bad_message_error(&mut net, 1, 2, &msg),
        NodeError::BadProposal(LedgerError::NonPositiveAmount)
    ));

    let root = net.nodes[0].root().unwrap();
    let msg = Message::Pulse { pulse: 9, root };
    assert!(matches!(bad_message_error(&mut net, 3, 2, &msg), NodeError::NotFromBookkeeper { .. }));

    let msg = resubmission(&net, 1, 2, 5, 1);
    assert!(matches!(
        bad_message_error(&mut net, 1, 2, &msg),
        NodeError::UnexpectedMessage { role: "client", .. }
    ));
    let msg = Message::Pulse { pulse: 1, root };
    assert!(matches!(
        bad_message_error(&mut net, 1, 0, &msg),
        NodeError::UnexpectedMessage { role: "bookkeeper", .. }
    ));
}

#[test]
fn a_tampered_or_misdirected_commit_proof_is_rejected() {
    let mut net = net(2);
    net.command(10, 1, 2, 10, 0);
    let ledger = net.nodes[0].ledger().unwrap().clone();
    let mut sealed = ledger;
    let version = sealed.seal();
    let root = sealed.tree().root(version).unwrap();
    let payer_id = net.nodes[1].id();
    let tx_id = Hash32([0; 32]);

    let mut proof = sealed.tree().prove(version, &payer_id).unwrap();
    if let reference::smt::Terminal::Leaf { account, .. } = &mut proof.terminal {
        account.balance += 1;
    }
    let msg = Message::Committed { tx_id, root, proof: Box::new(proof) };
    assert!(matches!(bad_message_error(&mut net, 0, 1, &msg), NodeError::BadProof(_)));

    let other = sealed.tree().prove(version, &net.nodes[2].id()).unwrap();
    let msg = Message::Committed { tx_id, root, proof: Box::new(other) };
    assert!(matches!(bad_message_error(&mut net, 0, 1, &msg), NodeError::ProofDoesNotShowTransfer));

    let proof = sealed.tree().prove(version, &payer_id).unwrap();
    let msg = Message::Committed { tx_id, root, proof: Box::new(proof) };
    assert!(matches!(bad_message_error(&mut net, 2, 1, &msg), NodeError::NotFromBookkeeper { .. }));
}

#[test]
fn an_older_pulse_never_moves_a_clients_ts_back() {
    let mut net = net(2);
    let old = net.nodes[0].root().unwrap();
    net.command(10, 1, 2, 10, 0);
    net.pulse(1000);
    let new = net.nodes[2].root().unwrap();
    assert!(new.version > old.version);
    net.deliver(1100, 0, 2, &Message::Pulse { pulse: 0, root: old });
    assert_eq!(net.nodes[2].root().unwrap(), new);
}

#[test]
fn wire_sizes_follow_the_encoding() {
    let net = net(2);
    let msg = resubmission(&net, 1, 2, 5, 1);
    assert_eq!(msg.wire_bytes(), 1 + 64 + 2 * (32 + 64));
}

#[test]
fn a_restart_without_state_keeps_the_stored_root_so_ts_never_goes_back() {
    let mut net = net(2);
    let old = net.nodes[0].root().unwrap();
    net.command(10, 1, 2, 10, 0);
    net.pulse(1000);
    let new = net.nodes[2].root().unwrap();
    let mut out = Vec::new();
    net.nodes[2].restart(1050, false, &mut out);
    net.deliver(1100, 0, 2, &Message::Pulse { pulse: 0, root: old });
    assert_eq!(net.nodes[2].root().unwrap(), new);
}
