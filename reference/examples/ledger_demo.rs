//! A first run of the ledger core: an organization with a genesis supply, a few members,
//! transfers applied under the SPEC §7.2 safety conditions (one of them refused), a version
//! sealed per pulse, and a proof of a member's account verified against the root synopsis.
//!
//! Run: `cargo run --release -p reference --example ledger_demo`
#![allow(clippy::print_stdout)]

use reference::crypto::{Signer, SimScheme, SimSigner};
use reference::invariants;
use reference::ledger::{Ledger, Tx};
use reference::smt::Version;

const GENESIS_SUPPLY: u64 = 1_000_000_000;
const MEMBERS: u64 = 1_000;

fn main() {
    let scheme = SimScheme::new(2026);
    let organization = scheme.signer(0);
    let members: Vec<SimSigner> = (1..=MEMBERS).map(|i| scheme.signer(i)).collect();
    let mut ledger = Ledger::genesis(organization.id(), GENESIS_SUPPLY);
    println!("organization {} holds the genesis supply {GENESIS_SUPPLY}", organization.id());

    // Pulse 1: open the members' accounts and pay each a first distribution (SPEC §3.3).
    for (i, member) in members.iter().enumerate() {
        ledger.open_account(member.id()).expect("fresh account");
        let tx = Tx {
            from: organization.id(),
            to: member.id(),
            amount: 10_000,
            from_nonce: i as u64 + 1,
            created_pulse: 1,
        };
        ledger.apply(&tx.sign(&organization, member), &scheme).expect("valid distribution");
    }
    let first = seal_and_report(&mut ledger, 1);

    // Pulse 2: members pay each other in a ring; one tries to overspend and is refused.
    for (i, payer) in members.iter().enumerate() {
        let payee = &members[(i + 1) % members.len()];
        let tx =
            Tx { from: payer.id(), to: payee.id(), amount: 1 + i as u64, from_nonce: 1, created_pulse: 2 };
        ledger.apply(&tx.sign(payer, payee), &scheme).expect("valid ring transfer");
    }
    let (greedy, victim) = (&members[0], &members[1]);
    let overspend =
        Tx { from: greedy.id(), to: victim.id(), amount: 1_000_000, from_nonce: 2, created_pulse: 2 };
    match ledger.apply(&overspend.sign(greedy, victim), &scheme) {
        Ok(_) => panic!("an overdraft was accepted"),
        Err(error) => println!("pulse 2: refused {}'s transfer: {error}", greedy.id().short()),
    }
    let second = seal_and_report(&mut ledger, 2);

    // Any member proves its balance to anyone holding the root synopsis (SPEC §4.6, §11.2).
    let prover = &members[41];
    for version in [first, second] {
        let root = ledger.tree().root(version).expect("held version");
        let proof = ledger.tree().prove(version, &prover.id()).expect("held version");
        let account = proof.verify(&root).expect("honest proof verifies").expect("account is present");
        println!(
            "version {version}: proof of {} ({} steps) verifies: balance {}, nonce {}",
            prover.id().short(),
            proof.steps.len(),
            account.balance,
            account.nonce
        );
    }
}

/// Seal the pulse's changes and print the new root, checking I1 and I2 on the way.
fn seal_and_report(ledger: &mut Ledger, pulse: u64) -> Version {
    let applied = ledger.journal().len();
    let version = ledger.seal();
    let root = ledger.tree().root(version).expect("latest version");
    invariants::conservation(ledger.tree(), version, ledger.genesis_supply()).expect("I1");
    invariants::non_negativity(ledger.tree(), version).expect("I2");
    println!(
        "pulse {pulse}: {applied} transfers sealed as version {version}: root {} accounts {} supply {}",
        root.synopsis.hash,
        root.synopsis.summary.accounts,
        root.synopsis.summary.supply()
    );
    version
}
