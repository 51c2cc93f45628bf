//! A client's account proofs for balance-weighted governance (D-049): a member that votes on a
//! proposal of a balance-weighted organization asks a bookkeeper of its group for its account
//! under the root the proposal pinned (the root of the pulse it opened in), and sends the vote
//! with the proof; anyone may show the organization's own account the same way, so that the
//! quorum counts the money the members hold. A fetch is retried like a governance request and
//! given up (`GovGaveUp`) once its attempts run out or the group no longer holds the pulse.

use std::collections::BTreeMap;

use crate::consensus::root::AccountProof;
use crate::id::Id;
use crate::smt::RootSynopsis;

use super::governance::GovAction;
use super::{Message, NodeEvent, Output, ProofAnswer, Timer};

/// At most this many proof fetches wait for an answer; more are given up at once.
pub const PROOFS_IN_FLIGHT: usize = 64;

/// What a proof is fetched for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ProvenUse {
    /// The client's own vote on the proposal.
    Vote {
        /// For or against.
        yes: bool,
    },
    /// The organization's account, for the quorum.
    OrgAccount,
}

/// A fetch waiting for its proof.
#[derive(Clone, Debug)]
struct Fetch {
    org: Id,
    number: u64,
    account: Id,
    pulse: u64,
    then: ProvenUse,
    attempts: u32,
}

/// Where a proof request goes and how often it is tried.
pub(super) struct Asking {
    pub now_ms: u64,
    /// The bookkeeper acting for the account's group.
    pub bookkeeper: Id,
    pub retry_ms: u64,
    pub max_attempts: u32,
}

/// The fetches in flight, by the driver's tag.
#[derive(Clone, Debug, Default)]
pub(super) struct ProofFetches {
    fetches: BTreeMap<u64, Fetch>,
}

/// A proof arrived for a fetch: the governance request to send, under the driver's tag.
pub(super) struct Ready {
    pub org: Id,
    pub action: GovAction,
    pub tag: u64,
}

impl ProofFetches {
    /// Fetch `account`'s proof under the root of `pulse`, for `then` on `org`'s proposal
    /// `number`.
    #[allow(clippy::too_many_arguments)] // one fetch's fields, then where to send it
    pub(super) fn start(
        &mut self,
        (org, number, pulse): (Id, u64, u64),
        account: Id,
        then: ProvenUse,
        tag: u64,
        at: &Asking,
        out: &mut Vec<Output>,
    ) {
        if self.fetches.len() >= PROOFS_IN_FLIGHT || self.fetches.contains_key(&tag) {
            out.push(Output::Event(NodeEvent::GovGaveUp { tag }));
            return;
        }
        let fetch = Fetch { org, number, account, pulse, then, attempts: 0 };
        self.send(tag, fetch, at, out);
    }

    fn send(&mut self, tag: u64, mut fetch: Fetch, at: &Asking, out: &mut Vec<Output>) {
        fetch.attempts += 1;
        let msg = Message::ProveAccount { account: fetch.account, pulse: fetch.pulse };
        out.push(Output::Send { to: at.bookkeeper, msg });
        out.push(Output::SetTimer {
            at_ms: at.now_ms.saturating_add(at.retry_ms),
            timer: Timer::ProofRetry { tag },
        });
        self.fetches.insert(tag, fetch);
    }

    /// The account fetch `tag` is about, if it is in flight (where its retry goes).
    pub(super) fn account_of(&self, tag: u64) -> Option<Id> {
        self.fetches.get(&tag).map(|f| f.account)
    }

    /// Fetch `tag`'s retry timer fired: ask again, or give up after the attempts.
    pub(super) fn retry(&mut self, tag: u64, at: &Asking, out: &mut Vec<Output>) {
        let Some(fetch) = self.fetches.remove(&tag) else { return };
        if fetch.attempts >= at.max_attempts {
            out.push(Output::Event(NodeEvent::GovGaveUp { tag }));
            return;
        }
        self.send(tag, fetch, at, out);
    }

    /// A bookkeeper of `account`'s group (`group`) answered for `pulse`: every fetch it satisfies is
    /// ready; a group that no longer holds the pulse gives them up; one that does not hold it
    /// yet leaves them to their retries. An answer nobody waits for (a duplicate, a late
    /// one) is dropped; a proof of another account or that does not verify is refused.
    pub(super) fn answer(
        &mut self,
        (account, pulse, group): (Id, u64, crate::id::Prefix),
        answer: &ProofAnswer,
        out: &mut Vec<Output>,
    ) -> Result<Vec<Ready>, super::NodeError> {
        let waiting: Vec<u64> = self
            .fetches
            .iter()
            .filter(|(_, f)| f.account == account && f.pulse == pulse)
            .map(|(t, _)| *t)
            .collect();
        if waiting.is_empty() {
            return Ok(Vec::new());
        }
        let proof = match answer {
            ProofAnswer::Proven { root, proof } => checked((root, &group), proof, account)?,
            ProofAnswer::NotHeld { oldest, .. } => {
                if pulse < *oldest {
                    for tag in waiting {
                        self.fetches.remove(&tag);
                        out.push(Output::Event(NodeEvent::GovGaveUp { tag }));
                    }
                }
                return Ok(Vec::new());
            }
        };
        let ready = waiting.into_iter().map(|tag| {
            let fetch = self.fetches.remove(&tag).expect("just found");
            let proof = Box::new(proof.clone());
            let action = match fetch.then {
                ProvenUse::Vote { yes } => GovAction::VoteByBalance { number: fetch.number, yes, proof },
                ProvenUse::OrgAccount => GovAction::ProveOrgAccount { number: fetch.number, proof },
            };
            Ready { org: fetch.org, action, tag }
        });
        Ok(ready.collect())
    }

    /// A restart without durable state forgets the fetches: their tags.
    pub(super) fn forget(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.fetches).into_keys().collect()
    }

    /// The fetches to ask again after a durable restart.
    pub(super) fn resume(&self) -> Vec<u64> {
        self.fetches.keys().copied().collect()
    }

    pub(super) fn fingerprint(&self, hasher: &mut blake3::Hasher) {
        // Nothing while none waits, so a client that never fetched hashes as it did before.
        if self.fetches.is_empty() {
            return;
        }
        hasher.update(&(self.fetches.len() as u64).to_le_bytes());
        for (tag, f) in &self.fetches {
            hasher.update(&tag.to_le_bytes());
            hasher.update(&f.pulse.to_le_bytes());
            hasher.update(&f.attempts.to_le_bytes());
        }
    }
}

/// The proof, if it shows `account`, comes from `group` (the account's) and verifies under
/// `root`. The client cannot tell the root is the one its proposal pinned: the root committee
/// checks that.
fn checked(
    (root, group): (&RootSynopsis, &crate::id::Prefix),
    proof: &AccountProof,
    account: Id,
) -> Result<AccountProof, super::NodeError> {
    if proof.account.key != account {
        return Err(super::NodeError::ProofOfOtherAccount { asked: account, shown: proof.account.key });
    }
    proof.verify_in(root, group).map_err(super::NodeError::BadProof)?;
    Ok(proof.clone())
}
