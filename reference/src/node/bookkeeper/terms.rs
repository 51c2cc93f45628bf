//! Terms and elections (SPEC §6.3, §6.4; D-032, D-035): the chief fails silent groups over,
//! seats each committee for a new term by the election beacon, elects committees from pools and
//! puts them in effect; every other node learns the seatings and follows the root.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::id::Id;
use crate::smt::RootSynopsis;

use super::{Bookkeeper, Books, Chief};
use crate::node::roster::{Seating, ViewEntry, Views};
use crate::node::{Message, NodeEvent, Output};

impl Bookkeeper {
    /// Seatings announced in the chief's pulse (D-035). A member elected to its group's next
    /// committee takes the group's state from the acting primary; a member left out of the
    /// committee in effect stops replaying, and would take the state again if re-elected.
    pub(super) fn learn_seatings(&mut self, seatings: &[Seating], out: &mut Vec<Output>) {
        if self.role.is_root() || seatings.is_empty() {
            // The chief's seatings are its state, which root members rebuild by replay.
            return;
        }
        let roster = Arc::clone(&self.books.config.roster);
        let (group, id) = (self.books.group, self.books.id);
        let seated =
            |views: &Views| views.is_member(&roster, &group, &id) || views.is_learner(&roster, &group, &id);
        let was_seated = seated(&self.books.views);
        if !self.books.views.learn_seatings(seatings).iter().any(|s| s.group == group) || self.books.acting {
            return;
        }
        let now_seated = seated(&self.books.views);
        let primary = self.books.views.acting(&roster, &group).1;
        let Some(replica) = self.log_mut() else { return };
        if now_seated && !was_seated {
            // Elected without a seat before: its state is a standby's, or a former member's.
            replica.diverged = true;
            out.push(Output::Send { to: primary, msg: Message::StateRequest { group } });
        } else if !now_seated {
            replica.diverged = true;
        }
    }

    /// The root in a chief's pulse: a candidate without a seat follows it (D-035).
    pub(super) fn hear_root(&mut self, root: &RootSynopsis) {
        let roster = &self.books.config.roster;
        if self.role.is_root() || !roster.has_pools() {
            return;
        }
        // A member waiting for the group's state follows the pulses too.
        let waiting = self.log().is_some_and(|r| r.diverged);
        if self.books.views.is_member(roster, &self.books.group, &self.books.id) && !waiting {
            return;
        }
        if self.books.root().is_none_or(|held| root.version > held.version) {
            self.books.heard_root = Some(*root);
        }
    }
}

impl Chief {
    /// Fail over every group with backups whose reports have not been taken for
    /// `failover_timeout_pulses` pulses (SPEC §6.4, D-032): the next member, in committee order
    /// after the acting one, whose attestations reach the taken report acts from the next view.
    /// A member that never attested qualifies only while the taken report is the genesis one.
    pub(super) fn fail_over_silent_groups(&mut self, books: &mut Books, out: &mut Vec<Output>) {
        let blind = books.blind_failover();
        if !books.config.roster.has_committees() {
            return;
        }
        let committees = &mut self.committees;
        let arbiter = &self.arbiter;
        let roster = &books.config.roster;
        let pulse = books.pulse;
        for (group, _) in roster.groups().skip(1) {
            if roster.backups(&group).is_empty() {
                continue;
            }
            let taken = arbiter.held_report(&group).map_or(0, |r| r.pulse);
            let since = committees.view_since.get(&group).copied().unwrap_or(0);
            if pulse.saturating_sub(taken.max(since)) <= books.config.failover_timeout_pulses {
                continue;
            }
            let (view, from) = books.views.acting(roster, &group);
            let members = books.views.committee(roster, &group);
            let at = members.iter().position(|m| *m == from).unwrap_or(0);
            // The most advanced member holding the taken state, the first in committee order
            // after the acting one among equals: members behind it catch up by replay, and
            // fewer are ahead of it (whose cycles the chief never took) to resync.
            let candidates = (1..members.len()).map(|k| members[(at + k) % members.len()]);
            let next = candidates
                .map(|m| (committees.attested_pulse(&group, &m), m))
                .filter(|(attested, _)| *attested >= taken || blind)
                .fold(None, |best: Option<(u64, Id)>, (attested, m)| match best {
                    Some((b, _)) if b >= attested => best,
                    _ => Some((attested, m)),
                })
                .map(|(_, m)| m);
            let Some(to) = next else { continue };
            let view = view + 1;
            committees.begin_view(&mut books.views, ViewEntry { group, view, primary: to }, pulse);
            out.push(Output::Event(NodeEvent::FailedOver { pulse, group, view, from, to }));
        }
    }

    /// A new term: seat every leaf committee by the election beacon over the latest root (SPEC
    /// §6.3, `consensus::election::elect_group` with the committee as the pool), so that no
    /// member keeps the primary's seat by choice. The member seated first takes it if it holds
    /// the taken state (attested at least the taken report); else the first that does, in the
    /// seated order; the acting member always does (D-032).
    pub(super) fn seat_new_term(&mut self, books: &mut Books, out: &mut Vec<Output>) {
        use crate::consensus::election::{ElectionParams, elect_group};
        let blind = books.blind_failover();
        if !books.config.roster.has_committees() {
            return;
        }
        let committees = &mut self.committees;
        let arbiter = &self.arbiter;
        let roster = &books.config.roster;
        let root_hash = arbiter.root().synopsis.hash;
        let (pulse, cycle) = (books.pulse, books.config.election_cycle_pulses.unwrap_or(1).max(1));
        for (group, _) in roster.groups().skip(1) {
            let members: Vec<Id> = roster.committee(&group).collect();
            if members.len() < 2 || !roster.pool(&group).is_empty() {
                continue; // a group with a pool is elected by `elect_pools`
            }
            let votes = members.iter().map(|m| (*m, 1)).collect();
            let params =
                ElectionParams { backups: members.len() - 1, pool_factor: 1, deposit_min: 0, trust_min: 0.0 };
            let mut seated = BTreeSet::new();
            let Ok(seats) = elect_group(group, &votes, &CommitteeMembers, &params, &root_hash, &mut seated)
            else {
                continue;
            };
            let (view, from) = books.views.acting(roster, &group);
            let taken = arbiter.held_report(&group).map_or(0, |r| r.pulse);
            let holds = |m: &Id| blind || committees.holds_taken(&group, m, &from, taken);
            let Some(to) = seats.seats().copied().find(holds) else { continue };
            if to == from {
                continue;
            }
            let view = view + 1;
            committees.begin_view(&mut books.views, ViewEntry { group, view, primary: to }, pulse);
            let term = pulse / cycle;
            out.push(Output::Event(NodeEvent::Reseated { pulse, term, group, view, from, to }));
        }
    }

    /// A new term in the groups elected from a pool (SPEC §6.3, D-035): each pool's candidates
    /// stand with their votes and deposits, the most-voted eligible ones form the election
    /// pool, the beacon over the latest root seats the committee. The elected committee takes
    /// the group's state while the one before keeps the books ([`Self::seat_elected`]). A pool
    /// without enough eligible candidates keeps its committee for another term.
    ///
    /// Once the electorate organization exists (`GovConfig::electorate`, D-044) the votes are
    /// its members' ballots of the term that ended, weighed by its rule, and only its members
    /// with the `bookkeep` right are eligible — so an expelled candidate loses its seat at the
    /// next election; the ballots are then cleared for the next term.
    pub(super) fn elect_pools(&mut self, books: &mut Books, out: &mut Vec<Output>) {
        use crate::consensus::election::{ElectionError, ElectionParams, elect_group};
        let roster = Arc::clone(&books.config.roster);
        if !roster.has_pools() {
            return;
        }
        let arbiter = &self.arbiter;
        let root_hash = arbiter.root().synopsis.hash;
        let (pulse, cycle) = (books.pulse, books.config.election_cycle_pulses.unwrap_or(1).max(1));
        let term = pulse / cycle;
        let gov = &books.config.governance;
        let electorate = gov.electorate.filter(|org| self.registry.orgs().contains_key(org));
        // One seat per node per term across the tree (SPEC §6.3); pools are disjoint anyway.
        let mut seated = BTreeSet::new();
        for (group, _) in roster.groups().skip(1) {
            let pool = roster.pool(&group);
            if pool.is_empty() {
                continue;
            }
            let (votes, standing): (
                BTreeMap<Id, u64>,
                Box<dyn crate::consensus::election::Eligibility + '_>,
            ) = match electorate {
                Some(org) => {
                    let tally = self.registry.standings(org, group, gov).expect("the electorate exists");
                    let votes = pool.iter().map(|c| (c.id, tally.get(&c.id).copied().unwrap_or(0))).collect();
                    (votes, Box::new(Electorate { pool, registry: &self.registry, org }))
                }
                None => (pool.iter().map(|c| (c.id, c.votes)).collect(), Box::new(PoolStanding(pool))),
            };
            let params = ElectionParams {
                backups: roster.backups(&group).len(),
                pool_factor: books.config.election_pool_factor,
                deposit_min: books.config.bookkeeper_deposit_min,
                trust_min: 0.0,
            };
            match elect_group(group, &votes, standing.as_ref(), &params, &root_hash, &mut seated) {
                Ok(committee) => {
                    let seats: Vec<Id> = committee.seats().copied().collect();
                    books.views.elect(Seating { group, term, seats: seats.clone(), in_effect: false });
                    out.push(Output::Event(NodeEvent::Elected { pulse, term, group, seats }));
                }
                Err(ElectionError::NotEnoughCandidates { eligible, .. }) => {
                    out.push(Output::Event(NodeEvent::NotElected { pulse, term, group, eligible }));
                }
            }
        }
        if let Some(org) = electorate {
            self.registry.clear_ballots(org);
        }
    }

    /// Put each elected committee in effect once a majority of it holds the group's taken
    /// state — attested at least the report the chief took, or acting as its primary — so that
    /// it can co-sign the next report at once (D-035). Its first primary is the first seat
    /// that holds the state; a new primary is a view change like a failover.
    pub(super) fn seat_elected(&mut self, books: &mut Books, out: &mut Vec<Output>) {
        let blind = books.blind_failover();
        let roster = Arc::clone(&books.config.roster);
        if !roster.has_pools() {
            return;
        }
        if !books.config.roster.has_committees() {
            return;
        }
        let committees = &mut self.committees;
        let arbiter = &self.arbiter;
        let pulse = books.pulse;
        for (group, _) in roster.groups().skip(1) {
            let Some(elected) = books.views.elected(&group) else { continue };
            let taken = arbiter.held_report(&group).map_or(0, |r| r.pulse);
            let (view, from) = books.views.acting(&roster, &group);
            let holds = |m: &&Id| blind || committees.holds_taken(&group, m, &from, taken);
            let holders = elected.seats.iter().filter(holds).count();
            if 2 * holders <= elected.seats.len() {
                continue;
            }
            let to = *elected.seats.iter().find(holds).expect("a majority holds the state");
            let before = books.views.committee(&roster, &group);
            let seating = books.views.seat(&group).expect("just seen");
            let joined = seating.seats.iter().filter(|m| !before.contains(m)).count();
            let view = if to == from {
                view
            } else {
                let entry = ViewEntry { group, view: view + 1, primary: to };
                committees.begin_view(&mut books.views, entry, pulse);
                view + 1
            };
            let term = seating.term;
            out.push(Output::Event(NodeEvent::Seated { pulse, term, group, view, from, to, joined }));
        }
    }
}

/// A pool's candidates as the organization's record lists them: each may keep the books with
/// its frozen deposit; trust is the credit layer's and is not simulated here (D-035).
struct PoolStanding<'a>(&'a [crate::node::roster::Candidate]);

impl crate::consensus::election::Eligibility for PoolStanding<'_> {
    fn may_bookkeep(&self, id: &Id) -> bool {
        self.0.iter().any(|c| c.id == *id)
    }
    fn frozen_deposit(&self, id: &Id) -> u64 {
        self.0.iter().find(|c| c.id == *id).map_or(0, |c| c.deposit)
    }
    fn trust(&self, _: &Id) -> f64 {
        1.0
    }
}

/// A pool's candidates when an organization elects (D-044): in the pool, with the deposit it
/// lists, and a member of the organization with the `bookkeep` right.
struct Electorate<'a> {
    pool: &'a [crate::node::roster::Candidate],
    registry: &'a super::registry::Registry,
    org: Id,
}

impl crate::consensus::election::Eligibility for Electorate<'_> {
    fn may_bookkeep(&self, id: &Id) -> bool {
        self.pool.iter().any(|c| c.id == *id) && self.registry.may_bookkeep(self.org, id)
    }
    fn frozen_deposit(&self, id: &Id) -> u64 {
        self.pool.iter().find(|c| c.id == *id).map_or(0, |c| c.deposit)
    }
    fn trust(&self, _: &Id) -> f64 {
        1.0
    }
}

/// Every member of a committee stands for its next term: the roster seated them (deposit and
/// trust were checked when the roster was elected).
struct CommitteeMembers;

impl crate::consensus::election::Eligibility for CommitteeMembers {
    fn may_bookkeep(&self, _: &Id) -> bool {
        true
    }
    fn frozen_deposit(&self, _: &Id) -> u64 {
        u64::MAX
    }
    fn trust(&self, _: &Id) -> f64 {
        1.0
    }
}
