//! Proof soundness (SPEC §4.6, I8): honest proofs verify; tampered proofs, summaries and
//! versions never do; and no proof, tampered or not, ever verifies a false statement.

use proptest::prelude::*;
use reference::Id;
use reference::smt::{Account, Proof, ProofError, RootSynopsis, Terminal, VersionedSmt};

use crate::support::{account, key_index, key_pool};

/// A tree over a random subset of the key pool, sealed at one version.
fn tree_strategy() -> impl Strategy<Value = VersionedSmt> {
    prop::collection::btree_map(key_index(), account(), 0..16).prop_map(|accounts| {
        let keys = key_pool();
        VersionedSmt::from_accounts(accounts.into_iter().map(|(k, a)| (keys[k], a)))
    })
}

/// One way of tampering with a proof or its root. Each changes committed data, so the result
/// must be rejected.
#[derive(Clone, Debug)]
enum Tamper {
    SiblingHashByte { step: usize, byte: usize },
    SiblingSummary { step: usize, field: usize },
    StepBit { step: usize, delta: u8 },
    DropStep { step: usize },
    TerminalAccount { field: usize },
    TerminalId { byte: usize },
    ProofVersion,
    RootHashByte { byte: usize },
    RootSummary { field: usize },
}

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (0..40usize, 0..32usize).prop_map(|(step, byte)| Tamper::SiblingHashByte { step, byte }),
        (0..40usize, 0..5usize).prop_map(|(step, field)| Tamper::SiblingSummary { step, field }),
        (0..40usize, 1..4u8).prop_map(|(step, delta)| Tamper::StepBit { step, delta }),
        (0..40usize).prop_map(|step| Tamper::DropStep { step }),
        (0..5usize).prop_map(|field| Tamper::TerminalAccount { field }),
        (0..20usize).prop_map(|byte| Tamper::TerminalId { byte }),
        Just(Tamper::ProofVersion),
        (0..32usize).prop_map(|byte| Tamper::RootHashByte { byte }),
        (0..5usize).prop_map(|field| Tamper::RootSummary { field }),
    ]
}

fn bump_summary_field(summary: &mut reference::smt::Summary, field: usize) {
    match field {
        0 => summary.balance += 1,
        1 => summary.frozen += 1,
        2 => summary.pending_out += 1,
        3 => summary.pending_in += 1,
        _ => summary.accounts += 1,
    }
}

fn bump_account_field(account: &mut Account, field: usize) {
    match field {
        0 => account.balance += 1,
        1 => account.frozen += 1,
        2 => account.nonce += 1,
        3 => account.pending_out += 1,
        _ => account.pending_in += 1,
    }
}

/// Apply `tamper`; `false` if it does not apply to this proof (e.g. no such step).
fn apply(tamper: &Tamper, proof: &mut Proof, root: &mut RootSynopsis) -> bool {
    let steps = proof.steps.len();
    match *tamper {
        Tamper::SiblingHashByte { step, byte } if step < steps => {
            proof.steps[step].sibling_hash.0[byte] ^= 1;
        }
        Tamper::SiblingSummary { step, field } if step < steps => {
            bump_summary_field(&mut proof.steps[step].sibling_summary, field);
        }
        Tamper::StepBit { step, delta } if step < steps => {
            proof.steps[step].bit = proof.steps[step].bit.wrapping_add(delta);
        }
        Tamper::DropStep { step } if step < steps => {
            proof.steps.remove(step);
        }
        Tamper::TerminalAccount { field } => match &mut proof.terminal {
            Terminal::Leaf { account, .. } => bump_account_field(account, field),
            Terminal::Empty => return false,
        },
        Tamper::TerminalId { byte } => match &mut proof.terminal {
            Terminal::Leaf { id, .. } => id.0[byte] ^= 1,
            Terminal::Empty => return false,
        },
        Tamper::ProofVersion => proof.version += 1,
        Tamper::RootHashByte { byte } => root.synopsis.hash.0[byte] ^= 1,
        Tamper::RootSummary { field } => bump_summary_field(&mut root.synopsis.summary, field),
        _ => return false,
    }
    true
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn honest_proofs_verify_for_present_and_absent_keys(tree in tree_strategy(), k in key_index()) {
        let (version, key) = (tree.latest_version(), key_pool()[k]);
        let root = tree.root(version).unwrap();
        let proof = tree.prove(version, &key).unwrap();
        prop_assert_eq!(proof.verify(&root), Ok(tree.get(version, &key).unwrap()));
    }

    #[test]
    fn tampered_proofs_roots_and_versions_never_verify(
        tree in tree_strategy(),
        k in key_index(),
        tamper in tamper(),
    ) {
        let (version, key) = (tree.latest_version(), key_pool()[k]);
        let mut root = tree.root(version).unwrap();
        let mut proof = tree.prove(version, &key).unwrap();
        prop_assume!(apply(&tamper, &mut proof, &mut root));
        prop_assert!(proof.verify(&root).is_err(), "{:?} was accepted", tamper);
    }

    /// Whatever is done to a proof — including pointing it at another key — if it verifies,
    /// what it says is true (I8's "only if").
    #[test]
    fn a_verifying_proof_never_lies(
        tree in tree_strategy(),
        k in key_index(),
        other in key_index(),
        tamper in prop::option::of(tamper()),
    ) {
        let version = tree.latest_version();
        let mut root = tree.root(version).unwrap();
        let honest_root = root;
        let mut proof = tree.prove(version, &key_pool()[k]).unwrap();
        proof.key = key_pool()[other];
        if let Some(tamper) = &tamper {
            apply(tamper, &mut proof, &mut root);
        }
        if let (Ok(claim), true) = (proof.verify(&root), root == honest_root) {
            prop_assert_eq!(claim, tree.get(version, &proof.key).unwrap());
        }
    }
}

#[test]
fn empty_tree_proof_verifies_and_rejects_extra_steps() {
    let tree = VersionedSmt::new();
    let root = tree.root(0).unwrap();
    let proof = tree.prove(0, &Id::spread(3)).unwrap();
    assert_eq!(proof.verify(&root), Ok(None));
    let mut padded = proof.clone();
    padded.steps.push(reference::smt::ProofStep {
        bit: 0,
        sibling_hash: root.synopsis.hash,
        sibling_summary: root.synopsis.summary,
    });
    assert_eq!(padded.verify(&root), Err(ProofError::StepsUnderEmpty { steps: 1 }));
}

#[test]
fn proof_from_another_version_is_rejected_by_version() {
    let mut tree = VersionedSmt::new();
    tree.insert(Id::spread(1), Account::with_balance(1));
    let v1 = tree.seal();
    tree.insert(Id::spread(1), Account::with_balance(2));
    let v2 = tree.seal();
    let proof = tree.prove(v1, &Id::spread(1)).unwrap();
    let root_v2 = tree.root(v2).unwrap();
    assert_eq!(proof.verify(&root_v2), Err(ProofError::VersionMismatch { proof: v1, root: v2 }));
}
