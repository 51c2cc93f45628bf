//! The root committee (D-033): the chief's pulses go out only once a majority of its
//! committee replayed and co-signed them, and when the chief falls silent its backups vote a
//! successor that holds every co-signed pulse.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use reference::crypto::{Signer, SimScheme};
use reference::id::{Id, Prefix};
use reference::node::{
    Command, Genesis, Message, Node, NodeConfig, NodeEvent, NodeFaults, Output, Roster, Timer, To,
};
use reference::smt::Synopsis;

const PULSE_MS: u64 = 1000;

type DropRule = Box<dyn FnMut(usize, usize, &Message) -> bool>;

/// A chief (node 0), `backups` root backups (nodes 1..=backups), then `clients` clients, all
/// in the root group; timers fire in time order, messages arrive at once unless dropped.
struct Net {
    nodes: Vec<Node>,
    timers: BTreeSet<(u64, usize, Timer)>,
    down: BTreeSet<usize>,
    events: Vec<(u64, usize, NodeEvent)>,
    now_ms: u64,
    /// Messages `(from, to, msg)` for which this returns true are lost.
    drop_if: DropRule,
}

fn build(backups: usize, clients: usize) -> Net {
    let scheme = SimScheme::new(9);
    let chief = scheme.signer(0);
    let backup_ids: Vec<Id> = (1..=backups as u64).map(|i| scheme.signer(i).id()).collect();
    let client_signers: Vec<_> = (0..clients as u64).map(|i| scheme.signer(100 + i)).collect();
    let roster = Roster::single(chief.id()).with_backups([(Prefix::ROOT, backup_ids.clone())]).unwrap();
    let distribution: Vec<(Id, u64)> = client_signers.iter().map(|s| (s.id(), 1_000)).collect();
    let org = scheme.signer(1_000);
    let genesis = Genesis::split(&roster, org.id(), 1_000_000, &distribution, 4).unwrap();
    let config = NodeConfig {
        pulse_ms: PULSE_MS,
        retry_ms: 3 * PULSE_MS,
        max_attempts: 10,
        transfer_timeout_pulses: 4,
        roster: Arc::new(roster),
        bookkeeper_deposit: None,
        failover_timeout_pulses: 2,
        election_cycle_pulses: None,
        election_pool_factor: 2,
        bookkeeper_deposit_min: 0,
        governance: Default::default(),
    };
    let verifier = Arc::new(scheme.clone());
    let (_, ledger) = genesis.ledgers.into_iter().next().unwrap();
    let members = std::iter::once(0).chain(1..=backups as u64).map(|i| scheme.signer(i));
    let mut nodes: Vec<Node> = members
        .map(|s| {
            Node::chief(
                Arc::new(s),
                ledger.clone(),
                genesis.arbiter.clone(),
                verifier.clone(),
                config.clone(),
            )
        })
        .collect();
    nodes.extend(
        client_signers.into_iter().map(|s| Node::client(Arc::new(s), verifier.clone(), config.clone())),
    );
    let mut net = Net {
        nodes,
        timers: BTreeSet::new(),
        down: BTreeSet::new(),
        events: Vec::new(),
        now_ms: 0,
        drop_if: Box::new(|_, _, _| false),
    };
    for node in 0..net.nodes.len() {
        let mut out = Vec::new();
        // The backups' watchdogs tick half a period after the chief's pulses.
        let start_ms = if (1..=backups).contains(&node) { PULSE_MS / 2 } else { 0 };
        net.nodes[node].start(start_ms, &mut out);
        net.apply(node, out);
    }
    net
}

impl Net {
    fn index(&self, id: &Id) -> usize {
        self.nodes.iter().position(|n| n.id() == *id).expect("a node of the net")
    }

    fn apply(&mut self, from: usize, outputs: Vec<Output>) {
        let mut work: std::collections::VecDeque<(usize, Output)> =
            outputs.into_iter().map(|o| (from, o)).collect();
        while let Some((from, output)) = work.pop_front() {
            match output {
                Output::Send { to, msg } => {
                    let to = self.index(&to);
                    if self.down.contains(&to) || (self.drop_if)(from, to, &msg) {
                        continue;
                    }
                    let to_id = self.nodes[to].id();
                    let envelope = self.nodes[from].seal(self.now_ms, To::Node(to_id), msg);
                    let mut out = Vec::new();
                    self.nodes[to].handle_message(self.now_ms, &envelope, &mut out);
                    work.extend(out.into_iter().map(|o| (to, o)));
                }
                Output::Broadcast { msg } => {
                    let envelope = self.nodes[from].seal(self.now_ms, To::Everyone, msg.clone());
                    for to in (0..self.nodes.len()).filter(|i| *i != from && !self.down.contains(i)) {
                        if (self.drop_if)(from, to, &msg) {
                            continue;
                        }
                        let mut out = Vec::new();
                        self.nodes[to].handle_message(self.now_ms, &envelope, &mut out);
                        work.extend(out.into_iter().map(|o| (to, o)));
                    }
                }
                Output::SetTimer { at_ms, timer } => {
                    self.timers.insert((at_ms, from, timer));
                }
                Output::Event(event) => self.events.push((self.now_ms, from, event)),
            }
        }
    }

    /// What node `to` does with `msg` sealed by node `from` (D-039).
    fn send_as(&mut self, from: usize, to: usize, msg: Message) -> Vec<Output> {
        let to_id = self.nodes[to].id();
        let envelope = self.nodes[from].seal(self.now_ms, To::Node(to_id), msg);
        let mut out = Vec::new();
        self.nodes[to].handle_message(self.now_ms, &envelope, &mut out);
        out
    }

    /// Fire every timer due up to `until_ms`, in time order.
    fn run_until(&mut self, until_ms: u64) {
        while let Some(&(at_ms, node, timer)) = self.timers.first() {
            if at_ms > until_ms {
                break;
            }
            self.timers.pop_first();
            if self.down.contains(&node) {
                continue;
            }
            self.now_ms = at_ms;
            let mut out = Vec::new();
            self.nodes[node].handle_timer(at_ms, timer, &mut out);
            self.apply(node, out);
        }
        self.now_ms = until_ms;
    }

    fn pay(&mut self, payer: usize, payee: usize, amount: u64, tag: u64) {
        let to = self.nodes[payee].id();
        let mut out = Vec::new();
        self.nodes[payer].handle_command(self.now_ms, Command::Transfer { to, amount, tag }, &mut out);
        self.apply(payer, out);
    }

    fn crash(&mut self, node: usize) {
        self.down.insert(node);
    }

    fn committed(&self, tag: u64) -> usize {
        self.events
            .iter()
            .filter(|(_, _, e)| matches!(e, NodeEvent::Committed { tag: t, .. } if *t == tag))
            .count()
    }

    fn took_over(&self) -> Vec<(usize, u32)> {
        let took = |(_, n, e): &(u64, usize, NodeEvent)| match e {
            NodeEvent::TookOver { group, view, .. } if *group == Prefix::ROOT => Some((*n, *view)),
            _ => None,
        };
        self.events.iter().filter_map(took).collect()
    }

    /// Every root any node announced or built, by ts: I7 needs one synopsis per ts.
    fn roots_by_ts(&self) -> BTreeMap<u64, BTreeSet<[u8; 32]>> {
        let mut roots: BTreeMap<u64, BTreeSet<[u8; 32]>> = BTreeMap::new();
        for (_, _, event) in &self.events {
            if let NodeEvent::RootBuilt { root, .. } = event {
                roots.entry(root.version).or_default().insert(root.synopsis.hash.0);
            }
        }
        roots
    }

    fn balance(&self, client: usize, at: usize) -> u64 {
        let id = self.nodes[client].id();
        let ledger = self.nodes[at].ledger().unwrap();
        ledger.tree().get(ledger.tree().latest_version(), &id).unwrap().map_or(0, |a| a.balance)
    }
}

fn synopsis_of(net: &Net, node: usize) -> Synopsis {
    net.nodes[node].root().unwrap().synopsis
}

#[test]
fn the_chiefs_pulses_wait_for_a_majority_of_its_committee_to_co_sign_them() {
    let mut net = build(2, 2);
    net.run_until(100);
    net.pay(3, 4, 300, 1);
    net.run_until(3_100);
    assert_eq!(net.committed(1), 1, "{:?}", net.events);
    // The backups replayed every pulse: they hold the chief's root and ledger.
    for backup in [1, 2] {
        assert_eq!(synopsis_of(&net, backup), synopsis_of(&net, 0));
        assert_eq!(net.balance(4, backup), 1_300);
    }
    // With both backups cut off from the chief, no pulse goes out: nothing is co-signed.
    let pulse_before = net.nodes[3].pulse();
    net.drop_if = Box::new(|from, to, _| (from == 0 && to <= 2) || (to == 0 && from <= 2));
    net.run_until(5_100);
    assert_eq!(net.nodes[3].pulse(), pulse_before, "a pulse went out uncosigned");
}

#[test]
fn a_crashed_chief_is_replaced_by_the_backup_its_committee_votes_for_and_payments_go_on() {
    let mut net = build(2, 2);
    net.run_until(100);
    net.pay(3, 4, 300, 1);
    net.run_until(3_200);
    assert_eq!(net.committed(1), 1);
    net.crash(0);
    net.run_until(4_000);
    net.pay(3, 4, 50, 2);
    net.run_until(15_000);
    // The first backup (view 1 names it) took over, once.
    assert_eq!(net.took_over(), vec![(1, 1)], "{:?}", net.events);
    assert_eq!(net.committed(2), 1, "{:?}", net.events);
    assert_eq!(net.balance(4, 1), 1_350);
    assert_eq!(net.balance(3, 2), 650);
    // The clients follow the new chief's pulses.
    assert_eq!(net.nodes[3].root(), net.nodes[1].root());
    assert!(net.roots_by_ts().values().all(|synopses| synopses.len() == 1), "{:?}", net.roots_by_ts());
    // The chief comes back: it learns of view 1 from the new chief's pulse, steps down, takes
    // its state and replays on as a backup.
    net.down.clear();
    let mut out = Vec::new();
    net.nodes[0].restart(15_000, false, &mut out);
    net.apply(0, out);
    net.run_until(20_000);
    let stepped_down =
        net.events.iter().any(|(_, n, e)| *n == 0 && matches!(e, NodeEvent::SteppedDown { .. }));
    assert!(stepped_down, "{:?}", net.events);
    assert_eq!(net.balance(4, 0), 1_350);
    assert_eq!(synopsis_of(&net, 0), synopsis_of(&net, 1));
    assert_eq!(net.took_over(), vec![(1, 1)], "no further view change");
}

#[test]
fn a_successor_that_is_behind_takes_the_most_advanced_voters_state_first() {
    let mut net = build(2, 2);
    net.run_until(100);
    // Backup 1 (which view 1 names) misses every cycle after the first; backup 2 co-signs.
    net.drop_if = Box::new(|from, to, msg| from == 0 && to == 1 && matches!(msg, Message::Replicate(_)));
    net.pay(3, 4, 300, 1);
    net.run_until(3_200);
    assert_eq!(net.committed(1), 1);
    assert!(net.nodes[1].pulse() < net.nodes[2].pulse());
    net.crash(0);
    net.drop_if = Box::new(|_, _, _| false);
    net.run_until(12_000);
    assert_eq!(net.took_over(), vec![(1, 1)]);
    // It took backup 2's state, so the committed payment survived.
    assert_eq!(net.balance(4, 1), 1_300);
    let resynced = net.events.iter().any(|(_, n, e)| *n == 1 && matches!(e, NodeEvent::Resynced { .. }));
    assert!(resynced, "{:?}", net.events);
}

#[test]
fn a_chief_cut_off_from_its_committee_cannot_release_pulses_and_is_deposed() {
    let mut net = build(2, 2);
    net.run_until(100);
    net.pay(3, 4, 300, 1);
    net.run_until(3_200);
    // The chief loses its committee but still reaches the clients: its pulses stop anyway,
    // the backups elect backup 1, and on hearing it the old chief steps down (fencing).
    net.drop_if = Box::new(|from, to, _| (from == 0 && to <= 2) || (to == 0 && from <= 2));
    net.run_until(9_000);
    assert_eq!(net.took_over(), vec![(1, 1)]);
    net.drop_if = Box::new(|_, _, _| false);
    net.pay(4, 3, 20, 2);
    net.run_until(16_000);
    assert_eq!(net.committed(2), 1, "{:?}", net.events);
    let stepped_down =
        net.events.iter().any(|(_, n, e)| *n == 0 && matches!(e, NodeEvent::SteppedDown { .. }));
    assert!(stepped_down);
    assert!(net.roots_by_ts().values().all(|synopses| synopses.len() == 1), "{:?}", net.roots_by_ts());
    assert_eq!(synopsis_of(&net, 0), synopsis_of(&net, 1));
}

/// The chief's cycle for `pulse` never reaches its backups, and it crashes right after the
/// pulse: with the co-signing it never released that pulse; without it, it did.
fn crash_after_an_unreplicated_pulse(faults: NodeFaults) -> Net {
    let mut net = build(2, 2);
    net.nodes[0].inject_faults(faults);
    net.run_until(100);
    net.pay(3, 4, 300, 1);
    net.drop_if = Box::new(|from, to, msg| from == 0 && to <= 2 && matches!(msg, Message::Replicate(_)));
    net.run_until(2_500);
    net.crash(0);
    net.drop_if = Box::new(|_, _, _| false);
    net.run_until(12_000);
    net.pay(4, 3, 10, 2);
    net.run_until(20_000);
    net
}

#[test]
fn without_co_signing_a_successor_rebuilds_an_announced_ts_differently_breaking_i7() {
    let honest = crash_after_an_unreplicated_pulse(NodeFaults::default());
    assert_eq!(honest.took_over(), vec![(1, 1)]);
    assert!(honest.roots_by_ts().values().all(|s| s.len() == 1), "{:?}", honest.roots_by_ts());
    // The payer retried with the new chief: committed once, paid once.
    assert_eq!(honest.committed(1), 1, "{:?}", honest.events);
    assert_eq!(honest.balance(4, 1), 1_290);

    let broken =
        crash_after_an_unreplicated_pulse(NodeFaults { release_uncosigned: true, ..Default::default() });
    assert_eq!(broken.took_over(), vec![(1, 1)]);
    // The payer was told its payment committed, and the new chief's ledger lacks it.
    assert_eq!(broken.committed(1), 1);
    assert_eq!(broken.balance(4, 1), 1_000 - 10);
    let forked = broken.roots_by_ts().into_iter().find(|(_, synopses)| synopses.len() > 1);
    assert!(forked.is_some(), "the fault must fork a ts: {:?}", broken.roots_by_ts());
}

#[test]
fn root_committee_messages_from_outside_it_are_typed_errors() {
    let mut net = build(2, 2);
    net.run_until(1_100);
    for msg in [
        Message::ViewChange { view: 5, pulse: 1 },
        Message::CoSign { pulse: 1, view: 0, digest: reference::crypto::Hash32([0; 32]) },
    ] {
        let out = net.send_as(3, 0, msg.clone());
        let bad = out.iter().any(|o| matches!(o, Output::Event(NodeEvent::BadMessage { .. })));
        assert!(bad, "{msg:?}: {out:?}");
        let out = net.send_as(3, 1, msg.clone());
        assert!(out.iter().any(|o| matches!(o, Output::Event(NodeEvent::BadMessage { .. }))));
    }
    // A client never takes a pulse from a backup that claims no later view.
    let root = net.nodes[0].root().unwrap();
    let fake = Message::Pulse { pulse: 99, root, views: Default::default(), seatings: Default::default() };
    let out = net.send_as(1, 3, fake);
    assert!(out.iter().any(|o| matches!(o, Output::Event(NodeEvent::BadMessage { .. }))));
    assert!(net.nodes[3].pulse() < 99);
}

#[test]
fn a_chief_stalled_by_a_crashed_and_a_cut_off_member_gives_way_to_a_vote() {
    // A committee of four: backup 3 crashes, backup 2 loses its link to the chief. The chief
    // then gets one co-signature of the two it needs; it must abdicate for the vote to reach
    // the quorum of three, and the payments go on under a new chief.
    let mut net = build(3, 2);
    net.run_until(100);
    net.pay(4, 5, 300, 1);
    net.run_until(3_200);
    assert_eq!(net.committed(1), 1);
    net.crash(3);
    net.drop_if = Box::new(|from, to, _| (from == 0 && to == 2) || (from == 2 && to == 0));
    net.pay(5, 4, 40, 2);
    net.run_until(60_000);
    let took_over = net.took_over();
    assert_eq!(took_over.len(), 1, "{took_over:?}");
    let abdicated = net.events.iter().any(|(_, n, e)| *n == 0 && matches!(e, NodeEvent::SteppedDown { .. }));
    assert!(abdicated, "{:?}", net.events);
    assert_eq!(net.committed(2), 1, "{:?}", net.events);
    let chief = took_over[0].0;
    assert_eq!(net.balance(5, chief), 1_260);
    assert!(net.roots_by_ts().values().all(|s| s.len() == 1), "{:?}", net.roots_by_ts());
}

#[test]
fn extreme_views_and_pulses_from_a_root_member_never_panic_it() {
    let mut net = build(2, 2);
    net.run_until(1_100);
    for msg in [
        Message::ViewChange { view: u32::MAX, pulse: u64::MAX },
        Message::CoSign { pulse: u64::MAX, view: u32::MAX, digest: reference::crypto::Hash32([7; 32]) },
        Message::StateRequest { group: Prefix::ROOT },
    ] {
        for to in [0, 1] {
            let out = net.send_as(2, to, msg.clone());
            net.apply(to, out);
        }
    }
    // The watchdogs keep ticking past the last view without overflowing.
    net.crash(2);
    net.run_until(12_000);
}
