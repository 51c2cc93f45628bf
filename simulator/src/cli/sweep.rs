//! `leither sweep` and `leither merge`: a scenario's `[sweep]` run in parallel (or one shard of
//! it), each point written as it finishes, resumable; shard directories merged into the report
//! a single machine gives.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Failure, at_path, outdir, progress_bar};
use crate::console::Console;
use crate::credit;
use crate::memory;
use crate::say;
use crate::scenario::Kind;
use crate::sweep::points::PointFile;
use crate::sweep::{self, Plan, SweepRecord, SweepScenario, points};

/// `leither sweep`'s arguments.
#[derive(Debug, Default)]
pub struct SweepArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// `--jobs` (0 = one per core).
    pub jobs: usize,
    /// `--shard I/N`.
    pub shard: Option<String>,
    /// `--out`.
    pub out: Option<PathBuf>,
    /// `--resume`: keep the points a directory already holds of this sweep.
    pub resume: bool,
}

/// Run a sweep (or a shard of one).
pub fn command(args: &SweepArgs, console: &Console) -> Result<(), Failure> {
    if let Some(out) = &args.out {
        outdir::check(out)?;
    }
    let path = args.scenario.as_path();
    let text = std::fs::read_to_string(path).map_err(at_path(path))?;
    match Kind::detect(&text, path)? {
        Kind::Credit => credit_sweep(args, &text, console),
        Kind::Protocol => protocol_sweep(args, &text, console),
    }
}

/// Where a sweep (or one shard of it) writes: `--out`, else `out/NAME/sweep` or
/// `out/NAME/shard-I-of-N`.
fn sweep_dir(name: &str, shard: Option<(usize, usize)>, out: Option<&Path>) -> PathBuf {
    out.map(Path::to_path_buf).unwrap_or_else(|| {
        let base = PathBuf::from("out").join(name);
        match shard {
            Some((i, n)) => base.join(format!("shard-{i}-of-{n}")),
            None => base.join("sweep"),
        }
    })
}

/// The threads a sweep uses, said when fewer than asked.
fn threads(args: &SweepArgs, points: usize, point_bytes: u64, console: &Console) -> Result<usize, Failure> {
    let (threads, capped) = sweep::worker_threads(args.jobs, points, point_bytes, memory::available_bytes());
    if let Some(capped) = capped {
        say!(console, "{capped}");
    }
    Ok(threads)
}

fn protocol_sweep(args: &SweepArgs, text: &str, console: &Console) -> Result<(), Failure> {
    shard_form(args)?;
    let plan = sweep::plan_text(text, args.scenario.as_path())?;
    let started: Started<'_, sweep::PointResult> =
        start(args, &plan, &plan.base.name, ("sweep", "points"), console)?;
    let bar = progress_bar(started.remaining.len() as u64, "points");
    let count = AtomicU64::new(0);
    let progress = || bar.set_position(count.fetch_add(1, Ordering::Relaxed) + 1);
    let results = sweep::run(&plan, &started.remaining, started.threads, &started.dir, &progress)?;
    bar.finish_and_clear();
    let dir = &started.dir;
    let stopped: Vec<&sweep::PointResult> = started
        .done
        .iter()
        .chain(&results)
        .filter(|r| started.indices.contains(&r.index) && r.summary.stopped.is_some())
        .collect();
    finish_sweep(dir, started.shard, console, || {
        sweep::merge(std::slice::from_ref(dir), dir).map_err(Failure::from)
    })?;
    if !stopped.is_empty() {
        for r in &stopped {
            let s = r.summary.stopped.as_ref().expect("stopped");
            say!(console, "  point {} (seed {}): {}", r.index, r.seed, s.reason.lines().next().unwrap_or(""));
            say!(console, "    replay with: {}", s.replay);
        }
        return Err(format!("{} of {} points stopped early", stopped.len(), started.mine.len()).into());
    }
    Ok(())
}

/// `--shard`'s form, checked before the plan says how many shards fit.
fn shard_form(args: &SweepArgs) -> Result<(), Failure> {
    if let Some(shard) = &args.shard {
        sweep::parse_shard(shard, usize::MAX)?;
    }
    Ok(())
}

/// Where a sweep of either kind stands before its points run: this shard's points, its
/// directory (prepared, or resumed with the points it holds), what is left and the workers.
struct Started<'p, R> {
    shard: Option<(usize, usize)>,
    mine: Vec<&'p sweep::Point>,
    dir: PathBuf,
    indices: BTreeSet<usize>,
    done: Vec<R>,
    remaining: Vec<&'p sweep::Point>,
    threads: usize,
}

/// Start a sweep of `plan` (a `kind` of sweep of `noun`, for the console line).
fn start<'p, S: SweepScenario, R: PointFile>(
    args: &SweepArgs,
    plan: &'p Plan<S>,
    name: &str,
    (kind, noun): (&str, &str),
    console: &Console,
) -> Result<Started<'p, R>, Failure> {
    let shard = args.shard.as_deref().map(|s| sweep::parse_shard(s, plan.points.len())).transpose()?;
    let mine: Vec<&sweep::Point> =
        plan.points.iter().filter(|p| shard.is_none_or(|(i, n)| p.index % n == i)).collect();
    super::check_memory(&plan.largest)?;
    let dir = sweep_dir(name, shard, args.out.as_deref());
    let indices: BTreeSet<usize> = mine.iter().map(|p| p.index).collect();
    let done: Vec<R> = points::prepare(&dir, &plan.record(), &plan.expected(), &indices, args.resume)?;
    let finished: BTreeSet<usize> = done.iter().map(PointFile::index).collect();
    let remaining: Vec<&sweep::Point> =
        mine.iter().copied().filter(|p| !finished.contains(&p.index)).collect();
    let threads = threads(args, remaining.len(), plan.largest.total_bytes(), console)?;
    say!(
        console,
        "{kind} {name}: {} of {} {noun} into {}{}, {}",
        mine.len(),
        plan.points.len(),
        dir.display(),
        resumed(mine.len() - remaining.len()),
        crate::report::plural(threads as u64, "worker thread")
    );
    Ok(Started { shard, mine, dir, indices, done, remaining, threads })
}

fn resumed(kept: usize) -> String {
    if kept == 0 { String::new() } else { format!(" ({kept} already done, resumed)") }
}

/// A whole sweep builds its report from its own points (`merge`); a shard only says where its
/// results are.
fn finish_sweep(
    dir: &Path,
    shard: Option<(usize, usize)>,
    console: &Console,
    merge: impl FnOnce() -> Result<(), Failure>,
) -> Result<(), Failure> {
    if shard.is_none() {
        merge()?;
        say!(console, "report written to {}", dir.join("sweep.html").display());
    } else {
        say!(
            console,
            "shard results written to {}; combine shards with `leither merge DIR... --out DIR`",
            dir.display()
        );
    }
    Ok(())
}

fn credit_sweep(args: &SweepArgs, text: &str, console: &Console) -> Result<(), Failure> {
    shard_form(args)?;
    let plan = credit::compare::plan_text(text, args.scenario.as_path())?;
    let started: Started<'_, credit::compare::CreditPointResult> =
        start(args, &plan, &plan.base.name, ("credit sweep", "runs"), console)?;
    let bar = progress_bar(started.remaining.len() as u64, "runs");
    let count = AtomicU64::new(0);
    let progress = || bar.set_position(count.fetch_add(1, Ordering::Relaxed) + 1);
    credit::compare::run(&plan, &started.remaining, started.threads, &started.dir, &progress)?;
    bar.finish_and_clear();
    let dir = &started.dir;
    finish_sweep(dir, started.shard, console, || {
        credit::compare::merge(std::slice::from_ref(dir), dir).map_err(Failure::from)
    })
}

/// Merge protocol or credit sweep shards (their records say which).
pub fn merge_command(dirs: &[PathBuf], out: &Path, console: &Console) -> Result<(), Failure> {
    outdir::check(out)?;
    let record = SweepRecord::read_all(dirs)?;
    if record.kind == "credit" {
        credit::compare::merge(dirs, out)?;
    } else {
        sweep::merge(dirs, out)?;
    }
    say!(
        console,
        "merged {} directories; report written to {}",
        dirs.len(),
        out.join("sweep.html").display()
    );
    Ok(())
}
