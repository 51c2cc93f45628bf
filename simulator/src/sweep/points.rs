//! A sweep's directory: its record (`sweep-record.json`: which sweep, from which scenario text,
//! at which commit) and one file per finished point (`points/point-NNNNN.json`), written as each
//! point finishes, so that an interrupted sweep resumes (`sweep --resume`) and shards merge.
//! Shared by protocol and credit sweeps.
//!
//! A point file carries a digest of its own contents, and `merge` and `--resume` check every
//! file against it and against the sweep it claims to belong to — its index, seed and
//! assignments as the scenario text plans them, and the record's commit — so that an edited,
//! foreign or stale point is refused by name instead of entering the report.

use std::collections::BTreeSet;
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
        if !dir.is_dir() {
            return Err(SweepError::Incomplete(format!("{}: not a directory", dir.display())));
        }
        let path = dir.join(RECORD_FILE);
        if !path.exists() {
            return Err(SweepError::Incomplete(format!(
                "{}: not a sweep's directory (it has no {RECORD_FILE})",
                dir.display()
            )));
        }
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

    /// Refuse a record whose point count is not the plan's (its text plans `points`).
    pub fn matches(&self, points: usize) -> Result<(), SweepError> {
        if self.total_points == points {
            return Ok(());
        }
        Err(SweepError::Incomplete(format!(
            "{RECORD_FILE} says the sweep has {} points, its scenario text plans {points}: the record was edited",
            self.total_points
        )))
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

/// The result of one sweep point, as `points/point-NNNNN.json` holds it: a protocol run's
/// `Summary` (`sweep::PointResult`) or a credit run's (`credit::compare::CreditPointResult`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PointResult<S> {
    /// The sweep it belongs to.
    pub sweep_id: String,
    /// Total points of the sweep.
    pub total_points: usize,
    /// The point's index.
    pub index: usize,
    /// Its assignments.
    pub assignments: Vec<(String, String)>,
    /// Its seed.
    pub seed: u64,
    /// Its run's summary (a protocol run's with `stopped` set if it broke an invariant or hit a
    /// limit).
    pub summary: S,
    /// A digest of the rest of the file ([`seal`]).
    #[serde(default)]
    pub digest: String,
}

/// What a point file needs of its run's summary: the seed and the commit it ran with.
pub trait RunSummary {
    /// The seed.
    fn seed(&self) -> u64;
    /// The commit of the simulator.
    fn commit(&self) -> &str;
}

/// A point file as `merge` and `--resume` read it.
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

impl<S> PointFile for PointResult<S>
where
    S: RunSummary + Serialize + serde::de::DeserializeOwned + PartialEq + Clone,
{
    fn sweep_id(&self) -> &str {
        &self.sweep_id
    }
    fn total_points(&self) -> usize {
        self.total_points
    }
    fn index(&self) -> usize {
        self.index
    }
    fn seed(&self) -> u64 {
        self.seed
    }
    fn assignments(&self) -> &[(String, String)] {
        &self.assignments
    }
    fn ran_with(&self) -> (u64, &str) {
        (self.summary.seed(), self.summary.commit())
    }
    fn digest(&self) -> &str {
        &self.digest
    }
    fn set_digest(&mut self, digest: String) {
        self.digest = digest;
    }
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

/// The index of a file a sweep wrote into `points/` (`point-NNNNN.json`, its flight recording
/// or a partial write), or `None` for any other file, which a sweep never touches.
fn point_index(name: &str) -> Option<usize> {
    let rest = name.strip_prefix("point-")?;
    let digits = rest.split(['.', '-']).next()?;
    let known = [".json", "-flight-recorder.jsonl", ".json.partial"];
    (digits.len() >= 5 && known.contains(&&rest[digits.len()..])).then(|| digits.parse().ok()).flatten()
}

/// Remove the files a sweep wrote for the points `which` keeps (every point when `None`).
fn remove_points(dir: &Path, which: Option<&BTreeSet<usize>>) -> Result<(), SweepError> {
    let points_dir = dir.join("points");
    if !points_dir.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(&points_dir).map_err(super::io_error(&points_dir))? {
        let path = entry.map_err(super::io_error(&points_dir))?.path();
        let index = path.file_name().and_then(|n| n.to_str()).and_then(point_index);
        if index.is_some_and(|i| which.is_none_or(|w| w.contains(&i))) {
            std::fs::remove_file(&path).map_err(super::io_error(&path))?;
        }
    }
    Ok(())
}

/// Make `dir` ready for the points `mine` of the sweep `record` describes. With `resume`, keep
/// (and return, each verified) the points it holds of this sweep at this commit. Without, start
/// over: remove the files of `mine` if the directory holds this sweep (another shard's points
/// stay), or every point file of another sweep. A directory with a `points/` but no record is
/// not a sweep's and is refused rather than touched.
pub fn prepare<P: PointFile>(
    dir: &Path,
    record: &SweepRecord,
    plan: &Expected<'_>,
    mine: &BTreeSet<usize>,
    resume: bool,
) -> Result<Vec<P>, SweepError> {
    let theirs = if dir.join(RECORD_FILE).exists() { Some(SweepRecord::read(dir)?) } else { None };
    if theirs.is_none() && dir.join("points").exists() {
        return Err(SweepError::Incomplete(format!(
            "{} holds a points/ directory but no {RECORD_FILE}: it is not a sweep's directory; use another --out",
            dir.display()
        )));
    }
    let same = theirs.as_ref().is_some_and(|t| t.sweep_id == record.sweep_id && t.commit == record.commit);
    if resume {
        if let Some(theirs) = theirs.as_ref().filter(|_| !same) {
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
        record.write(dir)?;
        return read_points(std::slice::from_ref(&dir.to_path_buf()), record, plan);
    }
    remove_points(dir, same.then_some(mine))?;
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

#[cfg(test)]
mod tests {
    use super::point_index;

    #[test]
    fn only_the_files_a_sweep_writes_are_point_files() {
        assert_eq!(point_index("point-00012.json"), Some(12));
        assert_eq!(point_index("point-00012-flight-recorder.jsonl"), Some(12));
        assert_eq!(point_index("point-123456.json.partial"), Some(123_456));
        for other in ["notes.txt", "point-1.json", "point-00012.json.bak", "point-0001x.json", "points.json"]
        {
            assert_eq!(point_index(other), None, "{other}");
        }
    }
}
