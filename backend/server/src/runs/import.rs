//! Importing run folders into the explorer: `valuelab runs import DIR...` and
//! `POST /api/runs/import` both call [`import`]. A folder is a run when it holds `run.json`;
//! a folder without one is searched for runs a few levels down (the main job's `runs/study`
//! holds `pvq-base/`, `Group_60/pvq-base/`, ...). Importing again updates the rows in place:
//! the folder's absolute path is the key.

use crate::db::models::NewRun;
use crate::db::schema::runs;
use crate::db::{now_s, Db};
use crate::error::{ApiError, ApiResult};
use crate::state::write_transaction;
use diesel::prelude::*;
use std::path::{Path, PathBuf};
use valuelab_common::api::runs::ImportedRun;
use valuelab_engine::eval::run_result::RESULTS_FILE;
use valuelab_engine::eval::runner::RUN_FILE;
use valuelab_engine::eval::RunInfo;

/// How deep below a given folder runs are looked for.
const MAX_DEPTH: usize = 3;
/// Folders one import may name; more is a mistake, not a request.
pub const MAX_PATHS: usize = 100;

/// Every run folder under each of `paths`; an error names the path and what was expected.
pub fn find_runs(paths: &[String]) -> Result<Vec<PathBuf>, String> {
    if paths.is_empty() || paths.len() > MAX_PATHS {
        return Err(format!(
            "paths: give 1..{MAX_PATHS} run folders (or folders holding them)"
        ));
    }
    let mut found = Vec::new();
    for given in paths {
        let path = Path::new(given.trim());
        let dir = path.canonicalize().map_err(|e| {
            format!(
                "paths: {}: {e} (expected a folder the server can read)",
                path.display()
            )
        })?;
        let before = found.len();
        search(&dir, 0, &mut found).map_err(|e| format!("paths: {}: {e}", dir.display()))?;
        if found.len() == before {
            return Err(format!(
                "paths: {}: no run folder here or {MAX_DEPTH} levels below (a run folder holds \
                 {RUN_FILE}, written by `valuelab eval`)",
                dir.display()
            ));
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn search(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !dir.is_dir() {
        return Err(std::io::Error::other("not a folder"));
    }
    if dir.join(RUN_FILE).is_file() {
        found.push(dir.to_path_buf());
        return Ok(());
    }
    if depth == MAX_DEPTH {
        return Ok(());
    }
    let mut children: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    children.sort();
    for child in children {
        search(&child, depth + 1, found)?;
    }
    Ok(())
}

/// The row of one run folder, from its `run.json`.
pub fn read_run(dir: &Path) -> Result<NewRun, String> {
    let file = dir.join(RUN_FILE);
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let info: RunInfo = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a run.json of `valuelab eval`: {e}", file.display()))?;
    let groups = serde_json::to_string(&info.groups)
        .map_err(|e| format!("{}: groups: {e}", file.display()))?;
    let done = dir.join(RESULTS_FILE).is_file();
    Ok(NewRun {
        path: dir.display().to_string(),
        task: info.task.name().to_string(),
        method: info.method.to_string(),
        model: info.model,
        answer_mode: info.answer_mode.name().to_string(),
        groups,
        status: if done { "done" } else { "incomplete" }.to_string(),
        started: info.started,
        finished: info.finished,
        imported_at: now_s(),
    })
}

/// Reads every run under `paths`, then stores them in one transaction: a bad folder stores
/// nothing (400 naming it).
pub fn import(conn: &mut Db, paths: &[String]) -> ApiResult<Vec<ImportedRun>> {
    let rows = find_runs(paths)
        .and_then(|dirs| {
            dirs.iter()
                .map(|d| read_run(d))
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(ApiError::BadRequest)?;
    write_transaction(conn, |conn| {
        rows.iter()
            .map(|row| {
                let known: Option<i32> = runs::table
                    .filter(runs::path.eq(&row.path))
                    .select(runs::id)
                    .first(conn)
                    .optional()?;
                let id = match known {
                    Some(id) => {
                        diesel::update(runs::table.find(id))
                            .set(row)
                            .execute(conn)?;
                        id
                    }
                    None => {
                        diesel::insert_into(runs::table).values(row).execute(conn)?;
                        runs::table
                            .filter(runs::path.eq(&row.path))
                            .select(runs::id)
                            .first(conn)?
                    }
                };
                Ok(ImportedRun {
                    id,
                    path: row.path.clone(),
                    status: row.status.clone(),
                    new: known.is_none(),
                })
            })
            .collect()
    })
}
