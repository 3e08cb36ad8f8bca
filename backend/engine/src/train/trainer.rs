//! The LoRA training loop: next-token cross-entropy on answer tokens only, AdamW over the
//! adapter variables only, gradient accumulation, a validation pass per epoch, seeded shuffling,
//! resumable checkpoints and progress events.
//!
//! Cost notes (ENGINE-NOTES traps 1 and 2): the model runs in `Mode::Training` (differentiable
//! kernels: on the CPU fused passes with their own backward, `models::llama::fused`), its base linears are `FrozenLinear`s whose backward skips weight gradients, and the
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
use std::path::{Path, PathBuf};
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
    // The step of the newest checkpoint on disk, so a cancel right after one does not write it
    // again.
    let mut saved_step = state.global_step;
    while state.global_step < total_steps && state.epoch < cfg.epochs {
        let order = epoch_order(train_set.len(), cfg.seed, state.epoch);
        let chunks: Vec<&[usize]> = order.chunks(per_step).collect();
        while state.step_in_epoch < chunks.len() && state.global_step < total_steps {
            if stop.load(Ordering::SeqCst) {
                state.elapsed_s = elapsed_before + session_start.elapsed().as_secs_f64();
                if state.global_step > saved_step {
                    let path = save_checkpoint(&run.out_dir, &state, model, &trainer)?;
                    emit(TrainEvent::Checkpoint {
                        step: state.global_step,
                        path,
                    })?;
                }
                return Ok(summary(&state, resumed_from, &run.out_dir, true));
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
                let path = save_checkpoint(&run.out_dir, &state, model, &trainer)?;
                saved_step = state.global_step;
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
    let summary = summary(&state, resumed_from, &run.out_dir, false);
    emit(TrainEvent::Finished {
        steps: summary.steps,
        train_loss: summary.train_loss,
        valid_loss: summary.valid_loss,
        elapsed_s: summary.elapsed_s,
        adapter_dir: summary.adapter_dir.clone(),
    })?;
    Ok(summary)
}

/// How the run stands at `state`, finished or `cancelled`.
fn summary(
    state: &TrainerState,
    resumed_from: Option<usize>,
    out_dir: &Path,
    cancelled: bool,
) -> TrainSummary {
    TrainSummary {
        steps: state.global_step,
        total_steps: state.total_steps,
        resumed_from,
        train_loss: (state.epoch_loss_tokens > 0)
            .then(|| state.epoch_loss_sum / state.epoch_loss_tokens as f64),
        valid_loss: state.valid_losses.last().map(|v| v.2),
        elapsed_s: state.elapsed_s,
        adapter_dir: out_dir.to_path_buf(),
        cancelled,
    }
}

/// A resumable checkpoint of the adapter and the optimizer at `state`.
fn save_checkpoint(
    out_dir: &Path,
    state: &TrainerState,
    model: &Llama,
    trainer: &LoraTrainer,
) -> Result<PathBuf> {
    checkpoint::save(
        out_dir,
        state,
        &model.lora_tensors(),
        &trainer.optimizer.state_tensors(),
    )
}

#[cfg(test)]
mod tests;
