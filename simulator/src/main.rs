//! `leither`: run scenarios, sweeps and seed campaigns; merge shards; replay and read traces.
//! The commands themselves are `simulator::cli`; this file is the argument parser.
// The doc comments below are the command line's help text (clap), not links: `[sweep]` is a
// scenario table.
#![allow(rustdoc::broken_intra_doc_links)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use simulator::cli::{self, Failure, run::RunArgs, sweep::SweepArgs};
use simulator::console::{self, Console};
use simulator::trace_filter::Filter;

#[derive(Parser)]
#[command(name = "leither", version, about = "Deterministic simulator of the Leither protocol")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario and write its report (or a campaign of seeds, each with its own report).
    Run {
        /// The scenario file.
        scenario: PathBuf,
        /// Seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// A seed campaign: `1-20` or `1,5,9` (at most 1,000,000 seeds); every seed runs, then a
        /// summary (campaign.md) lists each violation with its replay command.
        #[arg(long, conflicts_with = "seed")]
        seeds: Option<String>,
        /// Stop a campaign at its first seed that breaks an invariant.
        #[arg(long)]
        fail_fast: bool,
        /// Output directory (default: out/NAME/seed-SEED, or out/NAME/set-HASH/… with --set).
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
        /// Encode, decode and compare every message before the network carries it (the
        /// receivers get the decoded copy); stop at the first that does not survive.
        #[arg(long)]
        wire_check: bool,
    },
    /// Run a scenario's [sweep]: parameter combinations × seeds, in parallel.
    Sweep {
        /// The scenario file (with a [sweep] table).
        scenario: PathBuf,
        /// Worker threads (default: one per core; capped at the cores, the points and memory).
        #[arg(long, default_value_t = 0)]
        jobs: usize,
        /// Run only shard I of N (0 ≤ I < N ≤ points): points whose index mod N is I.
        #[arg(long)]
        shard: Option<String>,
        /// Output directory (default: out/NAME/sweep, or out/NAME/shard-I-of-N).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Keep the points the output directory already holds of this sweep; run the rest.
        #[arg(long)]
        resume: bool,
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
    /// Print a saved trace (or flight recording), filtered.
    Trace {
        /// A trace.jsonl or flight-recorder.jsonl.
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

fn dispatch(command: Cmd, console: &Console) -> Result<(), Failure> {
    match command {
        Cmd::Run { scenario, seed, seeds, fail_fast, out, set, trace, check_determinism, wire_check } => {
            let args =
                RunArgs { scenario, seed, seeds, out, set, trace, check_determinism, fail_fast, wire_check };
            cli::run::command(&args, console)
        }
        Cmd::Sweep { scenario, jobs, shard, out, resume } => {
            cli::sweep::command(&SweepArgs { scenario, jobs, shard, out, resume }, console)
        }
        Cmd::Merge { dirs, out } => cli::sweep::merge_command(&dirs, &out, console),
        Cmd::Replay { trace } => cli::inspect::replay_command(&trace, console),
        Cmd::Trace { trace, node, ev, from_ms, to_ms, limit } => {
            cli::inspect::trace_command(&trace, &Filter { node, ev, from_ms, to_ms, limit })
        }
        Cmd::Validate { scenarios } => cli::inspect::validate_command(&scenarios, console),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command, &Console) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output has gone (`leither … | head`): stop quietly, as Unix tools do.
        Err(error) if cli::output_closed(&error) => ExitCode::SUCCESS,
        Err(error) => {
            console::warn(format_args!("error: {error}"));
            ExitCode::FAILURE
        }
    }
}
