//! Significance tests for the report. The paper (§5.1) compares VILLAMA with LLAMA_Long by a
//! paired t-test over the same target groups; the same test runs here on per-group errors.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// Result of a paired (dependent samples) Student's t-test of `a − b`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TTest {
    pub t: f64,
    /// Degrees of freedom, `n − 1`.
    pub df: f64,
    pub p_two_sided: f64,
    /// Mean of `a[i] − b[i]`.
    pub mean_difference: f64,
}

/// Paired t-test of `a` against `b` (same units in the same order). `None` when undefined:
/// different lengths, fewer than 2 pairs, a non-finite input, or differences without variance
/// (t would be ±∞ or 0/0).
pub fn paired_t_test(a: &[f64], b: &[f64]) -> Option<TTest> {
    if a.len() != b.len() || a.len() < 2 {
        return None;
    }
    let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    if diffs.iter().any(|d| !d.is_finite()) {
        return None;
    }
    let n = diffs.len() as f64;
    let mean = diffs.iter().sum::<f64>() / n;
    let variance = diffs.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / (n - 1.0);
    if variance <= 0.0 {
        return None;
    }
    let t = mean / (variance / n).sqrt();
    let df = n - 1.0;
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    // The survival function keeps precision for large |t| where 1 − cdf would round to 0.
    let p_two_sided = (2.0 * dist.sf(t.abs())).min(1.0);
    Some(TTest {
        t,
        df,
        p_two_sided,
        mean_difference: mean,
    })
}

/// A mean with its two-sided 95 % Student-t interval (repeated seeds of one configuration).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MeanInterval {
    pub n: usize,
    pub mean: f64,
    /// `None` for a single value (no spread to estimate).
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// The mean of `xs` and its 95 % interval, mean ± t(0.975, n − 1) · s / √n. `None` for no value
/// or a non-finite one.
pub fn mean_interval(xs: &[f64]) -> Option<MeanInterval> {
    if xs.is_empty() || xs.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let half = (xs.len() > 1)
        .then(|| {
            let sd = (xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)).sqrt();
            let t = StudentsT::new(0.0, 1.0, n - 1.0).ok()?.inverse_cdf(0.975);
            Some(t * sd / n.sqrt())
        })
        .flatten();
    Some(MeanInterval {
        n: xs.len(),
        mean,
        low: half.map(|h| mean - h),
        high: half.map(|h| mean + h),
    })
}

/// The 1-Wasserstein (earth mover's) distance between two samples on the real line: the area
/// between their empirical distribution functions, in the samples' own units (OpinionQA's
/// representativeness is 1 − this over the answer range). `None` when either sample is empty.
pub fn wasserstein_1d(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let sorted = |xs: &[f64]| {
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        v
    };
    let (a, b) = (sorted(a), sorted(b));
    let mut points: Vec<f64> = a.iter().chain(&b).copied().collect();
    points.sort_by(f64::total_cmp);
    let cdf = |xs: &[f64], t: f64| xs.partition_point(|&x| x <= t) as f64 / xs.len() as f64;
    Some(
        points
            .windows(2)
            .map(|w| (cdf(&a, w[0]) - cdf(&b, w[0])).abs() * (w[1] - w[0]))
            .sum(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mean_interval_uses_students_t() {
        // 1, 2, 3: mean 2, s = 1, t(0.975, 2) = 4.302653: half width 4.302653 / √3 = 2.484138.
        let m = mean_interval(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!((m.n, m.mean), (3, 2.0));
        assert!((m.high.unwrap() - (2.0 + 2.484_138)).abs() < 1e-5, "{m:?}");
        assert!((m.low.unwrap() - (2.0 - 2.484_138)).abs() < 1e-5, "{m:?}");
        let one = mean_interval(&[0.5]).unwrap();
        assert_eq!((one.mean, one.low, one.high), (0.5, None, None));
        assert_eq!(mean_interval(&[]), None);
        assert_eq!(mean_interval(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn matches_a_closed_form_two_degrees_of_freedom_case() {
        // d = 1, 2, 3: mean 2, sd 1, t = 2 / (1/√3) = 2√3, df = 2. With 2 degrees of freedom
        // Student's cdf is 1/2 + t / (2√(2 + t²)), so p = 1 − t / √(2 + t²) = 1 − √(12/14).
        let r = paired_t_test(&[2.0, 4.0, 6.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!((r.t - 2.0 * 3f64.sqrt()).abs() < 1e-12);
        assert_eq!(r.df, 2.0);
        assert_eq!(r.mean_difference, 2.0);
        assert!(
            (r.p_two_sided - (1.0 - (12.0f64 / 14.0).sqrt())).abs() < 1e-9,
            "{r:?}"
        );
    }

    #[test]
    fn matches_r_on_students_sleep_data() {
        // Cushny & Peebles (1905) as analysed by "Student" (1908); R's `sleep` data set:
        // t.test(extra[group == 1], extra[group == 2], paired = TRUE)
        // → t = -4.0621, df = 9, p-value = 0.002833, mean difference -1.58.
        let drug1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
        let drug2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
        let r = paired_t_test(&drug1, &drug2).unwrap();
        assert!((r.t + 4.0621).abs() < 5e-5, "{r:?}");
        assert_eq!(r.df, 9.0);
        assert!((r.p_two_sided - 0.002833).abs() < 5e-7, "{r:?}");
        assert!((r.mean_difference + 1.58).abs() < 1e-12);
    }

    #[test]
    fn swapping_the_samples_flips_t_but_not_p() {
        let a = [3.0, 5.0, 4.0, 8.0];
        let b = [2.0, 5.5, 1.0, 6.0];
        let ab = paired_t_test(&a, &b).unwrap();
        let ba = paired_t_test(&b, &a).unwrap();
        assert!((ab.t + ba.t).abs() < 1e-12);
        assert!((ab.p_two_sided - ba.p_two_sided).abs() < 1e-12);
    }

    #[test]
    fn undefined_without_two_pairs_or_any_variance() {
        assert_eq!(paired_t_test(&[1.0], &[2.0]), None);
        assert_eq!(paired_t_test(&[1.0, 2.0], &[1.0]), None);
        // Constant differences: t would be infinite.
        assert_eq!(paired_t_test(&[2.0, 3.0, 4.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(paired_t_test(&[1.0, f64::NAN], &[0.0, 0.0]), None);
    }

    #[test]
    fn wasserstein_is_the_area_between_the_distribution_functions() {
        // A shift by 2 moves every unit of mass 2 far.
        assert_eq!(
            wasserstein_1d(&[1.0, 2.0, 3.0], &[3.0, 4.0, 5.0]),
            Some(2.0)
        );
        // {0, 1} against {0, 0}: half the mass moves 1 → 0.5; the same sample → 0.
        assert_eq!(wasserstein_1d(&[0.0, 1.0], &[0.0, 0.0]), Some(0.5));
        assert_eq!(wasserstein_1d(&[2.0, 5.0], &[5.0, 2.0]), Some(0.0));
        // Samples of different sizes: {1} against {0, 2} → 0.5·1 + 0.5·1 = 1.
        assert_eq!(wasserstein_1d(&[1.0], &[0.0, 2.0]), Some(1.0));
        assert_eq!(wasserstein_1d(&[], &[1.0]), None);
    }
}
