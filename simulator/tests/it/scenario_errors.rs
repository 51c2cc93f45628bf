//! Every class of scenario error, with its exact message: file, line, key path, expectation.

use std::path::Path;

use simulator::scenario::{Scenario, ScenarioError};

fn error(text: &str) -> String {
    Scenario::parse(text, Path::new("bad.toml")).unwrap_err().to_string()
}

const BASE: &str = "name = \"x\"\nduration_ms = 1000\n";

#[test]
fn an_unreadable_file_names_the_file() {
    let error = Scenario::load(Path::new("no/such/file.toml")).unwrap_err();
    assert!(matches!(error, ScenarioError::Io { .. }));
    assert!(error.to_string().starts_with("no/such/file.toml: cannot read: "), "{error}");
}

#[test]
fn a_syntax_error_names_the_line() {
    assert_eq!(
        error(&format!("{BASE}[network\n")),
        "bad.toml:3: TOML syntax error: unclosed table, expected `]`"
    );
}

#[test]
fn an_unknown_key_names_its_path_line_and_the_keys_expected() {
    assert_eq!(
        error(&format!("{BASE}[network]\ndorp = 0.1\n")),
        "bad.toml:4: `network.dorp`: unknown field `dorp`, expected one of `latency`, `drop`, `duplicate`, \
         `reorder`, `reorder_max_ms`, `links`, `slow_links`"
    );
}

#[test]
fn a_wrong_type_names_the_type_expected() {
    assert_eq!(
        error("name = \"x\"\nduration_ms = \"long\"\n"),
        "bad.toml:2: `duration_ms`: invalid type: string \"long\", expected a non-negative integer"
    );
}

#[test]
fn a_missing_key_is_named() {
    assert_eq!(error("name = \"x\"\n"), "bad.toml:1: `(top level)`: missing field `duration_ms`");
}

#[test]
fn an_unknown_variant_lists_the_known_ones() {
    assert_eq!(
        error(&format!("{BASE}[network]\nlatency = {{ kind = \"gamma\", ms = 3 }}\n")),
        "bad.toml:4: `network.latency.kind`: unknown variant `gamma`, expected one of `fixed`, `uniform`, \
         `normal`, `lognormal`"
    );
}

#[test]
fn a_malformed_node_set_says_what_a_node_set_is() {
    assert_eq!(
        error(&format!("{BASE}[[faults.crashes]]\nnodes = \"a-b\"\nat_ms = 5\n")),
        "bad.toml:4: `faults.crashes[0].nodes`: `a-b` is not a node, a range `a-b`, `bookkeeper`, `clients` or `all`"
    );
}

#[test]
fn values_out_of_range_say_what_is_allowed() {
    let cases = [
        ("[network]\ndrop = 1.5\n", "`network.drop`: expected a probability in [0, 1], got 1.5"),
        (
            "[[faults.crashes]]\nnodes = \"3-99\"\nat_ms = 5\n",
            "`faults.crashes[0].nodes`: expected node indices in 0..=16 (0 is the chief), got 99",
        ),
        ("[nodes]\nclients = 1\n", "`nodes.clients`: expected 2 ..= 1000000, got 1"),
        ("[parameters]\npulse_ms = 0\n", "`parameters.pulse_ms`: expected 10 ..= 3600000 ms, got 0"),
        (
            "[network]\nlatency = { kind = \"uniform\", min_ms = 9, max_ms = 3 }\n",
            "`network.latency.min_ms`: expected at most max_ms (3), got 9",
        ),
        (
            "[workload]\namount = { kind = \"uniform\", min = 0, max = 3 }\n",
            "`workload.amount`: expected 1 ≤ min ≤ max, got min = 0, max = 3",
        ),
        (
            "[[faults.partitions]]\nat_ms = 5\nprefix = \"012\"\n",
            "`faults.partitions[0].prefix`: expected 1 to 160 bits written as 0s and 1s, got \"012\"",
        ),
        (
            "[[faults.partitions]]\nat_ms = 5\n",
            "`faults.partitions[0]`: expected exactly one of `side` and `prefix`, got neither",
        ),
        (
            "[[faults.crashes]]\nnodes = \"1\"\nat_ms = 5\nrestart_at_ms = 5\n",
            "`faults.crashes[0].restart_at_ms`: expected a time after at_ms (5 ms), got 5",
        ),
        (
            "[parameters]\ngenesis_supply = 10\n",
            "`parameters.genesis_supply`: expected at least nodes.clients × nodes.initial_balance = 16000000, got 10",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(error(&format!("{BASE}{text}")), format!("bad.toml: {expected}"), "for {text:?}");
    }
}

#[test]
fn an_invalid_sweep_point_names_the_point() {
    let text = format!("{BASE}[sweep]\nseeds = [1]\n[sweep.parameters]\n\"network.drop\" = [0.1, 2.0]\n");
    let error = simulator::sweep::plan_text(&text, Path::new("bad.toml")).unwrap_err().to_string();
    assert_eq!(
        error,
        "bad.toml [sweep point network.drop=2.0]: `network.drop`: expected a probability in [0, 1], got 2"
    );
    let text = format!("{BASE}[sweep]\nseeds = [1]\n[sweep.parameters]\n\"network.dorp\" = [0.1]\n");
    let error = simulator::sweep::plan_text(&text, Path::new("bad.toml")).unwrap_err().to_string();
    assert!(error.contains("`network.dorp`: unknown field `dorp`"), "{error}");
}

/// Every shipped protocol scenario; the credit ones (`kind = "credit"`) are checked in
/// `credit.rs`.
#[test]
fn every_shipped_scenario_is_valid() {
    for entry in std::fs::read_dir(crate::support::scenarios_dir()).unwrap() {
        let path = entry.unwrap().path();
        let credit =
            simulator::credit::CreditScenario::is_credit(&std::fs::read_to_string(&path).unwrap_or_default());
        if path.extension().is_some_and(|e| e == "toml") && !credit {
            Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn overrides_change_keys_and_are_validated_like_the_file() {
    use simulator::scenario::Override;
    let text = format!("{BASE}[nodes]\nclients = 4\n");
    let set =
        |items: &[&str]| -> Vec<Override> { items.iter().map(|i| Override::parse(i).unwrap()).collect() };
    let scenario = Scenario::parse_with_overrides(
        &text,
        Path::new("bad.toml"),
        &set(&["network.drop=0.25", "nodes.signatures=\"ed25519\""]),
        "--set",
        false,
    )
    .unwrap();
    assert_eq!(scenario.network.drop, 0.25);
    assert_eq!(scenario.nodes.clients, 4);
    assert_eq!(scenario.nodes.signatures, simulator::scenario::SignatureScheme::Ed25519);

    let error = Scenario::parse_with_overrides(
        &text,
        Path::new("bad.toml"),
        &set(&["network.drop=3"]),
        "--set",
        false,
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        error,
        "bad.toml [--set network.drop=3]: `network.drop`: expected a probability in [0, 1], got 3"
    );
    let error = Scenario::parse_with_overrides(
        &text,
        Path::new("bad.toml"),
        &set(&["network.dorp=0.1"]),
        "--set",
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.starts_with("bad.toml [--set network.dorp=0.1]: `network.dorp`: unknown field `dorp`"),
        "{error}"
    );
    let error =
        Scenario::parse_with_overrides(&text, Path::new("bad.toml"), &set(&["name.x=1"]), "--set", false)
            .unwrap_err()
            .to_string();
    assert_eq!(error, "bad.toml: `--set name.x`: expected `name` to be a table in a dotted key, got 1");
    assert_eq!(
        Override::parse("network.drop").unwrap_err(),
        "`network.drop`: expected KEY=VALUE with a TOML value, e.g. network.drop=0.05 or nodes.signatures=\"ed25519\""
    );
    assert!(Override::parse("nodes.signatures=ed25519").is_err(), "strings are quoted, as in TOML");
}

#[test]
fn byzantine_fractions_must_fit_in_the_leaf_seats() {
    let message = error(&format!("{BASE}[adversaries]\ncensoring_groups = 0.7\nforging_groups = 0.5\n"));
    assert!(message.contains("adversaries.equivocating_groups"), "{message}");
    assert!(message.contains("censoring_groups + forging_groups + equivocating_groups ≤ 1"), "{message}");
}

#[test]
fn group_parameters_are_validated() {
    let message = error(&format!("{BASE}[parameters]\nstratum_bits = 7\n"));
    assert!(message.contains("parameters.stratum_bits") && message.contains("a divisor of 160"), "{message}");
    let message = error(&format!("{BASE}[parameters]\ngroup_min_accounts = 0\n"));
    assert!(message.contains("parameters.group_min_accounts"), "{message}");
}

#[test]
fn committee_parameters_and_primary_crashes_are_validated() {
    let cases = [
        ("[parameters]\nbackups = 17\n", "parameters.backups"),
        ("[parameters]\nroot_backups = 1\n", "parameters.root_backups"),
        ("[parameters]\nroot_backups = 17\n", "parameters.root_backups"),
        ("[parameters]\nfailover_timeout_pulses = 0\n", "parameters.failover_timeout_pulses"),
        ("[parameters]\nelection_cycle_pulses = 0\n", "parameters.election_cycle_pulses"),
        ("[[faults.primary_crashes]]\ngroups = 1.5\nat_ms = 10\n", "faults.primary_crashes[0].groups"),
        (
            "[[faults.primary_crashes]]\ngroups = 0.5\nat_ms = 10\nrestart_at_ms = 5\n",
            "faults.primary_crashes[0].restart_at_ms",
        ),
    ];
    for (text, key) in cases {
        let message = error(&format!("{BASE}{text}"));
        assert!(message.contains(&format!("`{key}`")), "{text}: {message}");
    }
}
