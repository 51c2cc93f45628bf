//! Building the world of a run: the signers, the group tree and roster, the genesis split
//! over the groups, where the committee members are among the nodes, and the partitions' sides.

use crate::network::{self};
use crate::scenario::{Scenario, ScenarioError};
use reference::consensus::groups::GroupTree;
use reference::crypto::{Ed25519Signer, Ed25519Verifier, SimScheme};
use reference::node::{Genesis, Node, NodeConfig, Roster, SharedSigner, SharedVerifier};
use reference::{Id, Prefix};
use std::path::Path;
use std::sync::Arc;

use super::*;

/// The nodes of a run before they start: signers (chief, clients, then the leaf groups'
/// primaries, then their backups group by group), the roster of groups and the genesis split
/// over them.
pub(super) struct World {
    pub(super) signers: Vec<SharedSigner>,
    pub(super) roster: Roster,
    pub(super) genesis: Genesis,
    pub(super) layout: Layout,
}

/// Where the committee members are among the node indices.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// The first leaf primary (`clients + 1`).
    pub first_primary: usize,
    /// Leaf groups.
    pub leaves: usize,
    /// Backups per leaf group.
    pub backups: usize,
    /// Backups of the root group: the chief's committee (D-033), nodes after the leaf backups.
    pub root_backups: usize,
    /// Standby candidates per leaf group (D-035), nodes after the root backups, group by group.
    pub standbys: usize,
}

impl Layout {
    /// The first backup node.
    pub fn first_backup(&self) -> usize {
        self.first_primary + self.leaves
    }

    /// The first root backup node.
    pub fn first_root_backup(&self) -> usize {
        self.first_backup() + self.leaves * self.backups
    }

    /// The first standby node.
    pub fn first_standby(&self) -> usize {
        self.first_root_backup() + self.root_backups
    }

    /// Whether node `index` is a backup of the root group.
    pub fn is_root_backup(&self, index: usize) -> bool {
        (self.first_root_backup()..self.first_standby()).contains(&index)
    }

    /// The leaf group (0-based, prefix order) whose standby node `index` is, if it is one.
    pub fn standby_group(&self, index: usize) -> Option<usize> {
        let offset = index.checked_sub(self.first_standby())?;
        (self.standbys > 0 && offset < self.leaves * self.standbys).then(|| offset / self.standbys)
    }

    /// Every node.
    pub fn nodes(&self) -> usize {
        self.first_standby() + self.leaves * self.standbys
    }

    /// The leaf group (0-based, prefix order) whose backup node `index` is, if it is one.
    pub fn backup_group(&self, index: usize) -> Option<usize> {
        let offset = index.checked_sub(self.first_backup())?;
        (self.backups > 0 && offset < self.leaves * self.backups).then(|| offset / self.backups)
    }
}

impl World {
    /// The group tree over the clients' accounts (SPEC §6.1) cut to two levels (D-023); each
    /// leaf group gets a primary of its own, a fresh node after the clients.
    pub(super) fn build(scenario: &Scenario, seed: u64, mut signers: Vec<SharedSigner>) -> World {
        let params = &scenario.parameters;
        let organization = organization_account(scenario, seed);
        let accounts = signers[1..].iter().map(|s| s.id()).chain([organization]);
        let tree = GroupTree::build(accounts, params.stratum_bits, params.group_min_accounts)
            .expect("validated group parameters");
        let leaves = tree.groups().keys().filter(|p| p.len_bits() == params.stratum_bits).count();
        let members = leaves * (1 + params.backups + params.standbys) + params.root_backups;
        signers.extend(more_signers(scenario, seed, signers.len() as u64, members as u64));
        let clients = scenario.nodes.clients as usize;
        let layout = Layout {
            first_primary: clients + 1,
            leaves,
            backups: params.backups,
            root_backups: params.root_backups,
            standbys: params.standbys,
        };
        let primaries: Vec<Id> = std::iter::once(signers[0].id())
            .chain(signers[layout.first_primary..layout.first_backup()].iter().map(|s| s.id()))
            .collect();
        let roster = Roster::from_tree(&tree, &primaries).expect("one primary per group, each a fresh node");
        let roster = if params.backups == 0 {
            roster
        } else {
            let backup_ids: Vec<Id> =
                signers[layout.first_backup()..layout.first_root_backup()].iter().map(|s| s.id()).collect();
            let leaf_groups: Vec<_> = roster.groups().skip(1).map(|(prefix, _)| prefix).collect();
            let committees =
                leaf_groups.into_iter().zip(backup_ids.chunks(params.backups).map(<[Id]>::to_vec));
            roster.with_backups(committees).expect("each backup a fresh node of one leaf group")
        };
        let balance = scenario.nodes.initial_balance;
        let distribution: Vec<(Id, u64)> = signers[1..=clients].iter().map(|s| (s.id(), balance)).collect();
        let genesis = Genesis::split(
            &roster,
            organization,
            params.genesis_supply,
            &distribution,
            params.transfer_timeout_pulses,
        )
        // Validation checked the supply covers the distribution; Ids are distinct hashes.
        .expect("a validated scenario has a valid genesis");
        let roster = if params.root_backups == 0 {
            roster
        } else {
            let root_backups =
                signers[layout.first_root_backup()..layout.first_standby()].iter().map(|s| s.id()).collect();
            roster.with_backups([(Prefix::ROOT, root_backups)]).expect("each root backup a fresh node")
        };
        let roster = if params.standbys == 0 {
            roster
        } else {
            let pools = crate::election::pools(scenario, seed, &roster, &signers, layout);
            roster.with_pools(pools).expect("each standby a fresh node of one leaf group")
        };
        World { signers, roster, genesis, layout }
    }

    pub(super) fn into_nodes(
        self,
        scenario: &Scenario,
        verifier: SharedVerifier,
        governance: reference::node::governance::GovConfig,
    ) -> Vec<Node> {
        let params = &scenario.parameters;
        let config = NodeConfig {
            pulse_ms: params.pulse_ms,
            retry_ms: params.transfer_timeout_pulses.saturating_mul(params.pulse_ms),
            max_attempts: params.max_attempts,
            transfer_timeout_pulses: params.transfer_timeout_pulses,
            roster: Arc::new(self.roster),
            bookkeeper_deposit: params.bookkeeper_deposit,
            failover_timeout_pulses: params.failover_timeout_pulses,
            election_cycle_pulses: params.election_cycle_pulses,
            election_pool_factor: params.election_pool_factor,
            bookkeeper_deposit_min: params.bookkeeper_deposit_min,
            governance,
        };
        let retained = params.versions_retained;
        let ledgers: Vec<_> =
            self.genesis.ledgers.into_iter().map(|(_, l)| l.with_versions_retained(retained)).collect();
        let mut ledgers = ledgers.into_iter();
        let root_ledger = ledgers.next().expect("the root group's ledger");
        let mut leaf_ledgers: Vec<Option<reference::ledger::Ledger>> = ledgers.map(Some).collect();
        // The root backups replay the chief with copies of its ledger and arbiter (D-033).
        let root_copy = (root_ledger.clone(), self.genesis.arbiter.clone());
        let mut chief = Some((root_ledger, self.genesis.arbiter));
        let layout = self.layout;
        self.signers
            .into_iter()
            .enumerate()
            .map(|(index, signer)| {
                if index == 0 {
                    let (ledger, arbiter) = chief.take().expect("one chief");
                    Node::chief(signer, ledger, arbiter, verifier.clone(), config.clone())
                } else if index < layout.first_primary {
                    Node::client(signer, verifier.clone(), config.clone())
                } else if index < layout.first_backup() {
                    // The primary's own copy; the backups clone theirs from it first.
                    let group = index - layout.first_primary;
                    let ledger = if layout.backups == 0 {
                        leaf_ledgers[group].take().expect("one ledger per leaf group")
                    } else {
                        leaf_ledgers[group].clone().expect("one ledger per leaf group")
                    };
                    Node::bookkeeper(signer, ledger, verifier.clone(), config.clone())
                } else if layout.is_root_backup(index) {
                    let (ledger, arbiter) = root_copy.clone();
                    Node::chief(signer, ledger, arbiter, verifier.clone(), config.clone())
                } else if let Some(group) = layout.standby_group(index) {
                    // A standby holds the genesis share of its group until elected; then it
                    // takes the group's state from the acting primary (D-035).
                    let ledger = leaf_ledgers[group].clone().expect("one ledger per leaf group");
                    Node::bookkeeper(signer, ledger, verifier.clone(), config.clone())
                } else {
                    let group = layout.backup_group(index).expect("every later node is a backup");
                    let ledger = leaf_ledgers[group].clone().expect("one ledger per leaf group");
                    Node::bookkeeper(signer, ledger, verifier.clone(), config.clone())
                }
            })
            .collect()
    }
}

/// The signers of the chief and the clients (nodes `0..=clients`), and the verifier.
pub(super) fn signers(scenario: &Scenario, seed: u64) -> (Vec<SharedSigner>, SharedVerifier) {
    let signers = more_signers(scenario, seed, 0, u64::from(scenario.nodes.clients) + 1);
    let verifier: SharedVerifier = match scenario.nodes.signatures {
        crate::scenario::SignatureScheme::Sim => Arc::new(SimScheme::new(seed)),
        crate::scenario::SignatureScheme::Ed25519 => Arc::new(Ed25519Verifier),
    };
    (signers, verifier)
}

/// The index of the organization's key among the signers a seed makes (D-041): far above any
/// node's, so that it is nobody's node key.
pub(super) const ORG_KEY_INDEX: u64 = 1 << 40;

/// The signers of nodes `first..first + count`; node `i`'s key depends only on the seed and `i`.
pub(super) fn more_signers(scenario: &Scenario, seed: u64, first: u64, count: u64) -> Vec<SharedSigner> {
    let indices = first..first + count;
    match scenario.nodes.signatures {
        crate::scenario::SignatureScheme::Sim => {
            let scheme = SimScheme::new(seed);
            indices.map(|i| Arc::new(scheme.signer(i)) as SharedSigner).collect()
        }
        crate::scenario::SignatureScheme::Ed25519 => indices
            .map(|i| Arc::new(Ed25519Signer::from_seed(ed25519_key_seed(seed, i))) as SharedSigner)
            .collect(),
    }
}

/// The secret key of node `index` in a run with `seed` when keys are ed25519: generated, and
/// public to whoever knows the seed — a simulation's keys, and a local cluster's (D-040).
pub fn ed25519_key_seed(seed: u64, index: u64) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"leither-sim-ed25519");
    h.update(&seed.to_le_bytes());
    h.update(&index.to_le_bytes());
    *h.finalize().as_bytes()
}

/// The nodes of a run as another driver builds them (`leither-host`): with ed25519 keys
/// whatever the scenario says, in the simulator's order (chief, clients, leaf primaries, leaf
/// backups, root backups, standbys), not started.
#[derive(Debug)]
pub struct DriverWorld {
    /// The nodes, by index.
    pub nodes: Vec<Node>,
    /// Each node's secret key ([`ed25519_key_seed`]).
    pub key_seeds: Vec<[u8; 32]>,
    /// Each node's Id.
    pub ids: Vec<Id>,
    /// Where the committee members are.
    pub layout: Layout,
    /// The users of the scenario's organization, if it has one (the root committee's trust
    /// table is theirs).
    pub governance: Option<crate::governance::GovDriver>,
}

/// Build [`DriverWorld`] for `scenario` (validated) with `seed`; `file` names it in errors.
pub fn driver_world(scenario: &Scenario, seed: u64, file: &Path) -> Result<DriverWorld, SimError> {
    let mut scenario = scenario.clone();
    scenario.nodes.signatures = crate::scenario::SignatureScheme::Ed25519;
    let (signers, verifier) = signers(&scenario, seed);
    let world = World::build(&scenario, seed, signers);
    leaf_groups_exist(&scenario, seed, file, world.layout.leaves)?;
    let ids: Vec<Id> = world.signers.iter().map(|s| s.id()).collect();
    let key_seeds = (0..ids.len() as u64).map(|i| ed25519_key_seed(seed, i)).collect();
    let layout = world.layout;
    let governance = governance_driver(&scenario, seed, &ids, (&world.roster, layout));
    let mut nodes = world.into_nodes(&scenario, verifier, gov_config(governance.as_ref()));
    hold_org_account(&mut nodes, governance.as_ref());
    Ok(DriverWorld { nodes, key_seeds, ids, layout, governance })
}

/// The users of `scenario`'s organization (if it has one), with the organization's own key;
/// `genesis` the roster and layout (who stands in which pool).
pub fn governance_driver(
    scenario: &Scenario,
    seed: u64,
    ids: &[Id],
    genesis: (&Roster, Layout),
) -> Option<crate::governance::GovDriver> {
    crate::governance::GovDriver::new(scenario, seed, ids, genesis, org_key(scenario, seed))
}

/// The root committee's governance configuration: the users' trust table.
pub(super) fn gov_config(
    governance: Option<&crate::governance::GovDriver>,
) -> reference::node::governance::GovConfig {
    reference::node::governance::GovConfig {
        trust: Arc::new(governance.map(|g| g.trust().clone()).unwrap_or_default()),
        electorate: governance.filter(|g| g.elects_bookkeepers()).map(|g| g.org()),
        ..Default::default()
    }
}

/// The account holding what the genesis did not distribute: the organization's own (its key's
/// Id, held by its founder's node: D-046) when the scenario has one, else an Id no key signs for.
fn organization_account(scenario: &Scenario, seed: u64) -> Id {
    match scenario.governance {
        Some(_) => org_key(scenario, seed).id(),
        None => organization_id(seed),
    }
}

/// The organization's key: no node's own, derived from the seed like theirs.
fn org_key(scenario: &Scenario, seed: u64) -> SharedSigner {
    more_signers(scenario, seed, ORG_KEY_INDEX, 1).remove(0)
}

/// The founder's node holds the organization's key (SPEC §3.3) and pays its rewards from its
/// account (D-046); what is sent to the organization's Id reaches that node.
pub(super) fn hold_org_account(nodes: &mut [Node], governance: Option<&crate::governance::GovDriver>) {
    if let Some(driver) = governance {
        let holder = &mut nodes[driver.holder() as usize];
        holder.hold_account(driver.org_key().clone()).expect("the founder is a client");
    }
}

/// An Id no key signs for.
fn organization_id(seed: u64) -> Id {
    let hash = reference::crypto::hash_parts(
        reference::crypto::Domain::Synthetic,
        &[b"leither-sim-organization", &seed.to_le_bytes()],
    );
    let mut id = [0u8; 20];
    id.copy_from_slice(&hash.0[..20]);
    Id(id)
}

pub(super) fn partition_sides(scenario: &Scenario, ids: &[Id]) -> Vec<Vec<bool>> {
    let clients = scenario.nodes.clients;
    scenario
        .faults
        .partitions
        .iter()
        .map(|p| match (&p.side, &p.prefix) {
            (Some(side), _) => {
                let members = side.resolve(clients).expect("validated");
                let mut sides = vec![false; ids.len()];
                members.into_iter().for_each(|m| sides[m as usize] = true);
                sides
            }
            (None, Some(prefix)) => ids.iter().map(|id| network::has_prefix(id, prefix)).collect(),
            (None, None) => unreachable!("validation requires a side or a prefix"),
        })
        .collect()
}

/// Check, without building the run, that the group tree `seed` makes has the leaf groups the
/// scenario's leaf-only keys need (what `leither validate` checks beyond the file's values).
pub fn check_group_tree(scenario: &Scenario, seed: u64, file: &Path) -> Result<(), SimError> {
    if crate::scenario::validate::leaf_only_keys(scenario).is_empty() {
        return Ok(());
    }
    leaf_groups_exist(scenario, seed, file, leaf_groups(scenario, seed))
}

/// The leaf groups of the group tree `seed` makes for `scenario`'s clients. It depends only on
/// the clients, the signature scheme, `stratum_bits`, `group_min_accounts` and the seed.
pub fn leaf_groups(scenario: &Scenario, seed: u64) -> usize {
    let (signers, _) = signers(scenario, seed);
    let params = &scenario.parameters;
    let accounts = signers[1..].iter().map(|s| s.id()).chain([organization_account(scenario, seed)]);
    let tree = GroupTree::build(accounts, params.stratum_bits, params.group_min_accounts)
        .expect("validated group parameters");
    tree.groups().keys().filter(|p| p.len_bits() == params.stratum_bits).count()
}

/// Keys that need leaf groups, refused when the group tree of this seed has none.
pub fn leaf_groups_exist(scenario: &Scenario, seed: u64, file: &Path, leaves: usize) -> Result<(), SimError> {
    if leaves > 0 {
        return Ok(());
    }
    let Some((key, got)) = crate::scenario::validate::leaf_only_keys(scenario).into_iter().next() else {
        return Ok(());
    };
    let p = &scenario.parameters;
    let expected = format!(
        "none: seed {seed}'s group tree has no leaf group ({} clients, parameters.group_min_accounts = {}, \
         stratum_bits = {}), so the chief keeps every account",
        scenario.nodes.clients, p.group_min_accounts, p.stratum_bits
    );
    Err(ScenarioError::Invalid { file: file.to_path_buf(), key: key.into(), expected, got }.into())
}
