//! The statistics of sweep reports: means with Student-t confidence intervals over seeds, and
//! the paired comparison that says which configurations cannot be told from the best.

/// Mean and 95% confidence half-width (Student t) of a sample; the half-width is NaN for a
/// sample of one, which has no interval.
pub(crate) fn mean_ci(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, f64::NAN);
    }
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, t95(values.len() - 1) * (variance / n).sqrt())
}

/// Two-sided 95% Student t critical values by degrees of freedom (`df ≥ 1`).
fn t95(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042,
    ];
    TABLE.get(df.max(1) - 1).copied().unwrap_or(1.96)
}

/// `mean ± half`, or the mean alone for a sample of one: every cell of a column alike, even
/// where the seeds agreed exactly (`± 0.00`).
pub(crate) fn fmt_ci((mean, half): (f64, f64)) -> String {
    if half.is_nan() { format!("{mean:.2}") } else { format!("{mean:.2} ± {half:.2}") }
}

/// Whether configuration `a` cannot be told from `b` at 95%, by a paired t-test over the seeds
/// both ran (`(seed, value)` pairs): the mean of the per-seed differences lies within its
/// confidence half-width of 0. `None` with fewer than two common seeds (no variance to test).
pub(crate) fn indistinguishable(a: &[(u64, f64)], b: &[(u64, f64)]) -> Option<bool> {
    let differences: Vec<f64> =
        a.iter().filter_map(|(seed, x)| b.iter().find(|(s, _)| s == seed).map(|(_, y)| x - y)).collect();
    if differences.len() < 2 {
        return None;
    }
    let (mean, half) = mean_ci(&differences);
    Some(mean.abs() <= half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confidence_interval_of_a_known_sample() {
        let (mean, half) = mean_ci(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(mean, 2.5);
        // s = 1.291, t(3) = 3.182: 3.182 × 1.291 / 2 = 2.054
        assert!((half - 2.054).abs() < 1e-3, "{half}");
    }

    #[test]
    fn pairing_by_seed_tells_a_consistent_small_difference_from_noise() {
        // Seeds move both configurations alike; b is better by 0.1 on every seed.
        let a = [(1, 5.1), (2, 7.1), (3, 3.1), (4, 9.1)];
        let b = [(1, 5.0), (2, 7.0), (3, 3.0), (4, 9.0)];
        assert_eq!(indistinguishable(&a, &b), Some(false), "paired, the difference is certain");
        let noisy = [(1, 5.9), (2, 6.2), (3, 3.4), (4, 8.7)];
        assert_eq!(indistinguishable(&noisy, &b), Some(true));
        assert_eq!(indistinguishable(&a[..1], &b), None, "one seed cannot be tested");
    }
}
