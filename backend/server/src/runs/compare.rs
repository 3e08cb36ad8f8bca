//! Several finished runs of one task side by side: the engine's report (`valuelab report`'s
//! scores: NMSE, the value-blind and value-regression baselines, skill, between-group and
//! profile r) over the runs' folders, each row tied back to its run, the differences against a
//! pinned baseline run, and the runs that differ only in their seed aggregated as a mean with a
//! 95 % interval. One run alone is a comparison too: the run page shows its row beside the
//! baselines.

use super::{load, results};
use crate::db::models::Run;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use std::path::Path;
use valuelab_common::api::runs::{ComparedRow, RunComparison, SeedAggregate};
use valuelab_common::stats::mean_interval;
use valuelab_engine::eval::report::analysis::{MethodRow, RowKind};
use valuelab_engine::eval::report::{build_report, Report, ReportOptions, RunInput};
use valuelab_engine::eval::runner::RUN_FILE;
use valuelab_engine::eval::RunInfo;

/// Runs one comparison may hold.
pub const MAX_RUNS: usize = 50;

/// `ids=3,5,8` → the ids, in order, without repeats; a 400 naming what is wrong otherwise.
pub fn parse_ids(ids: &str) -> ApiResult<Vec<i32>> {
    let mut parsed: Vec<i32> = Vec::new();
    for part in ids.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let id = part.parse().map_err(|_| {
            ApiError::bad_request(format!("ids: '{part}' is not a run id (ids=3,5,8)"))
        })?;
        if !parsed.contains(&id) {
            parsed.push(id);
        }
    }
    if parsed.is_empty() || parsed.len() > MAX_RUNS {
        return Err(ApiError::bad_request(format!(
            "ids: give 1..{MAX_RUNS} run ids separated by commas (ids=3,5,8)"
        )));
    }
    Ok(parsed)
}

/// The rows of runs `ids` (404 for an unknown one).
pub fn load_all(conn: &mut Db, ids: &[i32]) -> ApiResult<Vec<Run>> {
    ids.iter().map(|&id| load(conn, id)).collect()
}

/// The engine's report over `runs` (file work: call it off the database threads). Every run
/// must be finished and of one task.
pub fn report(runs: &[Run]) -> ApiResult<Report> {
    if let Some(other) = runs.iter().find(|r| r.task != runs[0].task) {
        return Err(ApiError::bad_request(format!(
            "ids: runs of one task compare (run {} is {}, run {} is {})",
            runs[0].id, runs[0].task, other.id, other.task
        )));
    }
    let inputs = runs
        .iter()
        .map(|run| {
            let result = results(run)?.ok_or_else(|| {
                ApiError::bad_request(format!(
                    "ids: run {} is incomplete; finish it first (Resume its job)",
                    run.id
                ))
            })?;
            Ok(RunInput {
                dir: Path::new(&run.path).to_path_buf(),
                run: result,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    build_report(&inputs, &ReportOptions::default())
        .map_err(|e| ApiError::bad_request(format!("these runs do not compare: {e}")))
}

/// The comparison of `runs` (their report in `report`), differences against `baseline`.
pub fn compare(runs: &[Run], report: &Report, baseline: Option<i32>) -> ApiResult<RunComparison> {
    if let Some(b) = baseline.filter(|b| !runs.iter().any(|r| r.id == *b)) {
        return Err(ApiError::bad_request(format!(
            "baseline: run {b} is not one of the compared runs"
        )));
    }
    let task = report
        .tasks
        .first()
        .ok_or_else(|| ApiError::bad_request("these runs share no group with scored answers"))?;
    let mut rows: Vec<ComparedRow> = task
        .rows
        .iter()
        .map(|row| compared_row(row, runs))
        .collect();
    if let Some(base) = baseline.and_then(|b| rows.iter().find(|r| r.run_id == Some(b)).cloned()) {
        for row in &mut rows {
            row.nmse_difference = difference(row.nmse, base.nmse);
            row.skill_difference = difference(row.skill, base.skill);
            row.between_group_r_difference = difference(row.between_group_r, base.between_group_r);
        }
    }
    Ok(RunComparison {
        task: task.task.name().to_string(),
        groups: task.groups.len(),
        baseline,
        seed_groups: seed_groups(&rows),
        rows,
        notes: task.notes.clone(),
    })
}

fn difference(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? - b?)
}

/// A report row, tied to its run by folder (baselines have none).
fn compared_row(row: &MethodRow, runs: &[Run]) -> ComparedRow {
    let run = row
        .run_dir
        .as_ref()
        .and_then(|dir| runs.iter().find(|r| Path::new(&r.path) == dir));
    let seed = run.and_then(|r| seed_of(Path::new(&r.path)));
    ComparedRow {
        run_id: run.map(|r| r.id),
        label: row.label.clone(),
        method: row.method.clone(),
        kind: match row.kind {
            RowKind::Run => "run",
            RowKind::ValueBlind => "value-blind",
            RowKind::ValueRegression => "value-regression",
        }
        .to_string(),
        model: row.model.clone(),
        answer_mode: run.map(|r| r.answer_mode.clone()),
        seed,
        nmse: row.nmse,
        value_blind_nmse: row.value_blind_nmse,
        skill: row.skill,
        between_group_r: row.between_group_r,
        profile_r: row.profile_r,
        parse_failure_rate: row.parse_failure_rate,
        nmse_difference: None,
        skill_difference: None,
        between_group_r_difference: None,
    }
}

/// The run's seed, from its `run.json`.
fn seed_of(dir: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join(RUN_FILE)).ok()?;
    serde_json::from_str::<RunInfo>(&text)
        .ok()
        .map(|info| info.seed)
}

/// Runs with one method, model and answer mode but different seeds, as mean ± 95 % interval.
fn seed_groups(rows: &[ComparedRow]) -> Vec<SeedAggregate> {
    let mut groups: Vec<(&ComparedRow, Vec<&ComparedRow>)> = Vec::new();
    for row in rows.iter().filter(|r| r.run_id.is_some()) {
        let same = |first: &&ComparedRow| {
            (&first.method, &first.model, &first.answer_mode)
                == (&row.method, &row.model, &row.answer_mode)
        };
        match groups.iter_mut().find(|(first, _)| same(first)) {
            Some((_, members)) => members.push(row),
            None => groups.push((row, vec![row])),
        }
    }
    groups
        .into_iter()
        .filter(|(_, members)| {
            let mut seeds: Vec<Option<u64>> = members.iter().map(|m| m.seed).collect();
            seeds.sort();
            seeds.dedup();
            members.len() > 1 && seeds.len() == members.len()
        })
        .map(|(first, members)| {
            let of = |pick: fn(&ComparedRow) -> Option<f64>| {
                let values: Vec<f64> = members.iter().filter_map(|m| pick(m)).collect();
                mean_interval(&values)
            };
            SeedAggregate {
                method: first.method.clone(),
                model: first.model.clone(),
                answer_mode: first.answer_mode.clone(),
                runs: members.iter().filter_map(|m| m.run_id).collect(),
                seeds: members.iter().filter_map(|m| m.seed).collect(),
                nmse: of(|r| r.nmse),
                skill: of(|r| r.skill),
                between_group_r: of(|r| r.between_group_r),
                profile_r: of(|r| r.profile_r),
            }
        })
        .collect()
}

/// The comparison as CSV: one line per row, baselines included.
pub fn comparison_csv(comparison: &RunComparison) -> anyhow::Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record([
        "run_id",
        "label",
        "kind",
        "model",
        "answer_mode",
        "seed",
        "nmse",
        "value_blind_nmse",
        "skill",
        "between_group_r",
        "profile_r",
        "nmse_minus_baseline",
        "skill_minus_baseline",
        "between_group_r_minus_baseline",
    ])?;
    let text = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for r in &comparison.rows {
        writer.write_record([
            r.run_id.map(|i| i.to_string()).unwrap_or_default(),
            r.label.clone(),
            r.kind.clone(),
            r.model.clone().unwrap_or_default(),
            r.answer_mode.clone().unwrap_or_default(),
            r.seed.map(|s| s.to_string()).unwrap_or_default(),
            text(r.nmse),
            text(r.value_blind_nmse),
            text(r.skill),
            text(r.between_group_r),
            text(r.profile_r),
            text(r.nmse_difference),
            text(r.skill_difference),
            text(r.between_group_r_difference),
        ])?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}
