//! The relevance readout: the averaged states of the prompts or subjects it is trained on are
//! the ones it reads when answering, its cached loss is the model's own under each item's
//! shift, a level moves every profile alike, and training fits, keeps and saves it.

use super::tests::{every_item, example_set, model_loss, profiles};
use super::*;
use crate::conditioning::branch::option_log_probs;
use crate::conditioning::conditioner::{ConditionerConfig, ProfileConditioner};
use crate::conditioning::relevance::{text_of, ProbeTraining, RelevanceText, ValueProbe};
use crate::conditioning::testing::Quiet;
use crate::conditioning::train_offset::TrainingProfiles;
use crate::conditioning::train_readout::*;
use crate::models::testing::{max_abs_diff, tiny_model};
use valuelab_common::{ValueDistribution, VALUE_COUNT};

pub(super) const LAYER: usize = 1;

/// Each item's text that a probe reading `read` reads.
fn texts(set: &ExampleSet, states: &AnswerStates, read: RelevanceText) -> Vec<String> {
    states
        .examples
        .iter()
        .map(|&(a, task)| {
            let item = choice_item(&set.arguments[a], task);
            text_of(&item.prompt, item.subject.as_deref(), read)
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Training of a relevance readout reading prompts at `LAYER` on 20 arguments, at `lr`.
pub(super) fn relevance_training(lr: f64) -> ReadoutTraining {
    ReadoutTraining {
        arguments: 20,
        steps: 100,
        pairs: 32,
        lr,
        weight_decay: 0.0,
        seed: 2,
        validation_pairs: 64,
        validate_every: 25,
        relevance_layer: Some(LAYER),
        relevance_text: RelevanceText::Prompt,
        fit_level: false,
        probe_arguments: 0,
    }
}

/// A relevance readout whose probe was fit on `states`' means of `read` at `LAYER`.
fn relevance_conditioner(
    model: &LoadedModel,
    states: &AnswerStates,
    read: RelevanceText,
) -> ProfileConditioner {
    let hidden = model.llama.config().hidden_size;
    let means = &states.means[&(read, LAYER)];
    let labels: Vec<f32> = (0..states.len())
        .flat_map(|i| (0..VALUE_COUNT).map(move |v| if v == i % VALUE_COUNT { 1.0 } else { 0.0 }))
        .collect();
    let labels = Tensor::from_vec(labels, (states.len(), VALUE_COUNT), &Device::Cpu).unwrap();
    let probe = ValueProbe::fit(LAYER, means, &labels, &ProbeTraining::default()).unwrap();
    let direction = (states.answer_scale_direction().unwrap() * 3.0).unwrap();
    assert_eq!(direction.dims(), &[1, hidden]);
    let config = ConditionerConfig::profile_readout("tiny", hidden, [3.5; VALUE_COUNT]);
    ProfileConditioner::new(config, Vec::new())
        .unwrap()
        .with_relevance(probe, read, direction)
        .unwrap()
}

/// The answer states of three arguments' items with their means of `read`, and a relevance
/// readout on them.
fn three_item_readout(
    read: RelevanceText,
) -> (LoadedModel, ExampleSet, AnswerStates, ProfileConditioner) {
    let mut model = tiny_model(true, 3).unwrap();
    let mut set = example_set(&model, 3);
    let mut states =
        AnswerStates::compute(&mut model, &mut set, &[0, 1, 2], &mut |_, _| {}).unwrap();
    states
        .ensure_means(&model, &set, LAYER, read, &mut |_, _| {})
        .unwrap();
    let conditioner = relevance_conditioner(&model, &states, read);
    (model, set, states, conditioner)
}

#[test]
fn the_cached_means_of_either_text_are_what_the_answerer_reads() {
    let mut model = tiny_model(true, 3).unwrap();
    let mut set = example_set(&model, 3);
    let mut states =
        AnswerStates::compute(&mut model, &mut set, &[0, 1, 2], &mut |_, _| {}).unwrap();
    for read in [RelevanceText::Prompt, RelevanceText::Subject] {
        let mut ensure = || {
            states
                .ensure_means(&model, &set, LAYER, read, &mut |_, _| {})
                .unwrap()
        };
        assert!(ensure());
        assert!(!ensure(), "computed once");
        let conditioner = relevance_conditioner(&model, &states, read);
        let (probe, _) = conditioner.relevance.clone().unwrap();
        let texts = texts(&set, &states, read);
        let answering = conditioner.relevance_of(&model, &texts).unwrap().unwrap();
        let training = probe.relevance_of(&states.means[&(read, LAYER)]).unwrap();
        assert!(max_abs_diff(&answering, &training) < 1e-5, "{read:?}");
    }
    // An argument's QA and AG items share its premise as their subject, not their prompt.
    let means = |read| states.means[&(read, LAYER)].to_vec2::<f32>().unwrap();
    let (subject, prompt) = (means(RelevanceText::Subject), means(RelevanceText::Prompt));
    assert_eq!(subject[0], subject[1]);
    assert_ne!(subject[0], subject[2]);
    assert_ne!(prompt[0], prompt[1]);
    assert_ne!(prompt[0], subject[0]);
}

#[test]
fn the_relevance_readouts_cached_loss_is_the_models_and_the_mean_profile_moves_nothing() {
    let read = RelevanceText::Prompt;
    let (mut model, mut set, states, conditioner) = three_item_readout(read);
    let (probe, direction) = conditioner.relevance.clone().unwrap();
    let training = probe.relevance_of(&states.means[&(read, LAYER)]).unwrap();

    // The loss on the cached states with each pair's amount (r·z) equals the model's own loss
    // with the item's shift set as its hook.
    let profiles = profiles();
    let (chosen, batch) = every_item(&set, &states, &profiles);
    let amount = relevance_amount(&training, &batch.z, &batch.items).unwrap();
    let cached = states
        .loss(&amount, &direction, &batch.items, &batch.targets)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let direct = model_loss(
        &mut model,
        &mut set,
        &states,
        &profiles,
        &chosen,
        |profile, item| {
            conditioner
                .item_offsets(
                    profiles[profile].scores(),
                    &training.narrow(0, item, 1).unwrap(),
                )
                .unwrap()
        },
    );
    assert!(
        (cached - direct).abs() < 1e-4,
        "cached {cached} direct {direct}"
    );
    // The mean profile moves no item.
    let offsets = conditioner
        .item_offsets(&[3.5; VALUE_COUNT], &training.narrow(0, 0, 1).unwrap())
        .unwrap();
    model.llama.set_residual_offsets(offsets).unwrap();
    let item = set
        .item(
            &model,
            &Example {
                profile: 0,
                argument: 0,
                task: crate::vim::Task::Qa,
            },
        )
        .unwrap();
    let moved = option_log_probs(&model, std::slice::from_ref(&item), Mode::Inference).unwrap();
    model
        .llama
        .set_residual_offsets(ResidualOffsets::default())
        .unwrap();
    let plain = option_log_probs(&model, &[item], Mode::Inference).unwrap();
    assert_eq!(max_abs_diff(&moved[0], &plain[0]), 0.0);
}

#[test]
fn relevance_training_fits_the_direction_keeps_the_prompt_states_and_saves_the_probe() {
    let mut model = tiny_model(true, 3).unwrap();
    let mut set = example_set(&model, 20);
    let profiles = profiles();
    let opts = relevance_training(0.01);
    let training_profiles = || TrainingProfiles {
        train: &profiles,
        validation: &[],
        mean: [3.5; VALUE_COUNT],
    };
    let dir = tempfile::tempdir().unwrap();
    let mut calls = 0;
    let (conditioner, report) = train_profile_readout(
        &mut model,
        "tiny",
        &mut set,
        training_profiles(),
        &opts,
        Some(dir.path()),
        &mut Quiet,
        &mut |_, _, _| calls += 1,
    )
    .unwrap();
    assert!(calls > 2, "the states and the prompt means report progress");
    assert!(conditioner.readout.is_none() && conditioner.relevance.is_some());
    assert_eq!(conditioner.config.relevance_layer, Some(LAYER));
    let hits = report.relevance_hits.expect("validation items scored");
    assert!((0.0..=1.0).contains(&hits));
    assert!(report.relevance_train_hits.is_some());
    let best = report.lowest_kl().unwrap();
    assert!(best < report.validation[0].kl, "{:?}", report.validation);
    // Unlike a zero gate, the relevance moves items from step 0 on: the plain model's KL is
    // measured apart.
    let plain = report.plain_kl.unwrap();
    assert!((plain - report.validation[0].kl).abs() > 1e-6, "{plain}");
    assert!(model.llama.residual_offsets().is_empty());

    // Trained again from the same folder: states and prompt means are read, not recomputed.
    let mut again = 0;
    train_profile_readout(
        &mut model,
        "tiny",
        &mut set,
        training_profiles(),
        &opts,
        Some(dir.path()),
        &mut Quiet,
        &mut |_, _, _| again += 1,
    )
    .unwrap();
    assert_eq!(again, 2, "one report for each phase, both complete");

    // Reading subjects: the answer states are read, each argument's premise run once (20 texts
    // for 40 items) and the subjects' means saved beside the prompts'; the conditioner says
    // what it reads, and keeps saying it once loaded.
    let subjects = ReadoutTraining {
        relevance_text: RelevanceText::Subject,
        ..opts.clone()
    };
    let mut train_reporting = |opts: &ReadoutTraining| {
        let mut reports = Vec::new();
        let (conditioner, _) = train_profile_readout(
            &mut model,
            "tiny",
            &mut set,
            training_profiles(),
            opts,
            Some(dir.path()),
            &mut Quiet,
            &mut |phase, done, total| reports.push((phase, done, total)),
        )
        .unwrap();
        (conditioner, reports)
    };
    let (reading_subjects, reports) = train_reporting(&subjects);
    let read = |n| {
        vec![
            (StatesPhase::Answers, 40, 40),
            (StatesPhase::TextMeans, n, n),
        ]
    };
    assert_eq!(reports, read(20), "answer states read, premises computed");
    assert_eq!(reading_subjects.relevance_text(), RelevanceText::Subject);
    let tag = std::fs::read_to_string(dir.path().join(STATES_TAG)).unwrap();
    let tag: serde_json::Value = serde_json::from_str(&tag).unwrap();
    assert_eq!(tag["mean_layers"], serde_json::json!([LAYER]));
    assert_eq!(tag["subject_mean_layers"], serde_json::json!([LAYER]));
    for opts in [&opts, &subjects] {
        let (_, reports) = train_reporting(opts);
        assert_eq!(reports, read(40), "both texts' means were read");
    }
    let saved = tempfile::tempdir().unwrap();
    reading_subjects.save(saved.path()).unwrap();
    let loaded = ProfileConditioner::load(saved.path(), &Device::Cpu).unwrap();
    assert_eq!(loaded.relevance_text(), RelevanceText::Subject);

    let out = tempfile::tempdir().unwrap();
    conditioner.save(out.path()).unwrap();
    let loaded = ProfileConditioner::load(out.path(), &Device::Cpu).unwrap();
    let texts = vec!["Statement: I like it. Answer:".to_string()];
    let (a, b) = (
        conditioner.relevance_of(&model, &texts).unwrap().unwrap(),
        loaded.relevance_of(&model, &texts).unwrap().unwrap(),
    );
    assert_eq!(max_abs_diff(&a, &b), 0.0);
    assert_eq!(
        max_abs_diff(
            &conditioner.relevance.unwrap().1,
            &loaded.relevance.unwrap().1
        ),
        0.0
    );

    let err = train_profile_readout(
        &mut model,
        "tiny",
        &mut set,
        training_profiles(),
        &ReadoutTraining {
            relevance_layer: Some(99),
            ..opts
        },
        None,
        &mut Quiet,
        &mut |_, _, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("relevance layer 99 does not exist"), "{err}");
}

#[test]
fn a_level_moves_every_profile_by_the_same_difference_and_is_saved() {
    let read = RelevanceText::Prompt;
    let (model, set, states, conditioner) = three_item_readout(read);
    let relevance = conditioner
        .relevance_of(&model, &texts(&set, &states, read))
        .unwrap()
        .unwrap();
    let level = [1.0f32, -0.5, 0.0, 2.0, 0.5, -1.0, 0.25, 1.5, -2.0, 0.75];
    let leveled = conditioner
        .clone()
        .with_level(Tensor::new(&[level], &Device::Cpu).unwrap())
        .unwrap();
    let shifts = |c: &ProfileConditioner, profile: [f64; VALUE_COUNT]| {
        c.item_shifts(&profile, &relevance).unwrap().unwrap().0
    };
    for profile in profiles().iter().map(|p| *p.scores()) {
        let moved: [f64; VALUE_COUNT] = std::array::from_fn(|v| profile[v] + f64::from(level[v]));
        let (a, b) = (shifts(&leveled, profile), shifts(&conditioner, moved));
        assert!(max_abs_diff(&a, &b) < 1e-5);
    }
    // The mean profile now moves: to the level's side, by the relevance-weighted level.
    let at_mean = shifts(&leveled, [3.5; VALUE_COUNT])
        .to_vec2::<f32>()
        .unwrap();
    let expected = relevance
        .matmul(&Tensor::new(&[level], &Device::Cpu).unwrap().t().unwrap())
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    for (got, want) in at_mean.iter().zip(&expected) {
        assert!((got[0] - want[0]).abs() < 1e-5 && want[0].abs() > 1e-3);
    }

    let dir = tempfile::tempdir().unwrap();
    leveled.save(dir.path()).unwrap();
    let loaded = ProfileConditioner::load(dir.path(), &Device::Cpu).unwrap();
    assert_eq!(loaded.level_values().unwrap().unwrap(), level.to_vec());
    conditioner.save(dir.path()).unwrap();
    let plain = ProfileConditioner::load(dir.path(), &Device::Cpu).unwrap();
    assert!(
        plain.level.is_none(),
        "a folder without a level loads without one"
    );

    let wrong = conditioner
        .clone()
        .with_level(Tensor::zeros((1, 3), DType::F32, &Device::Cpu).unwrap())
        .unwrap_err()
        .to_string();
    assert!(wrong.contains("expected (1, 10)"), "{wrong}");
    let hidden = model.llama.config().hidden_size;
    let config = ConditionerConfig::profile_readout("tiny", hidden, [3.5; VALUE_COUNT]);
    let no_readout = ProfileConditioner::new(config, Vec::new())
        .unwrap()
        .with_level(Tensor::zeros((1, VALUE_COUNT), DType::F32, &Device::Cpu).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        no_readout.contains("only a profile-readout"),
        "{no_readout}"
    );
}

#[test]
fn training_with_a_level_fits_it_and_reaches_a_lower_kl() {
    let mut model = tiny_model(true, 3).unwrap();
    let mut set = example_set(&model, 20);
    // Profiles a point higher than the usual ones, centred on their own mean: the differences
    // from the mean average zero, so only a level can lift the answers to the targets' level,
    // above where the plain model answers.
    let profiles: Vec<ValueDistribution> = profiles()
        .iter()
        .map(|p| ValueDistribution::parse(p.scores().map(|s| (s + 1.0).min(6.0))).unwrap())
        .collect();
    let mean: [f64; VALUE_COUNT] = std::array::from_fn(|v| {
        profiles.iter().map(|p| p.scores()[v]).sum::<f64>() / profiles.len() as f64
    });
    let opts = relevance_training(0.05);
    let dir = tempfile::tempdir().unwrap();
    let mut train = |opts: &ReadoutTraining| {
        train_profile_readout(
            &mut model,
            "tiny",
            &mut set,
            TrainingProfiles {
                train: &profiles,
                validation: &[],
                mean,
            },
            opts,
            Some(dir.path()),
            &mut Quiet,
            &mut |_, _, _| {},
        )
        .unwrap()
    };
    let (without, plain_report) = train(&opts);
    assert!(without.level.is_none() && plain_report.level.is_none());
    let (with, report) = train(&ReadoutTraining {
        fit_level: true,
        ..opts
    });
    let level = report.level.clone().expect("the kept level is reported");
    assert_eq!(level.len(), VALUE_COUNT);
    assert_eq!(with.level_values().unwrap(), Some(level.clone()));
    assert!(level.iter().any(|v| v.abs() > 1e-3), "{level:?}");
    assert!(
        report.lowest_kl().unwrap() < plain_report.lowest_kl().unwrap(),
        "with a level {:?}, without {:?}",
        report.validation,
        plain_report.validation
    );
}
