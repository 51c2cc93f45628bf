//! The people of a cluster's organization (D-041, D-042): the simulator's own `GovDriver` —
//! who applies, endorses, approves, proposes and votes — run by the cluster process in real
//! time. At every pulse of node time it decides what its users ask, and hands each request to
//! the user's node through the node's control socket; it learns what the nodes learn by
//! reading their event files as they grow (answers, give-ups, closed proposals, and the
//! commits of the rewards it had the founder's node pay, D-046). So the
//! requests are signed, sent, applied and answered by the real hosts over their Noise links,
//! as in the simulator, and only the people are simulated.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use reference::Id;
use reference::crypto::Ed25519Signer;
use reference::node::governance::{GovAccepted, GovRefusal, GovResult};
use reference::node::{Command, SharedSigner};
use reference::org::ProposalKind;
use serde::Serialize;
use simulator::governance::{GovDriver, GovernanceCounts};

use crate::control::{Reply, Request};
use crate::events::{self, Ev, Line};

/// How long a node has to answer a control request: it only queues it.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(1);

/// The tags of reward payments start here, far above the workload's transfer tags (its
/// schedule's request numbers), so that the two never meet at the holder's node.
pub const REWARD_TAG_BASE: u64 = 1 << 48;

/// What the organization's users did in a cluster run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClusterGovernance {
    /// The driver's counts, as in a simulator's summary.
    pub counts: GovernanceCounts,
    /// Requests no node took (its process was down or its control socket did not answer).
    pub undelivered: u64,
    /// Event lines that did not decode (a bug: the check fails on any).
    pub undecodable: u64,
}

/// The growing end of one node's event file.
#[derive(Debug)]
struct Tail {
    path: PathBuf,
    offset: u64,
}

impl Tail {
    /// The complete lines added since the last call (a partial last line waits).
    fn read(&mut self, out: &mut Vec<Line>, undecodable: &mut u64) {
        let Ok(mut file) = std::fs::File::open(&self.path) else { return };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() {
            return;
        }
        let Some(end) = bytes.iter().rposition(|b| *b == b'\n') else { return };
        self.offset += end as u64 + 1;
        for text in bytes[..=end].split(|b| *b == b'\n').filter(|t| !t.is_empty()) {
            match serde_json::from_slice::<Line>(text) {
                Ok(line) => out.push(line),
                Err(_) => *undecodable += 1,
            }
        }
    }
}

/// The users, and their ways to their nodes.
pub struct Users {
    driver: GovDriver,
    ids: Vec<Id>,
    index_of: BTreeMap<Id, u32>,
    signers: Vec<SharedSigner>,
    pulse_ms: u64,
    next_tick_ms: u64,
    controls: Vec<Option<SocketAddr>>,
    connections: BTreeMap<u32, BufReader<TcpStream>>,
    tails: Vec<Tail>,
    /// Reward payments handed to the holder's node so far.
    rewards_sent: u64,
    report: ClusterGovernance,
}

impl Users {
    /// The users of `driver`'s organization; node `i` has the key `key_seeds[i]`, its
    /// control socket at `controls[i]` and its events in `event_files[i]`.
    pub fn new(
        driver: GovDriver,
        ids: Vec<Id>,
        key_seeds: &[[u8; 32]],
        controls: Vec<Option<SocketAddr>>,
        event_files: Vec<PathBuf>,
        pulse_ms: u64,
    ) -> Users {
        assert_eq!(ids.len(), key_seeds.len(), "one key per node");
        assert_eq!(ids.len(), controls.len(), "one control address per node");
        let signers =
            key_seeds.iter().map(|seed| Arc::new(Ed25519Signer::from_seed(*seed)) as SharedSigner).collect();
        Users {
            next_tick_ms: driver.first_tick_ms(),
            index_of: ids.iter().enumerate().map(|(i, id)| (*id, i as u32)).collect(),
            tails: event_files.into_iter().map(|path| Tail { path, offset: 0 }).collect(),
            driver,
            ids,
            signers,
            pulse_ms,
            controls,
            connections: BTreeMap::new(),
            rewards_sent: 0,
            report: ClusterGovernance::default(),
        }
    }

    /// Catch up with node time `now_ms`: what the nodes learnt, then every pulse's decisions
    /// due by now (each at its own pulse's time, as the simulator takes them).
    pub fn step(&mut self, now_ms: u64) {
        self.learn();
        while self.next_tick_ms <= now_ms {
            let signers = &self.signers;
            let signer = |index: u32| signers[index as usize].clone();
            let commands = self.driver.tick(self.next_tick_ms, &self.ids, &signer);
            for (node, command) in commands {
                self.deliver(node, command);
            }
            self.next_tick_ms += self.pulse_ms;
        }
    }

    /// What the users achieved (after a last read of the event files).
    pub fn finish(mut self) -> ClusterGovernance {
        self.learn();
        self.report.counts = self.driver.finish();
        self.report
    }

    fn learn(&mut self) {
        let mut lines = Vec::new();
        for tail in &mut self.tails {
            tail.read(&mut lines, &mut self.report.undecodable);
        }
        lines.sort_by_key(|l| l.t_ms); // stable: each node's order is kept
        for line in lines {
            self.learn_line(&line);
        }
        self.pay_rewards();
    }

    /// Hand every passed reward to the node holding the organization's key, as a transfer
    /// from the organization's account (D-046).
    fn pay_rewards(&mut self) {
        let (org, holder) = (self.driver.org(), self.driver.holder());
        for (to, amount) in self.driver.payments() {
            let tag = REWARD_TAG_BASE + self.rewards_sent;
            self.rewards_sent += 1;
            self.driver.paying(tag, (to, amount));
            if self.send(holder, &Request::pay(org, to, amount, tag)).is_err() {
                self.connections.remove(&holder);
                self.report.undelivered += 1;
            }
        }
    }

    fn learn_line(&mut self, line: &Line) {
        match &line.ev {
            Ev::GovAnswered { tag, pulse, accepted, refused } => match answer(accepted, refused) {
                Ok(result) => self.driver.answered(line.t_ms, (*tag, *pulse), result, &self.ids),
                Err(_) => self.report.undecodable += 1,
            },
            Ev::GovGaveUp { tag } => self.driver.gave_up(*tag),
            Ev::Committed { tag, .. } if *tag >= REWARD_TAG_BASE => {
                let index_of = &self.index_of;
                self.driver.transfer_committed(*tag, &|id: &Id| index_of.get(id).copied());
            }
            // As in the simulator, the users learn outcomes from their own nodes (D-050).
            Ev::ProposalLearnt { number, kind, passed, .. } => match events::unblob::<ProposalKind>(kind) {
                Ok(kind) => {
                    let index_of = &self.index_of;
                    self.driver.closed(*number, &kind, *passed, &|id: &Id| index_of.get(id).copied())
                }
                Err(_) => self.report.undecodable += 1,
            },
            _ => {}
        }
    }

    /// Hand `command` to node `node` through its control socket.
    fn deliver(&mut self, node: u32, command: Command) {
        let Some(request) = Request::governance(&command) else {
            unreachable!("the users only ask governance of their nodes")
        };
        let tag = command_tag(&command);
        if self.send(node, &request).is_err() {
            // Its process is down (killed, not yet restarted) or stuck: as in the simulator, a
            // request to a node that is down is not made.
            self.connections.remove(&node);
            self.report.undelivered += 1;
            self.driver.gave_up(tag);
        }
    }

    fn send(&mut self, node: u32, request: &Request) -> Result<(), String> {
        let connection = match self.connections.entry(node) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let addr = self.controls[node as usize].ok_or("no control socket")?;
                let stream = TcpStream::connect_timeout(&addr, CONTROL_TIMEOUT).map_err(|e| e.to_string())?;
                stream.set_read_timeout(Some(CONTROL_TIMEOUT)).map_err(|e| e.to_string())?;
                stream.set_write_timeout(Some(CONTROL_TIMEOUT)).map_err(|e| e.to_string())?;
                e.insert(BufReader::new(stream))
            }
        };
        let mut text = serde_json::to_vec(request).expect("a request serialises");
        text.push(b'\n');
        connection.get_mut().write_all(&text).map_err(|e| e.to_string())?;
        let mut reply = String::new();
        connection.read_line(&mut reply).map_err(|e| e.to_string())?;
        match serde_json::from_str::<Reply>(&reply).map_err(|e| format!("reply {reply:?}: {e}"))? {
            Reply::Queued(_) => Ok(()),
            Reply::Error(why) => Err(why),
        }
    }
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users")
            .field("driver", &self.driver)
            .field("next_tick_ms", &self.next_tick_ms)
            .field("connections", &self.connections.len())
            .finish_non_exhaustive()
    }
}

/// A `gov_answered` line's result back.
fn answer(accepted: &Option<String>, refused: &Option<String>) -> Result<GovResult, String> {
    match (accepted, refused) {
        (Some(a), None) => Ok(Ok(events::unblob::<GovAccepted>(a)?)),
        (None, Some(r)) => Ok(Err(events::unblob::<GovRefusal>(r)?)),
        _ => Err("an answer is accepted or refused".into()),
    }
}

/// The user's handle of a governance command.
fn command_tag(command: &Command) -> u64 {
    match command {
        Command::Gov { tag, .. }
        | Command::VoteByBalance { tag, .. }
        | Command::ProveOrgAccount { tag, .. }
        | Command::Transfer { tag, .. }
        | Command::TransferFrom { tag, .. } => *tag,
    }
}
