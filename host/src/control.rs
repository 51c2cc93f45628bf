//! The node's control socket (`[node] control`): where the node's user — an application on
//! the same machine, or the cluster's stand-in for people — hands it requests. One JSON object
//! a line; each is answered with one line: `{"queued": TAG}` once the request joined the
//! node's inputs (it is made durable with the next batch, like every input), or
//! `{"error": "…"}` naming what was wrong, and the connection stays open. What the request
//! came to is in the node's events (`gov_answered`, `gov_gave_up`), as a transfer's is.
//!
//! ```text
//! {"gov": {"org": "<40 hex digits>", "tag": 7, "action": "<hex of the action's wire encoding>"}}
//! {"pay": {"from": "<40 hex digits>", "to": "<40 hex digits>", "amount": 500, "tag": 8}}
//! ```
//!
//! `pay` is a transfer from the node's own account or from one whose key it holds (D-046);
//! its outcome is the node's `committed`, `refused`, `abandoned` or `lost` event.
//!
//! Bounds: a line is at most [`CONTROL_LINE_MAX`] bytes (a longer one closes the connection:
//! the rest of it cannot be told from the next request), at most [`CONTROL_CONNECTIONS_MAX`]
//! connections at once; a request waits for room in the node's inbound queue, so a fast user
//! is slowed down rather than dropped. Only a loopback address may be configured: the socket
//! is not authenticated, whoever reaches it speaks for the node's key.

use std::net::SocketAddr;
use std::sync::Arc;

use reference::Id;
use reference::node::Command;
use reference::node::governance::GovAction;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};

use crate::transport::Inbound;

/// The longest request line, in bytes (a governance action is well under 1 KiB).
pub const CONTROL_LINE_MAX: usize = 64 * 1024;
/// Connections served at once; more wait to be accepted.
pub const CONTROL_CONNECTIONS_MAX: usize = 8;

/// One request on the control socket.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// A governance request, signed by the node and sent to the root committee.
    Gov {
        /// The organization's Id, hex.
        org: String,
        /// The user's handle of the request: its answer's event carries it.
        tag: u64,
        /// The action, hex of its wire encoding.
        action: String,
    },
    /// A transfer from the node's own account or one whose key it holds (D-046: the
    /// organization's, at its founder's node), through the transfer flow.
    Pay {
        /// The paying account's Id, hex.
        from: String,
        /// The payee's Id, hex.
        to: String,
        /// The amount.
        amount: u64,
        /// The user's handle of the transfer: its outcome's event carries it.
        tag: u64,
    },
    /// A balance-weighted vote (D-049): the node fetches its account's proof under the root of
    /// the proposal's opening pulse and sends the vote with it.
    VoteByBalance {
        /// The organization's Id, hex.
        org: String,
        /// The proposal.
        number: u64,
        /// The pulse it opened in.
        opened_pulse: u64,
        /// For or against.
        yes: bool,
        /// The user's handle: the answer's event carries it.
        tag: u64,
    },
    /// Show the organization's account under a proposal's pinned root (D-049).
    ProveOrgAccount {
        /// The organization's Id, hex.
        org: String,
        /// The proposal.
        number: u64,
        /// The pulse it opened in.
        opened_pulse: u64,
        /// The user's handle: the answer's event carries it.
        tag: u64,
    },
}

/// The answer to one request line.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// Joined the node's inputs.
    Queued(u64),
    /// Refused, and why.
    Error(String),
}

impl Request {
    /// The governance request for `org` with `tag` and `action`.
    pub fn gov(org: Id, tag: u64, action: &GovAction) -> Request {
        Request::Gov { org: crate::config::to_hex(&org.0), tag, action: crate::events::blob(action) }
    }

    /// A transfer of `amount` from `from` to `to` with `tag`.
    pub fn pay(from: Id, to: Id, amount: u64, tag: u64) -> Request {
        let hex = |id: Id| crate::config::to_hex(&id.0);
        Request::Pay { from: hex(from), to: hex(to), amount, tag }
    }

    /// The request that asks a node for a user's governance `command`; `None` for a payment
    /// (asked with [`Request::pay`]).
    pub fn governance(command: &Command) -> Option<Request> {
        let hex = |id: &Id| crate::config::to_hex(&id.0);
        Some(match command {
            Command::Gov { org, action, tag } => Request::gov(*org, *tag, action),
            Command::VoteByBalance { org, number, opened_pulse, yes, tag } => Request::VoteByBalance {
                org: hex(org),
                number: *number,
                opened_pulse: *opened_pulse,
                yes: *yes,
                tag: *tag,
            },
            Command::ProveOrgAccount { org, number, opened_pulse, tag } => Request::ProveOrgAccount {
                org: hex(org),
                number: *number,
                opened_pulse: *opened_pulse,
                tag: *tag,
            },
            Command::Transfer { .. } | Command::TransferFrom { .. } => return None,
        })
    }

    /// The node command this asks for, or what is wrong with it.
    pub fn command(self) -> Result<(u64, Command), String> {
        match self {
            Request::VoteByBalance { org, number, opened_pulse, yes, tag } => {
                let org = id_of(&org, "vote_by_balance.org")?;
                Ok((tag, Command::VoteByBalance { org, number, opened_pulse, yes, tag }))
            }
            Request::ProveOrgAccount { org, number, opened_pulse, tag } => {
                let org = id_of(&org, "prove_org_account.org")?;
                Ok((tag, Command::ProveOrgAccount { org, number, opened_pulse, tag }))
            }
            Request::Gov { org, tag, action } => {
                let org = id_of(&org, "gov.org")?;
                let action: GovAction =
                    crate::events::unblob(&action).map_err(|e| format!("gov.action: {e}"))?;
                Ok((tag, Command::Gov { org, action, tag }))
            }
            Request::Pay { from, to, amount, tag } => {
                let (from, to) = (id_of(&from, "pay.from")?, id_of(&to, "pay.to")?);
                if amount == 0 {
                    return Err("pay.amount: must be above 0".into());
                }
                Ok((tag, Command::TransferFrom { from, to, amount, tag }))
            }
        }
    }
}

/// The Id in hex `text`, or what is wrong with it, named by `key`.
fn id_of(text: &str, key: &str) -> Result<Id, String> {
    let bytes: [u8; 20] = crate::events::unhex(text)
        .and_then(|b| b.try_into().map_err(|_| "not 20 bytes".to_string()))
        .map_err(|e| format!("{key}: {e}"))?;
    Ok(Id(bytes))
}

/// Serve the control socket on `listener`, handing each request to the node as `inbound`.
pub fn start(listener: TcpListener, inbound: mpsc::Sender<Inbound>, index: u32) {
    let slots = Arc::new(Semaphore::new(CONTROL_CONNECTIONS_MAX));
    tokio::spawn(async move {
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else { return };
            let Ok((stream, from)) = listener.accept().await else { continue };
            let inbound = inbound.clone();
            tokio::spawn(async move {
                if let Err(reason) = serve(stream, &inbound).await {
                    tracing::warn!(node = index, %from, %reason, "control connection closed");
                }
                drop(permit);
            });
        }
    });
}

/// Whether `addr` may carry a control socket: the socket is unauthenticated.
pub fn allowed(addr: SocketAddr) -> bool {
    addr.ip().is_loopback()
}

async fn serve(stream: TcpStream, inbound: &mpsc::Sender<Inbound>) -> Result<(), String> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        let got = (&mut lines)
            .take(CONTROL_LINE_MAX as u64 + 1)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| e.to_string())?;
        if got == 0 {
            return Ok(());
        }
        if line.last() != Some(&b'\n') {
            let why = format!("a line longer than {CONTROL_LINE_MAX} bytes, or cut short");
            let _ = reply(&mut write, &Reply::Error(why.clone())).await;
            return Err(why);
        }
        let answer = match parse(&line) {
            Ok((tag, command)) => {
                inbound.send(Inbound::Control(command)).await.map_err(|_| "the node stopped")?;
                Reply::Queued(tag)
            }
            Err(why) => Reply::Error(why),
        };
        reply(&mut write, &answer).await?;
    }
}

fn parse(line: &[u8]) -> Result<(u64, Command), String> {
    let request: Request = serde_json::from_slice(line).map_err(|e| format!("request: {e}"))?;
    request.command()
}

async fn reply(write: &mut tokio::net::tcp::OwnedWriteHalf, answer: &Reply) -> Result<(), String> {
    let mut text = serde_json::to_vec(answer).expect("a reply serialises");
    text.push(b'\n');
    write.write_all(&text).await.map_err(|e| e.to_string())
}
