//! Profile conditioners made and used end to end on the tiny random model and the shared data:
//! the split keeps held-out profiles out of training, training moves the maps, the folder
//! answers an evaluation for any group, and a folder of the wrong kind is refused.

use super::*;
use crate::conditioning::{RelevanceText, CONFIG_FILE};
use crate::data::testdata::shared_data;
use crate::eval::{Method, TaskKind};
use crate::jobs::profile_split::{SplitRecord, SPLIT_FILE};
use crate::jobs::tests::{eval_result, eval_with, test_profiles, tiny_model};
use crate::jobs::{run, Job, JobOutput, NullSink};
use crate::output::read_json;

fn condition_job(model: &str, method: ConditionerKind, out: &std::path::Path) -> ConditionJob {
    ConditionJob {
        method,
        model: ModelRun {
            model: model.to_string(),
            cuda: false,
            threads: Some(1),
        },
        profiles: test_profiles(),
        rule: Rule::Mean,
        threshold: 3.0,
        layers: None,
        steps: 4,
        minutes: 10.0,
        batch_size: 2,
        lr: 0.05,
        weight_decay: 0.0,
        validation_examples: 4,
        validate_every: 2,
        alphas: vec![0.0, 4.0],
        steer_arguments: 12,
        readout_arguments: 12,
        readout_pairs: 8,
        relevance_layer: None,
        relevance_text: Default::default(),
        fit_level: false,
        probe_arguments: 0,
        seed: 1,
        out: out.to_path_buf(),
    }
}

/// The tiny model in `dir` and a conditioner of `kind` trained on it into `dir/<kind>`, with
/// `adjust` applied to the spec first.
fn trained(
    dir: &std::path::Path,
    kind: ConditionerKind,
    adjust: impl FnOnce(&mut ConditionJob),
) -> (String, std::path::PathBuf, crate::jobs::RunOutcome) {
    let model = tiny_model(dir);
    let out = dir.join(kind.name());
    let mut spec = condition_job(&model, kind, &out);
    adjust(&mut spec);
    let done = run(&Job::Condition(spec), &NullSink, &CancelToken::new()).unwrap();
    (model, out, done)
}

#[test]
fn a_trained_profile_offset_keeps_held_out_profiles_apart_and_answers_any_group() {
    let dir = tempfile::tempdir().unwrap();
    let (model, out, done) = trained(dir.path(), ConditionerKind::ProfileOffset, |_| {});
    let JobOutput::Condition(output) = &done.output else {
        panic!("not a conditioner")
    };
    assert!(!output.cancelled);
    assert!(output.validation_before.is_some() && output.validation_after.is_some());

    let split: SplitRecord = read_json(&out.join(SPLIT_FILE), "split").unwrap();
    assert_eq!(
        split.held_out.len(),
        48,
        "28 countries and 20 k-means groups"
    );
    assert!(split.held_out.contains(&"Albania".to_string()));
    for name in split.train_groups.iter() {
        assert!(
            !split.held_out.contains(name) && !split.validation.contains(name),
            "{name}"
        );
    }
    assert_eq!(split.train_groups.len(), 70);

    let conditioner = ProfileConditioner::load(&out, &candle_core::Device::Cpu).unwrap();
    assert_eq!(conditioner.config.method, ConditionerKind::ProfileOffset);
    let moved: f32 = conditioner
        .maps
        .iter()
        .map(|m| {
            m.abs()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap()
        })
        .sum();
    assert!(moved > 0.0, "training left the maps at zero");
    let training: serde_json::Value = read_json(&out.join(TRAINING_FILE), "training").unwrap();
    let points = training["details"]["report"]["validation"]
        .as_array()
        .unwrap();
    assert_eq!(
        points
            .iter()
            .map(|p| p["step"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![0, 2, 4]
    );

    // The folder answers an evaluation; the two groups' profiles give different answers.
    let eval_out = dir.path().join("eval");
    let result = eval_result(
        &run(
            &eval_with(&model, Method::ProfileOffset, &out, &eval_out),
            &NullSink,
            &CancelToken::new(),
        )
        .unwrap(),
    );
    let scores: Vec<Vec<Option<f64>>> = result.groups.iter().map(|g| g.predicted.clone()).collect();
    assert_eq!(scores.len(), 2);
    assert_ne!(scores[0], scores[1], "both profiles answered alike");

    // A steer run cannot use a profile-offset folder.
    let err = run(
        &eval_with(&model, Method::Steer, &out, &dir.path().join("wrong")),
        &NullSink,
        &CancelToken::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("holds a profile-offset conditioner, not one for method steer"),
        "{err}"
    );
}

#[test]
fn a_trained_profile_readout_keeps_its_best_step_and_answers_any_group() {
    let dir = tempfile::tempdir().unwrap();
    let (model, out, done) = trained(dir.path(), ConditionerKind::ProfileReadout, |spec| {
        spec.steps = 6;
        spec.lr = 0.01;
        spec.fit_level = true;
    });
    let JobOutput::Condition(output) = &done.output else {
        panic!("not a conditioner")
    };
    assert!(
        output.summary.starts_with("profile-readout:"),
        "{}",
        output.summary
    );
    let conditioner = ProfileConditioner::load(&out, &candle_core::Device::Cpu).unwrap();
    assert_eq!(conditioner.config.method, ConditionerKind::ProfileReadout);
    assert!(conditioner.maps.is_empty() && conditioner.readout.is_some());
    let training: serde_json::Value = read_json(&out.join(TRAINING_FILE), "training").unwrap();
    let report = &training["details"]["report"];
    // The level kept with the maps is the one reported and summarised.
    let level: Vec<f32> = serde_json::from_value(report["level"].clone()).unwrap();
    assert_eq!(conditioner.level_values().unwrap(), Some(level.clone()));
    let summarised = format!("{:+.2}", level[0]);
    assert!(
        output.summary.contains("fitted level") && output.summary.contains(&summarised),
        "{}",
        output.summary
    );
    let points = report["validation"].as_array().unwrap();
    let steps: Vec<u64> = points.iter().map(|p| p["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, vec![0, 2, 4, 6]);
    let best = points
        .iter()
        .min_by(|a, b| {
            a["kl"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["kl"].as_f64().unwrap())
        })
        .unwrap();
    assert_eq!(report["kept_step"], best["step"]);
    assert_eq!(output.validation_after, best["kl"].as_f64());
    assert_eq!(output.validation_before, report["plain_kl"].as_f64());
    assert!(output.validation_before.is_some());
    // Of 12 arguments, a tenth (one) validates: 22 training items.
    assert_eq!(report["items"], 22);

    let result = readout_eval(&model, &out, dir.path());
    assert_eq!(result.groups.len(), 2);
    assert!(result
        .groups
        .iter()
        .all(|g| g.predicted.iter().any(Option::is_some)));
}

/// The evaluation of the profile-readout conditioner in `out`, run in `dir`/eval.
fn readout_eval(
    model: &str,
    out: &std::path::Path,
    dir: &std::path::Path,
) -> crate::eval::RunResult {
    eval_result(
        &run(
            &eval_with(model, Method::ProfileReadout, out, &dir.join("eval")),
            &NullSink,
            &CancelToken::new(),
        )
        .unwrap(),
    )
}

#[test]
fn a_relevance_readout_reading_either_text_trains_as_a_job_and_answers_any_group() {
    for read in [RelevanceText::Prompt, RelevanceText::Subject] {
        let dir = tempfile::tempdir().unwrap();
        let (model, out, done) = trained(dir.path(), ConditionerKind::ProfileReadout, |spec| {
            spec.relevance_layer = Some(1);
            spec.relevance_text = read;
            // Reading subjects, the probe is also fit on five further arguments' premises.
            spec.probe_arguments = if read.is_prompt() { 0 } else { 5 };
        });
        let JobOutput::Condition(output) = &done.output else {
            panic!("not a conditioner")
        };
        let said = format!("relevance from layer 1's {} states", read.name());
        assert!(output.summary.contains(&said), "{}", output.summary);
        let further = output
            .summary
            .contains("the probe fit on 5 further arguments' texts too");
        assert_eq!(further, !read.is_prompt(), "{}", output.summary);
        let training: serde_json::Value = read_json(&out.join(TRAINING_FILE), "training").unwrap();
        let probe_arguments = &training["details"]["report"]["probe_arguments"];
        assert_eq!(probe_arguments, if read.is_prompt() { 0 } else { 5 });
        let conditioner = ProfileConditioner::load(&out, &candle_core::Device::Cpu).unwrap();
        assert!(conditioner.readout.is_none() && conditioner.needs_item_relevance());
        assert_eq!(conditioner.relevance_text(), read);
        let saved: serde_json::Value = read_json(&out.join(CONFIG_FILE), "conditioning").unwrap();
        assert_eq!(saved["relevance_layer"], 1);
        // The evaluation hands each item's subject to the answerer: a readout reading subjects
        // answers PVQ-40 as one reading prompts does.
        let result = readout_eval(&model, &out, dir.path());
        let scores: Vec<Vec<Option<f64>>> =
            result.groups.iter().map(|g| g.predicted.clone()).collect();
        assert_eq!(scores.len(), 2);
        assert_ne!(
            scores[0], scores[1],
            "both profiles answered alike ({read:?})"
        );
    }
}

#[test]
fn steering_tries_every_layer_and_strength_on_validation_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let (model, out, _) = trained(dir.path(), ConditionerKind::Steer, |spec| {
        spec.layers = Some(vec![0, 1])
    });
    let training: serde_json::Value = read_json(&out.join(TRAINING_FILE), "training").unwrap();
    let trials = training["details"]["trials"].as_array().unwrap();
    assert_eq!(
        trials.len(),
        3,
        "the plain model once, then 2 layers × strength 4"
    );
    let best = trials
        .iter()
        .map(|t| t["kl"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    let config: serde_json::Value = read_json(&out.join(CONFIG_FILE), "config").unwrap();
    let chosen = trials
        .iter()
        .find(|t| t["layer"] == config["layers"][0] && t["alpha"] == config["scale"])
        .unwrap();
    assert_eq!(chosen["kl"].as_f64().unwrap(), best);
    let evaluated = run(
        &eval_with(&model, Method::Steer, &out, &dir.path().join("eval")),
        &NullSink,
        &CancelToken::new(),
    );
    assert!(evaluated.is_ok(), "{evaluated:?}");
}

#[test]
fn a_missing_conditioner_folder_names_the_command_that_makes_one() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_model(dir.path());
    let err = run(
        &eval_with(
            &model,
            Method::ProfileOffset,
            dir.path(),
            &dir.path().join("eval"),
        ),
        &NullSink,
        &CancelToken::new(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("valuelab train --method profile-offset|steer"),
        "{err}"
    );
}

#[test]
fn the_protocol_scores_every_method_on_the_held_out_profiles_with_its_controls() {
    use crate::jobs::protocol::{ProtocolJob, ProtocolMethod, REPORT_FILE};
    use crate::protocol::ProtocolReport;
    let dir = tempfile::tempdir().unwrap();
    let (model, conditioner, _) = trained(dir.path(), ConditionerKind::ProfileOffset, |_| {});
    let out = dir.path().join("protocol");
    let job = Job::Protocol(ProtocolJob {
        split: conditioner.clone(),
        methods: vec![
            ProtocolMethod {
                method: Method::Base,
                adapter: None,
            },
            ProtocolMethod {
                method: Method::ProfileOffset,
                adapter: Some(conditioner.clone()),
            },
        ],
        model: ModelRun {
            model: model.clone(),
            cuda: false,
            threads: Some(1),
        },
        data_dir: Some(shared_data().root().to_path_buf()),
        groups_file: None,
        tasks: vec![TaskKind::Pvq, TaskKind::ValueNet, TaskKind::Ess],
        limit_items: Some(10),
        batch_size: 8,
        bootstrap: 50,
        seed: 2,
        ess_microdata: Some(
            ["ess9_no.csv", "ess8_ru.csv"]
                .iter()
                .map(|f| shared_data().root().join("ess/microdata").join(f))
                .collect(),
        ),
        ess_groups: 3,
        weight: Some("pspwght".into()),
        out: out.clone(),
    });
    let done = run(&job, &NullSink, &CancelToken::new()).unwrap();
    let JobOutput::Protocol(output) = &done.output else {
        panic!("not a protocol")
    };
    let report = output.report.as_ref().expect("a finished protocol");
    assert_eq!(report.held_out.len(), 48);
    let base = &report.methods[0];
    assert_eq!(base.method, "base");
    // The value-blind model answers every profile alike: no r, no controls.
    assert!(base.task(TaskKind::Pvq).unwrap().mean_r.is_none());
    assert!(base.shuffled_mean_r.is_none() && base.sign.is_none());
    let offset = &report.methods[1];
    let pvq = offset.task(TaskKind::Pvq).unwrap();
    assert_eq!(pvq.profiles, 48);
    assert!(pvq.mean_r.is_some() && pvq.mean_r_ci.is_some());
    assert!(offset.task(TaskKind::ValueNet).is_some());
    assert!(offset.shuffled_mean_r.is_some());
    assert_eq!(offset.sign.as_ref().unwrap().of, 10);
    // Within each kind of held-out profile too: 28 countries and 20 k-means groups per task.
    let kinds: Vec<(&str, usize)> = offset
        .subsets
        .iter()
        .filter(|s| s.task == TaskKind::Pvq)
        .map(|s| (s.subset.as_str(), s.evidence.profiles))
        .collect();
    assert_eq!(kinds, vec![("countries", 28), ("k-means groups", 20)]);
    // ESS opinions: each country's own value groups, with weighted gold and the yardsticks.
    let countries: Vec<(&str, usize)> = report
        .countries
        .iter()
        .map(|c| (c.country.as_str(), c.groups))
        .collect();
    assert_eq!(countries, vec![("NO", 3), ("RU", 3)]);
    for c in &report.countries {
        assert!(c.respondents > 1000 && c.items >= 50, "{c:?}");
        assert_eq!(c.weighted_by.as_deref(), Some("pspwght"));
        assert!(c.value_blind_nmse.unwrap() > 0.0);
        assert!(c.ridge_other_countries.mean_r.is_some() && c.ridge_within.nmse.is_some());
    }
    let gold = std::fs::read_to_string(out.join("ess/ess9_no/gold.tsv")).unwrap();
    assert_eq!(gold.lines().count(), 1 + 3 * report.countries[0].items);
    // The value-blind model answers every group alike: no between-group r anywhere.
    assert_eq!(base.opinions.len(), 2);
    assert!(base
        .opinions
        .iter()
        .all(|e| e.mean_r.is_none() && e.items_with_r == 0));
    for e in &offset.opinions {
        assert!(e.items_with_r > 0 && e.nmse.is_some() && e.value_blind_nmse.is_some());
    }
    let saved: ProtocolReport = read_json(&out.join(REPORT_FILE), "report").unwrap();
    assert_eq!(saved.held_out, report.held_out);
    let md = std::fs::read_to_string(out.join("protocol.md")).unwrap();
    assert!(
        md.contains("| profile-offset | PVQ-40 mean r ≥ 0.8 |"),
        "{md}"
    );
    assert!(
        md.contains("| profile-offset | pvq | 28 | countries |"),
        "{md}"
    );
    assert!(
        std::fs::read_to_string(out.join("plots/profile-offset.svg"))
            .unwrap()
            .contains("<svg")
    );
    let csv = std::fs::read_to_string(out.join("protocol.csv")).unwrap();
    assert!(
        md.contains("## ESS opinions per country") && md.contains("| profile-offset | RU |"),
        "{md}"
    );
    // Per method: pvq and valuenet, then one row per country.
    assert_eq!(csv.lines().count(), 1 + 2 * (2 + 2), "{csv}");
    assert!(csv.contains("\nbase,ess:NO,3,,"), "{csv}");
    assert_eq!(crate::protocol::report::csv(&saved), csv);
    // Run again: every eval run is finished, so nothing is asked again and the report is the
    // same (up to the last digit: the second time the results come back from results.json).
    let again = run(&job, &NullSink, &CancelToken::new()).unwrap();
    let JobOutput::Protocol(second) = &again.output else {
        panic!()
    };
    let second = second.report.as_ref().unwrap();
    assert_eq!(crate::protocol::report::csv(second), csv);
}

#[test]
fn predict_ess_answers_respondents_each_with_their_own_profile() {
    use crate::jobs::PredictJob;
    let dir = tempfile::tempdir().unwrap();
    let (model, conditioner, _) = trained(dir.path(), ConditionerKind::Steer, |spec| {
        spec.layers = Some(vec![1]);
        spec.alphas = vec![4.0];
    });
    // Three Norwegian respondents of the shared microdata.
    let data = shared_data();
    let norway = std::fs::read_to_string(data.root().join("ess/microdata/ess9_no.csv")).unwrap();
    let few: String = norway.lines().take(4).map(|l| format!("{l}\n")).collect();
    let respondents = dir.path().join("three.csv");
    std::fs::write(&respondents, few).unwrap();
    let questions = dir.path().join("questions.tsv");
    let table = std::fs::read_to_string(data.ess_questions_tsv()).unwrap();
    std::fs::write(
        &questions,
        table
            .lines()
            .take(3)
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    )
    .unwrap();
    let out = dir.path().join("predictions.tsv");
    let done = run(
        &Job::Predict(PredictJob {
            groups_file: respondents,
            respondents: true,
            data_dir: Some(data.root().to_path_buf()),
            questions,
            model: match eval_with(&model, Method::Steer, &conditioner, dir.path()) {
                Job::Eval(e) => e.model,
                _ => unreachable!(),
            },
            gold: None,
            shots: 0,
            out: out.clone(),
        }),
        &NullSink,
        &CancelToken::new(),
    )
    .unwrap();
    let JobOutput::Predict(output) = &done.output else {
        panic!("not a prediction")
    };
    assert_eq!(
        (output.groups, output.questions, output.predictions),
        (3, 2, 6)
    );
    let written = std::fs::read_to_string(out).unwrap();
    assert!(
        written.lines().nth(1).unwrap().starts_with("respondent "),
        "{written}"
    );
}

#[test]
fn a_simulated_survey_conditions_every_persona_on_its_own_profile() {
    use crate::jobs::tests::simulate_job;
    use crate::population::{InstrumentKind, Strategy};
    let dir = tempfile::tempdir().unwrap();
    let (model, conditioner, _) = trained(dir.path(), ConditionerKind::ProfileOffset, |_| {});
    let Job::Eval(eval) = eval_with(&model, Method::ProfileOffset, &conditioner, dir.path()) else {
        unreachable!()
    };
    let mut simulate = simulate_job(
        &model,
        Strategy::Survey,
        Method::ProfileOffset,
        &dir.path().join("sim"),
    );
    simulate.n = 6;
    simulate.instruments = vec![InstrumentKind::Pvq40];
    simulate.model = eval.model;
    let job = Job::Simulate(simulate);
    let done = run(&job, &NullSink, &CancelToken::new()).unwrap();
    let JobOutput::Simulate(output) = &done.output else {
        panic!("not a simulation")
    };
    let summary = output.summary.as_ref().expect("a finished simulation");
    // Six respondents, six profiles: each persona is its own speaker, with no persona text.
    assert_eq!((summary.n, summary.speakers), (6, 6));
}
