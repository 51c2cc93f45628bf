//! The host's integration tests: node files, bad peers, durability across kills, and clusters
//! of processes checked by the simulator's checker.

mod bad_peers;
mod cluster;
mod config;
mod control;
mod durability;
mod link;
mod records;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use host::config::{Faults, GenesisSection, Limits, NodeFile, NodeSection, Peer};
use host::events::{Ev, Line};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_leither-host"))
}

/// A file of the workspace.
pub fn workspace(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// A fresh directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("leither-host-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

pub fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_millis() as u64
}

/// A free loopback address.
pub fn free_addr() -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    l.local_addr().expect("an address")
}

/// The node file of node `index` of the solo genesis (`solo.toml`, seed 7).
pub fn solo_file(dir: &Path, index: u32, limits: Limits, faults: Faults, start_unix_ms: u64) -> NodeFile {
    let scenario =
        simulator::scenario::Scenario::load(&workspace("host/tests/it/solo.toml")).expect("solo.toml");
    let world = simulator::sim::driver_world(&scenario, 7, Path::new("solo.toml")).expect("its genesis");
    NodeFile {
        node: NodeSection {
            index,
            secret_key: host::config::to_hex(&world.key_seeds[index as usize]),
            listen: free_addr(),
            data_dir: dir.to_path_buf(),
            control: None,
        },
        genesis: GenesisSection {
            scenario: workspace("host/tests/it/solo.toml"),
            seed: 7,
            start_unix_ms,
            duration_ms: None,
        },
        peers: Vec::<Peer>::new(),
        limits,
        faults,
        emulation: Default::default(),
    }
}

/// A node process under test.
#[derive(Debug)]
pub struct Proc {
    pub child: Child,
    pub dir: PathBuf,
}

impl Proc {
    /// Write `file` into its data directory and start the node.
    pub fn start(file: &NodeFile) -> Proc {
        let dir = file.node.data_dir.clone();
        let config = dir.join("node.toml");
        std::fs::write(&config, toml::to_string(file).expect("serialises")).expect("write node.toml");
        let log = std::fs::File::create(dir.join(format!("log-{}.jsonl", unix_ms()))).expect("a log file");
        let child = Command::new(bin())
            .args(["node", "--config"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("leither-host starts");
        Proc { child, dir }
    }

    /// Every event line so far.
    pub fn lines(&self) -> Vec<Line> {
        host::events::read(&self.dir.join("events.jsonl")).unwrap_or_default()
    }

    /// Wait until some line satisfies `pred` (panics after `limit_ms`).
    pub fn wait_for(&mut self, what: &str, limit_ms: u64, pred: impl Fn(&Line) -> bool) -> Line {
        let deadline = Instant::now() + Duration::from_millis(limit_ms);
        loop {
            if let Some(line) = self.lines().into_iter().find(&pred) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {limit_ms} ms; lines: {:?}",
                self.lines().last()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether it still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM; its exit status.
    pub fn term(mut self) -> std::process::ExitStatus {
        host::cluster::sigterm(self.child.id()).expect("SIGTERM sent");
        self.child.wait().expect("it exits")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The pulses a node sealed, in its file's order.
pub fn sealed_pulses(lines: &[Line]) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|l| if let Ev::Sealed { pulse, .. } = l.ev { Some(pulse) } else { None })
        .collect()
}
