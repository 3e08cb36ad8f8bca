//! `vim-cond` made and used end to end on the tiny random model and the shared data.

use super::*;
use crate::jobs::profile_split::{SplitRecord, SPLIT_FILE};
use crate::jobs::tests::{eval_result, eval_with, test_profiles};
use crate::jobs::{run, Job, JobOutput, NullSink};
use crate::models::testing::write_random_tiny_gguf_with_context;
use crate::output::read_json;
use std::path::Path;

fn vim_cond_job(model: &str, out: &Path) -> VimCondJob {
    VimCondJob {
        profiles: test_profiles(),
        tasks: TrainingMethod::Vim,
        rule: Rule::Mean,
        threshold: 3.0,
        examples: 24,
        validation_examples: 4,
        seed: 2,
        training: LoraTraining {
            max_steps: Some(2),
            max_examples: None,
            max_seq_len: 512,
            resume: false,
            ..crate::jobs::tests::tiny_train_job(model, "unused", out).training
        },
    }
}

/// The tiny model with room for a profile prompt in the byte-level test tokenizer (about 1,000
/// tokens an example).
fn long_tiny_model(dir: &Path) -> String {
    let path = dir.join("tiny-long.gguf");
    write_random_tiny_gguf_with_context(&path, 7, 2048).unwrap();
    path.display().to_string()
}

/// Every training example carries a training profile's short prompt: none of a held-out or
/// validation profile, and many different profiles.
#[test]
fn training_examples_carry_training_profiles_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = vim_cond_job("unused", &dir.path().join("out"));
    job.examples = 300;
    let data = DataDir::resolve(job.profiles.data_dir.as_deref()).unwrap();
    let (split, record) = job.profiles.split(&data, job.seed, &NullSink).unwrap();
    assert_eq!(record.held_out.len(), 48);
    let (train, valid) = job.examples(&data, &split).unwrap();
    let prompts = |ps: &[crate::conditioning::NamedProfile]| -> Vec<String> {
        ps.iter().map(|p| short_prompt(&p.values)).collect()
    };
    let (allowed, held_out, validation) = (
        prompts(&split.train),
        prompts(&split.held_out),
        prompts(&split.validation),
    );
    assert_eq!(train.len(), 300);
    for e in &train {
        assert!(allowed.contains(&e.persona), "{}", e.persona);
        assert!(!held_out.contains(&e.persona) && !validation.contains(&e.persona));
        assert!(e.persona.starts_with("Let's roleplay.\nValue Score:\n"));
    }
    let distinct: std::collections::HashSet<&String> = train.iter().map(|e| &e.persona).collect();
    assert!(distinct.len() > 50, "{} profiles", distinct.len());
    assert!(valid.iter().all(|e| validation.contains(&e.persona)));
}

#[test]
fn a_vim_cond_adapter_trains_and_answers_each_group_from_its_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let model = long_tiny_model(dir.path());
    let out = dir.path().join("vim-cond");
    let mut job = vim_cond_job(&model, &out);
    // Long enough for most examples, short enough to drop some.
    job.training.max_seq_len = 950;
    let done = run(&Job::VimCond(job.clone()), &NullSink, &CancelToken::new()).unwrap();
    let JobOutput::VimCond(output) = &done.output else {
        panic!("not a vim-cond training")
    };
    assert!(!output.summary.cancelled);
    assert_eq!(output.summary.steps, 2);
    assert_eq!(output.profiles, 70);
    assert!(
        output.dropped > 0 && output.dropped < 28,
        "{}",
        output.dropped
    );
    let split: SplitRecord = read_json(&out.join(SPLIT_FILE), "split").unwrap();
    assert!(split.held_out.contains(&"Albania".to_string()));
    let record = provenance::read(&out).unwrap().unwrap();
    assert_eq!(
        (record.method.as_str(), record.group.as_str()),
        (PROFILE_IN_PROMPT_METHOD, ANY_PROFILE)
    );
    assert_eq!(
        record.profile_scores.as_deref(),
        Some(provenance::TWO_DECIMALS)
    );
    assert!(out.join(crate::adapter::peft::CONFIG_FILE).is_file());

    // One adapter answers every group, each from its own short prompt.
    let result = eval_result(
        &run(
            &eval_with(&model, Method::VimCond, &out, &dir.path().join("eval")),
            &NullSink,
            &CancelToken::new(),
        )
        .unwrap(),
    );
    assert_eq!(result.groups.len(), 2);
    assert_ne!(result.groups[0].predicted, result.groups[1].predicted);

    // A one-group method cannot use it, and vim-cond cannot use a one-group adapter.
    let err = run(
        &eval_with(&model, Method::Vim, &out, &dir.path().join("wrong")),
        &NullSink,
        &CancelToken::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("evaluate it with --method vim-cond"), "{err}");
    let single = dir.path().join("albania");
    run(
        &Job::Train(crate::jobs::tests::tiny_train_job(
            &model, "Albania", &single,
        )),
        &NullSink,
        &CancelToken::new(),
    )
    .unwrap();
    let err = run(
        &eval_with(&model, Method::VimCond, &single, &dir.path().join("wrong2")),
        &NullSink,
        &CancelToken::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("holds the values of group Albania"), "{err}");
}

#[test]
fn nothing_that_fits_names_the_length_to_raise() {
    let dir = tempfile::tempdir().unwrap();
    let model = long_tiny_model(dir.path());
    let mut job = vim_cond_job(&model, &dir.path().join("out"));
    job.training.max_seq_len = 64;
    let err = run(&Job::VimCond(job), &NullSink, &CancelToken::new()).unwrap_err();
    assert_eq!(err.field(), Some(crate::Field::MaxSeqLen));
    assert!(err.to_string().contains("raise max_seq_len"), "{err}");
    assert!(
        !dir.path().join("out").exists(),
        "no folder for a job that never trained"
    );
}
