//! The job API end to end on a tiny random model and the shared research data: specs survive
//! JSON, a cancelled job leaves a run folder that the same job resumes to the result an
//! uninterrupted run gives, and every run leaves its record.

use super::*;
use crate::data::testdata::shared_data;
use crate::eval::{Method, RunResult, TaskKind};
use crate::groups::GroupSelection;
use crate::lora::LoraConfig;
use crate::models::testing::write_random_tiny_gguf;
use crate::vim::{Rule, TrainingMethod};
use std::sync::Mutex;
use train::LoraTraining;
use vim_data::VimExamples;

pub(super) fn tiny_model(dir: &Path) -> String {
    let path = dir.join("tiny.gguf");
    write_random_tiny_gguf(&path, 7).unwrap();
    path.display().to_string()
}

/// The k-means groups alone (no respondents, for speed), split as by default.
pub(super) fn test_profiles() -> profile_split::ProfileSources {
    profile_split::ProfileSources {
        data_dir: Some(shared_data().root().to_path_buf()),
        groups_file: None,
        respondents: None,
        no_respondents: true,
        held_out_groups: 20,
        validation_groups: 10,
    }
}

/// A 4-item PVQ run of two groups under `method` with the folder `adapter`.
pub(super) fn eval_with(model: &str, method: Method, adapter: &Path, out: &Path) -> Job {
    Job::Eval(EvalJob {
        task: TaskKind::Pvq,
        data_dir: Some(shared_data().root().to_path_buf()),
        groups_file: None,
        groups: GroupSelection::Names(vec!["Albania".into(), "Group_12".into()]),
        model: ModelChoice {
            method,
            model: model.to_string(),
            adapter: Some(adapter.to_path_buf()),
            cuda: false,
            answer: None,
            samples: 1,
            seed: 3,
            batch_size: 4,
            threads: Some(1),
        },
        limit_items: Some(4),
        questions: None,
        gold: None,
        shots: 0,
        out: out.to_path_buf(),
    })
}

/// A prompt-short PVQ run of Group_1 and Albania, 4 items, 5 samples (for sample mode).
fn pvq_job(model: &str, out: &Path) -> Job {
    let Job::Eval(mut job) = eval_with(model, Method::PromptShort, out, out) else {
        unreachable!()
    };
    job.groups = GroupSelection::Names(vec!["Group_1".into(), "Albania".into()]);
    job.model.adapter = None;
    job.model.samples = 5;
    job.model.batch_size = 2;
    Job::Eval(job)
}

/// A sink that cancels the job at its first progress event of `kind` and keeps the events.
pub(super) struct CancelAtFirst {
    pub(super) token: CancelToken,
    pub(super) events: Mutex<Vec<JobEvent>>,
}

impl ProgressSink for CancelAtFirst {
    fn event(&self, event: &JobEvent) {
        if matches!(
            event,
            JobEvent::Items(_)
                | JobEvent::Train {
                    event: crate::train::TrainEvent::Step { .. }
                }
        ) {
            self.token.cancel();
        }
        self.events.lock().unwrap().push(event.clone());
    }
}

/// A small simulation on the shared Norwegian sample: 12 personas, two instruments, 10 items.
pub(super) fn simulate_job(
    model: &str,
    strategy: crate::population::Strategy,
    method: Method,
    out: &Path,
) -> SimulateJob {
    let data = shared_data();
    SimulateJob {
        strategy,
        n: 12,
        instruments: vec![
            crate::population::InstrumentKind::Pvq40,
            crate::population::InstrumentKind::Prosocial,
        ],
        model: ModelChoice {
            method,
            model: model.to_string(),
            adapter: None,
            cuda: false,
            answer: None,
            samples: 1,
            seed: 5,
            batch_size: 4,
            threads: Some(1),
        },
        data_dir: Some(data.root().to_path_buf()),
        human: Some(data.root().join("ess/microdata/ess9_no.csv")),
        key: None,
        gap: 0.25,
        limit_items: Some(10),
        human_relations: None,
        out: out.to_path_buf(),
    }
}

pub(super) fn eval_result(outcome: &RunOutcome) -> RunResult {
    match &outcome.output {
        JobOutput::Eval(out) => *out.result.clone().expect("a finished evaluation"),
        other => panic!("not an evaluation: {other:?}"),
    }
}

#[test]
fn a_job_spec_round_trips_through_json_with_its_tag() {
    let job = pvq_job("smollm2", Path::new("runs/pvq"));
    let json = job.to_json();
    assert!(
        json.contains(r#""job": "eval""#) && json.contains(r#""task": "pvq""#),
        "{json}"
    );
    assert!(json.contains(r#""method": "prompt-short""#), "{json}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spec.json");
    std::fs::write(&path, &json).unwrap();
    assert_eq!(Job::from_json_file(&path).unwrap(), job);
    // Fields with defaults may be left out of a hand-written spec.
    std::fs::write(
        &path,
        r#"{"job": "eval", "task": "valuenet", "model": {"method": "base"}, "out": "x"}"#,
    )
    .unwrap();
    let Job::Eval(short) = Job::from_json_file(&path).unwrap() else {
        panic!("an eval job")
    };
    assert_eq!(
        (short.groups, short.model.batch_size),
        (GroupSelection::All, 16)
    );
    std::fs::write(&path, r#"{"job": "fly"}"#).unwrap();
    let err = Job::from_json_file(&path).unwrap_err().to_string();
    assert!(
        err.contains("not a valuelab job spec") && err.contains("fly"),
        "{err}"
    );
}

#[test]
fn a_cancelled_evaluation_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let whole = run(
        &pvq_job(&model, &dir.path().join("whole")),
        &NullSink,
        &CancelToken::new(),
    )
    .unwrap();
    assert_eq!(whole.status, JobStatus::Finished);

    let split_dir = dir.path().join("split");
    let job = pvq_job(&model, &split_dir);
    let sink = CancelAtFirst {
        token: CancelToken::new(),
        events: Mutex::new(Vec::new()),
    };
    let stopped = run(&job, &sink, &sink.token).unwrap();
    assert!(stopped.is_cancelled());
    let JobOutput::Eval(partial) = &stopped.output else {
        panic!("an evaluation")
    };
    assert_eq!(
        (partial.done, partial.total, partial.result.is_none()),
        (2, 8, true)
    );
    assert!(!split_dir.join("results.json").exists());
    let record = record::read(&stopped.record).unwrap();
    assert_eq!(record.status, JobStatus::Cancelled);
    assert!(sink
        .events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, JobEvent::Message { text } if text.starts_with("loaded"))));

    let resumed = run(&job, &NullSink, &CancelToken::new()).unwrap();
    assert_eq!(resumed.status, JobStatus::Finished);
    assert_eq!(eval_result(&resumed), eval_result(&whole));
    let record = record::read(&split_dir.join(RECORD_FILE)).unwrap();
    assert_eq!(record.job, job);
    assert_eq!(record.seed, Some(3));
    assert_eq!(record.valuelab_version, env!("CARGO_PKG_VERSION"));
    let statuses: Vec<JobStatus> = record.invocations.iter().map(|i| i.status).collect();
    assert_eq!(statuses, [JobStatus::Cancelled, JobStatus::Finished]);
    assert!(record.finished.is_some());

    // Another job pointed at the finished folder is refused, and listed without replacing the
    // record of the work the folder holds.
    let Job::Eval(mut other) = job.clone() else {
        unreachable!()
    };
    other.model.method = Method::Base;
    let err = run(&Job::Eval(other), &NullSink, &CancelToken::new()).unwrap_err();
    assert_eq!(err.field(), Some(crate::Field::Out));
    let after = record::read(&split_dir.join(RECORD_FILE)).unwrap();
    assert_eq!((&after.job, after.status), (&job, JobStatus::Finished));
    assert_eq!(after.invocations.len(), 3);
    assert_eq!(after.invocations[2].status, JobStatus::Failed);
    assert!(after.invocations[2]
        .error
        .as_deref()
        .unwrap()
        .contains("another run"));
}

#[test]
fn bad_input_fails_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never");
    let Job::Eval(mut job) = pvq_job("smollm2", &out) else {
        unreachable!()
    };
    job.groups = GroupSelection::Names(vec!["Atlantis".into()]);
    let err = run(&Job::Eval(job), &NullSink, &CancelToken::new()).unwrap_err();
    assert!(
        err.to_string().contains("unknown group 'Atlantis'"),
        "{err}"
    );
    assert!(!out.exists(), "no run folder for a job that never started");
}

/// Three steps of QA training on the tiny model: an adapter in about a second.
pub(super) fn tiny_train_job(model: &str, group: &str, out: &Path) -> TrainJob {
    TrainJob {
        examples: VimExamples {
            data_dir: Some(shared_data().root().to_path_buf()),
            groups_file: None,
            group: group.into(),
            method: TrainingMethod::Qa,
            rule: Rule::Mean,
            threshold: crate::vim::DEFAULT_THRESHOLD,
            seed: 5,
        },
        training: LoraTraining {
            model: ModelRun {
                model: model.to_string(),
                cuda: false,
                threads: Some(1),
            },
            epochs: 1,
            lr: 1e-3,
            weight_decay: 0.01,
            batch_size: 2,
            grad_accum: 1,
            max_steps: Some(3),
            max_examples: Some(8),
            max_seq_len: 64,
            lora: LoraConfig {
                r: 2,
                lora_alpha: 4.0,
                lora_dropout: 0.0,
                target_modules: vec!["q_proj".into(), "v_proj".into()],
            },
            checkpoint_every: 100,
            resume: true,
            out: out.to_path_buf(),
        },
    }
}

#[test]
fn a_cancelled_training_resumes_to_the_uninterrupted_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let job = |out: &Path| tiny_train_job(&model, "Albania", out);
    let whole_dir = dir.path().join("whole");
    // The example spec is flattened: a train spec reads as one flat object.
    let spec = Job::Train(job(&whole_dir));
    let json: serde_json::Value = serde_json::from_str(&spec.to_json()).unwrap();
    assert_eq!(
        (&json["job"], &json["group"], &json["seed"]),
        (&"train".into(), &"Albania".into(), &5.into())
    );
    assert_eq!(serde_json::from_value::<Job>(json).unwrap(), spec);
    let whole = run(&spec, &NullSink, &CancelToken::new()).unwrap();
    assert_eq!(whole.status, JobStatus::Finished);

    let split_dir = dir.path().join("split");
    let sink = CancelAtFirst {
        token: CancelToken::new(),
        events: Mutex::new(Vec::new()),
    };
    let stopped = run(&Job::Train(job(&split_dir)), &sink, &sink.token).unwrap();
    let JobOutput::Train(out) = &stopped.output else {
        panic!("a training")
    };
    assert!(stopped.is_cancelled() && out.summary.cancelled);
    assert_eq!(out.summary.steps, 1);
    assert!(!split_dir
        .join(crate::adapter::provenance::PROVENANCE_FILE)
        .exists());

    let resumed = run(&Job::Train(job(&split_dir)), &NullSink, &CancelToken::new()).unwrap();
    let JobOutput::Train(out) = &resumed.output else {
        panic!("a training")
    };
    assert_eq!((out.summary.steps, out.summary.resumed_from), (3, Some(1)));
    let weights = |d: &Path| {
        let (_, tensors) =
            crate::adapter::peft::load_adapter(d, &candle_core::Device::Cpu).unwrap();
        let mut flat: Vec<(String, Vec<f32>)> = tensors
            .into_iter()
            .map(|(k, v)| (k, v.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
            .collect();
        flat.sort_by(|a, b| a.0.cmp(&b.0));
        flat
    };
    let (a, b) = (weights(&whole_dir), weights(&split_dir));
    assert_eq!(a.len(), b.len());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        let diff = x
            .iter()
            .zip(y)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-6, "{name} differs by {diff}");
    }
    assert!(split_dir
        .join(crate::adapter::provenance::PROVENANCE_FILE)
        .is_file());
}

#[test]
fn a_job_with_a_thread_count_runs_on_a_pool_of_that_size() {
    assert_eq!(
        in_thread_pool(Some(1), rayon::current_num_threads).unwrap(),
        1
    );
    assert_eq!(
        in_thread_pool(Some(3), rayon::current_num_threads).unwrap(),
        3
    );
}

#[test]
fn files_written_by_a_job_get_their_record_beside_them() {
    let job = Job::Predict(PredictJob {
        groups_file: "g.tsv".into(),
        respondents: false,
        data_dir: None,
        questions: "q.tsv".into(),
        model: match pvq_job("m", Path::new("x")) {
            Job::Eval(e) => e.model,
            _ => unreachable!(),
        },
        gold: None,
        shots: 0,
        out: "out/predictions.tsv".into(),
    });
    assert_eq!(job.record_path(), Path::new("out/predictions.tsv.job.json"));
    assert_eq!(
        pvq_job("m", Path::new("runs/pvq")).record_path(),
        Path::new("runs/pvq/job.json")
    );
}
