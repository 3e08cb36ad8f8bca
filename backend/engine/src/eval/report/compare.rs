//! Paired t-tests between two rows of a task across groups, on per-group NMSE: the paper's test
//! (§5.1, §6) of whether one method beats another on the same target groups.

use serde::{Deserialize, Serialize};
use valuelab_common::stats::paired_t_test;

/// A two-sided paired t-test of `a` against `b` over the groups where both have an NMSE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    pub a: String,
    pub b: String,
    /// Groups paired.
    pub n: usize,
    /// Mean over groups of NMSE(a) − NMSE(b): negative when `a` is closer to the targets.
    pub mean_difference: f64,
    pub t: f64,
    pub df: f64,
    pub p_value: f64,
}

/// Pairs per-group NMSE by position (the same canonical group order) and tests; `None` when the
/// test is undefined (fewer than two paired groups, or identical differences everywhere).
pub fn paired_comparison(
    a: &str,
    b: &str,
    nmse_a: &[Option<f64>],
    nmse_b: &[Option<f64>],
) -> Option<PairedComparison> {
    let (xa, xb): (Vec<f64>, Vec<f64>) = nmse_a
        .iter()
        .zip(nmse_b)
        .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
        .unzip();
    let test = paired_t_test(&xa, &xb)?;
    Some(PairedComparison {
        a: a.to_string(),
        b: b.to_string(),
        n: xa.len(),
        mean_difference: test.mean_difference,
        t: test.t,
        df: test.df,
        p_value: test.p_two_sided,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_missing_on_either_side_are_dropped_before_the_test() {
        // Paired groups 1, 3, 4: differences 0.1, 0.2, 0.3 → mean 0.2, sd 0.1, t = 0.2/(0.1/√3)
        // = 2√3, df 2, two-sided p = 1 − t/√(2 + t²) = 1 − √(12/14) (Student's t, 2 df).
        let a = [Some(0.3), Some(9.0), Some(0.5), Some(0.7)];
        let b = [Some(0.2), None, Some(0.3), Some(0.4)];
        let c = paired_comparison("prompt-long", "vim", &a, &b).unwrap();
        assert_eq!((c.a.as_str(), c.b.as_str(), c.n), ("prompt-long", "vim", 3));
        assert!((c.mean_difference - 0.2).abs() < 1e-12);
        assert!((c.t - 2.0 * 3f64.sqrt()).abs() < 1e-9);
        assert_eq!(c.df, 2.0);
        assert!((c.p_value - (1.0 - (12.0f64 / 14.0).sqrt())).abs() < 1e-9);
    }

    #[test]
    fn a_single_paired_group_gives_no_test() {
        assert_eq!(
            paired_comparison("a", "b", &[Some(0.1), None], &[Some(0.2), Some(0.3)]),
            None
        );
    }
}
