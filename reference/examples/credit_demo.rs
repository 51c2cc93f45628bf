//! The credit model on its own, as an embedding node would use it (SPEC §2): two users form a
//! relation from a signed invitation, grant each other letters of credit, one uses the other's
//! storage on credit, a third is served through them as intermediaries, an IOU is settled
//! through the ledger, another defaults and revokes its line, and the trust models score the
//! resulting relationship graph.
//!
//! Run: `cargo run --release -p reference --example credit_demo`
#![allow(clippy::print_stdout)]

use reference::credit::chain::{Invite, RelationshipChain, Tags};
use reference::credit::eligibility::credit_edges;
use reference::credit::line::{CreditBook, CreditParams, Unit};
use reference::credit::trust::{EigenTrust, Graph, TrustModel};
use reference::crypto::{Signer, SimScheme, SimSigner};
use reference::invariants;
use reference::ledger::{Ledger, Tx};

fn main() {
    let scheme = SimScheme::new(7);
    let [alice, bob, carol]: [SimSigner; 3] = [1, 2, 3].map(|i| scheme.signer(i));
    let params = CreditParams { default_after_pulses: 100, ..CreditParams::default() };
    let mut chains: Vec<RelationshipChain> = [&alice, &bob, &carol]
        .iter()
        .map(|s| RelationshipChain::new(s.id(), params.grant_by_closeness))
        .collect();
    let mut book = CreditBook::new(params);

    // SPEC §2.1: a relation is an invitation the peer accepts; both sign, each keeps its side.
    let mut relate = |chains: &mut Vec<RelationshipChain>, a: usize, b: usize, signers: [&SimSigner; 2]| {
        let invite = Invite {
            inviter: signers[0].id(),
            closeness: 3,
            tags: Tags::FRIEND,
            issued_pulse: 0,
            validity_pulses: 10,
            credit: 100,
            friend_count: 1,
            nonce: (a * 10 + b) as u64,
        };
        let signed = chains[a].invite(invite, signers[0]).expect("a valid invitation");
        let acceptance = chains[b].accept(&signed, 80, 1, signers[1], &scheme).expect("accepted");
        let relation = chains[a].on_acceptance(&acceptance, 1, &scheme).expect("recorded");
        // SPEC §2.2: each side grants the credit it stated.
        book.grant_capped(signers[0].id(), signers[1].id(), 3, relation.credit_granted, 1).unwrap();
        book.grant_capped(signers[1].id(), signers[0].id(), 3, relation.credit_received, 1).unwrap();
        println!(
            "relation {} ↔ {}: closeness {}, credit {} and {}",
            signers[0].id().short(),
            signers[1].id().short(),
            relation.closeness,
            relation.credit_granted,
            relation.credit_received
        );
    };
    relate(&mut chains, 0, 1, [&alice, &bob]);
    relate(&mut chains, 1, 2, [&bob, &carol]);

    // SPEC §2.3–§2.4: Bob stores 120 units with Alice (storage counts half): he owes 60.
    let owed = book.consume(alice.id(), bob.id(), Unit::Storage, 120, 2).unwrap();
    println!(
        "bob owes alice {owed} base units; {} are still available",
        book.available(alice.id(), bob.id())
    );
    let refused = book.consume(alice.id(), bob.id(), Unit::Bandwidth, 50, 2).unwrap_err();
    println!("  refused: {refused}");

    // SPEC §2.6: Carol has no line from Alice; Bob relays: every hop's IOU changes or none.
    let path = book.route(alice.id(), carol.id(), 10).unwrap();
    book.consume_via(&path, Unit::Bandwidth, 10, 3).unwrap();
    println!("carol served by alice through {} lines (bob now owes alice 10 more)", path.len() - 1);

    // SPEC §2.4: Bob settles his IOU with a doubly signed ledger transfer.
    let distribution = [(alice.id(), 1_000), (bob.id(), 1_000), (carol.id(), 1_000)];
    let mut ledger = Ledger::genesis_with_distribution(scheme.signer(0).id(), 10_000, &distribution).unwrap();
    let due = book.line(alice.id(), bob.id()).unwrap().owed;
    let tx = Tx { from: bob.id(), to: alice.id(), amount: due, from_nonce: 1, created_pulse: 4 };
    ledger.apply(&tx.sign(&bob, &alice), &scheme).unwrap();
    book.settle(alice.id(), bob.id(), due, 4).unwrap();
    let version = ledger.seal();
    invariants::conservation(ledger.tree(), version, 10_000).expect("I1");
    println!("bob paid {due}; alice's balance is now {}", ledger.account(&alice.id()).unwrap().balance);

    // SPEC §2.5: Carol never pays Bob; after `default_after_pulses` her line is revoked.
    let defaults = book.tick(200);
    println!(
        "defaults at pulse 200: {} (cap now {})",
        defaults.len(),
        book.line(bob.id(), carol.id()).unwrap().cap
    );
    invariants::credit_caps(&book).expect("I12");

    // SPEC §2.7: trust over the live letters of credit, seeded by Alice.
    let ids = [alice.id(), bob.id(), carol.id()];
    let edges = credit_edges(&book, |id| ids.iter().position(|x| x == id).map(|i| i as u32));
    let graph = Graph::from_edges(ids.len(), &edges).unwrap();
    let scores = EigenTrust::default().scores(&graph, &[0], None).unwrap();
    for (id, score) in ids.iter().zip(&scores.scores) {
        println!("  trust {}: {score:.4}", id.short());
    }
}
