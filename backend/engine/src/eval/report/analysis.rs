//! Turns finished runs into a [`Report`]: runs are grouped by task and aligned on group and key
//! names, every method is scored beside the value-blind and (with gold) value-regression
//! baselines, and methods are compared by paired t-tests across groups.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use valuelab_common::{Value, VALUE_COUNT};

use super::compare::{paired_comparison, PairedComparison};
use super::ridge;
use super::scores::{self, Grid};
use crate::eval::RunResult;
use crate::eval::TaskKind;
use crate::{Error, Field, Result};

/// A finished run and where it was read from.
#[derive(Debug, Clone)]
pub struct RunInput {
    pub dir: PathBuf,
    pub run: RunResult,
}

/// Choices a user can make about a report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// The two groups to contrast (PVQ, ValueNet); default: the two with the farthest targets.
    pub pair: Option<(String, String)>,
    /// Ridge penalty of the value-regression baseline (see `ridge`).
    pub ridge_lambda: f64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            pair: None,
            ridge_lambda: ridge::DEFAULT_LAMBDA,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub generated_by: String,
    pub tasks: Vec<TaskReport>,
}

/// What a row of a table is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RowKind {
    /// A finished run of a method.
    Run,
    /// The same prediction for every group (population mean of the targets).
    ValueBlind,
    /// Ridge from the group's ten value scores to its gold, leave-one-group-out.
    ValueRegression,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupInfo {
    pub group: String,
    pub size: Option<usize>,
}

/// One task's comparison of methods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskReport {
    pub task: TaskKind,
    /// The union of the runs' keys, in first-seen order.
    pub keys: Vec<String>,
    /// Per key: its category.
    pub key_categories: Vec<String>,
    /// The table columns: distinct categories in the paper's order.
    pub categories: Vec<String>,
    pub groups: Vec<GroupInfo>,
    /// The runs first (in the order given), then the baselines.
    pub rows: Vec<MethodRow>,
    pub comparisons: Vec<PairedComparison>,
    /// PVQ and ValueNet: whether a contrasting pair's difference got through.
    pub contrast: Option<Contrast>,
    /// λ of the value-regression row, when there is one.
    pub ridge_lambda: Option<f64>,
    /// Things a reader must know (mismatching targets across runs, skipped baselines).
    pub notes: Vec<String>,
}

/// One method's (or baseline's) scores on one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodRow {
    /// Unique within the task: the method, with the model or a number added for duplicates.
    pub label: String,
    pub method: String,
    pub kind: RowKind,
    pub model: Option<String>,
    pub answer_mode: Option<String>,
    pub run_dir: Option<PathBuf>,
    /// (group, key) cells with both target and prediction.
    pub scored_cells: usize,
    /// Mean over groups of each group's NMSE over all its keys.
    pub nmse: Option<f64>,
    /// NMSE per category, aligned with `TaskReport::categories`.
    pub nmse_by_category: Vec<Option<f64>>,
    /// The paper's "Ave.": the mean of the category columns.
    pub category_average: Option<f64>,
    /// The value-blind baseline's NMSE on exactly this row's cells.
    pub value_blind_nmse: Option<f64>,
    /// 1 − nmse / value_blind_nmse.
    pub skill: Option<f64>,
    /// Between-group Pearson r per key, aligned with `TaskReport::keys`.
    pub r_per_key: Vec<Option<f64>>,
    /// Mean of the defined per-key r.
    pub between_group_r: Option<f64>,
    /// Keys where r is undefined (constant prediction or fewer than two groups), skipped above.
    pub r_undefined_keys: usize,
    /// PVQ and ValueNet: mean over groups of the profile r (target vs model over the values).
    pub profile_r: Option<f64>,
    pub profile_r_undefined_groups: usize,
    /// Parse failures and refusals per answer asked (`None` for baselines).
    pub parse_failure_rate: Option<f64>,
    pub refusal_rate: Option<f64>,
    /// Pearson r between group size and group NMSE (the paper's Figure 5 in one number).
    pub size_nmse_r: Option<f64>,
    pub per_group: Vec<GroupScore>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupScore {
    pub group: String,
    pub size: Option<usize>,
    pub nmse: Option<f64>,
    pub profile_r: Option<f64>,
    /// Target and prediction per key, for radar plots.
    pub target: Vec<Option<f64>>,
    pub predicted: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contrast {
    pub group_a: String,
    pub group_b: String,
    /// "given" (by `--pair`) or "farthest targets".
    pub chosen_by: String,
    /// Root-mean-square difference of the two groups' targets.
    pub target_distance: f64,
    /// Per row label: r between the target difference and the model difference over the keys.
    pub rows: Vec<ContrastRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContrastRow {
    pub label: String,
    pub r: Option<f64>,
}

/// Tasks whose targets are gold answers (not the value scores themselves) get the
/// value-regression baseline: regressing value scores on value scores would be trivially exact.
fn has_gold(task: TaskKind) -> bool {
    task == TaskKind::Ess
}

/// Builds the report of `runs`, one task section per task in first-seen order.
pub fn build_report(runs: &[RunInput], options: &ReportOptions) -> Result<Report> {
    if runs.is_empty() {
        return Err(Error::invalid(
            "no runs to report (pass one or more run directories holding results.json)",
        ));
    }
    let mut tasks: Vec<(TaskKind, Vec<&RunInput>)> = Vec::new();
    for input in runs {
        match tasks.iter_mut().find(|(t, _)| *t == input.run.task) {
            Some((_, list)) => list.push(input),
            None => tasks.push((input.run.task, vec![input])),
        }
    }
    let task_reports = tasks
        .iter()
        .map(|(task, list)| build_task(*task, list, options))
        .collect::<Result<Vec<_>>>()?;
    if let Some((a, b)) = &options.pair {
        if !task_reports
            .iter()
            .any(|t| t.contrast.as_ref().is_some_and(|c| c.chosen_by == "given"))
        {
            return Err(Error::input(
                Field::Pair,
                format!("pair {a} {b}: no PVQ or ValueNet run has both groups (name groups as in the runs' results.json)"),
            ));
        }
    }
    Ok(Report {
        generated_by: format!("valuelab {}", env!("CARGO_PKG_VERSION")),
        tasks: task_reports,
    })
}

/// The runs of one task aligned on canonical groups and keys.
struct Aligned {
    keys: Vec<String>,
    key_categories: Vec<String>,
    groups: Vec<GroupInfo>,
    values: Vec<[f64; VALUE_COUNT]>,
    targets: Grid,
    predictions: Vec<Grid>,
    notes: Vec<String>,
}

fn align(task: TaskKind, runs: &[&RunInput]) -> Aligned {
    let mut keys: Vec<String> = Vec::new();
    let mut key_categories: Vec<String> = Vec::new();
    let mut key_index: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<GroupInfo> = Vec::new();
    let mut values: Vec<[f64; VALUE_COUNT]> = Vec::new();
    let mut group_index: HashMap<String, usize> = HashMap::new();
    for input in runs {
        for (key, category) in input.run.keys.iter().zip(&input.run.categories) {
            if !key_index.contains_key(key) {
                key_index.insert(key.clone(), keys.len());
                keys.push(key.clone());
                key_categories.push(category.clone());
            }
        }
        for g in &input.run.groups {
            if !group_index.contains_key(&g.group) {
                group_index.insert(g.group.clone(), groups.len());
                groups.push(GroupInfo {
                    group: g.group.clone(),
                    size: g.size,
                });
                values.push(g.values);
            }
        }
    }
    let mut targets: Grid = vec![vec![None; keys.len()]; groups.len()];
    let mut notes = Vec::new();
    let mut mismatches = 0usize;
    let mut predictions = Vec::new();
    for input in runs {
        let mut grid: Grid = vec![vec![None; keys.len()]; groups.len()];
        for g in &input.run.groups {
            let gi = group_index[&g.group];
            for (k, key) in input.run.keys.iter().enumerate() {
                let ki = key_index[key];
                grid[gi][ki] = g.predicted.get(k).copied().flatten();
                if let Some(t) = g.target.get(k).copied().flatten() {
                    match targets[gi][ki] {
                        None => targets[gi][ki] = Some(t),
                        Some(old) if (old - t).abs() > TARGET_TOLERANCE => mismatches += 1,
                        Some(_) => {}
                    }
                }
            }
        }
        predictions.push(grid);
    }
    if mismatches > 0 {
        notes.push(format!(
            "{task}: {mismatches} targets differ between runs (different groups files or gold?); the first run's targets are used"
        ));
    }
    Aligned {
        keys,
        key_categories,
        groups,
        values,
        targets,
        predictions,
        notes,
    }
}

/// Targets are copied from the same groups file into every run; beyond rounding they must agree.
const TARGET_TOLERANCE: f64 = 1e-9;

/// The paper's column order: values alphabetically, ESS chapters as in Table 4, others after.
const CHAPTER_ORDER: [&str; 5] = [
    "media_and_social_trust",
    "personal_and_social_well-being",
    "politics",
    "understanding_democracy",
    "subjective_well-being",
];

fn category_rank(category: &str) -> usize {
    if let Ok(value) = category.parse::<Value>() {
        return value.index();
    }
    CHAPTER_ORDER
        .iter()
        .position(|c| *c == category)
        .map_or(usize::MAX, |p| VALUE_COUNT + p)
}

fn ordered_categories(key_categories: &[String]) -> Vec<String> {
    let mut distinct: Vec<String> = Vec::new();
    for c in key_categories {
        if !distinct.contains(c) {
            distinct.push(c.clone());
        }
    }
    // stable: unknown categories keep their first-seen order after the known ones
    distinct.sort_by_key(|c| category_rank(c));
    distinct
}

fn unique_labels(runs: &[&RunInput]) -> Vec<String> {
    let mut labels: Vec<String> = runs.iter().map(|r| r.run.method.to_string()).collect();
    for i in 0..labels.len() {
        let clash = (0..labels.len()).any(|j| j != i && runs[j].run.method == runs[i].run.method);
        if clash {
            labels[i] = format!(
                "{} ({}, {})",
                runs[i].run.method, runs[i].run.model, runs[i].run.answer_mode
            );
        }
    }
    for i in 0..labels.len() {
        let earlier = labels[..i].iter().filter(|l| **l == labels[i]).count();
        if earlier > 0 {
            labels[i] = format!("{} #{}", labels[i], earlier + 1);
        }
    }
    labels
}

fn build_task(task: TaskKind, runs: &[&RunInput], options: &ReportOptions) -> Result<TaskReport> {
    let aligned = align(task, runs);
    let categories = ordered_categories(&aligned.key_categories);
    let value_keyed =
        !aligned.keys.is_empty() && aligned.keys.iter().all(|k| k.parse::<Value>().is_ok());
    let sizes: Vec<Option<usize>> = aligned.groups.iter().map(|g| g.size).collect();
    let blind = scores::value_blind(&aligned.targets, &sizes);
    let mut notes = aligned.notes.clone();

    let scorer = Scorer {
        aligned: &aligned,
        categories: &categories,
        blind: &blind,
        value_keyed,
    };
    let labels = unique_labels(runs);
    let mut rows: Vec<MethodRow> = Vec::new();
    for ((input, label), grid) in runs.iter().zip(&labels).zip(&aligned.predictions) {
        let mut row = scorer.row(label, &input.run.method.to_string(), RowKind::Run, grid);
        row.model = Some(input.run.model.clone());
        row.answer_mode = Some(input.run.answer_mode.to_string());
        row.run_dir = Some(input.dir.clone());
        let asked: usize = input.run.groups.iter().map(|g| g.answered).sum();
        let failed: usize = input.run.groups.iter().map(|g| g.parse_failures).sum();
        let refused: usize = input.run.groups.iter().map(|g| g.refusals).sum();
        if asked > 0 {
            row.parse_failure_rate = Some(failed as f64 / asked as f64);
            row.refusal_rate = Some(refused as f64 / asked as f64);
        }
        rows.push(row);
    }
    let run_count = rows.len();
    let has_targets = aligned.targets.iter().flatten().any(Option::is_some);
    let mut ridge_grid = None;
    if has_targets {
        rows.push(scorer.row(
            "value-blind baseline",
            "value-blind",
            RowKind::ValueBlind,
            &blind,
        ));
        if has_gold(task) {
            if aligned.groups.len() >= MIN_GROUPS_FOR_REGRESSION {
                let grid =
                    ridge::loo_predictions(&aligned.values, &aligned.targets, options.ridge_lambda);
                rows.push(scorer.row(
                    "value-regression baseline",
                    "value-regression",
                    RowKind::ValueRegression,
                    &grid,
                ));
                ridge_grid = Some(grid);
            } else {
                notes.push(format!(
                    "{task}: no value-regression baseline with {} groups (leave-one-out needs at least {MIN_GROUPS_FOR_REGRESSION})",
                    aligned.groups.len()
                ));
            }
        }
    }

    let comparisons = comparisons(&aligned, &rows[..run_count], &blind, ridge_grid.as_ref());
    let contrast = if value_keyed {
        contrast(&aligned, &rows, options)?
    } else {
        None
    };
    Ok(TaskReport {
        task,
        keys: aligned.keys.clone(),
        key_categories: aligned.key_categories.clone(),
        categories,
        groups: aligned.groups.clone(),
        rows,
        comparisons,
        contrast,
        ridge_lambda: ridge_grid.is_some().then_some(options.ridge_lambda),
        notes,
    })
}

/// Leave-one-group-out needs two training groups to fit anything beyond a mean.
const MIN_GROUPS_FOR_REGRESSION: usize = 3;

struct Scorer<'a> {
    aligned: &'a Aligned,
    categories: &'a [String],
    blind: &'a Grid,
    value_keyed: bool,
}

impl Scorer<'_> {
    fn row(&self, label: &str, method: &str, kind: RowKind, grid: &Grid) -> MethodRow {
        let targets = &self.aligned.targets;
        let per_group_nmse = scores::nmse_per_group(targets, grid);
        let nmse = scores::mean_defined(&per_group_nmse);
        let nmse_by_category =
            scores::nmse_per_category(targets, grid, &self.aligned.key_categories, self.categories);
        let blind_here = scores::restrict_to(self.blind, grid);
        let value_blind_nmse = scores::mean_defined(&scores::nmse_per_group(targets, &blind_here));
        let r_per_key = scores::between_group_r(targets, grid);
        let scored_keys = (0..self.aligned.keys.len())
            .filter(|&k| {
                targets
                    .iter()
                    .zip(grid)
                    .any(|(t, p)| t[k].is_some() && p[k].is_some())
            })
            .count();
        let profile = if self.value_keyed {
            scores::profile_r_per_group(targets, grid)
        } else {
            vec![None; targets.len()]
        };
        let (sizes, group_nmse): (Vec<f64>, Vec<f64>) = self
            .aligned
            .groups
            .iter()
            .zip(&per_group_nmse)
            .filter_map(|(g, n)| Some((g.size? as f64, (*n)?)))
            .unzip();
        MethodRow {
            label: label.to_string(),
            method: method.to_string(),
            kind,
            model: None,
            answer_mode: None,
            run_dir: None,
            scored_cells: targets
                .iter()
                .zip(grid)
                .map(|(t, p)| {
                    t.iter()
                        .zip(p)
                        .filter(|(t, p)| t.is_some() && p.is_some())
                        .count()
                })
                .sum(),
            nmse,
            category_average: scores::mean_defined(&nmse_by_category),
            nmse_by_category,
            value_blind_nmse,
            skill: scores::skill(nmse, value_blind_nmse),
            between_group_r: scores::mean_defined(&r_per_key),
            r_undefined_keys: scored_keys - r_per_key.iter().filter(|r| r.is_some()).count(),
            r_per_key,
            profile_r: if self.value_keyed {
                scores::mean_defined(&profile)
            } else {
                None
            },
            profile_r_undefined_groups: if self.value_keyed {
                per_group_nmse
                    .iter()
                    .zip(&profile)
                    .filter(|(n, r)| n.is_some() && r.is_none())
                    .count()
            } else {
                0
            },
            parse_failure_rate: None,
            refusal_rate: None,
            size_nmse_r: scores::correlation(&sizes, &group_nmse),
            per_group: self
                .aligned
                .groups
                .iter()
                .enumerate()
                .map(|(g, info)| GroupScore {
                    group: info.group.clone(),
                    size: info.size,
                    nmse: per_group_nmse[g],
                    profile_r: profile[g],
                    target: targets[g].clone(),
                    predicted: grid[g].clone(),
                })
                .collect(),
        }
    }
}

/// Paired t-tests on per-group NMSE: every pair of runs, and each run against the baselines
/// restricted to the run's own cells.
fn comparisons(
    aligned: &Aligned,
    runs: &[MethodRow],
    blind: &Grid,
    ridge: Option<&Grid>,
) -> Vec<PairedComparison> {
    let per_group =
        |row: &MethodRow| -> Vec<Option<f64>> { row.per_group.iter().map(|g| g.nmse).collect() };
    let mut out = Vec::new();
    for (i, a) in runs.iter().enumerate() {
        for b in &runs[i + 1..] {
            out.extend(paired_comparison(
                &a.label,
                &b.label,
                &per_group(a),
                &per_group(b),
            ));
        }
    }
    for (run, grid) in runs.iter().zip(&aligned.predictions) {
        let baselines = [
            ("value-blind baseline", Some(blind)),
            ("value-regression baseline", ridge),
        ];
        for (name, baseline) in baselines {
            if let Some(baseline) = baseline {
                let here =
                    scores::nmse_per_group(&aligned.targets, &scores::restrict_to(baseline, grid));
                out.extend(paired_comparison(&run.label, name, &per_group(run), &here));
            }
        }
    }
    out
}

fn contrast(
    aligned: &Aligned,
    rows: &[MethodRow],
    options: &ReportOptions,
) -> Result<Option<Contrast>> {
    let find = |name: &str| aligned.groups.iter().position(|g| g.group == name);
    let chosen = match &options.pair {
        Some((a, b)) => match (find(a), find(b)) {
            (Some(ia), Some(ib)) if ia != ib => {
                let rms = scores::farthest_pair(&vec![
                    aligned.targets[ia].clone(),
                    aligned.targets[ib].clone(),
                ]);
                rms.map(|(_, _, d)| (ia, ib, d, "given"))
            }
            (Some(_), Some(_)) => {
                return Err(Error::input(
                    Field::Pair,
                    format!("pair {a} {b}: name two different groups"),
                ))
            }
            _ => None,
        },
        None => {
            scores::farthest_pair(&aligned.targets).map(|(a, b, d)| (a, b, d, "farthest targets"))
        }
    };
    let Some((a, b, distance, how)) = chosen else {
        return Ok(None);
    };
    let rows = rows
        .iter()
        .map(|row| {
            let grid: Grid = row.per_group.iter().map(|g| g.predicted.clone()).collect();
            ContrastRow {
                label: row.label.clone(),
                r: scores::contrast_r(&aligned.targets, &grid, a, b),
            }
        })
        .collect();
    Ok(Some(Contrast {
        group_a: aligned.groups[a].group.clone(),
        group_b: aligned.groups[b].group.clone(),
        chosen_by: how.to_string(),
        target_distance: distance,
        rows,
    }))
}

#[cfg(test)]
mod tests;
