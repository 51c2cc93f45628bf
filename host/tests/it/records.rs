//! The input log's records and the event file's blobs read back exactly what was written.

use host::input::{Input, Record};
use proptest::prelude::*;
use reference::Id;
use reference::crypto::Hash32;
use reference::node::{Command, Timer};

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        Just(Input::Start),
        Just(Input::Restart),
        Just(Input::Timer(Timer::Pulse)),
        any::<[u8; 32]>().prop_map(|h| Input::Timer(Timer::Retry { tx_id: Hash32(h) })),
        (any::<[u8; 20]>(), any::<u64>(), any::<u64>())
            .prop_map(|(to, amount, tag)| Input::Command(Command::Transfer { to: Id(to), amount, tag })),
        (any::<[u8; 20]>(), any::<[u8; 20]>(), any::<u64>(), any::<u64>()).prop_map(
            |(from, to, amount, tag)| {
                Input::Command(Command::TransferFrom { from: Id(from), to: Id(to), amount, tag })
            }
        ),
        any::<u64>().prop_map(|tag| Input::Timer(Timer::ProofRetry { tag })),
        (any::<[u8; 20]>(), any::<u64>(), any::<u64>(), any::<bool>(), any::<u64>()).prop_map(
            |(org, number, opened_pulse, yes, tag)| {
                Input::Command(Command::VoteByBalance { org: Id(org), number, opened_pulse, yes, tag })
            }
        ),
        (any::<[u8; 20]>(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
            |(org, number, opened_pulse, tag)| {
                Input::Command(Command::ProveOrgAccount { org: Id(org), number, opened_pulse, tag })
            }
        ),
    ]
}

proptest! {
    #[test]
    fn a_record_reads_back_as_written(now_ms in any::<u64>(), input in input()) {
        let record = Record { now_ms, input };
        let bytes = record.encode();
        let back = Record::decode(&bytes).expect("decodes");
        prop_assert_eq!(back.encode(), bytes);
        prop_assert_eq!(back.now_ms, now_ms);
    }

    #[test]
    fn a_cut_or_extended_record_is_refused(now_ms in any::<u64>(), input in input(), cut in 1usize..8) {
        let bytes = Record { now_ms, input }.encode();
        prop_assert!(Record::decode(&bytes[..bytes.len().saturating_sub(cut)]).is_err());
        let longer = [bytes.as_slice(), &[0u8]].concat();
        prop_assert!(Record::decode(&longer).is_err());
    }
}

#[test]
fn a_message_record_keeps_its_frame() {
    let scenario =
        simulator::scenario::Scenario::load(&super::workspace("host/tests/it/solo.toml")).expect("solo");
    let mut world =
        simulator::sim::driver_world(&scenario, 7, std::path::Path::new("solo.toml")).expect("genesis");
    let envelope = world.nodes[1].seal(
        5,
        reference::node::To::Everyone,
        reference::node::Message::StateRequest { group: reference::Prefix::ROOT },
    );
    let frame = reference::wire::encode_envelope(&envelope).expect("encodes");
    let record =
        Record { now_ms: 5, input: Input::Message { envelope: Box::new(envelope), frame: frame.clone() } };
    let back = Record::decode(&record.encode()).expect("decodes");
    let Input::Message { frame: back_frame, envelope: back_envelope } = back.input else {
        panic!("a message")
    };
    assert_eq!(back_frame, frame);
    assert_eq!(reference::wire::encode_envelope(&back_envelope).expect("encodes"), frame);
}

#[test]
fn event_blobs_read_back() {
    let synopsis = reference::smt::Synopsis { hash: Hash32([3; 32]), summary: Default::default() };
    let root = reference::smt::RootSynopsis { version: 9, synopsis };
    let blob = host::events::blob(&root);
    assert_eq!(host::events::root(&blob).expect("a root"), root);
    assert!(host::events::root(&blob[..blob.len() - 2]).is_err(), "a cut blob is refused");
    assert!(host::events::root("zz").is_err(), "not hex");
}
