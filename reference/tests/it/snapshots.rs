//! Snapshots of a small tree's structure and of a proof, so that any change to the tree shape,
//! the hash encoding or the proof format shows up in review.

use reference::Id;
use reference::smt::{Account, VersionedSmt};

fn small_tree() -> VersionedSmt {
    let accounts = [
        (Id::from_u64(0x1000_0000_0000_0000), Account::with_balance(10)),
        (Id::from_u64(0x1800_0000_0000_0000), Account { balance: 20, frozen: 5, ..Account::default() }),
        (Id::from_u64(0x8000_0000_0000_0000), Account { balance: 30, nonce: 2, ..Account::default() }),
        (Id::from_u64(0xC000_0000_0000_0001), Account { balance: 7, pending_in: 7, ..Account::default() }),
        (Id::from_u64(0xC000_0000_0000_0000), Account { balance: 3, pending_out: 7, ..Account::default() }),
    ];
    VersionedSmt::from_accounts(accounts)
}

#[test]
fn small_tree_structure() {
    let tree = small_tree();
    insta::assert_snapshot!(tree.dump(tree.latest_version()).unwrap());
}

#[test]
fn small_tree_inclusion_and_non_inclusion_proofs() {
    let tree = small_tree();
    let version = tree.latest_version();
    let present = tree.prove(version, &Id::from_u64(0x1800_0000_0000_0000)).unwrap();
    let absent = tree.prove(version, &Id::from_u64(0xC000_0000_0000_0002)).unwrap();
    let root = tree.root(version).unwrap();
    insta::assert_debug_snapshot!((root, present, absent));
}
