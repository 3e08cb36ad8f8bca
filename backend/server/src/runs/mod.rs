//! The results explorer's runs: run folders imported into the database (`import`), listed with
//! filters, and read back with their results from disk (the folder stays the source of truth;
//! the row is its index).

pub mod compare;
pub mod import;
pub mod studies;

use crate::db::models::Run;
use crate::db::schema::runs;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use diesel::prelude::*;
use std::path::Path;
use valuelab_common::api::runs::{RunFilter, RunGroupRow, RunSummary};
use valuelab_engine::eval::runner::RUN_FILE;
use valuelab_engine::eval::{RunInfo, RunResult};

pub fn summary(run: &Run) -> ApiResult<RunSummary> {
    let groups: Vec<String> = serde_json::from_str(&run.groups)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("run {} groups: {e}", run.id)))?;
    Ok(RunSummary {
        id: run.id,
        task: run.task.clone(),
        method: run.method.clone(),
        model: run.model.clone(),
        answer_mode: run.answer_mode.clone(),
        groups,
        status: run.status.clone(),
        created: run.started.clone(),
        finished: run.finished.clone(),
        path: run.path.clone(),
    })
}

/// Runs matching `filter`, newest first.
pub fn list(conn: &mut Db, filter: &RunFilter) -> ApiResult<Vec<RunSummary>> {
    let mut query = runs::table.into_boxed();
    if let Some(task) = &filter.task {
        query = query.filter(runs::task.eq(task.clone()));
    }
    if let Some(method) = &filter.method {
        query = query.filter(runs::method.eq(method.clone()));
    }
    if let Some(status) = &filter.status {
        query = query.filter(runs::status.eq(status.clone()));
    }
    let rows: Vec<Run> = query
        .order((runs::started.desc(), runs::id.desc()))
        .select(Run::as_select())
        .load(conn)?;
    let summaries = rows.iter().map(summary).collect::<ApiResult<Vec<_>>>()?;
    // Groups are a JSON list in one column: matched here, where both backends agree.
    Ok(match &filter.group {
        Some(group) => summaries
            .into_iter()
            .filter(|s| s.groups.iter().any(|g| g == group))
            .collect(),
        None => summaries,
    })
}

pub fn load(conn: &mut Db, id: i32) -> ApiResult<Run> {
    runs::table
        .find(id)
        .select(Run::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("no run {id}")))
}

/// The run's `run.json` (its settings, the valuelab version, the speed of each invocation), or
/// `None` when it no longer reads.
pub fn info(run: &Run) -> Option<RunInfo> {
    let text = std::fs::read_to_string(Path::new(&run.path).join(RUN_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The run's `results.json`, `None` while the run is incomplete. A folder that moved or was
/// deleted since the import is a 404 that says to import it again.
pub fn results(run: &Run) -> ApiResult<Option<RunResult>> {
    let dir = Path::new(&run.path);
    if !dir.is_dir() {
        return Err(ApiError::not_found(format!(
            "run {}: its folder {} is gone; import the folder where it is now",
            run.id, run.path
        )));
    }
    if run.status != "done" {
        return Ok(None);
    }
    RunResult::load(dir)
        .map(Some)
        .map_err(|e| ApiError::not_found(format!("run {}: {e}", run.id)))
}

/// Per group: NMSE against the group's gold (where the task has gold) and the answer counts —
/// the rows of `table.csv` and of the run page's table.
pub fn group_rows(result: &RunResult) -> Vec<RunGroupRow> {
    result
        .groups
        .iter()
        .map(|g| {
            let (predicted, target): (Vec<f64>, Vec<f64>) = g
                .predicted
                .iter()
                .zip(&g.target)
                .filter_map(|(p, t)| Some(((*p)?, (*t)?)))
                .unzip();
            RunGroupRow {
                group: g.group.clone(),
                size: g.size,
                nmse: valuelab_common::metrics::nmse(&predicted, &target),
                answered: g.answered,
                parse_failures: g.parse_failures,
                refusals: g.refusals,
            }
        })
        .collect()
}

/// [`group_rows`] as CSV (a header even when there is no group).
pub fn table_csv(result: &RunResult) -> anyhow::Result<String> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let rows = group_rows(result);
    for row in &rows {
        writer.serialize(row)?;
    }
    if rows.is_empty() {
        writer.write_record([
            "group",
            "size",
            "nmse",
            "answered",
            "parse_failures",
            "refusals",
        ])?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}
