//! `--seeds A-B` or `--seeds 1,5,9`: the seeds of a campaign, bounded and without repeats.

use crate::bounds::CAMPAIGN_SEEDS_MAX;

/// The seeds `text` names, in the order given; refused if malformed, repeated, or more than
/// [`CAMPAIGN_SEEDS_MAX`] (counted before any is listed).
pub fn parse(text: &str) -> Result<Vec<u64>, String> {
    let bad =
        || format!("--seeds {text}: expected A-B or a comma-separated list of seeds, e.g. 1-20 or 1,5,9");
    let mut ranges = Vec::new();
    let mut count: u128 = 0;
    for part in text.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => {
                (a.trim().parse::<u64>().map_err(|_| bad())?, b.trim().parse::<u64>().map_err(|_| bad())?)
            }
            None => {
                let seed = part.trim().parse::<u64>().map_err(|_| bad())?;
                (seed, seed)
            }
        };
        if a > b {
            return Err(format!("--seeds {text}: the range {a}-{b} is empty (start after end)"));
        }
        count += u128::from(b - a) + 1;
        ranges.push((a, b));
    }
    if count > u128::from(CAMPAIGN_SEEDS_MAX) {
        return Err(format!("--seeds {text}: {count} seeds; a campaign runs at most {CAMPAIGN_SEEDS_MAX}"));
    }
    let seeds: Vec<u64> = ranges.into_iter().flat_map(|(a, b)| a..=b).collect();
    let mut sorted = seeds.clone();
    sorted.sort_unstable();
    if let Some(pair) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!(
            "--seeds {text}: seed {} is named twice (it would run the same run again)",
            pair[0]
        ));
    }
    Ok(seeds)
}

/// The seeds of a run: `--seeds`, else `--seed`, else the scenario's.
pub fn pick(seed: Option<u64>, seeds: Option<&str>, default: u64) -> Result<Vec<u64>, String> {
    Ok(match (seed, seeds) {
        (_, Some(text)) => parse(text)?,
        (Some(seed), None) => vec![seed],
        (None, None) => vec![default],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_lists_and_their_refusals() {
        assert_eq!(parse("3-5,9").unwrap(), [3, 4, 5, 9]);
        assert_eq!(
            parse("1-1000000000000").unwrap_err(),
            "--seeds 1-1000000000000: 1000000000000 seeds; a campaign runs at most 1000000"
        );
        assert_eq!(
            parse("0-18446744073709551615").unwrap_err().split(": ").nth(1),
            Some("18446744073709551616 seeds; a campaign runs at most 1000000")
        );
        assert_eq!(
            parse("1,2,1").unwrap_err(),
            "--seeds 1,2,1: seed 1 is named twice (it would run the same run again)"
        );
        assert_eq!(parse("5-3").unwrap_err(), "--seeds 5-3: the range 5-3 is empty (start after end)");
        assert!(parse("a-b").unwrap_err().starts_with("--seeds a-b: expected A-B"));
    }
}
