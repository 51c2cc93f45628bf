//! The node loop: inputs from the links, the clock (timers, the client's workload) and
//! SIGTERM; each batch of inputs made durable in the log, then handed to the `Node`; its
//! outputs sealed and queued on the links, its timers kept, its events written (D-040).

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reference::Id;
use reference::crypto::{Ed25519Signer, Ed25519Verifier, Signer};
use reference::node::{Command, Message, Node, Output, SharedVerifier, Timer, To};
use reference::smt::RootSynopsis;
use simulator::checker::Checker;
use simulator::sim::Layout;
use simulator::workload::Request;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::config::{Config, ConfigError, to_hex};
use crate::events::{self, Ev, EventLog, Line};
use crate::input::{Input, Record};
use crate::store::{Store, StoreError};
use crate::transport::{self, Inbound, Net, Outbound};

/// Inputs taken from the links per batch, at most.
const BATCH_MAX: usize = 512;
/// An input index for lines no input caused.
const NO_INPUT: u64 = u64::MAX;

/// Why a node could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// Its file.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Its genesis.
    #[error(transparent)]
    Genesis(#[from] simulator::sim::SimError),
    /// Its log.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file or socket.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> HostError {
    let what = what.into();
    move |source| HostError::Io { what, source }
}

/// The node's clock: ms since the cluster's time 0, from the system clock (so it goes on
/// across a restart).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start_unix_ms: u64,
}

impl Clock {
    /// Local time now.
    pub fn now_ms(&self) -> u64 {
        let unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        unix_ms.saturating_sub(self.start_unix_ms)
    }

    /// Whether time 0 has come.
    fn started(&self) -> bool {
        let unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        unix_ms >= self.start_unix_ms
    }
}

/// The digest of a cluster's genesis: its scenario, seed and time 0. Links and logs of
/// another genesis are refused.
pub fn genesis_digest(config: &Config) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"leither-host genesis");
    h.update(config.scenario.to_toml().as_bytes());
    h.update(&config.file.genesis.seed.to_le_bytes());
    h.update(&config.file.genesis.start_unix_ms.to_le_bytes());
    *h.finalize().as_bytes()
}

/// One running node.
struct Host {
    node: Node,
    index: u32,
    store: Store,
    events: EventLog,
    timers: BTreeMap<(u64, u64), Timer>,
    timer_seq: u64,
    outbound: Outbound,
    ids: Vec<Id>,
    index_of: BTreeMap<Id, u32>,
    held: Option<RootSynopsis>,
    /// Root committee members hold roots before they are co-signed: not checked (as in the
    /// simulator's `held_root`).
    root_member: bool,
    /// I2 at a bookkeeper after every input.
    local: Checker,
    requests: VecDeque<Request>,
    abort_sealing_pulse: Option<u64>,
    scratch: Vec<Output>,
    /// The trust scores trust-weighted votes weigh by (I10's bound).
    trust: Arc<BTreeMap<Id, u64>>,
    /// The organizations' revision when I10 was last checked here.
    gov_revision: Option<u64>,
    /// The organizations' last sealed pulse and digest, as last logged.
    gov_sealed: Option<(u64, reference::crypto::Hash32)>,
    /// The node's own inbound queue, for what it sends itself: a node holding an account
    /// besides its own may pay itself from it (D-046). It arrives as any envelope does, so
    /// the input log replays it.
    to_self: mpsc::Sender<Inbound>,
}

/// Run the node of `config` until `shutdown` completes.
pub async fn run(config: Config, shutdown: impl std::future::Future<Output = ()>) -> Result<(), HostError> {
    let (mut host, mut inbound, clock) = setup(&config).await?;
    host.begin(&clock).await?;
    tokio::pin!(shutdown);
    loop {
        let mut batch = Vec::new();
        let wait_ms = host.next_deadline_ms().map_or(3_600_000, |at| at.saturating_sub(clock.now_ms()));
        tokio::select! {
            () = &mut shutdown => break,
            first = inbound.recv() => {
                let Some(first) = first else { break };
                host.take(first, &mut batch, &clock)?;
                while batch.len() < BATCH_MAX {
                    let Ok(next) = inbound.try_recv() else { break };
                    host.take(next, &mut batch, &clock)?;
                }
            }
            () = tokio::time::sleep(Duration::from_millis(wait_ms)) => {}
        }
        let now_ms = clock.now_ms();
        host.due(now_ms, &mut batch);
        if !batch.is_empty() {
            host.handle_batch(now_ms, batch)?;
        }
        host.events.flush().map_err(io_error("events"))?;
    }
    host.line(clock.now_ms(), NO_INPUT, Ev::Shutdown)?;
    host.events.flush().map_err(io_error("events"))?;
    tracing::info!(node = host.index, inputs = host.store.len(), "shut down");
    Ok(())
}

async fn setup(config: &Config) -> Result<(Host, mpsc::Receiver<Inbound>, Clock), HostError> {
    let file = &config.file;
    let index = file.node.index;
    let world = simulator::sim::driver_world(&config.scenario, file.genesis.seed, &config.scenario_path())?;
    let invalid = |key: &str, problem: String| ConfigError::Invalid {
        file: config.path.clone(),
        key: key.into(),
        problem,
    };
    if index as usize >= world.nodes.len() {
        return Err(invalid("node.index", format!("the genesis has {} nodes", world.nodes.len())).into());
    }
    if world.key_seeds[index as usize] != config.secret_key {
        return Err(invalid("node.secret_key", format!("not node {index}'s key in this genesis")).into());
    }
    for (i, peer) in file.peers.iter().enumerate() {
        if peer.index as usize >= world.nodes.len() {
            return Err(invalid(
                &format!("peers[{i}].index"),
                format!("the genesis has {} nodes", world.nodes.len()),
            )
            .into());
        }
    }
    let genesis = genesis_digest(config);
    std::fs::create_dir_all(&file.node.data_dir)
        .map_err(io_error(format!("{}", file.node.data_dir.display())))?;
    let mut store_key = blake3::Hasher::new();
    store_key.update(&genesis);
    store_key.update(&index.to_le_bytes());
    let store = Store::open(&file.node.data_dir.join("node.redb"), store_key.finalize().as_bytes())?;
    let events_path: PathBuf = file.node.data_dir.join("events.jsonl");
    let events = EventLog::open(&events_path).map_err(io_error(format!("{}", events_path.display())))?;
    let mut node = world.nodes[index as usize].clone();
    inject_faults(&mut node, config);
    let signer: Arc<dyn Signer + Send + Sync> = Arc::new(Ed25519Signer::from_seed(config.secret_key));
    let mut index_of: BTreeMap<Id, u32> =
        world.ids.iter().enumerate().map(|(i, id)| (*id, i as u32)).collect();
    if let Some(users) = &world.governance {
        // What is sent to the organization's account reaches the node holding its key (D-046).
        index_of.insert(users.org(), users.holder());
    }
    let (tx, rx) = mpsc::channel(file.limits.inbound_queue_frames as usize);
    let tx_self = tx.clone();
    if let Some(control) = file.node.control {
        let listener =
            TcpListener::bind(control).await.map_err(io_error(format!("control socket on {control}")))?;
        crate::control::start(listener, tx.clone(), index);
    }
    let net = Arc::new(Net {
        me: signer,
        prologue: crate::link::prologue(&genesis),
        index_of: index_of.clone(),
        limits: file.limits,
        inbound: tx,
        shaper: file.emulation.enabled.then(|| transport::Shaper {
            latency: simulator::network::Sampler::new(&config.scenario.network.latency),
            drop: config.scenario.network.drop,
            seed: file.genesis.seed,
        }),
        index,
    });
    let listener = TcpListener::bind(file.node.listen)
        .await
        .map_err(io_error(format!("listen on {}", file.node.listen)))?;
    let peers: Vec<_> = file.peers.iter().map(|p| (p.index, p.addr)).collect();
    let outbound = transport::start(net, listener, &peers, &world.ids);
    let clock = Clock { start_unix_ms: file.genesis.start_unix_ms };
    let trust = Arc::new(world.governance.as_ref().map(|g| g.trust().clone()).unwrap_or_default());
    let host = Host {
        to_self: tx_self,
        trust,
        gov_revision: None,
        gov_sealed: None,
        root_member: is_root_member(world.layout, index),
        requests: requests(config, index),
        node,
        index,
        store,
        events,
        timers: BTreeMap::new(),
        timer_seq: 0,
        outbound,
        ids: world.ids,
        index_of,
        held: None,
        local: Checker::new(
            1,
            config.scenario.parameters.genesis_supply,
            Arc::new(Ed25519Verifier) as SharedVerifier,
        ),
        abort_sealing_pulse: file.faults.abort_sealing_pulse,
        scratch: Vec::new(),
    };
    Ok((host, rx, clock))
}

#[cfg(feature = "fault-injection")]
fn inject_faults(node: &mut Node, config: &Config) {
    let faults = reference::node::NodeFaults {
        forge_root_from_pulse: config.file.faults.forge_root_from_pulse,
        ..Default::default()
    };
    node.inject_faults(faults);
    if config.file.faults.double_count_votes {
        node.inject_org_faults(reference::org::OrgFaults { double_count_votes: true, ..Default::default() });
    }
}

#[cfg(not(feature = "fault-injection"))]
fn inject_faults(_node: &mut Node, _config: &Config) {}

fn is_root_member(layout: Layout, index: u32) -> bool {
    layout.root_backups > 0 && (index == 0 || layout.is_root_backup(index as usize))
}

/// The client's own requests of the scenario's workload (none for a bookkeeper).
fn requests(config: &Config, index: u32) -> VecDeque<Request> {
    let scenario = &config.scenario;
    let stop_ms = config.file.genesis.duration_ms.unwrap_or(u64::MAX);
    // The whole schedule is drawn (one stream for all clients); each keeps its own.
    let limit = 10_000_000;
    simulator::workload::schedule(scenario, config.file.genesis.seed, limit)
        .into_iter()
        .filter(|r| r.payer == index && r.at_ms < stop_ms)
        .collect()
}

impl Host {
    /// Start from the genesis, or replay the log and restart.
    async fn begin(&mut self, clock: &Clock) -> Result<(), HostError> {
        if self.store.is_empty() {
            while !clock.started() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            return self.handle_batch(clock.now_ms(), vec![Input::Start]);
        }
        let began = std::time::Instant::now();
        let records = self.store.records()?;
        let replayed = records.len() as u64;
        let mut done_tags = 0;
        for (i, record) in records.iter().enumerate() {
            if let Input::Command(Command::Transfer { tag, .. }) = record.input {
                done_tags = done_tags.max(tag + 1);
            }
            self.apply(i as u64, record, false)?;
        }
        // Requests already given to the node are in the log; the rest are still to come.
        self.requests.retain(|r| r.tag >= done_tags);
        let fingerprint = to_hex(&self.node.fingerprint().0);
        let replay_us = began.elapsed().as_micros() as u64;
        tracing::info!(node = self.index, replayed, replay_us, %fingerprint, "replayed the input log");
        let ev = Ev::Restarted { replayed, replay_us, fingerprint };
        self.line(clock.now_ms(), replayed.saturating_sub(1), ev)?;
        self.handle_batch(clock.now_ms(), vec![Input::Restart])
    }

    /// The next time a timer or a request is due.
    fn next_deadline_ms(&self) -> Option<u64> {
        let timer = self.timers.keys().next().map(|(at, _)| *at);
        let request = self.requests.front().map(|r| r.at_ms);
        timer.into_iter().chain(request).min()
    }

    /// Timers and requests due by `now_ms`, into `batch`.
    fn due(&mut self, now_ms: u64, batch: &mut Vec<Input>) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now_ms {
                break;
            }
            batch.push(Input::Timer(entry.remove()));
        }
        while self.requests.front().is_some_and(|r| r.at_ms <= now_ms) {
            let r = self.requests.pop_front().expect("checked");
            let to = self.ids[r.payee as usize];
            batch.push(Input::Command(Command::Transfer { to, amount: r.amount, tag: r.tag }));
        }
    }

    /// A link's news: an envelope joins the batch, a closed link is logged.
    fn take(&mut self, inbound: Inbound, batch: &mut Vec<Input>, clock: &Clock) -> Result<(), HostError> {
        match inbound {
            Inbound::Envelope { envelope, frame, .. } => batch.push(Input::Message { envelope, frame }),
            Inbound::Control(command) => batch.push(Input::Command(command)),
            Inbound::Closed { peer, dialled, reason } => {
                tracing::warn!(node = self.index, ?peer, dialled, %reason, "link closed");
                self.line(clock.now_ms(), NO_INPUT, Ev::LinkClosed { peer, dialled, reason })?;
            }
        }
        Ok(())
    }

    /// Make `inputs` durable, then hand them to the node.
    fn handle_batch(&mut self, now_ms: u64, inputs: Vec<Input>) -> Result<(), HostError> {
        let records: Vec<Record> = inputs.into_iter().map(|input| Record { now_ms, input }).collect();
        let abort = self.abort_sealing_pulse.is_some_and(|pulse| {
            self.node.pulse() + 1 >= pulse
                && records.iter().any(|r| matches!(r.input, Input::Timer(Timer::Pulse)))
        });
        let first = self.store.append(&records, abort)?;
        for (i, record) in records.iter().enumerate() {
            self.apply(first + i as u64, record, true)?;
        }
        let fingerprint = to_hex(&self.node.fingerprint().0);
        self.line(now_ms, self.store.len() - 1, Ev::Checkpoint { fingerprint })
    }

    /// Hand one record to the node. `live`: its outputs go out and its timers are kept; in a
    /// replay they do not, and only the events the event file lacks are written.
    fn apply(&mut self, input: u64, record: &Record, live: bool) -> Result<(), HostError> {
        let now_ms = record.now_ms;
        let mut out = std::mem::take(&mut self.scratch);
        match &record.input {
            Input::Start => self.node.start(now_ms, &mut out),
            Input::Restart => self.node.restart(now_ms, true, &mut out),
            Input::Message { envelope, .. } => self.node.handle_message(now_ms, envelope, &mut out),
            Input::Timer(timer) => self.node.handle_timer(now_ms, *timer, &mut out),
            Input::Command(command) => self.node.handle_command(now_ms, command.clone(), &mut out),
        }
        let emit = live || self.events.last_input.is_none_or(|last| input > last);
        for output in out.drain(..) {
            match output {
                Output::Send { to, msg } if live => self.send(now_ms, input, Some(to), msg)?,
                Output::Broadcast { msg } if live => self.send(now_ms, input, None, msg)?,
                Output::SetTimer { at_ms, timer } if live => {
                    self.timers.insert((at_ms, self.timer_seq), timer);
                    self.timer_seq += 1;
                }
                Output::Event(event) if emit => self.line(now_ms, input, events::of_node_event(&event))?,
                _ => {}
            }
        }
        self.scratch = out;
        if emit {
            self.after_input(now_ms, input)?;
        }
        Ok(())
    }

    /// What the checkers read after every input: the root held, I2 at a bookkeeper.
    fn after_input(&mut self, now_ms: u64, input: u64) -> Result<(), HostError> {
        let held = if self.root_member { None } else { self.node.root() };
        if let Some(root) = held
            && held != self.held
        {
            self.held = held;
            self.line(now_ms, input, Ev::Held { root: events::blob(&root) })?;
        }
        if let Some(ledger) = self.node.ledger()
            && let Err(violation) = self.local.after_bookkeeper_event(0, ledger)
        {
            let ev =
                Ev::Violation { invariant: format!("{:?}", violation.invariant), detail: violation.detail };
            self.line(now_ms, input, ev)?;
        }
        self.after_input_governance(now_ms, input)
    }

    /// At a root member: I10 over its organizations whenever they changed, and the digest of
    /// each pulse they were sealed at (the cluster's agreement check compares the members').
    fn after_input_governance(&mut self, now_ms: u64, input: u64) -> Result<(), HostError> {
        let revision = self.node.governance_revision();
        if revision != self.gov_revision {
            self.gov_revision = revision;
            let orgs = self.node.organizations().expect("a revision is a bookkeeper's");
            // A root member holds no leaf group's ledger: a balance vote's bound is the
            // simulator's check (D-049); here balance votes are bounded by I10's other parts.
            let balances = simulator::governance::BalanceBounds::default();
            if let Err(violation) = simulator::governance::weights_hold(orgs, &self.trust, &balances) {
                let ev = Ev::Violation {
                    invariant: format!("{:?}", violation.invariant),
                    detail: violation.detail,
                };
                self.line(now_ms, input, ev)?;
            }
        }
        let sealed = self.node.governance_sealed();
        if let Some((pulse, digest)) = sealed
            && sealed != self.gov_sealed
        {
            self.gov_sealed = sealed;
            self.line(now_ms, input, Ev::GovSealed { pulse, digest: digest.to_hex() })?;
        }
        Ok(())
    }

    /// Seal `msg` for `to` (everyone if `None`) and queue it on the links.
    fn send(&mut self, now_ms: u64, input: u64, to: Option<Id>, msg: Message) -> Result<(), HostError> {
        let addressee = to.map_or(To::Everyone, To::Node);
        let envelope = self.node.seal(now_ms, addressee, msg);
        let frame: transport::Frame = match reference::wire::encode_envelope(&envelope) {
            Ok(bytes) => bytes.into(),
            Err(error) => {
                let to = to.and_then(|id| self.index_of.get(&id).copied());
                return self.line(now_ms, input, Ev::SendDropped { to, reason: error.to_string() });
            }
        };
        let targets: Vec<u32> = match to {
            Some(id) => self.index_of.get(&id).copied().into_iter().collect(),
            None => self.outbound.peers().collect(),
        };
        for peer in targets {
            if peer == self.index {
                self.send_to_self(now_ms, input, envelope.clone(), frame.to_vec())?;
                continue;
            }
            if let Err(why) = self.outbound.send(peer, frame.clone()) {
                let reason = format!("{why:?}");
                self.line(now_ms, input, Ev::SendDropped { to: Some(peer), reason })?;
            }
        }
        Ok(())
    }

    /// Queue `envelope` (its bytes `frame`) as an input from this very node; dropped, as a
    /// network would drop it, if the inbound queue is full.
    fn send_to_self(
        &mut self,
        now_ms: u64,
        input: u64,
        envelope: reference::node::Envelope,
        frame: Vec<u8>,
    ) -> Result<(), HostError> {
        let inbound = Inbound::Envelope { peer: self.index, envelope: Box::new(envelope), frame };
        match self.to_self.try_send(inbound) {
            Ok(()) => Ok(()),
            Err(why) => {
                let reason = format!("to itself: {why}");
                self.line(now_ms, input, Ev::SendDropped { to: Some(self.index), reason })
            }
        }
    }

    fn line(&mut self, t_ms: u64, input: u64, ev: Ev) -> Result<(), HostError> {
        let line = Line { t_ms, node: self.index, input, ev };
        self.events.write(&line).map_err(io_error("events"))
    }
}
