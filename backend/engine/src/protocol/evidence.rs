//! The protocol's numbers for one method on one task, from its run on the held-out profiles:
//! across-profile Pearson r per key (a PVQ value, a ValueNet scenario value), their mean with a
//! bootstrap 95 % interval over profiles, NMSE and skill against the value-blind baseline; the
//! same method's r when each held-out group got another group's profile (the shuffled control);
//! and the sign check (raising one value by one point moves that value's score up).
//!
//! A profile's overall level (its mean score) moves every answer together, and a method that
//! only follows the level gets a positive r for every value and passes the plain sign check.
//! So the evidence also splits r into the level (r of each profile's mean target against its
//! mean prediction) and the priorities (r per key after removing each profile's own mean, the
//! PVQ's "centred" scores), and the sign check counts where the raised value moved more than
//! the other values did.
//!
//! The bootstrap is written here: resampling profiles and taking two percentiles of the mean r
//! is a dozen lines, and no statistics crate does it over our grids of optional cells.

use crate::eval::report::scores::{
    between_group_r, mean_defined, nmse_per_group, restrict_to, skill, value_blind, Grid,
};
use crate::eval::{GroupResult, RunResult};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEvidence {
    pub keys: Vec<String>,
    pub profiles: usize,
    /// Across-profile r per key (None: undefined, e.g. a constant prediction).
    pub r_per_key: Vec<Option<f64>>,
    pub mean_r: Option<f64>,
    /// Bootstrap 95 % interval of `mean_r` over profiles.
    pub mean_r_ci: Option<(f64, f64)>,
    pub nmse: Option<f64>,
    pub value_blind_nmse: Option<f64>,
    pub skill: Option<f64>,
    /// Mean across-profile r per key of the centred scores (each profile's mean removed).
    #[serde(default)]
    pub centred_mean_r: Option<f64>,
    /// r across profiles of the mean target against the mean prediction.
    #[serde(default)]
    pub level_r: Option<f64>,
}

fn grids(result: &RunResult) -> (Grid, Grid, Vec<Option<usize>>) {
    let targets = result.groups.iter().map(|g| g.target.clone()).collect();
    let predicted = result.groups.iter().map(|g| g.predicted.clone()).collect();
    let sizes = result.groups.iter().map(|g| g.size).collect();
    (targets, predicted, sizes)
}

/// The evidence of a run on held-out profiles; `resamples` bootstrap draws seeded by `seed`.
pub fn task_evidence(result: &RunResult, resamples: usize, seed: u64) -> TaskEvidence {
    let (targets, predicted, sizes) = grids(result);
    let r_per_key = between_group_r(&targets, &predicted);
    let nmse = mean_defined(&nmse_per_group(&targets, &predicted));
    let blind = restrict_to(&value_blind(&targets, &sizes), &predicted);
    let value_blind_nmse = mean_defined(&nmse_per_group(&targets, &blind));
    TaskEvidence {
        keys: result.keys.clone(),
        profiles: result.groups.len(),
        mean_r: mean_defined(&r_per_key),
        mean_r_ci: bootstrap_mean_r(&targets, &predicted, resamples, seed),
        r_per_key,
        nmse,
        value_blind_nmse,
        skill: skill(nmse, value_blind_nmse),
        centred_mean_r: mean_defined(&between_group_r(&centred(&targets), &centred(&predicted))),
        level_r: between_group_r(&levels(&targets), &levels(&predicted))
            .first()
            .copied()
            .flatten(),
    }
}

/// Each row minus the mean of its defined cells.
fn centred(grid: &Grid) -> Grid {
    grid.iter()
        .map(|row| {
            let mean = mean_defined(row);
            row.iter()
                .map(|cell| Some(cell.as_ref()? - mean?))
                .collect()
        })
        .collect()
}

/// Each row's mean as a one-key grid.
fn levels(grid: &Grid) -> Grid {
    grid.iter().map(|row| vec![mean_defined(row)]).collect()
}

/// The 2.5th and 97.5th percentiles of the mean across-profile r over profiles drawn with
/// replacement; None when fewer than two resamples give a defined r.
pub fn bootstrap_mean_r(
    targets: &Grid,
    predicted: &Grid,
    resamples: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    let n = targets.len();
    if n < 2 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..resamples)
        .filter_map(|_| {
            let pick: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
            let t: Grid = pick.iter().map(|&i| targets[i].clone()).collect();
            let p: Grid = pick.iter().map(|&i| predicted[i].clone()).collect();
            mean_defined(&between_group_r(&t, &p))
        })
        .collect();
    if means.len() < 2 {
        return None;
    }
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((means.len() - 1) as f64 * q).round() as usize];
    Some((at(0.025), at(0.975)))
}

/// The mean across-profile r of a run whose groups were given shuffled profiles, scored against
/// each group's true targets (`truth`, matched by group name).
pub fn shuffled_mean_r(shuffled: &RunResult, truth: &RunResult) -> Option<f64> {
    let by_name: HashMap<&str, &Vec<Option<f64>>> = truth
        .groups
        .iter()
        .map(|g| (g.group.as_str(), &g.target))
        .collect();
    let (targets, predicted): (Grid, Grid) = shuffled
        .groups
        .iter()
        .filter_map(|g| {
            Some((
                (*by_name.get(g.group.as_str())?).clone(),
                g.predicted.clone(),
            ))
        })
        .unzip();
    mean_defined(&between_group_r(&targets, &predicted))
}

/// The shuffled run of a method whose profile lives in a per-group adapter (VIM): a group given
/// another's profile is answered by that group's adapter, so it answers as the donor did in the
/// held-out run (`truth`). `names[i]` gets the profile of `names[donors[i]]`; groups missing
/// from `truth` are left out.
pub fn donated_answers(truth: &RunResult, names: &[String], donors: &[usize]) -> RunResult {
    let by_name: HashMap<&str, &GroupResult> =
        truth.groups.iter().map(|g| (g.group.as_str(), g)).collect();
    let groups = names
        .iter()
        .zip(donors)
        .filter_map(|(name, &donor)| {
            let (own, given) = (
                by_name.get(name.as_str())?,
                by_name.get(names[donor].as_str())?,
            );
            Some(GroupResult {
                values: given.values,
                predicted: given.predicted.clone(),
                ..(*own).clone()
            })
        })
        .collect();
    RunResult {
        groups,
        ..truth.clone()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignCheck {
    /// Per key: whether raising that value moved its score up (None: no prediction).
    pub moved_up: Vec<Option<bool>>,
    pub up: usize,
    pub of: usize,
    /// Keys whose score moved more than the mean move of the other keys: a rise that a level
    /// shift alone does not give.
    #[serde(default)]
    pub beyond_the_rest: usize,
}

/// Compares each `bumped` group (the base profile with one value raised, named in `bumped`
/// in key order) with the `base` group on that value's key.
pub fn sign_check(result: &RunResult, base: &str, bumped: &[String]) -> Option<SignCheck> {
    let find = |name: &str| result.groups.iter().find(|g| g.group == name);
    let base = find(base)?;
    // Per bumped key: how much each key's score moved.
    let moves: Vec<Option<Vec<Option<f64>>>> = bumped
        .iter()
        .map(|name| {
            let raised = find(name)?;
            Some(
                raised
                    .predicted
                    .iter()
                    .zip(&base.predicted)
                    .map(|(after, before)| Some(after.as_ref()? - before.as_ref()?))
                    .collect(),
            )
        })
        .collect();
    let own = |key: usize| moves[key].as_ref()?.get(key).copied().flatten();
    let moved_up: Vec<Option<bool>> = (0..bumped.len()).map(|k| Some(own(k)? > 0.0)).collect();
    let beyond_the_rest = (0..bumped.len())
        .filter(|&k| {
            let rest: Vec<Option<f64>> = moves[k]
                .iter()
                .flatten()
                .enumerate()
                .filter(|&(j, _)| j != k)
                .map(|(_, m)| *m)
                .collect();
            matches!((own(k), mean_defined(&rest)), (Some(o), Some(r)) if o > r)
        })
        .count();
    let of = moved_up.iter().flatten().count();
    let up = moved_up.iter().flatten().filter(|&&u| u).count();
    Some(SignCheck {
        moved_up,
        up,
        of,
        beyond_the_rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::run_result::GroupResult;

    fn group(name: &str, target: Vec<f64>, predicted: Vec<f64>) -> GroupResult {
        GroupResult {
            group: name.into(),
            size: None,
            values: [3.0; 10],
            target: target.into_iter().map(Some).collect(),
            predicted: predicted.into_iter().map(Some).collect(),
            answered: 1,
            parse_failures: 0,
            refusals: 0,
        }
    }

    fn result(groups: Vec<GroupResult>) -> RunResult {
        RunResult {
            task: crate::eval::TaskKind::Pvq,
            method: "steer".parse().unwrap(),
            model: "tiny".into(),
            answer_mode: crate::eval::AnswerMode::Expect,
            keys: vec!["a".into(), "b".into()],
            categories: vec!["a".into(), "b".into()],
            groups,
        }
    }

    #[test]
    fn a_method_that_follows_the_profiles_has_r_one_and_beats_the_value_blind_guess() {
        let groups: Vec<GroupResult> = (0..6)
            .map(|i| {
                let t = vec![0.1 * i as f64, 0.5 - 0.05 * i as f64];
                // Half-way between the target and the middle: r = 1, NMSE a quarter of blind's.
                let p = t.iter().map(|x| (x + 0.25) / 2.0).collect();
                group(&format!("g{i}"), t, p)
            })
            .collect();
        let e = task_evidence(&result(groups), 200, 1);
        assert_eq!(e.profiles, 6);
        for r in e.r_per_key.iter().flatten() {
            assert!((r - 1.0).abs() < 1e-12, "{r}");
        }
        assert!(e.nmse.unwrap() < e.value_blind_nmse.unwrap());
        assert!(e.skill.unwrap() > 0.0);
        let (lo, hi) = e.mean_r_ci.unwrap();
        assert!((lo - 1.0).abs() < 1e-9 && (hi - 1.0).abs() < 1e-9);
    }

    /// Predictions that follow only each profile's mean: r is high for every key, the centred r
    /// is not, and the level r is 1.
    #[test]
    fn a_method_that_follows_only_the_level_is_told_apart_from_one_that_follows_the_profile() {
        let groups: Vec<GroupResult> = (0..6)
            .map(|i| {
                let level = 0.1 * i as f64;
                // The second key rises with the level, but differently per profile.
                let t = vec![level, level + if i % 2 == 0 { 0.3 } else { 0.0 }];
                let mean = (t[0] + t[1]) / 2.0;
                group(&format!("g{i}"), t, vec![mean, mean])
            })
            .collect();
        let e = task_evidence(&result(groups), 50, 1);
        assert!(e.mean_r.unwrap() > 0.8, "{:?}", e.mean_r);
        assert!((e.level_r.unwrap() - 1.0).abs() < 1e-12);
        assert!(
            e.centred_mean_r.is_none(),
            "no priorities in the predictions at all"
        );
    }

    #[test]
    fn shuffled_profiles_are_scored_against_the_true_targets() {
        let truth = result(
            (0..4)
                .map(|i| {
                    group(
                        &format!("g{i}"),
                        vec![0.2 * i as f64, 0.1 * i as f64],
                        vec![0.0, 0.0],
                    )
                })
                .collect(),
        );
        // Each group answered as the next one's profile would: predictions follow the wrong targets.
        let shuffled = result(
            (0..4)
                .map(|i| {
                    let j = (i + 1) % 4;
                    group(
                        &format!("g{i}"),
                        vec![0.0, 0.0],
                        vec![0.2 * j as f64, 0.1 * j as f64],
                    )
                })
                .collect(),
        );
        let r = shuffled_mean_r(&shuffled, &truth).unwrap();
        // Targets 0, .2, .4, .6 against the next group's: .2, .4, .6, 0.
        let expected =
            crate::eval::report::scores::correlation(&[0.0, 0.2, 0.4, 0.6], &[0.2, 0.4, 0.6, 0.0])
                .unwrap();
        assert!((r - expected).abs() < 1e-12, "{r} vs {expected}");
        assert!(r < 0.5);
    }

    /// A per-group adapter's shuffled control: each group answered by its donor's adapter.
    #[test]
    fn donated_answers_are_the_donors_answers_scored_against_ones_own_targets() {
        let truth = result(
            (0..4)
                .map(|i| {
                    let t = vec![0.2 * i as f64, 0.1 * i as f64];
                    group(&format!("g{i}"), t.clone(), t)
                })
                .collect(),
        );
        let names: Vec<String> = (0..4).map(|i| format!("g{i}")).collect();
        let donors = [1, 2, 3, 0];
        let donated = donated_answers(&truth, &names, &donors);
        assert_eq!(donated.groups.len(), 4);
        for (i, g) in donated.groups.iter().enumerate() {
            assert_eq!(g.group, names[i]);
            assert_eq!(g.target, truth.groups[i].target, "own targets kept");
            assert_eq!(g.predicted, truth.groups[donors[i]].predicted);
        }
        // Perfect answers, given to the wrong groups, lose their r.
        assert!((shuffled_mean_r(&truth, &truth).unwrap() - 1.0).abs() < 1e-12);
        assert!(shuffled_mean_r(&donated, &truth).unwrap() < 0.5);
    }

    #[test]
    fn the_sign_check_counts_values_whose_score_rose() {
        let r = result(vec![
            group("base", vec![0.0, 0.0], vec![0.5, 0.5]),
            group("up-a", vec![0.0, 0.0], vec![0.6, 0.1]),
            group("up-b", vec![0.0, 0.0], vec![0.9, 0.4]),
        ]);
        let check = sign_check(&r, "base", &["up-a".into(), "up-b".into()]).unwrap();
        assert_eq!(check.moved_up, vec![Some(true), Some(false)]);
        assert_eq!((check.up, check.of), (1, 2));
        // a: +0.1 against b's −0.4; b: −0.1 against a's +0.4.
        assert_eq!(check.beyond_the_rest, 1);
        // A level shift raises every score alike: up, but not beyond the rest.
        let level = result(vec![
            group("base", vec![0.0, 0.0], vec![0.5, 0.5]),
            group("up-a", vec![0.0, 0.0], vec![0.6, 0.6]),
            group("up-b", vec![0.0, 0.0], vec![0.6, 0.6]),
        ]);
        let check = sign_check(&level, "base", &["up-a".into(), "up-b".into()]).unwrap();
        assert_eq!((check.up, check.beyond_the_rest), (2, 0));
        assert!(sign_check(&r, "missing", &[]).is_none());
    }
}
