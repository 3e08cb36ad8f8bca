//! The evaluation loop: for each group, for each item not yet in `items.jsonl`, ask the model,
//! append the record and flush it, so an interrupted run loses nothing it finished and a rerun
//! with the same `--out` resumes. Items of one group are asked in batches that share the
//! group's persona (the model reuses its KV cache). At the end the records become a
//! `RunResult` in `results.json`, written atomically.
//!
//! Threads: the runner runs on the caller's thread; `stop` may be set from another (a Ctrl-C
//! handler) and is checked between batches.

use super::answer::{read_samples, AnswerMode};
use super::answerer::{paper_sampling, Answerer, ChoiceItem};
use super::args::{
    parse_stance, premise_prompt, stance_verb, PREMISE_MAX_TOKENS, STANCE_MAX_TOKENS,
};
use super::methods::{persona, Method};
use super::report::model::{GroupResult, RunResult, RESULTS_FILE};
use super::result::{ArgumentGeneration, ItemRecord, RunInfo, Speed};
use super::task::{Task, TaskKind};
use crate::data::groups::TargetGroup;
use crate::output::{now_utc, read_jsonl, stable_hash, write_json, JsonlLog};
use crate::{Error, Result};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub const RUN_FILE: &str = "run.json";
pub const ITEMS_FILE: &str = "items.jsonl";

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
    pub fn method_label(&self) -> String {
        if self.shots > 0 {
            format!("{}+{}shot", self.method.name(), self.shots)
        } else {
            self.method.name().to_string()
        }
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
    check_spec(task, spec)?;
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
        if pending.is_empty() {
            continue;
        }
        answerer.select_group(&group.name)?;
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
            let elapsed = started.elapsed().as_secs_f64();
            let rate = if elapsed > 0.0 {
                computed as f64 / elapsed
            } else {
                0.0
            };
            progress(&Progress {
                group: group.name.clone(),
                done,
                total,
                items_per_s: rate,
                eta_s: (rate > 0.0).then(|| (total - done) as f64 / rate),
            });
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
    check_spec(task, spec)?;
    let total = groups.len() * task.items.len();
    let started = Instant::now();
    let mut records = Vec::with_capacity(total);
    for group in groups {
        answerer.select_group(&group.name)?;
        let persona = persona(spec.method, group);
        let indices: Vec<usize> = (0..task.items.len()).collect();
        for batch in indices.chunks(spec.batch_size.max(1)) {
            if stop.load(Ordering::SeqCst) {
                return Ok(None);
            }
            records.extend(answer_batch(task, batch, group, &persona, spec, answerer)?);
            let rate = records.len() as f64 / started.elapsed().as_secs_f64().max(1e-9);
            progress(&Progress {
                group: group.name.clone(),
                done: records.len(),
                total,
                items_per_s: rate,
                eta_s: Some((total - records.len()) as f64 / rate),
            });
        }
    }
    Ok(Some(records))
}

fn check_spec(task: &Task, spec: &RunSpec) -> Result<()> {
    AnswerMode::for_task(task.kind, Some(spec.answer_mode))?;
    if spec.answer_mode == AnswerMode::Sample && spec.samples == 0 {
        return Err(Error::invalid(
            "--samples must be at least 1 in sample mode",
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
        return batch
            .iter()
            .map(|&i| {
                let mut r = record(i);
                let generation =
                    generate_argument(task, i, group, persona, spec, answerer, &mut r)?;
                r.generation = Some(generation);
                Ok(r)
            })
            .collect();
    }
    match spec.answer_mode {
        AnswerMode::Expect => {
            let items: Vec<ChoiceItem> = batch
                .iter()
                .map(|&i| ChoiceItem {
                    prompt: task.prompt_for(i, &group.name),
                    options: task.items[i].options.clone(),
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
                let samples = answerer.generate(persona, &prompts, &cfg)?;
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

/// Table 19: a stance, then a premise for the stance generated. An unreadable stance is a
/// parse failure and gets no premise prompt (it has no stance to fill in).
fn generate_argument(
    task: &Task,
    index: usize,
    group: &TargetGroup,
    persona: &str,
    spec: &RunSpec,
    answerer: &mut dyn Answerer,
    record: &mut ItemRecord,
) -> Result<ArgumentGeneration> {
    let item = &task.items[index];
    let conclusion = item.conclusion.clone().unwrap_or_default();
    let seed = item_seed(spec.seed, &group.name, &item.id);
    let stance_cfg = paper_sampling(seed, STANCE_MAX_TOKENS);
    let stance_text =
        first(answerer.generate(persona, std::slice::from_ref(&item.prompt), &stance_cfg)?);
    let mut samples = vec![stance_text.clone()];
    let stance = if super::answer::is_refusal(&stance_text) {
        record.refusals += 1;
        None
    } else {
        let s = parse_stance(&stance_text);
        if s.is_none() {
            record.parse_failures += 1;
        }
        s
    };
    let premise = match stance {
        Some(s) => {
            let mut cfg = paper_sampling(seed.wrapping_add(1), PREMISE_MAX_TOKENS);
            cfg.stop = vec!["\n\n".to_string()];
            let text = first(answerer.generate(
                persona,
                &[premise_prompt(&conclusion, stance_verb(s))],
                &cfg,
            )?);
            if super::answer::is_refusal(&text) {
                record.refusals += 1;
            }
            samples.push(text.clone());
            Some(text.trim().to_string())
        }
        None => None,
    };
    record.samples = Some(samples);
    Ok(ArgumentGeneration {
        conclusion,
        method: spec.method_label(),
        stance: stance.map(|s| s.as_str().to_string()),
        stance_text,
        premise,
    })
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
        task: task.kind.name().to_string(),
        method: spec.method_label(),
        model: model.to_string(),
        answer_mode: spec.answer_mode.name().to_string(),
        keys: task.keys.clone(),
        categories: task.categories.clone(),
        groups: group_results,
    })
}

/// The run's `run.json`: a fresh one, or the one of the run being resumed (which must describe
/// the same computation, or its items would be mixed with different ones).
fn start_info(
    out_dir: &Path,
    task: &Task,
    groups: &[TargetGroup],
    spec: &RunSpec,
    model: String,
) -> Result<RunInfo> {
    let fresh = RunInfo {
        task: task.kind.name().to_string(),
        method: spec.method_label(),
        model,
        adapter: spec.adapter.clone(),
        answer_mode: spec.answer_mode.name().to_string(),
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
        Error::file(
            &path,
            None,
            format!("not a valuelab run.json ({e}); use another --out folder"),
        )
    })?;
    if !old.same_run_as(&fresh) {
        return Err(Error::file(
            &path,
            None,
            format!(
                "this folder holds another run ({} {} {} {} on {}); use another --out folder to start a new one",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::pvq::PvqItem;
    use crate::eval::testing::PersonaFollower;
    use crate::eval::{ess, pvq};
    use std::fs::OpenOptions;
    use std::io::Write;
    use valuelab_common::{Value, ValueDistribution};

    const ALBANIA: [f64; 10] = [4.65, 5.23, 4.56, 4.52, 3.89, 5.15, 4.69, 3.76, 4.91, 5.0];
    const STEPS: [f64; 10] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1.0, 2.0, 3.0, 4.0];

    fn groups() -> Vec<TargetGroup> {
        vec![
            TargetGroup {
                name: "Albania".into(),
                values: ValueDistribution::parse(ALBANIA).unwrap(),
                size: None,
            },
            TargetGroup {
                name: "Steps".into(),
                values: ValueDistribution::parse(STEPS).unwrap(),
                size: Some(12),
            },
        ]
    }

    /// Three items: two score Power, one Benevolence; each names its value so the test double
    /// can answer from the persona.
    fn tiny_pvq() -> Task {
        let item = |number, value: Value| PvqItem {
            number,
            value,
            text: format!("{} matters to him.", value.name()),
        };
        pvq::task(&[
            item(1, Value::Power),
            item(2, Value::Benevolence),
            item(3, Value::Power),
        ])
        .unwrap()
    }

    fn spec(method: Method) -> RunSpec {
        RunSpec {
            method,
            answer_mode: AnswerMode::Expect,
            samples: 3,
            seed: 1,
            batch_size: 2,
            shots: 0,
            adapter: None,
            groups_file: "fixture.tsv".into(),
            gold: None,
            limit_items: None,
        }
    }

    fn run_to_end(
        dir: &Path,
        task: &Task,
        spec: &RunSpec,
        fake: &mut PersonaFollower,
    ) -> RunResult {
        match run(
            dir,
            task,
            &groups(),
            spec,
            fake,
            &AtomicBool::new(false),
            &mut |_| {},
        )
        .unwrap()
        {
            Outcome::Finished(r) => r,
            other => panic!("run did not finish: {other:?}"),
        }
    }

    fn assert_close(actual: &[Option<f64>], expected: &[Option<f64>]) {
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            match (a, e) {
                (Some(a), Some(e)) => assert!((a - e).abs() < 1e-9, "{actual:?} != {expected:?}"),
                (None, None) => {}
                _ => panic!("{actual:?} != {expected:?}"),
            }
        }
    }

    /// Per value in `ALL_VALUES` order, only Benevolence (1) and Power (4) set.
    fn ben_pow(ben: f64, pow: f64) -> Vec<Option<f64>> {
        let mut v = vec![None; 10];
        v[1] = Some(ben);
        v[4] = Some(pow);
        v
    }

    #[test]
    fn runner_turns_answers_into_the_hand_computed_run_result() {
        let dir = tempfile::tempdir().unwrap();
        let mut fake = PersonaFollower::default();
        let result = run_to_end(
            dir.path(),
            &tiny_pvq(),
            &spec(Method::PromptShort),
            &mut fake,
        );
        assert_eq!(result.task, "pvq");
        assert_eq!(result.method, "prompt-short");
        assert_eq!(result.model, "persona-follower");
        assert_eq!(result.answer_mode, "expect");
        assert_eq!(result.keys[6], "Self-direction");
        let [albania, steps] = &result.groups[..] else {
            panic!("two groups")
        };
        // The double answers each item with the persona's score: Albania's Power 3.89 → (3.89 − 1)/5.
        assert_close(
            &albania.predicted,
            &ben_pow((5.23 - 1.0) / 5.0, (3.89 - 1.0) / 5.0),
        );
        assert_close(&steps.predicted, &ben_pow(0.2, 0.8));
        let target: Vec<Option<f64>> = STEPS.iter().map(|s| Some((s - 1.0) / 5.0)).collect();
        assert_close(&steps.target, &target);
        assert_eq!(
            (steps.answered, steps.parse_failures, steps.refusals),
            (3, 0, 0)
        );
        assert_eq!((steps.size, steps.values), (Some(12), STEPS));
        // Files: one record per (group, item), results.json equals the returned result.
        let lines = std::fs::read_to_string(dir.path().join(ITEMS_FILE)).unwrap();
        assert_eq!(lines.lines().count(), 6);
        assert_eq!(RunResult::load(dir.path()).unwrap(), result);
        let info: RunInfo =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(RUN_FILE)).unwrap())
                .unwrap();
        assert!(info.finished.is_some());
        assert_eq!(info.speed.len(), 1);
        assert_eq!((info.speed[0].items, info.speed[0].tokens), (6, 60));
    }

    #[test]
    fn without_a_persona_the_double_answers_the_middle_of_the_scale() {
        let dir = tempfile::tempdir().unwrap();
        let result = run_to_end(
            dir.path(),
            &tiny_pvq(),
            &spec(Method::Base),
            &mut PersonaFollower::default(),
        );
        // Uniform over 1..6: expected answer 3.5 → 0.5 for every value with items.
        assert_close(&result.groups[0].predicted, &ben_pow(0.5, 0.5));
    }

    #[test]
    fn an_interrupted_run_resumes_without_asking_finished_items_again() {
        let dir = tempfile::tempdir().unwrap();
        let task = tiny_pvq();
        let spec = spec(Method::PromptLong);
        let stop = AtomicBool::new(false);
        let mut fake = PersonaFollower::default();
        let outcome = run(
            dir.path(),
            &task,
            &groups(),
            &spec,
            &mut fake,
            &stop,
            &mut |_| stop.store(true, Ordering::SeqCst),
        )
        .unwrap();
        assert_eq!(outcome, Outcome::Interrupted { done: 2, total: 6 });
        assert_eq!(fake.items_scored, 2);
        assert!(!dir.path().join(RESULTS_FILE).exists());
        // A crash mid-line leaves half a record: it is dropped and its item asked again.
        let items = dir.path().join(ITEMS_FILE);
        let mut f = OpenOptions::new().append(true).open(&items).unwrap();
        write!(f, "{{\"group\":\"Albania\",\"item\":\"3\",\"pro").unwrap();
        drop(f);

        let mut fake = PersonaFollower::default();
        let resumed = run_to_end(dir.path(), &task, &spec, &mut fake);
        assert_eq!(
            fake.items_scored, 4,
            "only the four unfinished items are asked"
        );
        let fresh_dir = tempfile::tempdir().unwrap();
        assert_eq!(
            resumed,
            run_to_end(
                fresh_dir.path(),
                &task,
                &spec,
                &mut PersonaFollower::default()
            )
        );
        assert_eq!(read_items(&items).unwrap().len(), 6);
        assert!(std::fs::read_to_string(&items)
            .unwrap()
            .lines()
            .all(|l| serde_json::from_str::<ItemRecord>(l).is_ok()));
        let info: RunInfo =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(RUN_FILE)).unwrap())
                .unwrap();
        assert_eq!(info.speed.len(), 2, "one speed entry per invocation");
    }

    #[test]
    fn a_folder_of_another_run_is_not_mixed_in() {
        let dir = tempfile::tempdir().unwrap();
        run_to_end(
            dir.path(),
            &tiny_pvq(),
            &spec(Method::Base),
            &mut PersonaFollower::default(),
        );
        let err = run(
            dir.path(),
            &tiny_pvq(),
            &groups(),
            &spec(Method::PromptShort),
            &mut PersonaFollower::default(),
            &AtomicBool::new(false),
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("another run") && err.contains("--out"),
            "{err}"
        );
    }

    #[test]
    fn sample_mode_averages_parsed_answers_and_counts_failures_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let mut fake =
            PersonaFollower::with_canned(&["4", "As an AI, I cannot answer this.", "banana"]);
        let spec = RunSpec {
            answer_mode: AnswerMode::Sample,
            ..spec(Method::PromptShort)
        };
        let result = run_to_end(dir.path(), &tiny_pvq(), &spec, &mut fake);
        assert_eq!(result.answer_mode, "sample");
        for g in &result.groups {
            // Every item: "4" → 0.6, one refusal, one parse failure, out of 3 samples.
            assert_close(&g.predicted, &ben_pow(0.6, 0.6));
            assert_eq!((g.answered, g.parse_failures, g.refusals), (9, 3, 3));
        }
        assert_eq!(fake.generate_calls, 6, "one call of 3 samples per item");
        let records = read_items(&dir.path().join(ITEMS_FILE)).unwrap();
        let r = &records[&("Steps".to_string(), "2".to_string())];
        assert_eq!(r.samples.as_ref().unwrap().len(), 3);
        assert!(r.probs.is_none());
    }

    #[test]
    fn every_sample_unparseable_gives_no_prediction() {
        let dir = tempfile::tempdir().unwrap();
        let mut fake = PersonaFollower::with_canned(&["no idea"]);
        let spec = RunSpec {
            answer_mode: AnswerMode::Sample,
            samples: 2,
            ..spec(Method::Base)
        };
        let result = run_to_end(dir.path(), &tiny_pvq(), &spec, &mut fake);
        assert_eq!(result.groups[0].predicted, vec![None; 10]);
        assert_eq!(result.groups[0].parse_failures, 6);
    }

    #[test]
    fn ess_runs_compare_with_gold_where_it_exists() {
        use crate::data::ess::EssQuestion;
        use crate::groups::gold::GoldRow;
        use valuelab_common::scale::AnswerScale;
        let q = |code: &str, scale: &str, text: &str| EssQuestion {
            code: code.into(),
            chapter: "politics".into(),
            scale: AnswerScale::parse(scale).unwrap(),
            question: text.into(),
        };
        let questions = vec![
            q(
                "pow",
                "0-10",
                "How much is Power worth? Answer: my answer is",
            ),
            q("tra", "Yes|No", "Is Tradition dull? Answer: my answer is"),
        ];
        let gold = vec![GoldRow {
            group: "Steps".into(),
            code: "pow".into(),
            mean: 0.7,
            n: 30,
        }];
        let task = ess::task(&questions, Some(&gold)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let result = run_to_end(
            dir.path(),
            &task,
            &spec(Method::PromptShort),
            &mut PersonaFollower::default(),
        );
        assert_eq!(result.keys, ["pow", "tra"]);
        assert_eq!(result.categories, ["politics", "politics"]);
        let steps = &result.groups[1];
        // Power 5 → 0.8 on 0..10; Tradition 3 → 0.4 on Yes|No (probability 0.4 of "No").
        assert_close(&steps.predicted, &[Some(0.8), Some(0.4)]);
        assert_close(&steps.target, &[Some(0.7), None]);
        assert_close(&result.groups[0].target, &[None, None]);
    }

    #[test]
    fn argument_generation_stores_stance_and_premise_for_human_evaluation() {
        use crate::data::touche::{Argument, Stance};
        let arg = |id, conclusion: &str| Argument {
            id,
            conclusion: conclusion.into(),
            stance: Stance::Against,
            premise: "p".into(),
            values: [false; 10],
        };
        let task = crate::eval::args::task(&[
            arg(4, "We should ban cars"),
            arg(9, "We should ban cars"),
            arg(11, "We should fly"),
        ])
        .unwrap();
        assert_eq!(task.items.len(), 2);
        let dir = tempfile::tempdir().unwrap();
        let mut fake = PersonaFollower::with_canned(&["I disagree.", "Cars give people freedom."]);
        let sampling = RunSpec {
            answer_mode: AnswerMode::Sample,
            ..spec(Method::PromptLong)
        };
        let result = run_to_end(dir.path(), &task, &sampling, &mut fake);
        assert_eq!(
            (result.task.as_str(), result.answer_mode.as_str()),
            ("args", "sample")
        );
        assert!(result.keys.is_empty() && result.groups[0].predicted.is_empty());
        assert_eq!(
            result.groups[0].answered, 4,
            "two generations per conclusion"
        );
        let records = read_items(&dir.path().join(ITEMS_FILE)).unwrap();
        let g = records[&("Steps".to_string(), "4".to_string())]
            .generation
            .clone()
            .unwrap();
        assert_eq!(g.conclusion, "We should ban cars");
        assert_eq!(g.method, "prompt-long");
        assert_eq!(g.stance.as_deref(), Some("against"));
        assert_eq!(g.premise.as_deref(), Some("Cars give people freedom."));
        let err = run(
            dir.path(),
            &task,
            &groups(),
            &spec(Method::Base),
            &mut fake,
            &AtomicBool::new(false),
            &mut |_| {},
        );
        assert!(err.unwrap_err().to_string().contains("--answer sample"));
    }

    #[test]
    fn predict_ess_answers_groups_and_questions_it_has_never_seen() {
        let dir = tempfile::tempdir().unwrap();
        let groups_tsv = dir.path().join("groups.tsv");
        std::fs::write(
            &groups_tsv,
            "\tCountry\tAchievement\tBenevolence\tConformity\tHedonism\tPower\tSecurity\tSelf-direction\tStimulation\tTradition\tUniversalism\n\
             0\tAtlantis\t2\t3\t4\t5\t3.0\t1\t6\t2\t2\t2\n",
        )
        .unwrap();
        let questions_tsv = dir.path().join("questions.tsv");
        std::fs::write(
            &questions_tsv,
            "code\tchapter\tscale\tquestion\n\
             zz1\tnew_chapter\t0-4\tHow much Power should the sea have? Please answer 0 to 4. Answer: my answer is\n\
             zz2\tnew_chapter\tLow|Middle|High\tHow much Self-direction do fish need? Answer: my answer is\n",
        )
        .unwrap();
        let groups = crate::data::groups::read_groups(&groups_tsv).unwrap();
        let questions = crate::data::ess::read_questions(&questions_tsv).unwrap();
        let task = ess::task(&questions, None).unwrap();
        let records = predict(
            &task,
            &groups,
            &spec(Method::PromptShort),
            &mut PersonaFollower::default(),
            &AtomicBool::new(false),
            &mut |_| {},
        )
        .unwrap()
        .unwrap();
        let out = dir.path().join("predictions.tsv");
        ess::write_predictions(&out, &records).unwrap();
        // Power 3.0 → 0.4 of the way up 0..4; Self-direction 6 → the top of Low|Middle|High.
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "group\tcode\tprediction\nAtlantis\tzz1\t0.400000\nAtlantis\tzz2\t1.000000\n"
        );
    }
}
