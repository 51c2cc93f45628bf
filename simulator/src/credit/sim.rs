//! The credit simulation: a population on a relationship chain (SPEC §2.1) using each other's
//! services on credit, pulse by pulse. It drives the reference crate's own code — letters of
//! credit and IOUs in `reference::credit::line::CreditBook` (caps, raises, refusals, defaults,
//! multi-hop service), settlement as double-signed transfers applied and sealed by
//! `reference::ledger::Ledger`, the trust models of `reference::credit::trust`, and
//! elections by `reference::consensus::election` — and checks I1 and I2 on every sealed
//! settlement version and I12 every pulse.
//!
//! One pulse, in order: trust update (every `update_period_pulses`, and at pulse 0); election
//! (every `election.cycle_pulses`); the pulse's service requests; the settlements due this
//! pulse (members staggered over `iou_settle_period`); the seal; `CreditBook::tick` (raises and
//! defaults; a defaulting whitewasher rejoins under a new Id); the I12 check.
//!
//! Randomness: the relationship graph from the `Relations` stream, requests from `Workload`,
//! camouflage and rejoin choices from `Adversary`, all keyed by the seed (DEVELOPERS.md).

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use reference::consensus::election::{ElectionParams, Eligibility, elect_group};
use reference::credit::chain::{Invite, RelationshipChain, Tags};
use reference::credit::eligibility::credit_edges;
use reference::credit::line::{CreditBook, CreditError, Unit};
use reference::credit::trust::{
    EigenTrust, Graph, MaxFlow, Node, PersonalizedPageRank, SybilRank, TrustError, TrustModel,
};
use reference::crypto::{Hash32, SimScheme, SimSigner};
use reference::id::{Id, Prefix};
use reference::invariants::{self, Violation};
use reference::ledger::{Ledger, Tx};
use rustc_hash::FxHashMap;
use thiserror::Error;

use super::ranking::{accepted_by_class, auc};
use super::scenario::{CreditScenario, SybilStrategy, TrustModelName, VoteWeight};
use super::summary::{
    CREDIT_SUMMARY_FORMAT, CreditRunResult, CreditSummary, Defaults, Identities, Seats, Service, Settlement,
    TrustQuality, UpdateRow,
};
use crate::rng::{self, Purpose};
use crate::summary::COMMIT;

/// Who an identity is. The order is the order of the per-class arrays in the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Settles every IOU.
    Honest = 0,
    /// Never settles.
    FreeRider = 1,
    /// Never settles; rejoins under a new Id after a default.
    Whitewasher = 2,
    /// A sybil identity.
    Sybil = 3,
    /// A member of the malicious collective.
    Malicious = 4,
    /// Behaves honestly, vouches for the collective.
    Spy = 5,
}

const CLASSES: usize = 6;

impl Class {
    /// Whether it coordinates votes with the other colluders.
    fn colludes(self) -> bool {
        matches!(self, Class::Sybil | Class::Malicious | Class::Spy)
    }
}

/// Why a credit run stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CreditSimError {
    /// An invariant failed.
    #[error(
        "invariant {} violated at pulse {pulse} (seed {seed}): {detail}\n  replay with: {replay}",
        violation.invariant.code(),
        detail = violation.detail
    )]
    Violation {
        /// What failed.
        violation: Violation,
        /// The pulse.
        pulse: u64,
        /// The seed.
        seed: u64,
        /// The command that reproduces it.
        replay: String,
    },
    /// A trust computation refused its input (a bug in graph construction).
    #[error("trust model refused the graph at pulse {pulse}: {error}")]
    Trust {
        /// The pulse.
        pulse: u64,
        /// What it said.
        error: TrustError,
    },
}

/// Test-only switches that break the run on purpose, so tests can show the checks catch it.
#[cfg(feature = "fault-injection")]
#[derive(Clone, Copy, Debug, Default)]
pub struct CreditFaults {
    /// Providers serve past the cap (I12 must catch it).
    pub skip_cap_check: bool,
}

struct Identity {
    id: Id,
    signer: SimSigner,
    class: Class,
    active: bool,
}

#[derive(Default)]
struct Counters {
    requests: u64,
    served_direct: u64,
    served_routed: u64,
    over_cap: u64,
    revoked: u64,
    no_route: u64,
    hops: u64,
    value_served: u64,
    credit_extended: u64,
    defaulted: u64,
    value_lost_by_class: [u64; CLASSES],
    defaulted_by_class: [u64; CLASSES],
    recovered: u64,
    transfers: u64,
    value_settled: u64,
    settle_refused: u64,
    versions: u64,
    invariant_checks: u64,
    rejoined: u64,
    lines_granted: u64,
    invitations: u64,
    relations: u64,
}

impl Counters {
    fn refused(&self) -> u64 {
        self.over_cap + self.revoked + self.no_route
    }
    fn value_lost(&self) -> u64 {
        self.value_lost_by_class.iter().sum::<u64>().saturating_sub(self.recovered)
    }
}

#[derive(Default)]
struct TrustTally {
    updates: u64,
    iterations: u64,
    max_residual: f64,
    auc_sybil: Vec<f64>,
    auc_adversary: Vec<f64>,
    precision: Vec<f64>,
    accepted_sybils: Vec<f64>,
}

#[derive(Default)]
struct SeatTally {
    terms: u64,
    failed: u64,
    seats_per_term: u64,
    adversary_fractions: Vec<f64>,
    sybil_fractions: Vec<f64>,
}

/// One credit run.
pub struct CreditSimulation {
    scenario: CreditScenario,
    seed: u64,
    source: String,
    book: CreditBook,
    ledger: Ledger,
    scheme: SimScheme,
    identities: Vec<Identity>,
    index_of: FxHashMap<Id, u32>,
    /// The lenders of each identity, in grant order (for picking a neighbour provider and for
    /// settling).
    lenders_of: Vec<Vec<u32>>,
    /// Each identity's own relationship chain (SPEC §2.1: no global registry).
    chains: Vec<RelationshipChain>,
    ever_borrowed: BTreeSet<(u32, u32)>,
    relations: ChaCha8Rng,
    workload: ChaCha8Rng,
    adversary: ChaCha8Rng,
    demand: Vec<f64>,
    scores: Vec<f64>,
    counters: Counters,
    trust: TrustTally,
    seats: SeatTally,
    series: Vec<UpdateRow>,
    /// Serve past the cap (tests only, through `CreditFaults`).
    serve_past_cap: bool,
}

impl CreditSimulation {
    /// Set up the population, its relations and the genesis. `source` is the scenario file
    /// and overrides as the replay command should name them.
    pub fn new(scenario: &CreditScenario, seed: u64, source: &str) -> CreditSimulation {
        let params = scenario.credit.params();
        let scheme = SimScheme::new(seed);
        let mut sim = CreditSimulation {
            scenario: scenario.clone(),
            seed,
            source: source.to_string(),
            book: CreditBook::new(params),
            ledger: Ledger::genesis(Id::ZERO, 0),
            scheme,
            identities: Vec::new(),
            index_of: FxHashMap::default(),
            lenders_of: Vec::new(),
            chains: Vec::new(),
            ever_borrowed: BTreeSet::new(),
            relations: rng::stream(seed, Purpose::Relations, 0),
            workload: rng::stream(seed, Purpose::Workload, 0),
            adversary: rng::stream(seed, Purpose::Adversary, 0),
            demand: Vec::new(),
            scores: Vec::new(),
            counters: Counters::default(),
            trust: TrustTally::default(),
            seats: SeatTally::default(),
            series: Vec::new(),
            serve_past_cap: false,
        };
        sim.populate();
        sim.genesis();
        sim.relate();
        sim
    }

    /// Break the run on purpose (tests only).
    #[cfg(feature = "fault-injection")]
    pub fn inject_faults(&mut self, faults: CreditFaults) {
        if faults.skip_cap_check {
            self.serve_past_cap = true;
            self.book.inject_skip_cap_check();
        }
    }

    fn populate(&mut self) {
        let (p, a) = (&self.scenario.population, &self.scenario.adversaries);
        let classes = [
            (Class::Honest, p.honest),
            (Class::FreeRider, a.free_riders),
            (Class::Whitewasher, a.whitewashers),
            (Class::Sybil, a.sybils),
            (Class::Malicious, a.malicious),
            (Class::Spy, a.spies),
        ];
        for (class, count) in classes {
            for _ in 0..count {
                self.add_identity(class);
            }
        }
    }

    fn add_identity(&mut self, class: Class) -> u32 {
        let index = self.identities.len() as u32;
        let signer = self.scheme.signer(u64::from(index) + 1);
        let id = reference::crypto::Signer::public_key(&signer).id();
        self.identities.push(Identity { id, signer, class, active: true });
        self.index_of.insert(id, index);
        self.lenders_of.push(Vec::new());
        self.chains.push(RelationshipChain::new(id, self.scenario.credit.grant_by_closeness));
        let demand = if class == Class::Honest || class == Class::Spy {
            1.0
        } else {
            self.scenario.workload.adversary_demand
        };
        self.demand.push(demand);
        index
    }

    /// Every genesis identity holds `initial_balance` with `deposit` of it frozen; the
    /// organization account (Id 0) holds nothing more.
    fn genesis(&mut self) {
        let p = &self.scenario.population;
        let distribution: Vec<(Id, u64)> =
            self.identities.iter().map(|i| (i.id, p.initial_balance)).collect();
        let supply = p.initial_balance * distribution.len() as u64;
        let mut ledger = Ledger::genesis_with_distribution(Id::ZERO, supply, &distribution)
            .expect("distinct identities and an exact supply")
            .with_versions_retained(4);
        for identity in &self.identities {
            ledger.freeze(identity.id, p.deposit).expect("the deposit is at most the balance");
        }
        ledger.seal();
        self.ledger = ledger;
    }

    fn of_class(&self, class: Class) -> Vec<u32> {
        (0..self.identities.len() as u32).filter(|i| self.identities[*i as usize].class == class).collect()
    }

    fn relate(&mut self) {
        let honest = self.of_class(Class::Honest);
        let per_node = self.scenario.population.relations_per_node;
        // A ring keeps the honest graph connected; the rest are random relations.
        for (k, &i) in honest.iter().enumerate() {
            let next = honest[(k + 1) % honest.len()];
            let closeness = self.draw_closeness();
            self.relation(i, next, closeness, 0);
        }
        let joiners: Vec<u32> = honest
            .iter()
            .copied()
            .chain(
                [Class::FreeRider, Class::Whitewasher, Class::Malicious, Class::Spy]
                    .iter()
                    .flat_map(|c| self.of_class(*c)),
            )
            .collect();
        for i in joiners {
            let extra = if self.identities[i as usize].class == Class::Honest {
                per_node.saturating_sub(1)
            } else {
                per_node
            };
            for _ in 0..extra {
                let peer = honest[rng::between(&mut self.relations, 0, honest.len() as u64 - 1) as usize];
                let closeness = self.draw_closeness();
                self.relation(i, peer, closeness, 0);
            }
        }
        self.relate_collective();
        self.relate_sybils(&honest);
    }

    /// The malicious collective and its spies vouch for each other at closeness 5.
    fn relate_collective(&mut self) {
        let malicious = self.of_class(Class::Malicious);
        let spies = self.of_class(Class::Spy);
        for (k, &a) in malicious.iter().enumerate() {
            for &b in &malicious[k + 1..] {
                self.relation(a, b, 5, 0);
            }
            for &spy in &spies {
                self.relation(spy, a, 5, 0);
            }
        }
    }

    fn relate_sybils(&mut self, honest: &[u32]) {
        let sybils = self.of_class(Class::Sybil);
        if sybils.is_empty() {
            return;
        }
        let a = self.scenario.adversaries.clone();
        for (k, &s) in sybils.iter().enumerate() {
            if sybils.len() > 1 {
                self.relation(s, sybils[(k + 1) % sybils.len()], 5, 0);
            }
            let degree = a.sybil_degree.min(sybils.len() as u32 - 1);
            for _ in 0..degree.saturating_sub(1) {
                let peer = sybils[rng::between(&mut self.relations, 0, sybils.len() as u64 - 1) as usize];
                self.relation(s, peer, 5, 0);
            }
        }
        // Attack edges: distinct honest members, each relating to one sybil.
        let mut chosen = BTreeSet::new();
        while chosen.len() < a.attack_edges as usize {
            chosen.insert(honest[rng::between(&mut self.relations, 0, honest.len() as u64 - 1) as usize]);
        }
        for h in chosen {
            let s = sybils[rng::between(&mut self.relations, 0, sybils.len() as u64 - 1) as usize];
            self.relation(h, s, a.attack_closeness, 0);
        }
    }

    fn draw_closeness(&mut self) -> u8 {
        let weights = self.scenario.population.closeness_weights;
        1 + pick_weighted(&mut self.relations, &weights) as u8
    }

    /// A relation (SPEC §2.1): `a` invites `b` at `closeness`, `b` accepts, both sign and both
    /// chains record it; then each side grants the other a letter of credit for the credit it
    /// stated — the closeness's full grant (SPEC §2.2). A pair already related stays as it is
    /// (the chain refuses the second relation).
    fn relation(&mut self, a: u32, b: u32, closeness: u8, pulse: u64) {
        if a == b {
            return;
        }
        let credit = self.book.params().grant_by_closeness[usize::from(closeness)];
        let (signer_a, signer_b) =
            (self.identities[a as usize].signer.clone(), self.identities[b as usize].signer.clone());
        let invite = Invite {
            inviter: self.identities[a as usize].id,
            closeness,
            tags: Tags::FRIEND,
            issued_pulse: pulse,
            validity_pulses: 1,
            credit,
            friend_count: 1,
            nonce: self.counters.invitations,
        };
        self.counters.invitations += 1;
        let Ok(signed) = self.chains[a as usize].invite(invite, &signer_a) else { return };
        let Ok(acceptance) = self.chains[b as usize].accept(&signed, credit, pulse, &signer_b, &self.scheme)
        else {
            return;
        };
        match self.chains[a as usize].on_acceptance(&acceptance, pulse, &self.scheme) {
            Ok(relation) => {
                self.counters.relations += 1;
                self.grant(a, b, closeness, relation.credit_granted, pulse);
                self.grant(b, a, closeness, relation.credit_received, pulse);
            }
            Err(_) => {
                self.chains[b as usize].withdraw(&invite.inviter);
            }
        }
    }

    fn grant(&mut self, lender: u32, borrower: u32, closeness: u8, cap: u64, pulse: u64) {
        let (l, b) = (self.identities[lender as usize].id, self.identities[borrower as usize].id);
        if self.book.grant_capped(l, b, closeness, cap, pulse).is_ok() {
            self.lenders_of[borrower as usize].push(lender);
            self.counters.lines_granted += 1;
        }
    }

    /// Run every pulse and summarise.
    pub fn run(mut self) -> Result<CreditRunResult, CreditSimError> {
        for pulse in 0..self.scenario.pulses {
            self.pulse(pulse)?;
        }
        Ok(self.finish())
    }

    fn pulse(&mut self, pulse: u64) -> Result<(), CreditSimError> {
        let trust_due = pulse.is_multiple_of(self.scenario.trust.update_period_pulses);
        let cycle = self.scenario.election.cycle_pulses;
        let election_due = cycle > 0 && pulse > 0 && pulse.is_multiple_of(cycle);
        if trust_due || election_due {
            self.update_trust(pulse)?;
        }
        if election_due {
            self.elect();
        }
        self.serve(pulse);
        self.settle(pulse);
        self.seal(pulse)?;
        for (lender, borrower) in self.book.tick(pulse) {
            self.on_default(lender, borrower, pulse);
        }
        self.counters.invariant_checks += 1;
        invariants::credit_caps(&self.book).map_err(|v| self.violation(v, pulse))
    }

    fn violation(&self, violation: Violation, pulse: u64) -> CreditSimError {
        CreditSimError::Violation {
            violation,
            pulse,
            seed: self.seed,
            replay: format!("cargo run --release -p simulator -- run {} --seed {}", self.source, self.seed),
        }
    }

    // ----- service --------------------------------------------------------------------

    fn serve(&mut self, pulse: u64) {
        let mean = self.scenario.workload.requests_per_pulse;
        let mut elapsed = rng::exponential(&mut self.workload, 1.0 / mean.max(1e-12));
        while mean > 0.0 && elapsed < 1.0 {
            self.request(pulse);
            elapsed += rng::exponential(&mut self.workload, 1.0 / mean);
        }
    }

    fn request(&mut self, pulse: u64) {
        let w = self.scenario.workload.clone();
        let demand = self.active_demand();
        let consumer = pick_weighted(&mut self.workload, &demand) as u32;
        let provider = self.pick_provider(consumer, w.neighbour_fraction);
        let amount = rng::between(&mut self.workload, w.amount_min, w.amount_max);
        let unit =
            [Unit::Bandwidth, Unit::Storage, Unit::Cpu][pick_weighted(&mut self.workload, &w.unit_mix)];
        // A draw of the consumer itself or of a departed identity asks nobody: no request.
        let Some(provider) = provider else { return };
        self.counters.requests += 1;
        let base = self.book.params().base_units(unit, amount);
        let (p, c) = (self.identities[provider as usize].id, self.identities[consumer as usize].id);
        let path =
            if self.book.available(p, c) >= base || self.serve_past_cap && self.book.line(p, c).is_some() {
                Ok(vec![p, c])
            } else {
                self.book.route(p, c, base)
            };
        match path.and_then(|path| self.book.consume_via(&path, unit, amount, pulse).map(|_| path)) {
            Ok(path) => self.record_service(&path, base),
            Err(error) => self.record_refusal(p, c, error),
        }
    }

    fn active_demand(&self) -> Vec<f64> {
        self.identities.iter().zip(&self.demand).map(|(i, d)| if i.active { *d } else { 0.0 }).collect()
    }

    fn pick_provider(&mut self, consumer: u32, neighbour_fraction: f64) -> Option<u32> {
        let n = self.identities.len() as u64;
        if rng::unit(&mut self.workload) < neighbour_fraction {
            let lenders = &self.lenders_of[consumer as usize];
            if !lenders.is_empty() {
                let lender = lenders[rng::between(&mut self.workload, 0, lenders.len() as u64 - 1) as usize];
                if self.identities[lender as usize].active {
                    return Some(lender);
                }
            }
        }
        let provider = rng::between(&mut self.workload, 0, n - 1) as u32;
        (provider != consumer && self.identities[provider as usize].active).then_some(provider)
    }

    fn record_service(&mut self, path: &[Id], base: u64) {
        let hops = path.len() as u64 - 1;
        if hops == 1 {
            self.counters.served_direct += 1;
        } else {
            self.counters.served_routed += 1;
        }
        self.counters.hops += hops;
        self.counters.value_served += base;
        for hop in path.windows(2) {
            let (lender, borrower) = (self.index_of[&hop[0]], self.index_of[&hop[1]]);
            // Credit among colluders is not at risk: only honest lenders' credit counts.
            if self.identities[lender as usize].class == Class::Honest {
                self.counters.credit_extended += base;
                self.ever_borrowed.insert((lender, borrower));
            }
        }
    }

    /// Classify a refusal by the state of the direct line (whatever the path search said).
    fn record_refusal(&mut self, provider: Id, consumer: Id, _error: CreditError) {
        match self.book.line(provider, consumer) {
            Some(line) if line.revoked_cap.is_some() => self.counters.revoked += 1,
            Some(_) => self.counters.over_cap += 1,
            None => self.counters.no_route += 1,
        }
    }

    // ----- settlement through the ledger ------------------------------------------------

    fn settle(&mut self, pulse: u64) {
        let period = self.scenario.credit.iou_settle_period;
        for borrower in 0..self.identities.len() as u32 {
            if !self.identities[borrower as usize].active
                || !(pulse + u64::from(borrower)).is_multiple_of(period)
            {
                continue;
            }
            let lenders = self.lenders_of[borrower as usize].clone();
            for lender in lenders {
                if self.pays(borrower) {
                    self.pay(borrower, lender, pulse);
                }
            }
        }
    }

    /// Whether `borrower` settles an IOU whose turn has come.
    fn pays(&mut self, borrower: u32) -> bool {
        let a = &self.scenario.adversaries;
        match self.identities[borrower as usize].class {
            Class::Honest | Class::Spy => true,
            Class::FreeRider | Class::Whitewasher => false,
            Class::Sybil => a.sybil_strategy == SybilStrategy::Patient,
            Class::Malicious => {
                let camouflage = a.camouflage;
                rng::unit(&mut self.adversary) < camouflage
            }
        }
    }

    /// Pay what is owed on the line `lender → borrower` (as far as the spendable balance goes)
    /// by a double-signed ledger transfer, then record it in the book.
    fn pay(&mut self, borrower: u32, lender: u32, pulse: u64) {
        let (b, l) = (&self.identities[borrower as usize], &self.identities[lender as usize]);
        let Some(line) = self.book.line(l.id, b.id).copied() else { return };
        let Some(account) = self.ledger.account(&b.id) else { return };
        let spendable = account.balance.saturating_sub(account.frozen).saturating_sub(account.pending_in);
        let amount = line.owed.min(spendable);
        if amount == 0 {
            self.counters.settle_refused += u64::from(line.owed > 0);
            return;
        }
        let tx = Tx { from: b.id, to: l.id, amount, from_nonce: account.nonce + 1, created_pulse: pulse };
        let signed = tx.sign(&b.signer, &l.signer);
        if self.ledger.apply(&signed, &self.scheme).is_err() {
            self.counters.settle_refused += 1;
            return;
        }
        let (lid, bid) = (l.id, b.id);
        self.book.settle(lid, bid, amount, pulse).expect("amount ≤ owed");
        self.counters.transfers += 1;
        self.counters.value_settled += amount;
        if line.revoked_cap.is_some() && l.class == Class::Honest {
            self.counters.recovered += amount;
        }
    }

    /// Seal the pulse's settlements and check I1 on the new root and I2 on every account it
    /// touched.
    fn seal(&mut self, pulse: u64) -> Result<(), CreditSimError> {
        let touched: Vec<Id> = self.ledger.journal().iter().flat_map(|a| [a.tx().from, a.tx().to]).collect();
        if touched.is_empty() {
            return Ok(());
        }
        let version = self.ledger.seal();
        self.counters.versions += 1;
        let genesis = self.ledger.genesis_supply();
        invariants::conservation(self.ledger.tree(), version, genesis)
            .map_err(|v| self.violation(v, pulse))?;
        for id in touched {
            let account = self.ledger.account(&id).expect("a touched account exists");
            invariants::account_non_negative(&id, &account).map_err(|v| self.violation(v, pulse))?;
        }
        self.counters.invariant_checks += 2;
        Ok(())
    }

    // ----- defaults and whitewashing ----------------------------------------------------

    fn on_default(&mut self, lender: Id, borrower: Id, pulse: u64) {
        let line = *self.book.line(lender, borrower).expect("a defaulted line exists");
        let index = self.index_of[&borrower];
        let class = self.identities[index as usize].class as usize;
        // What colluders fail to repay each other is nobody's loss: count honest lenders'.
        if self.identities[self.index_of[&lender] as usize].class == Class::Honest {
            self.counters.defaulted += 1;
            self.counters.defaulted_by_class[class] += 1;
            self.counters.value_lost_by_class[class] += line.owed;
        }
        if self.identities[index as usize].class == Class::Whitewasher
            && self.identities[index as usize].active
        {
            self.rejoin(index, pulse);
        }
    }

    /// A whitewasher leaves and comes back under a new Id (no balance, no deposit), forming
    /// fresh relations of the lowest closeness with random honest members.
    fn rejoin(&mut self, old: u32, pulse: u64) {
        self.identities[old as usize].active = false;
        let new = self.add_identity(Class::Whitewasher);
        self.ledger.open_account(self.identities[new as usize].id).expect("a fresh Id");
        self.counters.rejoined += 1;
        let honest = self.of_class(Class::Honest);
        for _ in 0..self.scenario.adversaries.whitewash_relations {
            let peer = honest[rng::between(&mut self.adversary, 0, honest.len() as u64 - 1) as usize];
            self.relation(new, peer, 1, pulse);
        }
    }

    // ----- trust ------------------------------------------------------------------------

    fn update_trust(&mut self, pulse: u64) -> Result<(), CreditSimError> {
        let n = self.identities.len();
        let index_of = &self.index_of;
        let edges = credit_edges(&self.book, |id| index_of.get(id).copied());
        let seeds: Vec<Node> = (0..self.scenario.population.pretrusted).collect();
        let t = &self.scenario.trust;
        let graph = match t.model {
            TrustModelName::Sybilrank => Graph::undirected(n, &edges),
            _ => Graph::from_edges(n, &edges),
        }
        .map_err(|error| CreditSimError::Trust { pulse, error })?;
        let mut warm = self.scores.clone();
        warm.resize(n, 0.0);
        let warm = (t.warm_start && !self.scores.is_empty()).then_some(warm.as_slice());
        let scores = match t.model {
            TrustModelName::Eigentrust => {
                EigenTrust { alpha: t.alpha, ..EigenTrust::default() }.scores(&graph, &seeds, warm)
            }
            TrustModelName::PersonalizedPagerank => {
                PersonalizedPageRank::default().scores(&graph, &seeds, warm)
            }
            TrustModelName::Sybilrank => SybilRank::default().scores(&graph, &seeds, warm),
            TrustModelName::Maxflow => {
                let model = if t.maxflow_capacities.is_empty() {
                    MaxFlow::scaled(&graph)
                } else {
                    MaxFlow { capacities: t.maxflow_capacities.clone() }
                };
                model.scores(&graph, &seeds, warm)
            }
        }
        .map_err(|error| CreditSimError::Trust { pulse, error })?;
        self.trust.updates += 1;
        self.trust.iterations += u64::from(scores.iterations);
        self.trust.max_residual = self.trust.max_residual.max(scores.residual);
        self.scores = scores.scores;
        self.measure_ranking(pulse, edges.len() as u64, u64::from(scores.iterations));
        Ok(())
    }

    fn measure_ranking(&mut self, pulse: u64, live_lines: u64, iterations: u64) {
        let active: Vec<(f64, usize)> = self
            .identities
            .iter()
            .zip(&self.scores)
            .filter(|(i, _)| i.active)
            .map(|(i, s)| (*s, i.class as usize))
            .collect();
        let of = |keep: &dyn Fn(usize) -> bool| -> Vec<f64> {
            active.iter().filter(|(_, c)| keep(*c)).map(|(s, _)| *s).collect()
        };
        let honest = of(&|c| c == Class::Honest as usize);
        let auc_sybil = auc(&honest, &of(&|c| c == Class::Sybil as usize));
        let auc_adversary = auc(&honest, &of(&|c| c != Class::Honest as usize));
        let accepted = accepted_by_class(&active, honest.len(), CLASSES);
        let total_accepted: f64 = accepted.iter().sum();
        let precision =
            if total_accepted > 0.0 { accepted[Class::Honest as usize] / total_accepted } else { 0.0 };
        let accepted_sybils = accepted[Class::Sybil as usize];
        self.trust.auc_sybil.extend(auc_sybil);
        self.trust.auc_adversary.extend(auc_adversary);
        self.trust.precision.push(precision);
        self.trust.accepted_sybils.push(accepted_sybils);
        self.series.push(UpdateRow {
            pulse,
            active: active.len() as u64,
            live_lines,
            iterations,
            auc_honest_vs_sybil: auc_sybil,
            auc_honest_vs_adversary: auc_adversary,
            precision_at_honest: precision,
            accepted_sybils,
            requests: self.counters.requests,
            refused: self.counters.refused(),
            defaulted: self.counters.defaulted,
            value_lost: self.counters.value_lost(),
            adversary_seat_fraction: self.seats.adversary_fractions.last().copied(),
        });
    }

    // ----- elections ----------------------------------------------------------------------

    /// Seat `committees` committees from the votes of every active member (SPEC §6.3):
    /// honest members back the best-trusted candidates, colluders back each other.
    fn elect(&mut self) {
        let e = self.scenario.election.clone();
        let normalised = self.normalised_scores();
        let active: Vec<u32> =
            (0..self.identities.len() as u32).filter(|i| self.identities[*i as usize].active).collect();
        let by_trust = |keep: &dyn Fn(u32) -> bool| -> Vec<u32> {
            let mut c: Vec<u32> = active.iter().copied().filter(|i| keep(*i)).collect();
            c.sort_by(|a, b| normalised[*b as usize].total_cmp(&normalised[*a as usize]).then(a.cmp(b)));
            c.truncate(e.votes_per_voter as usize);
            c
        };
        let honest_ballot = by_trust(&|_| true);
        let colluder_ballot = by_trust(&|i| self.identities[i as usize].class.colludes());
        let mut votes: BTreeMap<Id, u64> = BTreeMap::new();
        for &voter in &active {
            let weight = self.vote_weight(voter, &normalised, e.vote_weight);
            let ballot = if self.identities[voter as usize].class.colludes() {
                &colluder_ballot
            } else {
                &honest_ballot
            };
            for &candidate in ballot {
                *votes.entry(self.identities[candidate as usize].id).or_insert(0) += weight;
            }
        }
        let eligibility = Snapshot { sim: self, normalised: &normalised };
        let params = ElectionParams {
            backups: e.backups as usize,
            pool_factor: e.pool_factor as usize,
            deposit_min: e.deposit_min,
            trust_min: e.trust_min,
        };
        let beacon = self.ledger_root_hash();
        let mut seated = BTreeSet::new();
        let mut committees = Vec::new();
        let mut failed = false;
        for k in 0..e.committees {
            let group = Prefix::new(Id::from_u64(u64::from(k) << 48), 16);
            match elect_group(group, &votes, &eligibility, &params, &beacon, &mut seated) {
                Ok(committee) => committees.push(committee),
                Err(_) => failed = true,
            }
        }
        let seats: Vec<Class> = committees
            .iter()
            .flat_map(|c| c.seats())
            .map(|id| self.identities[self.index_of[id] as usize].class)
            .collect();
        self.seats.terms += 1;
        self.seats.failed += u64::from(failed);
        self.seats.seats_per_term = self.seats.seats_per_term.max(seats.len() as u64);
        let fraction = |keep: &dyn Fn(Class) -> bool| {
            if seats.is_empty() {
                0.0
            } else {
                seats.iter().filter(|c| keep(**c)).count() as f64 / seats.len() as f64
            }
        };
        self.seats.adversary_fractions.push(fraction(&|c| c != Class::Honest));
        self.seats.sybil_fractions.push(fraction(&|c| c == Class::Sybil));
    }

    /// Scores in multiples of the mean over active identities (D-028), so that
    /// `election.trust_min` means the same under every model.
    fn normalised_scores(&self) -> Vec<f64> {
        let active: Vec<usize> = (0..self.identities.len()).filter(|i| self.identities[*i].active).collect();
        let total: f64 = active.iter().map(|i| self.scores.get(*i).copied().unwrap_or(0.0)).sum();
        let scale = if total > 0.0 { active.len() as f64 / total } else { 0.0 };
        (0..self.identities.len())
            .map(|i| {
                if self.identities[i].active {
                    self.scores.get(i).copied().unwrap_or(0.0) * scale
                } else {
                    0.0
                }
            })
            .collect()
    }

    fn vote_weight(&self, voter: u32, normalised: &[f64], rule: VoteWeight) -> u64 {
        match rule {
            VoteWeight::OneMemberOneVote => 1,
            VoteWeight::Balance => {
                self.ledger.account(&self.identities[voter as usize].id).map_or(0, |a| a.balance)
            }
            VoteWeight::Trust => (normalised[voter as usize] * 1000.0) as u64,
        }
    }

    fn ledger_root_hash(&self) -> Hash32 {
        let tree = self.ledger.tree();
        tree.root(tree.latest_version()).map(|r| r.synopsis.hash).unwrap_or(Hash32([0; 32]))
    }

    // ----- the summary --------------------------------------------------------------------

    fn finish(self) -> CreditRunResult {
        let c = &self.counters;
        let s = &self.scenario;
        let summary = CreditSummary {
            format: CREDIT_SUMMARY_FORMAT.into(),
            scenario_name: s.name.clone(),
            seed: self.seed,
            commit: COMMIT.into(),
            pulses: s.pulses,
            identities: Identities {
                honest: u64::from(s.population.honest),
                adversarial: s.identities() - u64::from(s.population.honest),
                rejoined: c.rejoined,
                relations: c.relations,
                lines_granted: c.lines_granted,
            },
            service: self.service(),
            defaults: self.defaults(),
            settlement: Settlement {
                transfers: c.transfers,
                value_settled: c.value_settled,
                refused: c.settle_refused,
                versions: c.versions,
            },
            trust: self.trust_quality(),
            seats: Seats {
                terms: self.seats.terms,
                failed_elections: self.seats.failed,
                seats_per_term: self.seats.seats_per_term,
                adversary_seat_fraction: mean(&self.seats.adversary_fractions).unwrap_or(0.0),
                adversary_seat_fraction_max: self
                    .seats
                    .adversary_fractions
                    .iter()
                    .copied()
                    .fold(0.0, f64::max),
                sybil_seat_fraction: mean(&self.seats.sybil_fractions).unwrap_or(0.0),
            },
            invariant_checks: c.invariant_checks,
            scenario: s.clone(),
        };
        CreditRunResult { summary, series: self.series }
    }

    /// Requests served and refused, and the lines they used.
    fn service(&self) -> Service {
        let c = &self.counters;
        let served = c.served_direct + c.served_routed;
        let live: Vec<u64> =
            self.book.lines().values().filter(|l| l.revoked_cap.is_none()).map(|l| l.cap).collect();
        Service {
            requests: c.requests,
            served_direct: c.served_direct,
            served_routed: c.served_routed,
            refused_over_cap: c.over_cap,
            refused_revoked: c.revoked,
            refused_no_route: c.no_route,
            settlement_failure_rate: ratio(c.refused() as f64, c.requests as f64),
            mean_hops: ratio(c.hops as f64, served as f64),
            value_served: c.value_served,
            credit_extended: c.credit_extended,
            mean_live_cap: ratio(live.iter().sum::<u64>() as f64, live.len() as f64),
        }
    }

    /// IOUs defaulted and the value lost.
    fn defaults(&self) -> Defaults {
        let c = &self.counters;
        let value_lost = c.value_lost();
        Defaults {
            bills: self.ever_borrowed.len() as u64,
            defaulted: c.defaulted,
            defaulted_bill_fraction: ratio(c.defaulted as f64, self.ever_borrowed.len() as f64),
            value_lost,
            value_lost_fraction: ratio(value_lost as f64, c.credit_extended as f64),
            value_lost_by_class: c.value_lost_by_class,
            defaulted_by_class: c.defaulted_by_class,
        }
    }

    /// The trust ranking's quality over the updates, and the sybils' gain per attack edge.
    fn trust_quality(&self) -> TrustQuality {
        let (c, s) = (&self.counters, &self.scenario);
        let edges = s.adversaries.attack_edges;
        let per_edge = |x: f64| (edges > 0).then(|| x / f64::from(edges));
        let accepted_sybils = mean(&self.trust.accepted_sybils).unwrap_or(0.0);
        TrustQuality {
            model: s.trust.model.name().into(),
            updates: self.trust.updates,
            mean_iterations: ratio(self.trust.iterations as f64, self.trust.updates as f64),
            max_residual: self.trust.max_residual,
            auc_honest_vs_sybil: mean(&self.trust.auc_sybil),
            auc_honest_vs_sybil_final: self.trust.auc_sybil.last().copied(),
            auc_honest_vs_adversary: mean(&self.trust.auc_adversary),
            precision_at_honest: mean(&self.trust.precision).unwrap_or(0.0),
            accepted_sybils,
            accepted_sybils_per_attack_edge: per_edge(accepted_sybils),
            credit_lost_per_attack_edge: per_edge(c.value_lost_by_class[Class::Sybil as usize] as f64),
        }
    }
}

/// `a / b`, 0 when `b` is 0.
fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// The mean, `None` of nothing.
fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

impl std::fmt::Debug for CreditSimulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreditSimulation")
            .field("scenario", &self.scenario.name)
            .field("seed", &self.seed)
            .field("identities", &self.identities.len())
            .field("lines", &self.book.lines().len())
            .finish_non_exhaustive()
    }
}

/// What an election sees of each member: the right (every active member holds `bookkeep`),
/// the frozen deposit in the ledger, the normalised trust.
struct Snapshot<'a> {
    sim: &'a CreditSimulation,
    normalised: &'a [f64],
}

impl Eligibility for Snapshot<'_> {
    fn may_bookkeep(&self, id: &Id) -> bool {
        self.sim.index_of.get(id).is_some_and(|i| self.sim.identities[*i as usize].active)
    }

    fn frozen_deposit(&self, id: &Id) -> u64 {
        self.sim.ledger.account(id).map_or(0, |a| a.frozen)
    }

    fn trust(&self, id: &Id) -> f64 {
        self.sim.index_of.get(id).map_or(0.0, |i| self.normalised[*i as usize])
    }
}

/// An index drawn with probability proportional to `weights` (one uniform draw).
fn pick_weighted(rng: &mut impl Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut target = rng::unit(rng) * total;
    for (i, w) in weights.iter().enumerate() {
        if target < *w {
            return i;
        }
        target -= w;
    }
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}
