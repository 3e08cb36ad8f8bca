//! ESS microdata to groups and gold: scores respondents, builds k-means and country groups, and
//! assigns respondents to groups for their gold opinions. The algorithms live in `cluster` and
//! `gold` and take plain vectors; this file joins them to the tables of `data::ess`.

use super::cluster::{cluster_with, nearest, KMeansSettings, Point};
use super::gold::{gold_means, GoldRow};
use crate::data::ess::{EssQuestion, EssTable};
use crate::data::groups::TargetGroup;
use crate::{Error, Result};
use std::collections::{BTreeMap, HashMap};
use valuelab_common::pvq21::score_pvq21;
use valuelab_common::scale::AnswerScale;
use valuelab_common::{Value, ValueDistribution};

/// Names of the k-means groups: `Group_1` .. `Group_K`, as in `country_and_group.csv`.
pub const CLUSTER_PREFIX: &str = "Group_";

/// The respondents of an ESS table whose values could be scored.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredRespondents {
    /// Row in the ESS table of each scored respondent.
    pub rows: Vec<usize>,
    /// Their ten value scores, aligned with `rows`.
    pub points: Vec<Point>,
    /// Their `cntry` when the table has that column (empty text when the cell is).
    pub countries: Option<Vec<String>>,
    /// Respondents left out: too few PVQ-21 answers, or no answer for some value.
    pub skipped: usize,
}

/// Scores every respondent of `table` with the PVQ-21 `key` (variable, value), skipping those
/// who answered too few items.
pub fn score_respondents(table: &EssTable, key: &[(String, Value)]) -> Result<ScoredRespondents> {
    let columns: Vec<usize> = key
        .iter()
        .map(|(variable, _)| table.require_column(variable))
        .collect::<Result<_>>()?;
    let item_values: Vec<Value> = key.iter().map(|(_, v)| *v).collect();
    let mut scored = ScoredRespondents {
        rows: Vec::new(),
        points: Vec::new(),
        countries: table.countries.as_ref().map(|_| Vec::new()),
        skipped: 0,
    };
    let mut answers = vec![None; columns.len()];
    for row in 0..table.len() {
        for (answer, &col) in answers.iter_mut().zip(&columns) {
            *answer = table.get(row, col);
        }
        match score_pvq21(&item_values, &answers) {
            Ok(values) => {
                scored.rows.push(row);
                scored.points.push(*values.scores());
                if let (Some(out), Some(all)) =
                    (scored.countries.as_mut(), table.countries.as_ref())
                {
                    out.push(all[row].clone());
                }
            }
            // Too few answers is the respondent's state, not a bad file: count and go on.
            Err(_) => scored.skipped += 1,
        }
    }
    Ok(scored)
}

/// Groups built from scored respondents: `Group_1..Group_K`, then one per country (sorted by code).
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltGroups {
    pub groups: Vec<TargetGroup>,
    /// The k-means group of each scored respondent (index into `groups`).
    pub assignments: Vec<usize>,
    /// Within-cluster SSE of the k-means groups.
    pub sse: f64,
}

pub fn build_groups(
    scored: &ScoredRespondents,
    k: usize,
    seed: u64,
    settings: &KMeansSettings,
) -> Result<BuiltGroups> {
    let clustering = cluster_with(&scored.points, k, seed, settings)?;
    let mut groups = Vec::with_capacity(k);
    for (g, (centroid, &size)) in clustering
        .centroids
        .iter()
        .zip(&clustering.sizes)
        .enumerate()
    {
        groups.push(TargetGroup {
            name: format!("{CLUSTER_PREFIX}{}", g + 1),
            values: distribution(centroid)?,
            size: Some(size),
        });
    }
    if let Some(countries) = &scored.countries {
        let mut members: BTreeMap<&str, Vec<&Point>> = BTreeMap::new();
        for (country, point) in countries.iter().zip(&scored.points) {
            if !country.is_empty() {
                members.entry(country.as_str()).or_default().push(point);
            }
        }
        for (country, points) in members {
            let mean: Point = std::array::from_fn(|j| {
                points.iter().map(|p| p[j]).sum::<f64>() / points.len() as f64
            });
            groups.push(TargetGroup {
                name: country.to_string(),
                values: distribution(&mean)?,
                size: Some(points.len()),
            });
        }
    }
    Ok(BuiltGroups {
        groups,
        assignments: clustering.assignments,
        sse: clustering.sse,
    })
}

/// Means of valid scores stay in 1..6; the check guards against a key or scorer gone wrong.
fn distribution(point: &Point) -> Result<ValueDistribution> {
    Ok(ValueDistribution::parse(*point)?)
}

/// Gold opinions and what was left out on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Gold {
    /// One row per (group, question) with at least one valid answer, groups in file order.
    pub rows: Vec<GoldRow>,
    /// Respondents assigned to each group, aligned with the groups passed in.
    pub members: Vec<usize>,
    /// Questions whose variable the ESS table lacks (or holds as text).
    pub missing_columns: Vec<String>,
    /// (group, question) pairs without a single valid answer: they get no row.
    pub unanswered: Vec<(String, String)>,
    /// Option-list questions read as coded from 0 because a 0 answer occurs (ESS `tvtot`, ...).
    pub coded_from_zero: Vec<String>,
    /// Per question with a column: the mean answer of every scored respondent (weighted like the
    /// groups), the value-blind guess for any group of this sample.
    pub population: Vec<(String, f64)>,
}

/// Each group's mean rescaled answer per question, weighted by `weights` (one per row of
/// `table`, such as from [`crate::data::ess::read_weights`]) when given.
///
/// Who counts for a group: a group named like a `cntry` code of the table takes that country's
/// respondents; every scored respondent also joins the nearest (Euclidean on the ten scores) of
/// the k-means groups, those named `Group_<n>` — or, when no group is named so, of all groups that
/// are not countries. Groups that are neither (countries absent from the file, such as the full
/// country names of `country_and_group.csv`) get no respondents.
pub fn build_gold(
    table: &EssTable,
    scored: &ScoredRespondents,
    groups: &[TargetGroup],
    questions: &[EssQuestion],
    weights: Option<&[f64]>,
) -> Result<Gold> {
    if let Some(w) = weights.filter(|w| w.len() != table.len()) {
        return Err(Error::file(
            &table.path,
            None,
            format!(
                "{} weights for {} respondents (expected one weight per row)",
                w.len(),
                table.len()
            ),
        ));
    }
    let memberships = memberships(scored, groups);
    let weights: Option<Vec<f64>> = weights.map(|w| scored.rows.iter().map(|&r| w[r]).collect());
    let everyone = vec![vec![0]; scored.rows.len()];
    let mut members = vec![0usize; groups.len()];
    for m in &memberships {
        for &g in m {
            members[g] += 1;
        }
    }

    let mut per_question = Vec::new();
    let mut gold = Gold {
        rows: Vec::new(),
        members,
        missing_columns: Vec::new(),
        unanswered: Vec::new(),
        coded_from_zero: Vec::new(),
        population: Vec::new(),
    };
    for question in questions {
        let Some(col) = table.column(&question.code) else {
            gold.missing_columns.push(question.code.clone());
            continue;
        };
        let raw: Vec<Option<i64>> = scored.rows.iter().map(|&row| table.get(row, col)).collect();
        let first_code = first_code(&question.scale, &raw);
        if first_code == 0 && matches!(question.scale, AnswerScale::Options(_)) {
            gold.coded_from_zero.push(question.code.clone());
        }
        let answers: Vec<Option<f64>> = raw
            .iter()
            .map(|r| r.and_then(|code| question.scale.rescale_code_from(code as f64, first_code)))
            .collect();
        if let Some(all) = gold_means(&everyone, 1, &answers, weights.as_deref())[0] {
            gold.population.push((question.code.clone(), all.mean));
        }
        per_question.push((
            question,
            gold_means(&memberships, groups.len(), &answers, weights.as_deref()),
        ));
    }
    if per_question.is_empty() {
        return Err(Error::file(
            &table.path,
            Some(1),
            format!(
                "none of the {} questions has a column here (expected ESS variables such as '{}')",
                questions.len(),
                questions
                    .first()
                    .map(|q| q.code.as_str())
                    .unwrap_or("ppltrst")
            ),
        ));
    }
    for (g, group) in groups.iter().enumerate() {
        for (question, means) in &per_question {
            match means[g] {
                Some(m) => gold.rows.push(GoldRow {
                    group: group.name.clone(),
                    code: question.code.clone(),
                    mean: m.mean,
                    n: m.n,
                }),
                None => gold
                    .unanswered
                    .push((group.name.clone(), question.code.clone())),
            }
        }
    }
    Ok(gold)
}

/// The code of a scale's first position. ESS codes numeric ranges as themselves and option lists
/// from 1, except a few counts coded from 0 (`tvtot`: 0 = "No time at all"); no ESS missing code
/// is 0, so a 0 among the answers marks an option list coded from 0.
fn first_code(scale: &AnswerScale, raw: &[Option<i64>]) -> i64 {
    match scale {
        AnswerScale::Numeric { low, .. } => *low,
        AnswerScale::Options(_) if raw.contains(&Some(0)) => 0,
        AnswerScale::Options(_) => 1,
    }
}

/// The groups each scored respondent belongs to (see [`build_gold`]).
fn memberships(scored: &ScoredRespondents, groups: &[TargetGroup]) -> Vec<Vec<usize>> {
    let by_name: HashMap<&str, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.name.as_str(), i))
        .collect();
    let country_group: Vec<Option<usize>> = match &scored.countries {
        Some(countries) => countries
            .iter()
            .map(|c| by_name.get(c.as_str()).copied())
            .collect(),
        None => vec![None; scored.points.len()],
    };
    let is_country: Vec<bool> = {
        let mut flags = vec![false; groups.len()];
        for g in country_group.iter().flatten() {
            flags[*g] = true;
        }
        flags
    };
    let named_clusters: Vec<usize> = (0..groups.len())
        .filter(|&g| is_cluster_name(&groups[g].name))
        .collect();
    let candidates: Vec<usize> = if named_clusters.is_empty() {
        (0..groups.len()).filter(|&g| !is_country[g]).collect()
    } else {
        named_clusters
    };
    let centroids: Vec<Point> = candidates
        .iter()
        .map(|&g| *groups[g].values.scores())
        .collect();
    scored
        .points
        .iter()
        .zip(&country_group)
        .map(|(point, country)| {
            let mut m: Vec<usize> = nearest(&centroids, point)
                .map(|i| candidates[i])
                .into_iter()
                .collect();
            m.extend(*country);
            m
        })
        .collect()
}

fn is_cluster_name(name: &str) -> bool {
    name.strip_prefix(CLUSTER_PREFIX)
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests;
