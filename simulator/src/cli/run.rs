//! `leither run`: one seed, or a campaign of seeds. Every seed of a campaign runs (unless
//! `--fail-fast`), a run that breaks an invariant keeps its report of what happened up to then
//! and the flight recorder's last events, and a campaign ends with its summary
//! ([`crate::campaign`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Failure, at_path, check_memory, outdir, progress_bar, seeds, timed};
use crate::campaign::{Campaign, SeedRun};
use crate::console::Console;
use crate::credit::{self, CreditScenario, CreditSimulation};
use crate::report;
use crate::say;
use crate::scenario::{Kind, Override, Scenario};
use crate::sim::{Outcome, RunOptions, Simulation};

/// `leither run`'s arguments.
#[derive(Debug, Default)]
pub struct RunArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--seeds`.
    pub seeds: Option<String>,
    /// `--out`.
    pub out: Option<PathBuf>,
    /// `--set KEY=VALUE`, in order.
    pub set: Vec<String>,
    /// `--trace`.
    pub trace: bool,
    /// `--check-determinism`.
    pub check_determinism: bool,
    /// `--fail-fast`.
    pub fail_fast: bool,
    /// `--wire-check`.
    pub wire_check: bool,
}

/// Run a scenario for its seeds.
pub fn command(args: &RunArgs, console: &Console) -> Result<(), Failure> {
    let overrides: Vec<Override> = args.set.iter().map(|s| Override::parse(s)).collect::<Result<_, _>>()?;
    if let Some(out) = &args.out {
        outdir::check(out)?;
    }
    let path = args.scenario.as_path();
    let text = std::fs::read_to_string(path).map_err(at_path(path))?;
    match Kind::detect(&text, path)? {
        Kind::Credit => credit_command(args, &text, &overrides, console),
        Kind::Protocol => protocol_command(args, &text, &overrides, console),
    }
}

/// Where seed `seed`'s report goes: `--out` itself for a single run, else `BASE/seed-N`.
fn seed_dir(base: &Path, out_given: bool, campaign: bool, seed: u64) -> PathBuf {
    if out_given && !campaign { base.to_path_buf() } else { base.join(format!("seed-{seed}")) }
}

fn protocol_command(
    args: &RunArgs,
    text: &str,
    overrides: &[Override],
    console: &Console,
) -> Result<(), Failure> {
    let path = args.scenario.as_path();
    let scenario = Scenario::parse_with_overrides(text, path, overrides, "--set", false)?;
    if scenario.sweep.is_some() {
        // `run` does not run the sweep, but an invalid one is still an error in the file: the
        // same check as `validate` (every point, combinations of keys included).
        crate::sweep::count_points(text, path)?;
    }
    check_memory(&crate::memory::protocol(&scenario))?;
    let seeds = seeds::pick(args.seed, args.seeds.as_deref(), scenario.seed)?;
    let base = outdir::base(args.out.as_deref(), &scenario.name, overrides);
    let sets: Vec<String> = overrides.iter().map(Override::to_string).collect();
    if !sets.is_empty() {
        say!(console, "with --set {}: reports under {}", sets.join(" --set "), base.display());
    }
    note_slow_network(&scenario, console)?;
    let mut campaign = Campaign::new(&scenario.name, path, sets, seeds.len() as u64);
    let trace = args.trace || scenario.output.trace;
    each_seed(&mut campaign, &seeds, args.fail_fast, |seed| {
        let dir = seed_dir(&base, args.out.is_some(), seeds.len() > 1, seed);
        run_one(
            &Run { path, scenario: &scenario, overrides, seed, wire_check: args.wire_check },
            &dir,
            trace,
            args.check_determinism,
            console,
        )
    })?;
    finish(&campaign, &base, console)
}

/// Run `one` for each seed into `campaign`; with `fail_fast`, stop after the first seed that
/// stopped early.
fn each_seed(
    campaign: &mut Campaign,
    seeds: &[u64],
    fail_fast: bool,
    mut one: impl FnMut(u64) -> Result<SeedRun, Failure>,
) -> Result<(), Failure> {
    for &seed in seeds {
        let record = one(seed)?;
        let stopped = record.stopped.is_some();
        campaign.runs.push(record);
        if stopped && fail_fast {
            break;
        }
    }
    Ok(())
}

/// A latency that can exceed a pulse is tolerated (D-036) — but the user should know.
fn note_slow_network(scenario: &Scenario, console: &Console) -> Result<(), Failure> {
    let (delay_ms, pulse_ms) = (scenario.network.latency_max_ms(), scenario.parameters.pulse_ms);
    if delay_ms >= pulse_ms {
        say!(
            console,
            "note: a message can take up to {delay_ms} ms, at least a pulse ({pulse_ms} ms): pulses overlap in \
             flight and L1's 2-pulse commit cannot hold; L3 allows for the delay (D-036)"
        );
    }
    Ok(())
}

/// The end of a run or campaign: a campaign's summary, and an error if any seed stopped early.
fn finish(campaign: &Campaign, base: &Path, console: &Console) -> Result<(), Failure> {
    let failed = campaign.failures().count();
    if campaign.seeds_asked > 1 {
        campaign.write(base).map_err(at_path(base))?;
        for line in campaign.summary_lines() {
            say!(console, "{line}");
        }
        say!(console, "  campaign summary written to {}", base.join("campaign.md").display());
        if failed > 0 {
            return Err(format!("{failed} of {} seeds stopped early", campaign.runs.len()).into());
        }
        return Ok(());
    }
    match campaign.failures().next() {
        Some((_, stopped)) => Err(stopped.reason.clone().into()),
        None => Ok(()),
    }
}

/// One run of a scenario file (with overrides) and a seed.
struct Run<'a> {
    path: &'a Path,
    scenario: &'a Scenario,
    overrides: &'a [Override],
    seed: u64,
    wire_check: bool,
}

fn run_one(
    run: &Run<'_>,
    dir: &Path,
    trace: bool,
    check: bool,
    console: &Console,
) -> Result<SeedRun, Failure> {
    let seed = run.seed;
    std::fs::create_dir_all(dir).map_err(at_path(dir))?;
    let (outcome, wall_s) = timed(|| simulate(run, trace.then(|| dir.join("trace.jsonl")), Some(console)));
    let outcome = match outcome {
        Ok(outcome) => outcome,
        // A seed that cannot run (its group tree has no room for what the scenario asks) is a
        // seed that stopped: the campaign goes on to the next.
        Err(Setup::Refused(error)) => return cannot_run(run, &error, console),
        Err(Setup::Failed(failure)) => return Err(failure),
    };
    let result = &outcome.result;
    report::write_run(dir, result).map_err(at_path(dir))?;
    if check {
        check_determinism(run, &outcome, console)?;
    }
    let s = &result.summary;
    let timing = serde_json::json!({
        "wall_s": wall_s,
        "events": s.events,
        "events_per_wall_s": s.events as f64 / wall_s.max(1e-9),
        "note": "wall-clock figures; not deterministic, kept out of summary.json and the reports",
    });
    let timing_file = dir.join("timing.json");
    std::fs::write(&timing_file, serde_json::to_string_pretty(&timing)? + "\n")
        .map_err(at_path(&timing_file))?;
    let headline = format!(
        "{} committed / {} requested, latency p50 {} ms p99 {} ms",
        s.transfers.committed, s.transfers.issued, s.commit_latency_ms.p50, s.commit_latency_ms.p99
    );
    match &s.stopped {
        None => say!(
            console,
            "{} seed {seed}: {headline}, {} events, {} invariant checks passed",
            s.scenario_name,
            s.events,
            s.invariant_checks
        ),
        Some(stopped) => {
            say!(
                console,
                "{} seed {seed}: STOPPED at {} ms: {}",
                s.scenario_name,
                stopped.at_ms,
                stopped.reason
            );
            say!(console, "  up to then: {headline}, {} events", s.events);
            write_flight_recording(dir, run, &outcome, console)?;
        }
    }
    if let Some(wire) = &s.wire_check {
        say!(
            console,
            "  wire check: {} envelopes ({} bytes, largest frame {}) encoded, decoded, equal and charged their true length; {} state snapshots not on the wire yet",
            wire.messages,
            wire.bytes,
            wire.largest_frame_bytes,
            wire.not_on_the_wire
        );
        for (kind, k) in &wire.by_kind {
            let mean = k.frame_bytes as f64 / k.messages.max(1) as f64;
            say!(
                console,
                "    {kind}: {} envelopes, {} bytes ({mean:.0} per frame)",
                k.messages,
                k.frame_bytes
            );
        }
    }
    say!(console, "  wall {:.2} s, {:.0} events/s", wall_s, s.events as f64 / wall_s.max(1e-9));
    say!(console, "  report written to {}", dir.join("report.html").display());
    Ok(SeedRun::of(s, Some(dir.to_path_buf()), headline))
}

/// The last events before a stop, as `flight-recorder.jsonl`: a header like a trace's, then
/// trace lines (readable with `leither trace`).
fn write_flight_recording(
    dir: &Path,
    run: &Run<'_>,
    outcome: &Outcome,
    console: &Console,
) -> Result<(), Failure> {
    if outcome.flight_recording.is_empty() {
        return Ok(());
    }
    let path = dir.join("flight-recorder.jsonl");
    let s = &outcome.result.summary;
    let stopped_at_ms = s.stopped.as_ref().map(|s| s.at_ms);
    let text =
        crate::trace::flight_recording_file(run.seed, s.nodes, stopped_at_ms, &outcome.flight_recording);
    std::fs::write(&path, text).map_err(at_path(&path))?;
    say!(console, "  the last {} events before the stop: {}", outcome.flight_recording.len(), path.display());
    Ok(())
}

/// Run again without a trace and fail unless the trace hash, the summary and every report
/// file are the same.
fn check_determinism(run: &Run<'_>, first: &Outcome, console: &Console) -> Result<(), Failure> {
    let again = match simulate(run, None, None) {
        Ok(again) => again,
        Err(Setup::Refused(error)) => return Err(error.into()),
        Err(Setup::Failed(failure)) => return Err(failure),
    };
    let (a, b) = (&first.result, &again.result);
    let same_reports = report::run_markdown(a) == report::run_markdown(b)
        && report::run_html(a) == report::run_html(b)
        && report::series_csv(&a.series) == report::series_csv(&b.series)
        && a.summary == b.summary
        && first.flight_recording == again.flight_recording;
    if a.summary.trace_hash != b.summary.trace_hash || !same_reports {
        return Err(format!(
            "NOT deterministic: seed {} gave trace hashes {} and {}; reports {}",
            run.seed,
            a.summary.trace_hash,
            b.summary.trace_hash,
            if same_reports { "identical" } else { "differ" }
        )
        .into());
    }
    say!(
        console,
        "determinism: seed {} ran twice with identical trace hash {} and report",
        run.seed,
        a.summary.trace_hash
    );
    Ok(())
}

/// A seed the scenario cannot be run with: recorded as stopped, with no report.
fn cannot_run(run: &Run<'_>, error: &crate::sim::SimError, console: &Console) -> Result<SeedRun, Failure> {
    say!(console, "{} seed {}: cannot run: {error}", run.scenario.name, run.seed);
    let source = run.path.to_path_buf();
    let replay = crate::sim::replay_command(run.scenario, run.seed, Some(&source), run.overrides);
    let kind = crate::summary::StopKind::NotRun;
    let stopped =
        crate::summary::Stopped { kind, at_ms: 0, invariant: None, reason: error.to_string(), replay };
    let headline = "not run".to_string();
    Ok(SeedRun { seed: run.seed, report: None, headline, faults: Default::default(), stopped: Some(stopped) })
}

/// Why a run did not start: the scenario refused for this seed, or another failure.
enum Setup {
    Refused(crate::sim::SimError),
    Failed(Failure),
}

impl<E: Into<Failure>> From<E> for Setup {
    fn from(error: E) -> Setup {
        Setup::Failed(error.into())
    }
}

/// Set up and run; with a console, announce the run first.
fn simulate(run: &Run<'_>, trace: Option<PathBuf>, console: Option<&Console>) -> Result<Outcome, Setup> {
    let Run { path, scenario, overrides, seed, wire_check } = *run;
    let trace_sink: Option<Box<dyn Write>> = match &trace {
        Some(file) => {
            Some(Box::new(std::io::BufWriter::new(std::fs::File::create(file).map_err(at_path(file))?)))
        }
        None => None,
    };
    // The update fills the test-only fault fields when the `fault-injection` feature is on.
    #[allow(clippy::needless_update)]
    let options = RunOptions {
        trace: trace_sink,
        flight_recorder: true,
        wire_check,
        source: Some(path.to_path_buf()),
        overrides: overrides.to_vec(),
        ..RunOptions::default()
    };
    let sim = match Simulation::new(scenario, seed, options) {
        Ok(sim) => sim,
        Err(error @ crate::sim::SimError::Scenario(_)) => return Err(Setup::Refused(error)),
        Err(error) => return Err(Setup::Failed(error.into())),
    };
    if let Some(console) = console {
        announce(scenario, seed, &sim, console)?;
    }
    let bar = progress_bar(scenario.duration_ms, "virtual ms");
    let outcome = sim.run_to_outcome(|now_ms| bar.set_position(now_ms));
    bar.finish_and_clear();
    Ok(outcome)
}

fn announce(scenario: &Scenario, seed: u64, sim: &Simulation, console: &Console) -> Result<(), Failure> {
    let keepers = match scenario.parameters.backups {
        0 => "one bookkeeper each".to_string(),
        backups => format!("leaf groups kept by a primary and {backups} backups"),
    };
    say!(
        console,
        "running {} with seed {seed}: {} in {} ({keepers}), {} ms of virtual time",
        scenario.name,
        report::plural(u64::from(scenario.nodes.clients), "client"),
        report::plural(sim.groups() as u64, "group"),
        scenario.duration_ms
    );
    for choice in sim.swarm_choices() {
        say!(console, "  swarm: {choice}");
    }
    Ok(())
}

fn credit_command(
    args: &RunArgs,
    text: &str,
    overrides: &[Override],
    console: &Console,
) -> Result<(), Failure> {
    if args.trace {
        return Err(
            "--trace: credit runs have no event trace; their per-update series is timeseries.csv".into()
        );
    }
    if args.wire_check {
        return Err(
            "--wire-check: credit runs send no messages (they step their books pulse by pulse)".into()
        );
    }
    let path = args.scenario.as_path();
    let scenario = CreditScenario::parse_with_overrides(text, path, overrides, "--set", false)?;
    check_memory(&crate::memory::credit(&scenario))?;
    let seeds = seeds::pick(args.seed, args.seeds.as_deref(), scenario.seed)?;
    let base = outdir::base(args.out.as_deref(), &scenario.name, overrides);
    let sets: Vec<String> = overrides.iter().map(Override::to_string).collect();
    let mut campaign = Campaign::new(&scenario.name, path, sets, seeds.len() as u64);
    let run = CreditRun { path, scenario: &scenario, overrides };
    each_seed(&mut campaign, &seeds, args.fail_fast, |seed| {
        let dir = seed_dir(&base, args.out.is_some(), seeds.len() > 1, seed);
        credit_run_one(&run, seed, &dir, args.check_determinism, console)
    })?;
    finish(&campaign, &base, console)
}

/// A credit scenario file (with overrides).
struct CreditRun<'a> {
    path: &'a Path,
    scenario: &'a CreditScenario,
    overrides: &'a [Override],
}

fn credit_run_one(
    run: &CreditRun<'_>,
    seed: u64,
    dir: &Path,
    check: bool,
    console: &Console,
) -> Result<SeedRun, Failure> {
    let s = run.scenario;
    say!(
        console,
        "running credit scenario {} with seed {seed}: {} identities ({} honest), trust model {}, {} pulses",
        s.name,
        s.identities(),
        s.population.honest,
        s.trust.model.name(),
        s.pulses
    );
    let source = credit::compare::replay_source(run.path, run.overrides);
    let (result, wall_s) = timed(|| CreditSimulation::new(s, seed, &source).run());
    let result = match result {
        Ok(result) => result,
        Err(error) => {
            // A credit run that breaks an invariant stops without a report (D-036).
            say!(console, "{} seed {seed}: STOPPED: {error}", s.name);
            return Ok(credit_stopped(seed, &source, &error));
        }
    };
    if check {
        check_credit_determinism(s, seed, &source, &result)?;
        say!(console, "determinism: seed {seed} ran twice with identical summaries and reports");
    }
    credit::report::write_run(dir, &result).map_err(at_path(dir))?;
    write_credit_timing(dir, wall_s, &result)?;
    credit_seed_run(seed, dir, wall_s, &result, console)
}

/// A credit run that stopped: recorded in the campaign, without a report.
fn credit_stopped(seed: u64, source: &str, error: &credit::CreditSimError) -> SeedRun {
    use crate::summary::StopKind;
    let (kind, invariant) = match error {
        credit::CreditSimError::Violation { violation, .. } => {
            (StopKind::Invariant, Some(violation.invariant.code().to_string()))
        }
        _ => (StopKind::Error, None),
    };
    let stopped = crate::summary::Stopped {
        kind,
        at_ms: 0, // credit runs count pulses, not ms: the reason says which pulse
        invariant,
        reason: error.to_string(),
        replay: format!("cargo run --release -p simulator -- run {source} --seed {seed}"),
    };
    SeedRun {
        seed,
        report: None,
        headline: "stopped".to_string(),
        faults: Default::default(),
        stopped: Some(stopped),
    }
}

/// Run the seed again and compare its results and report.
fn check_credit_determinism(
    s: &CreditScenario,
    seed: u64,
    source: &str,
    result: &credit::summary::CreditRunResult,
) -> Result<(), Failure> {
    let again = CreditSimulation::new(s, seed, source).run()?;
    let same = again == *result && credit::report::run_html(&again) == credit::report::run_html(result);
    if !same {
        return Err(format!(
            "NOT deterministic: credit scenario {} seed {seed} gave two different results",
            s.name
        )
        .into());
    }
    Ok(())
}

/// The run's wall-clock figures, kept out of the deterministic files.
fn write_credit_timing(
    dir: &Path,
    wall_s: f64,
    result: &credit::summary::CreditRunResult,
) -> Result<(), Failure> {
    let timing = serde_json::json!({
        "wall_s": wall_s,
        "trust_updates": result.summary.trust.updates,
        "note": "wall-clock figures; not deterministic, kept out of summary.json and the reports",
    });
    let timing_file = dir.join("timing.json");
    std::fs::write(&timing_file, serde_json::to_string_pretty(&timing)? + "\n")
        .map_err(at_path(&timing_file))?;
    Ok(())
}

/// The seed's line in the campaign, and what the console says of it.
fn credit_seed_run(
    seed: u64,
    dir: &Path,
    wall_s: f64,
    result: &credit::summary::CreditRunResult,
    console: &Console,
) -> Result<SeedRun, Failure> {
    let r = &result.summary;
    let headline = format!(
        "{} requests, {:.2}% refused, {} defaults, value lost {:.2}% of credit",
        r.service.requests,
        100.0 * r.service.settlement_failure_rate,
        r.defaults.defaulted,
        100.0 * r.defaults.value_lost_fraction
    );
    say!(
        console,
        "{} seed {seed}: {headline}, AUC honest/sybil {}, adversarial seats {:.1}%, {} invariant checks passed",
        r.scenario_name,
        credit::report::opt(r.trust.auc_honest_vs_sybil),
        100.0 * r.seats.adversary_seat_fraction,
        r.invariant_checks
    );
    say!(console, "  wall {wall_s:.2} s");
    say!(console, "  report written to {}", dir.join("report.html").display());
    let faults = [
        ("defaults", r.defaults.defaulted),
        ("refused requests", r.service.requests - r.service.served_direct - r.service.served_routed),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    Ok(SeedRun { seed, report: Some(dir.to_path_buf()), headline, faults, stopped: None })
}
