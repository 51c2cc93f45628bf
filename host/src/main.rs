//! `leither-host`: run one node (`node --config FILE`) or a local cluster of them
//! (`cluster SCENARIO`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "leither-host", version, about = "The production driver of the Leither reference node")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run one node from its TOML file until SIGTERM.
    Node {
        /// The node's file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Run a scenario as a local cluster of processes, then check it.
    Cluster {
        /// The scenario file.
        scenario: PathBuf,
        /// Processes wanted (changes the scenario's client count to fit).
        #[arg(long)]
        processes: Option<usize>,
        /// The seed (the scenario's by default).
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory.
        #[arg(long, default_value = "out/cluster")]
        out: PathBuf,
        /// Test only (built with `fault-injection`): the chief forges its root from this pulse.
        #[arg(long, hide = true)]
        forge_root_from_pulse: Option<u64>,
        /// Test only (built with `fault-injection`): the chief counts every vote twice.
        #[arg(long, hide = true)]
        double_count_votes: bool,
        /// Apply the scenario's `network.latency` and `network.drop` to every link in user
        /// space (this machine's kernel has no netem).
        #[arg(long)]
        emulate_network: bool,
    },
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEITHER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).init();
    match Cli::parse().command {
        Cmd::Node { config } => node(&config),
        Cmd::Cluster {
            scenario,
            processes,
            seed,
            out,
            forge_root_from_pulse,
            double_count_votes,
            emulate_network,
        } => {
            let binary = match std::env::current_exe() {
                Ok(binary) => binary,
                Err(e) => return fail(&format!("cannot find this binary: {e}")),
            };
            let options = host::cluster::Options {
                scenario,
                seed,
                processes,
                out,
                binary,
                forge_root_from_pulse,
                double_count_votes,
                emulate_network,
            };
            cluster(&options)
        }
    }
}

fn node(path: &std::path::Path) -> ExitCode {
    let config = match host::config::Config::load(path) {
        Ok(config) => config,
        Err(e) => return fail(&e.to_string()),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    let result = runtime.block_on(async {
        let shutdown = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                }
                Err(_) => std::future::pending().await,
            }
        };
        host::driver::run(config, shutdown).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

fn cluster(options: &host::cluster::Options) -> ExitCode {
    match host::cluster::run(options) {
        Ok(summary) => {
            println!(
                "{}: {} processes, {} committed of {} ({} /s; simulator {} /s), latency p50 {} ms p99 {} ms \
                 (simulator {} / {}), {} checks, {} violations -> {}",
                summary.scenario,
                summary.processes,
                summary.transfers.committed,
                summary.transfers.issued,
                summary.commits_per_s,
                summary.simulated.commits_per_s,
                summary.commit_latency_ms.p50,
                summary.commit_latency_ms.p99,
                summary.simulated.commit_latency_ms.p50,
                summary.simulated.commit_latency_ms.p99,
                summary.verdict.invariant_checks,
                summary.verdict.violations.len(),
                options.out.join("report.md").display(),
            );
            for v in summary.verdict.violations.iter().take(5) {
                eprintln!("violation: {v}");
            }
            if summary.passed { ExitCode::SUCCESS } else { ExitCode::from(1) }
        }
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("leither-host: {message}");
    ExitCode::from(2)
}
