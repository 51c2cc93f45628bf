//! The engine: virtual time in integer ms, one event queue ordered by `(time, seq)`, and nodes
//! driven only through `reference::node::Node`'s `handle_*` inputs and `Output` values.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rand_chacha::ChaCha8Rng;

use reference::node::{
    Envelope, Message, MessageKind, Node, Output, SEQ_CLOCK_SHIFT, SharedVerifier, Timer, To,
};
use reference::{Id, Prefix};
use rustc_hash::FxHashMap;

use crate::adversary::{ByzantinePrimaries, DoubleSpenders};
use crate::arrivals::Arrivals;
use crate::checker::Checker;
use crate::election::ElectionLog;
use crate::faults;
use crate::heal::HealCheck;
use crate::impersonation::Impersonators;
use crate::metrics::{Count, Metrics};
use crate::network::{Route, VirtualNetwork};
use crate::queue::{EventQueue, TimingWheel};
use crate::rng::{self, Purpose};
use crate::scenario::{NodeIndex, Override, Scenario};
use crate::summary::{RunResult, Summary};
use crate::trace::{Ev, Trace};

mod errors;
mod governance;
mod observe;
mod schedule;
mod wire_check;
mod world;

use crate::checker::seal_history::SealHistory;
pub use errors::SimError;
pub(crate) use errors::replay_command;
use errors::violation_error;
pub use schedule::crashing_groups;
pub use wire_check::{Encoder, KindBytes, WireCheckCounts, WireFailure};
pub use world::{
    DriverWorld, Layout, check_group_tree, driver_world, ed25519_key_seed, governance_driver, leaf_groups,
    leaf_groups_exist,
};
use world::{World, partition_sides, signers};

/// The chief's node index. Clients are nodes `1..=clients`; the primaries of the leaf groups
/// (if the group tree has any, SPEC §6.1) follow them.
pub const BOOKKEEPER: NodeIndex = 0;

/// Bytes one pending event occupies in the queue: the event plus its sequence number.
pub const PENDING_EVENT_BYTES: usize = std::mem::size_of::<Event>() + std::mem::size_of::<u64>();

/// Bytes of engine state per node (the node itself, its status, its network stream, its
/// checker slot and its Id-index entry), not counting what a node allocates.
pub const NODE_BYTES: usize = std::mem::size_of::<Node>()
    + std::mem::size_of::<Status>()
    + std::mem::size_of::<ChaCha8Rng>()
    + std::mem::size_of::<u64>()
    + std::mem::size_of::<(Id, NodeIndex)>()
    + std::mem::size_of::<Id>();

#[derive(Debug)]
enum Event {
    Deliver {
        to: NodeIndex,
        from: NodeIndex,
        envelope: Rc<Envelope>,
        /// Forged by an impersonator (counted as refused or taken at delivery).
        forged: bool,
    },
    Timer {
        node: NodeIndex,
        incarnation: u32,
        timer: Timer,
    },
    Arrival,
    Crash {
        node: NodeIndex,
    },
    Restart {
        node: NodeIndex,
        durable: bool,
    },
    /// The `fault`-th declared primary crash reaches leaf group `group` (0-based, prefix
    /// order): the member acting as its primary then crashes — with terms and elections not
    /// necessarily the group's first primary.
    PrimaryCrash {
        fault: u32,
        group: u32,
    },
    /// ... and the member it crashed restarts.
    PrimaryRestart {
        fault: u32,
        group: u32,
        durable: bool,
    },
    PartitionStart {
        index: u32,
    },
    PartitionHeal {
        index: u32,
    },
    ChurnTick,
    Sample,
    /// The organization's users decide what to ask (D-041), once a pulse.
    GovTick,
}

/// The engine's facts about a node, kept apart from the node itself so that the hot loop's
/// checks touch a small dense array.
#[derive(Debug, Clone, Copy)]
struct Status {
    up: bool,
    incarnation: u32,
    drift_ppm: i64,
}

/// How a run ended: its results, and, if it stopped early, why and the events before.
#[derive(Debug)]
pub struct Outcome {
    /// What was measured (up to the stop, if it stopped).
    pub result: RunResult,
    /// Why it stopped before the end, if it did.
    pub stopped: Option<SimError>,
    /// The flight recorder's last events before the stop, as trace lines (empty if the run
    /// ended or the recorder was off).
    pub flight_recording: Vec<String>,
}

/// Options of one run besides the scenario.
#[derive(Default)]
#[allow(missing_debug_implementations)] // holds a `dyn Write`
pub struct RunOptions {
    /// Where to write trace lines, if anywhere.
    pub trace: Option<Box<dyn io::Write>>,
    /// Keep the last events in memory, for a run that stops early (`Outcome`).
    pub flight_recorder: bool,
    /// Encode, decode and compare every message before the network carries it (D-038).
    pub wire_check: bool,
    /// The encoder `wire_check` uses (a broken one in tests of the check).
    pub wire_encoder: Encoder,
    /// The scenario is one a run recorded (a trace header): swarm mode's choices are in it
    /// already and are not drawn again.
    pub swarm_expanded: bool,
    /// The scenario's file, for the replay command printed on a violation.
    pub source: Option<PathBuf>,
    /// Overrides applied to the file's scenario (`--set`, sweep points), for that command too.
    pub overrides: Vec<Override>,
    /// Deliberately broken ledger behaviour (tests of the checker only).
    #[cfg(feature = "fault-injection")]
    pub ledger_faults: Option<reference::ledger::LedgerFaults>,
    /// Deliberately broken client behaviour (tests of the checker only).
    #[cfg(feature = "fault-injection")]
    pub node_faults: Option<reference::node::NodeFaults>,
    /// Broken tallies at one root member, by node index (tests of I10 and of governance
    /// agreement only).
    #[cfg(feature = "fault-injection")]
    pub org_faults: Option<(NodeIndex, reference::org::OrgFaults)>,
    /// Envelope checks switched off at every node (tests of D-039's checks only).
    #[cfg(feature = "fault-injection")]
    pub envelope_faults: Option<reference::node::EnvelopeFaults>,
    /// Run without validating the scenario (tests that show the engine survives values
    /// validation would refuse).
    #[cfg(feature = "fault-injection")]
    pub skip_validation: bool,
    /// Add network delays with wrapping arithmetic (shows the engine's property test fails).
    #[cfg(feature = "fault-injection")]
    pub wrap_delays: bool,
}

/// One simulation run.
#[derive(Debug)]
pub struct Simulation {
    scenario: Scenario,
    seed: u64,
    swarm_choices: Vec<String>,
    source: Option<PathBuf>,
    overrides: Vec<Override>,
    nodes: Vec<Node>,
    status: Vec<Status>,
    ids: Vec<Id>,
    index_of: FxHashMap<Id, NodeIndex>,
    queue: TimingWheel<Event>,
    network: VirtualNetwork,
    partition_sides: Vec<Vec<bool>>,
    workload_rng: ChaCha8Rng,
    /// The transfer requests' arrival process (none at a rate of 0).
    arrivals: Option<Arrivals>,
    /// The churn crashes' arrival process (none without churn).
    churn: Option<Arrivals>,
    draws: crate::workload::Draws,
    churn_rng: ChaCha8Rng,
    issued_at_ms: Vec<u64>,
    /// When each request's payer started it (after waiting for its earlier transfers).
    started_at_ms: Vec<u64>,
    checker: Checker,
    double_spenders: Option<DoubleSpenders>,
    byzantine: Option<ByzantinePrimaries>,
    impersonators: Option<Box<Impersonators>>,
    /// While a forged envelope is handled: whether its receiver refused it for its signature.
    forgery_refused: Option<bool>,
    /// The member each declared primary crash crashed, by `(fault, group)`, for its restart.
    crashed_primaries: BTreeMap<(u32, u32), NodeIndex>,
    /// Elections over candidate pools, when the groups have standbys (D-035).
    elections: Option<Box<ElectionLog>>,
    /// The organization's users, when the scenario has one (D-041).
    governance: Option<Box<crate::governance::GovDriver>>,
    /// The root members' organizations at each sealed pulse (D-041).
    gov_agreement: governance::GovAgreement,
    /// Where the committee members are among the nodes.
    layout: Layout,
    /// Which seals are the groups' history, fed by node events (D-032, D-033).
    history: SealHistory,
    /// `--wire-check`'s counts, when it is on.
    wire_check: Option<WireCheckCounts>,
    wire_encoder: Encoder,
    /// The first messages each node received, when a caller keeps the world (`keep_world`).
    received: Option<Box<Received>>,
    metrics: Metrics,
    trace: Trace,
    scratch: Vec<Output>,
    now_ms: u64,
    events: u64,
    duplicate_outcomes: u64,
    /// Groups of the bookkeeper tree.
    groups: usize,
    /// From when L3 is checked: `heal_pulses_max` after the last fault stopped, if all do.
    heal_deadline_ms: Option<u64>,
    /// The chief's releases and the ts each node owes L3 (D-036).
    heal: HealCheck,
}

/// The sampler of a popularity over `clients`; none for a uniform choice.
/// The elections' log, where the pools have standbys.
fn election_log(scenario: &Scenario, seed: u64, layout: Layout) -> Option<Box<ElectionLog>> {
    (layout.standbys > 0).then(|| {
        let adversary = crate::election::forging_standbys(scenario, seed, layout);
        Box::new(ElectionLog::new(layout.standbys, adversary))
    })
}

/// The run's trace: written to the options' sink, or only hashed.
fn trace(scenario: &Scenario, seed: u64, nodes: usize, options: &mut RunOptions) -> Result<Trace, SimError> {
    let trace = match options.trace.take() {
        Some(sink) => Trace::to_writer(sink, seed, nodes as u64, &scenario.to_toml())?,
        None => Trace::hash_only(),
    };
    Ok(if options.flight_recorder { trace.with_flight_recorder() } else { trace })
}

/// When every group must be back in step: the last fault's end plus the healing allowance.
fn heal_deadline_ms(scenario: &Scenario) -> Option<u64> {
    let p = &scenario.parameters;
    scenario.faults_stop_ms().map(|stop| stop.saturating_add(p.heal_pulses_max.saturating_mul(p.pulse_ms)))
}

/// The first messages each node received (`run_keeping_world`).
#[derive(Debug)]
struct Received {
    keep: usize,
    by_node: Vec<Vec<(Id, Message)>>,
}

impl Received {
    fn keep(&mut self, to: NodeIndex, from: Id, msg: &Message) {
        let kept = &mut self.by_node[to as usize];
        if kept.len() < self.keep {
            kept.push((from, msg.clone()));
        }
    }
}

/// A world as a run left it (`Simulation::run_keeping_world`).
#[derive(Debug)]
pub struct KeptWorld {
    /// Every node, by index.
    pub nodes: Vec<Node>,
    /// Their Ids.
    pub ids: Vec<Id>,
    /// Where each role's nodes are.
    pub layout: Layout,
    /// The virtual time the run ended at.
    pub now_ms: u64,
    /// The first messages each node received, with their senders.
    pub received: Vec<Vec<(Id, Message)>>,
}

/// Marks a request whose outcome is known.
const FINISHED: u64 = u64::MAX;

impl Simulation {
    /// Set up a run of `scenario` (already validated) with `seed`.
    pub fn new(scenario: &Scenario, seed: u64, mut options: RunOptions) -> Result<Simulation, SimError> {
        let file = options.source.clone().unwrap_or_else(|| PathBuf::from(format!("{}.toml", scenario.name)));
        let (scenario, swarm_choices) = prepared(scenario, seed, &options, &file)?;
        let (signers, verifier) = signers(&scenario, seed);
        let world = World::build(&scenario, seed, signers);
        leaf_groups_exist(&scenario, seed, &file, world.layout.leaves)?;
        let ids: Vec<Id> = world.signers.iter().map(|s| s.id()).collect();
        let checker = genesis_checked(&scenario, seed, &options, &world, verifier.clone())?;
        let double_spenders = DoubleSpenders::new(&scenario, seed, &world.signers);
        let layout = world.layout;
        let byzantine = ByzantinePrimaries::new(&scenario, seed, layout);
        let impersonators = Impersonators::new(&scenario, seed, layout, &world.signers).map(Box::new);
        let elections = election_log(&scenario, seed, layout);
        let groups = world.roster.len();
        let governance =
            world::governance_driver(&scenario, seed, &ids, (&world.roster, layout)).map(Box::new);
        let gov_config = world::gov_config(governance.as_deref());
        let mut nodes = started_nodes(world, &scenario, verifier, &options, gov_config);
        world::hold_org_account(&mut nodes, governance.as_deref());
        let status = faults::clock_drifts_ppm(&scenario, seed, nodes.len())
            .into_iter()
            .map(|drift_ppm| Status { up: true, incarnation: 0, drift_ppm })
            .collect();
        let network = network(&scenario, seed, ids.len(), &options);
        let trace = trace(&scenario, seed, nodes.len(), &mut options)?;
        Ok(Simulation {
            index_of: index_of(&ids, governance.as_deref()),
            partition_sides: partition_sides(&scenario, &ids),
            network,
            workload_rng: rng::stream(seed, Purpose::Workload, 0),
            arrivals: None,
            churn: None,
            draws: crate::workload::Draws::new(&scenario),
            churn_rng: rng::stream(seed, Purpose::Faults, 0),
            queue: TimingWheel::new(),
            issued_at_ms: Vec::new(),
            started_at_ms: Vec::new(),
            metrics: Metrics::default(),
            scratch: Vec::new(),
            now_ms: 0,
            events: 0,
            duplicate_outcomes: 0,
            groups,
            heal_deadline_ms: heal_deadline_ms(&scenario),
            heal: HealCheck::new(scenario.network.latency_max_ms()),
            source: options.source,
            overrides: options.overrides,
            swarm_choices,
            seed,
            nodes,
            status,
            ids,
            checker,
            double_spenders,
            byzantine,
            impersonators,
            forgery_refused: None,
            elections,
            governance,
            gov_agreement: governance::GovAgreement::default(),
            crashed_primaries: BTreeMap::new(),
            layout,
            history: SealHistory::new(layout.backups > 0, layout.root_backups > 0),
            wire_check: options.wire_check.then(WireCheckCounts::default),
            wire_encoder: options.wire_encoder,
            received: None,
            trace,
            scenario,
        })
    }

    /// Groups of the bookkeeper tree, the root group included (each has one primary node).
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// What swarm mode chose for this run (empty when it is off).
    pub fn swarm_choices(&self) -> &[String] {
        &self.swarm_choices
    }

    /// Run to the end of the scenario. `progress` is called now and then with the virtual time.
    pub fn run(self, progress: impl FnMut(u64)) -> Result<RunResult, SimError> {
        let outcome = self.run_to_outcome(progress);
        match outcome.stopped {
            Some(error) => Err(error),
            None => Ok(outcome.result),
        }
    }

    /// Run to the end of the scenario, or until an invariant breaks or a limit is hit, and
    /// return what was measured either way: a run that stopped early has the report of what
    /// happened up to then (its summary says why it stopped) and, with the flight recorder on,
    /// the last events before it.
    pub fn run_to_outcome(mut self, mut progress: impl FnMut(u64)) -> Outcome {
        let mut stopped = self.run_loop(&mut progress).err();
        // A run that reached its end but could not write its trace's end line ended all the same.
        let end_ms = if stopped.is_some() { self.now_ms + 1 } else { self.scenario.duration_ms };
        if let Err(error) = self.trace.finish() {
            stopped.get_or_insert(SimError::Io(error));
        }
        let flight_recording = if stopped.is_some() { self.trace.flight_recording() } else { Vec::new() };
        let record = stopped.as_ref().map(|error| self.stop_record(error));
        self.now_ms = end_ms;
        let overrides = self.overrides.iter().map(Override::to_string).collect();
        let mut result = self.finish(end_ms);
        result.summary.stopped = record;
        result.summary.overrides = overrides;
        Outcome { result, stopped, flight_recording }
    }

    /// Run to the end and hand back the world as the run left it, with the first `keep`
    /// messages each node received: nodes with honest state, and what they are sent, for
    /// fuzzing `handle_message` (see [`crate::harness`]).
    pub fn run_keeping_world(mut self, keep: usize) -> Result<KeptWorld, SimError> {
        self.received = Some(Box::new(Received { keep, by_node: vec![Vec::new(); self.nodes.len()] }));
        self.run_loop(&mut |_| {})?;
        let received = self.received.take().map_or_else(Vec::new, |r| r.by_node);
        Ok(KeptWorld { nodes: self.nodes, ids: self.ids, layout: self.layout, now_ms: self.now_ms, received })
    }

    fn run_loop(&mut self, progress: &mut impl FnMut(u64)) -> Result<(), SimError> {
        self.schedule_start()?;
        let duration_ms = self.scenario.duration_ms;
        while let Some(scheduled) = self.queue.pop() {
            if scheduled.time_ms >= duration_ms {
                break;
            }
            self.now_ms = scheduled.time_ms;
            self.events += 1;
            self.check_limits()?;
            self.metrics.at(self.now_ms, self.scenario.parameters.pulse_ms).counts[Count::Events] += 1;
            self.prefetch_next_node();
            self.handle(scheduled.event)?;
            if self.events & 0xFFFF == 0 {
                progress(self.now_ms);
            }
        }
        Ok(())
    }

    /// Start loading the node of the next delivery while this event is handled: deliveries
    /// reach nodes in random order, so without this every pulse delivery waits for a cache miss.
    #[inline]
    fn prefetch_next_node(&self) {
        // Far enough ahead that the load completes before the event is handled: handling a
        // pulse delivery takes about as long as one cache miss.
        const AHEAD: usize = 4;
        if let Some(Event::Deliver { to, .. }) = self.queue.peek_draining(AHEAD) {
            prefetch(&self.nodes[*to as usize]);
            prefetch(&self.status[*to as usize]);
        }
    }

    fn check_limits(&self) -> Result<(), SimError> {
        let limits = &self.scenario.limits;
        let exceeded =
            |what, key, limit| SimError::Limit { what, key, limit, time_ms: self.now_ms, seed: self.seed };
        if self.events > limits.max_events {
            return Err(exceeded("events processed", "max_events", limits.max_events));
        }
        if self.queue.len() as u64 > limits.max_queue {
            return Err(exceeded("pending events", "max_queue", limits.max_queue));
        }
        Ok(())
    }

    // ----- events -------------------------------------------------------------------------

    fn handle(&mut self, event: Event) -> Result<(), SimError> {
        match event {
            Event::Deliver { to, from, envelope, forged } => self.deliver(to, from, &envelope, forged),
            Event::Timer { node, incarnation, timer } => self.fire_timer(node, incarnation, timer),
            Event::Arrival => self.arrival(),
            Event::Crash { node } => {
                self.crash(node)?;
                Ok(())
            }
            Event::Restart { node, durable } => self.restart(node, durable),
            Event::PrimaryCrash { fault, group } => self.crash_primary(fault, group),
            Event::PrimaryRestart { fault, group, durable } => {
                match self.crashed_primaries.get(&(fault, group)).copied() {
                    Some(node) => self.restart(node, durable),
                    None => Ok(()),
                }
            }
            Event::PartitionStart { index } => self.partition(index, true),
            Event::PartitionHeal { index } => self.partition(index, false),
            Event::ChurnTick => self.churn_tick(),
            Event::Sample => self.sample(),
            Event::GovTick => self.gov_tick(),
        }
    }

    fn deliver(
        &mut self,
        to: NodeIndex,
        from: NodeIndex,
        envelope: &Envelope,
        forged: bool,
    ) -> Result<(), SimError> {
        let msg = envelope.msg();
        let kind = msg.kind();
        self.trace.record(self.now_ms, Ev::Deliver, &[u64::from(from), u64::from(to), kind as u64])?;
        if !self.status[to as usize].up {
            self.metrics.delivered_to_down_node += 1;
            return Ok(());
        }
        if let Some(byzantine) = &mut self.byzantine
            && byzantine.censors(to, msg, |id| self.index_of.get(id).copied())
        {
            return Ok(());
        }
        let from_id = self.ids[from as usize];
        if let Some(received) = self.received.as_deref_mut() {
            received.keep(to, from_id, msg);
        }
        if forged {
            return self.deliver_forgery(to, envelope);
        }
        self.with_node(to, |node, now, out| node.handle_message(now, envelope, out))
    }

    /// Hand an impersonator's envelope to node `to` and count whether it was refused.
    #[cold]
    fn deliver_forgery(&mut self, to: NodeIndex, envelope: &Envelope) -> Result<(), SimError> {
        self.forgery_refused = Some(false);
        let result = self.with_node(to, |node, now, out| node.handle_message(now, envelope, out));
        let refused = self.forgery_refused.take() == Some(true);
        if let Some(impersonators) = self.impersonators.as_deref_mut() {
            impersonators.counts.delivered += 1;
            impersonators.counts.refused += u64::from(refused);
            impersonators.counts.taken += u64::from(!refused);
        }
        result
    }

    fn fire_timer(&mut self, node: NodeIndex, incarnation: u32, timer: Timer) -> Result<(), SimError> {
        let status = self.status[node as usize];
        if !status.up || status.incarnation != incarnation {
            self.metrics.stale_timers += 1;
            return Ok(());
        }
        let code = match timer {
            Timer::Pulse => 0,
            Timer::Retry { .. } => 1,
            Timer::GovRetry { .. } => 2,
            Timer::ProofRetry { .. } => 3,
        };
        self.trace.record(self.now_ms, Ev::Timer, &[u64::from(node), code])?;
        self.with_node(node, |n, now, out| n.handle_timer(now, timer, out))
    }

    // ----- driving a node -----------------------------------------------------------------

    /// Call `f` on node `index` with its local time, apply its outputs, then check invariants.
    fn with_node(
        &mut self,
        index: NodeIndex,
        f: impl FnOnce(&mut Node, u64, &mut Vec<Output>),
    ) -> Result<(), SimError> {
        let mut out = std::mem::take(&mut self.scratch);
        let local_ms = faults::local_ms(self.now_ms, self.status[index as usize].drift_ppm);
        f(&mut self.nodes[index as usize], local_ms, &mut out);
        let result = self.apply_outputs(index, &mut out);
        self.scratch = out;
        result?;
        self.check_node(index)
    }

    fn check_node(&mut self, index: NodeIndex) -> Result<(), SimError> {
        let node = &self.nodes[index as usize];
        let result = match node.ledger() {
            Some(ledger) => self.checker.after_bookkeeper_event(index as usize, ledger),
            None => Ok(()),
        };
        result
            .and_then(|()| self.checker.after_node_event(index as usize, self.held_root(index)))
            .and_then(|()| self.check_governance(index))
            .map_err(|v| self.violation(v))
    }

    /// `msg` sealed by node `from` for `to` at its local time (D-039).
    fn seal(&mut self, from: NodeIndex, to: To, msg: Message) -> Envelope {
        let local_ms = faults::local_ms(self.now_ms, self.status[from as usize].drift_ppm);
        self.nodes[from as usize].seal(local_ms, to, msg)
    }

    /// `envelope` as the wire carries it, under `--wire-check`; as it is, otherwise.
    fn over_the_wire(&mut self, envelope: Envelope) -> Result<Envelope, SimError> {
        let Some(check) = self.wire_check.as_mut() else { return Ok(envelope) };
        check.carry(envelope, &self.wire_encoder).map_err(|failure| SimError::Wire {
            kind: failure.kind.name(),
            what: failure.what,
            time_ms: self.now_ms,
            seed: self.seed,
        })
    }

    fn apply_outputs(&mut self, from: NodeIndex, out: &mut Vec<Output>) -> Result<(), SimError> {
        for output in out.drain(..) {
            match output {
                Output::Send { to, mut msg } => match self.index_of.get(&to) {
                    Some(&to) => {
                        let second =
                            self.byzantine.as_mut().and_then(|b| b.tamper(from, &mut msg, &self.layout));
                        let conflict =
                            self.double_spenders.as_mut().and_then(|d| d.conflict(from, &msg, &self.ids));
                        let forged =
                            self.impersonators.is_some().then(|| self.forge_report(from, to, &msg)).flatten();
                        self.send_one(from, to, msg)?;
                        if let Some(forged) = forged {
                            self.send_envelope(from, to, forged, true)?;
                        }
                        if let Some(second) = second {
                            self.send_one(from, to, second)?;
                        }
                        if let Some((payee, conflict)) = conflict {
                            let words = [u64::from(from), u64::from(payee)];
                            self.trace.record(self.now_ms, Ev::DoubleSpend, &words)?;
                            self.send_one(from, payee, conflict)?;
                        }
                    }
                    None => self.metrics.undeliverable += 1,
                },
                Output::Broadcast { msg } => {
                    if let Message::Pulse { root, .. } = &msg {
                        self.heal.released(self.now_ms, root.version);
                    }
                    let envelope = self.seal(from, To::Everyone, msg);
                    let envelope = self.over_the_wire(envelope)?;
                    let (kind, bytes) = (envelope.msg().kind(), envelope.frame_bytes());
                    let receivers = self.nodes.len() as u64 - 1;
                    self.metrics.messages(
                        self.now_ms,
                        self.scenario.parameters.pulse_ms,
                        kind,
                        bytes,
                        receivers,
                    );
                    let envelope = Rc::new(envelope);
                    self.broadcast(from, &envelope, bytes, false)?;
                    if self.impersonators.is_some() && kind == MessageKind::Pulse {
                        self.forge_pulses(from, &envelope)?;
                    }
                }
                Output::SetTimer { at_ms, timer } => {
                    let status = self.status[from as usize];
                    let at_ms = faults::virtual_ms(at_ms, status.drift_ppm).max(self.now_ms);
                    self.queue
                        .push(at_ms, Event::Timer { node: from, incarnation: status.incarnation, timer });
                }
                Output::Event(event) => self.node_event(from, event)?,
            }
        }
        Ok(())
    }

    /// Seal one message, count it and hand it to the network.
    fn send_one(&mut self, from: NodeIndex, to: NodeIndex, msg: Message) -> Result<(), SimError> {
        let envelope = self.seal(from, To::Node(self.ids[to as usize]), msg);
        self.send_envelope(from, to, envelope, false)
    }

    /// Count one sealed envelope and hand it to the network.
    fn send_envelope(
        &mut self,
        from: NodeIndex,
        to: NodeIndex,
        envelope: Envelope,
        forged: bool,
    ) -> Result<(), SimError> {
        let envelope = self.over_the_wire(envelope)?;
        let (kind, bytes) = (envelope.msg().kind(), envelope.frame_bytes());
        self.metrics.messages(self.now_ms, self.scenario.parameters.pulse_ms, kind, bytes, 1);
        self.send(from, to, &Rc::new(envelope), bytes, forged)
    }

    /// Hand one (already counted) envelope to every node but its sender.
    fn broadcast(
        &mut self,
        from: NodeIndex,
        envelope: &Rc<Envelope>,
        bytes: usize,
        forged: bool,
    ) -> Result<(), SimError> {
        for to in 0..self.nodes.len() as NodeIndex {
            if to != from {
                self.send(from, to, envelope, bytes, forged)?;
            }
        }
        Ok(())
    }

    /// A forged report for the victim of impersonator `from`, if `msg` is `from`'s own report.
    #[cold]
    fn forge_report(&mut self, from: NodeIndex, to: NodeIndex, msg: &Message) -> Option<Envelope> {
        let local_ms = faults::local_ms(self.now_ms, self.status[from as usize].drift_ppm);
        // Between this millisecond's sequence numbers and the next's: fresh at the receiver,
        // so that only the signature check stands in the way.
        let seq = (local_ms << SEQ_CLOCK_SHIFT) + (1 << (SEQ_CLOCK_SHIFT - 1));
        let nodes = &self.nodes;
        let key_of = |index: NodeIndex| nodes[index as usize].signer().public_key();
        let impersonators = self.impersonators.as_deref_mut()?;
        impersonators.forge_report(from, self.ids[to as usize], msg, seq, key_of)
    }

    /// Every running impersonator broadcasts a forged copy of the chief's pulse `real`.
    #[cold]
    fn forge_pulses(&mut self, chief: NodeIndex, real: &Envelope) -> Result<(), SimError> {
        let Some(impersonators) = self.impersonators.as_deref_mut() else { return Ok(()) };
        let by: Vec<NodeIndex> = impersonators.indices().collect();
        for by in by {
            if by == chief || !self.status[by as usize].up {
                continue;
            }
            let Some(forged) = self.impersonators.as_deref_mut().and_then(|i| i.forge_pulse(by, real)) else {
                continue;
            };
            let forged = self.over_the_wire(forged)?;
            let (kind, bytes) = (forged.msg().kind(), forged.frame_bytes());
            let receivers = self.nodes.len() as u64 - 1;
            self.metrics.messages(self.now_ms, self.scenario.parameters.pulse_ms, kind, bytes, receivers);
            self.broadcast(by, &Rc::new(forged), bytes, true)?;
        }
        Ok(())
    }

    /// Hand one (already counted) message to the network and schedule its deliveries.
    #[inline]
    fn send(
        &mut self,
        from: NodeIndex,
        to: NodeIndex,
        envelope: &Rc<Envelope>,
        bytes: usize,
        forged: bool,
    ) -> Result<(), SimError> {
        let route = self.network.route(self.now_ms, from, to, bytes);
        if route.is_eventful() {
            self.count_route(&route, from, to)?;
        }
        for at_ms in route.deliveries.into_iter().flatten() {
            self.queue.push(at_ms, Event::Deliver { to, from, envelope: Rc::clone(envelope), forged });
        }
        Ok(())
    }

    #[cold]
    fn count_route(&mut self, route: &Route, from: NodeIndex, to: NodeIndex) -> Result<(), SimError> {
        self.metrics.slow_link_wait_ms += route.queued_ms;
        let acc = self.metrics.at(self.now_ms, self.scenario.parameters.pulse_ms);
        acc.counts[Count::Dropped] += u64::from(route.dropped);
        acc.counts[Count::Partitioned] += u64::from(route.partitioned);
        acc.counts[Count::Duplicated] += u64::from(route.duplicated);
        acc.counts[Count::Reordered] += u64::from(route.reordered);
        if route.dropped || route.partitioned {
            let words = [u64::from(from), u64::from(to), u64::from(route.dropped)];
            self.trace.record(self.now_ms, Ev::Lost, &words)?;
        }
        Ok(())
    }

    /// The node index of `id` (`u64::MAX` for an Id that is no node of the run).
    fn index(&self, id: &Id) -> u64 {
        self.index_of.get(id).map_or(u64::MAX, |i| u64::from(*i))
    }

    fn finish(self, end_ms: u64) -> RunResult {
        // The chief acting at the end: node 0 unless it failed over (D-033).
        let chief = self.history.acting(&Prefix::ROOT).unwrap_or(BOOKKEEPER);
        let final_version =
            self.nodes[chief as usize].arbiter().expect("a root member has an arbiter").version();
        let unsettled_halves = self.checker.unsettled_halves() as u64;
        let (bad_proofs, equivocations) = (self.metrics.bad_proofs, self.metrics.equivocations_detected);
        let mut metrics = self.metrics;
        metrics.committees.backups = self.layout.backups as u64;
        metrics.committees.root_backups = self.layout.root_backups as u64;
        if let Some(byzantine) = &self.byzantine {
            metrics.committees.colluding_backup_seats = byzantine.colluding_seats(&self.layout);
            metrics.committees.forged_attestations = byzantine.forged_attestations;
        }
        Summary::build(crate::summary::Finished {
            scenario: &self.scenario,
            end_ms,
            seed: self.seed,
            swarm_choices: self.swarm_choices,
            metrics,
            events: self.events,
            checks: self.checker.checks,
            trace_hash: self.trace.hash().to_hex(),
            final_version,
            groups: self.groups as u64,
            nodes: self.nodes.len() as u64,
            wire_check: self.wire_check,
            unsettled_halves,
            duplicate_outcomes: self.duplicate_outcomes,
            adversaries: crate::summary::AdversaryCounts {
                double_spenders: self.double_spenders.as_ref().map_or(0, DoubleSpenders::count),
                double_spend_attempts: self.double_spenders.as_ref().map_or(0, |d| d.attempts),
                conflicting_transfers_applied: self
                    .double_spenders
                    .as_ref()
                    .map_or(0, |d| d.conflicts_applied),
                byzantine_seats: self.byzantine.as_ref().map_or(0, |b| b.seats(&self.layout)),
                censored_submissions: self.byzantine.as_ref().map_or(0, |b| b.censored_submissions),
                forged_reports: self.byzantine.as_ref().map_or(0, |b| b.forged_reports),
                equivocating_reports: self.byzantine.as_ref().map_or(0, |b| b.equivocating_reports),
                equivocations_detected: equivocations,
                bad_proofs_detected: bad_proofs,
            },
            max_drift_ppm: self.status.iter().map(|s| s.drift_ppm.abs()).max().unwrap_or(0),
            elections: self.elections.as_ref().map(|log| log.finish()),
            governance: self.governance.map(|g| g.finish()),
            impersonation: self.impersonators.map(|i| i.counts),
        })
    }
}

/// The scenario as this run runs it: validated (unless a test skips it), with its seed, and
/// swarm mode's choices drawn unless the scenario comes from a trace that holds them.
fn prepared(
    scenario: &Scenario,
    seed: u64,
    options: &RunOptions,
    file: &Path,
) -> Result<(Scenario, Vec<String>), SimError> {
    #[cfg(feature = "fault-injection")]
    let validate = !options.skip_validation;
    #[cfg(not(feature = "fault-injection"))]
    let validate = true;
    if validate {
        scenario.validate(file)?;
    }
    let mut scenario = scenario.clone();
    scenario.seed = seed;
    let swarm_choices =
        if options.swarm_expanded { Vec::new() } else { faults::expand_swarm(&mut scenario, seed) };
    Ok((scenario, swarm_choices))
}

/// The checker, with the genesis root checked.
fn genesis_checked(
    scenario: &Scenario,
    seed: u64,
    options: &RunOptions,
    world: &World,
    verifier: SharedVerifier,
) -> Result<Checker, SimError> {
    let mut checker = Checker::new(world.signers.len(), scenario.parameters.genesis_supply, verifier)
        .with_deposit(scenario.parameters.bookkeeper_deposit);
    checker.after_root(world.genesis.arbiter.root()).map_err(|v| {
        let replay = replay_command(scenario, seed, options.source.as_ref(), &options.overrides);
        violation_error(v, 0, seed, replay)
    })?;
    Ok(checker)
}

/// The world's nodes, with the test-only faults a run asks for.
#[allow(unused_variables)] // `options` is read only with fault injection
fn started_nodes(
    world: World,
    scenario: &Scenario,
    verifier: SharedVerifier,
    options: &RunOptions,
    governance: reference::node::governance::GovConfig,
) -> Vec<Node> {
    #[allow(unused_mut)] // mutated only with fault injection
    let mut nodes = world.into_nodes(scenario, verifier, governance);
    #[cfg(feature = "fault-injection")]
    for node in &mut nodes {
        if let Some(faults) = options.node_faults {
            node.inject_faults(faults);
        }
        if let Some(faults) = options.ledger_faults {
            node.inject_ledger_faults(faults);
        }
        if let Some(faults) = options.envelope_faults {
            node.inject_envelope_faults(faults);
        }
    }
    #[cfg(feature = "fault-injection")]
    if let Some((node, faults)) = options.org_faults {
        nodes[node as usize].inject_org_faults(faults);
    }
    nodes
}

/// Each node's index by its Id, and the organization's account by its holder's (D-046).
fn index_of(ids: &[Id], governance: Option<&crate::governance::GovDriver>) -> FxHashMap<Id, NodeIndex> {
    let mut index_of: FxHashMap<Id, NodeIndex> =
        ids.iter().enumerate().map(|(i, id)| (*id, i as NodeIndex)).collect();
    if let Some(driver) = governance {
        index_of.insert(driver.org(), driver.holder());
    }
    index_of
}

/// The virtual network between `nodes` nodes.
#[allow(unused_variables)] // `options` is read only with fault injection
fn network(scenario: &Scenario, seed: u64, nodes: usize, options: &RunOptions) -> VirtualNetwork {
    #[allow(unused_mut)] // set only with fault injection
    let mut network = VirtualNetwork::new(scenario, seed, nodes);
    #[cfg(feature = "fault-injection")]
    {
        network.wrap_delays = options.wrap_delays;
    }
    network
}

/// Hint the CPU to load the cache lines of `value` (at most its first 192 bytes).
#[inline]
#[allow(unsafe_code)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = (value as *const T).cast::<i8>();
        for offset in (0..std::mem::size_of::<T>().min(192)).step_by(64) {
            // SAFETY: a prefetch is only a hint: it never faults and has no effect on program
            // state, whatever the address; `wrapping_add` keeps the pointer arithmetic defined
            // even if `T` is smaller than the offset. SSE is part of the x86_64 baseline.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
