//! A node's TOML file (`leither-host node --config FILE`), validated with the care a scenario
//! gets: unknown keys, wrong types and values out of range are errors naming the file, the
//! line and the key; a secret key that is not the node's of the named genesis is refused.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use simulator::scenario::{Scenario, ScenarioError};

/// What is wrong with a node file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Not readable, not TOML, or a key unknown, missing or of the wrong type.
    #[error(transparent)]
    Toml(#[from] ScenarioError),
    /// A value of the right type that is not allowed.
    #[error("{file}: `{key}`: {problem}")]
    Invalid {
        /// The file.
        file: PathBuf,
        /// Dotted key path.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// A node's file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// Who the node is and where it keeps its state.
    pub node: NodeSection,
    /// The genesis every node of the cluster builds.
    pub genesis: GenesisSection,
    /// The other nodes and where they listen.
    #[serde(default)]
    pub peers: Vec<Peer>,
    /// Bounds on every buffer, queue and rate.
    #[serde(default)]
    pub limits: Limits,
    /// Deliberately broken behaviour (built with `fault-injection` only).
    #[serde(default)]
    pub faults: Faults,
    /// The scenario's network applied to this node's outgoing frames in user space.
    #[serde(default)]
    pub emulation: Emulation,
}

/// `[emulation]`: where the kernel has no `netem` (D-040), the dialler itself delays each
/// outgoing frame by a draw of the scenario's `network.latency` and drops it with probability
/// `network.drop` — the simulator's network model on real sockets. Frames keep their order on
/// a link (as TCP would), so a frame waits for the ones before it.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Emulation {
    /// Apply the scenario's latency and loss.
    pub enabled: bool,
}

/// `[node]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// The node's index in the genesis (chief 0, clients, then bookkeepers: the simulator's
    /// order).
    pub index: u32,
    /// The node's ed25519 secret key, 64 hex digits.
    pub secret_key: String,
    /// Where it listens for its peers.
    pub listen: SocketAddr,
    /// Its directory: `node.redb` (the input log), `events.jsonl` (its events).
    pub data_dir: PathBuf,
    /// Where its user hands it requests (`control`): a loopback address, as the socket is
    /// not authenticated. None: no control socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<SocketAddr>,
}

/// `[genesis]`: the scenario whose genesis (roster, ledgers, keys' Ids, workload) the cluster
/// runs, and time 0 of every node's clock.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GenesisSection {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Its seed.
    pub seed: u64,
    /// Unix time (ms) that is time 0 of the node clocks.
    pub start_unix_ms: u64,
    /// How long the workload runs (ms of node time); the scenario's own length if absent.
    #[serde(default)]
    pub duration_ms: Option<u64>,
}

/// `[[peers]]`: one other node.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// Its index in the genesis.
    pub index: u32,
    /// Where it listens.
    pub addr: SocketAddr,
}

/// `[limits]`: the bound on everything that could grow (TigerBeetle's habit).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// The largest frame a peer may send (at most the wire's own `MAX_FRAME_BYTES`).
    pub max_frame_bytes: u32,
    /// Frames queued for one peer before more are dropped (a full link loses, never blocks).
    pub outbound_queue_frames: u32,
    /// Envelopes from all links waiting for the node.
    pub inbound_queue_frames: u32,
    /// Links accepted at once.
    pub max_connections: u32,
    /// A peer that has not finished its handshake by then is dropped.
    pub handshake_timeout_ms: u64,
    /// A frame begun must be complete by then.
    pub frame_timeout_ms: u64,
    /// A link silent this long is closed.
    pub idle_timeout_ms: u64,
    /// Frames per second one link may send (averaged over one second).
    pub peer_frames_per_s: u32,
    /// Bytes per second one link may send.
    pub peer_bytes_per_s: u64,
    /// Wait before dialling a peer again after a failure.
    pub reconnect_ms: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_frame_bytes: 4 << 20,
            outbound_queue_frames: 4096,
            inbound_queue_frames: 8192,
            max_connections: 256,
            handshake_timeout_ms: 2_000,
            frame_timeout_ms: 5_000,
            idle_timeout_ms: 30_000,
            peer_frames_per_s: 20_000,
            peer_bytes_per_s: 64 << 20,
            reconnect_ms: 200,
        }
    }
}

/// `[faults]`: a broken node for the cluster check's own test.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// From this pulse on the chief broadcasts a forged root (breaks I6).
    pub forge_root_from_pulse: Option<u64>,
    /// Die (abort, as a SIGKILL would) while committing the batch that holds the pulse timer
    /// of this pulse or a later one: before its records are durable — killed mid-seal.
    pub abort_sealing_pulse: Option<u64>,
    /// As a root committee member, count every vote twice (breaks I10).
    pub double_count_votes: bool,
}

/// A node file read and checked, with the scenario it names.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file's contents.
    pub file: NodeFile,
    /// Where it was read from.
    pub path: PathBuf,
    /// The scenario of `[genesis]`.
    pub scenario: Scenario,
    /// The node's secret key.
    pub secret_key: [u8; 32],
}

impl Config {
    /// Read and check `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ScenarioError::Io { file: path.to_path_buf(), source })?;
        let file: NodeFile = simulator::scenario::deserialize_schema(&text, path)?;
        let invalid = |key: &str, problem: String| ConfigError::Invalid {
            file: path.to_path_buf(),
            key: key.to_string(),
            problem,
        };
        let scenario_path = resolve(path, &file.genesis.scenario);
        let scenario = Scenario::load(&scenario_path)?;
        let secret_key = parse_key(&file.node.secret_key).map_err(|p| invalid("node.secret_key", p))?;
        file.limits.check().map_err(|(key, p)| invalid(&format!("limits.{key}"), p))?;
        check_peers(&file).map_err(|(key, p)| invalid(&key, p))?;
        if let Some(control) = file.node.control
            && !crate::control::allowed(control)
        {
            let problem =
                format!("{control} is not a loopback address: the control socket is not authenticated");
            return Err(invalid("node.control", problem));
        }
        if cfg!(not(feature = "fault-injection")) && file.faults != Faults::default() {
            return Err(invalid("faults", "this build has no fault injection".into()));
        }
        Ok(Config { file, path: path.to_path_buf(), scenario, secret_key })
    }

    /// The scenario file, relative to the node file's directory if not absolute.
    pub fn scenario_path(&self) -> PathBuf {
        resolve(&self.path, &self.file.genesis.scenario)
    }
}

/// `relative` read from the directory of `file`.
fn resolve(file: &Path, relative: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if relative.is_relative() => dir.join(relative),
        _ => relative.to_path_buf(),
    }
}

/// 64 hex digits.
pub fn parse_key(hex: &str) -> Result<[u8; 32], String> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("expected 64 hex digits, got {} characters", hex.len()));
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("checked hex digits");
    }
    Ok(key)
}

/// `bytes` as lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_peers(file: &NodeFile) -> Result<(), (String, String)> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, peer) in file.peers.iter().enumerate() {
        if peer.index == file.node.index {
            return Err((format!("peers[{i}].index"), "a node is not its own peer".into()));
        }
        if !seen.insert(peer.index) {
            return Err((format!("peers[{i}].index"), format!("node {} is listed twice", peer.index)));
        }
    }
    Ok(())
}

impl Limits {
    fn check(&self) -> Result<(), (&'static str, String)> {
        let max = reference::wire::MAX_FRAME_BYTES as u64;
        let frame = u64::from(self.max_frame_bytes);
        if !(1024..=max).contains(&frame) {
            return Err(("max_frame_bytes", format!("expected 1024..={max}, got {frame}")));
        }
        let positive: [(&'static str, u64); 9] = [
            ("outbound_queue_frames", self.outbound_queue_frames.into()),
            ("inbound_queue_frames", self.inbound_queue_frames.into()),
            ("max_connections", self.max_connections.into()),
            ("handshake_timeout_ms", self.handshake_timeout_ms),
            ("frame_timeout_ms", self.frame_timeout_ms),
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("peer_frames_per_s", self.peer_frames_per_s.into()),
            ("peer_bytes_per_s", self.peer_bytes_per_s),
            ("reconnect_ms", self.reconnect_ms),
        ];
        match positive.iter().find(|(_, v)| *v == 0) {
            Some((key, _)) => Err((key, "expected a positive number, got 0".into())),
            None => Ok(()),
        }
    }
}
