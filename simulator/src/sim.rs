//! The engine: virtual time in integer ms, one event queue ordered by `(time, seq)`, and nodes
//! driven only through `reference::node::Node`'s `handle_*` inputs and `Output` values.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

use reference::consensus::groups::GroupTree;
use reference::crypto::{Ed25519Signer, Ed25519Verifier, SimScheme};
use reference::invariants::Violation;
use reference::node::{
    Command, Genesis, Message, Node, NodeConfig, NodeEvent, Output, Roster, SharedSigner, SharedVerifier,
    Timer,
};
use reference::{Id, Prefix};
use rustc_hash::FxHashMap;
use thiserror::Error;

use crate::adversary::{ByzantinePrimaries, DoubleSpenders};
use crate::arrivals::Arrivals;
use crate::checker::{Checker, Seal};
use crate::election::ElectionLog;
use crate::faults;
use crate::heal::HealCheck;
use crate::metrics::{Count, FaultKind, Metrics};
use crate::network::{self, Route, VirtualNetwork};
use crate::queue::{EventQueue, TimingWheel};
use crate::rng::{self, Purpose, Zipf};
use crate::scenario::{Amount, NodeIndex, Override, Popularity, Scenario, ScenarioError};
use crate::summary::{RunResult, StopKind, Stopped, Summary};
use crate::trace::{Ev, Trace};

/// The chief's node index. Clients are nodes `1..=clients`; the primaries of the leaf groups
/// (if the group tree has any, SPEC §6.1) follow them.
pub const BOOKKEEPER: NodeIndex = 0;

/// Why a run stopped early.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SimError {
    /// An invariant broke. The message carries everything needed to reproduce it.
    #[error("invariant {code} violated at {time_ms} ms (seed {seed}): {violation}\n  replay with: {replay}")]
    Violation {
        /// The SPEC code, e.g. `I5`.
        code: &'static str,
        /// What broke.
        violation: Violation,
        /// Virtual time of the event after which it was found.
        time_ms: u64,
        /// The run's seed.
        seed: u64,
        /// A command that replays the run.
        replay: String,
    },
    /// A bound of `[limits]` was exceeded.
    #[error(
        "limit exceeded at {time_ms} ms (seed {seed}): {what} > {limit}; raise limits.{key} if this is expected"
    )]
    Limit {
        /// What grew too large.
        what: &'static str,
        /// The scenario key that sets the bound.
        key: &'static str,
        /// The bound.
        limit: u64,
        /// Virtual time.
        time_ms: u64,
        /// The run's seed.
        seed: u64,
    },
    /// Writing the trace failed.
    #[error("writing the trace failed: {0}")]
    Io(#[from] io::Error),
    /// The scenario cannot be run: it is invalid, or the group tree its seed makes has no room
    /// for what it asks (leaf committees, primary crashes or Byzantine primaries without leaf
    /// groups).
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
}

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
        msg: Rc<Message>,
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
    payer_zipf: Option<Zipf>,
    payee_zipf: Option<Zipf>,
    churn_rng: ChaCha8Rng,
    issued_at_ms: Vec<u64>,
    /// When each request's payer started it (after waiting for its earlier transfers).
    started_at_ms: Vec<u64>,
    checker: Checker,
    double_spenders: Option<DoubleSpenders>,
    byzantine: Option<ByzantinePrimaries>,
    /// The member each declared primary crash crashed, by `(fault, group)`, for its restart.
    crashed_primaries: BTreeMap<(u32, u32), NodeIndex>,
    /// Elections over candidate pools, when the groups have standbys (D-035).
    elections: Option<Box<ElectionLog>>,
    /// Where the committee members are among the nodes.
    layout: Layout,
    /// Groups with a committee: seals not yet checked, waiting for the chief to take them.
    tentative: BTreeMap<Prefix, Vec<OwnedSeal>>,
    /// Groups with a committee that failed over: the member acting now.
    acting_node: BTreeMap<Prefix, NodeIndex>,
    /// Groups with a committee: for each member, whose seal each cycle its state holds is
    /// (its own, or the one it replayed), from the last taken pulse on — so that a failover's
    /// successor decides which tentative seals are history (D-032).
    histories: BTreeMap<Prefix, BTreeMap<NodeIndex, BTreeMap<u64, NodeIndex>>>,
    /// The latest pulse of the chief's own seal and of a root seen (root committees only).
    root_seen: (u64, u64),
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

/// Marks a request whose outcome is known.
const FINISHED: u64 = u64::MAX;

impl Simulation {
    /// Set up a run of `scenario` (already validated) with `seed`.
    pub fn new(scenario: &Scenario, seed: u64, options: RunOptions) -> Result<Simulation, SimError> {
        let file = options.source.clone().unwrap_or_else(|| PathBuf::from(format!("{}.toml", scenario.name)));
        #[cfg(feature = "fault-injection")]
        let validate = !options.skip_validation;
        #[cfg(not(feature = "fault-injection"))]
        let validate = true;
        if validate {
            scenario.validate(&file)?;
        }
        let mut scenario = scenario.clone();
        scenario.seed = seed;
        let swarm_choices =
            if options.swarm_expanded { Vec::new() } else { faults::expand_swarm(&mut scenario, seed) };
        let (signers, verifier) = signers(&scenario, seed);
        let world = World::build(&scenario, seed, signers);
        leaf_groups_exist(&scenario, seed, &file, world.layout.leaves)?;
        let ids: Vec<Id> = world.signers.iter().map(|s| s.id()).collect();
        let mut checker = Checker::new(ids.len(), scenario.parameters.genesis_supply, verifier.clone())
            .with_deposit(scenario.parameters.bookkeeper_deposit);
        checker.after_root(world.genesis.arbiter.root()).map_err(|v| {
            let replay = replay_command(&scenario, seed, options.source.as_ref(), &options.overrides);
            violation_error(v, 0, seed, replay)
        })?;
        let double_spenders = DoubleSpenders::new(&scenario, seed, &world.signers);
        let layout = world.layout;
        let byzantine = ByzantinePrimaries::new(&scenario, seed, layout);
        let elections = (layout.standbys > 0).then(|| {
            let adversary = crate::election::forging_standbys(&scenario, seed, layout);
            Box::new(ElectionLog::new(layout.standbys, adversary))
        });
        let groups = world.roster.len();
        #[allow(unused_mut)] // mutated only with fault injection
        let mut nodes = world.into_nodes(&scenario, verifier);
        #[cfg(feature = "fault-injection")]
        for node in &mut nodes {
            if let Some(faults) = options.node_faults {
                node.inject_faults(faults);
            }
            if let Some(faults) = options.ledger_faults {
                node.inject_ledger_faults(faults);
            }
        }
        let status = faults::clock_drifts_ppm(&scenario, seed, nodes.len())
            .into_iter()
            .map(|drift_ppm| Status { up: true, incarnation: 0, drift_ppm })
            .collect();
        let trace = match options.trace {
            Some(sink) => Trace::to_writer(sink, seed, nodes.len() as u64, &scenario.to_toml())?,
            None => Trace::hash_only(),
        };
        let trace = if options.flight_recorder { trace.with_flight_recorder() } else { trace };
        let clients = scenario.nodes.clients as usize;
        let p = &scenario.parameters;
        let heal_deadline_ms = scenario
            .faults_stop_ms()
            .map(|stop| stop.saturating_add(p.heal_pulses_max.saturating_mul(p.pulse_ms)));
        let zipf = |p: &Popularity| match *p {
            Popularity::Uniform => None,
            Popularity::Zipf { exponent } => Some(Zipf::new(clients, exponent)),
        };
        Ok(Simulation {
            index_of: ids.iter().enumerate().map(|(i, id)| (*id, i as NodeIndex)).collect(),
            partition_sides: partition_sides(&scenario, &ids),
            network: {
                #[allow(unused_mut)] // set only with fault injection
                let mut network = VirtualNetwork::new(&scenario, seed, ids.len());
                #[cfg(feature = "fault-injection")]
                {
                    network.wrap_delays = options.wrap_delays;
                }
                network
            },
            workload_rng: rng::stream(seed, Purpose::Workload, 0),
            arrivals: None,
            churn: None,
            payer_zipf: zipf(&scenario.workload.payer),
            payee_zipf: zipf(&scenario.workload.payee),
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
            heal_deadline_ms,
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
            elections,
            crashed_primaries: BTreeMap::new(),
            layout,
            tentative: BTreeMap::new(),
            acting_node: BTreeMap::new(),
            histories: BTreeMap::new(),
            root_seen: (0, 0),
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

    /// What the summary says of why a run stopped.
    fn stop_record(&self, error: &SimError) -> Stopped {
        let replay = || replay_command(&self.scenario, self.seed, self.source.as_ref(), &self.overrides);
        let (kind, invariant, replay) = match error {
            SimError::Violation { code, replay, .. } => {
                (StopKind::Invariant, Some(code.to_string()), replay.clone())
            }
            SimError::Limit { .. } => (StopKind::Limit, None, replay()),
            _ => (StopKind::Error, None, replay()),
        };
        Stopped { kind, at_ms: self.now_ms, invariant, reason: error.to_string(), replay }
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

    // ----- scheduling the run -------------------------------------------------------------

    fn schedule_start(&mut self) -> Result<(), SimError> {
        for index in 0..self.nodes.len() {
            let mut out = std::mem::take(&mut self.scratch);
            self.nodes[index].start(faults::local_ms(0, self.status[index].drift_ppm), &mut out);
            self.apply_outputs(index as NodeIndex, &mut out)?;
            self.scratch = out;
        }
        let workload = &self.scenario.workload;
        self.arrivals = Arrivals::new(workload.transfers_per_s, workload.start_ms, &mut self.workload_rng);
        if let Some(first_ms) = self.arrivals.as_ref().map(Arrivals::next_ms)
            && first_ms < self.scenario.workload_stop_ms()
        {
            self.queue.push(first_ms, Event::Arrival);
        }
        self.schedule_declared_faults();
        self.queue.push(self.scenario.parameters.pulse_ms.saturating_sub(1), Event::Sample);
        Ok(())
    }

    fn schedule_declared_faults(&mut self) {
        let faults = self.scenario.faults.clone();
        for (index, partition) in faults.partitions.iter().enumerate() {
            self.queue.push(partition.at_ms, Event::PartitionStart { index: index as u32 });
            if let Some(heal_ms) = partition.heal_at_ms {
                self.queue.push(heal_ms, Event::PartitionHeal { index: index as u32 });
            }
        }
        for crash in &faults.crashes {
            for node in crash.nodes.resolve(self.scenario.nodes.clients).expect("validated") {
                self.queue.push(crash.at_ms, Event::Crash { node });
                if let Some(restart_ms) = crash.restart_at_ms {
                    self.queue.push(restart_ms, Event::Restart { node, durable: crash.durable });
                }
            }
        }
        for (index, crash) in faults.primary_crashes.iter().enumerate() {
            let fault = index as u32;
            for group in self.crashing_groups(index as u64, crash.groups) {
                self.queue.push(crash.at_ms, Event::PrimaryCrash { fault, group });
                if let Some(restart_ms) = crash.restart_at_ms {
                    self.queue
                        .push(restart_ms, Event::PrimaryRestart { fault, group, durable: crash.durable });
                }
            }
        }
        if let Some(churn) = &faults.churn {
            self.churn = Arrivals::new(churn.crashes_per_min / 60.0, 0, &mut self.churn_rng);
            if let Some(first_ms) = self.churn.as_ref().map(Arrivals::next_ms) {
                self.queue.push(first_ms, Event::ChurnTick);
            }
        }
    }

    /// `fraction` of the leaf groups (0-based, prefix order), drawn with the fault stream of
    /// the `index`-th declared primary crash; at least one if `fraction > 0`.
    fn crashing_groups(&self, index: u64, fraction: f64) -> Vec<u32> {
        let leaves = self.layout.leaves;
        let count =
            ((fraction * leaves as f64).round() as usize).max(usize::from(fraction > 0.0)).min(leaves);
        let mut rng = rng::stream(self.seed, Purpose::Faults, 1 + index);
        let mut order: Vec<usize> = (0..leaves).collect();
        rng::shuffle(&mut order, &mut rng);
        order.into_iter().take(count).map(|g| g as u32).collect()
    }

    /// Crash the member acting as leaf group `group`'s primary, as the acting chief knows it.
    fn crash_primary(&mut self, fault: u32, group: u32) -> Result<(), SimError> {
        let chief = self.acting_node.get(&Prefix::ROOT).copied().unwrap_or(BOOKKEEPER) as usize;
        let first = self.layout.first_primary + group as usize;
        let acting = self.nodes[first].group().and_then(|prefix| self.nodes[chief].view_of(&prefix));
        let node = acting.and_then(|(_, id)| self.index_of.get(&id).copied()).unwrap_or(first as NodeIndex);
        self.crashed_primaries.insert((fault, group), node);
        self.crash(node)?;
        Ok(())
    }

    // ----- events -------------------------------------------------------------------------

    fn handle(&mut self, event: Event) -> Result<(), SimError> {
        match event {
            Event::Deliver { to, from, msg } => self.deliver(to, from, &msg),
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
        }
    }

    fn deliver(&mut self, to: NodeIndex, from: NodeIndex, msg: &Message) -> Result<(), SimError> {
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
        self.with_node(to, |node, now, out| node.handle_message(now, from_id, msg, out))
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
        };
        self.trace.record(self.now_ms, Ev::Timer, &[u64::from(node), code])?;
        self.with_node(node, |n, now, out| n.handle_timer(now, timer, out))
    }

    fn arrival(&mut self) -> Result<(), SimError> {
        let (payer, payee, amount) = self.draw_transfer();
        let tag = self.issued_at_ms.len() as u64;
        self.issued_at_ms.push(self.now_ms);
        self.started_at_ms.push(self.now_ms);
        self.metrics.outstanding += 1;
        self.metrics.at(self.now_ms, self.scenario.parameters.pulse_ms).counts[Count::Issued] += 1;
        self.trace.record(self.now_ms, Ev::Request, &[tag, u64::from(payer), u64::from(payee), amount])?;
        let next_ms = self.arrivals.as_mut().map(|a| a.advance(&mut self.workload_rng));
        if let Some(next_ms) = next_ms
            && next_ms < self.scenario.workload_stop_ms()
        {
            self.queue.push(next_ms, Event::Arrival);
        }
        if !self.status[payer as usize].up {
            self.finish_request(tag, Count::Lost, None);
            return Ok(());
        }
        let command = Command::Transfer { to: self.ids[payee as usize], amount, tag };
        self.with_node(payer, |node, now, out| node.handle_command(now, command, out))
    }

    fn draw_transfer(&mut self) -> (NodeIndex, NodeIndex, u64) {
        let clients = u64::from(self.scenario.nodes.clients);
        let rng = &mut self.workload_rng;
        let pick = |zipf: &Option<Zipf>, rng: &mut ChaCha8Rng| match zipf {
            Some(zipf) => zipf.sample(rng) as u64,
            None => rng::between(rng, 0, clients - 1),
        };
        let payer = pick(&self.payer_zipf, rng);
        let mut payee = pick(&self.payee_zipf, rng);
        if payee == payer {
            payee = (payee + 1) % clients; // one draw per choice keeps the stream aligned
        }
        let amount = match self.scenario.workload.amount {
            Amount::Fixed { value } => value,
            Amount::Uniform { min, max } => rng::between(rng, min, max),
        };
        (payer as NodeIndex + 1, payee as NodeIndex + 1, amount)
    }

    fn crash(&mut self, node: NodeIndex) -> Result<bool, SimError> {
        let status = &mut self.status[node as usize];
        if !status.up {
            return Ok(false);
        }
        status.up = false;
        status.incarnation += 1; // timers set before the crash never fire
        self.metrics.at(self.now_ms, self.scenario.parameters.pulse_ms).counts[Count::Crashes] += 1;
        self.metrics.mark(self.now_ms, FaultKind::Crash, u64::from(node));
        self.trace.record(self.now_ms, Ev::Crash, &[u64::from(node)])?;
        Ok(true)
    }

    fn restart(&mut self, node: NodeIndex, durable: bool) -> Result<(), SimError> {
        if self.status[node as usize].up {
            return Ok(());
        }
        self.status[node as usize].up = true;
        self.metrics.at(self.now_ms, self.scenario.parameters.pulse_ms).counts[Count::Restarts] += 1;
        self.metrics.mark(self.now_ms, FaultKind::Restart, u64::from(node));
        self.trace.record(self.now_ms, Ev::Restart, &[u64::from(node), u64::from(durable)])?;
        self.with_node(node, |n, now, out| n.restart(now, durable, out))
    }

    fn partition(&mut self, index: u32, start: bool) -> Result<(), SimError> {
        let kind = if start { Ev::Partition } else { Ev::Heal };
        self.trace.record(self.now_ms, kind, &[u64::from(index)])?;
        let kind = if start { FaultKind::PartitionStart } else { FaultKind::PartitionHeal };
        self.metrics.mark(self.now_ms, kind, u64::from(index));
        if start {
            self.network.partition(index as usize, self.partition_sides[index as usize].clone());
            self.metrics.partitions_started += 1;
        } else {
            self.network.heal(index as usize);
            self.metrics.partitions_healed += 1;
        }
        Ok(())
    }

    fn churn_tick(&mut self) -> Result<(), SimError> {
        let churn = self.scenario.faults.churn.clone().expect("churn ticks are scheduled only with churn");
        let clients = u64::from(self.scenario.nodes.clients);
        let node = rng::between(&mut self.churn_rng, 1, clients) as NodeIndex;
        let down_ms = rng::between(&mut self.churn_rng, churn.down_min_ms, churn.down_max_ms);
        let next_ms = self.churn.as_mut().map(|c| c.advance(&mut self.churn_rng));
        if self.crash(node)? {
            let restart_ms = self.now_ms.saturating_add(down_ms.max(1));
            self.queue.push(restart_ms, Event::Restart { node, durable: churn.durable });
        }
        if let Some(next_ms) = next_ms {
            self.queue.push(next_ms, Event::ChurnTick);
        }
        Ok(())
    }

    fn sample(&mut self) -> Result<(), SimError> {
        let pulse_ms = self.scenario.parameters.pulse_ms;
        if self.heal_deadline_ms.is_some_and(|deadline| self.now_ms >= deadline) {
            self.check_healed()?;
        }
        self.metrics.sample(self.now_ms, pulse_ms, self.network.partitions_in_force());
        self.queue.push(self.now_ms.saturating_add(pulse_ms), Event::Sample);
        Ok(())
    }

    /// L3: every node that is up holds the ts the chief released a delay bound or more ago
    /// (D-036). Checked at the end of each pulse once `heal_pulses_max` pulses have passed since
    /// the last fault stopped.
    fn check_healed(&mut self) -> Result<(), SimError> {
        let held = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| self.status[*i].up)
            .filter_map(|(i, node)| node.root().map(|root| (i, root.version)));
        self.checker.checks += 1;
        self.heal.check(self.now_ms, held).map_err(|v| self.violation(v))
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
            .map_err(|v| self.violation(v))
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
                        self.send_one(from, to, msg)?;
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
                    let (kind, bytes) = (msg.kind(), msg.wire_bytes());
                    let receivers = self.nodes.len() as u64 - 1;
                    self.metrics.messages(
                        self.now_ms,
                        self.scenario.parameters.pulse_ms,
                        kind,
                        bytes,
                        receivers,
                    );
                    let msg = Rc::new(msg);
                    for to in 0..self.nodes.len() as NodeIndex {
                        if to != from {
                            self.send(from, to, &msg, bytes)?;
                        }
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

    /// Count one message and hand it to the network.
    fn send_one(&mut self, from: NodeIndex, to: NodeIndex, msg: Message) -> Result<(), SimError> {
        let (kind, bytes) = (msg.kind(), msg.wire_bytes());
        self.metrics.messages(self.now_ms, self.scenario.parameters.pulse_ms, kind, bytes, 1);
        self.send(from, to, &Rc::new(msg), bytes)
    }

    /// Hand one (already counted) message to the network and schedule its deliveries.
    #[inline]
    fn send(
        &mut self,
        from: NodeIndex,
        to: NodeIndex,
        msg: &Rc<Message>,
        bytes: usize,
    ) -> Result<(), SimError> {
        let route = self.network.route(self.now_ms, from, to, bytes);
        if route.is_eventful() {
            self.count_route(&route, from, to)?;
        }
        for at_ms in route.deliveries.into_iter().flatten() {
            self.queue.push(at_ms, Event::Deliver { to, from, msg: Rc::clone(msg) });
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

    fn node_event(&mut self, node: NodeIndex, event: NodeEvent) -> Result<(), SimError> {
        if self.layout.root_backups > 0 && self.released_twice(&event) {
            return Ok(());
        }
        match event {
            NodeEvent::Sealed { pulse, group, version, applied, debits, credited, settled } => {
                self.metrics.seals += 1;
                self.trace.record(self.now_ms, Ev::Sealed, &[pulse, version, applied.len() as u64])?;
                if !applied.is_empty() {
                    self.metrics.versions += 1;
                }
                if let Some(double_spenders) = &mut self.double_spenders {
                    double_spenders.observe_sealed(&applied);
                }
                let seal = OwnedSeal { node, pulse, group, applied, debits, credited, settled };
                self.observe_seal(seal)?;
            }
            NodeEvent::TookOver { group, pulse, view } if group == Prefix::ROOT => {
                self.acting_node.insert(group, node);
                self.metrics.committees.chief_failovers += 1;
                self.trace.record(
                    self.now_ms,
                    Ev::ChiefFailover,
                    &[pulse, u64::from(view), u64::from(node)],
                )?;
            }
            NodeEvent::VotedViewChange { view, pulse } => {
                self.metrics.committees.view_change_votes += 1;
                self.trace.record(
                    self.now_ms,
                    Ev::ViewChangeVote,
                    &[u64::from(view), pulse, u64::from(node)],
                )?;
            }
            // Which seals are the group's history is decided when the chief takes a report, by
            // the history of the member that sent it (D-032).
            NodeEvent::TookOver { group, .. } => {
                self.acting_node.insert(group, node);
            }
            NodeEvent::Replayed { group, pulse, from } => {
                let from = self.index_of.get(&from).copied().unwrap_or(node);
                let members = self.histories.entry(group).or_default();
                let sealer = members.get(&from).and_then(|h| h.get(&pulse)).copied().unwrap_or(from);
                members.entry(node).or_default().insert(pulse, sealer);
            }
            NodeEvent::RootBuilt { pulse, root, clears_in_transit } => {
                self.metrics.roots += 1;
                self.metrics.roots_with_clears_in_transit += u64::from(clears_in_transit > 0);
                self.trace.record(self.now_ms, Ev::Root, &[pulse, root.version])?;
                self.checker.after_root(root).map_err(|v| self.violation(v))?;
            }

            NodeEvent::Committed { tag, version } => {
                self.trace_outcome(Ev::Committed, node, tag, version)?;
                let issued_ms = self.issued_at_ms.get(tag as usize).copied().unwrap_or(FINISHED);
                if issued_ms != FINISHED {
                    let latency_ms = self.now_ms - issued_ms;
                    let started_ms = self.started_at_ms[tag as usize];
                    self.metrics.latencies_from_start_ms.push(self.now_ms - started_ms);
                    self.finish_request(tag, Count::Committed, Some(latency_ms));
                } else {
                    self.duplicate_outcomes += 1;
                }
            }
            NodeEvent::Started { tag } => {
                if let Some(started) = self.started_at_ms.get_mut(tag as usize) {
                    *started = self.now_ms;
                }
            }
            NodeEvent::Refused { tag, error } => {
                *self.metrics.refused_by_reason.entry(refusal_reason(&error)).or_default() += 1;
                self.trace_outcome(Ev::Refused, node, tag, 0)?;
                self.finish_request(tag, Count::Refused, None);
            }
            NodeEvent::Abandoned { tag } => {
                self.trace_outcome(Ev::Abandoned, node, tag, 0)?;
                self.finish_request(tag, Count::Abandoned, None);
            }
            NodeEvent::Lost { tags } => {
                for tag in tags {
                    self.trace_outcome(Ev::LostRequest, node, tag, 0)?;
                    self.finish_request(tag, Count::Lost, None);
                }
            }
            NodeEvent::NonceResynced { tag, nonce } => {
                self.metrics.nonce_resyncs += 1;
                self.trace_outcome(Ev::Resync, node, tag, nonce)?;
            }
            NodeEvent::Credited { .. } => {}
            NodeEvent::Deferred { .. } => self.metrics.deferred_for_capacity += 1,
            NodeEvent::FailedOver { pulse, view, from, to, .. } => {
                self.metrics.committees.failovers += 1;
                let (from, to) = (self.index(&from), self.index(&to));
                self.trace.record(self.now_ms, Ev::Failover, &[pulse, u64::from(view), from, to])?;
            }
            NodeEvent::SteppedDown { .. } => self.metrics.committees.stepped_down += 1,
            NodeEvent::Reseated { pulse, term, view, from, to, .. } => {
                self.metrics.committees.term_handovers += 1;
                let (from, to) = (self.index(&from), self.index(&to));
                self.trace.record(self.now_ms, Ev::Reseated, &[pulse, term, u64::from(view), from, to])?;
            }
            NodeEvent::Elected { pulse, term, group, seats } => {
                let seats: Vec<usize> = seats.iter().map(|id| self.index(id) as usize).collect();
                if let Some(log) = self.elections.as_mut() {
                    log.elected(group, term, pulse, &seats);
                }
                let primary = seats.first().copied().unwrap_or(0) as u64;
                self.trace.record_with(self.now_ms, Ev::Elected, &[pulse, term, primary], || {
                    format!(",\"seats\":{seats:?}")
                })?;
            }
            NodeEvent::NotElected { .. } => {
                if let Some(log) = self.elections.as_mut() {
                    log.not_elected();
                }
            }
            NodeEvent::Seated { pulse, term, group, view, from, to, joined } => {
                if let Some(log) = self.elections.as_mut() {
                    log.seated(group, term, pulse, joined, from != to);
                }
                let (from, to) = (self.index(&from), self.index(&to));
                let words = [pulse, term, u64::from(view), from, to];
                self.trace
                    .record_with(self.now_ms, Ev::Seated, &words, || format!(",\"joined\":{joined}"))?;
            }
            NodeEvent::ReplicaDiverged { .. } => self.metrics.committees.replica_divergences += 1,
            NodeEvent::Resynced { group, pulse, from } => {
                self.metrics.committees.resyncs += 1;
                self.resynced(node, group, pulse, from);
            }
            NodeEvent::ReportAttested { group, pulse } => {
                self.metrics.committees.reports_attested += 1;
                self.check_taken_seals(group, pulse)?;
                let forged = self.byzantine.as_ref().is_some_and(|b| b.was_forged(group, pulse));
                self.metrics.committees.forged_reports_taken += u64::from(forged);
            }
            NodeEvent::BadMessage { from, error } => {
                self.metrics.bad_messages += 1;
                self.metrics.bad_proofs +=
                    u64::from(matches!(error, reference::node::NodeError::BadProof(_)));
                self.metrics.equivocations_detected +=
                    u64::from(matches!(error, reference::node::NodeError::Equivocation { .. }));
                self.metrics.committees.attest_mismatches +=
                    u64::from(matches!(error, reference::node::NodeError::AttestMismatch { .. }));
                self.metrics.committees.not_acting +=
                    u64::from(matches!(error, reference::node::NodeError::NotActing { .. }));
                let from = self.index_of.get(&from).copied().unwrap_or(NodeIndex::MAX);
                self.trace.record_with(
                    self.now_ms,
                    Ev::BadMessage,
                    &[u64::from(node), u64::from(from)],
                    || format!(",\"error\":{:?}", error.to_string()),
                )?;
            }
        }
        Ok(())
    }

    /// Check a seal's invariants — at once for a group without backups; for a group with a
    /// committee once the chief took its report, because until then a failover may orphan it
    /// (D-032). A seal by a member no longer acting is an orphan.
    fn observe_seal(&mut self, seal: OwnedSeal) -> Result<(), SimError> {
        if self.layout.backups == 0 || seal.group == Prefix::ROOT {
            return self.check_seal(&seal);
        }
        let history = self.histories.entry(seal.group).or_default().entry(seal.node).or_default();
        history.insert(seal.pulse, seal.node);
        self.tentative.entry(seal.group).or_default().push(seal);
        Ok(())
    }

    /// Member `node` took `from`'s state as of `pulse`: its history is `from`'s up to it, and
    /// its own seals after it were of another history.
    fn resynced(&mut self, node: NodeIndex, group: Prefix, pulse: u64, from: Id) {
        let Some(&from) = self.index_of.get(&from) else { return };
        let members = self.histories.entry(group).or_default();
        let copied: BTreeMap<u64, NodeIndex> = members
            .get(&from)
            .map(|h| h.range(..=pulse).map(|(p, s)| (*p, *s)).collect())
            .unwrap_or_default();
        members.insert(node, copied);
        if let Some(pending) = self.tentative.get_mut(&group) {
            let before = pending.len();
            pending.retain(|s| s.node != node || s.pulse <= pulse);
            self.metrics.committees.orphaned_seals += (before - pending.len()) as u64;
        }
    }

    /// The root node `index` holds, for I6 and I7 — none for a member of a root committee: it
    /// holds each root before a majority co-signed it (D-033). Their roots are checked as the
    /// chief builds them, against the chief's history (I7), whichever member acts.
    fn held_root(&self, index: NodeIndex) -> Option<reference::smt::RootSynopsis> {
        let root_member = self.layout.root_backups > 0
            && (index == BOOKKEEPER || self.layout.is_root_backup(index as usize));
        if root_member { None } else { self.nodes[index as usize].root() }
    }

    /// Whether `event` is the chief's seal or root of a pulse already seen: a new chief
    /// releases the last cycle it replayed unless it heard the old chief do so, and if only
    /// its copy of the old chief's broadcast was lost, that cycle's events come twice (D-033).
    fn released_twice(&mut self, event: &NodeEvent) -> bool {
        let (seen, pulse) = match event {
            NodeEvent::Sealed { pulse, group, .. } if *group == Prefix::ROOT => {
                (&mut self.root_seen.0, *pulse)
            }
            NodeEvent::RootBuilt { pulse, .. } => (&mut self.root_seen.1, *pulse),
            _ => return false,
        };
        let twice = pulse <= *seen;
        *seen = (*seen).max(pulse);
        twice
    }

    /// The chief took `group`'s report of `pulse` from its acting member: the seals up to it
    /// that the member's state is made of are history, the other seals up to it orphans — a
    /// deposed primary's cycles, unless a later successor replayed them before the failover
    /// (then they are history again, which dropping them at the failover got wrong).
    fn check_taken_seals(&mut self, group: Prefix, pulse: u64) -> Result<(), SimError> {
        let Some(pending) = self.tentative.get_mut(&group) else { return Ok(()) };
        let (mut taken, rest): (Vec<OwnedSeal>, Vec<OwnedSeal>) =
            std::mem::take(pending).into_iter().partition(|s| s.pulse <= pulse);
        *pending = rest;
        let acting = match self.acting_node.get(&group) {
            Some(node) => *node,
            None => self.layout_primary(&group),
        };
        let members = self.histories.entry(group).or_default();
        let history = members.get(&acting).cloned().unwrap_or_default();
        for member in members.values_mut() {
            *member = member.split_off(&(pulse + 1));
        }
        taken.sort_by_key(|s| s.pulse);
        let before = taken.len();
        taken.retain(|s| history.get(&s.pulse) == Some(&s.node));
        self.metrics.committees.orphaned_seals += (before - taken.len()) as u64;
        taken.iter().try_for_each(|seal| self.check_seal(seal))
    }

    /// The node of `group`'s primary in view 0.
    fn layout_primary(&self, group: &Prefix) -> NodeIndex {
        let chief = self.acting_node.get(&Prefix::ROOT).copied().unwrap_or(BOOKKEEPER);
        let primary = self.nodes[chief as usize].view_of(group).map(|(_, id)| id);
        primary.and_then(|id| self.index_of.get(&id).copied()).unwrap_or(NodeIndex::MAX)
    }

    fn check_seal(&mut self, seal: &OwnedSeal) -> Result<(), SimError> {
        let seal = Seal {
            group: seal.group,
            applied: &seal.applied,
            debits: &seal.debits,
            credited: &seal.credited,
            settled: &seal.settled,
        };
        let result = self.checker.after_seal(&seal);
        result.map_err(|v| self.violation(v))
    }

    /// The node index of `id` (`u64::MAX` for an Id that is no node of the run).
    fn index(&self, id: &Id) -> u64 {
        self.index_of.get(id).map_or(u64::MAX, |i| u64::from(*i))
    }

    fn trace_outcome(&mut self, kind: Ev, node: NodeIndex, tag: u64, value: u64) -> io::Result<()> {
        self.trace.record(self.now_ms, kind, &[u64::from(node), tag, value])
    }

    /// Count the outcome of request `tag` once (with its latency if it committed); a second
    /// outcome for one request is a protocol bug, counted so that tests can assert there are none.
    fn finish_request(&mut self, tag: u64, outcome: Count, latency_ms: Option<u64>) {
        let Some(issued) = self.issued_at_ms.get_mut(tag as usize) else { return };
        if *issued == FINISHED {
            self.duplicate_outcomes += 1;
            return;
        }
        *issued = FINISHED;
        self.metrics.outstanding -= 1;
        let acc = self.metrics.at(self.now_ms, self.scenario.parameters.pulse_ms);
        acc.counts[outcome] += 1;
        acc.latencies_ms.extend(latency_ms);
    }

    fn violation(&self, violation: Violation) -> SimError {
        let replay = replay_command(&self.scenario, self.seed, self.source.as_ref(), &self.overrides);
        violation_error(violation, self.now_ms, self.seed, replay)
    }

    fn finish(self, end_ms: u64) -> RunResult {
        // The chief acting at the end: node 0 unless it failed over (D-033).
        let chief = self.acting_node.get(&Prefix::ROOT).copied().unwrap_or(BOOKKEEPER);
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
        })
    }
}

/// Check, without building the run, that the group tree `seed` makes has the leaf groups the
/// scenario's leaf-only keys need (what `leither validate` checks beyond the file's values).
pub fn check_group_tree(scenario: &Scenario, seed: u64, file: &Path) -> Result<(), SimError> {
    if crate::scenario::validate::leaf_only_keys(scenario).is_empty() {
        return Ok(());
    }
    leaf_groups_exist(scenario, seed, file, leaf_groups(scenario, seed))
}

/// The leaf groups of the group tree `seed` makes for `scenario`'s clients. It depends only on
/// the clients, the signature scheme, `stratum_bits`, `group_min_accounts` and the seed.
pub fn leaf_groups(scenario: &Scenario, seed: u64) -> usize {
    let (signers, _) = signers(scenario, seed);
    let params = &scenario.parameters;
    let accounts = signers[1..].iter().map(|s| s.id()).chain([organization_id(seed)]);
    let tree = GroupTree::build(accounts, params.stratum_bits, params.group_min_accounts)
        .expect("validated group parameters");
    tree.groups().keys().filter(|p| p.len_bits() == params.stratum_bits).count()
}

/// Keys that need leaf groups, refused when the group tree of this seed has none.
pub fn leaf_groups_exist(scenario: &Scenario, seed: u64, file: &Path, leaves: usize) -> Result<(), SimError> {
    if leaves > 0 {
        return Ok(());
    }
    let Some((key, got)) = crate::scenario::validate::leaf_only_keys(scenario).into_iter().next() else {
        return Ok(());
    };
    let p = &scenario.parameters;
    let expected = format!(
        "none: seed {seed}'s group tree has no leaf group ({} clients, parameters.group_min_accounts = {}, \
         stratum_bits = {}), so the chief keeps every account",
        scenario.nodes.clients, p.group_min_accounts, p.stratum_bits
    );
    Err(ScenarioError::Invalid { file: file.to_path_buf(), key: key.into(), expected, got }.into())
}

/// The command that reruns this run: the file (or the scenario's name under `scenarios/`),
/// the seed, and each override as a `--set`.
pub(crate) fn replay_command(
    scenario: &Scenario,
    seed: u64,
    source: Option<&PathBuf>,
    overrides: &[Override],
) -> String {
    let file =
        source.map_or_else(|| format!("scenarios/{}.toml", scenario.name), |p| p.display().to_string());
    let sets: String = overrides.iter().map(|o| format!(" --set '{o}'")).collect();
    format!("cargo run --release -p simulator -- run {file} --seed {seed}{sets}")
}

fn violation_error(violation: Violation, time_ms: u64, seed: u64, replay: String) -> SimError {
    SimError::Violation { code: violation.invariant.code(), violation, time_ms, seed, replay }
}

/// The signers of the chief and the clients (nodes `0..=clients`), and the verifier.
fn signers(scenario: &Scenario, seed: u64) -> (Vec<SharedSigner>, SharedVerifier) {
    let signers = more_signers(scenario, seed, 0, u64::from(scenario.nodes.clients) + 1);
    let verifier: SharedVerifier = match scenario.nodes.signatures {
        crate::scenario::SignatureScheme::Sim => Arc::new(SimScheme::new(seed)),
        crate::scenario::SignatureScheme::Ed25519 => Arc::new(Ed25519Verifier),
    };
    (signers, verifier)
}

/// The signers of nodes `first..first + count`; node `i`'s key depends only on the seed and `i`.
fn more_signers(scenario: &Scenario, seed: u64, first: u64, count: u64) -> Vec<SharedSigner> {
    let indices = first..first + count;
    match scenario.nodes.signatures {
        crate::scenario::SignatureScheme::Sim => {
            let scheme = SimScheme::new(seed);
            indices.map(|i| Arc::new(scheme.signer(i)) as SharedSigner).collect()
        }
        crate::scenario::SignatureScheme::Ed25519 => {
            let key_seed = |i: u64| {
                let mut h = blake3::Hasher::new();
                h.update(b"leither-sim-ed25519");
                h.update(&seed.to_le_bytes());
                h.update(&i.to_le_bytes());
                *h.finalize().as_bytes()
            };
            indices.map(|i| Arc::new(Ed25519Signer::from_seed(key_seed(i))) as SharedSigner).collect()
        }
    }
}

/// The organization account: an Id that is no node's.
fn organization_id(seed: u64) -> Id {
    let hash = reference::crypto::hash_parts(
        reference::crypto::Domain::Synthetic,
        &[b"leither-sim-organization", &seed.to_le_bytes()],
    );
    let mut id = [0u8; 20];
    id.copy_from_slice(&hash.0[..20]);
    Id(id)
}

/// The nodes of a run before they start: signers (chief, clients, then the leaf groups'
/// primaries, then their backups group by group), the roster of groups and the genesis split
/// over them.
struct World {
    signers: Vec<SharedSigner>,
    roster: Roster,
    genesis: Genesis,
    layout: Layout,
}

/// A group's seal as the simulator holds it until its invariants are checked.
#[derive(Debug)]
struct OwnedSeal {
    node: NodeIndex,
    pulse: u64,
    group: Prefix,
    applied: Vec<reference::ledger::Applied>,
    debits: Vec<reference::crypto::Hash32>,
    credited: Vec<reference::ledger::Applied>,
    settled: Vec<(reference::crypto::Hash32, reference::ledger::Half, reference::ledger::Settlement)>,
}

/// Where the committee members are among the node indices.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// The first leaf primary (`clients + 1`).
    pub first_primary: usize,
    /// Leaf groups.
    pub leaves: usize,
    /// Backups per leaf group.
    pub backups: usize,
    /// Backups of the root group: the chief's committee (D-033), nodes after the leaf backups.
    pub root_backups: usize,
    /// Standby candidates per leaf group (D-035), nodes after the root backups, group by group.
    pub standbys: usize,
}

impl Layout {
    /// The first backup node.
    pub fn first_backup(&self) -> usize {
        self.first_primary + self.leaves
    }

    /// The first root backup node.
    pub fn first_root_backup(&self) -> usize {
        self.first_backup() + self.leaves * self.backups
    }

    /// The first standby node.
    pub fn first_standby(&self) -> usize {
        self.first_root_backup() + self.root_backups
    }

    /// Whether node `index` is a backup of the root group.
    pub fn is_root_backup(&self, index: usize) -> bool {
        (self.first_root_backup()..self.first_standby()).contains(&index)
    }

    /// The leaf group (0-based, prefix order) whose standby node `index` is, if it is one.
    pub fn standby_group(&self, index: usize) -> Option<usize> {
        let offset = index.checked_sub(self.first_standby())?;
        (self.standbys > 0 && offset < self.leaves * self.standbys).then(|| offset / self.standbys)
    }

    /// Every node.
    pub fn nodes(&self) -> usize {
        self.first_standby() + self.leaves * self.standbys
    }

    /// The leaf group (0-based, prefix order) whose backup node `index` is, if it is one.
    pub fn backup_group(&self, index: usize) -> Option<usize> {
        let offset = index.checked_sub(self.first_backup())?;
        (self.backups > 0 && offset < self.leaves * self.backups).then(|| offset / self.backups)
    }
}

impl World {
    /// The group tree over the clients' accounts (SPEC §6.1) cut to two levels (D-023); each
    /// leaf group gets a primary of its own, a fresh node after the clients.
    fn build(scenario: &Scenario, seed: u64, mut signers: Vec<SharedSigner>) -> World {
        let params = &scenario.parameters;
        let organization = organization_id(seed);
        let accounts = signers[1..].iter().map(|s| s.id()).chain([organization]);
        let tree = GroupTree::build(accounts, params.stratum_bits, params.group_min_accounts)
            .expect("validated group parameters");
        let leaves = tree.groups().keys().filter(|p| p.len_bits() == params.stratum_bits).count();
        let members = leaves * (1 + params.backups + params.standbys) + params.root_backups;
        signers.extend(more_signers(scenario, seed, signers.len() as u64, members as u64));
        let clients = scenario.nodes.clients as usize;
        let layout = Layout {
            first_primary: clients + 1,
            leaves,
            backups: params.backups,
            root_backups: params.root_backups,
            standbys: params.standbys,
        };
        let primaries: Vec<Id> = std::iter::once(signers[0].id())
            .chain(signers[layout.first_primary..layout.first_backup()].iter().map(|s| s.id()))
            .collect();
        let roster = Roster::from_tree(&tree, &primaries).expect("one primary per group, each a fresh node");
        let roster = if params.backups == 0 {
            roster
        } else {
            let backup_ids: Vec<Id> =
                signers[layout.first_backup()..layout.first_root_backup()].iter().map(|s| s.id()).collect();
            let leaf_groups: Vec<_> = roster.groups().skip(1).map(|(prefix, _)| prefix).collect();
            let committees =
                leaf_groups.into_iter().zip(backup_ids.chunks(params.backups).map(<[Id]>::to_vec));
            roster.with_backups(committees).expect("each backup a fresh node of one leaf group")
        };
        let balance = scenario.nodes.initial_balance;
        let distribution: Vec<(Id, u64)> = signers[1..=clients].iter().map(|s| (s.id(), balance)).collect();
        let genesis = Genesis::split(
            &roster,
            organization,
            params.genesis_supply,
            &distribution,
            params.transfer_timeout_pulses,
        )
        // Validation checked the supply covers the distribution; Ids are distinct hashes.
        .expect("a validated scenario has a valid genesis");
        let roster = if params.root_backups == 0 {
            roster
        } else {
            let root_backups =
                signers[layout.first_root_backup()..layout.first_standby()].iter().map(|s| s.id()).collect();
            roster.with_backups([(Prefix::ROOT, root_backups)]).expect("each root backup a fresh node")
        };
        let roster = if params.standbys == 0 {
            roster
        } else {
            let pools = crate::election::pools(scenario, seed, &roster, &signers, layout);
            roster.with_pools(pools).expect("each standby a fresh node of one leaf group")
        };
        World { signers, roster, genesis, layout }
    }

    fn into_nodes(self, scenario: &Scenario, verifier: SharedVerifier) -> Vec<Node> {
        let params = &scenario.parameters;
        let config = NodeConfig {
            pulse_ms: params.pulse_ms,
            retry_ms: params.transfer_timeout_pulses.saturating_mul(params.pulse_ms),
            max_attempts: params.max_attempts,
            transfer_timeout_pulses: params.transfer_timeout_pulses,
            roster: Arc::new(self.roster),
            bookkeeper_deposit: params.bookkeeper_deposit,
            failover_timeout_pulses: params.failover_timeout_pulses,
            election_cycle_pulses: params.election_cycle_pulses,
            election_pool_factor: params.election_pool_factor,
            bookkeeper_deposit_min: params.bookkeeper_deposit_min,
        };
        let retained = params.versions_retained;
        let ledgers: Vec<_> =
            self.genesis.ledgers.into_iter().map(|(_, l)| l.with_versions_retained(retained)).collect();
        let mut ledgers = ledgers.into_iter();
        let root_ledger = ledgers.next().expect("the root group's ledger");
        let mut leaf_ledgers: Vec<Option<reference::ledger::Ledger>> = ledgers.map(Some).collect();
        // The root backups replay the chief with copies of its ledger and arbiter (D-033).
        let root_copy = (root_ledger.clone(), self.genesis.arbiter.clone());
        let mut chief = Some((root_ledger, self.genesis.arbiter));
        let layout = self.layout;
        self.signers
            .into_iter()
            .enumerate()
            .map(|(index, signer)| {
                if index == 0 {
                    let (ledger, arbiter) = chief.take().expect("one chief");
                    Node::chief(signer.id(), ledger, arbiter, verifier.clone(), config.clone())
                } else if index < layout.first_primary {
                    Node::client(signer, verifier.clone(), config.clone())
                } else if index < layout.first_backup() {
                    // The primary's own copy; the backups clone theirs from it first.
                    let group = index - layout.first_primary;
                    let ledger = if layout.backups == 0 {
                        leaf_ledgers[group].take().expect("one ledger per leaf group")
                    } else {
                        leaf_ledgers[group].clone().expect("one ledger per leaf group")
                    };
                    Node::bookkeeper(signer.id(), ledger, verifier.clone(), config.clone())
                } else if layout.is_root_backup(index) {
                    let (ledger, arbiter) = root_copy.clone();
                    Node::chief(signer.id(), ledger, arbiter, verifier.clone(), config.clone())
                } else if let Some(group) = layout.standby_group(index) {
                    // A standby holds the genesis share of its group until elected; then it
                    // takes the group's state from the acting primary (D-035).
                    let ledger = leaf_ledgers[group].clone().expect("one ledger per leaf group");
                    Node::bookkeeper(signer.id(), ledger, verifier.clone(), config.clone())
                } else {
                    let group = layout.backup_group(index).expect("every later node is a backup");
                    let ledger = leaf_ledgers[group].clone().expect("one ledger per leaf group");
                    Node::bookkeeper(signer.id(), ledger, verifier.clone(), config.clone())
                }
            })
            .collect()
    }
}

fn partition_sides(scenario: &Scenario, ids: &[Id]) -> Vec<Vec<bool>> {
    let clients = scenario.nodes.clients;
    scenario
        .faults
        .partitions
        .iter()
        .map(|p| match (&p.side, &p.prefix) {
            (Some(side), _) => {
                let members = side.resolve(clients).expect("validated");
                let mut sides = vec![false; ids.len()];
                members.into_iter().for_each(|m| sides[m as usize] = true);
                sides
            }
            (None, Some(prefix)) => ids.iter().map(|id| network::has_prefix(id, prefix)).collect(),
            (None, None) => unreachable!("validation requires a side or a prefix"),
        })
        .collect()
}

/// A short name for why a transfer was refused, for the summary's breakdown.
fn refusal_reason(error: &reference::ledger::LedgerError) -> &'static str {
    use reference::ledger::LedgerError as E;
    match error {
        E::TimedOut => "timed_out",
        E::InsufficientSpendable { .. } => "insufficient_spendable",
        E::BadNonce { .. } => "bad_nonce",
        E::BadSignature { .. } | E::KeyMismatch { .. } => "bad_signature",
        E::UnknownAccount { .. } => "unknown_account",
        E::BeyondCapacity { .. } => "beyond_capacity",
        _ => "other",
    }
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
