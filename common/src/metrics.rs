//! Error metrics of the paper's evaluations. NMSE (§5.1) is the mean squared error between
//! predicted and target scores after both are rescaled to 0..1, so tasks with different answer
//! scales (PVQ 1..6, ESS 0..10) are comparable. Undefined results are `None`, never NaN, so a
//! report can print "n/a" instead of propagating NaN through averages.

use crate::distribution::{MAX_SCORE, MIN_SCORE};

/// Linear map of `x` from `low..=high` onto 0..1 (values outside the range map outside 0..1).
pub fn rescale(x: f64, low: f64, high: f64) -> f64 {
    (x - low) / (high - low)
}

/// Arithmetic mean; `None` for an empty slice.
pub fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    Some(xs.iter().sum::<f64>() / xs.len() as f64)
}

/// The paper's NMSE on scores already rescaled to 0..1: mean of squared differences.
/// `None` when the slices are empty or of different lengths (a caller bug to report, not a 0).
pub fn nmse(predicted: &[f64], target: &[f64]) -> Option<f64> {
    if predicted.len() != target.len() {
        return None;
    }
    let squared: Vec<f64> = predicted
        .iter()
        .zip(target)
        .map(|(p, t)| (p - t) * (p - t))
        .collect();
    mean(&squared)
}

/// NMSE of PVQ value scores given on 1..6: rescales both sides to 0..1 first.
pub fn nmse_scores(predicted_1_6: &[f64], target_1_6: &[f64]) -> Option<f64> {
    let to_unit = |xs: &[f64]| -> Vec<f64> {
        xs.iter()
            .map(|&x| rescale(x, MIN_SCORE, MAX_SCORE))
            .collect()
    };
    nmse(&to_unit(predicted_1_6), &to_unit(target_1_6))
}

/// Pearson's correlation coefficient; `None` when undefined (fewer than 2 points, different
/// lengths, or a constant series).
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let mx = mean(x)?;
    let my = mean(y)?;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    Some(sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn rescale_maps_the_scale_ends_to_zero_and_one() {
        assert_eq!(rescale(1.0, 1.0, 6.0), 0.0);
        assert_eq!(rescale(6.0, 1.0, 6.0), 1.0);
        assert!(close(rescale(3.5, 1.0, 6.0), 0.5));
        assert!(close(rescale(7.0, 0.0, 10.0), 0.7));
    }

    #[test]
    fn mean_of_nothing_is_undefined() {
        assert_eq!(mean(&[]), None);
        assert!(close(mean(&[1.0, 2.0, 6.0]).unwrap(), 3.0));
    }

    #[test]
    fn nmse_is_the_mean_squared_difference() {
        // (0.1² + 0.2² + 0²) / 3 = 0.05 / 3
        let got = nmse(&[0.1, 0.5, 1.0], &[0.0, 0.7, 1.0]).unwrap();
        assert!(close(got, 0.05 / 3.0));
        assert_eq!(nmse(&[0.5], &[0.5]), Some(0.0));
    }

    #[test]
    fn nmse_refuses_empty_or_mismatched_input() {
        assert_eq!(nmse(&[], &[]), None);
        assert_eq!(nmse(&[0.1, 0.2], &[0.1]), None);
    }

    #[test]
    fn nmse_scores_rescales_one_to_six_first() {
        // 1 vs 6 is the largest possible error: (0 - 1)² = 1; 2 vs 3 is (0.2 - 0.4)² = 0.04.
        assert!(close(nmse_scores(&[1.0], &[6.0]).unwrap(), 1.0));
        assert!(close(
            nmse_scores(&[1.0, 2.0], &[6.0, 3.0]).unwrap(),
            (1.0 + 0.04) / 2.0
        ));
    }

    #[test]
    fn pearson_of_linear_series_is_plus_or_minus_one() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!(close(pearson(&x, &[3.0, 5.0, 7.0, 9.0]).unwrap(), 1.0));
        assert!(close(pearson(&x, &[4.0, 3.0, 2.0, 1.0]).unwrap(), -1.0));
    }

    #[test]
    fn pearson_matches_a_hand_computed_value() {
        // x = 1,2,3; y = 1,3,2: sxy = 1, sxx = 2, syy = 2 → r = 0.5
        assert!(close(
            pearson(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]).unwrap(),
            0.5
        ));
    }

    #[test]
    fn pearson_is_undefined_for_constant_or_short_series() {
        assert_eq!(pearson(&[1.0], &[2.0]), None);
        assert_eq!(pearson(&[1.0, 2.0], &[3.0, 3.0]), None);
        assert_eq!(pearson(&[1.0, 2.0], &[3.0]), None);
    }
}
