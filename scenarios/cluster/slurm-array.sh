#!/usr/bin/env bash
# Run a sweep as a Slurm job array: one array task per shard, then merge.
#
#   sbatch --array=0-15 scenarios/cluster/slurm-array.sh scenarios/lossy-network.toml
#   # when all tasks are done (or chain with --dependency=afterok:JOBID):
#   cargo run --release -p simulator -- merge out/lossy-network/shard-*-of-16 --out out/lossy-network/merged
#
# Each task runs the points whose index mod N equals its array index, on all the cores Slurm
# gives it, and writes them to out/NAME/shard-I-of-N/points/. The merged report is byte-identical
# to the one `leither sweep` writes on a single machine.
#SBATCH --job-name=leither-sweep
#SBATCH --cpus-per-task=4
#SBATCH --time=01:00:00
#SBATCH --output=out/slurm-%A_%a.log
set -euo pipefail
scenario="${1:?usage: sbatch --array=0-(N-1) slurm-array.sh SCENARIO}"
shards="${SLURM_ARRAY_TASK_COUNT:?run me as a job array}"
index="${SLURM_ARRAY_TASK_ID:?run me as a job array}"
# Build once per node; cargo's lock serialises concurrent builds in one checkout.
cargo build --release -p simulator
./target/release/leither sweep "$scenario" --shard "${index}/${shards}" --jobs "${SLURM_CPUS_PER_TASK:-1}"
