//! The evaluation loop: for each group, for each item not yet in `items.jsonl`, ask the model,
//! append the record and flush it, so an interrupted run loses nothing it finished and a rerun
//! with the same `--out` resumes. Items of one group are asked in batches that share the
//! group's persona (the model reuses its KV cache). At the end the records become a
//! `RunResult` in `results.json`, written atomically.
//!
//! Threads: the runner runs on the caller's thread; `stop` may be set from another (a Ctrl-C
//! handler) and is checked between batches.

mod arguments;
mod folder;
mod summary;
#[cfg(test)]
mod tests;

pub use folder::{read_items, ITEMS_FILE, RUN_FILE};
pub use summary::summarise;

use folder::start_info;

use super::answer_mode::{read_samples, AnswerMode};
use super::answerer::{paper_sampling, Answerer, ChoiceItem};
use super::methods::{persona, Method, MethodLabel};
use super::result::{ItemRecord, Speed};
use super::run_result::{RunResult, RESULTS_FILE};
use super::task::{Task, TaskKind};
use crate::data::groups::TargetGroup;
use crate::output::{now_utc, stable_hash, write_json, JsonlLog};
use crate::{Error, Field, Result};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Tokens a survey answer may take in sample mode: enough for "my answer is 7" or an option
/// label; the parser reads only the first line.
pub const SURVEY_MAX_TOKENS: usize = 24;

/// How the run asks its questions (recorded in `run.json`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    pub method: Method,
    pub answer_mode: AnswerMode,
    /// Samples per item in sample mode.
    pub samples: usize,
    pub seed: u64,
    /// Items per model call.
    pub batch_size: usize,
    /// ESS few-shot examples per question (0: none).
    pub shots: usize,
    pub adapter: Option<String>,
    pub groups_file: String,
    pub gold: Option<String>,
    pub limit_items: Option<usize>,
}

impl RunSpec {
    /// The method as reports name it: few-shot runs get a "+Nshot" suffix.
    pub fn method_label(&self) -> MethodLabel {
        MethodLabel::new(self.method, self.shots)
    }
}

/// Where a run stands, for a progress bar.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    pub group: String,
    /// Items finished over all groups, including those found finished on resume.
    pub done: usize,
    pub total: usize,
    /// Items computed per second in this invocation.
    pub items_per_s: f64,
    /// Seconds left at the current rate (`None` before the first batch finished).
    pub eta_s: Option<f64>,
}

impl Progress {
    /// `done` of `total` items finished while working on `group`, `computed` of them since
    /// `started` (the rest were found finished on resume).
    pub(crate) fn at(
        group: &str,
        done: usize,
        total: usize,
        computed: usize,
        started: Instant,
    ) -> Self {
        let elapsed = started.elapsed().as_secs_f64();
        let rate = if elapsed > 0.0 {
            computed as f64 / elapsed
        } else {
            0.0
        };
        Progress {
            group: group.to_string(),
            done,
            total,
            items_per_s: rate,
            eta_s: (rate > 0.0).then(|| (total - done) as f64 / rate),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Finished(RunResult),
    /// `stop` was set: the finished items are saved; rerun to resume.
    Interrupted {
        done: usize,
        total: usize,
    },
}

/// Runs `task` for `groups` into `out_dir` (created if needed), resuming from its `items.jsonl`.
pub fn run(
    out_dir: &Path,
    task: &Task,
    groups: &[TargetGroup],
    spec: &RunSpec,
    answerer: &mut dyn Answerer,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Outcome> {
    check_spec(spec)?;
    std::fs::create_dir_all(out_dir)
        .map_err(|e| Error::file(out_dir, None, format!("cannot create the run folder: {e}")))?;
    let mut info = start_info(out_dir, task, groups, spec, answerer.name())?;
    let run_path = out_dir.join(RUN_FILE);
    write_json(&run_path, &info)?;

    let items_path = out_dir.join(ITEMS_FILE);
    let mut finished = read_items(&items_path)?;
    let mut items_file = JsonlLog::open(&items_path, true)?;

    let total = groups.len() * task.items.len();
    let mut done = groups
        .iter()
        .map(|g| {
            task.items
                .iter()
                .filter(|i| finished.contains_key(&(g.name.clone(), i.id.clone())))
                .count()
        })
        .sum::<usize>();
    let started = Instant::now();
    let tokens_before = answerer.tokens_processed();
    let mut computed = 0usize;
    let mut interrupted = false;

    'groups: for group in groups {
        let pending: Vec<usize> = (0..task.items.len())
            .filter(|&i| !finished.contains_key(&(group.name.clone(), task.items[i].id.clone())))
            .collect();
        let pending = asking_order(task, pending, spec.answer_mode);
        if pending.is_empty() {
            continue;
        }
        answerer.select_group(&group.name)?;
        answerer.condition_on(&group.values)?;
        let persona = persona(spec.method, group);
        for batch in pending.chunks(spec.batch_size.max(1)) {
            if stop.load(Ordering::SeqCst) {
                interrupted = true;
                break 'groups;
            }
            let records = answer_batch(task, batch, group, &persona, spec, answerer)?;
            for record in records {
                items_file.append(&record)?;
                finished.insert((record.group.clone(), record.item.clone()), record);
            }
            done += batch.len();
            computed += batch.len();
            progress(&Progress::at(&group.name, done, total, computed, started));
        }
    }
    items_file.sync()?;

    let tokens = answerer.tokens_processed().saturating_sub(tokens_before);
    info.speed.push(Speed::new(
        computed,
        tokens,
        started.elapsed().as_secs_f64(),
    ));
    if interrupted {
        write_json(&run_path, &info)?;
        return Ok(Outcome::Interrupted { done, total });
    }
    let result = summarise(task, groups, spec, &info.model, &finished)?;
    write_json(&out_dir.join(RESULTS_FILE), &result)?;
    info.finished = Some(now_utc());
    write_json(&run_path, &info)?;
    Ok(Outcome::Finished(result))
}

/// Answers without a run folder (`valuelab predict`): every item for every group, in order.
/// None when `stop` was set (between batches) before the end.
pub fn predict(
    task: &Task,
    groups: &[TargetGroup],
    spec: &RunSpec,
    answerer: &mut dyn Answerer,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Option<Vec<ItemRecord>>> {
    check_spec(spec)?;
    let total = groups.len() * task.items.len();
    let started = Instant::now();
    let mut records = Vec::with_capacity(total);
    for group in groups {
        answerer.select_group(&group.name)?;
        answerer.condition_on(&group.values)?;
        let persona = persona(spec.method, group);
        let indices = asking_order(task, (0..task.items.len()).collect(), spec.answer_mode);
        let mut answered = Vec::with_capacity(indices.len());
        for batch in indices.chunks(spec.batch_size.max(1)) {
            if stop.load(Ordering::SeqCst) {
                return Ok(None);
            }
            let batch_records = answer_batch(task, batch, group, &persona, spec, answerer)?;
            answered.extend(batch.iter().copied().zip(batch_records));
            let done = records.len() + answered.len();
            progress(&Progress::at(&group.name, done, total, done, started));
        }
        // Back in the task's order.
        answered.sort_by_key(|(i, _)| *i);
        records.extend(answered.into_iter().map(|(_, record)| record));
    }
    Ok(Some(records))
}

/// The order a group's `items` are asked in. Expect mode asks the shortest prompts first, so
/// that the items of one call are of similar lengths and their batched rows carry little
/// padding (PVQ-40 under prompt-long, 8 groups, calls of 16: about 4 % faster than in the
/// questionnaire's order, docs/performance.md). Answers are kept by item, so the order shows
/// only in the order of `items.jsonl`. Sample mode and argument generation keep the task's order.
fn asking_order(task: &Task, mut items: Vec<usize>, mode: AnswerMode) -> Vec<usize> {
    if mode == AnswerMode::Expect && task.kind != TaskKind::Args {
        items.sort_by_key(|&i| task.items[i].prompt.len());
    }
    items
}

fn check_spec(spec: &RunSpec) -> Result<()> {
    if spec.answer_mode == AnswerMode::Sample && spec.samples == 0 {
        return Err(Error::input(
            Field::Samples,
            "samples must be at least 1 in sample mode",
        ));
    }
    Ok(())
}

/// Asks the model about the items `batch` (indices into `task.items`) for one group.
fn answer_batch(
    task: &Task,
    batch: &[usize],
    group: &TargetGroup,
    persona: &str,
    spec: &RunSpec,
    answerer: &mut dyn Answerer,
) -> Result<Vec<ItemRecord>> {
    let record = |i: usize| ItemRecord {
        group: group.name.clone(),
        item: task.items[i].id.clone(),
        probs: None,
        samples: None,
        answer: None,
        parse_failures: 0,
        refusals: 0,
        generation: None,
    };
    if task.kind == TaskKind::Args {
        let records = batch.iter().map(|&i| record(i)).collect();
        return arguments::generate(task, batch, records, group, persona, spec, answerer);
    }
    match spec.answer_mode {
        AnswerMode::Expect => {
            let items: Vec<ChoiceItem> = batch
                .iter()
                .map(|&i| ChoiceItem {
                    prompt: task.prompt_for(i, &group.name),
                    options: task.items[i].options.clone(),
                    subject: Some(task.items[i].subject.clone()),
                })
                .collect();
            let probs = answerer.option_probabilities(persona, &items)?;
            if probs.len() != batch.len() {
                return Err(Error::invalid(format!(
                    "the model scored {} of {} items (an answerer bug)",
                    probs.len(),
                    batch.len()
                )));
            }
            batch
                .iter()
                .zip(probs)
                .map(|(&i, p)| {
                    let item = &task.items[i];
                    if p.len() != item.options.len() || p.iter().any(|x| !x.is_finite()) {
                        return Err(Error::invalid(format!(
                            "item {}: {} option probabilities for {} options (an answerer bug)",
                            item.id,
                            p.len(),
                            item.options.len()
                        )));
                    }
                    let mut r = record(i);
                    r.answer = Some(item.expected_answer(&p));
                    r.probs = Some(p);
                    Ok(r)
                })
                .collect()
        }
        AnswerMode::Sample => batch
            .iter()
            .map(|&i| {
                let item = &task.items[i];
                let prompts = vec![task.prompt_for(i, &group.name); spec.samples];
                let cfg = paper_sampling(
                    item_seed(spec.seed, &group.name, &item.id),
                    SURVEY_MAX_TOKENS,
                );
                let subjects = vec![item.subject.clone(); spec.samples];
                let samples = answerer.generate(persona, &prompts, &subjects, &cfg)?;
                let read = read_samples(item, &samples);
                let mut r = record(i);
                r.answer = read.answer;
                r.parse_failures = read.parse_failures;
                r.refusals = read.refusals;
                r.samples = Some(samples);
                Ok(r)
            })
            .collect(),
    }
}

fn first(mut texts: Vec<String>) -> String {
    if texts.is_empty() {
        String::new()
    } else {
        texts.swap_remove(0)
    }
}

/// A per-item sampling seed, so an item's samples do not depend on how the run was batched or
/// resumed.
fn item_seed(seed: u64, group: &str, item: &str) -> u64 {
    seed ^ stable_hash(group) ^ stable_hash(item).rotate_left(29)
}
