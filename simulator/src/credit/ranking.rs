//! How well a trust ranking separates honest members from adversaries: the area under the ROC
//! curve and the acceptance of a cut at the honest count. Ties are counted as a random
//! tie-break would on average, so that a model giving many equal scores (max-flow certifies
//! with 0 or 1) is neither helped nor hurt by the order identities were created in.

/// The area under the ROC curve of `positives` against `negatives`: the probability that a
/// random positive scores above a random negative, ties counting one half (Mann–Whitney U).
/// `None` when either side is empty.
pub fn auc(positives: &[f64], negatives: &[f64]) -> Option<f64> {
    if positives.is_empty() || negatives.is_empty() {
        return None;
    }
    let mut negatives = negatives.to_vec();
    negatives.sort_by(f64::total_cmp);
    let mut wins = 0.0;
    for p in positives {
        let below = negatives.partition_point(|n| n.total_cmp(p).is_lt());
        let equal = negatives[below..].partition_point(|n| n.total_cmp(p).is_le());
        wins += below as f64 + 0.5 * equal as f64;
    }
    Some(wins / (positives.len() as f64 * negatives.len() as f64))
}

/// What a cut accepting the `k` best-scored identities takes, by class: the expected number of
/// each class among the accepted when ties at the cut are broken at random. Identities
/// scoring 0 are never accepted (no trust at all). `scored` pairs each score with a class
/// index below `classes`.
pub fn accepted_by_class(scored: &[(f64, usize)], k: usize, classes: usize) -> Vec<f64> {
    let mut sorted: Vec<(f64, usize)> = scored.iter().copied().filter(|(s, _)| *s > 0.0).collect();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut accepted = vec![0.0; classes];
    let mut room = k as f64;
    let mut start = 0;
    while start < sorted.len() && room > 0.0 {
        let score = sorted[start].0;
        let end = start + sorted[start..].partition_point(|(s, _)| s.total_cmp(&score).is_eq());
        let group = &sorted[start..end];
        let share = (room / group.len() as f64).min(1.0);
        for (_, class) in group {
            accepted[*class] += share;
        }
        room -= share * group.len() as f64;
        start = end;
    }
    accepted
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, pair by pair.
    fn auc_by_pairs(positives: &[f64], negatives: &[f64]) -> f64 {
        let mut wins = 0.0;
        for p in positives {
            for n in negatives {
                wins += if p > n {
                    1.0
                } else if p == n {
                    0.5
                } else {
                    0.0
                };
            }
        }
        wins / (positives.len() * negatives.len()) as f64
    }

    #[test]
    fn auc_matches_the_pairwise_definition_with_ties() {
        let positives = [0.9, 0.5, 0.5, 0.1, 0.0];
        let negatives = [0.5, 0.2, 0.0, 0.0, 0.7, 0.5];
        let got = auc(&positives, &negatives).unwrap();
        assert!((got - auc_by_pairs(&positives, &negatives)).abs() < 1e-12, "{got}");
        assert_eq!(auc(&[1.0, 2.0], &[0.0]), Some(1.0));
        assert_eq!(auc(&[0.0], &[1.0, 2.0]), Some(0.0));
        assert_eq!(auc(&[1.0, 1.0], &[1.0]), Some(0.5));
        assert_eq!(auc(&[], &[1.0]), None);
    }

    #[test]
    fn a_cut_shares_a_straddling_tie_evenly_and_never_takes_zero_scores() {
        // Two honest (class 0) at 1.0, two honest and two sybils (class 1) tied at 0.5,
        // one sybil at 0: the cut at 4 takes both 1.0s and half of the tie.
        let scored = [(1.0, 0), (0.5, 1), (1.0, 0), (0.5, 0), (0.0, 1), (0.5, 0), (0.5, 1)];
        assert_eq!(accepted_by_class(&scored, 4, 2), vec![3.0, 1.0]);
        // A cut larger than everything with trust takes all of it and no zero.
        assert_eq!(accepted_by_class(&scored, 10, 2), vec![4.0, 2.0]);
        assert_eq!(accepted_by_class(&scored, 0, 2), vec![0.0, 0.0]);
    }
}
