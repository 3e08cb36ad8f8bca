//! The protocol's ESS opinions (issue 11): in each whole-country ESS sample, value groups built
//! from the respondents' own PVQ-21 answers, their (weighted) gold answers, and how close each
//! method comes. Three yardsticks need no language model: the value-blind guess (the country's
//! population mean for every group), ridge from the ten values fit on the *other* countries'
//! groups (what the values alone predict where nothing of the country was seen), and the same
//! ridge fit on the country's other groups (leave one group out: the within-country ceiling).

use crate::eval::report::ridge::{fit_predict, loo_predictions, DEFAULT_LAMBDA};
use crate::eval::report::scores::{
    between_group_r, mean_defined, nmse_per_group, restrict_to, skill, Grid,
};
use crate::eval::RunResult;
use serde::{Deserialize, Serialize};
use valuelab_common::VALUE_COUNT;

/// One country's groups and gold, as the arithmetic needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct CountryGold {
    pub country: String,
    /// The groups' ten value scores.
    pub values: Vec<[f64; VALUE_COUNT]>,
    /// The question codes, in the order of the runs' keys.
    pub codes: Vec<String>,
    /// Gold per group (outer, as `values`) and code (inner).
    pub targets: Grid,
    /// The country's population mean per code: the value-blind guess.
    pub population: Vec<Option<f64>>,
}

impl CountryGold {
    /// The value-blind guess for every group.
    pub fn value_blind(&self) -> Grid {
        self.targets
            .iter()
            .map(|_| self.population.clone())
            .collect()
    }
}

/// What a model-free predictor reaches in one country.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Yardstick {
    /// Between-group r per item, averaged over the items where it is defined.
    pub mean_r: Option<f64>,
    pub nmse: Option<f64>,
    pub skill: Option<f64>,
}

/// One country of the protocol's ESS part, with its yardsticks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountryBaseline {
    pub country: String,
    /// The microdata file the groups came from.
    pub file: String,
    /// Respondents scored on the ten values (the rest answered too few PVQ-21 items).
    pub respondents: usize,
    pub groups: usize,
    /// Questions with gold for every group.
    pub items: usize,
    /// The weight column of the means, when weighted.
    pub weighted_by: Option<String>,
    pub value_blind_nmse: Option<f64>,
    /// Ridge from the ten values, fit on the other countries' groups.
    pub ridge_other_countries: Yardstick,
    /// Ridge from the ten values, fit on this country's other groups.
    pub ridge_within: Yardstick,
}

/// One method in one country.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpinionEvidence {
    pub country: String,
    pub mean_r: Option<f64>,
    /// Items whose between-group r is defined (a method that answers every group alike has none).
    pub items_with_r: usize,
    pub nmse: Option<f64>,
    /// The value-blind NMSE on the same (group, item) cells as the method.
    pub value_blind_nmse: Option<f64>,
    pub skill: Option<f64>,
}

fn mean_nmse(targets: &Grid, predicted: &Grid) -> Option<f64> {
    mean_defined(&nmse_per_group(targets, predicted))
}

/// Predictions scored once against a country's gold, for [`Yardstick`] and [`OpinionEvidence`].
struct Scored {
    r_per_item: Vec<Option<f64>>,
    nmse: Option<f64>,
    /// The value-blind NMSE on the same (group, item) cells as the predictions.
    value_blind_nmse: Option<f64>,
}

impl Scored {
    fn new(gold: &CountryGold, predicted: &Grid) -> Scored {
        let blind = restrict_to(&gold.value_blind(), predicted);
        Scored {
            r_per_item: between_group_r(&gold.targets, predicted),
            nmse: mean_nmse(&gold.targets, predicted),
            value_blind_nmse: mean_nmse(&gold.targets, &blind),
        }
    }

    fn yardstick(&self) -> Yardstick {
        Yardstick {
            mean_r: mean_defined(&self.r_per_item),
            nmse: self.nmse,
            skill: skill(self.nmse, self.value_blind_nmse),
        }
    }
}

/// Scores predictions against a country's gold and its value-blind guess.
pub fn yardstick(gold: &CountryGold, predicted: &Grid) -> Yardstick {
    Scored::new(gold, predicted).yardstick()
}

/// A method's run in one country against the country's gold. The run's groups and keys are
/// matched to the gold by name, so their order does not matter.
pub fn opinion_evidence(gold: &CountryGold, run: &RunResult, names: &[String]) -> OpinionEvidence {
    let predicted: Grid = names
        .iter()
        .map(|name| {
            let group = run.groups.iter().find(|g| &g.group == name);
            gold.codes
                .iter()
                .map(|code| {
                    let k = run.keys.iter().position(|key| key == code)?;
                    group?.predicted.get(k).copied().flatten()
                })
                .collect()
        })
        .collect();
    let scored = Scored::new(gold, &predicted);
    let score = scored.yardstick();
    OpinionEvidence {
        country: gold.country.clone(),
        mean_r: score.mean_r,
        items_with_r: scored.r_per_item.iter().flatten().count(),
        nmse: score.nmse,
        value_blind_nmse: scored.value_blind_nmse,
        skill: score.skill,
    }
}

/// Ridge predictions for `countries[at]`'s groups, fit per code on the groups of every other
/// country with gold for that code.
pub fn ridge_from_other_countries(countries: &[CountryGold], at: usize) -> Grid {
    let target = &countries[at];
    let per_code: Vec<Vec<Option<f64>>> = target
        .codes
        .iter()
        .map(|code| {
            let (x, y): (Vec<&[f64]>, Vec<f64>) = countries
                .iter()
                .enumerate()
                .filter(|(c, _)| *c != at)
                .filter_map(|(_, other)| {
                    let k = other.codes.iter().position(|c| c == code)?;
                    Some(
                        other
                            .values
                            .iter()
                            .zip(&other.targets)
                            .filter_map(move |(v, row)| Some((v.as_slice(), row[k]?))),
                    )
                })
                .flatten()
                .unzip();
            target
                .values
                .iter()
                .map(|v| fit_predict(&x, &y, v, DEFAULT_LAMBDA))
                .collect()
        })
        .collect();
    // per_code is code × group; the grid is group × code.
    (0..target.values.len())
        .map(|g| per_code.iter().map(|col| col[g]).collect())
        .collect()
}

/// The yardsticks of every country.
pub fn ridge_yardsticks(countries: &[CountryGold]) -> Vec<(Yardstick, Yardstick)> {
    (0..countries.len())
        .map(|c| {
            let gold = &countries[c];
            let other = yardstick(gold, &ridge_from_other_countries(countries, c));
            let within = yardstick(
                gold,
                &loo_predictions(&gold.values, &gold.targets, DEFAULT_LAMBDA),
            );
            (other, within)
        })
        .collect()
}

/// A method's mean over the countries: mean r, NMSE and value-blind NMSE (each over the
/// countries where it is defined).
pub fn mean_over_countries(
    evidence: &[OpinionEvidence],
) -> (Option<f64>, Option<f64>, Option<f64>) {
    let over = |f: fn(&OpinionEvidence) -> Option<f64>| {
        mean_defined(&evidence.iter().map(f).collect::<Vec<_>>())
    };
    (
        over(|e| e.mean_r),
        over(|e| e.nmse),
        over(|e| e.value_blind_nmse),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{AnswerMode, GroupResult, MethodLabel, TaskKind};

    /// A country whose gold for code "a" is 0.1 · Achievement + `level` and for "b" constant 0.5.
    fn country(name: &str, level: f64, achievements: &[f64]) -> CountryGold {
        let values: Vec<[f64; VALUE_COUNT]> = achievements
            .iter()
            .map(|&a| {
                let mut v = [3.0; VALUE_COUNT];
                v[0] = a;
                v
            })
            .collect();
        let targets: Grid = values
            .iter()
            .map(|v| vec![Some(0.1 * v[0] + level), Some(0.5)])
            .collect();
        let n = achievements.len() as f64;
        CountryGold {
            country: name.into(),
            codes: vec!["a".into(), "b".into()],
            population: vec![
                Some(achievements.iter().map(|a| 0.1 * a + level).sum::<f64>() / n),
                Some(0.5),
            ],
            values,
            targets,
        }
    }

    fn run(gold: &CountryGold, predicted: impl Fn(usize) -> Vec<Option<f64>>) -> RunResult {
        RunResult {
            task: TaskKind::Ess,
            method: MethodLabel::new(crate::eval::Method::PromptShort, 0),
            model: "m".into(),
            answer_mode: AnswerMode::Expect,
            // Keys in another order than the gold's codes, to check they are matched by name.
            keys: vec!["b".into(), "a".into()],
            categories: vec!["x".into(), "x".into()],
            groups: (0..gold.values.len())
                .map(|g| GroupResult {
                    group: format!("Group_{}", g + 1),
                    size: None,
                    values: gold.values[g],
                    target: vec![None, None],
                    predicted: predicted(g),
                    answered: 2,
                    parse_failures: 0,
                    refusals: 0,
                })
                .collect(),
        }
    }

    fn names(n: usize) -> Vec<String> {
        (1..=n).map(|g| format!("Group_{g}")).collect()
    }

    #[test]
    fn a_method_that_follows_the_values_gets_r_1_and_full_skill_on_what_varies() {
        let gold = country("NO", 0.1, &[1.0, 2.0, 4.0, 5.0]);
        // Exact on "a", and the population mean on "b" (which does not vary): r only on "a".
        let exact = run(&gold, |g| vec![Some(0.5), gold.targets[g][0]]);
        let e = opinion_evidence(&gold, &exact, &names(4));
        assert_eq!(e.country, "NO");
        assert!((e.mean_r.unwrap() - 1.0).abs() < 1e-12);
        assert_eq!(e.items_with_r, 1);
        assert!(e.nmse.unwrap() < 1e-20 && (e.skill.unwrap() - 1.0).abs() < 1e-12);
        // The value-blind guess itself: no r, skill 0.
        let blind = run(&gold, |_| vec![Some(0.5), gold.population[0]]);
        let e = opinion_evidence(&gold, &blind, &names(4));
        assert_eq!((e.mean_r, e.items_with_r), (None, 0));
        assert!(e.skill.unwrap().abs() < 1e-12);
        // Missing answers leave the baseline on the same cells only.
        let partial = run(&gold, |g| vec![Some(0.5), (g < 2).then_some(0.3)]);
        let e = opinion_evidence(&gold, &partial, &names(4));
        let (t0, t1, p) = (
            gold.targets[0][0].unwrap(),
            gold.targets[1][0].unwrap(),
            gold.population[0].unwrap(),
        );
        let blind_nmse = ((t0 - p).powi(2) / 2.0 + (t1 - p).powi(2) / 2.0 + 0.0 + 0.0) / 4.0;
        assert!((e.value_blind_nmse.unwrap() - blind_nmse).abs() < 1e-12);
    }

    #[test]
    fn ridge_from_other_countries_follows_the_slope_but_not_a_countrys_own_level() {
        let countries = vec![
            country("NO", 0.0, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            country("GB", 0.0, &[1.5, 2.5, 3.5, 4.5, 5.5]),
            country("RU", 0.2, &[2.0, 3.0, 4.0, 5.0]),
        ];
        let ridge = ridge_from_other_countries(&countries, 2);
        // Russia's groups are ranked right (r = 1 on "a") but 0.2 too low (its level is unseen).
        let sticks = ridge_yardsticks(&countries);
        let (other, within) = sticks[2];
        assert!((other.mean_r.unwrap() - 1.0).abs() < 1e-9);
        for (row, gold) in ridge.iter().zip(&countries[2].targets) {
            let gap = gold[0].unwrap() - row[0].unwrap();
            assert!(gap > 0.15 && gap < 0.25, "{gap}");
            assert!((row[1].unwrap() - 0.5).abs() < 1e-12);
        }
        assert!(
            other.skill.unwrap() < 0.0,
            "a missed level costs more than the spread"
        );
        // Within the country the level is known: close to exact (λ shrinks the slope a little).
        assert!(within.skill.unwrap() > 0.5 && (within.mean_r.unwrap() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_mean_over_countries_skips_undefined_entries() {
        let e = |r: Option<f64>, nmse: f64| OpinionEvidence {
            country: "X".into(),
            mean_r: r,
            items_with_r: 0,
            nmse: Some(nmse),
            value_blind_nmse: Some(0.002),
            skill: None,
        };
        let (r, nmse, blind) = mean_over_countries(&[e(Some(0.4), 0.001), e(None, 0.003)]);
        assert_eq!(r, Some(0.4));
        assert!((nmse.unwrap() - 0.002).abs() < 1e-15 && (blind.unwrap() - 0.002).abs() < 1e-15);
    }
}
