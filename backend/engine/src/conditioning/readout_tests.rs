//! The readout's cached answer states against the model itself, its training, and its folder.

use super::*;
use crate::conditioning::branch::{kl_loss, option_log_probs};
use crate::conditioning::conditioner::{ConditionerConfig, ConditionerKind, ProfileConditioner};
use crate::conditioning::testing::{argument, Quiet};
use crate::conditioning::train_offset::TrainingProfiles;
use crate::conditioning::train_readout::*;
use crate::models::testing::{max_abs_diff, tiny_model};
use crate::vim::Rule;
use candle_core::Var;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use valuelab_common::{ValueDistribution, VALUE_COUNT};

pub(super) fn example_set(model: &LoadedModel, count: usize) -> ExampleSet {
    let arguments = (0..count)
        .map(|i| argument(i, (i * 3) % VALUE_COUNT))
        .collect();
    ExampleSet::new(model, arguments, Rule::Mean, 3.0).unwrap()
}

/// Profiles each high or low overall and the other way on one value.
pub(super) fn profiles() -> Vec<ValueDistribution> {
    [1.5, 5.5, 2.0, 5.0]
        .iter()
        .enumerate()
        .map(|(i, &level)| {
            let mut scores = [level; VALUE_COUNT];
            scores[i * 2] = 7.0 - level;
            ValueDistribution::parse(scores).unwrap()
        })
        .collect()
}

fn random(shape: (usize, usize), seed: u64) -> Tensor {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let values: Vec<f32> = (0..shape.0 * shape.1)
        .map(|_| rng.random_range(-0.05f32..0.05))
        .collect();
    Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
}

fn readout_conditioner(
    model: &LoadedModel,
    gate_map: Tensor,
    direction: Tensor,
) -> ProfileConditioner {
    let config = ConditionerConfig::profile_readout(
        "tiny",
        model.llama.config().hidden_size,
        [3.5; VALUE_COUNT],
    );
    ProfileConditioner::new(config, Vec::new())
        .unwrap()
        .with_readout(gate_map, direction)
        .unwrap()
}

/// Every item once, item `i` with profile `i % 4`, and those pairs ready for the cached loss.
pub(super) fn every_item(
    set: &ExampleSet,
    states: &AnswerStates,
    profiles: &[ValueDistribution],
) -> (Vec<(usize, usize)>, Pairs) {
    let chosen: Vec<(usize, usize)> = (0..states.len()).map(|item| (item % 4, item)).collect();
    let batch = pairs(
        set,
        states,
        profiles,
        &[3.5; VALUE_COUNT],
        &chosen,
        &Device::Cpu,
    )
    .unwrap();
    (chosen, batch)
}

/// The mean KL of the (profile, item) pairs `chosen` through the model itself, each pair with
/// `offsets(profile, item)` set as the model's hook.
pub(super) fn model_loss(
    model: &mut LoadedModel,
    set: &mut ExampleSet,
    states: &AnswerStates,
    profiles: &[ValueDistribution],
    chosen: &[(usize, usize)],
    offsets: impl Fn(usize, usize) -> ResidualOffsets,
) -> f32 {
    let mut log_probs = Vec::new();
    let mut targets = Vec::new();
    for &(profile, item) in chosen {
        let (argument, task) = states.examples[item];
        let example = Example {
            profile,
            argument,
            task,
        };
        model
            .llama
            .set_residual_offsets(offsets(profile, item))
            .unwrap();
        let tokens = set.item(model, &example).unwrap();
        log_probs.extend(option_log_probs(model, &[tokens], Mode::Inference).unwrap());
        targets.push(set.target(&example, &profiles[profile]).unwrap());
    }
    kl_loss(&log_probs, &targets)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

#[test]
fn the_cached_option_logits_are_the_models() {
    let mut model = tiny_model(true, 3).unwrap();
    let mut set = example_set(&model, 3);
    let states = AnswerStates::compute(&mut model, &mut set, &[0, 1, 2], &mut |_, _| {}).unwrap();
    assert_eq!(states.len(), 6, "a QA and an AG item per argument");
    for (row, &(argument, task)) in states.examples.iter().enumerate() {
        let item = set
            .item(
                &model,
                &Example {
                    profile: 0,
                    argument,
                    task,
                },
            )
            .unwrap();
        let expected =
            &option_log_probs(&model, std::slice::from_ref(&item), Mode::Inference).unwrap()[0];
        let cached = states
            .logits
            .get(row)
            .unwrap()
            .narrow(0, 0, item.options.len())
            .unwrap();
        let cached = candle_nn::ops::log_softmax(&cached, D::Minus1).unwrap();
        assert!(max_abs_diff(expected, &cached) < 1e-4, "item {row}");
    }
}

#[test]
fn the_loss_on_cached_states_is_the_models_loss_under_the_readout() {
    let mut model = tiny_model(true, 3).unwrap();
    let mut set = example_set(&model, 3);
    let states = AnswerStates::compute(&mut model, &mut set, &[0, 1, 2], &mut |_, _| {}).unwrap();
    let hidden = model.llama.config().hidden_size;
    let (gate_map, direction) = (random((VALUE_COUNT, hidden), 1), random((1, hidden), 2));
    let conditioner = readout_conditioner(&model, gate_map.clone(), direction.clone());
    let profiles = profiles();
    let (chosen, batch) = every_item(&set, &states, &profiles);
    let amount = states
        .gate_amount(&gate_map, &batch.z, &batch.items)
        .unwrap();
    let cached = states
        .loss(&amount, &direction, &batch.items, &batch.targets)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();

    // The same pairs through the model, each with its profile's readout set as the hook.
    let direct = model_loss(
        &mut model,
        &mut set,
        &states,
        &profiles,
        &chosen,
        |profile, _| conditioner.offsets(&[*profiles[profile].scores()]).unwrap(),
    );
    assert!(
        (cached - direct).abs() < 1e-4,
        "cached {cached} direct {direct}"
    );
    // The readout moved the answers: the plain model's loss differs.
    let zero = Tensor::zeros((VALUE_COUNT, hidden), DType::F32, &Device::Cpu).unwrap();
    let no_amount = states.gate_amount(&zero, &batch.z, &batch.items).unwrap();
    let plain = states
        .loss(&no_amount, &direction, &batch.items, &batch.targets)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert!(
        (plain - cached).abs() > 1e-4,
        "plain {plain} readout {cached}"
    );
}

#[test]
fn the_mean_profile_leaves_the_model_as_it_is() {
    let mut model = tiny_model(true, 3).unwrap();
    let mut set = example_set(&model, 2);
    let hidden = model.llama.config().hidden_size;
    let conditioner = readout_conditioner(
        &model,
        random((VALUE_COUNT, hidden), 1),
        random((1, hidden), 2),
    );
    let item = set
        .item(
            &model,
            &Example {
                profile: 0,
                argument: 1,
                task: Task::Qa,
            },
        )
        .unwrap();
    let plain = option_log_probs(&model, std::slice::from_ref(&item), Mode::Inference).unwrap();
    let offsets = conditioner.offsets(&[[3.5; VALUE_COUNT]]).unwrap();
    model.llama.set_residual_offsets(offsets).unwrap();
    let at_mean = option_log_probs(&model, std::slice::from_ref(&item), Mode::Inference).unwrap();
    assert_eq!(max_abs_diff(&plain[0], &at_mean[0]), 0.0);
    let offsets = conditioner.offsets(&[*profiles()[1].scores()]).unwrap();
    model.llama.set_residual_offsets(offsets).unwrap();
    let moved = option_log_probs(&model, std::slice::from_ref(&item), Mode::Inference).unwrap();
    assert!(max_abs_diff(&plain[0], &moved[0]) > 1e-4);

    // With a level, the mean profile answers like the profile that far from it.
    let level = [0.5f32, -1.0, 0.25, 1.5, 0.0, -0.5, 2.0, 1.0, -1.5, 0.75];
    let leveled = conditioner
        .clone()
        .with_level(Tensor::new(&[level], &Device::Cpu).unwrap())
        .unwrap();
    let mut answer = |offsets: ResidualOffsets| {
        model.llama.set_residual_offsets(offsets).unwrap();
        option_log_probs(&model, std::slice::from_ref(&item), Mode::Inference).unwrap()
    };
    let at_mean = answer(leveled.offsets(&[[3.5; VALUE_COUNT]]).unwrap());
    let moved_by_level = answer(
        conditioner
            .offsets(&[std::array::from_fn(|v| 3.5 + f64::from(level[v]))])
            .unwrap(),
    );
    assert!(max_abs_diff(&at_mean[0], &moved_by_level[0]) < 1e-5);
    assert!(max_abs_diff(&plain[0], &at_mean[0]) > 1e-4);
}

#[test]
fn training_lowers_the_validation_kl_keeps_the_best_step_and_saves_the_readout() {
    let mut model = tiny_model(true, 3).unwrap();
    let mut set = example_set(&model, 10);
    let profiles = profiles();
    let opts = ReadoutTraining {
        arguments: 10,
        steps: 200,
        pairs: 32,
        lr: 0.01,
        weight_decay: 0.0,
        seed: 2,
        validation_pairs: 64,
        validate_every: 50,
        relevance_layer: None,
        relevance_text: Default::default(),
        fit_level: false,
        probe_arguments: 0,
    };
    let (conditioner, report) = train_profile_readout(
        &mut model,
        "tiny",
        &mut set,
        // No validation profiles: it validates on training pairs, which the maps can fit (a
        // random tiny model's states say nothing about an argument it has not seen).
        TrainingProfiles {
            train: &profiles,
            validation: &[],
            mean: [3.5; VALUE_COUNT],
        },
        &opts,
        None,
        &mut Quiet,
        &mut |_, _, _| {},
    )
    .unwrap();
    assert_eq!((report.items, report.validation_items), (18, 2));
    let steps: Vec<usize> = report.validation.iter().map(|p| p.step).collect();
    assert_eq!(steps, vec![0, 50, 100, 150, 200]);
    let best = report
        .validation
        .iter()
        .min_by(|a, b| a.kl.total_cmp(&b.kl))
        .unwrap();
    assert_eq!(report.kept_step, best.step);
    // The gate starts at zero, so step 0 is the plain model.
    let plain = report.plain_kl.unwrap();
    assert!((plain - report.validation[0].kl).abs() < 1e-6, "{plain}");
    assert!(
        best.kl < report.validation[0].kl * 0.95,
        "{:?}",
        report.validation
    );
    assert!(
        model.llama.residual_offsets().is_empty(),
        "the model is left plain"
    );

    let dir = tempfile::tempdir().unwrap();
    conditioner.save(dir.path()).unwrap();
    let loaded = ProfileConditioner::load(dir.path(), &Device::Cpu).unwrap();
    assert_eq!(loaded.config.method, ConditionerKind::ProfileReadout);
    let ((g1, d1), (g2, d2)) = (
        conditioner.readout.as_ref().unwrap(),
        loaded.readout.as_ref().unwrap(),
    );
    assert_eq!(max_abs_diff(g1, g2), 0.0);
    assert_eq!(max_abs_diff(d1, d2), 0.0);
    assert!(
        g1.abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
            > 0.0
    );
}

#[test]
fn a_readout_folder_without_its_tensors_is_refused() {
    let model = tiny_model(true, 3).unwrap();
    let hidden = model.llama.config().hidden_size;
    let conditioner = readout_conditioner(
        &model,
        random((VALUE_COUNT, hidden), 1),
        random((1, hidden), 2),
    );
    let dir = tempfile::tempdir().unwrap();
    let plain = ProfileConditioner {
        readout: None,
        ..conditioner.clone()
    };
    plain.save(dir.path()).unwrap();
    let err = ProfileConditioner::load(dir.path(), &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(err.contains("has no tensor readout.gate"), "{err}");
    let wrong = readout_conditioner(
        &model,
        random((VALUE_COUNT, hidden), 1),
        random((1, hidden), 2),
    )
    .with_readout(random((VALUE_COUNT, hidden + 1), 1), random((1, hidden), 2))
    .unwrap_err()
    .to_string();
    assert!(wrong.contains("expected (10,"), "{wrong}");
}

#[test]
fn saved_states_are_reused_only_for_the_same_model_and_arguments() {
    let mut model = tiny_model(true, 3).unwrap();
    let mut set = example_set(&model, 3);
    let states = AnswerStates::compute(&mut model, &mut set, &[2, 0], &mut |_, _| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    states.save(dir.path(), "tiny", &[2, 0]).unwrap();
    let loaded = AnswerStates::load(dir.path(), "tiny", &[2, 0], &Device::Cpu)
        .unwrap()
        .expect("the same model and arguments");
    assert_eq!(loaded.examples, states.examples);
    assert_eq!(loaded.qa_columns, states.qa_columns);
    for (a, b) in [
        (&loaded.hidden, &states.hidden),
        (&loaded.logits, &states.logits),
        (&loaded.columns, &states.columns),
    ] {
        assert_eq!(max_abs_diff(a, b), 0.0);
    }
    assert_eq!(
        loaded.option_columns.to_vec2::<u32>().unwrap(),
        states.option_columns.to_vec2::<u32>().unwrap()
    );
    for (model_name, arguments) in [("other", &[2usize, 0][..]), ("tiny", &[0, 2][..])] {
        assert!(
            AnswerStates::load(dir.path(), model_name, arguments, &Device::Cpu)
                .unwrap()
                .is_none()
        );
    }
    assert!(
        AnswerStates::load(&dir.path().join("none"), "tiny", &[2, 0], &Device::Cpu)
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_snapshot_keeps_its_values_when_the_optimizer_moves_the_variable() {
    let var = Var::from_tensor(&random((2, 3), 4)).unwrap();
    let kept = snapshot(&var).unwrap();
    let before = var.as_tensor().to_vec2::<f32>().unwrap();
    var.set(&random((2, 3), 5)).unwrap();
    assert_eq!(kept.to_vec2::<f32>().unwrap(), before);
    assert!(max_abs_diff(&kept, var.as_tensor()) > 0.0);
}
