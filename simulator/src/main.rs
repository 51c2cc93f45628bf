//! `leither`: run scenarios, sweeps and seed campaigns; merge shards; replay and read traces.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use simulator::credit::{self, CreditScenario, CreditSimulation};
use simulator::report;
use simulator::scenario::{Override, Scenario};
use simulator::sim::{RunOptions, Simulation};
use simulator::summary::RunResult;
use simulator::sweep;

#[derive(Parser)]
#[command(name = "leither", version, about = "Deterministic simulator of the Leither protocol")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario and write its report.
    Run {
        /// The scenario file.
        scenario: PathBuf,
        /// Seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// A seed campaign: `1-20` or `1,5,9`; each seed gets its own report directory.
        #[arg(long, conflicts_with = "seed")]
        seeds: Option<String>,
        /// Output directory (default: out/NAME/seed-SEED).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Change a scenario key: `--set network.drop=0.05` (the value in TOML; repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Also write the full event trace (trace.jsonl).
        #[arg(long)]
        trace: bool,
        /// Run each seed twice and fail unless trace hashes and reports are identical.
        #[arg(long)]
        check_determinism: bool,
    },
    /// Run a scenario's [sweep]: parameter combinations × seeds, in parallel.
    Sweep {
        /// The scenario file (with a [sweep] table).
        scenario: PathBuf,
        /// Worker threads (default: all cores).
        #[arg(long, default_value_t = 0)]
        jobs: usize,
        /// Run only shard I of N (0 ≤ I < N): points whose index mod N is I.
        #[arg(long)]
        shard: Option<String>,
        /// Output directory (default: out/NAME/sweep, or out/NAME/shard-I-of-N).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Merge shard directories into the report a single-machine sweep gives.
    Merge {
        /// Shard output directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where to write the merged report.
        #[arg(long)]
        out: PathBuf,
    },
    /// Re-run a saved trace from its seed and scenario and compare, event by event.
    Replay {
        /// A trace.jsonl written by `run --trace`.
        trace: PathBuf,
    },
    /// Print a saved trace, filtered.
    Trace {
        /// A trace.jsonl.
        trace: PathBuf,
        /// Only events involving this node.
        #[arg(long)]
        node: Option<u64>,
        /// Only events of this kind (deliver, timer, request, sealed, committed, crash, …).
        #[arg(long)]
        ev: Option<String>,
        /// Only events at or after this virtual time.
        #[arg(long)]
        from_ms: Option<u64>,
        /// Only events before this virtual time.
        #[arg(long)]
        to_ms: Option<u64>,
        /// Print at most this many events.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Check scenario files without running them.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
}

type Failure = Box<dyn std::error::Error>;

/// An I/O error with the path it happened on (the bare OS message does not say which file).
fn at_path(path: &Path) -> impl FnOnce(std::io::Error) -> Failure + '_ {
    move |error| format!("{}: {error}", path.display()).into()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Run { scenario, seed, seeds, out, set, trace, check_determinism } => {
            let options = RunFlags { out, set, trace, check_determinism };
            run_command(&scenario, seed, seeds.as_deref(), options)
        }
        Cmd::Sweep { scenario, jobs, shard, out } => sweep_command(&scenario, jobs, shard.as_deref(), out),
        Cmd::Merge { dirs, out } => merge_any(&dirs, &out).map(|()| {
            println!(
                "merged {} directories; report written to {}",
                dirs.len(),
                out.join("sweep.html").display()
            );
        }),
        Cmd::Replay { trace } => replay_command(&trace),
        Cmd::Trace { trace, node, ev, from_ms, to_ms, limit } => {
            trace_command(&trace, node, ev, from_ms, to_ms, limit)
        }
        Cmd::Validate { scenarios } => validate_command(&scenarios),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Merge protocol or credit sweep shards (a credit shard holds `credit-sweep.json`).
fn merge_any(dirs: &[PathBuf], out: &Path) -> Result<(), Failure> {
    if dirs.first().is_some_and(|d| credit::compare::is_credit_sweep_dir(d)) {
        credit::compare::merge(dirs, out).map_err(Failure::from)
    } else {
        sweep::merge(dirs, out).map_err(Failure::from)
    }
}

fn progress_bar(len: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    let template = format!("{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{eta}} left)");
    bar.set_style(ProgressStyle::with_template(&template).expect("a valid template"));
    bar
}

fn parse_seeds(text: &str) -> Result<Vec<u64>, Failure> {
    let bad = || format!("--seeds {text}: expected A-B or a comma-separated list of seeds");
    let mut seeds = Vec::new();
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) =
                    (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
                if a > b {
                    return Err(bad().into());
                }
                seeds.extend(a..=b);
            }
            None => seeds.push(part.trim().parse().map_err(|_| bad())?),
        }
    }
    Ok(seeds)
}

/// `leither run`'s flags besides the scenario and seeds.
struct RunFlags {
    out: Option<PathBuf>,
    set: Vec<String>,
    trace: bool,
    check_determinism: bool,
}

fn run_command(path: &Path, seed: Option<u64>, seeds: Option<&str>, flags: RunFlags) -> Result<(), Failure> {
    let RunFlags { out, set, trace, check_determinism } = flags;
    let overrides: Vec<Override> = set.iter().map(|s| Override::parse(s)).collect::<Result<_, _>>()?;
    let text = std::fs::read_to_string(path).map_err(at_path(path))?;
    if CreditScenario::is_credit(&text) {
        if trace {
            return Err(
                "--trace: credit runs have no event trace; their per-update series is timeseries.csv".into(),
            );
        }
        let scenario = CreditScenario::parse_with_overrides(&text, path, &overrides, "--set", false)?;
        let seeds = pick_seeds(seed, seeds, scenario.seed)?;
        let credit_run = CreditRun { path, scenario: &scenario, overrides: &overrides, out: out.as_deref() };
        return seeds
            .iter()
            .try_for_each(|seed| credit_run_one(&credit_run, *seed, seeds.len() > 1, check_determinism));
    }
    let scenario = Scenario::parse_with_overrides(&text, path, &overrides, "--set", false)?;
    let seeds = match (seed, seeds) {
        (_, Some(text)) => parse_seeds(text)?,
        (Some(seed), None) => vec![seed],
        (None, None) => vec![scenario.seed],
    };
    let campaign = seeds.len() > 1;
    for seed in seeds {
        let dir = match (&out, campaign) {
            (Some(out), false) => out.clone(),
            (Some(out), true) => out.join(format!("seed-{seed}")),
            (None, _) => PathBuf::from("out").join(&scenario.name).join(format!("seed-{seed}")),
        };
        let run = Run { path, scenario: &scenario, overrides: &overrides, seed };
        run_one(&run, &dir, trace || scenario.output.trace, check_determinism)?;
    }
    Ok(())
}

fn pick_seeds(seed: Option<u64>, seeds: Option<&str>, default: u64) -> Result<Vec<u64>, Failure> {
    Ok(match (seed, seeds) {
        (_, Some(text)) => parse_seeds(text)?,
        (Some(seed), None) => vec![seed],
        (None, None) => vec![default],
    })
}

/// A credit scenario file (with overrides) and where its reports go.
struct CreditRun<'a> {
    path: &'a Path,
    scenario: &'a CreditScenario,
    overrides: &'a [Override],
    out: Option<&'a Path>,
}

fn credit_run_one(run: &CreditRun<'_>, seed: u64, campaign: bool, check: bool) -> Result<(), Failure> {
    let dir = match (run.out, campaign) {
        (Some(out), false) => out.to_path_buf(),
        (Some(out), true) => out.join(format!("seed-{seed}")),
        (None, _) => PathBuf::from("out").join(&run.scenario.name).join(format!("seed-{seed}")),
    };
    let s = run.scenario;
    println!(
        "running credit scenario {} with seed {seed}: {} identities ({} honest), trust model {}, {} pulses",
        s.name,
        s.identities(),
        s.population.honest,
        s.trust.model.name(),
        s.pulses
    );
    let source = credit::compare::replay_source(run.path, run.overrides);
    let started = Instant::now(); // wall time is reported, never fed into the run
    let result = CreditSimulation::new(s, seed, &source).run()?;
    let wall_s = started.elapsed().as_secs_f64();
    if check {
        let again = CreditSimulation::new(s, seed, &source).run()?;
        let same = again == result && credit::report::run_html(&again) == credit::report::run_html(&result);
        if !same {
            return Err(format!(
                "NOT deterministic: credit scenario {} seed {seed} gave two different results",
                s.name
            )
            .into());
        }
        println!("determinism: seed {seed} ran twice with identical summaries and reports");
    }
    credit::report::write_run(&dir, &result).map_err(at_path(&dir))?;
    let timing = serde_json::json!({
        "wall_s": wall_s,
        "trust_updates": result.summary.trust.updates,
        "note": "wall-clock figures; not deterministic, kept out of summary.json and the reports",
    });
    let timing_file = dir.join("timing.json");
    std::fs::write(&timing_file, serde_json::to_string_pretty(&timing)? + "\n")
        .map_err(at_path(&timing_file))?;
    let r = &result.summary;
    println!(
        "{} seed {seed}: {} requests, {:.2}% refused, {} defaults, value lost {:.2}% of credit, AUC honest/sybil {}, adversarial seats {:.1}%, {} invariant checks passed",
        r.scenario_name,
        r.service.requests,
        100.0 * r.service.settlement_failure_rate,
        r.defaults.defaulted,
        100.0 * r.defaults.value_lost_fraction,
        credit::report::opt(r.trust.auc_honest_vs_sybil),
        100.0 * r.seats.adversary_seat_fraction,
        r.invariant_checks
    );
    println!("  wall {wall_s:.2} s");
    println!("  report written to {}", dir.join("report.html").display());
    Ok(())
}

/// One run of a scenario file (with overrides) and a seed.
struct Run<'a> {
    path: &'a Path,
    scenario: &'a Scenario,
    overrides: &'a [Override],
    seed: u64,
}

fn run_one(run: &Run<'_>, dir: &Path, trace: bool, check: bool) -> Result<(), Failure> {
    let seed = run.seed;
    std::fs::create_dir_all(dir).map_err(at_path(dir))?;
    let started = Instant::now(); // wall time is reported, never fed into the run
    let result = simulate(run, trace.then(|| dir.join("trace.jsonl")), true)?;
    let wall_s = started.elapsed().as_secs_f64();
    report::write_run(dir, &result).map_err(at_path(dir))?;
    let s = &result.summary;
    if check {
        let again = simulate(run, None, false)?;
        let same_reports = report::run_markdown(&again) == report::run_markdown(&result)
            && report::run_html(&again) == report::run_html(&result)
            && report::series_csv(&again.series) == report::series_csv(&result.series)
            && again.summary == result.summary;
        if again.summary.trace_hash != s.trace_hash || !same_reports {
            return Err(format!(
                "NOT deterministic: seed {seed} gave trace hashes {} and {}; reports {}",
                s.trace_hash,
                again.summary.trace_hash,
                if same_reports { "identical" } else { "differ" }
            )
            .into());
        }
        println!("determinism: seed {seed} ran twice with identical trace hash {} and report", s.trace_hash);
    }
    let timing = serde_json::json!({
        "wall_s": wall_s,
        "events": s.events,
        "events_per_wall_s": s.events as f64 / wall_s.max(1e-9),
        "note": "wall-clock figures; not deterministic, kept out of summary.json and the reports",
    });
    let timing_file = dir.join("timing.json");
    std::fs::write(&timing_file, serde_json::to_string_pretty(&timing)? + "\n")
        .map_err(at_path(&timing_file))?;
    println!(
        "{} seed {}: {} committed / {} requested, latency p50 {} ms p99 {} ms, {} events, {} invariant checks passed",
        s.scenario_name,
        seed,
        s.transfers.committed,
        s.transfers.issued,
        s.commit_latency_ms.p50,
        s.commit_latency_ms.p99,
        s.events,
        s.invariant_checks
    );
    println!("  wall {:.2} s, {:.0} events/s", wall_s, s.events as f64 / wall_s.max(1e-9));
    println!("  report written to {}", dir.join("report.html").display());
    Ok(())
}

fn simulate(run: &Run<'_>, trace: Option<PathBuf>, announce: bool) -> Result<RunResult, Failure> {
    let Run { path, scenario, overrides, seed } = *run;
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
        source: Some(path.to_path_buf()),
        overrides: overrides.to_vec(),
        ..RunOptions::default()
    };
    let sim = Simulation::new(scenario, seed, options)?;
    if announce {
        let keepers = match scenario.parameters.backups {
            0 => "one bookkeeper each".to_string(),
            backups => format!("leaf groups kept by a primary and {backups} backups"),
        };
        println!(
            "running {} with seed {seed}: {} clients in {} groups ({keepers}), {} ms of virtual time",
            scenario.name,
            scenario.nodes.clients,
            sim.groups(),
            scenario.duration_ms
        );
        for choice in sim.swarm_choices() {
            println!("  swarm: {choice}");
        }
    }
    let bar = progress_bar(scenario.duration_ms, "virtual ms");
    let result = sim.run(|now_ms| bar.set_position(now_ms));
    bar.finish_and_clear();
    Ok(result?)
}

fn sweep_command(path: &Path, jobs: usize, shard: Option<&str>, out: Option<PathBuf>) -> Result<(), Failure> {
    let text = std::fs::read_to_string(path).map_err(at_path(path))?;
    let shard = shard.map(sweep::parse_shard).transpose()?;
    if CreditScenario::is_credit(&text) {
        return credit_sweep_command(path, &text, jobs, shard, out);
    }
    let plan = sweep::plan(path)?;
    let points: Vec<&sweep::Point> =
        plan.points.iter().filter(|p| shard.is_none_or(|(i, n)| p.index % n == i)).collect();
    let dir = sweep_dir(&plan.name, shard, out);
    println!("sweep {}: {} of {} points into {}", plan.name, points.len(), plan.points.len(), dir.display());
    let bar = progress_bar(points.len() as u64, "points");
    let done = AtomicU64::new(0);
    let results =
        sweep::run(&plan, &points, jobs, &|| bar.set_position(done.fetch_add(1, Ordering::Relaxed) + 1))?;
    bar.finish_and_clear();
    sweep::write_points(&dir, &results)?;
    finish_sweep(&dir, shard, || sweep::merge(std::slice::from_ref(&dir), &dir).map_err(Failure::from))
}

/// Where a sweep (or one shard of it) writes: `--out`, else `out/NAME/sweep` or
/// `out/NAME/shard-I-of-N`.
fn sweep_dir(name: &str, shard: Option<(usize, usize)>, out: Option<PathBuf>) -> PathBuf {
    out.unwrap_or_else(|| {
        let base = PathBuf::from("out").join(name);
        match shard {
            Some((i, n)) => base.join(format!("shard-{i}-of-{n}")),
            None => base.join("sweep"),
        }
    })
}

/// A whole sweep builds its report from its own points (`merge`); a shard only says where its
/// results are.
fn finish_sweep(
    dir: &Path,
    shard: Option<(usize, usize)>,
    merge: impl FnOnce() -> Result<(), Failure>,
) -> Result<(), Failure> {
    if shard.is_none() {
        merge()?;
        println!("report written to {}", dir.join("sweep.html").display());
    } else {
        println!(
            "shard results written to {}; combine shards with `leither merge DIR... --out DIR`",
            dir.display()
        );
    }
    Ok(())
}

fn credit_sweep_command(
    path: &Path,
    text: &str,
    jobs: usize,
    shard: Option<(usize, usize)>,
    out: Option<PathBuf>,
) -> Result<(), Failure> {
    let plan = credit::compare::plan_text(text, path)?;
    let points: Vec<&credit::compare::CreditPoint> =
        plan.points.iter().filter(|p| shard.is_none_or(|(i, n)| p.index % n == i)).collect();
    let dir = sweep_dir(&plan.base.name, shard, out);
    println!(
        "credit sweep {}: {} of {} runs into {}",
        plan.base.name,
        points.len(),
        plan.points.len(),
        dir.display()
    );
    let bar = progress_bar(points.len() as u64, "runs");
    let done = AtomicU64::new(0);
    let results = credit::compare::run(&plan, &points, jobs, &|| {
        bar.set_position(done.fetch_add(1, Ordering::Relaxed) + 1)
    })?;
    bar.finish_and_clear();
    credit::compare::write_shard(&dir, &plan, &results)?;
    finish_sweep(&dir, shard, || {
        credit::compare::merge(std::slice::from_ref(&dir), &dir).map_err(Failure::from)
    })
}

fn validate_one(path: &Path) -> Result<(), Failure> {
    let text = std::fs::read_to_string(path).map_err(at_path(path))?;
    if CreditScenario::is_credit(&text) {
        let s = CreditScenario::parse(&text, path)?;
        if s.sweep.is_some() {
            let plan = credit::compare::plan_text(&text, path)?;
            println!("{}: ok (credit, {} sweep runs)", path.display(), plan.points.len());
        } else {
            println!("{}: ok (credit)", path.display());
        }
        return Ok(());
    }
    let s = Scenario::parse(&text, path)?;
    if s.sweep.is_some() {
        let plan = sweep::plan(path)?;
        println!("{}: ok ({} sweep points)", path.display(), plan.points.len());
    } else {
        println!("{}: ok", path.display());
    }
    Ok(())
}

fn validate_command(paths: &[PathBuf]) -> Result<(), Failure> {
    let mut failed = 0;
    for path in paths {
        if let Err(error) = validate_one(path) {
            eprintln!("{error}");
            failed += 1;
        }
    }
    if failed > 0 { Err(format!("{failed} of {} scenarios invalid", paths.len()).into()) } else { Ok(()) }
}

fn replay_command(path: &Path) -> Result<(), Failure> {
    let replay = simulator::replay::replay(path)?;
    match &replay.first_difference {
        None => {
            println!("replay identical: {} lines, trace hash {}", replay.lines, replay.trace_hash);
            Ok(())
        }
        Some(d) => Err(format!(
            "replay diverges at line {}:\n  saved:  {}\n  replay: {}",
            d.line, d.saved, d.replayed
        )
        .into()),
    }
}

fn trace_command(
    path: &Path,
    node: Option<u64>,
    ev: Option<String>,
    from_ms: Option<u64>,
    to_ms: Option<u64>,
    limit: Option<usize>,
) -> Result<(), Failure> {
    let reader = BufReader::new(std::fs::File::open(path).map_err(at_path(path))?);
    let mut printed = 0;
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    for (number, line) in reader.lines().enumerate() {
        let line = line?;
        let value: serde_json::Value = serde_json::from_str(&line)
            .map_err(|e| format!("{}:{}: not JSON: {e}", path.display(), number + 1))?;
        let Some(t) = value["t"].as_u64() else { continue }; // header and footer
        let involves =
            |n: u64| ["node", "from", "to", "payer", "payee"].iter().any(|k| value[*k].as_u64() == Some(n));
        let keep = node.is_none_or(involves)
            && ev.as_ref().is_none_or(|e| value["ev"] == **e)
            && from_ms.is_none_or(|f| t >= f)
            && to_ms.is_none_or(|to| t < to);
        if keep {
            writeln!(stdout, "{line}")?;
            printed += 1;
            if limit.is_some_and(|l| printed >= l) {
                break;
            }
        }
    }
    Ok(())
}
