//! A sweep's directory: its record (`sweep-record.json`: which sweep, from which scenario text,
//! at which commit) and one file per finished point (`points/point-NNNNN.json`), written as each
//! point finishes, so that an interrupted sweep resumes (`sweep --resume`) and shards merge.
//! Shared by protocol and credit sweeps.
//!
//! A point file carries a digest of its own contents, and `merge` and `--resume` check every
//! file against it and against the sweep it claims to belong to — its index, seed and
//! assignments as the scenario text plans them, and the record's commit — so that an edited,
//! foreign or stale point is refused by name instead of entering the report.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SweepError;
use crate::summary::COMMIT;

/// What a sweep's directory records of the sweep.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SweepRecord {
    /// [`RECORD_FORMAT`].
    pub format: String,
    /// `protocol` or `credit`.
    pub kind: String,
    /// A hash of the scenario text (`text`).
    pub sweep_id: String,
    /// The scenario file as named on the command line.
    pub file: PathBuf,
    /// Its text.
    pub text: String,
    /// The commit of the simulator that ran it.
    pub commit: String,
    /// Points of the whole sweep.
    pub total_points: usize,
}

/// The record format this build writes.
pub const RECORD_FORMAT: &str = "leither-sweep-record/1";
/// The file a sweep's directory holds its [`SweepRecord`] in.
pub const RECORD_FILE: &str = "sweep-record.json";

/// The id of the sweep of scenario `text`.
pub fn sweep_id(text: &str) -> String {
    blake3::hash(text.as_bytes()).to_hex()[..16].to_string()
}

impl SweepRecord {
    /// The record of a sweep of `kind` over scenario `text` (from `file`) with `total_points`.
    pub fn new(kind: &str, file: &Path, text: &str, total_points: usize) -> SweepRecord {
        SweepRecord {
            format: RECORD_FORMAT.into(),
            kind: kind.into(),
            sweep_id: sweep_id(text),
            file: file.to_path_buf(),
            text: text.into(),
            commit: COMMIT.into(),
            total_points,
        }
    }

    /// Read `dir`'s record, refusing one whose text does not hash to its id (edited).
    pub fn read(dir: &Path) -> Result<SweepRecord, SweepError> {
        let path = dir.join(RECORD_FILE);
        let text = std::fs::read_to_string(&path).map_err(super::io_error(&path))?;
        let record: SweepRecord = serde_json::from_str(&text)
            .map_err(|e| SweepError::Incomplete(format!("{}: not a sweep record: {e}", path.display())))?;
        if sweep_id(&record.text) != record.sweep_id {
            return Err(SweepError::Incomplete(format!(
                "{}: its scenario text does not hash to its sweep id {}: the file was edited",
                path.display(),
                record.sweep_id
            )));
        }
        Ok(record)
    }

    /// Write the record into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), SweepError> {
        std::fs::create_dir_all(dir).map_err(super::io_error(dir))?;
        let path = dir.join(RECORD_FILE);
        let json = serde_json::to_string_pretty(self).expect("a record serializes");
        std::fs::write(&path, json + "\n").map_err(super::io_error(&path))
    }

    /// The records of `dirs`, which must all be of one sweep at one commit.
    pub fn read_all(dirs: &[PathBuf]) -> Result<SweepRecord, SweepError> {
        let mut records = Vec::new();
        for dir in dirs {
            records.push((dir, SweepRecord::read(dir)?));
        }
        let Some((first_dir, first)) = records.first().cloned() else {
            return Err(SweepError::Incomplete("no directories".into()));
        };
        for (dir, other) in &records[1..] {
            let differs = |what: &str, a: &str, b: &str| {
                SweepError::Incomplete(format!(
                    "{} and {} hold {what} ({a} and {b})",
                    first_dir.display(),
                    dir.display()
                ))
            };
            if other.sweep_id != first.sweep_id {
                return Err(differs("results of two sweeps", &first.sweep_id, &other.sweep_id));
            }
            if other.commit != first.commit {
                return Err(differs("results of two commits", &first.commit, &other.commit));
            }
        }
        Ok(first)
    }
}

/// A sweep point's result as a point file holds it: protocol sweeps' `PointResult`, credit
/// sweeps' `credit::compare::CreditPointResult`.
pub trait PointFile: Serialize + serde::de::DeserializeOwned + PartialEq + Clone {
    /// The sweep it belongs to.
    fn sweep_id(&self) -> &str;
    /// Total points of that sweep.
    fn total_points(&self) -> usize;
    /// The point's index.
    fn index(&self) -> usize;
    /// The point's seed.
    fn seed(&self) -> u64;
    /// The point's assignments.
    fn assignments(&self) -> &[(String, String)];
    /// The seed and commit its summary says it ran with.
    fn ran_with(&self) -> (u64, &str);
    /// Its digest (empty before [`seal`]).
    fn digest(&self) -> &str;
    /// Set its digest.
    fn set_digest(&mut self, digest: String);
}

fn digest_of<P: PointFile>(point: &P) -> String {
    let mut bare = point.clone();
    bare.set_digest(String::new());
    let json = serde_json::to_string(&bare).expect("a point result serializes");
    blake3::hash(json.as_bytes()).to_hex()[..32].to_string()
}

/// Give `point` the digest of its contents.
pub fn seal<P: PointFile>(point: &mut P) {
    let digest = digest_of(point);
    point.set_digest(digest);
}

/// The planned seed and assignments of each point of a sweep, by index.
pub type Expected<'a> = Vec<(u64, &'a [(String, String)])>;

/// Check a point read from `path` against its digest, the sweep `record` and the plan.
pub fn verify<P: PointFile>(
    point: &P,
    path: &Path,
    record: &SweepRecord,
    plan: &Expected<'_>,
) -> Result<(), SweepError> {
    let refuse = |why: String| Err(SweepError::BadPointFile { path: path.to_path_buf(), why });
    if point.digest().is_empty() || digest_of(point) != point.digest() {
        return refuse(
            "its contents do not match its digest: the file was edited after it was written".into(),
        );
    }
    if point.sweep_id() != record.sweep_id || point.total_points() != record.total_points {
        return refuse(format!("it belongs to sweep {}, not {}", point.sweep_id(), record.sweep_id));
    }
    let Some((seed, assignments)) = plan.get(point.index()) else {
        return refuse(format!("point {} is beyond the sweep's {} points", point.index(), plan.len()));
    };
    let (ran_seed, ran_commit) = point.ran_with();
    if point.seed() != *seed || ran_seed != *seed {
        return refuse(format!(
            "point {} has seed {seed} in the plan; the file says {} and its run {ran_seed}",
            point.index(),
            point.seed()
        ));
    }
    if point.assignments() != *assignments {
        return refuse(format!("point {}'s assignments differ from the plan's", point.index()));
    }
    if ran_commit != record.commit {
        return refuse(format!("it ran at commit {ran_commit}, the sweep at {}", record.commit));
    }
    Ok(())
}

fn point_path(dir: &Path, index: usize) -> PathBuf {
    dir.join("points").join(format!("point-{index:05}.json"))
}

/// Write `point` (sealed) to `dir/points/`, atomically: a crash leaves the old file or the new
/// one, never half of one.
pub fn write_point<P: PointFile>(dir: &Path, point: &P) -> Result<(), SweepError> {
    let mut point = point.clone();
    seal(&mut point);
    let path = point_path(dir, point.index());
    let points = path.parent().expect("a points directory");
    std::fs::create_dir_all(points).map_err(super::io_error(points))?;
    let partial = path.with_extension("json.partial");
    let json = serde_json::to_string_pretty(&point).expect("a point result serializes");
    std::fs::write(&partial, json + "\n").map_err(super::io_error(&partial))?;
    std::fs::rename(&partial, &path).map_err(super::io_error(&path))
}

/// The point files under `dir/points/`, in name order.
pub fn point_files(dir: &Path) -> Result<Vec<PathBuf>, SweepError> {
    let points_dir = dir.join("points");
    if !points_dir.exists() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&points_dir)
        .map_err(super::io_error(&points_dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// Read and verify every point file under `dirs`.
pub fn read_points<P: PointFile>(
    dirs: &[PathBuf],
    record: &SweepRecord,
    plan: &Expected<'_>,
) -> Result<Vec<P>, SweepError> {
    let mut results = Vec::new();
    for dir in dirs {
        for path in point_files(dir)? {
            let text = std::fs::read_to_string(&path).map_err(super::io_error(&path))?;
            let point: P = serde_json::from_str(&text)
                .map_err(|error| SweepError::BadPoint { path: path.clone(), error })?;
            verify(&point, &path, record, plan)?;
            results.push(point);
        }
    }
    Ok(results)
}

/// Make `dir` ready for a sweep described by `record`: with `resume`, keep the point files it
/// holds of this sweep (each verified) and return them; without, remove any point files left
/// there (of this sweep or another) and return none.
pub fn prepare<P: PointFile>(
    dir: &Path,
    record: &SweepRecord,
    plan: &Expected<'_>,
    resume: bool,
) -> Result<Vec<P>, SweepError> {
    let existing = point_files(dir)?;
    if resume {
        if !existing.is_empty() {
            let theirs = SweepRecord::read(dir)?;
            if theirs.sweep_id != record.sweep_id || theirs.commit != record.commit {
                return Err(SweepError::Incomplete(format!(
                    "--resume: {} holds sweep {} at commit {}, not sweep {} at commit {}: use another --out or run \
                     without --resume to start over",
                    dir.display(),
                    theirs.sweep_id,
                    theirs.commit,
                    record.sweep_id,
                    record.commit
                )));
            }
        }
        record.write(dir)?;
        return read_points(std::slice::from_ref(&dir.to_path_buf()), record, plan);
    }
    let points_dir = dir.join("points");
    if !existing.is_empty() || points_dir.exists() {
        // Every file of an earlier run: its points, flight recordings and partial writes.
        std::fs::remove_dir_all(&points_dir).map_err(super::io_error(&points_dir))?;
    }
    record.write(dir)?;
    Ok(Vec::new())
}

/// Check that `results` are exactly the points of one sweep, and order them.
pub fn complete<P: PointFile>(mut results: Vec<P>, total: usize) -> Result<Vec<P>, SweepError> {
    results.sort_by_key(|r| r.index());
    results.dedup_by(|a, b| a == b); // the same shard merged twice is harmless
    if let Some(w) = results.windows(2).find(|w| w[0].index() == w[1].index()) {
        return Err(SweepError::Incomplete(format!("two different results for point {}", w[0].index())));
    }
    let missing: Vec<usize> =
        (0..total).filter(|i| results.binary_search_by_key(i, |r| r.index()).is_err()).collect();
    if !missing.is_empty() {
        return Err(SweepError::Incomplete(format!(
            "{} of {total} points missing, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(8)]
        )));
    }
    Ok(results)
}
