//! `TrainJob`: a LoRA adapter that injects one target group's values (VIM, Kang et al. 2023):
//! the group's examples from the authors' train split, validation on their valid split, the
//! adapter in PEFT format with `training_log.jsonl`, `trainer_state.json` and the record of which
//! group it is for. Cancelled, it stops at a checkpoint; the same job with `resume` continues.

use super::model::ModelRun;
use super::progress::{CancelToken, JobEvent, ProgressSink};
use super::vim_data::VimExamples;
use crate::adapter::provenance::{self, AdapterProvenance};
use crate::data::touche::{read_arguments, Split};
use crate::lora::LoraConfig;
use crate::models::LoadedModel;
use crate::train::dataset::{encode_examples, subsample, Sample};
use crate::train::{self, RunOptions, TrainConfig, TrainSummary};
use crate::vim;
use crate::Result;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

/// The Hugging Face repository of the embedded model, written into `adapter_config.json` so
/// PEFT's `AutoPeftModelForCausalLM` finds the base (the GGUF is its Q4_1 quantisation).
const SMOLLM2_HF_REPO: &str = "HuggingFaceTB/SmolLM2-135M-Instruct";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainJob {
    /// The group and its examples; `seed` also seeds the adapter initialisation, shuffling and
    /// dropout.
    #[serde(flatten)]
    pub examples: VimExamples,
    #[serde(flatten)]
    pub training: LoraTraining,
}

/// How a LoRA adapter is trained, and where it goes: the part of a spec that the adapter
/// training jobs share (this one, one group; `VimCondJob`, every profile). Flattened into their
/// JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoraTraining {
    #[serde(flatten)]
    pub model: ModelRun,
    pub epochs: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub grad_accum: usize,
    #[serde(default)]
    pub max_steps: Option<usize>,
    /// A seeded subset of at most this many training (and validation) examples (one-group
    /// training; `vim-cond` draws its `examples` instead).
    #[serde(default)]
    pub max_examples: Option<usize>,
    pub max_seq_len: usize,
    pub lora: LoraConfig,
    pub checkpoint_every: usize,
    /// Continue from `out/checkpoint` when it exists.
    #[serde(default)]
    pub resume: bool,
    /// The adapter folder.
    pub out: PathBuf,
}

/// The trainer's summary; `summary.cancelled`: stopped by the cancel token at a checkpoint (no
/// final adapter yet).
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOutput {
    pub summary: TrainSummary,
}

impl LoraTraining {
    /// The trainer's settings; `seed` seeds the adapter initialisation, shuffling and dropout.
    pub fn config(&self, seed: u64) -> TrainConfig {
        TrainConfig {
            epochs: self.epochs,
            lr: self.lr,
            weight_decay: self.weight_decay,
            batch_size: self.batch_size,
            grad_accum: self.grad_accum,
            max_steps: self.max_steps,
            max_seq_len: Some(self.max_seq_len),
            seed,
            checkpoint_every: Some(self.checkpoint_every),
            lora: self.lora.clone(),
        }
    }

    /// Trains the adapter into `out` (resuming from its checkpoint when asked), reporting every
    /// trainer event to `sink`.
    pub fn train(
        &self,
        model: &mut LoadedModel,
        train_set: &[Sample],
        valid_set: &[Sample],
        seed: u64,
        sink: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<TrainSummary> {
        let base_model = if self.model.model == super::model::DEFAULT_MODEL {
            SMOLLM2_HF_REPO.to_string()
        } else {
            self.model.model.clone()
        };
        let run = RunOptions {
            out_dir: self.out.clone(),
            base_model,
            resume: self.resume,
        };
        train::train(
            &mut model.llama,
            train_set,
            valid_set,
            &self.config(seed),
            &run,
            cancel.flag(),
            &mut |event| {
                sink.event(&JobEvent::Train {
                    event: event.clone(),
                })
            },
        )
    }
}

impl TrainJob {
    pub fn run(&self, sink: &dyn ProgressSink, cancel: &CancelToken) -> Result<TrainOutput> {
        let spec = &self.examples;
        let training = &self.training;
        spec.check()?;
        let started = Instant::now();
        training.config(spec.seed).validate()?;

        // Training data first: a bad group name should fail before a model load.
        let (group, groups_path) = spec.target_group()?;
        let dir = spec.data_dir()?;
        let examples_of = |split: Split| -> Result<Vec<vim::TrainingExample>> {
            let arguments = read_arguments(&dir.split_csv(split))?;
            let examples = spec.build(&group, &arguments);
            Ok(subsample(examples, training.max_examples, spec.seed))
        };
        let train_examples = examples_of(Split::Train)?;
        let valid_examples = examples_of(Split::Valid)?;

        let mut model = training.model.load()?;
        let max_len = Some(training.max_seq_len);
        let (train_set, cut_train) = encode_examples(&model, &train_examples, max_len)?;
        let (valid_set, cut_valid) = encode_examples(&model, &valid_examples, max_len)?;
        sink.event(&JobEvent::message(format!(
            "group {}, method {}: {} training and {} validation examples ({} cut to {} tokens); model {} loaded in {:.1} s",
            group.name,
            spec.method,
            train_set.len(),
            valid_set.len(),
            cut_train + cut_valid,
            training.max_seq_len,
            model.name,
            started.elapsed().as_secs_f64()
        )));
        let summary =
            training.train(&mut model, &train_set, &valid_set, spec.seed, sink, cancel)?;
        if !summary.cancelled {
            provenance::write(
                &summary.adapter_dir,
                &AdapterProvenance {
                    group: group.name.clone(),
                    values: group.values.scores().to_vec(),
                    method: spec.method.to_string(),
                    rule: spec.rule.to_string(),
                    threshold: spec.threshold,
                    seed: spec.seed,
                    groups_file: groups_path.display().to_string(),
                    profile_scores: None,
                },
            )?;
        }
        Ok(TrainOutput { summary })
    }
}
