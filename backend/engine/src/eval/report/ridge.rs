//! The value-regression baseline: how well a group's answers follow from its ten value scores by
//! a linear rule alone, without any language model. For each key, a ridge regression from the
//! standardised value scores to the key's gold target is fit on all groups but one and predicts
//! the group left out (leave-one-group-out), so no group's gold is used to predict itself.
//!
//! Choice of λ: the objective is Σ (y − ŷ)² + λ‖β‖² on features standardised within each
//! training fold (mean 0, population standard deviation 1; a constant feature is dropped) with an
//! unpenalised intercept (the training mean of y). Then each diagonal entry of ZᵀZ equals the
//! number of training groups n, so λ = 1 shrinks an isolated coefficient by n / (n + 1):
//! negligible at the paper's 128 groups, yet enough to make the solve well posed when the ten
//! value scores are collinear (they are: Schwartz values trade off against each other) or when
//! there are fewer groups than features (the default 8-group study). λ is fixed rather than tuned
//! on the same leave-one-out errors, so the baseline's score is not optimistically selected.

use nalgebra::{DMatrix, DVector};

use super::scores::Grid;

/// Default ridge penalty on standardised features (see the module docs).
pub const DEFAULT_LAMBDA: f64 = 1.0;

/// Standard deviations below this count as a constant feature (scores are on 1..6).
const CONSTANT_FEATURE_SD: f64 = 1e-12;

/// Fits ridge on `(features, y)` and predicts at `at`. `None` without training data, or when the
/// normal equations are singular (only possible with λ = 0).
pub fn fit_predict(features: &[&[f64]], y: &[f64], at: &[f64], lambda: f64) -> Option<f64> {
    let n = features.len();
    if n == 0 || n != y.len() {
        return None;
    }
    let p = at.len();
    let y_mean = y.iter().sum::<f64>() / n as f64;
    // Per feature: training mean and sd; constant features get sd None and are left out.
    let scale: Vec<(f64, Option<f64>)> = (0..p)
        .map(|j| {
            let m = features.iter().map(|x| x[j]).sum::<f64>() / n as f64;
            let var = features.iter().map(|x| (x[j] - m).powi(2)).sum::<f64>() / n as f64;
            let sd = var.sqrt();
            (m, (sd > CONSTANT_FEATURE_SD).then_some(sd))
        })
        .collect();
    let used: Vec<usize> = (0..p).filter(|&j| scale[j].1.is_some()).collect();
    if used.is_empty() {
        return Some(y_mean);
    }
    let standardise = |x: &[f64], j: usize| {
        let (m, sd) = scale[j];
        (x[j] - m) / sd.unwrap_or(1.0)
    };
    let z = DMatrix::from_fn(n, used.len(), |i, c| standardise(features[i], used[c]));
    let yc = DVector::from_iterator(n, y.iter().map(|v| v - y_mean));
    // Normal equations (ZᵀZ + λI) β = Zᵀy: at most 10×10, symmetric positive definite for λ > 0,
    // so a Cholesky solve (pure Rust in nalgebra, no BLAS) is exact and cheap.
    let gram = z.transpose() * &z + DMatrix::identity(used.len(), used.len()) * lambda;
    let rhs = z.transpose() * yc;
    let beta = match gram.clone().cholesky() {
        Some(c) => c.solve(&rhs),
        None => gram.lu().solve(&rhs)?,
    };
    let z_at = DVector::from_iterator(used.len(), used.iter().map(|&j| standardise(at, j)));
    Some(y_mean + z_at.dot(&beta))
}

/// Leave-one-group-out predictions for every (group, key) with a target: the group's value
/// scores are the features, the other groups with gold for the key are the training set.
pub fn loo_predictions(
    values: &[[f64; valuelab_common::VALUE_COUNT]],
    targets: &Grid,
    lambda: f64,
) -> Grid {
    targets
        .iter()
        .enumerate()
        .map(|(g, row)| {
            row.iter()
                .enumerate()
                .map(|(k, target)| {
                    target.as_ref()?;
                    let (x, y): (Vec<&[f64]>, Vec<f64>) = targets
                        .iter()
                        .enumerate()
                        .filter(|(h, _)| *h != g)
                        .filter_map(|(h, r)| {
                            Some((values[h].as_slice(), r.get(k).copied().flatten()?))
                        })
                        .unzip();
                    fit_predict(&x, &y, &values[g], lambda)
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::report::scores::{mean_defined, nmse_per_group, value_blind};

    #[test]
    fn one_feature_ridge_matches_the_closed_form() {
        // x = 1, 3 → mean 2, sd 1, z = −1, 1; y = 0.2, 0.6 → ȳ 0.4, centred −0.2, 0.2.
        // β = Σzy / (Σz² + λ) = 0.4 / (2 + 2) = 0.1 with λ = 2; at x = 5, z = 3 → 0.4 + 0.3 = 0.7.
        let got = fit_predict(&[&[1.0], &[3.0]], &[0.2, 0.6], &[5.0], 2.0).unwrap();
        assert!((got - 0.7).abs() < 1e-12, "{got}");
    }

    #[test]
    fn targets_linear_in_one_value_are_predicted_almost_exactly_with_small_lambda() {
        // Six groups whose Achievement is 1..6, every other value 3.5 (constant, dropped);
        // target = 0.1 · Achievement − 0.05, so every left-out group lies on the line.
        let values: Vec<[f64; 10]> = (1..=6)
            .map(|a| {
                let mut v = [3.5; 10];
                v[0] = a as f64;
                v
            })
            .collect();
        let targets: Grid = values
            .iter()
            .map(|v| vec![Some(0.1 * v[0] - 0.05)])
            .collect();
        let loo = loo_predictions(&values, &targets, 1e-9);
        for (p, t) in loo.iter().zip(&targets) {
            assert!((p[0].unwrap() - t[0].unwrap()).abs() < 1e-6);
        }
        // λ = 1 on 5 training groups shrinks the slope by 5·σ² / (5·σ² + 1): visibly off.
        let shrunk = loo_predictions(&values, &targets, 1.0);
        assert!((shrunk[0][0].unwrap() - targets[0][0].unwrap()).abs() > 1e-3);
    }

    #[test]
    fn constant_targets_make_the_regression_equal_the_value_blind_baseline() {
        let values: Vec<[f64; 10]> = (0..4)
            .map(|g| {
                [
                    1.0 + g as f64,
                    6.0 - g as f64,
                    2.0,
                    3.0,
                    4.0,
                    5.0,
                    1.5,
                    2.5,
                    3.5,
                    4.5,
                ]
            })
            .collect();
        let targets: Grid = (0..4).map(|_| vec![Some(0.3), Some(0.7)]).collect();
        let ridge = loo_predictions(&values, &targets, DEFAULT_LAMBDA);
        let blind = value_blind(&targets, &[None; 4]);
        for row in &ridge {
            assert!((row[0].unwrap() - 0.3).abs() < 1e-12 && (row[1].unwrap() - 0.7).abs() < 1e-12);
        }
        let (r, b) = (
            mean_defined(&nmse_per_group(&targets, &ridge)).unwrap(),
            mean_defined(&nmse_per_group(&targets, &blind)).unwrap(),
        );
        assert!((r - b).abs() < 1e-20, "ridge {r} vs blind {b}");
    }

    #[test]
    fn keys_without_gold_get_no_regression_prediction() {
        let values = vec![[1.0; 10], [2.0; 10], [3.0; 10]];
        let targets: Grid = vec![
            vec![Some(0.1), None],
            vec![Some(0.2), Some(0.5)],
            vec![Some(0.3), Some(0.6)],
        ];
        let loo = loo_predictions(&values, &targets, DEFAULT_LAMBDA);
        assert_eq!(loo[0][1], None);
        assert!(loo[1][1].is_some());
    }
}
