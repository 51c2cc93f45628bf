//! What a node was given, as the input log records it: every `start`, `restart`, envelope,
//! timer and command, with the local time it was given at. The `Node` is deterministic, so
//! replaying the log into a fresh node from the genesis rebuilds the very state it had (D-040).

use reference::Id;
use reference::crypto::Hash32;
use reference::node::governance::GovAction;
use reference::node::{Command, Envelope, Timer};
use reference::wire::{self, Decode, DecodeError, Encode, Problem, Reader, Writer};

/// One input to a node.
#[derive(Clone, Debug)]
pub enum Input {
    /// The node started from its genesis.
    Start,
    /// The node restarted from its log (durable, D-011).
    Restart,
    /// An envelope arrived; `frame` is its wire encoding, as received.
    Message {
        /// The decoded envelope.
        envelope: Box<Envelope>,
        /// Its bytes.
        frame: Vec<u8>,
    },
    /// A timer fired.
    Timer(Timer),
    /// The user asked for something.
    Command(Command),
}

/// An input and the local time it was given at.
#[derive(Clone, Debug)]
pub struct Record {
    /// Local time (ms).
    pub now_ms: u64,
    /// The input.
    pub input: Input,
}

impl Record {
    /// Its bytes in the log.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u64(self.now_ms);
        match &self.input {
            Input::Start => w.u8(0),
            Input::Restart => w.u8(1),
            Input::Message { frame, .. } => {
                w.u8(2);
                w.len_prefix(frame.len());
                w.bytes(frame);
            }
            Input::Timer(Timer::Pulse) => w.u8(3),
            Input::Timer(Timer::Retry { tx_id }) => {
                w.u8(4);
                w.bytes(&tx_id.0);
            }
            Input::Command(Command::Transfer { to, amount, tag }) => {
                w.u8(5);
                w.bytes(&to.0);
                w.u64(*amount);
                w.u64(*tag);
            }
            Input::Timer(Timer::GovRetry { nonce }) => {
                w.u8(6);
                w.u64(*nonce);
            }
            Input::Command(Command::Gov { org, action, tag }) => {
                w.u8(7);
                w.bytes(&org.0);
                action.encode(&mut w);
                w.u64(*tag);
            }
            Input::Command(Command::TransferFrom { from, to, amount, tag }) => {
                w.u8(8);
                w.bytes(&from.0);
                w.bytes(&to.0);
                w.u64(*amount);
                w.u64(*tag);
            }
            Input::Timer(Timer::ProofRetry { tag }) => {
                w.u8(9);
                w.u64(*tag);
            }
            Input::Command(Command::VoteByBalance { org, number, opened_pulse, yes, tag }) => {
                w.u8(10);
                w.bytes(&org.0);
                w.u64(*number);
                w.u64(*opened_pulse);
                w.u8(u8::from(*yes));
                w.u64(*tag);
            }
            Input::Command(Command::ProveOrgAccount { org, number, opened_pulse, tag }) => {
                w.u8(11);
                w.bytes(&org.0);
                w.u64(*number);
                w.u64(*opened_pulse);
                w.u64(*tag);
            }
        }
        w.into_bytes()
    }

    /// Read a record back.
    pub fn decode(bytes: &[u8]) -> Result<Record, DecodeError> {
        let mut r = Reader::new(bytes);
        let now_ms = r.u64("Record.now_ms")?;
        let input = match r.u8("Record.kind")? {
            0 => Input::Start,
            1 => Input::Restart,
            2 => {
                let len = r.len_prefix(1, "Record.frame")?;
                let frame = r.take(len, "Record.frame")?.to_vec();
                let envelope = Box::new(wire::decode_envelope(&frame)?);
                Input::Message { envelope, frame }
            }
            3 => Input::Timer(Timer::Pulse),
            4 => Input::Timer(Timer::Retry { tx_id: Hash32(r.array("Record.tx_id")?) }),
            5 => Input::Command(Command::Transfer {
                to: Id(r.array("Record.to")?),
                amount: r.u64("Record.amount")?,
                tag: r.u64("Record.tag")?,
            }),
            6 => Input::Timer(Timer::GovRetry { nonce: r.u64("Record.nonce")? }),
            7 => Input::Command(Command::Gov {
                org: Id(r.array("Record.org")?),
                action: GovAction::decode(&mut r, "Record.action")?,
                tag: r.u64("Record.tag")?,
            }),
            8 => Input::Command(Command::TransferFrom {
                from: Id(r.array("Record.from")?),
                to: Id(r.array("Record.to")?),
                amount: r.u64("Record.amount")?,
                tag: r.u64("Record.tag")?,
            }),
            9 => Input::Timer(Timer::ProofRetry { tag: r.u64("Record.tag")? }),
            10 => Input::Command(Command::VoteByBalance {
                org: Id(r.array("Record.org")?),
                number: r.u64("Record.number")?,
                opened_pulse: r.u64("Record.opened_pulse")?,
                yes: match r.u8("Record.yes")? {
                    0 => false,
                    1 => true,
                    other => return Err(r.error("Record.yes", Problem::Tag(other))),
                },
                tag: r.u64("Record.tag")?,
            }),
            11 => Input::Command(Command::ProveOrgAccount {
                org: Id(r.array("Record.org")?),
                number: r.u64("Record.number")?,
                opened_pulse: r.u64("Record.opened_pulse")?,
                tag: r.u64("Record.tag")?,
            }),
            tag => return Err(r.error("Record.kind", Problem::Tag(tag))),
        };
        r.finish()?;
        Ok(Record { now_ms, input })
    }
}
