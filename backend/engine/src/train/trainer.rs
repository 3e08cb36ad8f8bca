//! The LoRA training loop: next-token cross-entropy on answer tokens only, AdamW over the
//! adapter variables only, gradient accumulation, a validation pass per epoch, seeded shuffling,
//! resumable checkpoints and progress events.
//!
//! Cost notes (ENGINE-NOTES traps 1 and 2): the model runs in `Mode::Training` (differentiable
//! kernels), its base linears are `FrozenLinear`s whose backward skips weight gradients, and the
//! output layer (49152×576 for SmolLM2) is applied only at the positions that predict an answer
//! token rather than at every position.

use crate::adapter::peft;
use crate::lora::LoraConfig;
use crate::models::llama::{Input, Llama, Mode};
use crate::output::JsonlLog;
use crate::train::checkpoint::{self, RunSettings, TrainerState};
use crate::train::dataset::{epoch_order, Sample};
use crate::train::events::TrainEvent;
use crate::train::optim::{AdamW, ParamsAdamW};
use crate::{Error, Field, Result};
use candle_core::{Tensor, Var, D};
use candle_nn::VarMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// The paper's settings (Kang et al. 2023, Appendix B: AdamW, lr 2e-5, 5 epochs, batch 4, LoRA
/// rank 8) where it states them.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub epochs: usize,
    pub lr: f64,
    /// AdamW's decoupled weight decay; 0.01 is PyTorch's `torch.optim.AdamW` default.
    pub weight_decay: f64,
    /// Examples per forward/backward pass.
    pub batch_size: usize,
    /// Passes whose gradients are summed before one optimizer step (effective batch =
    /// `batch_size × grad_accum`).
    pub grad_accum: usize,
    /// Stop after this many optimizer steps (a CPU-sized budget); None: run every epoch.
    pub max_steps: Option<usize>,
    /// Recorded in the run settings (the samples are already cut to it).
    pub max_seq_len: Option<usize>,
    pub seed: u64,
    /// Write a resumable checkpoint every this many steps (and always at the end of an epoch).
    pub checkpoint_every: Option<usize>,
    pub lora: LoraConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 5,
            lr: 2e-5,
            weight_decay: 0.01,
            batch_size: 4,
            grad_accum: 1,
            max_steps: None,
            max_seq_len: Some(512),
            seed: 0,
            checkpoint_every: Some(100),
            lora: LoraConfig {
                r: 8,
                ..LoraConfig::default()
            },
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        self.lora.validate()?;
        if self.epochs == 0 || self.batch_size == 0 || self.grad_accum == 0 {
            return Err(Error::invalid(
                "epochs, batch size and gradient accumulation must each be at least 1",
            ));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(Error::invalid(format!(
                "learning rate {} must be a positive number",
                self.lr
            )));
        }
        if self.max_steps == Some(0) || self.checkpoint_every == Some(0) {
            return Err(Error::invalid(
                "max steps and checkpoint interval must be at least 1 when given",
            ));
        }
        Ok(())
    }

    fn adamw(&self) -> ParamsAdamW {
        ParamsAdamW {
            lr: self.lr,
            weight_decay: self.weight_decay,
            ..ParamsAdamW::default()
        }
    }
}

/// Summed cross-entropy over the answer tokens of a batch, and how many tokens it covers.
pub struct BatchLoss {
    /// Scalar: Σ −log p(answer token | everything before it).
    pub nll_sum: Tensor,
    pub answer_tokens: usize,
    /// All tokens fed through the model (padding excluded).
    pub tokens: usize,
}

/// Forward pass over `batch` (left-padded) and the loss on answer tokens only: hidden states are
/// gathered at the positions that predict an answer token before the output layer is applied.
pub fn answer_loss(model: &Llama, batch: &[&Sample], mode: Mode) -> Result<BatchLoss> {
    let device = model.device();
    let seqs: Vec<Vec<u32>> = batch.iter().map(|s| s.ids.clone()).collect();
    let input = Input::left_padded(&seqs, &vec![0; batch.len()], 0, device)?;
    let hidden = model.forward_hidden(&input, None, mode)?;
    let (b, t, h) = hidden.dims3()?;
    let mut rows = Vec::new();
    let mut targets = Vec::new();
    for (i, s) in batch.iter().enumerate() {
        let pad = t - s.ids.len();
        for j in s.answer_start.max(1)..s.ids.len() {
            // Position j-1 (after left padding) predicts token j.
            rows.push((i * t + pad + j - 1) as u32);
            targets.push(s.ids[j]);
        }
    }
    if rows.is_empty() {
        return Err(Error::invalid("the batch has no answer tokens to train on"));
    }
    let n = rows.len();
    let picked = hidden
        .reshape((b * t, h))?
        .index_select(&Tensor::new(rows, device)?, 0)?;
    let logits = model.logits(&picked)?;
    let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
    let target = Tensor::new(targets, device)?.unsqueeze(1)?;
    let nll_sum = log_probs.gather(&target, 1)?.sum_all()?.neg()?;
    Ok(BatchLoss {
        nll_sum,
        answer_tokens: n,
        tokens: batch.iter().map(|s| s.ids.len()).sum(),
    })
}

/// Mean loss per answer token over `samples`, without gradients or dropout.
pub fn evaluate(model: &Llama, samples: &[Sample], batch_size: usize) -> Result<Option<f64>> {
    let mut sum = 0.0;
    let mut tokens = 0;
    for chunk in samples.chunks(batch_size.max(1)) {
        let refs: Vec<&Sample> = chunk.iter().collect();
        let loss = answer_loss(model, &refs, Mode::Inference)?;
        sum += loss.nll_sum.to_scalar::<f32>()? as f64;
        tokens += loss.answer_tokens;
    }
    Ok((tokens > 0).then(|| sum / tokens as f64))
}

/// What one optimizer step did.
#[derive(Debug, Clone, Copy)]
pub struct StepStats {
    /// Mean cross-entropy per answer token.
    pub loss: f64,
    pub answer_tokens: usize,
    pub tokens: usize,
}

/// Adapters attached to a model plus their optimizer: the part of training that changes weights.
pub struct LoraTrainer {
    optimizer: AdamW,
    vars: Vec<Var>,
}

impl LoraTrainer {
    /// Attaches fresh adapters (`seed` initialises A) and an AdamW over exactly their variables.
    pub fn new(
        model: &mut Llama,
        lora: &LoraConfig,
        seed: u64,
        params: ParamsAdamW,
    ) -> Result<Self> {
        let varmap = VarMap::new();
        model.attach_lora(lora, &varmap, seed)?;
        let mut named: Vec<(String, Var)> = varmap
            .data()
            .lock()
            .map_err(|_| Error::invalid("lora variable map lock poisoned"))?
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // A fixed order makes the optimizer state file and the update order reproducible.
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let vars = named.iter().map(|(_, v)| v.clone()).collect();
        Ok(Self {
            optimizer: AdamW::new(named, params)?,
            vars,
        })
    }

    pub fn vars(&self) -> impl Iterator<Item = (&str, &Var)> {
        self.optimizer.vars()
    }

    pub fn trainable_params(&self) -> usize {
        self.vars.iter().map(|v| v.elem_count()).sum()
    }

    /// One optimizer step over `micro_batches`; their gradients are summed with each pass's loss
    /// divided by the step's total answer tokens, so the update equals one pass over all of them.
    pub fn step(&mut self, model: &Llama, micro_batches: &[Vec<&Sample>]) -> Result<StepStats> {
        let total: usize = micro_batches
            .iter()
            .flatten()
            .map(|s| s.answer_tokens())
            .sum();
        if total == 0 {
            return Err(Error::invalid(
                "an optimizer step needs at least one answer token",
            ));
        }
        let mut grads: Vec<Option<Tensor>> = vec![None; self.vars.len()];
        let (mut loss_sum, mut tokens) = (0.0, 0);
        for batch in micro_batches.iter().filter(|b| !b.is_empty()) {
            let loss = answer_loss(model, batch, Mode::Training)?;
            loss_sum += loss.nll_sum.to_scalar::<f32>()? as f64;
            tokens += loss.tokens;
            let store = (loss.nll_sum / total as f64)?.backward()?;
            for (acc, var) in grads.iter_mut().zip(&self.vars) {
                if let Some(g) = store.get(var.as_tensor()) {
                    *acc = Some(match acc.take() {
                        Some(prev) => (prev + g)?,
                        None => g.clone(),
                    });
                }
            }
        }
        self.optimizer.step(&grads)?;
        Ok(StepStats {
            loss: loss_sum / total as f64,
            answer_tokens: total,
            tokens,
        })
    }

    /// The gradients one step would apply, without applying them (tests and diagnostics).
    pub fn gradients(
        &self,
        model: &Llama,
        batch: &[&Sample],
    ) -> Result<(candle_core::backprop::GradStore, f64)> {
        let loss = answer_loss(model, batch, Mode::Training)?;
        let mean = (loss.nll_sum / loss.answer_tokens as f64)?;
        let value = mean.to_scalar::<f32>()? as f64;
        Ok((mean.backward()?, value))
    }

    fn restore(&mut self, ckpt: &checkpoint::Checkpoint) -> Result<()> {
        for (name, var) in self.optimizer.vars() {
            let saved = ckpt.lora.get(name).ok_or_else(|| {
                Error::invalid(format!(
                    "the checkpoint has no '{name}'; it was made with other lora settings"
                ))
            })?;
            var.set(&saved.to_device(var.device())?)?;
        }
        self.optimizer
            .restore(&ckpt.optimizer, ckpt.state.global_step)
    }
}

/// Where a run writes, and whether it continues an earlier one.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Final adapter (PEFT format), `training_log.jsonl`, `trainer_state.json`, `checkpoint/`.
    pub out_dir: PathBuf,
    /// Written into `adapter_config.json` as `base_model_name_or_path`.
    pub base_model: String,
    /// Continue from `out_dir/checkpoint` when there is one (a fresh start otherwise).
    pub resume: bool,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSummary {
    pub steps: usize,
    pub total_steps: usize,
    /// The step the run resumed from (None: fresh start).
    pub resumed_from: Option<usize>,
    /// Mean train loss per answer token over the last epoch's steps.
    pub train_loss: Option<f64>,
    pub valid_loss: Option<f64>,
    pub elapsed_s: f64,
    pub adapter_dir: PathBuf,
    /// `stop` was set: the run ended early at a checkpoint (no final adapter); rerun with
    /// `resume` to continue.
    pub cancelled: bool,
}

pub const LOG_FILE: &str = "training_log.jsonl";

/// Trains fresh LoRA adapters on `model` (which keeps them afterwards, unmerged) and saves the
/// result in PEFT format to `run.out_dir`. `on_event` sees every event, in order, on this thread.
/// `stop` (set from any thread) ends the run before the next step, with a checkpoint to resume
/// from.
pub fn train(
    model: &mut Llama,
    train_set: &[Sample],
    valid_set: &[Sample],
    cfg: &TrainConfig,
    run: &RunOptions,
    stop: &AtomicBool,
    on_event: &mut dyn FnMut(&TrainEvent),
) -> Result<TrainSummary> {
    cfg.validate()?;
    if train_set.is_empty() {
        return Err(Error::invalid("there are no training examples"));
    }
    std::fs::create_dir_all(&run.out_dir).map_err(|e| {
        Error::file(
            &run.out_dir,
            None,
            format!("cannot create the output folder: {e}"),
        )
    })?;
    let per_step = cfg.batch_size * cfg.grad_accum;
    let steps_per_epoch = train_set.len().div_ceil(per_step);
    let total_steps = (cfg.epochs * steps_per_epoch).min(cfg.max_steps.unwrap_or(usize::MAX));
    let settings = RunSettings {
        train_examples: train_set.len(),
        valid_examples: valid_set.len(),
        batch_size: cfg.batch_size,
        grad_accum: cfg.grad_accum,
        epochs: cfg.epochs,
        seed: cfg.seed,
        lr: cfg.lr,
        weight_decay: cfg.weight_decay,
        max_seq_len: cfg.max_seq_len,
        lora: cfg.lora.clone(),
    };

    let mut trainer = LoraTrainer::new(model, &cfg.lora, cfg.seed, cfg.adamw())?;
    let mut state = TrainerState {
        global_step: 0,
        epoch: 0,
        step_in_epoch: 0,
        total_steps,
        steps_per_epoch,
        epoch_loss_sum: 0.0,
        epoch_loss_tokens: 0,
        last_train_loss: None,
        valid_losses: Vec::new(),
        elapsed_s: 0.0,
        settings: settings.clone(),
        base_model: run.base_model.clone(),
    };
    let mut resumed_from = None;
    if run.resume {
        if let Some(dir) = checkpoint::find(&run.out_dir) {
            let ckpt = checkpoint::load(&dir, model.device())?;
            if ckpt.state.settings != settings {
                return Err(Error::input(
                    Field::Resume,
                    format!(
                        "{}: the checkpoint was made with other settings ({:?}) than this run ({:?}); \
                         rerun with the same options, or start over instead of resuming",
                        dir.join(checkpoint::STATE_FILE).display(),
                        ckpt.state.settings,
                        settings
                    ),
                ));
            }
            trainer.restore(&ckpt)?;
            state = ckpt.state;
            // A larger --max-steps on resume extends the run.
            state.total_steps = total_steps;
            resumed_from = Some(state.global_step);
        }
    }
    // One event a line, flushed as it goes, so a killed run keeps its log.
    let mut log = JsonlLog::open(&run.out_dir.join(LOG_FILE), resumed_from.is_some())?;
    let mut emit = |event: TrainEvent| -> Result<()> {
        log.append(&event)?;
        on_event(&event);
        Ok(())
    };
    emit(TrainEvent::Started {
        total_steps,
        start_step: state.global_step,
        epochs: cfg.epochs,
        train_examples: train_set.len(),
        valid_examples: valid_set.len(),
        trainable_params: trainer.trainable_params(),
    })?;

    let session_start = Instant::now();
    let elapsed_before = state.elapsed_s;
    let mut step_time = 0.0;
    let mut steps_this_session = 0usize;
    while state.global_step < total_steps && state.epoch < cfg.epochs {
        let order = epoch_order(train_set.len(), cfg.seed, state.epoch);
        let chunks: Vec<&[usize]> = order.chunks(per_step).collect();
        while state.step_in_epoch < chunks.len() && state.global_step < total_steps {
            if stop.load(Ordering::SeqCst) {
                state.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();
                if state.global_step > resumed_from.unwrap_or(0) {
                    let lora = model.lora_tensors();
                    let path = checkpoint::save(
                        &run.out_dir,
                        &state,
                        &lora,
                        &trainer.optimizer.state_tensors(),
                    )?;
                    emit(TrainEvent::Checkpoint {
                        step: state.global_step,
                        path,
                    })?;
                }
                return Ok(TrainSummary {
                    steps: state.global_step,
                    total_steps,
                    resumed_from,
                    train_loss: state.last_train_loss,
                    valid_loss: state.valid_losses.last().map(|v| v.2),
                    elapsed_s: state.elapsed_s,
                    adapter_dir: run.out_dir.clone(),
                    cancelled: true,
                });
            }
            let t0 = Instant::now();
            let picked: Vec<&Sample> = chunks[state.step_in_epoch]
                .iter()
                .map(|&i| &train_set[i])
                .collect();
            let micro: Vec<Vec<&Sample>> = picked
                .chunks(cfg.batch_size)
                .map(<[&Sample]>::to_vec)
                .collect();
            // Dropout masks depend on (seed, step) only, so a resumed step repeats itself.
            model.set_dropout_seed(
                cfg.seed ^ (state.global_step as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03),
            );
            let stats = trainer.step(model, &micro)?;
            if !stats.loss.is_finite() {
                return Err(Error::invalid(format!(
                    "the training loss became {} at step {}; lower the learning rate",
                    stats.loss,
                    state.global_step + 1
                )));
            }
            let dt = t0.elapsed().as_secs_f64();
            step_time += dt;
            steps_this_session += 1;
            state.global_step += 1;
            state.step_in_epoch += 1;
            state.epoch_loss_sum += stats.loss * stats.answer_tokens as f64;
            state.epoch_loss_tokens += stats.answer_tokens;
            state.last_train_loss = Some(stats.loss);
            let mean_step = step_time / steps_this_session as f64;
            emit(TrainEvent::Step {
                step: state.global_step,
                total: total_steps,
                epoch: state.epoch,
                loss: stats.loss,
                tokens_per_s: stats.tokens as f64 / dt.max(1e-9),
                eta_s: mean_step * (total_steps - state.global_step) as f64,
            })?;
            let epoch_done = state.step_in_epoch == chunks.len();
            let budget_done = state.global_step == total_steps;
            if epoch_done || budget_done {
                if let Some(loss) = evaluate(model, valid_set, cfg.batch_size)? {
                    state
                        .valid_losses
                        .push((state.epoch, state.global_step, loss));
                    emit(TrainEvent::Validation {
                        epoch: state.epoch,
                        step: state.global_step,
                        loss,
                    })?;
                }
            }
            if epoch_done {
                state.epoch += 1;
                state.step_in_epoch = 0;
                if state.global_step < total_steps {
                    state.epoch_loss_sum = 0.0;
                    state.epoch_loss_tokens = 0;
                }
            }
            let periodic = cfg
                .checkpoint_every
                .is_some_and(|n| state.global_step.is_multiple_of(n));
            if periodic || epoch_done || budget_done {
                state.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();
                let lora = model.lora_tensors();
                let path = checkpoint::save(
                    &run.out_dir,
                    &state,
                    &lora,
                    &trainer.optimizer.state_tensors(),
                )?;
                emit(TrainEvent::Checkpoint {
                    step: state.global_step,
                    path,
                })?;
            }
        }
        if state.step_in_epoch >= chunks.len() {
            state.epoch += 1;
            state.step_in_epoch = 0;
        }
    }

    state.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();
    peft::save_adapter(
        &run.out_dir,
        &cfg.lora,
        &model.lora_tensors(),
        &run.base_model,
    )?;
    state.write(&run.out_dir.join(checkpoint::STATE_FILE))?;
    let train_loss = (state.epoch_loss_tokens > 0)
        .then(|| state.epoch_loss_sum / state.epoch_loss_tokens as f64);
    let valid_loss = state.valid_losses.last().map(|v| v.2);
    emit(TrainEvent::Finished {
        steps: state.global_step,
        train_loss,
        valid_loss,
        elapsed_s: state.elapsed_s,
        adapter_dir: run.out_dir.clone(),
    })?;
    Ok(TrainSummary {
        steps: state.global_step,
        total_steps,
        resumed_from,
        train_loss,
        valid_loss,
        elapsed_s: state.elapsed_s,
        adapter_dir: run.out_dir.clone(),
        cancelled: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::llama::{random_model, Config};
    use crate::models::testing::max_abs_diff;
    use crate::models::testing::test_tokenizer;
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
        let model =
            Llama::load(VarBuilder::from_varmap(&varmap, DType::F32, &dev), &tiny()).unwrap();
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
            let norm = g
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
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
}
