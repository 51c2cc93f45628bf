//! The state a committee member sends one out of step (D-032, D-033): plain data, not the
//! sender's object — its group's books as of a seal and, from a root member, the chief's state
//! with its co-signing — built by [`Books::snapshot`], checked by [`Snapshot::check`] and
//! adopted by [`Bookkeeper::adopt_snapshot`], so that a wire can carry it.

use std::collections::BTreeMap;

use super::replication::Replication;
use super::root_committee::RootCommittee;
use crate::consensus::capacity::Capacity;
use crate::consensus::root::GroupPath;
use crate::consensus::settlement::GroupReport;
use crate::crypto::Hash32;
use crate::id::{Id, Prefix};
use crate::ledger::{Applied, Half, Ledger, Settlement, SignedTx, Tx};
use crate::node::NodeError;
use crate::node::roster::{ViewEntry, Views};
use crate::smt::RootSynopsis;

use super::{Bookkeeper, Books, Notice, OpenHalf, Role, Root};

/// A group's books as of the seal that built a snapshot's report, and the role state a root
/// member's replay rebuilds. What is the receiver's own — its Id, keys, configuration, whether
/// it acts, the pulse lists it learnt, its fault switches — is not in it.
#[derive(Clone, Debug)]
pub(in crate::node) struct Snapshot {
    pulse: u64,
    /// The ledger with the versions the sender keeps (the snapshot's seal the latest).
    ledger: Ledger,
    root: Option<(RootSynopsis, GroupPath)>,
    /// Each payer's latest sealed transfer `(nonce, id)`.
    last_sealed: Vec<(Id, (u64, Hash32))>,
    /// What the sender applied after the seal (the chief's own orders, deferred submissions):
    /// transfer ids, credits, settlements.
    unsealed_ids: Vec<Hash32>,
    credited: Vec<Applied>,
    settled: Vec<(Hash32, Half, Settlement)>,
    unsealed_settlements: Vec<(Hash32, Half, Tx, Settlement)>,
    /// The open halves, by transfer id.
    open: Vec<(Hash32, OpenHalf)>,
    closed_credits: Vec<(Hash32, u64)>,
    notices: Vec<Notice>,
    heard_root: Option<RootSynopsis>,
    capacity: Option<Capacity>,
    deferred: Vec<SignedTx>,
    views: Views,
    /// The replication log the receiver serves on from.
    replica: Option<Replication>,
    /// From a root member: the chief's state and its co-signing.
    root_role: Option<Root>,
}

impl Books {
    /// This member's books as a snapshot, with `role`'s state if it is a root member.
    pub(super) fn snapshot(&self, role: &Role) -> Snapshot {
        let mut last_sealed: Vec<(Id, (u64, Hash32))> =
            self.last_sealed.iter().map(|(k, v)| (*k, *v)).collect();
        last_sealed.sort_unstable();
        let mut unsealed_ids: Vec<Hash32> = self.unsealed_ids.iter().copied().collect();
        unsealed_ids.sort_unstable();
        Snapshot {
            pulse: self.pulse,
            ledger: self.ledger.clone(),
            root: self.root.clone(),
            last_sealed,
            unsealed_ids,
            credited: self.credited.clone(),
            settled: self.settled.clone(),
            unsealed_settlements: self.unsealed_settlements.clone(),
            open: self.open.iter().map(|(id, open)| (*id, *open)).collect(),
            closed_credits: self.closed_credits.iter().map(|(id, pulse)| (*id, *pulse)).collect(),
            notices: self.notices.clone(),
            heard_root: self.heard_root,
            capacity: self.capacity,
            deferred: self.deferred.iter().copied().collect(),
            views: self.views.clone(),
            replica: match role.cosigning() {
                Some(root_committee) => Some(root_committee.log.clone()),
                None => self.replica.as_deref().cloned(),
            },
            root_role: role.root().cloned().map(Root::without_log),
        }
    }
}

impl Root {
    /// The role state a snapshot carries: the log goes once, as the snapshot's own.
    fn without_log(mut self) -> Root {
        if let Some(root_committee) = self.cosigning.as_deref_mut() {
            root_committee.log = Replication::default();
        }
        self
    }
}

impl Snapshot {
    /// The checks a receiver makes of the state itself: it is of the report's seal, and a root
    /// member's state comes from a root member.
    pub(super) fn check(&self, group: Prefix, report: &GroupReport) -> Result<(), NodeError> {
        let bad = NodeError::BadSnapshot { group };
        let from_root = self.root_role.is_some();
        if self.pulse != report.pulse || from_root != (group == Prefix::ROOT) {
            return Err(bad);
        }
        Ok(())
    }

    /// The ledger it carries.
    pub(super) fn ledger(&self) -> &Ledger {
        &self.ledger
    }
}

impl Bookkeeper {
    /// Become the snapshot's state as this member: Id, keys, configuration, fault switches and
    /// the pulse lists it learnt stay its own, and it does not act. A leaf member keeps its own
    /// views (with the sender's view of the group) and the newest root it followed; a root
    /// member takes the chief's views of the leaf groups with its own root view and votes, and
    /// would release the sender's last cycle (D-033).
    pub(super) fn adopt_snapshot(&mut self, from: Id, view: u32, report: &GroupReport, snapshot: &Snapshot) {
        let mut books = self.books_from(snapshot);
        let revision = self.registry().map_or(0, |r| r.revision());
        let role = match (self.role.cosigning_mut().map(std::mem::take), snapshot.root_role.clone()) {
            (Some(mine), Some(mut theirs)) => {
                let own_root: Vec<ViewEntry> =
                    self.books.views.entries().into_iter().filter(|e| e.group == Prefix::ROOT).collect();
                books.views.learn(&own_root);
                let sent = theirs.cosigning.take().map(|c| *c).unwrap_or_default();
                let mut replayed = sent.pending.or(sent.replayed);
                if let Some(closed) = replayed.as_mut() {
                    closed.cosigners.clear();
                }
                let cosigning = RootCommittee {
                    log: books.replica.take().map(|log| *log).unwrap_or_default(),
                    replayed,
                    cycle_events: Vec::new(),
                    buffered: Vec::new(),
                    stalled_ticks: 0,
                    ..mine
                };
                theirs.cosigning = Some(Box::new(cosigning));
                Role::Root(Box::new(theirs))
            }
            (_, root_role) => {
                books.views = std::mem::take(&mut self.books.views);
                books.views.learn(&[ViewEntry { group: self.books.group, view, primary: from }]);
                // The pulses it followed while waiting may be newer than the snapshot: ts never
                // goes back (I7).
                books.heard_root = self.books.heard_root.or(snapshot.heard_root);
                root_role.map_or(Role::Leaf, |root| Role::Root(Box::new(root)))
            }
        };
        // The link stays: its key and fences are the node's, not the group's (D-039).
        self.books = books;
        self.role = role;
        if let Some(root) = self.role.root_mut() {
            root.chief.registry.adopted(revision);
        }
        if let Some(replica) = self.log_mut() {
            replica.acked.clear();
            replica.current.clear();
            replica.state_wanted.clear();
            replica.early = None;
            replica.diverged = false;
            replica.last_attest = Some(report.clone());
        }
        assert!(!self.books.acting, "a member that adopts a state does not act");
        assert_eq!(self.books.pulse, report.pulse, "the state is that of the snapshot's seal");
    }

    /// This member's own parts with the snapshot's books.
    fn books_from(&self, snapshot: &Snapshot) -> Books {
        let own = &self.books;
        Books {
            id: own.id,
            group: own.group,
            ledger: snapshot.ledger.clone(),
            verifier: own.verifier.clone(),
            config: own.config.clone(),
            pulse: snapshot.pulse,
            root: snapshot.root.clone(),
            // A member that adopts another's ledger proves only under roots settled after.
            proven: Default::default(),
            last_sealed: snapshot.last_sealed.iter().copied().collect(),
            unsealed_ids: snapshot.unsealed_ids.iter().copied().collect(),
            open: snapshot.open.iter().copied().collect::<BTreeMap<_, _>>(),
            closed_credits: snapshot.closed_credits.iter().copied().collect(),
            notices: snapshot.notices.clone(),
            credited: snapshot.credited.clone(),
            settled: snapshot.settled.clone(),
            unsealed_settlements: snapshot.unsealed_settlements.clone(),
            heard_root: snapshot.heard_root,
            announced: own.announced.clone(),
            capacity: snapshot.capacity,
            deferred: snapshot.deferred.iter().copied().collect(),
            acting: false,
            views: snapshot.views.clone(),
            replica: snapshot.replica.clone().map(Box::new),
            replaying: false,
            #[cfg(feature = "fault-injection")]
            faults: own.faults,
        }
    }
}
