//! The end of a run: the finished item records of every group become the `RunResult` that
//! `results.json` holds and reports read.

use super::RunSpec;
use crate::data::groups::TargetGroup;
use crate::eval::result::ItemRecord;
use crate::eval::run_result::{GroupResult, RunResult};
use crate::eval::task::Task;
use crate::Result;
use std::collections::HashMap;

/// The `RunResult` of the finished records of `groups`.
pub fn summarise(
    task: &Task,
    groups: &[TargetGroup],
    spec: &RunSpec,
    model: &str,
    records: &HashMap<(String, String), ItemRecord>,
) -> Result<RunResult> {
    let mut group_results = Vec::with_capacity(groups.len());
    for group in groups {
        let mine: Vec<Option<&ItemRecord>> = task
            .items
            .iter()
            .map(|i| records.get(&(group.name.clone(), i.id.clone())))
            .collect();
        let answers: Vec<Option<f64>> = mine.iter().map(|r| r.and_then(|r| r.answer)).collect();
        let present = mine.iter().flatten();
        let answered = present
            .clone()
            .map(|r| match (&r.probs, &r.samples) {
                (Some(_), _) => 1,
                (None, Some(s)) => s.len(),
                (None, None) => 0,
            })
            .sum();
        group_results.push(GroupResult {
            group: group.name.clone(),
            size: group.size,
            values: *group.values.scores(),
            target: task.target(group),
            predicted: task.predicted(&answers)?,
            answered,
            parse_failures: present.clone().map(|r| r.parse_failures).sum(),
            refusals: present.map(|r| r.refusals).sum(),
        });
    }
    Ok(RunResult {
        task: task.kind,
        method: spec.method_label(),
        model: model.to_string(),
        answer_mode: spec.answer_mode,
        keys: task.keys.clone(),
        categories: task.categories.clone(),
        groups: group_results,
    })
}
