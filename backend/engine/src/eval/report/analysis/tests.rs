//! Tests of `analysis`.

use super::*;
use crate::eval::report::fixtures::{ess_run, pvq_run, TARGETS_ESS};

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

fn shifted(shift: f64) -> [[f64; 4]; 3] {
    TARGETS_ESS.map(|row| row.map(|t| t + shift))
}

fn ess_report() -> TaskReport {
    let mut exact = shifted(0.0);
    exact[0][0] += 0.2; // vim misses Group_1's first question by 0.2
    let runs = [ess_run("prompt-long", shifted(0.1)), ess_run("vim", exact)];
    build_report(&runs, &ReportOptions::default())
        .unwrap()
        .tasks
        .remove(0)
}

#[test]
fn ess_rows_have_nmse_value_blind_nmse_and_skill_computed_by_hand() {
    let task = ess_report();
    let labels: Vec<&str> = task.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "prompt-long",
            "vim",
            "value-blind baseline",
            "value-regression baseline"
        ]
    );
    let long = &task.rows[0];
    // every cell off by 0.1 → NMSE 0.01 overall and per chapter
    assert!(close(long.nmse, 0.01));
    assert!(long.nmse_by_category.iter().all(|x| close(*x, 0.01)));
    // value-blind (weights 1,1,2): 0.4, 0.55, 0.45, 0.6. Squared errors per group:
    // G1 .04 .0225 .0225 .04 → .03125; G2 .04 .0625 .0625 .04 → .05125; G3 0 .0025 .0025 0 → .00125;
    // mean .08375 / 3.
    assert!(close(long.value_blind_nmse, 0.08375 / 3.0));
    assert!(close(long.skill, 1.0 - 0.03 / 0.08375));
    let blind = &task.rows[2];
    assert!(close(blind.nmse, 0.08375 / 3.0) && close(blind.skill, 0.0));
    assert_eq!(
        blind.r_undefined_keys, 4,
        "a constant prediction has no between-group r"
    );
    // 1 refusal per 4 answers in each group
    assert!(close(long.refusal_rate, 0.25) && close(long.parse_failure_rate, 0.0));
    assert_eq!(task.ridge_lambda, Some(ridge::DEFAULT_LAMBDA));
    assert_eq!(
        task.categories,
        ["media_and_social_trust", "personal_and_social_well-being"]
    );
}

#[test]
fn methods_are_compared_with_each_other_and_with_both_baselines() {
    let task = ess_report();
    let pairs: Vec<(&str, &str)> = task
        .comparisons
        .iter()
        .map(|c| (c.a.as_str(), c.b.as_str()))
        .collect();
    assert_eq!(pairs[0], ("prompt-long", "vim"));
    assert!(pairs.contains(&("vim", "value-blind baseline")));
    assert!(pairs.contains(&("prompt-long", "value-regression baseline")));
    // prompt-long 0.01 each; vim: G1 0.2²/4 = 0.01, G2 0, G3 0 → differences 0, .01, .01.
    let c = &task.comparisons[0];
    assert_eq!(c.n, 3);
    assert!((c.mean_difference - 0.02 / 3.0).abs() < 1e-12);
}

#[test]
fn a_pure_level_shift_shows_as_profile_r_one_with_nmse_the_squared_shift() {
    let runs = [pvq_run("vim", 0.1, [Some(1), Some(1), Some(2)])];
    let task = build_report(&runs, &ReportOptions::default())
        .unwrap()
        .tasks
        .remove(0);
    let row = &task.rows[0];
    assert!(close(row.nmse, 0.01));
    assert!(close(row.profile_r, 1.0));
    assert!(close(row.between_group_r, 1.0) && row.r_undefined_keys == 0);
    // parse failures 0 + 1 + 2 of 3 × 40 answers
    assert!(close(row.parse_failure_rate, 3.0 / 120.0));
    // PVQ targets are the values themselves: no regression baseline, and Table 2 is per value.
    assert_eq!(task.rows.len(), 2);
    assert_eq!(task.categories.len(), 10);
    let contrast = task.contrast.unwrap();
    assert_eq!(
        (contrast.group_a.as_str(), contrast.group_b.as_str()),
        ("Group_1", "Group_2")
    );
    assert!(close(contrast.rows[0].r, 1.0));
    assert_eq!(
        contrast.rows[1].r, None,
        "the value-blind baseline has no contrast"
    );
}

#[test]
fn a_reversed_profile_shows_as_profile_r_minus_one() {
    let mut run = pvq_run("prompt-short", 0.0, [None; 3]);
    for g in &mut run.run.groups {
        g.predicted = g.target.iter().map(|t| t.map(|t| 1.0 - t)).collect();
    }
    let task = build_report(&[run], &ReportOptions::default())
        .unwrap()
        .tasks
        .remove(0);
    assert!(close(task.rows[0].profile_r, -1.0));
    assert!(close(task.contrast.unwrap().rows[0].r, -1.0));
}

#[test]
fn runs_are_aligned_by_group_name_not_position() {
    let a = pvq_run("prompt-long", 0.05, [None; 3]);
    let mut b = pvq_run("vim", 0.05, [None; 3]);
    b.run.groups.reverse();
    let task = build_report(&[a, b], &ReportOptions::default())
        .unwrap()
        .tasks
        .remove(0);
    assert_eq!(task.rows[0].per_group, task.rows[1].per_group);
    assert!(task.notes.is_empty());
}

#[test]
fn runs_of_the_same_method_get_distinct_labels() {
    let a = pvq_run("prompt-long", 0.0, [None; 3]);
    let mut b = pvq_run("prompt-long", 0.1, [None; 3]);
    b.run.model = "tinyllama".into();
    let task = build_report(&[a, b], &ReportOptions::default())
        .unwrap()
        .tasks
        .remove(0);
    assert_eq!(task.rows[0].label, "prompt-long (smollm2, expect)");
    assert_eq!(task.rows[1].label, "prompt-long (tinyllama, expect)");
}

#[test]
fn a_given_pair_is_used_and_an_unknown_pair_is_refused() {
    let runs = [pvq_run("vim", 0.1, [None; 3])];
    let options = ReportOptions {
        pair: Some(("Group_3".into(), "Group_1".into())),
        ..Default::default()
    };
    let contrast = build_report(&runs, &options)
        .unwrap()
        .tasks
        .remove(0)
        .contrast
        .unwrap();
    assert_eq!(
        (contrast.group_a.as_str(), contrast.chosen_by.as_str()),
        ("Group_3", "given")
    );
    let options = ReportOptions {
        pair: Some(("Group_1".into(), "Nowhere".into())),
        ..Default::default()
    };
    let err = build_report(&runs, &options).unwrap_err();
    assert_eq!(err.field(), Some(Field::Pair));
    assert!(err.to_string().contains("Nowhere"), "{err}");
}

#[test]
fn tasks_get_separate_sections_in_first_seen_order() {
    let runs = [ess_run("vim", shifted(0.0)), pvq_run("vim", 0.0, [None; 3])];
    let report = build_report(&runs, &ReportOptions::default()).unwrap();
    let tasks: Vec<&str> = report.tasks.iter().map(|t| t.task.name()).collect();
    assert_eq!(tasks, ["ess", "pvq"]);
    assert!(build_report(&[], &ReportOptions::default()).is_err());
}
