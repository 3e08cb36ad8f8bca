//! The report's arithmetic on a grid of (group × key) numbers: NMSE per group and per category,
//! the value-blind baseline, between-group and profile correlations. Every function skips the
//! cells where the target or the prediction is missing, and returns `None` (never NaN) where a
//! quantity is undefined, so the report can say "n/a" and count what it skipped.

use valuelab_common::metrics::{mean, pearson};

/// Pearson r, `None` when a side is constant. Checked here by exact equality because
/// `metrics::pearson` tests its sums of squares against 0, and the mean of equal floats such as
/// 0.2, 0.2, 0.2 is not exactly 0.2: a constant prediction would get r ≈ ±1e-16 instead of
/// "undefined".
pub fn correlation(x: &[f64], y: &[f64]) -> Option<f64> {
    let constant = |v: &[f64]| v.iter().all(|a| Some(a) == v.first());
    if constant(x) || constant(y) {
        return None;
    }
    pearson(x, y)
}

/// Numbers per group (outer) and key (inner); `None` where missing.
pub type Grid = Vec<Vec<Option<f64>>>;

/// Mean of the defined entries; `None` when there are none.
pub fn mean_defined(xs: &[Option<f64>]) -> Option<f64> {
    let defined: Vec<f64> = xs.iter().flatten().copied().collect();
    mean(&defined)
}

/// The (target, prediction) pairs of one group on the keys selected by `keep`.
fn pairs(
    target: &[Option<f64>],
    predicted: &[Option<f64>],
    keep: impl Fn(usize) -> bool,
) -> Vec<(f64, f64)> {
    target
        .iter()
        .zip(predicted)
        .enumerate()
        .filter(|(k, _)| keep(*k))
        .filter_map(|(_, (t, p))| Some(((*t)?, (*p)?)))
        .collect()
}

fn mean_squared_error(pairs: &[(f64, f64)]) -> Option<f64> {
    let squared: Vec<f64> = pairs.iter().map(|(t, p)| (p - t) * (p - t)).collect();
    mean(&squared)
}

/// Each group's NMSE: the mean squared error over the keys with both target and prediction.
pub fn nmse_per_group(targets: &Grid, predicted: &Grid) -> Vec<Option<f64>> {
    targets
        .iter()
        .zip(predicted)
        .map(|(t, p)| mean_squared_error(&pairs(t, p, |_| true)))
        .collect()
}

/// NMSE per category, in the order of `categories`: each group's mean squared error over the
/// category's keys, averaged over the groups that have any pair there (the paper's per-value
/// and per-chapter columns).
pub fn nmse_per_category(
    targets: &Grid,
    predicted: &Grid,
    key_categories: &[String],
    categories: &[String],
) -> Vec<Option<f64>> {
    categories
        .iter()
        .map(|category| {
            let per_group: Vec<Option<f64>> = targets
                .iter()
                .zip(predicted)
                .map(|(t, p)| {
                    mean_squared_error(&pairs(t, p, |k| key_categories.get(k) == Some(category)))
                })
                .collect();
            mean_defined(&per_group)
        })
        .collect()
}

/// The value-blind baseline: one prediction per key, the same for every group — the mean of
/// the key's targets over the groups, weighted by group size when every such group's size is
/// known (the population mean of the respondents), unweighted otherwise. It includes the
/// group being predicted (in-sample), which can only make this baseline harder to beat.
pub fn value_blind(targets: &Grid, sizes: &[Option<usize>]) -> Grid {
    let keys = targets.first().map_or(0, Vec::len);
    let per_key: Vec<Option<f64>> = (0..keys)
        .map(|k| {
            let cells: Vec<(f64, Option<usize>)> = targets
                .iter()
                .zip(sizes)
                .filter_map(|(row, size)| Some((row.get(k).copied().flatten()?, *size)))
                .collect();
            let weights: Option<Vec<f64>> = cells
                .iter()
                .map(|(_, s)| s.filter(|&s| s > 0).map(|s| s as f64))
                .collect();
            match weights {
                Some(w) if !w.is_empty() => {
                    let total: f64 = w.iter().sum();
                    Some(cells.iter().zip(&w).map(|((t, _), w)| t * w).sum::<f64>() / total)
                }
                _ => mean(&cells.iter().map(|(t, _)| *t).collect::<Vec<_>>()),
            }
        })
        .collect();
    targets.iter().map(|_| per_key.clone()).collect()
}

/// `baseline` kept only where `run` has a prediction, so a method and its baseline are scored on
/// the same (group, key) cells (a method that fails to parse the hard items must not look better
/// than the baseline for it).
pub fn restrict_to(baseline: &Grid, run: &Grid) -> Grid {
    baseline
        .iter()
        .zip(run)
        .map(|(b, r)| b.iter().zip(r).map(|(b, r)| r.and(*b)).collect())
        .collect()
}

/// 1 − NMSE / NMSE(value-blind): 0 means no better than ignoring the values, 1 perfect,
/// negative worse than the baseline. `None` when either is undefined or the baseline is exact.
pub fn skill(nmse: Option<f64>, value_blind_nmse: Option<f64>) -> Option<f64> {
    match (nmse, value_blind_nmse) {
        (Some(n), Some(b)) if b > 0.0 => Some(1.0 - n / b),
        _ => None,
    }
}

/// Pearson r across groups for each key, between targets and predictions (groups with both).
/// `None` where undefined (fewer than two groups, or a constant side such as the value-blind
/// baseline).
pub fn between_group_r(targets: &Grid, predicted: &Grid) -> Vec<Option<f64>> {
    let keys = targets.first().map_or(0, Vec::len);
    (0..keys)
        .map(|k| {
            let (t, p): (Vec<f64>, Vec<f64>) = targets
                .iter()
                .zip(predicted)
                .filter_map(|(t, p)| {
                    Some((t.get(k).copied().flatten()?, p.get(k).copied().flatten()?))
                })
                .unzip();
            correlation(&t, &p)
        })
        .collect()
}

/// Each group's profile correlation: Pearson r over its keys between target and prediction.
/// Insensitive to a level shift, so it shows whether the pattern of values got through.
pub fn profile_r_per_group(targets: &Grid, predicted: &Grid) -> Vec<Option<f64>> {
    targets
        .iter()
        .zip(predicted)
        .map(|(t, p)| {
            let (t, p): (Vec<f64>, Vec<f64>) = pairs(t, p, |_| true).into_iter().unzip();
            correlation(&t, &p)
        })
        .collect()
}

/// Contrast between groups `a` and `b`: Pearson r over keys between the target difference
/// (a − b) and the predicted difference (a − b), on keys where all four numbers exist. A model
/// that answers the same for both groups has a constant difference and gets `None`.
pub fn contrast_r(targets: &Grid, predicted: &Grid, a: usize, b: usize) -> Option<f64> {
    let (ta, tb, pa, pb) = (
        targets.get(a)?,
        targets.get(b)?,
        predicted.get(a)?,
        predicted.get(b)?,
    );
    let (dt, dp): (Vec<f64>, Vec<f64>) = (0..ta.len())
        .filter_map(|k| {
            let t = ta.get(k).copied().flatten()? - tb.get(k).copied().flatten()?;
            let p = pa.get(k).copied().flatten()? - pb.get(k).copied().flatten()?;
            Some((t, p))
        })
        .unzip();
    correlation(&dt, &dp)
}

/// The two groups whose targets are farthest apart (Euclidean distance over the keys both have,
/// divided by the number of such keys so groups with missing gold are not favoured), with that
/// root-mean-square distance. `None` with fewer than two comparable groups.
pub fn farthest_pair(targets: &Grid) -> Option<(usize, usize, f64)> {
    let mut best: Option<(usize, usize, f64)> = None;
    for a in 0..targets.len() {
        for b in a + 1..targets.len() {
            let squared: Vec<f64> = targets[a]
                .iter()
                .zip(&targets[b])
                .filter_map(|(x, y)| Some(((*x)? - (*y)?).powi(2)))
                .collect();
            if let Some(ms) = mean(&squared) {
                let d = ms.sqrt();
                if best.is_none_or(|(_, _, bd)| d > bd) {
                    best = Some((a, b, d));
                }
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    fn grid(rows: &[&[Option<f64>]]) -> Grid {
        rows.iter().map(|r| r.to_vec()).collect()
    }

    /// Three groups, two keys (categories X and Y); group 3 has no gold for key 2 and the model
    /// failed to answer key 1 for group 2.
    fn fixture() -> (Grid, Grid) {
        let targets = grid(&[
            &[Some(0.2), Some(0.4)],
            &[Some(0.6), Some(0.8)],
            &[Some(1.0), None],
        ]);
        let predicted = grid(&[
            &[Some(0.3), Some(0.4)],
            &[None, Some(0.5)],
            &[Some(0.8), Some(0.9)],
        ]);
        (targets, predicted)
    }

    #[test]
    fn nmse_per_group_uses_only_keys_with_target_and_prediction() {
        let (t, p) = fixture();
        let got = nmse_per_group(&t, &p);
        // group 1: (0.1² + 0²) / 2 = 0.005; group 2: key 2 only, 0.3² = 0.09;
        // group 3: key 1 only, 0.2² = 0.04.
        assert!(close(got[0], 0.005));
        assert!(close(got[1], 0.09));
        assert!(close(got[2], 0.04));
    }

    #[test]
    fn nmse_per_category_averages_groups_that_have_the_category() {
        let (t, p) = fixture();
        let cats = vec!["X".to_string(), "Y".to_string()];
        let got = nmse_per_category(&t, &p, &cats, &cats);
        // X: groups 1 and 3: (0.01 + 0.04) / 2 = 0.025; Y: groups 1 and 2: (0 + 0.09) / 2 = 0.045.
        assert!(close(got[0], 0.025));
        assert!(close(got[1], 0.045));
    }

    #[test]
    fn value_blind_is_the_size_weighted_mean_target_when_sizes_are_known() {
        let (t, _) = fixture();
        let sized = value_blind(&t, &[Some(1), Some(1), Some(2)]);
        // key 1: (0.2·1 + 0.6·1 + 1.0·2) / 4 = 0.7; key 2: (0.4 + 0.8) / 2 = 0.6 (group 3 has no gold).
        assert!(close(sized[0][0], 0.7) && close(sized[2][0], 0.7));
        assert!(close(sized[1][1], 0.6));
        let unsized_ = value_blind(&t, &[Some(1), None, Some(2)]);
        // one size unknown: plain mean, key 1: (0.2 + 0.6 + 1.0) / 3 = 0.6.
        assert!(close(unsized_[0][0], 0.6));
    }

    #[test]
    fn skill_compares_with_the_value_blind_baseline_on_the_same_cells() {
        let (t, p) = fixture();
        let blind = restrict_to(&value_blind(&t, &[Some(1), Some(1), Some(2)]), &p);
        // blind predicts 0.7 / 0.6; restricted to p's cells: group 2 loses key 1.
        // group 1: ((0.7-0.2)² + (0.6-0.4)²)/2 = (0.25 + 0.04)/2 = 0.145
        // group 2: (0.6-0.8)² = 0.04; group 3: (0.7-1.0)² = 0.09 → mean 0.275/3.
        let blind_nmse = mean_defined(&nmse_per_group(&t, &blind)).unwrap();
        assert!((blind_nmse - 0.275 / 3.0).abs() < 1e-12);
        // the run: (0.005 + 0.09 + 0.04) / 3 = 0.045 → skill = 1 − 0.045 / (0.275/3).
        let run_nmse = mean_defined(&nmse_per_group(&t, &p));
        assert!(close(run_nmse, 0.045));
        assert!(close(
            skill(run_nmse, Some(blind_nmse)),
            1.0 - 0.045 * 3.0 / 0.275
        ));
        assert_eq!(skill(Some(0.1), Some(0.0)), None);
    }

    #[test]
    fn between_group_r_is_per_key_and_undefined_for_constant_predictions() {
        let t = grid(&[
            &[Some(0.1), Some(0.5)],
            &[Some(0.2), Some(0.5)],
            &[Some(0.3), Some(0.9)],
        ]);
        let p = grid(&[
            &[Some(0.1), Some(0.2)],
            &[Some(0.3), Some(0.2)],
            &[Some(0.2), Some(0.2)],
        ]);
        let r = between_group_r(&t, &p);
        // key 1: x = 0.1,0.2,0.3 (dev −.1,0,.1), y = 0.1,0.3,0.2 (dev −.1,.1,0): sxy = .01,
        // sxx = syy = .02 → r = 0.5. key 2: prediction constant → undefined.
        assert!(close(r[0], 0.5));
        assert_eq!(r[1], None);
        assert_eq!(
            between_group_r(&t, &value_blind(&t, &[None, None, None])),
            vec![None, None]
        );
    }

    #[test]
    fn a_pure_level_shift_has_profile_r_one_and_nmse_the_squared_shift() {
        let target = vec![Some(0.1), Some(0.5), Some(0.3), Some(0.6)];
        let shifted: Vec<Option<f64>> = target.iter().map(|t| t.map(|t| t + 0.2)).collect();
        let (t, p) = (vec![target], vec![shifted]);
        assert!(close(nmse_per_group(&t, &p)[0], 0.04));
        assert!(close(profile_r_per_group(&t, &p)[0], 1.0));
    }

    #[test]
    fn a_reversed_profile_has_profile_r_minus_one() {
        let t = grid(&[&[Some(0.1), Some(0.5), Some(0.9)]]);
        let p = grid(&[&[Some(0.9), Some(0.5), Some(0.1)]]);
        assert!(close(profile_r_per_group(&t, &p)[0], -1.0));
    }

    #[test]
    fn contrast_r_compares_target_and_model_differences() {
        let t = grid(&[
            &[Some(0.9), Some(0.1), Some(0.5)],
            &[Some(0.1), Some(0.9), Some(0.5)],
        ]);
        // the model reproduces the contrast at half strength and shifted up: r = 1.
        let p = grid(&[
            &[Some(0.9), Some(0.5), Some(0.7)],
            &[Some(0.5), Some(0.9), Some(0.7)],
        ]);
        assert!(close(contrast_r(&t, &p, 0, 1), 1.0));
        // the same answers for both groups: difference constant (0) → undefined.
        let same = grid(&[
            &[Some(0.4), Some(0.6), Some(0.5)],
            &[Some(0.4), Some(0.6), Some(0.5)],
        ]);
        assert_eq!(contrast_r(&t, &same, 0, 1), None);
    }

    #[test]
    fn farthest_pair_picks_the_groups_with_the_most_different_targets() {
        let t = grid(&[
            &[Some(0.5), Some(0.5)],
            &[Some(0.0), Some(1.0)],
            &[Some(1.0), Some(0.0)],
        ]);
        let (a, b, d) = farthest_pair(&t).unwrap();
        // groups 2 and 3 differ by 1 on both keys: rms distance 1.
        assert_eq!((a, b), (1, 2));
        assert!((d - 1.0).abs() < 1e-12);
    }
}
