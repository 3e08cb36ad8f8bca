//! Tests of `trainer`.

use super::*;
use crate::models::llama::{random_model, Config};
use crate::models::testing::test_tokenizer;
use crate::models::testing::{max_abs, max_abs_diff};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::path::Path;

/// The test tokenizer's vocabulary (`models::testing`); samples use ids 3.. (0..3 are special).
fn tiny() -> Config {
    crate::models::testing::tiny_config()
}

fn lora(dropout: f64) -> LoraConfig {
    LoraConfig {
        r: 4,
        lora_alpha: 8.0,
        lora_dropout: dropout,
        target_modules: vec!["q_proj".into(), "v_proj".into()],
    }
}

fn params(lr: f64) -> ParamsAdamW {
    ParamsAdamW {
        lr,
        weight_decay: 0.0,
        ..ParamsAdamW::default()
    }
}

/// Random samples: prompts of 4..9 tokens, answers of 2..4, fixed by `seed`.
fn samples(n: usize, seed: u64) -> Vec<Sample> {
    let vocab = test_tokenizer().vocab_size() as u32;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let p: Vec<u32> = (0..rng.random_range(4..10))
                .map(|_| rng.random_range(3..vocab))
                .collect();
            let a: Vec<u32> = (0..rng.random_range(2..5))
                .map(|_| rng.random_range(3..vocab))
                .collect();
            Sample::new(&p, &a, None).unwrap().0
        })
        .collect()
}

fn all_logits(model: &Llama, ids: &[u32]) -> Tensor {
    let input = Input::from_tokens(ids, 0, model.device()).unwrap();
    model
        .logits(&model.forward_hidden(&input, None, Mode::Inference).unwrap())
        .unwrap()
}

fn refs(s: &[Sample]) -> Vec<&Sample> {
    s.iter().collect()
}

#[test]
fn lora_at_init_leaves_logits_unchanged() {
    let mut model = random_model(&tiny(), 1, &Device::Cpu).unwrap();
    let ids = [5u32, 17, 99, 3, 250, 41];
    assert!(tiny().vocab_size > 250);
    let before = all_logits(&model, &ids);
    let _trainer = LoraTrainer::new(&mut model, &lora(0.0), 2, params(1e-3)).unwrap();
    assert_eq!(model.lora_tensors().len(), 2 * 2 * 2);
    assert!(max_abs_diff(&before, &all_logits(&model, &ids)) < 1e-6);
}

#[test]
fn answer_loss_equals_the_cross_entropy_of_answer_positions_computed_by_hand() {
    let model = random_model(&tiny(), 3, &Device::Cpu).unwrap();
    let data = samples(3, 4);
    for s in &data {
        // Reference: logits at every position, −log softmax of the next token, summed over
        // the positions that predict an answer token only.
        let logits = all_logits(&model, &s.ids).squeeze(0).unwrap();
        let logp = candle_nn::ops::log_softmax(&logits, D::Minus1)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let expected: f32 = (s.answer_start..s.ids.len())
            .map(|j| -logp[j - 1][s.ids[j] as usize])
            .sum();
        let got = answer_loss(&model, &[s], Mode::Training).unwrap();
        assert_eq!(got.answer_tokens, s.ids.len() - s.answer_start);
        assert!((got.nll_sum.to_scalar::<f32>().unwrap() - expected).abs() < 1e-4);
    }
    // Left padding in a batch changes nothing: the batch loss is the sum of the single ones.
    let singles: f32 = data
        .iter()
        .map(|s| {
            answer_loss(&model, &[s], Mode::Training)
                .unwrap()
                .nll_sum
                .to_scalar::<f32>()
                .unwrap()
        })
        .sum();
    let batch = answer_loss(&model, &refs(&data), Mode::Training)
        .unwrap()
        .nll_sum
        .to_scalar::<f32>()
        .unwrap();
    assert!((singles - batch).abs() < 1e-3, "{singles} vs {batch}");
}

#[test]
fn prompt_tokens_are_not_trained_on() {
    let model = random_model(&tiny(), 3, &Device::Cpu).unwrap();
    let (s, _) = Sample::new(&[10, 11, 12, 13], &[20, 21], None).unwrap();
    // The same ids with the answer boundary moved into the prompt score more tokens; the
    // difference is exactly the loss of the extra (prompt) targets.
    let wider = Sample {
        ids: s.ids.clone(),
        answer_start: 2,
    };
    let a = answer_loss(&model, &[&s], Mode::Training).unwrap();
    let b = answer_loss(&model, &[&wider], Mode::Training).unwrap();
    assert_eq!((a.answer_tokens, b.answer_tokens), (2, 4));
    let logits = all_logits(&model, &s.ids).squeeze(0).unwrap();
    let logp = candle_nn::ops::log_softmax(&logits, D::Minus1)
        .unwrap()
        .to_vec2::<f32>()
        .unwrap();
    let prompt_part = -logp[1][12] - logp[2][13];
    let diff = b.nll_sum.to_scalar::<f32>().unwrap() - a.nll_sum.to_scalar::<f32>().unwrap();
    assert!((diff - prompt_part).abs() < 1e-4);
}

#[test]
fn a_few_adamw_steps_lower_the_loss_on_a_fixed_batch() {
    let mut model = random_model(&tiny(), 5, &Device::Cpu).unwrap();
    let data = samples(4, 6);
    let mut trainer = LoraTrainer::new(&mut model, &lora(0.0), 7, params(1e-2)).unwrap();
    let before = evaluate(&model, &data, 4).unwrap().unwrap();
    for _ in 0..8 {
        trainer.step(&model, &[refs(&data)]).unwrap();
    }
    let after = evaluate(&model, &data, 4).unwrap().unwrap();
    assert!(after < before * 0.9, "loss {before} -> {after}");
}

#[test]
fn gradient_accumulation_equals_one_big_batch() {
    let data = samples(4, 8);
    let run = |micro: Vec<Vec<&Sample>>| {
        let mut model = random_model(&tiny(), 9, &Device::Cpu).unwrap();
        let mut trainer = LoraTrainer::new(&mut model, &lora(0.0), 10, params(1e-2)).unwrap();
        for _ in 0..2 {
            trainer.step(&model, &micro).unwrap();
        }
        model.lora_tensors()
    };
    let whole = run(vec![refs(&data)]);
    let split = run(vec![refs(&data[..1]), refs(&data[1..])]);
    for ((name, a), (_, b)) in whole.iter().zip(&split) {
        assert!(max_abs_diff(a, b) < 1e-6, "{name}");
    }
}

/// The tiny model with every base weight a `Var`, so a gradient reaching one would show.
fn model_with_base_vars() -> (Llama, Vec<(String, Var)>) {
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let mut vars = Vec::new();
    for (name, t) in crate::models::testing::random_tensors(&tiny(), 11, &dev).unwrap() {
        let var = Var::from_tensor(&t).unwrap();
        varmap
            .data()
            .lock()
            .unwrap()
            .insert(name.clone(), var.clone());
        vars.push((name, var));
    }
    let model = Llama::load(VarBuilder::from_varmap(&varmap, DType::F32, &dev), &tiny()).unwrap();
    (model, vars)
}

#[test]
fn every_lora_variable_receives_a_gradient_and_no_base_weight_does() {
    let (mut model, base) = model_with_base_vars();
    let data = samples(3, 12);
    let mut trainer = LoraTrainer::new(&mut model, &lora(0.0), 13, params(1e-2)).unwrap();
    // At init B = 0, so A's gradient is zero by construction; one step makes B non-zero.
    trainer.step(&model, &[refs(&data)]).unwrap();
    let (grads, _) = trainer.gradients(&model, &refs(&data)).unwrap();
    let mut seen = 0;
    for (name, var) in trainer.vars() {
        let g = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        let norm = max_abs(g);
        assert!(norm > 0.0, "zero gradient for {name}");
        seen += 1;
    }
    assert_eq!(seen, 8);
    for (name, var) in &base {
        assert!(
            grads.get(var.as_tensor()).is_none(),
            "base weight {name} got a gradient"
        );
    }
}

#[test]
fn merged_equals_unmerged_after_training() {
    let mut model = random_model(&tiny(), 14, &Device::Cpu).unwrap();
    let data = samples(4, 15);
    let mut trainer = LoraTrainer::new(&mut model, &lora(0.1), 16, params(2e-2)).unwrap();
    for _ in 0..3 {
        trainer.step(&model, &[refs(&data)]).unwrap();
    }
    let ids = [7u32, 8, 200, 31, 4];
    let unmerged = all_logits(&model, &ids);
    model.merge_lora().unwrap();
    assert!(model.lora_tensors().is_empty());
    assert!(max_abs_diff(&unmerged, &all_logits(&model, &ids)) < 1e-4);
}

#[test]
fn peft_save_and_load_reproduce_the_trained_logits() {
    let mut model = random_model(&tiny(), 17, &Device::Cpu).unwrap();
    let data = samples(4, 18);
    let cfg = lora(0.0);
    let mut trainer = LoraTrainer::new(&mut model, &cfg, 19, params(2e-2)).unwrap();
    for _ in 0..3 {
        trainer.step(&model, &[refs(&data)]).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    peft::save_adapter(dir.path(), &cfg, &model.lora_tensors(), "tiny-random").unwrap();
    let (loaded_cfg, tensors) = peft::load_adapter(dir.path(), &Device::Cpu).unwrap();
    assert_eq!(loaded_cfg, cfg);
    let mut fresh = random_model(&tiny(), 17, &Device::Cpu).unwrap();
    peft::check_against_model(&loaded_cfg, &tensors, fresh.config()).unwrap();
    fresh.load_lora(&loaded_cfg, &tensors).unwrap();
    let ids = [9u32, 100, 12, 250];
    assert_eq!(
        max_abs_diff(&all_logits(&model, &ids), &all_logits(&fresh, &ids)),
        0.0
    );
}

fn lora_values(dir: &Path) -> HashMap<String, Vec<f32>> {
    let (_, t) = peft::load_adapter(dir, &Device::Cpu).unwrap();
    t.into_iter()
        .map(|(k, v)| (k, v.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
        .collect()
}

#[test]
fn a_resumed_run_ends_where_an_uninterrupted_one_does() {
    let train_set = samples(10, 20);
    let valid_set = samples(3, 21);
    let cfg = TrainConfig {
        epochs: 2,
        lr: 1e-2,
        batch_size: 2,
        grad_accum: 2,
        max_steps: Some(5),
        checkpoint_every: Some(2),
        seed: 22,
        lora: lora(0.1),
        ..TrainConfig::default()
    };
    let whole_dir = tempfile::tempdir().unwrap();
    let run = |dir: &Path, max_steps: usize, resume: bool, events: &mut Vec<TrainEvent>| {
        let mut model = random_model(&tiny(), 23, &Device::Cpu).unwrap();
        let cfg = TrainConfig {
            max_steps: Some(max_steps),
            ..cfg.clone()
        };
        let opts = RunOptions {
            out_dir: dir.to_path_buf(),
            base_model: "tiny".into(),
            resume,
        };
        train(
            &mut model,
            &train_set,
            &valid_set,
            &cfg,
            &opts,
            &AtomicBool::new(false),
            &mut |e| events.push(e.clone()),
        )
        .unwrap()
    };
    let mut events = Vec::new();
    let whole = run(whole_dir.path(), 5, false, &mut events);
    assert_eq!(
        (whole.steps, whole.total_steps, whole.resumed_from),
        (5, 5, None)
    );
    // 10 examples at 4 per step: 3 steps per epoch, validation after steps 3 and 5.
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, TrainEvent::Validation { .. }))
            .count(),
        2
    );
    assert!(matches!(
        events.last(),
        Some(TrainEvent::Finished { steps: 5, .. })
    ));

    let split_dir = tempfile::tempdir().unwrap();
    let first = run(split_dir.path(), 2, false, &mut Vec::new());
    assert_eq!(first.steps, 2);
    let mut resumed_events = Vec::new();
    let resumed = run(split_dir.path(), 5, true, &mut resumed_events);
    assert_eq!((resumed.steps, resumed.resumed_from), (5, Some(2)));
    assert!(matches!(
        resumed_events[0],
        TrainEvent::Started {
            start_step: 2,
            total_steps: 5,
            ..
        }
    ));

    let (a, b) = (lora_values(whole_dir.path()), lora_values(split_dir.path()));
    assert_eq!(a.len(), b.len());
    for (name, values) in &a {
        let diff = values
            .iter()
            .zip(&b[name])
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-6, "{name} differs by {diff}");
    }
    assert_eq!(whole.valid_loss, resumed.valid_loss);
    let log = std::fs::read_to_string(split_dir.path().join(LOG_FILE)).unwrap();
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("\"event\":\"step\""))
            .count(),
        5
    );
    assert!(split_dir.path().join(checkpoint::STATE_FILE).is_file());
}

#[test]
fn a_cancelled_run_stops_at_a_checkpoint_and_resumes_to_the_same_adapter() {
    let train_set = samples(8, 30);
    let cfg = TrainConfig {
        epochs: 1,
        lr: 1e-2,
        batch_size: 2,
        max_steps: Some(4),
        checkpoint_every: Some(100),
        seed: 31,
        lora: lora(0.0),
        ..TrainConfig::default()
    };
    let run = |dir: &Path, resume: bool, stop_after: Option<usize>| {
        let mut model = random_model(&tiny(), 32, &Device::Cpu).unwrap();
        let opts = RunOptions {
            out_dir: dir.to_path_buf(),
            base_model: "tiny".into(),
            resume,
        };
        let stop = AtomicBool::new(false);
        train(&mut model, &train_set, &[], &cfg, &opts, &stop, &mut |e| {
            if let TrainEvent::Step { step, .. } = e {
                if Some(*step) == stop_after {
                    stop.store(true, Ordering::SeqCst);
                }
            }
        })
        .unwrap()
    };
    let whole_dir = tempfile::tempdir().unwrap();
    let whole = run(whole_dir.path(), false, None);
    assert!(!whole.cancelled);

    let split_dir = tempfile::tempdir().unwrap();
    let stopped = run(split_dir.path(), false, Some(2));
    assert!(stopped.cancelled);
    assert_eq!(stopped.steps, 2);
    assert!(
        !split_dir.path().join(peft::WEIGHTS_FILE).exists(),
        "a cancelled run writes no final adapter"
    );
    let resumed = run(split_dir.path(), true, None);
    assert_eq!((resumed.steps, resumed.resumed_from), (4, Some(2)));
    let (a, b) = (lora_values(whole_dir.path()), lora_values(split_dir.path()));
    for (name, values) in &a {
        let diff = values
            .iter()
            .zip(&b[name])
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-6, "{name} differs by {diff}");
    }
}

#[test]
fn resuming_with_other_settings_is_refused() {
    let data = samples(4, 24);
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        max_steps: Some(1),
        lora: lora(0.0),
        batch_size: 2,
        ..TrainConfig::default()
    };
    let opts = RunOptions {
        out_dir: dir.path().to_path_buf(),
        base_model: "tiny".into(),
        resume: true,
    };
    let mut model = random_model(&tiny(), 25, &Device::Cpu).unwrap();
    train(
        &mut model,
        &data,
        &[],
        &cfg,
        &opts,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    let other = TrainConfig {
        batch_size: 1,
        ..cfg
    };
    let mut model = random_model(&tiny(), 25, &Device::Cpu).unwrap();
    let err = train(
        &mut model,
        &data,
        &[],
        &other,
        &opts,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("other settings") && err.contains("instead of resuming"),
        "{err}"
    );
}
