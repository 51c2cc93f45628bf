//! The simulator's checker over a cluster's collected events: the nodes' event files merged in
//! time order and fed to the same `Checker` and `SealHistory` the simulator feeds after every
//! event — I1 and I7 on every root the chief built, I3, I4 and I5 on every seal that became a
//! group's history, I6 and I7 on every root a node held, and I2 as each bookkeeper checked it
//! after every input (its `violation` lines). Each client's `committed` line is its proof
//! verified (a client emits it only then); a `bad_proof` anywhere is a failure.

use std::collections::BTreeMap;
use std::sync::Arc;

use reference::Prefix;
use reference::crypto::Ed25519Verifier;
use reference::node::SharedVerifier;
use reference::smt::RootSynopsis;
use simulator::checker::Checker;
use simulator::checker::seal_history::{OwnedSeal, RootEvent, SealHistory};
use simulator::sim::Layout;

use crate::events::{self, Ev, Line};

/// What the check found.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Verdict {
    /// Invariant violations and other failures (a node that crashed or did not stop on
    /// SIGTERM), in the order found.
    pub violations: Vec<String>,
    /// Predicate evaluations.
    pub invariant_checks: u64,
    /// Seals checked as history, and seals orphaned by failovers.
    pub seals_checked: u64,
    /// Seals a failover orphaned.
    pub seals_orphaned: u64,
    /// Roots the chief built.
    pub roots: u64,
    /// Each node's last held root version (nodes that hold one).
    pub last_held: BTreeMap<u32, u64>,
    /// The last root version built.
    pub last_root: u64,
    /// Sealed pulses whose organizations digest more than one root member logged, all equal.
    pub gov_pulses_agreed: u64,
}

/// Check `lines` (all nodes' events) of a cluster with `layout` and `genesis_supply`;
/// `initial_primary` is each leaf group's first primary, by node index.
pub fn check(
    lines: &mut [Line],
    layout: Layout,
    genesis_supply: u64,
    initial_primary: &BTreeMap<Prefix, u32>,
    index_of: &BTreeMap<reference::Id, u32>,
) -> Verdict {
    lines.sort_by_key(|l| l.t_ms); // stable: each node's own order is kept
    let verifier: SharedVerifier = Arc::new(Ed25519Verifier);
    let nodes = layout.nodes();
    let mut run = Run {
        checker: Checker::new(nodes, genesis_supply, verifier),
        history: SealHistory::new(layout.backups > 0, layout.root_backups > 0),
        primary: initial_primary.clone(),
        index_of,
        verdict: Verdict::default(),
        gov_sealed: BTreeMap::new(),
    };
    // Roots first: a node may log a root in the very millisecond the chief built it.
    for line in lines.iter() {
        if let Ev::RootBuilt { pulse, root } = &line.ev {
            run.root(line, *pulse, root);
        }
    }
    for line in lines.iter() {
        run.line(line);
    }
    run.verdict.invariant_checks = run.checker.checks;
    run.verdict
}

struct Run<'a> {
    checker: Checker,
    history: SealHistory,
    primary: BTreeMap<Prefix, u32>,
    index_of: &'a BTreeMap<reference::Id, u32>,
    verdict: Verdict,
    /// Each sealed pulse's organizations digest, the first node to log it, and whether
    /// another agreed.
    gov_sealed: BTreeMap<u64, (String, u32, bool)>,
}

impl Run<'_> {
    fn fail(&mut self, line: &Line, what: impl std::fmt::Display) {
        self.verdict.violations.push(format!("t={} ms node {}: {what}", line.t_ms, line.node));
    }

    fn root(&mut self, line: &Line, pulse: u64, root: &str) {
        if self.history.released_twice(RootEvent::Root(pulse)) {
            return;
        }
        match events::root(root) {
            Ok(root) => {
                self.verdict.roots += 1;
                self.verdict.last_root = self.verdict.last_root.max(root.version);
                if let Err(v) = self.checker.after_root(root) {
                    self.fail(line, format!("{:?}: {}", v.invariant, v.detail));
                }
            }
            Err(e) => self.fail(line, format!("undecodable root: {e}")),
        }
    }

    fn index(&self, id_blob: &str) -> Option<u32> {
        events::id(id_blob).ok().and_then(|id| self.index_of.get(&id).copied())
    }

    fn line(&mut self, line: &Line) {
        let node = line.node;
        match &line.ev {
            Ev::Sealed { pulse, group, applied, debits, credited, settled, .. } => {
                let decoded = (|| {
                    Ok::<_, String>(OwnedSeal {
                        node,
                        pulse: *pulse,
                        group: events::prefix(group)?,
                        applied: applied.iter().map(|a| events::unapplied(a)).collect::<Result<_, _>>()?,
                        debits: debits.iter().map(|d| events::unblob(d)).collect::<Result<_, _>>()?,
                        credited: credited.iter().map(|a| events::unapplied(a)).collect::<Result<_, _>>()?,
                        settled: settled.iter().map(|s| events::unsettled(s)).collect::<Result<_, _>>()?,
                    })
                })();
                match decoded {
                    Ok(seal) => self.sealed(line, seal),
                    Err(e) => self.fail(line, format!("undecodable seal: {e}")),
                }
            }
            Ev::Held { root } => match events::root(root) {
                Ok(root) => self.held(line, root),
                Err(e) => self.fail(line, format!("undecodable root: {e}")),
            },
            Ev::TookOver { group, .. } => {
                if let Ok(group) = events::prefix(group) {
                    self.history.took_over(group, node);
                }
            }
            Ev::Replayed { group, pulse, from } => {
                let from = self.index(from).unwrap_or(node);
                if let Ok(group) = events::prefix(group) {
                    self.history.replayed(group, node, *pulse, from);
                }
            }
            Ev::Resynced { group, pulse, from } => {
                if let (Ok(group), Some(from)) = (events::prefix(group), self.index(from)) {
                    self.verdict.seals_orphaned += self.history.resynced(group, node, *pulse, from);
                }
            }
            Ev::FailedOver { group, to, .. } | Ev::Reseated { group, to, .. } => {
                if let (Ok(group), Some(to)) = (events::prefix(group), self.index(to)) {
                    self.primary.insert(group, to);
                }
            }
            Ev::ReportAttested { group, pulse } => {
                if let Ok(group) = events::prefix(group) {
                    self.taken(line, group, *pulse);
                }
            }
            Ev::Violation { invariant, detail } => self.fail(line, format!("{invariant}: {detail}")),
            Ev::GovSealed { pulse, digest } => self.gov_sealed(line, *pulse, digest),
            Ev::BadMessage { error, .. } if error.contains("commit proof does not verify") => {
                self.fail(line, format!("a proof did not verify: {error}"));
            }
            _ => {}
        }
    }

    fn sealed(&mut self, line: &Line, seal: OwnedSeal) {
        if seal.group == Prefix::ROOT && self.history.released_twice(RootEvent::Seal(seal.pulse)) {
            return;
        }
        if let Some(seal) = self.history.sealed(seal) {
            self.check_seal(line, &seal);
        }
    }

    fn taken(&mut self, line: &Line, group: Prefix, pulse: u64) {
        let primary = self.primary.get(&group).copied().unwrap_or(u32::MAX);
        let (taken, orphaned) = self.history.taken(group, pulse, || primary);
        self.verdict.seals_orphaned += orphaned;
        for seal in &taken {
            self.check_seal(line, seal);
        }
    }

    fn check_seal(&mut self, line: &Line, seal: &OwnedSeal) {
        self.verdict.seals_checked += 1;
        if let Err(v) = self.checker.after_seal(&seal.as_seal()) {
            self.fail(line, format!("{:?}: {}", v.invariant, v.detail));
        }
    }

    /// I6 for the organizations: every root member that sealed `pulse` holds the same ones.
    fn gov_sealed(&mut self, line: &Line, pulse: u64, digest: &str) {
        self.checker.checks += 1;
        let Some((seen, by, agreed)) = self.gov_sealed.get_mut(&pulse) else {
            self.gov_sealed.insert(pulse, (digest.to_string(), line.node, false));
            return;
        };
        if seen != digest {
            let by = *by;
            let seen = seen.clone();
            self.fail(
                line,
                format!("Agreement: the organizations at pulse {pulse} are {digest}, node {by} has {seen}"),
            );
        } else if *by != line.node && !*agreed {
            *agreed = true;
            self.verdict.gov_pulses_agreed += 1;
        }
    }

    fn held(&mut self, line: &Line, root: RootSynopsis) {
        self.verdict.last_held.insert(line.node, root.version);
        if let Err(v) = self.checker.after_node_event(line.node as usize, Some(root)) {
            self.fail(line, format!("{:?}: {}", v.invariant, v.detail));
        }
    }
}
