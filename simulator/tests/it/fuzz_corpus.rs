//! The fuzz targets' committed corpora, replayed as a normal test (D-038): a frame that once
//! made a node or the decoder panic fails CI here, without a fuzzer.

use std::path::{Path, PathBuf};

use reference::wire;
use simulator::harness::{Fed, Harness, Role};

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    files.sort();
    files
}

#[test]
fn every_role_is_kept_with_what_it_was_sent() {
    let harness = Harness::new();
    for role in Role::ALL {
        let seeds = harness.seed_inputs(role);
        assert!(!seeds.is_empty(), "{role:?} was sent nothing");
        for input in &seeds {
            assert_eq!(harness.feed(role, input), Fed::Handled, "{role:?}");
        }
    }
    assert!(
        harness.node(Role::Chief).arbiter().is_some() && harness.node(Role::RootBackup).arbiter().is_some()
    );
    assert!(
        harness.node(Role::LeafPrimary).ledger().is_some() && harness.node(Role::Client).ledger().is_none()
    );
}

#[test]
fn the_decode_corpus_replays_canonical_or_refused() {
    let files = corpus("decode");
    assert!(files.len() >= 20, "a seeded corpus: {}", files.len());
    let mut decoded_envelopes = 0;
    for file in files {
        let bytes = std::fs::read(&file).expect("readable");
        if let Ok(msg) = wire::decode(&bytes) {
            assert_eq!(wire::encode(&msg).as_deref(), Ok(bytes.as_slice()), "{}", file.display());
        }
        if let Ok(envelope) = wire::decode_envelope(&bytes) {
            assert_eq!(
                wire::encode_envelope(&envelope).as_deref(),
                Ok(bytes.as_slice()),
                "{}",
                file.display()
            );
            decoded_envelopes += 1;
        }
    }
    assert!(decoded_envelopes >= 20, "the corpus holds whole envelopes: {decoded_envelopes}");
}

#[test]
fn every_role_corpus_replays_without_a_panic() {
    let harness = Harness::new();
    for role in Role::ALL {
        let files = corpus(role.name());
        assert!(!files.is_empty(), "{}: a seeded corpus", role.name());
        let handled = files
            .iter()
            .filter(|file| harness.feed(role, &std::fs::read(file).expect("readable")) == Fed::Handled)
            .count();
        assert!(handled > 0, "{}: no file reached the node", role.name());
    }
}

/// The file name libFuzzer would give `input`'s content (any stable content hash will do: the
/// corpus is a set).
fn name_of(input: &[u8]) -> String {
    blake3::hash(input).to_hex()[..40].to_string()
}

#[test]
fn the_committed_corpora_hold_the_harness_seeds() {
    // Each role's seeds are what its node was sent in the honest run; the decode corpus holds
    // their message frames and the envelopes that carried them. `LEITHER_BLESS=1` writes the ones missing (after a change to the harness's
    // world or to the encoding).
    let harness = Harness::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let bless = std::env::var_os("LEITHER_BLESS").is_some();
    let mut missing = Vec::new();
    for role in Role::ALL {
        for input in harness.seed_inputs(role) {
            let envelope = harness.envelope_frame(role, &input).expect("a seed holds a message");
            for (target, bytes) in
                [(role.name(), &input[..]), ("decode", &input[2..]), ("decode", &envelope[..])]
            {
                let path = root.join(target).join(name_of(bytes));
                if path.exists() {
                    continue;
                }
                if bless {
                    std::fs::create_dir_all(path.parent().expect("a directory")).expect("created");
                    std::fs::write(&path, bytes).expect("written");
                } else {
                    missing.push(path);
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "{} seed inputs missing, e.g. {}; re-seed with LEITHER_BLESS=1",
        missing.len(),
        missing[0].display()
    );
}
