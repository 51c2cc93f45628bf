//! Where a command writes: `--out`, or `out/NAME/…` — with `--set` overrides, a directory of
//! their own (`out/NAME/set-HASH/`), so that a changed run never overwrites the plain
//! scenario's report.

use std::path::{Path, PathBuf};

use crate::scenario::Override;

/// `set-` and the first 8 hex digits of a hash of the overrides in order (a later one wins, so
/// order matters), or `None` without overrides.
pub fn overrides_tag(overrides: &[Override]) -> Option<String> {
    if overrides.is_empty() {
        return None;
    }
    let text: Vec<String> = overrides.iter().map(Override::to_string).collect();
    Some(format!("set-{}", &blake3::hash(text.join("\n").as_bytes()).to_hex()[..8]))
}

/// The directory a run's (or campaign's) outputs go under: `--out`, else `out/NAME`, or
/// `out/NAME/set-HASH` with overrides.
pub fn base(out: Option<&Path>, name: &str, overrides: &[Override]) -> PathBuf {
    if let Some(out) = out {
        return out.to_path_buf();
    }
    let base = PathBuf::from("out").join(name);
    match overrides_tag(overrides) {
        Some(tag) => base.join(tag),
        None => base,
    }
}

/// Refuse an output path that exists and is not a directory.
pub fn check(out: &Path) -> Result<(), String> {
    if out.exists() && !out.is_dir() {
        return Err(format!("--out {}: exists and is not a directory", out.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_get_a_directory_of_their_own() {
        let set = |items: &[&str]| items.iter().map(|i| Override::parse(i).unwrap()).collect::<Vec<_>>();
        assert_eq!(base(None, "q", &[]), PathBuf::from("out/q"));
        let one = base(None, "q", &set(&["network.drop=0.05"]));
        assert!(one.starts_with("out/q") && one.file_name().unwrap().to_str().unwrap().starts_with("set-"));
        assert_ne!(one, base(None, "q", &set(&["network.drop=0.06"])));
        assert_eq!(base(Some(Path::new("x")), "q", &set(&["network.drop=0.05"])), PathBuf::from("x"));
    }
}
