//! Small runs for the report's tests, with numbers simple enough to check by hand.

use super::analysis::RunInput;
use crate::eval::run_result::{GroupResult, RunResult};
use valuelab_common::{ALL_VALUES, VALUE_COUNT};

/// Three groups' value scores (1..6): distinct profiles, one the reverse of another.
pub const VALUES: [[f64; VALUE_COUNT]; 3] = [
    [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, 2.0, 3.0, 4.0],
    [6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 6.0, 5.0, 4.0, 3.0],
    [3.5, 3.5, 3.0, 4.0, 3.5, 3.5, 3.0, 4.0, 3.5, 3.5],
];

pub const GROUPS: [&str; 3] = ["Group_1", "Group_2", "Group_3"];

/// A PVQ run whose predictions are each target moved by `shift` (a pure level shift).
pub fn pvq_run(method: &str, shift: f64, sizes: [Option<usize>; 3]) -> RunInput {
    let keys: Vec<String> = ALL_VALUES.iter().map(|v| v.name().to_string()).collect();
    let groups = (0..3)
        .map(|g| {
            let target: Vec<Option<f64>> =
                VALUES[g].iter().map(|v| Some((v - 1.0) / 5.0)).collect();
            GroupResult {
                group: GROUPS[g].into(),
                size: sizes[g],
                values: VALUES[g],
                predicted: target.iter().map(|t| t.map(|t| t + shift)).collect(),
                target,
                answered: 40,
                parse_failures: g,
                refusals: 0,
            }
        })
        .collect();
    RunInput {
        dir: format!("runs/pvq-{method}").into(),
        run: RunResult {
            task: crate::eval::TaskKind::Pvq,
            method: method.parse().expect("a method name"),
            model: "smollm2".into(),
            answer_mode: crate::eval::AnswerMode::Expect,
            categories: keys.clone(),
            keys,
            groups,
        },
    }
}

/// The ESS gold per group (keys trstprl, trstlgl, happy, stflife).
pub const TARGETS_ESS: [[f64; 4]; 3] = [
    [0.2, 0.4, 0.6, 0.8],
    [0.6, 0.8, 0.2, 0.4],
    [0.4, 0.5, 0.5, 0.6],
];

/// An ESS run: four questions in two chapters, gold for every group, `predicted` per group.
pub fn ess_run(method: &str, predicted: [[f64; 4]; 3]) -> RunInput {
    let targets = TARGETS_ESS;
    let groups = (0..3)
        .map(|g| GroupResult {
            group: GROUPS[g].into(),
            // sizes 10, 10, 20: size weights 1, 1, 2 keep the hand arithmetic short
            size: Some(if g == 2 { 20 } else { 10 }),
            values: VALUES[g],
            target: targets[g].iter().map(|t| Some(*t)).collect(),
            predicted: predicted[g].iter().map(|p| Some(*p)).collect(),
            answered: 4,
            parse_failures: 0,
            refusals: 1,
        })
        .collect();
    RunInput {
        dir: format!("runs/ess-{method}").into(),
        run: RunResult {
            task: crate::eval::TaskKind::Ess,
            method: method.parse().expect("a method name"),
            model: "smollm2".into(),
            answer_mode: crate::eval::AnswerMode::Expect,
            keys: ["trstprl", "trstlgl", "happy", "stflife"]
                .map(String::from)
                .to_vec(),
            categories: [
                "media_and_social_trust",
                "media_and_social_trust",
                "personal_and_social_well-being",
                "personal_and_social_well-being",
            ]
            .map(String::from)
            .to_vec(),
            groups,
        },
    }
}
