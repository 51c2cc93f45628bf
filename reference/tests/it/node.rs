//! The node protocol of `reference::node`, driven by hand: every output is delivered at once,
//! in order, by a tiny loop that can lose chosen messages. One group: commits with verified
//! proofs, idempotent retries, nonce resync after a restart, bad peer input as a `NodeError`,
//! and a proptest-state-machine test against a model of balances, queues and outcomes. Two leaf
//! groups under the chief: escrow, matching, clearing, aborts, late credits, broken primaries,
//! and a property test over any schedule of payments, pulses and losses (I1, I4, settlement).
//! Committees (D-032): replay and attestation, failover of a silent primary with fencing and
//! catch-up, and committee messages from the wrong members as typed errors.

use std::collections::VecDeque;
use std::sync::Arc;

use proptest::prelude::*;
use reference::Id;
use reference::Prefix;
use reference::consensus::root::AccountProof;
use reference::crypto::{Hash32, Signer, SimScheme};
use reference::invariants::{self, AtomicityMonitor, HalfStep, Invariant};
use reference::ledger::{Half, LedgerFaults};
use reference::ledger::{LedgerError, Tx};
use reference::node::governance::{GovAccepted, GovAction, GovRefusal, GovResult};
use reference::node::{
    Candidate, Command, Envelope, Genesis, Message, Node, NodeConfig, NodeError, NodeEvent, Output, Roster,
    SettleMsg, Timer, To, credit_horizon_pulses,
};
use reference::org::{OrgError, OrgParams, ProposalKind, WeightRule};
use reference::wire;

type DropRule = Box<dyn FnMut(usize, usize, &Message) -> bool>;

struct Net {
    nodes: Vec<Node>,
    events: Vec<(usize, NodeEvent)>,
    timers: Vec<(usize, u64, Timer)>,
    scheme: SimScheme,
    /// Messages `(from, to, msg)` for which this returns true are lost.
    drop_if: DropRule,
    /// Messages lost so far.
    dropped: Vec<(usize, usize, Message)>,
}

const PULSE_MS: u64 = 1000;

fn net(clients: u64) -> Net {
    build(clients, false)
}

/// `clients` clients (nodes 1..=clients) and the chief (node 0); with `grouped`, every
/// client's 8-bit prefix is a leaf group with its own primary (nodes after the clients).
fn build(clients: u64, grouped: bool) -> Net {
    build_with_deposit(clients, grouped, None)
}

/// [`build`] with every group primary holding `deposit` frozen (SPEC §6.5).
fn build_with_deposit(clients: u64, grouped: bool, deposit: Option<u64>) -> Net {
    build_full(clients, grouped, deposit, 0)
}

/// [`build`] with `backups` backups in every leaf group's committee (D-032), nodes after the
/// primaries, group by group.
fn build_full(clients: u64, grouped: bool, deposit: Option<u64>, backups: usize) -> Net {
    build_elected(clients, grouped, deposit, backups, 0, None)
}

/// [`build_full`] with `standbys` more candidates per leaf group (nodes after the backups,
/// group by group): every leaf committee is elected from its pool every `cycle` pulses
/// (D-035).
fn build_elected(
    clients: u64,
    grouped: bool,
    deposit: Option<u64>,
    backups: usize,
    standbys: usize,
    cycle: Option<u64>,
) -> Net {
    build_elected_with(clients, grouped, deposit, backups, standbys, cycle, |_| {})
}

/// [`build_elected`] with its configuration changed by `edit` first.
fn build_elected_with(
    clients: u64,
    grouped: bool,
    deposit: Option<u64>,
    backups: usize,
    standbys: usize,
    cycle: Option<u64>,
    edit: impl FnOnce(&mut NodeConfig),
) -> Net {
    let scheme = SimScheme::new(5);
    let signers: Vec<_> = (0..=clients).map(|i| scheme.signer(i)).collect();
    let org = scheme.signer(1_000);
    let distribution: Vec<(Id, u64)> = signers[1..].iter().map(|s| (s.id(), 1_000)).collect();
    let mut prefixes: Vec<Prefix> = signers[1..].iter().map(|s| Prefix::new(s.id(), 8)).collect();
    prefixes.sort();
    prefixes.dedup();
    let primaries: Vec<_> = (0..prefixes.len() as u64).map(|i| scheme.signer(2_000 + i)).collect();
    let backup_signers: Vec<_> =
        (0..(prefixes.len() * backups) as u64).map(|i| scheme.signer(3_000 + i)).collect();
    let roster = if grouped {
        Roster::new(signers[0].id(), prefixes.iter().copied().zip(primaries.iter().map(|p| p.id()))).unwrap()
    } else {
        Roster::single(signers[0].id())
    };
    let committees = prefixes
        .iter()
        .copied()
        .zip(backup_signers.chunks(backups.max(1)).map(|c| c.iter().map(|s| s.id()).collect::<Vec<_>>()));
    let roster = if grouped && backups > 0 { roster.with_backups(committees).unwrap() } else { roster };
    let standby_signers: Vec<_> =
        (0..(prefixes.len() * standbys) as u64).map(|i| scheme.signer(4_000 + i)).collect();
    let roster = if standbys == 0 {
        roster
    } else {
        let pools = prefixes.iter().enumerate().map(|(g, prefix)| {
            let committee = roster.committee(prefix).collect::<Vec<_>>();
            let extra = standby_signers[g * standbys..(g + 1) * standbys].iter().map(|s| s.id());
            let candidates = committee.into_iter().chain(extra);
            (*prefix, candidates.map(|id| Candidate { id, votes: 1, deposit: 1_000 }).collect())
        });
        let pools: Vec<_> = pools.collect();
        roster.with_pools(pools).unwrap()
    };
    let genesis = Genesis::split(&roster, org.id(), 1_000_000, &distribution, TIMEOUT_PULSES).unwrap();
    let mut config = NodeConfig {
        pulse_ms: PULSE_MS,
        retry_ms: 3 * PULSE_MS,
        max_attempts: 3,
        transfer_timeout_pulses: TIMEOUT_PULSES,
        roster: Arc::new(roster),
        bookkeeper_deposit: deposit,
        failover_timeout_pulses: 2,
        election_cycle_pulses: cycle,
        election_pool_factor: 2,
        bookkeeper_deposit_min: 0,
        governance: Default::default(),
    };
    edit(&mut config);
    let verifier = Arc::new(scheme.clone());
    let mut ledgers = genesis.ledgers.into_iter().map(|(_, l)| l);
    let chief_ledger = ledgers.next().unwrap();
    let mut nodes = vec![Node::chief(
        Arc::new(signers[0].clone()),
        chief_ledger,
        genesis.arbiter,
        verifier.clone(),
        config.clone(),
    )];
    nodes.extend(
        signers[1..].iter().map(|s| Node::client(Arc::new(s.clone()), verifier.clone(), config.clone())),
    );
    if grouped {
        let ledgers: Vec<_> = ledgers.collect();
        for (primary, ledger) in primaries.iter().zip(&ledgers) {
            nodes.push(Node::bookkeeper(
                Arc::new(primary.clone()),
                ledger.clone(),
                verifier.clone(),
                config.clone(),
            ));
        }
        for (k, backup) in backup_signers.iter().enumerate() {
            let ledger = ledgers[k / backups].clone();
            nodes.push(Node::bookkeeper(Arc::new(backup.clone()), ledger, verifier.clone(), config.clone()));
        }
        for (k, standby) in standby_signers.iter().enumerate() {
            let ledger = ledgers[k / standbys].clone();
            nodes.push(Node::bookkeeper(Arc::new(standby.clone()), ledger, verifier.clone(), config.clone()));
        }
    }
    Net {
        nodes,
        events: Vec::new(),
        timers: Vec::new(),
        scheme,
        drop_if: Box::new(|_, _, _| false),
        dropped: Vec::new(),
    }
}

const TIMEOUT_PULSES: u64 = 4;

impl Net {
    fn index(&self, id: Id) -> usize {
        // An account a node holds besides its own reaches that node (D-046).
        let holds = |n: &Node| n.id() == id || n.held_accounts().contains(&id);
        self.nodes.iter().position(holds).expect("a node of the net")
    }

    /// Apply `outputs` of node `from`, delivering messages (and their consequences) at once.
    fn settle(&mut self, now: u64, from: usize, outputs: Vec<Output>) {
        let mut work: VecDeque<(usize, Output)> = outputs.into_iter().map(|o| (from, o)).collect();
        while let Some((from, output)) = work.pop_front() {
            let mut out = Vec::new();
            match output {
                Output::Send { to, msg } => {
                    let to = self.index(to);
                    if (self.drop_if)(from, to, &msg) {
                        self.dropped.push((from, to, msg));
                        continue;
                    }
                    let envelope = self.seal(now, from, to, msg);
                    self.nodes[to].handle_message(now, &envelope, &mut out);
                    work.extend(out.into_iter().map(|o| (to, o)));
                }
                Output::Broadcast { msg } => {
                    let envelope = self.nodes[from].seal(now, To::Everyone, msg);
                    for to in (0..self.nodes.len()).filter(|i| *i != from) {
                        let mut out = Vec::new();
                        self.nodes[to].handle_message(now, &envelope, &mut out);
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

    /// `msg` as node `from` signs it for node `to` (D-039).
    fn seal(&mut self, now: u64, from: usize, to: usize, msg: Message) -> Envelope {
        let to_id = self.nodes[to].id();
        self.nodes[from].seal(now, To::Node(to_id), msg)
    }

    fn deliver(&mut self, now: u64, from: usize, to: usize, msg: &Message) {
        let envelope = self.seal(now, from, to, msg.clone());
        self.deliver_envelope(now, to, &envelope);
    }

    fn deliver_envelope(&mut self, now: u64, to: usize, envelope: &Envelope) {
        let mut out = Vec::new();
        self.nodes[to].handle_message(now, envelope, &mut out);
        self.settle(now, to, out);
    }

    fn take_events(&mut self) -> Vec<(usize, NodeEvent)> {
        std::mem::take(&mut self.events)
    }
}

/// The account of node `node` at whichever bookkeeper keeps it.
fn account(net: &Net, node: usize) -> reference::smt::Account {
    let id = net.nodes[node].id();
    net.nodes.iter().find_map(|n| n.ledger().and_then(|l| l.account(&id))).expect("kept by a bookkeeper")
}

fn balance(net: &Net, node: usize) -> u64 {
    account(net, node).balance
}

#[test]
fn a_transfer_commits_at_the_pulse_with_a_verified_proof_for_both_parties() {
    let mut net = net(2);
    net.command(10, 1, 2, 300, 7);
    let events = net.take_events();
    assert!(
        matches!(events.as_slice(), [(1, NodeEvent::Started { tag: 7 })]),
        "nothing but the start: {events:?}"
    );
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
    assert_eq!(account(&net, 1).nonce, 3);
}

#[test]
fn a_bounded_primary_processes_per_version_at_most_its_deposit_and_the_rest_waits_in_order() {
    let mut net = build_with_deposit(4, false, Some(100));
    net.command(10, 1, 4, 60, 1);
    net.command(20, 2, 4, 60, 2); // does not fit beside the first: waits
    net.command(30, 3, 4, 30, 3); // would fit, but waits behind the second (first come, first served)
    let deferred = |events: &[(usize, NodeEvent)]| {
        events.iter().filter(|(_, e)| matches!(e, NodeEvent::Deferred { .. })).count()
    };
    let events = net.take_events();
    assert_eq!(deferred(&events), 2, "{events:?}");
    let mut processed_per_seal = Vec::new();
    let mut committed = Vec::new();
    for pulse in 1..=4 {
        net.pulse(pulse * 1000);
        let events = net.take_events();
        for (_, e) in &events {
            if let NodeEvent::Sealed { applied, .. } = e {
                let amounts: Vec<u64> = applied.iter().map(|a| a.tx().amount).collect();
                assert!(invariants::capacity(&amounts, 100).is_ok(), "I11: {amounts:?}");
                processed_per_seal.push(amounts);
            }
        }
        committed.extend(committed_tags(&events));
    }
    assert_eq!(processed_per_seal[..2], [vec![60], vec![60, 30]], "one version each, in arrival order");
    assert_eq!(committed, [1, 2, 3]);
    assert_eq!(balance(&net, 4), 1_000 + 150);
    // A transfer larger than the whole deposit can never be processed: refused for good.
    net.command(5_000, 1, 4, 101, 4);
    let refused = net.take_events().into_iter().find_map(|(_, e)| match e {
        NodeEvent::Refused { tag: 4, error } => Some(error),
        _ => None,
    });
    assert_eq!(refused, Some(LedgerError::BeyondCapacity { deposit: 100, amount: 101 }));
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
    let before = account(&net, 1);
    let resubmit = resubmission(&net, 1, 2, 50, 1);
    net.deliver(1500, 2, 0, &resubmit);
    assert_eq!(account(&net, 1), before);
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
    let msg = Message::Pulse { pulse: 9, root, views: Default::default(), seatings: Default::default() };
    // A client's envelope with a bookkeeper's message is refused before the message is read.
    assert!(matches!(bad_message_error(&mut net, 3, 2, &msg), NodeError::NotABookkeeper { .. }));

    let msg = resubmission(&net, 1, 2, 5, 1);
    assert!(matches!(
        bad_message_error(&mut net, 1, 2, &msg),
        NodeError::UnexpectedMessage { role: "client", .. }
    ));
    // A client cannot speak for the books: its pulse is refused on the roster, unread.
    let msg = Message::Pulse { pulse: 1, root, views: Default::default(), seatings: Default::default() };
    assert!(matches!(bad_message_error(&mut net, 1, 0, &msg), NodeError::NotABookkeeper { .. }));
}

/// What node `to` says of `envelope`, and whether its state stayed as it was.
fn refusal(net: &mut Net, to: usize, envelope: &Envelope) -> (Option<NodeError>, bool) {
    net.take_events();
    let before = net.nodes[to].fingerprint();
    net.deliver_envelope(900, to, envelope);
    let unchanged = net.nodes[to].fingerprint() == before;
    let error = net.take_events().into_iter().find_map(|(_, e)| match e {
        NodeEvent::BadMessage { error, .. } => Some(error),
        _ => None,
    });
    (error, unchanged)
}

/// A pulse as the chief (node 0) would send it to node `to`, `pulse` numbered.
fn chiefs_pulse(net: &mut Net, to: usize, pulse: u64) -> (Message, Envelope) {
    let root = net.nodes[0].root().unwrap();
    let msg = Message::Pulse { pulse, root, views: Default::default(), seatings: Default::default() };
    let envelope = net.seal(900, 0, to, msg.clone());
    (msg, envelope)
}

#[test]
fn forged_unsigned_replayed_misaddressed_and_unlisted_envelopes_change_nothing() {
    let mut net = net(3);
    net.pulse(1000);
    let chief = net.nodes[0].id();
    let chief_key = net.scheme.signer(0).public_key();
    // Forged: a client claims the chief's key but can only sign with its own.
    let (msg, _) = chiefs_pulse(&mut net, 2, 7);
    let to = To::Node(net.nodes[2].id());
    let forged = Envelope::sign_as(&net.scheme.signer(3), chief_key, to, 1 << 40, msg.clone());
    assert_eq!(forged.from(), chief);
    assert!(matches!(refusal(&mut net, 2, &forged), (Some(NodeError::BadSignature { .. }), true)));
    // Unsigned: the chief's envelope with its signature blanked.
    let (_, real) = chiefs_pulse(&mut net, 2, 7);
    let (sender, to, seq, msg, _) = real.into_parts();
    let unsigned = Envelope::from_parts(sender, to, seq, msg, reference::crypto::Signature([0; 64]));
    assert!(matches!(refusal(&mut net, 2, &unsigned), (Some(NodeError::BadSignature { .. }), true)));
    // Changed on the way: the chief's envelope with the pulse number raised.
    let (_, real) = chiefs_pulse(&mut net, 2, 7);
    let (sender, to, seq, mut msg, sig) = real.into_parts();
    if let Message::Pulse { pulse, .. } = &mut msg {
        *pulse = 8;
    }
    let changed = Envelope::from_parts(sender, to, seq, msg, sig);
    assert!(matches!(refusal(&mut net, 2, &changed), (Some(NodeError::BadSignature { .. }), true)));
    // Genuine, then replayed.
    let (_, genuine) = chiefs_pulse(&mut net, 2, 7);
    assert_eq!(refusal(&mut net, 2, &genuine).0, None);
    assert_eq!(net.nodes[2].pulse(), 7);
    assert!(matches!(refusal(&mut net, 2, &genuine), (Some(NodeError::Replayed { .. }), true)));
    // Misaddressed: the chief's envelope for client 3, delivered to client 2.
    let (_, for_three) = chiefs_pulse(&mut net, 3, 9);
    assert!(matches!(refusal(&mut net, 2, &for_three), (Some(NodeError::Misaddressed { .. }), true)));
    // Only the pulse may be addressed to everyone.
    let submission = resubmission(&net, 1, 2, 5, 1);
    let everyone = net.nodes[1].seal(900, To::Everyone, submission);
    assert!(matches!(refusal(&mut net, 0, &everyone), (Some(NodeError::Misaddressed { .. }), true)));
    // Unlisted: a client sealing a bookkeeper's message with its own key.
    let (msg, _) = chiefs_pulse(&mut net, 2, 9);
    let unlisted = net.seal(900, 3, 2, msg);
    assert!(matches!(refusal(&mut net, 2, &unlisted), (Some(NodeError::NotABookkeeper { .. }), true)));
    assert_eq!(net.nodes[2].pulse(), 7);
}

/// Each envelope check, switched off, lets its attack through: the checks are what stop them.
#[cfg(feature = "fault-injection")]
#[test]
fn each_envelope_check_switched_off_lets_its_attack_through() {
    use reference::node::EnvelopeFaults;
    let attack = |faults: EnvelopeFaults| {
        let mut net = net(3);
        net.pulse(1000);
        net.nodes[2].inject_envelope_faults(faults);
        let chief_key = net.scheme.signer(0).public_key();
        let (msg, _) = chiefs_pulse(&mut net, 2, 7);
        let to = To::Node(net.nodes[2].id());
        let forged = Envelope::sign_as(&net.scheme.signer(3), chief_key, to, 1 << 40, msg);
        let forged_taken = refusal(&mut net, 2, &forged).0.is_none();
        let (_, for_three) = chiefs_pulse(&mut net, 3, 9);
        let misaddressed_taken = refusal(&mut net, 2, &for_three).0.is_none();
        let (_, genuine) = chiefs_pulse(&mut net, 2, 11);
        refusal(&mut net, 2, &genuine);
        let replay_taken = refusal(&mut net, 2, &genuine).0.is_none();
        let (msg, _) = chiefs_pulse(&mut net, 2, 13);
        let unlisted = net.seal(900, 3, 2, msg);
        // Past the roster check, the client's pulse is refused by the chief check behind it.
        let unlisted_error = refusal(&mut net, 2, &unlisted).0;
        (forged_taken, misaddressed_taken, replay_taken, unlisted_error)
    };
    let honest = attack(EnvelopeFaults::default());
    assert!(matches!(honest, (false, false, false, Some(NodeError::NotABookkeeper { .. }))));
    let off = |f: fn(&mut EnvelopeFaults)| {
        let mut faults = EnvelopeFaults::default();
        f(&mut faults);
        attack(faults)
    };
    assert!(off(|f| f.skip_signature = true).0, "a forged pulse is taken without the signature check");
    assert!(off(|f| f.skip_addressee = true).1, "another's envelope is taken without the addressee check");
    assert!(off(|f| f.skip_replay_fence = true).2, "a replay is taken without the fence");
    assert!(matches!(off(|f| f.skip_roster = true).3, Some(NodeError::NotFromBookkeeper { .. })));
}

#[test]
fn a_tampered_or_misdirected_commit_proof_is_rejected() {
    let mut net = net(2);
    net.command(10, 1, 2, 10, 0);
    net.pulse(1000);
    // Capture a genuine commit for the payer, then tamper with copies of it.
    let root = net.nodes[0].root().unwrap();
    let arbiter = net.nodes[0].arbiter().unwrap();
    let path = arbiter.path(&Prefix::ROOT).unwrap();
    let tree = net.nodes[0].ledger().unwrap().tree().clone();
    let payer_id = net.nodes[1].id();
    let genuine =
        AccountProof { account: tree.prove(path.entry.version, &payer_id).unwrap(), path: path.clone() };
    let tx_id = Hash32([0; 32]);
    let commit = |proof: AccountProof| Message::Committed { tx_id, root, proof: Box::new(proof) };

    let mut proof = genuine.clone();
    if let reference::smt::Terminal::Leaf { account, .. } = &mut proof.account.terminal {
        account.balance += 1;
    }
    assert!(matches!(bad_message_error(&mut net, 0, 1, &commit(proof)), NodeError::BadProof(_)));

    let mut proof = genuine.clone();
    proof.path.entry.version += 1;
    assert!(matches!(bad_message_error(&mut net, 0, 1, &commit(proof)), NodeError::BadProof(_)));

    let other = AccountProof { account: tree.prove(path.entry.version, &net.nodes[2].id()).unwrap(), path };
    assert!(matches!(bad_message_error(&mut net, 0, 1, &commit(other)), NodeError::ProofDoesNotShowTransfer));

    assert!(matches!(bad_message_error(&mut net, 2, 1, &commit(genuine)), NodeError::NotABookkeeper { .. }));
}

#[test]
fn an_older_pulse_never_moves_a_clients_ts_back() {
    let mut net = net(2);
    let old = net.nodes[0].root().unwrap();
    net.command(10, 1, 2, 10, 0);
    net.pulse(1000);
    let new = net.nodes[2].root().unwrap();
    assert!(new.version > old.version);
    net.deliver(
        1100,
        0,
        2,
        &Message::Pulse { pulse: 0, root: old, views: Default::default(), seatings: Default::default() },
    );
    assert_eq!(net.nodes[2].root().unwrap(), new);
}

#[test]
fn wire_sizes_follow_the_encoding() {
    let net = net(2);
    let msg = resubmission(&net, 1, 2, 5, 1);
    // Version, tag, the transfer body, and each party's key and signature.
    assert_eq!(msg.wire_bytes(), 1 + 1 + reference::ledger::TX_BODY_BYTES + 2 * (32 + 64));
    assert_eq!(msg.wire_bytes(), wire::encode(&msg).unwrap().len());
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
    net.deliver(
        1100,
        0,
        2,
        &Message::Pulse { pulse: 0, root: old, views: Default::default(), seatings: Default::default() },
    );
    assert_eq!(net.nodes[2].root().unwrap(), new);
}

// ----- transfers across groups (SPEC §7.3, D-023) -------------------------------------------

/// Every `RootBuilt` so far holds the genesis supply (I1 at the root), and every half's life
/// is atomic (I4).
fn check_root_and_halves(events: &[(usize, NodeEvent)], monitor: &mut AtomicityMonitor) {
    for (_, event) in events {
        match event {
            NodeEvent::RootBuilt { root, .. } => invariants::root_conservation(root, 1_000_000).unwrap(),
            NodeEvent::Sealed { debits, credited, settled, .. } => {
                for id in debits {
                    monitor.observe(*id, HalfStep::Applied(Half::Debit)).unwrap();
                }
                for c in credited {
                    monitor.observe(c.id, HalfStep::Applied(Half::Credit)).unwrap();
                }
                for (id, half, how) in settled {
                    monitor.observe(*id, HalfStep::Settled(*half, *how)).unwrap();
                }
            }
            _ => {}
        }
    }
}

fn committed_tags(events: &[(usize, NodeEvent)]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|(_, e)| if let NodeEvent::Committed { tag, .. } = e { Some(*tag) } else { None })
        .collect()
}

#[test]
fn a_cross_group_transfer_escrows_credits_matches_and_commits_within_two_pulses() {
    let mut net = build(2, true);
    assert_eq!(net.nodes.len(), 5, "chief, two clients, two leaf primaries");
    let mut monitor = AtomicityMonitor::new();
    net.command(10, 1, 2, 300, 7);
    // Debit half at the payer's group, credit half at the payee's, both pending.
    assert_eq!((account(&net, 1).balance, account(&net, 1).pending_out), (700, 300));
    assert_eq!((account(&net, 2).balance, account(&net, 2).pending_in), (1_300, 300));
    assert_eq!(account(&net, 2).spendable(), 1_000, "an unmatched credit is not spendable");
    net.pulse(1000); // groups seal and report the halves
    assert!(committed_tags(&net.events).is_empty());
    net.pulse(2000); // the chief matches them, the root covers them: both parties are told
    let events = net.take_events();
    check_root_and_halves(&events, &mut monitor);
    assert_eq!(committed_tags(&events), [7], "committed within 2 pulses (L1)");
    assert!(events.iter().any(|(n, e)| *n == 2 && matches!(e, NodeEvent::Credited { .. })));
    net.pulse(3000); // the clears are sealed and the next root shows them
    let events = net.take_events();
    check_root_and_halves(&events, &mut monitor);
    assert_eq!((account(&net, 1).balance, account(&net, 1).pending_out), (700, 0));
    assert_eq!((account(&net, 2).balance, account(&net, 2).pending_in), (1_300, 0));
    assert_eq!(monitor.unsettled(), 0);
    assert!(events.iter().all(|(_, e)| !matches!(e, NodeEvent::BadMessage { .. })));
}

/// Two groups; client 1 pays client 2 300 while every credit half is lost, for long enough
/// that the chief aborts the transfer.
fn lost_credit_half() -> (Net, AtomicityMonitor) {
    let mut net = build(2, true);
    net.drop_if = Box::new(|_, _, msg| matches!(msg, Message::CreditHalf(_)));
    net.command(10, 1, 2, 300, 7);
    for pulse in 1..=TIMEOUT_PULSES + 2 {
        net.pulse(pulse * 1000);
    }
    (net, AtomicityMonitor::new())
}

#[test]
fn a_lost_credit_half_times_out_and_the_debit_is_reversed() {
    let (mut net, mut monitor) = lost_credit_half();
    let events = net.take_events();
    check_root_and_halves(&events, &mut monitor);
    assert!(events.iter().any(|(n, e)| *n == 1
        && matches!(e, NodeEvent::Refused { tag: 7, error: LedgerError::TimedOut })));
    let payer = account(&net, 1);
    assert_eq!(
        (payer.balance, payer.pending_out, payer.nonce),
        (1_000, 0, 1),
        "reversed; the nonce stays used"
    );
    assert_eq!(account(&net, 2).balance, 1_000);
    assert_eq!(monitor.unsettled(), 0);
    // The lost credit half turns up after the credit horizon: it is refused, never applied.
    let (from, to, late) =
        net.dropped.iter().find(|(_, _, m)| matches!(m, Message::CreditHalf(_))).cloned().unwrap();
    net.drop_if = Box::new(|_, _, _| false);
    for pulse in TIMEOUT_PULSES + 3..=credit_horizon_pulses(TIMEOUT_PULSES) + 2 {
        net.pulse(pulse * 1000);
    }
    assert!(matches!(
        bad_message_error(&mut net, from, to, &late),
        NodeError::BadCredit(LedgerError::TimedOut)
    ));
    assert_eq!(account(&net, 2).balance, 1_000);
}

#[test]
fn a_lost_clear_order_leaves_the_value_in_the_clearing_entry_and_the_supply_whole() {
    let mut net = build(2, true);
    let mut monitor = AtomicityMonitor::new();
    net.command(10, 1, 2, 300, 7);
    net.pulse(1000);
    // Lose the next settle to the payee's group only: its clear happens a pulse late.
    let payee_id = net.nodes[2].id();
    let payee_group = Prefix::new(payee_id, 8);
    let mut lost_once = false;
    net.drop_if = Box::new(move |_, _, msg| match msg {
        Message::Settle(s) if s.path.entry.prefix == payee_group && !lost_once => {
            lost_once = true;
            true
        }
        _ => false,
    });
    for pulse in 2..=5 {
        net.pulse(pulse * 1000);
    }
    let events = net.take_events();
    check_root_and_halves(&events, &mut monitor);
    let in_transit = |e: &NodeEvent| matches!(e, NodeEvent::RootBuilt { clears_in_transit: 1, .. });
    assert!(events.iter().any(|(_, e)| in_transit(e)), "a root held the payer's clear alone");
    assert_eq!(committed_tags(&events), [7]);
    assert_eq!(monitor.unsettled(), 0);
    assert_eq!(account(&net, 2).pending_in, 0);
}

#[test]
fn without_escrow_the_root_supply_breaks_conservation() {
    let mut net = build(2, true);
    let payer_primary =
        3 + usize::from(Prefix::new(net.nodes[1].id(), 8) > Prefix::new(net.nodes[2].id(), 8));
    net.nodes[payer_primary]
        .inject_ledger_faults(LedgerFaults { skip_escrow: true, ..LedgerFaults::default() });
    net.command(10, 1, 2, 300, 7);
    net.pulse(1000);
    net.pulse(2000);
    let broken = net.take_events().iter().find_map(|(_, e)| match e {
        NodeEvent::RootBuilt { root, .. } => invariants::root_conservation(root, 1_000_000).err(),
        _ => None,
    });
    assert_eq!(broken.map(|v| v.invariant), Some(Invariant::Conservation));
}

#[test]
fn cross_group_messages_from_the_wrong_node_are_typed_errors() {
    let mut net = build(2, true);
    let (payer, payee) = (net.scheme.signer(1), net.scheme.signer(2));
    let tx = Tx { from: payer.id(), to: payee.id(), amount: 5, from_nonce: 1, created_pulse: 0 };
    let credit = Message::CreditHalf(Box::new(tx.sign(&payer, &payee)));
    let payee_primary = 3 + usize::from(Prefix::new(payee.id(), 8) > Prefix::new(payer.id(), 8));
    // Only the payer's group primary may send a credit half.
    assert!(matches!(
        bad_message_error(&mut net, 0, payee_primary, &credit),
        NodeError::NotFromBookkeeper { .. }
    ));
    // A settle from a non-chief, or one carrying another group's path.
    net.pulse(1000);
    let arbiter = net.nodes[0].arbiter().unwrap().clone();
    let other = if payee_primary == 3 { 4 } else { 3 };
    let other_group = net.nodes[other].group().unwrap();
    let msg = Message::Settle(Box::new(SettleMsg {
        pulse: 99,
        root: arbiter.root(),
        path: arbiter.path(&other_group).unwrap(),
        orders: Vec::new(),
        view: 0,
    }));
    assert!(matches!(bad_message_error(&mut net, 0, payee_primary, &msg), NodeError::WrongGroupPath));
    assert!(matches!(bad_message_error(&mut net, 1, other, &msg), NodeError::NotABookkeeper { .. }));
    let report = Message::Settle(Box::new(SettleMsg {
        pulse: 99,
        root: arbiter.root(),
        path: arbiter.path(&other_group).unwrap(),
        orders: Vec::new(),
        view: 0,
    }));
    assert!(matches!(
        bad_message_error(&mut net, 0, 1, &report),
        NodeError::UnexpectedMessage { role: "client", .. }
    ));
}

#[test]
fn a_credit_half_arriving_after_the_abort_but_within_the_horizon_is_reversed_too() {
    let (mut net, mut monitor) = lost_credit_half();
    let (from, to, late) =
        net.dropped.iter().find(|(_, _, m)| matches!(m, Message::CreditHalf(_))).cloned().unwrap();
    net.drop_if = Box::new(|_, _, _| false);
    net.deliver(TIMEOUT_PULSES * 1000 + 2500, from, to, &late);
    assert_eq!(account(&net, 2).pending_in, 300, "applied: it is within the horizon");
    for pulse in TIMEOUT_PULSES + 3..=2 * TIMEOUT_PULSES + 4 {
        net.pulse(pulse * 1000);
    }
    let events = net.take_events();
    check_root_and_halves(&events, &mut monitor);
    let payee = account(&net, 2);
    assert_eq!(
        (payee.balance, payee.pending_in),
        (1_000, 0),
        "an orphan credit is reversed after the timeout"
    );
    assert_eq!(monitor.unsettled(), 0);
}

// ----- any schedule of payments, pulses and losses (property test) --------------------------

#[derive(Clone, Copy, Debug)]
enum Op {
    Pay {
        from: usize,
        to: usize,
        amount: u64,
    },
    Pulse,
    /// From now on lose (or stop losing) every message of this kind.
    Lose {
        credit_halves: bool,
        settles: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1usize..=4, 1usize..=4, 1u64..=700).prop_map(|(from, to, amount)| Op::Pay { from, to, amount }),
        3 => Just(Op::Pulse),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(credit_halves, settles)| Op::Lose { credit_halves, settles }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the payments (valid or overspending, within or across groups) and whatever is
    /// lost while they run: every root holds the genesis supply (I1), no half is applied or
    /// settled twice or settled both ways (I4), and once losses stop every half settles, nothing
    /// pends, and the clients hold what they held at genesis between them.
    #[test]
    fn any_schedule_keeps_i1_and_i4_and_settles_once_losses_stop(ops in proptest::collection::vec(op(), 1..60)) {
        let mut net = build(4, true);
        let lose = std::rc::Rc::new(std::cell::Cell::new((false, false)));
        let rule = std::rc::Rc::clone(&lose);
        net.drop_if = Box::new(move |_, _, msg| {
            let (credit_halves, settles) = rule.get();
            (credit_halves && matches!(msg, Message::CreditHalf(_))) || (settles && matches!(msg, Message::Settle(_)))
        });
        let mut monitor = AtomicityMonitor::new();
        let mut now = 0;
        for (tag, op) in ops.iter().copied().enumerate() {
            now += 100;
            match op {
                Op::Pay { from, to, amount } if from != to => net.command(now, from, to, amount, tag as u64),
                Op::Pay { .. } => {}
                Op::Pulse => net.pulse(now),
                Op::Lose { credit_halves, settles } => lose.set((credit_halves, settles)),
            }
            check_root_and_halves(&net.take_events(), &mut monitor);
        }
        lose.set((false, false));
        // Long enough for the payers' queues to drain (a cross-group transfer takes about two
        // pulses and a payer has one in flight) and for every half to time out or settle.
        let queued = ops.len() as u64;
        for _ in 0..3 * queued + 4 * TIMEOUT_PULSES + 4 {
            now += 1000;
            net.pulse(now);
            check_root_and_halves(&net.take_events(), &mut monitor);
        }
        prop_assert_eq!(monitor.unsettled(), 0);
        let accounts: Vec<_> = (1..=4).map(|c| account(&net, c)).collect();
        prop_assert!(accounts.iter().all(|a| a.pending_in == 0 && a.pending_out == 0), "{:?}", accounts);
        prop_assert_eq!(accounts.iter().map(|a| a.balance).sum::<u64>(), 4_000);
    }
}

#[test]
fn extreme_pulse_numbers_from_peers_never_panic_a_bookkeeper() {
    let mut net = build(2, true);
    let (payer, payee) = (net.scheme.signer(1), net.scheme.signer(2));
    let payer_primary = 3 + usize::from(Prefix::new(payer.id(), 8) > Prefix::new(payee.id(), 8));
    let payee_primary = if payer_primary == 3 { 4 } else { 3 };
    // A credit half "created" at the end of time, from the payer's primary.
    let tx = Tx { from: payer.id(), to: payee.id(), amount: 5, from_nonce: 1, created_pulse: u64::MAX };
    net.deliver(10, payer_primary, payee_primary, &Message::CreditHalf(Box::new(tx.sign(&payer, &payee))));
    // A group report from the end of time, from that group's primary.
    let group = net.nodes[payer_primary].group().unwrap();
    let arbiter = net.nodes[0].arbiter().unwrap();
    let entry = arbiter.path(&group).unwrap().entry;
    let report =
        reference::consensus::settlement::GroupReport { pulse: u64::MAX, entry, pending: Vec::new() };
    net.deliver(20, payer_primary, 0, &Message::GroupSeal(Box::new(report)));
    for pulse in 1..=TIMEOUT_PULSES + 2 {
        net.pulse(pulse * 1000);
    }
    check_root_and_halves(&net.take_events(), &mut AtomicityMonitor::new());
}

// ----- the transfer flow within one group against a model (proptest-state-machine) -------

mod within_one_group {
    use std::collections::VecDeque;

    use proptest::prelude::*;
    use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
    use reference::node::NodeEvent;

    use super::{Net, account, build};

    const CLIENTS: usize = 3;
    const START: u64 = 1_000;

    #[derive(Clone, Copy, Debug)]
    pub enum Step {
        Pay { from: usize, to: usize, amount: u64 },
        Pulse,
    }

    /// Messages in flight, in the order the test network delivers them (breadth first).
    #[derive(Clone, Copy, Debug)]
    enum Wire {
        Propose(usize),
        Submit(usize),
        Rejected(usize),
    }

    /// Balances, each payer's queue and transfer in flight, and what the payers were told —
    /// with the test network's delivery order (outputs of one step go behind those already
    /// queued) spelled out, so that overspends are refused in the same order.
    #[derive(Clone, Debug)]
    pub struct Model {
        balance: [u64; CLIENTS + 1],
        queue: [VecDeque<(usize, u64)>; CLIENTS + 1],
        in_flight: [Option<(usize, u64)>; CLIENTS + 1],
        /// Payers whose transfer is applied and awaits the pulse, in application order.
        applied: Vec<usize>,
        committed: u64,
        refused: u64,
        wire: VecDeque<Wire>,
    }

    impl Model {
        fn start_next(&mut self, payer: usize) {
            if let Some(next) = self.queue[payer].pop_front() {
                self.in_flight[payer] = Some(next);
                self.wire.push_back(Wire::Propose(payer));
            }
        }

        fn drain(&mut self) {
            while let Some(message) = self.wire.pop_front() {
                match message {
                    Wire::Propose(payer) => self.wire.push_back(Wire::Submit(payer)),
                    Wire::Submit(payer) => {
                        let (to, amount) = self.in_flight[payer].expect("a submission is in flight");
                        if self.balance[payer] >= amount {
                            self.balance[payer] -= amount;
                            self.balance[to] += amount;
                            self.applied.push(payer);
                        } else {
                            self.wire.push_back(Wire::Rejected(payer));
                        }
                    }
                    Wire::Rejected(payer) => {
                        self.in_flight[payer] = None;
                        self.refused += 1;
                        self.start_next(payer);
                    }
                }
            }
        }
    }

    pub struct TransferModel;

    impl ReferenceStateMachine for TransferModel {
        type State = Model;
        type Transition = Step;

        fn init_state() -> BoxedStrategy<Model> {
            Just(Model {
                balance: [0, START, START, START],
                queue: Default::default(),
                in_flight: [None; CLIENTS + 1],
                applied: Vec::new(),
                committed: 0,
                refused: 0,
                wire: VecDeque::new(),
            })
            .boxed()
        }

        fn transitions(_: &Model) -> BoxedStrategy<Step> {
            let pay = (1..=CLIENTS, 1..CLIENTS, 1u64..=1_500).prop_map(|(from, offset, amount)| Step::Pay {
                from,
                to: (from - 1 + offset) % CLIENTS + 1,
                amount,
            });
            prop_oneof![3 => pay, 2 => Just(Step::Pulse)].boxed()
        }

        fn apply(mut state: Model, step: &Step) -> Model {
            match *step {
                Step::Pay { from, to, amount } => {
                    state.queue[from].push_back((to, amount));
                    if state.in_flight[from].is_none() {
                        state.start_next(from);
                    }
                }
                Step::Pulse => {
                    // The seal commits every transfer applied since the last one, in order;
                    // each payer then starts its next.
                    for payer in std::mem::take(&mut state.applied) {
                        state.in_flight[payer] = None;
                        state.committed += 1;
                        state.start_next(payer);
                    }
                }
            }
            state.drain();
            state
        }
    }

    pub struct Sut {
        net: Net,
        now: u64,
        tag: u64,
        committed: u64,
        refused: u64,
    }

    impl StateMachineTest for Sut {
        type SystemUnderTest = Sut;
        type Reference = TransferModel;

        fn init_test(_: &Model) -> Sut {
            Sut { net: build(CLIENTS as u64, false), now: 0, tag: 0, committed: 0, refused: 0 }
        }

        fn apply(mut sut: Sut, _: &Model, step: Step) -> Sut {
            sut.now += 100;
            match step {
                Step::Pay { from, to, amount } => {
                    sut.net.command(sut.now, from, to, amount, sut.tag);
                    sut.tag += 1;
                }
                Step::Pulse => sut.net.pulse(sut.now),
            }
            for (_, event) in sut.net.take_events() {
                match event {
                    NodeEvent::Committed { .. } => sut.committed += 1,
                    NodeEvent::Refused { .. } => sut.refused += 1,
                    NodeEvent::BadMessage { from, error } => panic!("bad message from {from}: {error}"),
                    _ => {}
                }
            }
            sut
        }

        fn check_invariants(sut: &Sut, model: &Model) {
            for c in 1..=CLIENTS {
                assert_eq!(account(&sut.net, c).balance, model.balance[c], "client {c}'s balance");
                assert_eq!(sut.net.nodes[c].queue_len(), model.queue[c].len(), "client {c}'s queue");
            }
            assert_eq!((sut.committed, sut.refused), (model.committed, model.refused), "outcomes");
        }
    }

    prop_state_machine! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
        #[test]
        fn transfers_within_one_group_match_the_model(sequential 1..60 => Sut);
    }
}

// ----- committees (SPEC §6.2, §6.4, D-032) -------------------------------------------------

/// Two clients in two leaf groups, each kept by a primary and two backups: nodes 0 chief,
/// 1–2 clients, 3–4 primaries, 5–8 backups (5, 6 of the first group in prefix order).
fn committees() -> Net {
    build_full(2, true, None, 2)
}

/// The primary (and its group's backups) keeping client `client`'s account.
fn committee_of(net: &Net, client: usize) -> Vec<usize> {
    let group = Prefix::new(net.nodes[client].id(), 8);
    let primary = (3..5).find(|i| net.nodes[*i].group() == Some(group)).unwrap();
    let backups = (5..9).filter(|i| net.nodes[*i].group() == Some(group));
    std::iter::once(primary).chain(backups).collect()
}

#[test]
fn backups_replay_the_primary_and_their_attestations_let_the_chief_take_its_reports() {
    let mut net = committees();
    net.command(10, 1, 2, 300, 1);
    for pulse in 1..=3 {
        net.pulse(pulse * PULSE_MS);
    }
    let events = net.take_events();
    assert!(events.iter().any(|(n, e)| *n == 1 && matches!(e, NodeEvent::Committed { tag: 1, .. })));
    assert!(events.iter().any(|(_, e)| matches!(e, NodeEvent::ReportAttested { .. })));
    // Every backup holds exactly its primary's ledger.
    for client in [1, 2] {
        let members = committee_of(&net, client);
        let primary_root = net.nodes[members[0]].ledger().unwrap().tree().root(2).unwrap();
        for backup in &members[1..] {
            let root = net.nodes[*backup].ledger().unwrap().tree().root(2).unwrap();
            assert_eq!(root, primary_root, "backup {backup} of client {client}");
        }
    }
}

#[test]
fn the_chief_fails_a_silent_group_over_and_payments_commit_through_the_backup() {
    let mut net = committees();
    net.command(10, 1, 2, 300, 1);
    net.pulse(PULSE_MS);
    let payer_primary = committee_of(&net, 1)[0];
    // The payer's primary goes silent: nothing it sends arrives and nothing is sent to it —
    // but it still hears the chief's pulse broadcasts (this net does not drop broadcasts).
    net.drop_if = Box::new(move |from, to, _| from == payer_primary || to == payer_primary);
    for pulse in 2..=6 {
        net.pulse(pulse * PULSE_MS);
    }
    let events = net.take_events();
    let failover = events.iter().find_map(|(_, e)| match e {
        NodeEvent::FailedOver { from, to, view, .. } => Some((*from, *to, *view)),
        _ => None,
    });
    let (from, to, view) = failover.expect("the chief fails the group over");
    assert_eq!((net.index(from), view), (payer_primary, 1));
    assert!(committee_of(&net, 1)[1..].contains(&net.index(to)), "to a backup of the group");
    assert!(events.iter().any(|(n, e)| *n == 1 && matches!(e, NodeEvent::Committed { tag: 1, .. })));
    // The old primary learnt of the new view from a pulse and stepped down (fencing: two
    // members never act at once).
    let stepped_down =
        |n: &usize, e: &NodeEvent| *n == payer_primary && matches!(e, NodeEvent::SteppedDown { view: 1, .. });
    assert!(events.iter().any(|(n, e)| stepped_down(n, e)), "{events:?}");
    // A new payment from the failed-over group commits through the new primary.
    net.command(6_100, 1, 2, 50, 2);
    for pulse in 7..=9 {
        net.pulse(pulse * PULSE_MS);
    }
    let events = net.take_events();
    assert!(
        events.iter().any(|(n, e)| *n == 1 && matches!(e, NodeEvent::Committed { tag: 2, .. })),
        "{events:?}"
    );
    assert_eq!(balance(&net, 2), 1_350);
    // Reachable again, the old primary replays the new primary's cycles as a backup.
    net.drop_if = Box::new(|_, _, _| false);
    for pulse in 10..=11 {
        net.pulse(pulse * PULSE_MS);
    }
    let new_primary = net.index(to);
    let latest = |n: usize| net.nodes[n].ledger().unwrap().tree().latest_version();
    assert_eq!(latest(payer_primary), latest(new_primary));
}

#[test]
fn committee_messages_from_the_wrong_members_are_typed_errors() {
    let mut net = committees();
    net.command(10, 1, 2, 300, 1);
    net.pulse(PULSE_MS);
    let payer = committee_of(&net, 1);
    let payee = committee_of(&net, 2);
    let report = match net.nodes[0].arbiter().unwrap().held_report(&net.nodes[payer[0]].group().unwrap()) {
        Some(report) => report.clone(),
        None => panic!("the payer's group reported"),
    };
    // An attestation from a member of another group.
    let attest = Message::Attest { report: Box::new(report.clone()), view: 0 };
    assert!(matches!(bad_message_error(&mut net, payee[1], 0, &attest), NodeError::NotFromBookkeeper { .. }));
    // A backup is sent a primary's work.
    let submit = resubmission(&net, 1, 2, 5, 2);
    let error = bad_message_error(&mut net, 2, payer[1], &submit);
    assert!(matches!(error, NodeError::NotActing { view: 0, .. }), "{error}");
    let request = Message::StateRequest { group: report.entry.prefix };
    assert!(matches!(bad_message_error(&mut net, payer[2], payer[1], &request), NodeError::NotActing { .. }));
    // A state request from outside the committee.
    assert!(matches!(
        bad_message_error(&mut net, payee[0], payer[0], &request),
        NodeError::NotFromBookkeeper { .. }
    ));
    // A replication batch from a node outside the committee.
    let batch = reference::node::ReplicaBatch { group: report.entry.prefix, view: 0, cycles: Vec::new() };
    let replicate = Message::Replicate(Box::new(batch));
    assert!(matches!(
        bad_message_error(&mut net, payee[0], payer[1], &replicate),
        NodeError::NotFromBookkeeper { .. }
    ));
}

#[test]
fn a_backup_that_missed_batches_catches_up_from_its_last_attestation() {
    let mut net = committees();
    let payer = committee_of(&net, 1);
    let lagging = payer[1];
    net.command(10, 1, 2, 300, 1);
    net.drop_if = Box::new(move |_, to, msg| to == lagging && matches!(msg, Message::Replicate(_)));
    for pulse in 1..=2 {
        net.pulse(pulse * PULSE_MS);
    }
    let latest = |net: &Net, n: usize| net.nodes[n].ledger().unwrap().tree().latest_version();
    assert!(latest(&net, lagging) < latest(&net, payer[0]), "it missed the cycles");
    net.drop_if = Box::new(|_, _, _| false);
    net.pulse(3 * PULSE_MS);
    // The next batch carries every cycle since its last attestation: it replays them all.
    assert_eq!(latest(&net, lagging), latest(&net, payer[0]));
    let events = net.take_events();
    assert!(!events.iter().any(|(_, e)| matches!(e, NodeEvent::ReplicaDiverged { .. })), "{events:?}");
}

// ----- committees elected from a pool (SPEC §6.3, D-035) ------------------------------------

/// Two clients in two leaf groups, committees of 3 (a primary and 2 backups) elected every 4
/// pulses from a pool of 6 (3 standbys per group): nodes 0 chief, 1–2 clients, 3–4 primaries,
/// 5–8 backups, 9–14 standbys.
fn elected(faults: reference::node::NodeFaults) -> Net {
    let mut net = build_elected(2, true, None, 2, 3, Some(4));
    net.nodes[0].inject_faults(faults);
    net
}

/// The node acting as the primary of client `client`'s group, as the chief knows it.
fn acting_primary(net: &Net, client: usize) -> usize {
    let group = Prefix::new(net.nodes[client].id(), 8);
    let (_, primary) = net.nodes[0].view_of(&group).unwrap();
    net.index(primary)
}

/// Run `pulses` pulses, client 1 paying client 2 `10` every other pulse of the first 24 (a
/// cross-group payment takes two); returns the events and, after each pulse, the payments committed so
/// far and client 2's balance at its group's acting primary — every committed payment must
/// be in it, through every handover.
/// After a pulse: `(pulse, payments committed so far, the payee's balance at its primary)`.
type Books = (u64, u64, u64);

fn pay_through_terms(net: &mut Net, pulses: u64) -> (Vec<(usize, NodeEvent)>, Vec<Books>) {
    let mut events = Vec::new();
    let mut balances = Vec::new();
    for pulse in 0..pulses {
        if pulse % 2 == 0 && pulse < 24 {
            net.command(pulse * PULSE_MS + 10, 1, 2, 10, pulse);
        }
        net.pulse((pulse + 1) * PULSE_MS);
        let payee = net.nodes[2].id();
        let held = net.nodes[acting_primary(net, 2)].ledger().unwrap().account(&payee).unwrap().balance;
        events.extend(net.take_events());
        balances.push((pulse, committed_count(&events), held));
    }
    (events, balances)
}

fn committed_count(events: &[(usize, NodeEvent)]) -> u64 {
    events.iter().filter(|(n, e)| *n == 1 && matches!(e, NodeEvent::Committed { .. })).count() as u64
}

/// The first pulse after which a committed payment is missing from the payee's books.
fn lost_payment(balances: &[Books]) -> Option<Books> {
    balances.iter().copied().find(|(_, committed, held)| *held < 1_000 + 10 * committed)
}

#[test]
fn elected_committees_take_the_groups_state_and_keep_the_books_term_after_term() {
    let mut net = elected(Default::default());
    let (events, balances) = pay_through_terms(&mut net, 40);
    let mut monitor = AtomicityMonitor::default();
    check_root_and_halves(&events, &mut monitor);
    let elections = events.iter().filter(|(_, e)| matches!(e, NodeEvent::Elected { .. })).count();
    assert_eq!(elections, 2 * 10, "each group elected at pulses 4, 8, …, 40");
    let seated: Vec<(u64, usize, bool)> = events
        .iter()
        .filter_map(|(_, e)| match e {
            NodeEvent::Seated { pulse, joined, from, to, .. } => Some((*pulse, *joined, from != to)),
            _ => None,
        })
        .collect();
    assert!(seated.len() >= 2 * 9, "every term's committee took over: {seated:?}");
    assert!(seated.iter().any(|(_, joined, _)| *joined > 0), "standbys joined: {seated:?}");
    assert!(seated.iter().any(|(_, _, moved)| *moved), "the primary's seat moved: {seated:?}");
    // Joiners took the state; nobody diverged otherwise.
    assert!(events.iter().any(|(n, e)| *n >= 9 && matches!(e, NodeEvent::Resynced { .. })));
    // Every committed payment is in the acting primary's ledger after each pulse, through
    // every handover; each payment commits.
    let committed = committed_count(&events);
    assert_eq!(committed, 12, "every payment committed");
    assert_eq!(lost_payment(&balances), None, "{balances:?}");
    // The committee in effect holds the acting primary's sealed root, member for member.
    let group = Prefix::new(net.nodes[2].id(), 8);
    let committee = net.nodes[0].committee_of(&group).unwrap();
    let primary = acting_primary(&net, 2);
    let root = |n: usize| {
        let tree = net.nodes[n].ledger().unwrap().tree();
        tree.root(tree.latest_version()).unwrap()
    };
    for member in committee.iter().map(|id| net.index(*id)) {
        assert_eq!(root(member), root(acting_primary(&net, 2)), "member {member} (primary {primary})");
    }
}

#[test]
fn a_committee_seated_before_its_new_members_hold_the_state_loses_committed_payments() {
    // Seating a committee at once, whatever its members hold, makes a standby with the
    // genesis ledger primary: the payee's committed payments vanish from its group's books.
    let faults = reference::node::NodeFaults { fail_over_blindly: true, ..Default::default() };
    let mut net = elected(faults);
    let (_, balances) = pay_through_terms(&mut net, 24);
    assert!(lost_payment(&balances).is_some(), "{balances:?}");
}

#[test]
fn pools_are_validated_into_typed_errors() {
    use reference::node::RosterError;
    let scheme = SimScheme::new(5);
    let id = |i: u64| scheme.signer(i).id();
    let group = Prefix::new(id(1), 8);
    let roster = Roster::new(id(0), [(group, id(2))]).unwrap();
    let standing = |i: u64| Candidate { id: id(i), votes: 1, deposit: 1 };
    // No committee to elect: no backups yet.
    let error = roster.clone().with_pools([(group, vec![standing(2), standing(9)])]).unwrap_err();
    assert_eq!(error, RosterError::PoolWithoutCommittee(group));
    let roster = roster.with_backups([(group, vec![id(3)])]).unwrap();
    let error = roster.clone().with_pools([(Prefix::ROOT, vec![standing(0)])]).unwrap_err();
    assert_eq!(error, RosterError::PoolWithoutCommittee(Prefix::ROOT));
    let error = roster.clone().with_pools([(group, vec![standing(2), standing(9)])]).unwrap_err();
    assert_eq!(error, RosterError::PoolMissesMember { group, member: id(3) });
    let twice = vec![standing(2), standing(3), standing(9), standing(9)];
    assert_eq!(roster.clone().with_pools([(group, twice)]).unwrap_err(), RosterError::TwoSeats(id(9)));
    let chief_too = vec![standing(2), standing(3), standing(0)];
    assert_eq!(roster.clone().with_pools([(group, chief_too)]).unwrap_err(), RosterError::TwoSeats(id(0)));
    let roster = roster.with_pools([(group, vec![standing(2), standing(3), standing(9)])]).unwrap();
    assert!(roster.is_candidate(&group, &id(9)) && !roster.is_member(&group, &id(9)));
    assert_eq!(roster.seat_of(&id(9)), Some(group));
}

// ----- committees elected by an organization's ballots (SPEC §6.3, D-044) -------------------

/// The net of [`elected`] with the pool exactly the seats (`election_pool_factor` 1, so the
/// ballots alone choose the committee) and the organization of `org_key` as the electorate.
fn elected_by(org_key: &reference::crypto::SimSigner) -> Net {
    let org = org_key.id();
    build_elected_with(2, true, None, 2, 3, Some(4), |config| {
        config.election_pool_factor = 1;
        config.governance.electorate = Some(org);
    })
}

impl Net {
    /// Client `node`'s governance request `action` for `org`, delivered and answered at once.
    fn gov(&mut self, now: u64, node: usize, org: Id, action: GovAction, tag: u64) -> GovResult {
        let mut out = Vec::new();
        self.nodes[node].handle_command(now, Command::Gov { org, action, tag }, &mut out);
        self.settle(now, node, out);
        let answer = self.events.iter().rev().find_map(|(n, e)| match e {
            NodeEvent::GovAnswered { tag: t, result, .. } if *n == node && *t == tag => Some(*result),
            _ => None,
        });
        answer.expect("answered at once")
    }
}

#[test]
fn the_organizations_ballots_elect_the_committees_and_an_expelled_candidate_loses_its_seat() {
    let org_key = SimScheme::new(5).signer(7_000);
    let mut net = elected_by(&org_key);
    let org = org_key.id();
    let (founder, member) = (net.nodes[1].id(), net.nodes[2].id());
    let params = OrgParams {
        vote_window_pulses: 1,
        quorum_permille: 100,
        threshold_permille: 500,
        weight_rule: WeightRule::OneMemberOneVote,
        supervisor_absence_pulses: 100,
    };
    let mut tag = 0;
    let mut ask = |net: &mut Net, now: u64, node: usize, action: GovAction| {
        tag += 1;
        net.gov(now, node, org, action, tag)
    };
    assert_eq!(ask(&mut net, 10, 1, GovAction::create(&org_key, founder, params)), Ok(GovAccepted::Done));
    assert_eq!(ask(&mut net, 20, 2, GovAction::Apply { endorsement: None }), Ok(GovAccepted::Done));
    // A guest's ballot is refused (guests never vote, SPEC §3.6).
    let guest_ballot = GovAction::Ballot { group: Prefix::new(member, 8), approve: vec![net.nodes[9].id()] };
    assert_eq!(ask(&mut net, 25, 2, guest_ballot), Err(GovRefusal::Org(OrgError::NotMember(member))));
    let decide = GovAction::Decide { applicant: member, admit: true };
    assert_eq!(ask(&mut net, 30, 1, decide), Ok(GovAccepted::Done));
    // Nodes 3–14 are the pools' candidates (primaries, backups, standbys): all made members.
    for candidate in 3..15 {
        let guest = net.nodes[candidate].id();
        assert_eq!(ask(&mut net, 40, 1, GovAction::AdmitByTask { guest }), Ok(GovAccepted::Done));
    }
    // Each client approves its group's three standbys (groups in prefix order, as built).
    let group_of = |net: &Net, client: usize| Prefix::new(net.nodes[client].id(), 8);
    let mut groups: Vec<Prefix> = (1..=2).map(|c| group_of(&net, c)).collect();
    groups.sort();
    let standbys = |g: usize| -> Vec<Id> { (9 + 3 * g..12 + 3 * g).map(|i| net.nodes[i].id()).collect() };
    let standbys: Vec<Vec<Id>> = (0..2).map(standbys).collect();
    let ballot = |net: &Net, client: usize, approve: Vec<Id>| {
        let group = group_of(net, client);
        (group, GovAction::Ballot { group, approve })
    };
    // A ballot naming a candidate twice is refused.
    let (g1, _) = ballot(&net, 1, vec![]);
    let twice = GovAction::Ballot { group: g1, approve: vec![standbys[0][0], standbys[0][0]] };
    assert_eq!(ask(&mut net, 50, 1, twice), Err(GovRefusal::BadBallot));
    for client in 1..=2 {
        let g = groups.iter().position(|p| *p == group_of(&net, client)).unwrap();
        let (_, action) = ballot(&net, client, standbys[g].clone());
        assert_eq!(ask(&mut net, 60, client, action), Ok(GovAccepted::Done));
    }
    assert_eq!(net.nodes[0].governance_ballots(), Some(2));
    for pulse in 1..=4 {
        net.pulse(pulse * PULSE_MS);
    }
    let elected = |events: &[(usize, NodeEvent)], at: u64| -> Vec<(Prefix, Vec<Id>)> {
        events
            .iter()
            .filter_map(|(n, e)| match e {
                NodeEvent::Elected { pulse, group, seats, .. } if *n == 0 && *pulse == at => {
                    let mut seats = seats.clone();
                    seats.sort();
                    Some((*group, seats))
                }
                _ => None,
            })
            .collect()
    };
    let events = net.take_events();
    let first = elected(&events, 4);
    assert_eq!(first.len(), 2, "both groups elected at pulse 4: {first:?}");
    for (group, seats) in &first {
        let g = groups.iter().position(|p| p == group).unwrap();
        let mut wanted = standbys[g].clone();
        wanted.sort();
        assert_eq!(seats, &wanted, "the approved standbys, and only they, are elected");
    }
    assert_eq!(net.nodes[0].governance_ballots(), Some(0), "the term's ballots were counted");

    // The organization expels one of group 0's standbys; the same ballots next term cannot
    // seat it.
    let expelled = standbys[0][0];
    let propose = GovAction::Propose { kind: ProposalKind::Expel { member: expelled } };
    assert_eq!(ask(&mut net, 4_010, 1, propose), Ok(GovAccepted::Opened { number: 0 }));
    for client in 1..=2 {
        let vote = GovAction::Vote { number: 0, yes: true };
        assert_eq!(ask(&mut net, 4_020, client, vote), Ok(GovAccepted::Done));
    }
    net.pulse(5 * PULSE_MS);
    let closed = net.take_events().into_iter().any(|(n, e)| {
        n == 0 && matches!(e, NodeEvent::ProposalClosed { closed, .. } if closed.outcome.passed)
    });
    assert!(closed, "the expulsion passed");
    for client in 1..=2 {
        let g = groups.iter().position(|p| *p == group_of(&net, client)).unwrap();
        let (_, action) = ballot(&net, client, standbys[g].clone());
        assert_eq!(ask(&mut net, 5_010, client, action), Ok(GovAccepted::Done));
    }
    for pulse in 6..=8 {
        net.pulse(pulse * PULSE_MS);
    }
    let events = net.take_events();
    let second = elected(&events, 8);
    let (_, seats) = second.iter().find(|(g, _)| *g == groups[0]).expect("group 0 elected");
    assert!(!seats.contains(&expelled), "an expelled candidate is not eligible: {seats:?}");
    assert!(standbys[0][1..].iter().all(|s| seats.contains(s)), "the other approved ones are: {seats:?}");
    let (_, seats) = second.iter().find(|(g, _)| *g == groups[1]).expect("group 1 elected");
    let mut wanted = standbys[1].clone();
    wanted.sort();
    assert_eq!(seats, &wanted);
}

// ----- an account held beside a node's own: the organization's (SPEC §3.3, §10.1, D-046) ----

/// [`build`]'s net, grouped, with node 1 (the founder) holding the organization's key: the
/// organization's account holds what the genesis did not distribute (1,000,000 − 2 × 1,000).
fn org_net() -> (Net, Id) {
    let mut net = build(2, true);
    let org_key = net.scheme.signer(1_000);
    let org = org_key.id();
    net.nodes[1].hold_account(Arc::new(org_key)).expect("a client holds accounts");
    assert!(
        net.nodes[0].hold_account(Arc::new(net.scheme.signer(1_001))).is_err(),
        "a bookkeeper holds none"
    );
    (net, org)
}

fn account_of(net: &Net, id: Id) -> reference::smt::Account {
    net.nodes.iter().find_map(|n| n.ledger().and_then(|l| l.account(&id))).expect("kept by a bookkeeper")
}

impl Net {
    fn command_from(&mut self, now: u64, node: usize, from: Id, to: usize, amount: u64, tag: u64) {
        let to = self.nodes[to].id();
        let mut out = Vec::new();
        self.nodes[node].handle_command(now, Command::TransferFrom { from, to, amount, tag }, &mut out);
        self.settle(now, node, out);
    }

    /// Fire every timer due by `now` (in the order they were set).
    fn fire_timers(&mut self, now: u64) {
        let (due, later): (Vec<_>, Vec<_>) = self.timers.drain(..).partition(|(_, at, _)| *at <= now);
        self.timers = later;
        for (node, _, timer) in due {
            let mut out = Vec::new();
            self.nodes[node].handle_timer(now, timer, &mut out);
            self.settle(now, node, out);
        }
    }
}

#[test]
fn a_founder_pays_from_the_organizations_account_through_the_transfer_flow() {
    let (mut net, org) = org_net();
    let supply = account_of(&net, org).balance;
    assert_eq!(supply, 1_000_000 - 2 * 1_000, "the genesis left the rest in the organization's account");
    // The first payment is lost on its way to the payer's group (the payee's submission), so
    // the founder's node retries it: a retry from the held account, signed by its key.
    let mut lost_once = false;
    net.drop_if = Box::new(move |_, _, msg| {
        let first = matches!(msg, Message::Submit(_)) && !lost_once;
        lost_once |= first;
        first
    });
    net.command_from(10, 1, org, 2, 500, 7);
    assert_eq!(net.dropped.len(), 1, "the submission was lost");
    net.fire_timers(10 + 3 * PULSE_MS);
    net.command_from(20 + 3 * PULSE_MS, 1, org, 2, 250, 8); // queued behind the first
    for pulse in 4..=8 {
        net.pulse(pulse * PULSE_MS);
    }
    let events = net.take_events();
    let committed: Vec<u64> = events
        .iter()
        .filter_map(|(n, e)| matches!(e, NodeEvent::Committed { .. }).then_some((*n, e)))
        .map(|(n, e)| {
            assert_eq!(n, 1, "the holder learns the commit");
            if let NodeEvent::Committed { tag, .. } = e { *tag } else { unreachable!() }
        })
        .collect();
    assert_eq!(committed, [7, 8], "both commit, in order: {events:?}");
    assert!(events.iter().any(|(n, e)| *n == 2 && matches!(e, NodeEvent::Credited { .. })));
    assert_eq!(account_of(&net, org).balance, supply - 750);
    assert_eq!(account_of(&net, org).nonce, 2, "the organization's own nonces");
    assert_eq!(account(&net, 1).nonce, 0, "the founder's own account untouched");
    assert_eq!(balance(&net, 2), 1_750);
}

#[test]
fn only_a_holder_pays_from_an_account_and_a_held_account_is_paid_like_any_other() {
    let (mut net, org) = org_net();
    // Node 2 holds no key for the organization: refused at once, nothing sent.
    net.command_from(10, 2, org, 1, 5, 3);
    let events = net.take_events();
    assert!(
        matches!(events.as_slice(), [(2, NodeEvent::Refused { tag: 3, error: LedgerError::KeyMismatch { id, .. } })] if *id == org),
        "{events:?}"
    );
    // Paying the organization: its holder co-signs with the organization's key.
    let supply = account_of(&net, org).balance;
    let to = org;
    let mut out = Vec::new();
    net.nodes[2].handle_command(20, Command::Transfer { to, amount: 40, tag: 4 }, &mut out);
    net.settle(20, 2, out);
    for pulse in 1..=3 {
        net.pulse(pulse * PULSE_MS);
    }
    let events = net.take_events();
    assert!(
        events.iter().any(|(n, e)| *n == 2 && matches!(e, NodeEvent::Committed { tag: 4, .. })),
        "{events:?}"
    );
    assert!(events.iter().any(|(n, e)| *n == 1 && matches!(e, NodeEvent::Credited { .. })), "{events:?}");
    assert_eq!(account_of(&net, org).balance, supply + 40);
    // An envelope for the organization reaches only its holder: node 2 refuses it.
    let pulse_msg = chiefs_pulse(&mut net, 2, 9).0;
    let envelope = net.nodes[0].seal(10_000, To::Node(org), pulse_msg);
    let mut out = Vec::new();
    net.nodes[2].handle_message(10_000, &envelope, &mut out);
    assert!(
        matches!(
            out.as_slice(),
            [Output::Event(NodeEvent::BadMessage { error: NodeError::Misaddressed { .. }, .. })]
        ),
        "{out:?}"
    );
}

impl Net {
    /// Node `node`'s user asks `command`; the answers that reached the users by `pulses`
    /// pulses later, by tag, with the pulse each was applied in.
    fn user(&mut self, now: u64, node: usize, command: Command) {
        let mut out = Vec::new();
        self.nodes[node].handle_command(now, command, &mut out);
        self.settle(now, node, out);
    }
}

fn answers(events: &[(usize, NodeEvent)]) -> std::collections::BTreeMap<u64, (u64, GovResult)> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            NodeEvent::GovAnswered { tag, pulse, result, .. } => Some((*tag, (*pulse, *result))),
            _ => None,
        })
        .collect()
}

#[test]
fn balance_votes_are_proven_by_the_voters_own_group_and_the_quorum_leaves_the_organizations_account_out() {
    let (mut net, org) = org_net();
    let org_key = net.scheme.signer(1_000);
    let (founder, member) = (net.nodes[1].id(), net.nodes[2].id());
    let params = OrgParams {
        vote_window_pulses: 6,
        quorum_permille: 500,
        threshold_permille: 500,
        weight_rule: WeightRule::Balance,
        supervisor_absence_pulses: 100,
    };
    let gov = |action: GovAction, tag: u64| Command::Gov { org, action, tag };
    net.user(10, 1, gov(GovAction::create(&org_key, founder, params), 1));
    net.pulse(PULSE_MS);
    net.user(PULSE_MS + 10, 2, gov(GovAction::Apply { endorsement: None }, 2));
    net.pulse(2 * PULSE_MS);
    net.user(2 * PULSE_MS + 10, 1, gov(GovAction::Decide { applicant: member, admit: true }, 3));
    net.pulse(3 * PULSE_MS);
    let kind = ProposalKind::StructuralReward { to: member, amount: 10, reason: "audit".into() };
    net.user(3 * PULSE_MS + 10, 1, gov(GovAction::Propose { kind }, 4));
    net.pulse(4 * PULSE_MS);
    let opened = answers(&net.take_events());
    assert_eq!(opened[&4].1, Ok(GovAccepted::Opened { number: 0 }), "{opened:?}");
    let opened_pulse = opened[&4].0;
    // Both members vote with proofs from their own leaf groups; the founder shows the
    // organization's account, which the root group keeps.
    for (node, tag) in [(1, 5), (2, 6)] {
        net.user(
            4 * PULSE_MS + 10,
            node,
            Command::VoteByBalance { org, number: 0, opened_pulse, yes: true, tag },
        );
    }
    net.user(4 * PULSE_MS + 20, 1, Command::ProveOrgAccount { org, number: 0, opened_pulse, tag: 7 });
    // The chief keeps no leaf account: asked for one, it proves nothing.
    let ask = Message::ProveAccount { account: member, pulse: opened_pulse };
    let envelope = net.seal(4 * PULSE_MS + 30, 2, 0, ask);
    let mut out = Vec::new();
    net.nodes[0].handle_message(4 * PULSE_MS + 30, &envelope, &mut out);
    let [Output::Send { msg: Message::AccountAt { answer, .. }, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert_eq!(*answer, reference::node::ProofAnswer::NotHeld { oldest: 0, newest: 0 });
    // What the chief's ledger would prove of the member's account is its absence, under a
    // valid root: `verify` accepts it, `verify_in` the member's own group refuses it.
    let ask = Message::ProveAccount { account: org, pulse: opened_pulse };
    let envelope = net.seal(4 * PULSE_MS + 31, 2, 0, ask);
    let mut out = Vec::new();
    net.nodes[0].handle_message(4 * PULSE_MS + 31, &envelope, &mut out);
    let [Output::Send { msg: Message::AccountAt { answer, .. }, .. }] = out.as_slice() else {
        panic!("{out:?}")
    };
    let reference::node::ProofAnswer::Proven { root, proof } = answer else { panic!("{answer:?}") };
    assert!(
        proof.verify_in(root, &Prefix::ROOT).unwrap().is_some(),
        "the organization's account, at the root"
    );
    let tree = net.nodes[0].ledger().unwrap().tree();
    let absent = tree.prove(proof.path.entry.version, &member).unwrap();
    let stranger = reference::consensus::root::AccountProof { account: absent, path: proof.path.clone() };
    assert_eq!(stranger.verify(root), Ok(None), "the root group proves any leaf account absent");
    let group = Prefix::new(member, 8);
    assert_eq!(stranger.verify_in(root, &group), Err(reference::consensus::root::RootProofError::WrongGroup));
    for pulse in 5..=11 {
        net.pulse(pulse * PULSE_MS);
    }
    let events = net.take_events();
    let answered = answers(&events);
    for tag in [5, 6, 7] {
        assert_eq!(answered[&tag].1, Ok(GovAccepted::Done), "{tag}: {answered:?}");
    }
    let closed = events
        .iter()
        .find_map(|(_, e)| match e {
            NodeEvent::ProposalClosed { closed, .. } => Some(closed.outcome),
            _ => None,
        })
        .expect("the proposal closed");
    // 1,000 each; the quorum is of the money outside the organization's account: the two
    // members' 2,000, so it passes — with the whole supply counted it could not.
    assert_eq!((closed.yes, closed.no, closed.total_weight, closed.passed), (2_000, 0, 2_000, true));
}
