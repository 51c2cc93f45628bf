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
    let scenario = plan.scenario(&plan.points[11]).unwrap();
    assert_eq!(scenario.network.drop, 0.1);
    assert_eq!(scenario.workload.transfers_per_s, 9.0);
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

#[test]
fn a_sweep_touches_only_its_own_files_and_shards_in_one_directory_keep_each_others_points() {
    let plan = plan();
    let dir = temp_dir("sweep-own-files");
    // Not a sweep's directory: refused, nothing removed.
    std::fs::create_dir_all(dir.join("points")).unwrap();
    std::fs::write(dir.join("points/notes.txt"), "mine").unwrap();
    let all: std::collections::BTreeSet<usize> = plan.points.iter().map(|p| p.index).collect();
    let refused =
        sweep::points::prepare::<sweep::PointResult>(&dir, &plan.record(), &plan.expected(), &all, false)
            .unwrap_err();
    assert!(refused.to_string().contains("is not a sweep's directory"), "{refused}");
    assert!(dir.join("points/notes.txt").exists());
    // Two shards into one directory: the second leaves the first's points alone.
    std::fs::remove_dir_all(dir.join("points")).unwrap();
    for i in 0..2 {
        let mine: Vec<_> = plan.points.iter().filter(|p| p.index % 2 == i).collect();
        let indices = mine.iter().map(|p| p.index).collect();
        let done: Vec<sweep::PointResult> =
            sweep::points::prepare(&dir, &plan.record(), &plan.expected(), &indices, false).unwrap();
        assert!(done.is_empty());
        sweep::run(&plan, &mine, 1, &dir, &|| {}).unwrap();
    }
    assert_eq!(std::fs::read_dir(dir.join("points")).unwrap().count(), 12);
    sweep::merge(std::slice::from_ref(&dir), &dir).unwrap();
    // A record whose point count was edited is refused.
    let record_path = dir.join(sweep::points::RECORD_FILE);
    let record = std::fs::read_to_string(&record_path).unwrap();
    std::fs::write(&record_path, record.replace("\"total_points\": 12", "\"total_points\": 0")).unwrap();
    let error = sweep::merge(std::slice::from_ref(&dir), &temp_dir("sweep-own-files-out")).unwrap_err();
    assert!(error.to_string().contains("says the sweep has 0 points, its scenario text plans 12"), "{error}");
}
