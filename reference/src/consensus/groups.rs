//! Node groups (SPEC §6.1): the Id tree cut into strata of `stratum_bits` levels; a group at
//! stratum `s` is an Id prefix of `s · stratum_bits` bits. A group exists when at least
//! `group_min_accounts` accounts fall under its prefix — "when few nodes are online the lowest
//! levels merge upward" — and the root group always exists. An account belongs to its *leaf
//! group*, the deepest existing group whose prefix it has; a group's parent is the existing
//! group one stratum up (it exists, since it holds at least as many accounts). The groups form
//! the bookkeeper tree; the lowest common ancestor of two accounts arbitrates their transfers
//! (SPEC §7.3). See docs/decisions.md D-021.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::id::{ID_BITS, Id, Prefix};

/// One group of the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Group {
    /// Its stratum (0 = root).
    pub stratum: usize,
    /// Accounts under its prefix, in it or in its descendants.
    pub accounts: usize,
    /// Accounts whose leaf group it is.
    pub own_accounts: usize,
}

/// Why a group tree could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GroupError {
    /// `stratum_bits` must divide the 160 Id bits and be at least 1.
    #[error("stratum_bits = {0} must be between 1 and 160 and divide 160")]
    BadStratumBits(usize),
    /// `group_min_accounts` must be at least 1.
    #[error("group_min_accounts must be at least 1")]
    BadMinAccounts,
}

/// The groups of a set of accounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupTree {
    stratum_bits: usize,
    min_accounts: usize,
    groups: BTreeMap<Prefix, Group>,
}

impl GroupTree {
    /// The groups of `accounts` (duplicates count once).
    pub fn build(
        accounts: impl IntoIterator<Item = Id>,
        stratum_bits: usize,
        min_accounts: usize,
    ) -> Result<GroupTree, GroupError> {
        if stratum_bits == 0 || stratum_bits > ID_BITS || !ID_BITS.is_multiple_of(stratum_bits) {
            return Err(GroupError::BadStratumBits(stratum_bits));
        }
        if min_accounts == 0 {
            return Err(GroupError::BadMinAccounts);
        }
        let mut ids: Vec<Id> = accounts.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        let mut tree = GroupTree { stratum_bits, min_accounts, groups: BTreeMap::new() };
        tree.split(Prefix::ROOT, 0, &ids);
        Ok(tree)
    }

    /// Record the group `prefix` at `stratum` holding the sorted `ids`, and its child groups.
    fn split(&mut self, prefix: Prefix, stratum: usize, ids: &[Id]) {
        let child_bits = (stratum + 1) * self.stratum_bits;
        let mut own_accounts = 0;
        if child_bits > ID_BITS {
            own_accounts = ids.len();
        } else {
            // Sorted Ids sharing a prefix are contiguous.
            for run in ids.chunk_by(|a, b| Prefix::new(*a, child_bits) == Prefix::new(*b, child_bits)) {
                if run.len() >= self.min_accounts {
                    self.split(Prefix::new(run[0], child_bits), stratum + 1, run);
                } else {
                    own_accounts += run.len();
                }
            }
        }
        self.groups.insert(prefix, Group { stratum, accounts: ids.len(), own_accounts });
    }

    /// Every group, by prefix.
    pub fn groups(&self) -> &BTreeMap<Prefix, Group> {
        &self.groups
    }

    /// Bits per stratum.
    pub fn stratum_bits(&self) -> usize {
        self.stratum_bits
    }

    /// The groups from the root down to `id`'s leaf group.
    pub fn path(&self, id: &Id) -> Vec<Prefix> {
        let mut path = vec![Prefix::ROOT];
        let mut bits = self.stratum_bits;
        while bits <= ID_BITS {
            let next = Prefix::new(*id, bits);
            if !self.groups.contains_key(&next) {
                break;
            }
            path.push(next);
            bits += self.stratum_bits;
        }
        path
    }

    /// `id`'s leaf group: the deepest group whose prefix it has.
    pub fn group_of(&self, id: &Id) -> Prefix {
        *self.path(id).last().expect("the path starts at the root")
    }

    /// The group one stratum up (`None` for the root).
    pub fn parent(&self, group: &Prefix) -> Option<Prefix> {
        let len = group.len_bits();
        (len > 0).then(|| Prefix::new(group.bits(), len - self.stratum_bits))
    }

    /// The groups one stratum down.
    pub fn children(&self, group: &Prefix) -> Vec<Prefix> {
        let len = group.len_bits() + self.stratum_bits;
        self.groups.keys().filter(|p| p.len_bits() == len && group.contains(&p.bits())).copied().collect()
    }

    /// The deepest group on both accounts' paths: where their transfer is arbitrated.
    pub fn lowest_common_ancestor(&self, a: &Id, b: &Id) -> Prefix {
        let (path_a, path_b) = (self.path(a), self.path(b));
        *path_a
            .iter()
            .zip(&path_b)
            .take_while(|(x, y)| x == y)
            .last()
            .expect("both paths start at the root")
            .0
    }
}
