//! `model`: run a model check from the command line, or explore a model in stateright's web UI.
//!
//! ```sh
//! cargo run --release -p model -- check --model one-payment --bfs
//! cargo run --release -p model -- check --model two-payments --dfs --depth 40
//! cargo run --release -p model -- explore --model one-payment   # then open http://127.0.0.1:3000
//! ```

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use model::PaymentModel;
use model::governance::GovernanceModel;
use stateright::{Checker, CheckerBuilder, Model};

#[derive(Parser)]
#[command(name = "model", about = "Model-check reference::node::Node with stateright")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check every property over the reachable states.
    Check {
        /// The model: one-payment, two-payments, cross-group, cross-group-crash, failover, failover-terms, governance, governance-node, governance-node-dup.
        #[arg(long, default_value = "one-payment")]
        model: String,
        /// Breadth-first search (the default).
        #[arg(long, conflicts_with = "dfs")]
        bfs: bool,
        /// Depth-first search.
        #[arg(long)]
        dfs: bool,
        /// Stop exploring below this depth.
        #[arg(long)]
        depth: Option<usize>,
        /// Checker threads.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
    /// Serve stateright's Explorer web UI for a model.
    Explore {
        /// The model: one-payment, two-payments, cross-group, cross-group-crash, failover, failover-terms, governance, governance-node, governance-node-dup.
        #[arg(long, default_value = "one-payment")]
        model: String,
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:3000")]
        addr: String,
    },
}

const GOVERNANCE: &str = "governance";
const GOVERNANCE_NODE: &str = "governance-node";
const GOVERNANCE_NODE_DUP: &str = "governance-node-dup";

fn named(name: &str) -> Result<PaymentModel, String> {
    PaymentModel::named(name).ok_or_else(|| {
        format!(
            "unknown model `{name}`; known: {}, {GOVERNANCE}, {GOVERNANCE_NODE}, {GOVERNANCE_NODE_DUP}",
            PaymentModel::NAMES.join(", ")
        )
    })
}

fn check(name: &str, dfs: bool, depth: Option<usize>, threads: usize) -> Result<(), String> {
    if name == GOVERNANCE {
        return run(name, GovernanceModel::three_guests().into_model().checker(), dfs, depth, threads);
    }
    if name == GOVERNANCE_NODE {
        let model = model::gov_node::GovNodeModel::one_guest().into_model();
        return run(name, model.checker(), dfs, depth, threads);
    }
    if name == GOVERNANCE_NODE_DUP {
        let model = model::gov_node::GovNodeModel::one_guest_duplicating().into_model();
        return run(name, model.checker(), dfs, depth, threads);
    }
    run(name, named(name)?.into_model().checker(), dfs, depth, threads)
}

fn run<M>(
    name: &str,
    builder: CheckerBuilder<M>,
    dfs: bool,
    depth: Option<usize>,
    threads: usize,
) -> Result<(), String>
where
    M: Model + Send + Sync + 'static,
    M::State: Clone + PartialEq + std::hash::Hash + Send + Sync + std::fmt::Debug,
    M::Action: Clone + PartialEq + std::fmt::Debug + Send + Sync,
{
    let mut builder = builder.threads(threads);
    if let Some(depth) = depth {
        builder = builder.target_max_depth(depth);
    }
    let started = Instant::now(); // wall time for the report only
    if dfs {
        report(name, "dfs", &builder.spawn_dfs().join(), started)
    } else {
        report(name, "bfs", &builder.spawn_bfs().join(), started)
    }
}

/// Print the counts and speed, and each property's verdict; fail if any property failed.
fn report<M>(name: &str, search: &str, checker: &impl Checker<M>, started: Instant) -> Result<(), String>
where
    M: Model,
    M::State: Clone + PartialEq + std::hash::Hash + std::fmt::Debug,
    M::Action: Clone + PartialEq + std::fmt::Debug,
{
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{name} ({search}): {} states, {} unique, max depth {}, {seconds:.2} s, {:.0} states/s",
        checker.state_count(),
        checker.unique_state_count(),
        checker.max_depth(),
        checker.state_count() as f64 / seconds.max(1e-9)
    );
    let mut failed = false;
    for property in checker.model().properties() {
        let discovery = checker.discovery(property.name);
        // A discovery is a counterexample for `always`, a witness for `sometimes`.
        let (verdict, ok) = match (property.expectation, &discovery) {
            (stateright::Expectation::Sometimes, Some(_)) => ("reached", true),
            (stateright::Expectation::Sometimes, None) => ("NEVER REACHED", false),
            (_, None) => ("holds", true),
            (_, Some(_)) => ("VIOLATED", false),
        };
        println!("  {:<45} {verdict}", property.name);
        if let (false, Some(path)) = (ok, &discovery) {
            let actions = path.clone().into_actions();
            println!("    counterexample, {} steps:", actions.len());
            for action in actions {
                println!("      {action:?}");
            }
        }
        failed |= !ok;
    }
    if failed { Err("some properties failed".into()) } else { Ok(()) }
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Cmd::Check { model, bfs: _, dfs, depth, threads } => check(&model, dfs, depth, threads),
        Cmd::Explore { model, addr } if model == GOVERNANCE => {
            println!("serving the {model} model at http://{addr}");
            GovernanceModel::three_guests().into_model().checker().serve(addr.as_str());
            Ok(())
        }
        Cmd::Explore { model, addr } => named(&model).map(|m| {
            println!("serving the {model} model at http://{addr}");
            m.into_model().checker().serve(addr.as_str());
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
