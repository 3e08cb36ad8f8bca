//! The relevance readout: the prompts' averaged states it is trained on are the ones it reads
//! when answering, its cached loss is the model's own under each item's shift, and training
//! fits, keeps and saves it.

use super::tests::{every_item, example_set, model_loss, profiles};
use super::*;
use crate::conditioning::branch::option_log_probs;
use crate::conditioning::conditioner::{ConditionerConfig, ProfileConditioner};
use crate::conditioning::relevance::{ProbeTraining, ValueProbe};
use crate::conditioning::testing::Quiet;
use crate::conditioning::train_offset::TrainingProfiles;
use crate::conditioning::train_readout::*;
use crate::models::testing::{max_abs_diff, tiny_model};
use valuelab_common::VALUE_COUNT;

const LAYER: usize = 1;

fn prompts(set: &ExampleSet, states: &AnswerStates) -> Vec<String> {
    states
        .examples
        .iter()
        .map(|&(a, task)| choice_item(&set.arguments[a], task).prompt)
        .collect()
}

/// A relevance readout whose probe was fit on `states`' prompt means at `LAYER`.
fn relevance_conditioner(model: &LoadedModel, states: &AnswerStates) -> ProfileConditioner {
    let hidden = model.llama.config().hidden_size;
    let means = &states.means[&LAYER];
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
        .with_relevance(probe, direction)
        .unwrap()
}

#[test]
fn the_cached_prompt_means_are_what_the_answerer_reads_and_the_loss_is_the_models() {
    let mut model = tiny_model(true, 3).unwrap();
    let mut set = example_set(&model, 3);
    let mut states =
        AnswerStates::compute(&mut model, &mut set, &[0, 1, 2], &mut |_, _| {}).unwrap();
    assert!(states
        .ensure_means(&model, &set, LAYER, &mut |_, _| {})
        .unwrap());
    assert!(
        !states
            .ensure_means(&model, &set, LAYER, &mut |_, _| {})
            .unwrap(),
        "computed once"
    );
    let conditioner = relevance_conditioner(&model, &states);
    let (probe, direction) = conditioner.relevance.clone().unwrap();
    let texts = prompts(&set, &states);
    let answering = conditioner.relevance_of(&model, &texts).unwrap().unwrap();
    let training = probe.relevance_of(&states.means[&LAYER]).unwrap();
    assert!(max_abs_diff(&answering, &training) < 1e-5);

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
    let opts = ReadoutTraining {
        arguments: 20,
        steps: 100,
        pairs: 32,
        lr: 0.01,
        weight_decay: 0.0,
        seed: 2,
        validation_pairs: 64,
        validate_every: 25,
        relevance_layer: Some(LAYER),
    };
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
    let best = report
        .validation
        .iter()
        .map(|p| p.kl)
        .fold(f64::INFINITY, f64::min);
    assert!(best < report.validation[0].kl, "{:?}", report.validation);
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
