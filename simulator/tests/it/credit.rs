//! Credit runs: each adversary has the effect the model says it must, the trust metrics give
//! the known answer where there is one, the checks catch a provider serving past the cap, runs
//! are deterministic, bad scenarios are refused with the key and line, and the comparison
//! report of a small sweep is pinned.

use std::path::Path;

use simulator::credit::compare;
use simulator::credit::scenario::CreditScenario;
use simulator::credit::sim::{CreditFaults, CreditSimError};
use simulator::credit::summary::{CreditRunResult, CreditSummary};
use simulator::credit::{CreditSimulation, report};
use simulator::summary::COMMIT;

use crate::support::scenarios_dir;

/// A small organization: 60 honest members, settling every 100 pulses, defaults after 300.
const BASE: &str = r#"
kind = "credit"
name = "credit-test"
pulses = 900
[population]
honest = 60
pretrusted = 3
relations_per_node = 4
[credit]
default_after_pulses = 300
iou_settle_period = 100
raise_period_pulses = 100
[workload]
requests_per_pulse = 4.0
[trust]
update_period_pulses = 50
[election]
cycle_pulses = 300
committees = 4
"#;

fn scenario(extra: &str) -> CreditScenario {
    CreditScenario::parse(&format!("{BASE}\n{extra}"), Path::new("test.toml")).expect("a valid test scenario")
}

/// `BASE` with `key = value` overrides (dotted keys, TOML values).
fn with(sets: &[(&str, &str)]) -> CreditScenario {
    let overrides: Vec<_> = sets
        .iter()
        .map(|(k, v)| simulator::scenario::Override::parse(&format!("{k}={v}")).expect("an override"))
        .collect();
    CreditScenario::parse_with_overrides(BASE, Path::new("test.toml"), &overrides, "--set", false)
        .expect("a valid test scenario")
}

fn run(s: &CreditScenario, seed: u64) -> CreditRunResult {
    CreditSimulation::new(s, seed, "test.toml").run().expect("the run passes its checks")
}

fn summary(s: &CreditScenario) -> CreditSummary {
    run(s, 1).summary
}

const HONEST: usize = 0;
const FREE_RIDERS: usize = 1;
const SYBILS: usize = 3;

#[test]
fn an_honest_organization_settles_everything_through_the_ledger_and_loses_nothing() {
    let s = summary(&scenario(""));
    assert!(s.service.requests > 3_000, "{:?}", s.service);
    assert!(s.service.served_direct > 0 && s.service.served_routed > 0, "{:?}", s.service);
    assert_eq!(s.defaults.defaulted, 0, "{:?}", s.defaults);
    assert_eq!(s.defaults.value_lost, 0);
    assert!(s.settlement.transfers > 100 && s.settlement.versions > 0, "{:?}", s.settlement);
    // Everything served before the last settlement round was paid: what is settled is at
    // most what honest lenders extended and most of it.
    assert!(s.settlement.value_settled <= s.service.credit_extended);
    assert!(s.settlement.value_settled * 10 >= s.service.credit_extended * 7, "{:?}", s);
    assert_eq!(s.trust.auc_honest_vs_adversary, None, "no adversaries, no AUC");
    assert_eq!(s.seats.adversary_seat_fraction, 0.0);
    assert_eq!(s.seats.terms, 2);
    assert!(s.invariant_checks >= 900);
}

#[test]
fn free_riders_default_and_only_their_lenders_lose() {
    let s = summary(&scenario("[adversaries]\nfree_riders = 6"));
    assert!(s.defaults.defaulted_by_class[FREE_RIDERS] > 0, "{:?}", s.defaults);
    assert!(s.defaults.value_lost_by_class[FREE_RIDERS] > 0);
    assert_eq!(s.defaults.defaulted_by_class[HONEST], 0, "honest members settle within the window");
    assert_eq!(s.defaults.value_lost, s.defaults.value_lost_by_class.iter().sum::<u64>());
    assert!(s.service.refused_revoked > 0, "a defaulted line refuses further service");
    assert!(s.defaults.defaulted_bill_fraction > 0.0 && s.defaults.value_lost_fraction > 0.0);
}

#[test]
fn a_default_window_shorter_than_the_settlement_period_makes_honest_members_default() {
    let s = summary(&with(&[("credit.default_after_pulses", "50")]));
    assert!(s.defaults.defaulted_by_class[HONEST] > 0, "{:?}", s.defaults);
}

#[test]
fn whitewashers_rejoin_under_new_ids_after_a_default() {
    let s = summary(&scenario("[adversaries]\nwhitewashers = 4"));
    assert!(s.identities.rejoined > 0, "{:?}", s.identities);
    assert!(s.defaults.defaulted_by_class[2] > s.identities.rejoined, "each rejoin follows a default");
}

#[test]
fn sybils_behind_no_attack_edge_get_no_trust_under_any_model() {
    for model in ["eigentrust", "personalized_pagerank", "sybilrank", "maxflow"] {
        let s = summary(&with(&[
            ("trust.model", &format!("\"{model}\"")),
            ("adversaries.sybils", "20"),
            ("adversaries.attack_edges", "0"),
            ("election.trust_min", "0.1"),
        ]));
        assert_eq!(s.trust.accepted_sybils, 0.0, "{model}");
        assert_eq!(s.trust.auc_honest_vs_sybil, Some(1.0), "{model}");
        assert_eq!(s.seats.sybil_seat_fraction, 0.0, "{model}: no trust, not eligible");
        assert_eq!(s.defaults.value_lost_by_class[SYBILS], 0, "{model}: unreachable sybils borrow nothing");
    }
}

#[test]
fn many_close_attack_edges_let_sybils_in_and_greedy_sybils_cost_their_lenders() {
    let sets = |strategy: &str| {
        with(&[
            ("adversaries.sybils", "20"),
            ("adversaries.attack_edges", "30"),
            ("adversaries.attack_closeness", "5"),
            ("adversaries.sybil_strategy", strategy),
        ])
    };
    let patient = summary(&sets("\"patient\""));
    assert!(patient.trust.accepted_sybils > 1.0, "{:?}", patient.trust);
    assert!(patient.trust.auc_honest_vs_sybil.unwrap() < 1.0);
    assert_eq!(patient.defaults.defaulted_by_class[SYBILS], 0, "patient sybils settle");
    let greedy = summary(&sets("\"greedy\""));
    assert!(greedy.defaults.defaulted_by_class[SYBILS] > 0, "{:?}", greedy.defaults);
    let per_edge = greedy.trust.credit_lost_per_attack_edge.unwrap();
    assert_eq!(per_edge, greedy.defaults.value_lost_by_class[SYBILS] as f64 / 30.0);
}

#[test]
fn a_malicious_collective_with_spies_is_measured_and_camouflage_keeps_its_lines_alive() {
    let collective = |camouflage: &str| {
        summary(&with(&[
            ("adversaries.malicious", "6"),
            ("adversaries.spies", "2"),
            ("adversaries.camouflage", camouflage),
        ]))
    };
    let open = collective("0.0");
    let hidden = collective("1.0");
    assert!(open.defaults.defaulted_by_class[4] > 0, "{:?}", open.defaults);
    assert_eq!(hidden.defaults.defaulted_by_class[4], 0, "always settling, never defaulting");
    assert_eq!(open.defaults.defaulted_by_class[5], 0, "spies settle like honest members");
    assert!(open.trust.auc_honest_vs_adversary.is_some() && hidden.seats.terms > 0);
}

#[test]
fn trust_weighted_votes_keep_a_ballot_stuffing_sybil_region_out_of_the_seats() {
    let sets = |weight: &str| {
        with(&[
            ("adversaries.sybils", "80"),
            ("adversaries.attack_edges", "2"),
            ("adversaries.sybil_strategy", "\"patient\""),
            ("election.vote_weight", weight),
        ])
    };
    let by_balance = summary(&sets("\"balance\""));
    let by_trust = summary(&sets("\"trust\""));
    assert!(by_balance.seats.sybil_seat_fraction > 0.0, "{:?}", by_balance.seats);
    assert!(
        by_trust.seats.sybil_seat_fraction < by_balance.seats.sybil_seat_fraction,
        "{:?}",
        by_trust.seats
    );
}

#[test]
fn a_provider_serving_past_the_cap_is_caught_by_i12_with_a_replay_command() {
    let mut sim = CreditSimulation::new(&with(&[("workload.requests_per_pulse", "20.0")]), 3, "x.toml");
    sim.inject_faults(CreditFaults { skip_cap_check: true });
    match sim.run() {
        Err(CreditSimError::Violation { violation, replay, .. }) => {
            assert_eq!(violation.invariant.code(), "I12");
            assert!(replay.contains("run x.toml --seed 3"), "{replay}");
        }
        other => panic!("expected an I12 violation, got {other:?}"),
    }
}

#[test]
fn the_same_seed_gives_identical_results_and_reports_and_another_seed_differs() {
    let s = scenario("[adversaries]\nfree_riders = 3\nsybils = 10\nattack_edges = 3\nwhitewashers = 2");
    let (a, b) = (run(&s, 5), run(&s, 5));
    assert_eq!(a, b);
    assert_eq!(report::run_html(&a), report::run_html(&b));
    assert_eq!(report::series_csv(&a.series), report::series_csv(&b.series));
    assert_ne!(run(&s, 6).summary.service, a.summary.service);
}

#[test]
fn bad_credit_scenarios_are_refused_with_the_key_and_line() {
    let error = |text: &str| CreditScenario::parse(text, Path::new("bad.toml")).unwrap_err().to_string();
    let unknown = error(&format!("{BASE}\n[adversaries]\nsybills = 3\n"));
    assert!(unknown.starts_with("bad.toml:") && unknown.contains("sybills"), "{unknown}");
    assert_eq!(
        error(&format!("{BASE}\n[adversaries]\nattack_edges = 2\n")),
        "bad.toml: `adversaries.attack_edges`: expected 0 when there are no sybils, got 2"
    );
    let metric = error(&format!("{BASE}\n[objective]\nhappiness = 1.0\n"));
    assert!(metric.contains("`objective.happiness`: expected one of defaulted_bill_fraction"), "{metric}");
    let axis = error(&format!(
        "{BASE}\n[sweep]\nseeds = [1]\nx = \"credit.cap_max\"\n[sweep.parameters]\n\"trust.model\" = [\"maxflow\"]\n"
    ));
    assert_eq!(axis, "bad.toml: `sweep.x`: expected a key of [sweep.parameters], got credit.cap_max");
    let model = error(&BASE.replace("update_period_pulses = 50", "model = \"pagerank\""));
    assert!(model.contains("trust.model") && model.contains("unknown variant"), "{model}");
    let typo = BASE.replace("kind = \"credit\"", "kind = \"credti\"");
    assert!(CreditScenario::is_credit(&typo));
    assert_eq!(
        CreditScenario::parse(&typo, Path::new("bad.toml")).unwrap_err().to_string(),
        "bad.toml: `kind`: expected \"credit\" (a credit scenario; a protocol scenario has no `kind`), got \"credti\""
    );
    let bad_set = simulator::scenario::Override::parse("population.honest=1").unwrap();
    let changed = CreditScenario::parse_with_overrides(BASE, Path::new("t.toml"), &[bad_set], "--set", false);
    assert!(changed.unwrap_err().to_string().contains("`population.honest`: expected at least 2, got 1"));
}

#[test]
fn every_shipped_credit_scenario_is_valid_and_recognised() {
    let mut found = 0;
    for entry in std::fs::read_dir(scenarios_dir()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(CreditScenario::is_credit(&text), name.starts_with("credit-"), "{name}");
        if CreditScenario::is_credit(&text) {
            compare::plan_text(&text, &path).unwrap_or_else(|e| panic!("{name}: {e}"));
            found += 1;
        }
    }
    assert!(found >= 3);
}

/// The shipped sybil sweep, shrunk so that a test can run it: the same keys, fewer members,
/// pulses, seeds and values.
fn small_sybil_sweep() -> String {
    let path = scenarios_dir().join("credit-sybil.toml");
    let mut table: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let set = |table: &mut toml::Table, section: &str, key: &str, value: toml::Value| {
        table[section].as_table_mut().unwrap().insert(key.into(), value);
    };
    table.insert("pulses".into(), 600.into());
    set(&mut table, "population", "honest", 50.into());
    set(&mut table, "adversaries", "sybils", 15.into());
    set(&mut table, "workload", "requests_per_pulse", 3.0.into());
    set(&mut table, "sweep", "seeds", toml::Value::Array(vec![1.into(), 2.into()]));
    let parameters = table["sweep"]["parameters"].as_table().unwrap().clone();
    let mut parameters = parameters;
    parameters.insert("adversaries.attack_edges".into(), toml::Value::Array(vec![2.into(), 12.into()]));
    set(&mut table, "sweep", "parameters", toml::Value::Table(parameters));
    toml::to_string(&table).unwrap()
}

#[test]
fn the_comparison_report_of_a_small_sybil_sweep() {
    let text = small_sybil_sweep();
    let plan = compare::plan_text(&text, Path::new("scenarios/credit-sybil.toml")).unwrap();
    assert_eq!(plan.points.len(), 2 * 4 * 2, "attack edges × models × seeds");
    let all: Vec<_> = plan.points.iter().collect();
    let dir = crate::support::temp_dir("credit-small-sweep");
    let results = compare::run(&plan, &all, 2, &dir, &|| {}).unwrap();
    let markdown = compare::markdown(&plan, &results);
    // The ranking is sorted by the objective, best first.
    let ranked: Vec<f64> = markdown
        .lines()
        .skip_while(|l| !l.starts_with("| rank"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.split('|').nth(3).unwrap().trim().split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ranked.len(), 8);
    assert!(ranked.windows(2).all(|w| w[0] <= w[1]), "{ranked:?}");
    insta::assert_snapshot!("credit_sybil_small_sweep_md", markdown.replace(COMMIT, "[commit]"));
}

#[test]
fn the_cli_runs_a_credit_scenario_with_overrides_twice_identically_and_refuses_a_trace() {
    let leither = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_leither")).args(args).output().unwrap()
    };
    let dir = crate::support::temp_dir("cli-credit");
    let file = scenarios_dir().join("credit-sybil.toml").display().to_string();
    let small = ["--set", "pulses=120", "--set", "population.honest=30", "--set", "adversaries.sybils=10"];
    let mut args = vec!["run", file.as_str(), "--out"];
    let out_dir = dir.display().to_string();
    args.push(&out_dir);
    args.extend(small);
    args.push("--check-determinism");
    let out = leither(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("determinism: seed 1 ran twice with identical summaries and reports"),
        "{stdout}"
    );
    for name in ["summary.json", "timeseries.csv", "report.md", "report.html", "timing.json"] {
        assert!(dir.join(name).exists(), "{name}");
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["scenario"]["population"]["honest"], 30, "the override reached the run");

    let trace = leither(&["run", &file, "--trace", "--out", &out_dir]);
    assert!(String::from_utf8_lossy(&trace.stderr).contains("credit runs have no event trace"));
    let bad = leither(&["run", &file, "--set", "adversaries.attack_closeness=0"]);
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("`adversaries.attack_closeness`: expected a closeness in 1..=5, got 0"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn credit_sweep_shards_merge_into_exactly_the_single_machine_report() {
    let text = small_sybil_sweep();
    let file = Path::new("scenarios/credit-sybil.toml");
    let plan = compare::plan_text(&text, file).unwrap();
    let base = crate::support::temp_dir("credit-shards");
    let single = base.join("single");
    let all: Vec<_> = plan.points.iter().collect();
    plan.record().write(&single).unwrap();
    compare::run(&plan, &all, 2, &single, &|| {}).unwrap();
    compare::merge(std::slice::from_ref(&single), &single).unwrap();
    let mut shards = Vec::new();
    for i in 0..3 {
        let dir = base.join(format!("shard-{i}"));
        let points: Vec<_> = plan.points.iter().filter(|p| p.index % 3 == i).collect();
        plan.record().write(&dir).unwrap();
        compare::run(&plan, &points, 1, &dir, &|| {}).unwrap();
        shards.push(dir);
    }
    let merged = base.join("merged");
    // Two shards are not the whole sweep.
    let partial = compare::merge(&shards[..2], &merged).unwrap_err().to_string();
    assert!(partial.contains("points missing"), "{partial}");
    compare::merge(&shards, &merged).unwrap();
    assert!(compare::is_credit_sweep_dir(&shards[0]));
    for name in ["sweep.md", "sweep.html", "sweep.csv", "sweep.json"] {
        let (a, b) = (std::fs::read(single.join(name)).unwrap(), std::fs::read(merged.join(name)).unwrap());
        assert!(a == b, "{name} differs between the single-machine sweep and the merged shards");
    }
}
