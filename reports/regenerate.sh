#!/usr/bin/env bash
# Regenerate the committed example reports from the shipped scenarios:
#   bash reports/regenerate.sh
# Each report names the commit that produced it; commit your code first so it is not "-dirty".
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p simulator
leither=target/release/leither
out=reports/examples
rm -rf "$out" && mkdir -p "$out"
for scenario in quickstart partition-heal lossy-network crash-restart double-spend groups-1k chief-partition byzantine-bookkeepers capacity committee-failover colluding-committee committee-terms crashing-chief elected-committees; do
  "$leither" run "scenarios/$scenario.toml" --out "$out/$scenario"
done
"$leither" run scenarios/swarm.toml --seed 3 --out "$out/swarm-seed-3"
"$leither" sweep scenarios/lossy-network.toml --out "$out/lossy-network-sweep"
rm -rf "$out/lossy-network-sweep/points" "$out/lossy-network-sweep/sweep-record.json"
for scenario in colluding-committee committee-terms elected-committees; do
  "$leither" sweep "scenarios/$scenario.toml" --out "$out/$scenario-sweep"
  rm -rf "$out/$scenario-sweep/points" "$out/$scenario-sweep/sweep-record.json"
done
# Organizations on the network (issue 18, D-041).
for scenario in governance-small governance-1k cluster-governance governance-elections; do
  "$leither" run "scenarios/$scenario.toml" --out "$out/$scenario"
done
"$leither" sweep scenarios/governance-capture.toml --out "$out/governance-capture-sweep"
rm -rf "$out/governance-capture-sweep/points" "$out/governance-capture-sweep/sweep-record.json"
"$leither" sweep scenarios/governance-elections.toml --out "$out/governance-elections-sweep"
rm -rf "$out/governance-elections-sweep/points" "$out/governance-elections-sweep/sweep-record.json"
# The credit model (issue 5): one run, and the designer's comparison sweeps.
"$leither" run scenarios/credit-sybil.toml --out "$out/credit-sybil-run"
for scenario in credit-sybil credit-free-riders credit-collective credit-liquidity; do
  "$leither" sweep "scenarios/$scenario.toml" --out "$out/$scenario-sweep"
  rm -rf "$out/$scenario-sweep/points" "$out/$scenario-sweep/sweep-record.json"
done
# Wall-clock timings differ from run to run; they stay out of the committed examples.
find "$out" -name timing.json -delete
