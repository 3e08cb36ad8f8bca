//! One evaluation split over a cluster's array tasks (Slurm's `sbatch --array`): task N asks the
//! groups of chunk N into its own run folder, `<out>/tasks/NNNN`, and [`merge`] joins the
//! finished task folders into the job's run folder — the same `run.json`, `items.jsonl` and
//! `results.json` one local run of the whole spec writes, group for group, so the explorer and
//! `valuelab report` cannot tell them apart. Each task resumes on its own when it runs again.
//!
//! Only evaluations split (over their groups); any other job runs whole as one task.

use super::{EvalJob, Job};
use crate::eval::run_result::{RunResult, RESULTS_FILE};
use crate::eval::runner::{ITEMS_FILE, RUN_FILE};
use crate::eval::RunInfo;
use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// The array tasks of a job: the group names each task asks (one empty list: the whole job).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayPlan {
    pub tasks: Vec<Vec<String>>,
}

impl ArrayPlan {
    /// `groups_per_task` groups a task (the last takes the rest); a job that does not split is
    /// one task.
    pub fn of(job: &Job, groups_per_task: usize) -> Result<ArrayPlan> {
        if groups_per_task == 0 {
            return Err(Error::invalid("groups per array task must be at least 1"));
        }
        let Job::Eval(eval) = job else {
            return Ok(ArrayPlan {
                tasks: vec![Vec::new()],
            });
        };
        let (_, groups) = eval.selected_groups()?;
        let names: Vec<String> = groups.into_iter().map(|g| g.name).collect();
        Ok(ArrayPlan {
            tasks: names
                .chunks(groups_per_task)
                .map(<[String]>::to_vec)
                .collect(),
        })
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The job array task `index` runs: an evaluation of its groups into its task folder, or
    /// the whole job.
    pub fn task(&self, job: &Job, index: usize) -> Result<Job> {
        let names = self.tasks.get(index).ok_or_else(|| {
            Error::invalid(format!(
                "array index {index} is out of range: the job has {} tasks (0..={})",
                self.len(),
                self.len().saturating_sub(1)
            ))
        })?;
        Ok(match job {
            Job::Eval(eval) => Job::Eval(EvalJob {
                groups: crate::groups::GroupSelection::Names(names.clone()),
                out: task_dir(&eval.out, index),
                ..eval.clone()
            }),
            other => other.clone(),
        })
    }
}

/// Where array task `index` of an evaluation into `out` writes.
pub fn task_dir(out: &Path, index: usize) -> PathBuf {
    out.join("tasks").join(format!("{index:04}"))
}

/// Joins the task folders of `eval` (split by `plan`) into its run folder; every task must have
/// finished. Returns the merged result.
pub fn merge(eval: &EvalJob, plan: &ArrayPlan) -> Result<RunResult> {
    let dirs: Vec<PathBuf> = (0..plan.len()).map(|i| task_dir(&eval.out, i)).collect();
    let unfinished: Vec<String> = dirs
        .iter()
        .enumerate()
        .filter(|(_, d)| !d.join(RESULTS_FILE).is_file())
        .map(|(i, _)| i.to_string())
        .collect();
    if !unfinished.is_empty() {
        return Err(Error::invalid(format!(
            "array tasks {} have not finished (no {RESULTS_FILE} in their folders under {}); \
             wait, or run them again",
            unfinished.join(", "),
            eval.out.join("tasks").display()
        )));
    }
    let mut merged: Option<(RunInfo, RunResult)> = None;
    let mut items = String::new();
    for dir in &dirs {
        let info: RunInfo = crate::output::read_json(&dir.join(RUN_FILE), "run.json")?;
        let result = RunResult::load(dir)?;
        items.push_str(&std::fs::read_to_string(dir.join(ITEMS_FILE)).unwrap_or_default());
        merged = Some(match merged {
            None => (info, result),
            Some((mut all_info, mut all)) => {
                if (&all.keys, &all.categories) != (&result.keys, &result.categories)
                    || !all_info.same_run_as(&info)
                {
                    return Err(Error::file(
                        dir,
                        None,
                        "this task asked other items or another model than task 0: the tasks \
                         of one array must come from one spec",
                    ));
                }
                all_info.groups.extend(info.groups);
                all_info.speed.extend(info.speed);
                all_info.started = all_info.started.min(info.started);
                all_info.finished = all_info.finished.max(info.finished);
                all.groups.extend(result.groups);
                (all_info, all)
            }
        });
    }
    let (info, result) = merged.ok_or_else(|| Error::invalid("the array has no task"))?;
    crate::output::write_atomically(&eval.out.join(ITEMS_FILE), |w| {
        Ok(w.write_all(items.as_bytes())?)
    })?;
    crate::output::write_json(&eval.out.join(RUN_FILE), &info)?;
    crate::output::write_json(&eval.out.join(RESULTS_FILE), &result)?;
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{run, CancelToken, NullSink};

    fn pvq_job(model: &Path, out: &Path) -> Job {
        let spec = serde_json::json!({
            "job": "eval", "task": "pvq",
            "data_dir": crate::data::testdata::shared_data().root(),
            "groups": {"names": ["Group_1", "Group_2", "Albania"]},
            "model": {"method": "prompt-short", "model": model, "batch_size": 2, "threads": 1},
            "limit_items": 3, "out": out,
        });
        serde_json::from_value(spec).unwrap()
    }

    #[test]
    fn array_tasks_merged_give_the_result_of_one_local_run() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("tiny.gguf");
        crate::models::testing::write_random_tiny_gguf(&model, 7).unwrap();
        let local = pvq_job(&model, &dir.path().join("local"));
        run(&local, &NullSink, &CancelToken::new()).unwrap();

        let job = pvq_job(&model, &dir.path().join("array"));
        let plan = ArrayPlan::of(&job, 2).unwrap();
        assert_eq!(plan.tasks, [vec!["Group_1", "Group_2"], vec!["Albania"]]);
        let Job::Eval(eval) = &job else {
            unreachable!()
        };
        assert!(merge(eval, &plan)
            .unwrap_err()
            .to_string()
            .contains("tasks 0, 1"));
        for index in 0..plan.len() {
            run(
                &plan.task(&job, index).unwrap(),
                &NullSink,
                &CancelToken::new(),
            )
            .unwrap();
        }
        assert!(plan
            .task(&job, 2)
            .unwrap_err()
            .to_string()
            .contains("out of range"));
        let merged = merge(eval, &plan).unwrap();
        let whole = RunResult::load(&dir.path().join("local")).unwrap();
        assert_eq!(merged, whole);
        let info: RunInfo = crate::output::read_json(&eval.out.join(RUN_FILE), "run").unwrap();
        assert_eq!(info.groups, ["Group_1", "Group_2", "Albania"]);
        let items = std::fs::read_to_string(eval.out.join(ITEMS_FILE)).unwrap();
        assert_eq!(items.lines().count(), 9);
    }

    #[test]
    fn a_job_that_does_not_split_is_one_task() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "job": "report", "dirs": ["runs/a"], "out": "report"
        }))
        .unwrap();
        let plan = ArrayPlan::of(&job, 4).unwrap();
        assert_eq!(plan.len(), 1);
        assert_eq!(plan.task(&job, 0).unwrap(), job);
        assert!(ArrayPlan::of(&job, 0).is_err());
    }
}
