//! The simulation job end to end on the tiny random model and a real ESS country file.

use super::*;
use crate::eval::Method;
use crate::jobs::tests::{simulate_job, tiny_model, CancelAtFirst};
use crate::jobs::{run, Job, JobOutput, NullSink};
use crate::population::read_summary;
use crate::structure::read_simulated_sample;
use std::sync::Mutex;

fn summary_of(output: &JobOutput) -> SimulationSummary {
    match output {
        JobOutput::Simulate(out) => out.summary.clone().expect("a finished simulation"),
        other => panic!("not a simulation: {other:?}"),
    }
}

#[test]
fn an_h_np_population_answers_and_is_compared_with_people() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let out = dir.path().join("hnp");
    let job = Job::Simulate(simulate_job(
        &model,
        Strategy::HNp,
        Method::PromptDominant,
        &out,
    ));
    let done = run(&job, &NullSink, &CancelToken::new()).unwrap();
    let summary = summary_of(&done.output);
    assert_eq!(summary.n, 12);
    // Norway: about half the people have no dominant value at G = 0.25, so naive personas are
    // among the twelve, and every persona text is asked once.
    assert!(summary.human_without_dominant > 0.3, "{summary:?}");
    let sample = read_simulated_sample(&out).unwrap();
    assert_eq!(sample.len(), 12);
    let csv = std::fs::read_to_string(out.join("respondents.csv")).unwrap();
    assert!(csv.lines().any(|l| l.contains(",naive,")), "{csv}");
    assert!(csv.lines().next().unwrap().contains("prosocial.stranger"));
    let personas: Personas = read_json(&out.join(PERSONAS_FILE), "personas").unwrap();
    assert_eq!(summary.speakers, personas.speakers.len());
    assert!(personas.speakers.iter().any(|s| s.text.is_empty()));
    // 10 PVQ items + 7 causes per distinct persona text.
    let lines = std::fs::read_to_string(out.join(ANSWERS_FILE))
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines, summary.speakers * 17);
    for file in [
        "summary.json",
        "expected.csv",
        "relations.csv",
        "relations.svg",
        "representativeness.csv",
        "structure/structure.json",
        "structure/structure.md",
    ] {
        assert!(out.join(file).exists(), "{file}");
    }
    assert!(summary.ceiling_raw.unwrap() > 0.8, "{summary:?}");
    let stored = read_summary(&out).unwrap();
    assert_eq!(
        (stored.n, stored.speakers, stored.strategy),
        (12, summary.speakers, Strategy::HNp)
    );
}

#[test]
fn a_cancelled_simulation_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let whole_dir = dir.path().join("whole");
    let whole = Job::Simulate(simulate_job(
        &model,
        Strategy::Uniform,
        Method::PromptDominant,
        &whole_dir,
    ));
    run(&whole, &NullSink, &CancelToken::new()).unwrap();

    let split_dir = dir.path().join("split");
    let job = Job::Simulate(simulate_job(
        &model,
        Strategy::Uniform,
        Method::PromptDominant,
        &split_dir,
    ));
    let sink = CancelAtFirst {
        token: CancelToken::new(),
        events: Mutex::new(Vec::new()),
    };
    let stopped = run(&job, &sink, &sink.token).unwrap();
    assert!(stopped.is_cancelled());
    let JobOutput::Simulate(partial) = &stopped.output else {
        panic!("a simulation")
    };
    assert_eq!((partial.done, partial.summary.is_none()), (4, true));
    assert!(!split_dir.join("respondents.csv").exists());
    let resumed = run(&job, &NullSink, &CancelToken::new()).unwrap();
    assert!(!resumed.is_cancelled());
    for file in ["respondents.csv", "expected.csv", "summary.json"] {
        assert_eq!(
            std::fs::read_to_string(whole_dir.join(file)).unwrap(),
            std::fs::read_to_string(split_dir.join(file)).unwrap(),
            "{file}"
        );
    }
    // Another simulation into the same folder is refused, not mixed in.
    let other = Job::Simulate(SimulateJob {
        n: 13,
        ..simulate_job(
            &model,
            Strategy::Uniform,
            Method::PromptDominant,
            &split_dir,
        )
    });
    let err = run(&other, &NullSink, &CancelToken::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds another simulation"), "{err}");
}

#[test]
fn a_survey_population_speaks_in_each_respondents_own_profile() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let out = dir.path().join("survey");
    let mut spec = simulate_job(&model, Strategy::Survey, Method::PromptShort, &out);
    spec.instruments = vec![InstrumentKind::Pvq40];
    spec.n = 5;
    let done = run(&Job::Simulate(spec), &NullSink, &CancelToken::new()).unwrap();
    let summary = summary_of(&done.output);
    assert_eq!(summary.speakers, 5);
    let personas: Personas = read_json(&out.join(PERSONAS_FILE), "personas").unwrap();
    for (target, speaker) in personas.targets.iter().zip(&personas.speakers) {
        let PersonaTarget::Profile { scores, .. } = target else {
            panic!("{target:?}")
        };
        // The prompt-short persona lists the respondent's own scores (as Table 22 prints them).
        let power = scores[valuelab_common::Value::Power.index()];
        let shown = if power.fract() == 0.0 {
            format!("{power:.1}")
        } else {
            format!("{power}")
        };
        assert!(
            speaker.text.contains(&format!("- Power: {shown}\n")),
            "{}",
            speaker.text
        );
    }
    let csv = std::fs::read_to_string(out.join("respondents.csv")).unwrap();
    let first = csv.lines().nth(1).unwrap();
    assert!(first.contains(",survey:"), "{first}");
}

#[test]
fn sample_mode_and_adapter_methods_without_adapters_are_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = simulate_job(
        "smollm2",
        Strategy::Uniform,
        Method::PromptDominant,
        &dir.path().join("x"),
    );
    spec.model.answer = Some(AnswerMode::Sample);
    let err = spec
        .run(&NullSink, &CancelToken::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("expect mode"), "{err}");
    let spec = simulate_job(
        "smollm2",
        Strategy::Uniform,
        Method::Vim,
        &dir.path().join("y"),
    );
    let problems = crate::jobs::check::check(&Job::Simulate(spec));
    assert!(problems.contains_key("model.adapter"), "{problems:?}");
}

#[test]
fn adapter_personas_take_the_nearest_groups_adapter_and_naive_ones_the_plain_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let adapters = dir.path().join("adapters");
    for group in ["Albania", "Group_1"] {
        let train = Job::Train(crate::jobs::tests::tiny_train_job(
            &model,
            group,
            &adapters.join(group),
        ));
        run(&train, &NullSink, &CancelToken::new()).unwrap();
    }
    let out = dir.path().join("vim");
    let mut spec = simulate_job(&model, Strategy::HNp, Method::VimQa, &out);
    spec.model.adapter = Some(adapters.clone());
    spec.instruments = vec![InstrumentKind::Pvq40];
    let done = run(&Job::Simulate(spec), &NullSink, &CancelToken::new()).unwrap();
    let summary = summary_of(&done.output);
    let personas: Personas = read_json(&out.join(PERSONAS_FILE), "personas").unwrap();
    // Naive personas (half of Norway has no dominant value) plus at most one speaker per adapter.
    assert!(summary.speakers <= 3, "{:?}", personas.speakers);
    for (target, &s) in personas.targets.iter().zip(&personas.speaker_of) {
        let speaker = &personas.speakers[s];
        assert!(speaker.text.is_empty(), "adapters take no persona text");
        match target {
            PersonaTarget::Naive => assert_eq!(speaker.group, None),
            _ => {
                let group = speaker.group.as_deref().unwrap();
                assert!(["Albania", "Group_1"].contains(&group), "{group}");
                assert_eq!(speaker.label, format!("adapter:{group}"));
            }
        }
    }
    // A VIM method without adapters is refused with the flag to give.
    let mut spec = simulate_job(
        &model,
        Strategy::Uniform,
        Method::Vim,
        &dir.path().join("none"),
    );
    spec.model.adapter = None;
    let err = spec
        .run(&NullSink, &CancelToken::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("--adapter"), "{err}");
}
