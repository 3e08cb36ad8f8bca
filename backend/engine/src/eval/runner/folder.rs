//! A run folder on disk: `run.json` (what the run computes, checked on resume so items of
//! different runs are never mixed) and `items.jsonl` (every finished item, appended as it comes).
//! Format: `docs/eval-format.md`.

use super::RunSpec;
use crate::data::groups::TargetGroup;
use crate::eval::result::{ItemRecord, RunInfo};
use crate::eval::task::Task;
use crate::output::{now_utc, read_jsonl};
use crate::{Error, Field, Result};
use std::collections::HashMap;
use std::path::Path;

pub const RUN_FILE: &str = "run.json";
pub const ITEMS_FILE: &str = "items.jsonl";

/// The run's `run.json`: a fresh one, or the one of the run being resumed (which must describe
/// the same computation, or its items would be mixed with different ones).
pub(super) fn start_info(
    out_dir: &Path,
    task: &Task,
    groups: &[TargetGroup],
    spec: &RunSpec,
    model: String,
) -> Result<RunInfo> {
    let fresh = RunInfo {
        task: task.kind,
        method: spec.method_label(),
        model,
        adapter: spec.adapter.clone(),
        answer_mode: spec.answer_mode,
        groups_file: spec.groups_file.clone(),
        groups: groups.iter().map(|g| g.name.clone()).collect(),
        seed: spec.seed,
        samples: spec.samples,
        shots: spec.shots,
        limit_items: spec.limit_items,
        gold: spec.gold.clone(),
        started: now_utc(),
        finished: None,
        valuelab_version: env!("CARGO_PKG_VERSION").to_string(),
        speed: Vec::new(),
    };
    let path = out_dir.join(RUN_FILE);
    if !path.exists() {
        return Ok(fresh);
    }
    let old: RunInfo = serde_json::from_str(&std::fs::read_to_string(&path)?).map_err(|e| {
        Error::input(
            Field::Out,
            format!(
                "{}: not a valuelab run.json ({e}); use another run folder",
                path.display()
            ),
        )
    })?;
    if !old.same_run_as(&fresh) {
        return Err(Error::input(
            Field::Out,
            format!(
                "{}: this folder holds another run ({} {} {} {} on {}); use another run folder to start a new one",
                path.display(),
                old.task, old.method, old.answer_mode, old.model, old.groups_file
            ),
        ));
    }
    Ok(RunInfo {
        started: old.started,
        speed: old.speed,
        groups: fresh.groups,
        limit_items: fresh.limit_items,
        ..fresh
    })
}

/// Reads the finished records of `items.jsonl`. A last line cut short by a crash is ignored
/// (its item is asked again); a broken line elsewhere is an error.
pub fn read_items(path: &Path) -> Result<HashMap<(String, String), ItemRecord>> {
    let records: Vec<ItemRecord> = read_jsonl(path, &|e| {
        format!("not an item record ({e}); delete the line to ask that item again")
    })?;
    Ok(records
        .into_iter()
        .map(|r| ((r.group.clone(), r.item.clone()), r))
        .collect())
}
