//! `leither-host cluster SCENARIO`: one OS process per node of the scenario's genesis on
//! loopback ports, keys generated from the seed, the workload issued by the client processes,
//! the scenario's declared crashes carried out with SIGKILL (and restarts from the input log),
//! SIGTERM at the end; then every node's events are merged and checked with the simulator's
//! checker (`check`), and a summary and a report are written beside the simulator's own
//! prediction of the same scenario (`report`).

pub mod check;
pub mod report;
pub mod users;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reference::Prefix;
use simulator::scenario::Scenario;

use crate::config::{self, Faults, GenesisSection, Limits, NodeFile, NodeSection, Peer};
use crate::events;

/// Why a cluster could not run (a failed *check* is a verdict, not an error).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The scenario.
    #[error(transparent)]
    Scenario(#[from] simulator::scenario::ScenarioError),
    /// Its genesis.
    #[error(transparent)]
    Genesis(#[from] simulator::sim::SimError),
    /// Something the cluster cannot run.
    #[error("{file}: `{key}`: {problem}")]
    Unsupported {
        /// The scenario file.
        file: PathBuf,
        /// The key.
        key: String,
        /// Why.
        problem: String,
    },
    /// A file, a socket or a process.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let what = what.into();
    move |source| ClusterError::Io { what, source }
}

/// How to run a cluster.
#[derive(Debug, Clone)]
pub struct Options {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The seed (the scenario's if `None`).
    pub seed: Option<u64>,
    /// Processes wanted: the scenario's client count is changed so that the genesis has this
    /// many nodes (an error if no client count does).
    pub processes: Option<usize>,
    /// Where everything goes.
    pub out: PathBuf,
    /// The `leither-host` binary to start the nodes with.
    pub binary: PathBuf,
    /// Deliberately broken nodes (the check's own test): forge the chief's root from this pulse.
    pub forge_root_from_pulse: Option<u64>,
    /// Deliberately broken tallies (the check's own test): the chief counts every vote twice.
    pub double_count_votes: bool,
    /// Apply the scenario's latency and loss to every link in user space (`[emulation]`).
    pub emulate_network: bool,
}

/// A node process.
struct Proc {
    index: u32,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// A crash the cluster carries out.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Kill {
    /// The node.
    pub node: u32,
    /// When (ms of node time).
    pub at_ms: u64,
    /// When it is started again.
    pub restart_at_ms: Option<u64>,
}

/// Run the cluster and check it; `Ok` holds the summary (whose verdict may be a failure).
pub fn run(options: &Options) -> Result<report::ClusterSummary, ClusterError> {
    let (scenario, seed) = scenario_for(options)?;
    let file = &options.scenario;
    let mut world = simulator::sim::driver_world(&scenario, seed, file)?;
    let kills = kills(&scenario, seed, file, world.layout)?;
    let nodes = world.nodes.len();
    let clients = 1..=scenario.nodes.clients as usize;
    // The users reach their nodes through the nodes' control sockets (the clients' only). All
    // ports come from one call, so that no two of them can be the same.
    let control_count = if world.governance.is_some() { clients.clone().count() } else { 0 };
    let mut ports = free_ports(nodes + control_count)?;
    let mut control_ports = ports.split_off(nodes).into_iter();
    let addrs = ports;
    let controls: Vec<Option<SocketAddr>> = (0..nodes)
        .map(|i| if control_count > 0 && clients.contains(&i) { control_ports.next() } else { None })
        .collect();
    std::fs::create_dir_all(&options.out).map_err(io_error(format!("{}", options.out.display())))?;
    let scenario_copy = options.out.join("scenario.toml");
    std::fs::write(&scenario_copy, scenario.to_toml()).map_err(io_error("scenario copy"))?;
    // Every process builds the whole genesis before it can start: give them the time.
    let start_unix_ms = unix_ms() + 2_000 + 40 * nodes as u64;
    let mut procs = Vec::with_capacity(nodes);
    for index in 0..nodes {
        let dir = options.out.join(format!("node-{index}"));
        std::fs::create_dir_all(&dir).map_err(io_error(format!("{}", dir.display())))?;
        let file = NodeFile {
            node: NodeSection {
                index: index as u32,
                secret_key: config::to_hex(&world.key_seeds[index]),
                listen: addrs[index],
                data_dir: dir.clone(),
                control: controls[index],
            },
            genesis: GenesisSection {
                scenario: std::path::absolute(&scenario_copy).map_err(io_error("scenario path"))?,
                seed,
                start_unix_ms,
                duration_ms: Some(scenario.workload_stop_ms()),
            },
            peers: (0..nodes)
                .filter(|&i| i != index)
                .map(|i| Peer { index: i as u32, addr: addrs[i] })
                .collect(),
            limits: Limits::default(),
            faults: Faults {
                forge_root_from_pulse: options.forge_root_from_pulse.filter(|_| index == 0),
                abort_sealing_pulse: None,
                double_count_votes: options.double_count_votes && index == 0,
            },
            emulation: config::Emulation { enabled: options.emulate_network },
        };
        let path = dir.join("node.toml");
        let text = toml::to_string(&file).expect("a node file serialises");
        std::fs::write(&path, text).map_err(io_error(format!("{}", path.display())))?;
        procs.push(Proc { index: index as u32, config: path, log: dir.join("log.jsonl"), child: None });
    }
    let event_files =
        (0..nodes).map(|i| options.out.join(format!("node-{i}")).join("events.jsonl")).collect();
    let mut users = world.governance.take().map(|driver| {
        let pulse_ms = scenario.parameters.pulse_ms;
        users::Users::new(
            driver,
            world.ids.clone(),
            &world.key_seeds,
            controls.clone(),
            event_files,
            pulse_ms,
        )
    });
    for proc in &mut procs {
        spawn(proc, &options.binary)?;
    }
    let began = Instant::now();
    let to_node_ms = |unix: u64| unix.saturating_sub(start_unix_ms);
    let end_ms = scenario.duration_ms;
    let mut pending: Vec<(u64, u32, bool)> = kills
        .iter()
        .flat_map(|k| {
            std::iter::once((k.at_ms, k.node, false)).chain(k.restart_at_ms.map(|r| (r, k.node, true)))
        })
        .collect();
    pending.sort_unstable();
    let mut pending = pending.into_iter().peekable();
    // Processes that did not live and stop as told: a node must never crash.
    let mut failures = Vec::new();
    loop {
        let now_ms = to_node_ms(unix_ms());
        while let Some(&(at_ms, node, restart)) = pending.peek() {
            if at_ms > now_ms {
                break;
            }
            pending.next();
            let proc = &mut procs[node as usize];
            if restart {
                spawn(proc, &options.binary)?;
            } else if let Some(mut child) = proc.child.take() {
                child.kill().map_err(io_error(format!("kill node {node}")))?; // SIGKILL
                let _ = child.wait();
            }
        }
        if now_ms >= end_ms {
            break;
        }
        if let Some(users) = users.as_mut()
            && unix_ms() >= start_unix_ms
        {
            users.step(now_ms);
        }
        for proc in &mut procs {
            if let Some(child) = proc.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                tracing::error!(node = proc.index, %status, "node exited early; see {}", proc.log.display());
                failures.push(format!(
                    "node {} exited early ({status}); see {}",
                    proc.index,
                    proc.log.display()
                ));
                proc.child = None;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    failures.extend(stop_all(&mut procs));
    let wall_ms = began.elapsed().as_millis() as u64;
    let governance = users.map(users::Users::finish);
    let mut lines = Vec::new();
    for index in 0..nodes {
        let path = options.out.join(format!("node-{index}")).join("events.jsonl");
        lines.extend(events::read(&path).map_err(io_error(format!("{}", path.display())))?);
    }
    let initial_primary: BTreeMap<Prefix, u32> = (0..world.layout.leaves)
        .filter_map(|g| {
            let index = world.layout.first_primary + g;
            world.nodes[index].group().map(|group| (group, index as u32))
        })
        .collect();
    let index_of = world.ids.iter().enumerate().map(|(i, id)| (*id, i as u32)).collect();
    let mut verdict = check::check(
        &mut lines,
        world.layout,
        scenario.parameters.genesis_supply,
        &initial_primary,
        &index_of,
    );
    verdict.violations.extend(failures);
    let ran = report::Ran { processes: nodes, kills: &kills, lines: &lines, verdict, wall_ms, governance };
    let summary = report::summarise(&scenario, seed, ran);
    report::write(&options.out, &summary).map_err(io_error("summary"))?;
    Ok(summary)
}

/// The scenario, with its client count changed for `--processes`.
fn scenario_for(options: &Options) -> Result<(Scenario, u64), ClusterError> {
    let mut scenario = Scenario::load(&options.scenario)?;
    let seed = options.seed.unwrap_or(scenario.seed);
    let Some(wanted) = options.processes else { return Ok((scenario, seed)) };
    let layout = simulator::sim::driver_world(&scenario, seed, &options.scenario)?.layout;
    let bookkeepers = layout.nodes() - scenario.nodes.clients as usize;
    let unsupported = |problem: String| ClusterError::Unsupported {
        file: options.scenario.clone(),
        key: "nodes.clients".into(),
        problem,
    };
    if wanted <= bookkeepers + 1 {
        return Err(unsupported(format!(
            "--processes {wanted}: the genesis has {bookkeepers} bookkeepers and needs clients"
        )));
    }
    scenario.nodes.clients = (wanted - bookkeepers) as u32;
    let got = simulator::sim::driver_world(&scenario, seed, &options.scenario)?.layout.nodes();
    if got != wanted {
        return Err(unsupported(format!(
            "--processes {wanted}: with {} clients the group tree has {got} nodes; try {got}",
            scenario.nodes.clients
        )));
    }
    Ok((scenario, seed))
}

/// The scenario's declared crashes as kills: `faults.crashes` (durable ones only: a host
/// restarts from its log) and `faults.primary_crashes` (the groups the simulator would
/// choose). Partitions and churn are refused: the cluster does not fake them.
fn kills(
    scenario: &Scenario,
    seed: u64,
    file: &Path,
    layout: simulator::sim::Layout,
) -> Result<Vec<Kill>, ClusterError> {
    let unsupported = |key: &str, problem: &str| ClusterError::Unsupported {
        file: file.to_path_buf(),
        key: key.into(),
        problem: problem.into(),
    };
    let faults = &scenario.faults;
    if !faults.partitions.is_empty() {
        return Err(unsupported("faults.partitions", "a cluster cannot partition loopback yet"));
    }
    if faults.churn.is_some() {
        return Err(unsupported("faults.churn", "a cluster does not churn"));
    }
    // A host restarts from its durable log (D-040): a restart that loses state is not one.
    let durable_only = |volatile: bool, key: &str| match volatile {
        true => Err(unsupported(
            &format!("{key}.durable"),
            "a host restart is durable (D-040): only durable = true",
        )),
        false => Ok(()),
    };
    let mut kills = Vec::new();
    for (i, crash) in faults.crashes.iter().enumerate() {
        durable_only(crash.restart_at_ms.is_some() && !crash.durable, &format!("faults.crashes[{i}]"))?;
        let nodes = crash.nodes.resolve(scenario.nodes.clients).expect("a validated scenario");
        kills.extend(nodes.into_iter().map(|node| Kill {
            node,
            at_ms: crash.at_ms,
            restart_at_ms: crash.restart_at_ms,
        }));
    }
    for (i, crash) in faults.primary_crashes.iter().enumerate() {
        durable_only(
            crash.restart_at_ms.is_some() && !crash.durable,
            &format!("faults.primary_crashes[{i}]"),
        )?;
        for group in simulator::sim::crashing_groups(seed, layout.leaves, i as u64, crash.groups) {
            let node = (layout.first_primary + group as usize) as u32;
            kills.push(Kill { node, at_ms: crash.at_ms, restart_at_ms: crash.restart_at_ms });
        }
    }
    Ok(kills)
}

fn spawn(proc: &mut Proc, binary: &Path) -> Result<(), ClusterError> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&proc.log)
        .map_err(io_error(format!("{}", proc.log.display())))?;
    let child = Command::new(binary)
        .arg("node")
        .arg("--config")
        .arg(&proc.config)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(io_error("log"))?)
        .stderr(log)
        .spawn()
        .map_err(io_error(format!("start {}", binary.display())))?;
    proc.child = Some(child);
    Ok(())
}

/// SIGTERM to every node, then SIGKILL to any still up after 5 s; what did not stop cleanly.
fn stop_all(procs: &mut [Proc]) -> Vec<String> {
    let mut failures = Vec::new();
    for proc in procs.iter() {
        if let Some(child) = &proc.child {
            let _ = sigterm(child.id());
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for proc in procs.iter_mut() {
        let Some(mut child) = proc.child.take() else { continue };
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => break,
                Ok(Some(status)) => {
                    failures.push(format!("node {} ended with {status} after SIGTERM", proc.index));
                    break;
                }
                _ if Instant::now() >= deadline => {
                    tracing::warn!(node = proc.index, "no exit 5 s after SIGTERM: killed");
                    failures.push(format!("node {} did not stop within 5 s of SIGTERM", proc.index));
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
    failures
}

/// `n` loopback addresses with ports free now (bound and released: another program could take
/// one in between, and then that node's bind fails loudly).
fn free_ports(n: usize) -> Result<Vec<SocketAddr>, ClusterError> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(io_error("find free ports"))?;
    listeners.iter().map(|l| l.local_addr().map_err(io_error("local address"))).collect()
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Send SIGTERM to process `pid`.
pub fn sigterm(pid: u32) -> nix::Result<()> {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("a pid fits an i32"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM)
}
