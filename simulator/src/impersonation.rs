//! Impersonating primaries (SPEC §14, D-039): leaf primaries that hold only their own keys and
//! sign in another bookkeeper's name. Whenever the acting chief broadcasts a pulse, each
//! impersonator broadcasts a forged one — the same pulse with one bit of its root hash
//! flipped, claiming the chief's key; whenever it reports its own seal to the chief, it also
//! sends a forged report for its victim's group (another leaf group), claiming the victim
//! primary's key. Both are sealed with the impersonator's own key, since it has no other: the
//! receivers' signature check is all that stands between them and a forged root (I6) or a
//! forged group synopsis. The run counts what was sent, delivered and refused; an envelope a
//! receiver took instead of refusing is counted as taken (honest nodes: never).

use rand_chacha::ChaCha8Rng;
use reference::consensus::settlement::GroupReport;
use reference::crypto::PublicKey;
use reference::node::{Envelope, Message, SharedSigner, To};
use serde::{Deserialize, Serialize};

use crate::rng::{self, Purpose};
use crate::scenario::{NodeIndex, Scenario};
use crate::sim::Layout;

/// What the impersonators did and what became of it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImpersonationCounts {
    /// Leaf primaries that impersonate.
    pub impersonators: u64,
    /// Forged pulses broadcast in the chief's name (a broadcast counts once).
    pub forged_pulses: u64,
    /// Forged group reports sent in another primary's name.
    pub forged_reports: u64,
    /// Forged envelopes that reached a running node.
    pub delivered: u64,
    /// Of those, the ones the receiver's envelope checks refused: for their signature, or (a
    /// forged pulse numbered like an envelope the chief sealed in the same millisecond) as a
    /// replay.
    pub refused: u64,
    /// Of those, the ones that passed the envelope checks: 0 unless the signature check is
    /// switched off.
    pub taken: u64,
}

/// The impersonating primaries of a run.
pub struct Impersonators {
    /// By node index: the signer of an impersonator and the primary it impersonates.
    role: Vec<Option<(SharedSigner, NodeIndex)>>,
    /// By node index: the latest report each victim sent (what a forged report of its group
    /// is made from); `None` for the other nodes, and for victims until they report.
    last_report: Vec<Option<GroupReport>>,
    /// By node index: whether someone impersonates the node.
    victim: Vec<bool>,
    /// What happened.
    pub counts: ImpersonationCounts,
}

impl std::fmt::Debug for Impersonators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Impersonators").field("counts", &self.counts).finish_non_exhaustive()
    }
}

impl Impersonators {
    /// Pick `impersonating_groups × leaves` of the leaf primaries with the adversary stream;
    /// each impersonates the next primary in index order. `signers` are every node's keys.
    pub fn new(
        scenario: &Scenario,
        seed: u64,
        layout: Layout,
        signers: &[SharedSigner],
    ) -> Option<Impersonators> {
        let share = scenario.adversaries.impersonating_groups;
        if share == 0.0 || layout.leaves < 2 {
            return None;
        }
        // Stream 3: 0 and 1 are the other adversaries', 2 the forging standbys'.
        let mut rng: ChaCha8Rng = rng::stream(seed, Purpose::Adversary, 3);
        let primaries = layout.first_primary..layout.first_backup();
        let mut order: Vec<usize> = primaries.clone().collect();
        rng::shuffle(&mut order, &mut rng);
        let count = ((share * layout.leaves as f64).round() as usize).max(1);
        let mut role = vec![None; layout.nodes()];
        let mut victim = vec![false; layout.nodes()];
        for index in order.into_iter().take(count) {
            let next = layout.first_primary + (index - layout.first_primary + 1) % layout.leaves;
            role[index] = Some((signers[index].clone(), next as NodeIndex));
            victim[next] = true;
        }
        let counts = ImpersonationCounts { impersonators: count as u64, ..ImpersonationCounts::default() };
        Some(Impersonators { role, last_report: vec![None; layout.nodes()], victim, counts })
    }

    /// The impersonators, in index order.
    pub fn indices(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.role.iter().enumerate().filter(|(_, r)| r.is_some()).map(|(i, _)| i as NodeIndex)
    }

    /// A forged copy of the chief's pulse `real`, broadcast by impersonator `by`: one bit of
    /// the root hash flipped, the chief's key claimed, the next sequence number (so that the
    /// replay fence lets it through and only the signature stops it).
    pub fn forge_pulse(&mut self, by: NodeIndex, real: &Envelope) -> Option<Envelope> {
        let (signer, _) = self.role.get(by as usize)?.as_ref()?;
        let Message::Pulse { pulse, root, views, seatings } = real.msg() else { return None };
        let mut root = *root;
        root.synopsis.hash.0[0] ^= 1;
        let forged = Message::Pulse { pulse: *pulse, root, views: views.clone(), seatings: seatings.clone() };
        self.counts.forged_pulses += 1;
        Some(Envelope::sign_as(signer.as_ref(), real.sender(), To::Everyone, real.seq() + 1, forged))
    }

    /// Note what leaf primary `from` sends to `to`; if `from` is an impersonator reporting its
    /// seal, a forged report of its victim's group for the same pulse, claiming the victim's
    /// key (`key_of` gives a node's key), sealed with sequence number `seq`.
    pub fn forge_report(
        &mut self,
        from: NodeIndex,
        to: reference::Id,
        msg: &Message,
        seq: u64,
        key_of: impl Fn(NodeIndex) -> PublicKey,
    ) -> Option<Envelope> {
        let Message::GroupSeal(report) = msg else { return None };
        if self.victim.get(from as usize) == Some(&true) {
            self.last_report[from as usize] = Some(report.as_ref().clone());
        }
        let (signer, victim) = self.role.get(from as usize)?.as_ref()?;
        let mut forged = self.last_report[*victim as usize].clone()?;
        forged.pulse = report.pulse;
        forged.entry.synopsis.hash.0[0] ^= 1;
        self.counts.forged_reports += 1;
        let forged = Message::GroupSeal(Box::new(forged));
        Some(Envelope::sign_as(signer.as_ref(), key_of(*victim), To::Node(to), seq, forged))
    }
}
