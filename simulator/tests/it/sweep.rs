//! Sweeps: the plan is the cartesian product × seeds; shards partition it; merging shard
//! results gives byte-for-byte the report of a single-machine sweep.

use std::path::Path;

use simulator::sweep::{self, Plan};

use crate::support::temp_dir;

const TEXT: &str = "name = \"grid\"\nduration_ms = 8000\n[nodes]\nclients = 6\n\
[sweep]\nseeds = [1, 2]\n[sweep.parameters]\n\"network.drop\" = [0.0, 0.1]\n\"workload.transfers_per_s\" = [2.0, 6.0, 9.0]\n";

fn plan() -> Plan {
    sweep::plan_text(TEXT, Path::new("grid.toml")).unwrap()
}

#[test]
fn the_plan_is_the_cartesian_product_times_seeds() {
    let plan = plan();
    assert_eq!(plan.points.len(), 2 * 3 * 2);
    let labels: Vec<String> = plan
        .points
        .iter()
        .map(|p| format!("{}/{}/{}", p.assignments[0].1, p.assignments[1].1, p.seed))
        .collect();
    assert_eq!(labels[..4], ["0.0/2.0/1", "0.0/2.0/2", "0.0/6.0/1", "0.0/6.0/2"]);
    assert_eq!(plan.points[11].scenario.network.drop, 0.1);
    assert_eq!(plan.points[11].scenario.workload.transfers_per_s, 9.0);
}

#[test]
fn shards_partition_the_points() {
    let plan = plan();
    let mut seen: Vec<usize> =
        (0..3).flat_map(|i| plan.points.iter().filter(move |p| p.index % 3 == i).map(|p| p.index)).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..plan.points.len()).collect::<Vec<_>>());
    assert!(
        sweep::parse_shard("3/3", 12).is_err()
            && sweep::parse_shard("1/0", 12).is_err()
            && sweep::parse_shard("x", 12).is_err()
    );
    assert_eq!(sweep::parse_shard("2/3", 12).unwrap(), (2, 3));
    assert_eq!(
        sweep::parse_shard("2/13", 12).unwrap_err().to_string(),
        "--shard 2/13: the sweep has 12 points, so at most 12 shards (each gets at least one)"
    );
}

#[test]
fn merged_shards_give_exactly_the_single_machine_report() {
    let plan = plan();
    let all: Vec<_> = plan.points.iter().collect();
    let single = temp_dir("sweep-single");
    plan.record().write(&single).unwrap();
    sweep::run(&plan, &all, 2, &single, &|| {}).unwrap();
    sweep::merge(std::slice::from_ref(&single), &single).unwrap();

    let mut shard_dirs = Vec::new();
    for i in 0..3 {
        let dir = temp_dir(&format!("sweep-shard-{i}"));
        let points: Vec<_> = plan.points.iter().filter(|p| p.index % 3 == i).collect();
        plan.record().write(&dir).unwrap();
        sweep::run(&plan, &points, 1, &dir, &|| {}).unwrap();
        shard_dirs.push(dir);
    }
    let merged = temp_dir("sweep-merged");
    sweep::merge(&shard_dirs, &merged).unwrap();
    for file in ["sweep.md", "sweep.html", "sweep.csv", "sweep.json"] {
        let (a, b) = (std::fs::read(single.join(file)).unwrap(), std::fs::read(merged.join(file)).unwrap());
        assert!(a == b, "{file} differs between the single-machine sweep and the merged shards");
    }
    let md = std::fs::read_to_string(merged.join("sweep.md")).unwrap();
    assert!(md.contains("network.drop = 0.1, workload.transfers_per_s = 9.0 | 2 |"), "{md}");

    // A missing shard is refused, naming what is missing.
    let error = sweep::merge(&shard_dirs[..2], &temp_dir("sweep-partial")).unwrap_err().to_string();
    assert!(error.starts_with("cannot merge: 4 of 12 points missing"), "{error}");
}
