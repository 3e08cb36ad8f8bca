//! `valuelab train`: a LoRA adapter that injects one target group's values (VIM, Kang et al.
//! 2023): the group's training examples from the authors' train split, validation on their valid
//! split, the adapter saved in PEFT format with `training_log.jsonl` and `trainer_state.json`.

use super::generate::apply_threads;
use super::vim::{MethodArg, RuleArg};
use super::GlobalArgs;
use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Instant;
use valuelab_engine::data::groups::{find_group, read_groups};
use valuelab_engine::data::touche::{read_arguments, Split};
use valuelab_engine::data::DataDir;
use valuelab_engine::lora::LoraConfig;
use valuelab_engine::models;
use valuelab_engine::train::dataset::{encode_examples, subsample};
use valuelab_engine::train::provenance::{self, AdapterProvenance};
use valuelab_engine::train::{self, RunOptions, TrainConfig, TrainEvent};
use valuelab_engine::vim::{self, Method, Rule};

/// The Hugging Face repository of the embedded model, written into `adapter_config.json` so
/// PEFT's `AutoPeftModelForCausalLM` finds the base (the GGUF is its Q4_1 quantisation).
const SMOLLM2_HF_REPO: &str = "HuggingFaceTB/SmolLM2-135M-Instruct";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target group, a name from the groups file (Albania, Group_7, ...).
    #[arg(long)]
    pub group: String,
    /// Training task: argument generation, question answering, or both (VIM).
    #[arg(long, value_enum)]
    pub method: MethodArg,
    /// `smollm2` (installed by scripts/install-model.sh), a .gguf file, or a Hugging Face Llama directory.
    #[arg(long, default_value = "smollm2")]
    pub model: String,
    /// Train on the first CUDA GPU (needs a build with `--features cuda`).
    #[arg(long)]
    pub cuda: bool,
    /// Groups file in the format of country_and_group.csv (default: the data directory's).
    #[arg(long, value_name = "FILE")]
    pub groups: Option<PathBuf>,
    /// Passes over the training data (the paper: 5).
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// AdamW learning rate (the paper: 2e-5).
    #[arg(long, default_value_t = 2e-5)]
    pub lr: f64,
    /// AdamW decoupled weight decay (PyTorch's default).
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// Examples per forward pass (the paper: 4).
    #[arg(long, default_value_t = 4)]
    pub batch_size: usize,
    /// Forward passes per optimizer step (effective batch = batch size × this).
    #[arg(long, default_value_t = 1)]
    pub grad_accum: usize,
    /// Stop after this many optimizer steps (a CPU-sized budget).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Use a seeded subset of at most this many training (and validation) examples.
    #[arg(long)]
    pub max_examples: Option<usize>,
    /// Cut examples to this many tokens, from the start of the prompt.
    #[arg(long, default_value_t = 512)]
    pub max_seq_len: usize,
    /// LoRA rank r (the paper: 8).
    #[arg(long, default_value_t = 8)]
    pub rank: usize,
    /// LoRA alpha (scale alpha / r).
    #[arg(long, default_value_t = 16.0)]
    pub alpha: f64,
    /// LoRA dropout on the adapter input.
    #[arg(long, default_value_t = 0.05)]
    pub dropout: f64,
    /// Linear layers that get adapters, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "q_proj,v_proj")]
    pub target_modules: Vec<String>,
    /// Threshold γ on the 1..6 scale for argument generation's "I would say".
    #[arg(long, default_value_t = vim::DEFAULT_THRESHOLD)]
    pub threshold: f64,
    /// How argument generation combines the group's scores on an argument's values.
    #[arg(long, value_enum, default_value = "mean")]
    pub rule: RuleArg,
    /// Seed of the adapter initialisation, shuffling, dropout and question answering's rounding.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write a resumable checkpoint every this many steps (and at every epoch end).
    #[arg(long, default_value_t = 100)]
    pub checkpoint_every: usize,
    /// Continue from OUT/checkpoint when it exists (same options as the interrupted run).
    #[arg(long)]
    pub resume: bool,
    /// Output folder: the adapter (adapter_config.json, adapter_model.safetensors),
    /// training_log.jsonl, trainer_state.json and checkpoint/.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    if !args.threshold.is_finite() {
        bail!(
            "--threshold must be a number on the 1..6 scale, got {}",
            args.threshold
        );
    }
    let started = Instant::now();
    let lora = LoraConfig {
        r: args.rank,
        lora_alpha: args.alpha,
        lora_dropout: args.dropout,
        target_modules: args.target_modules.clone(),
    };
    let cfg = TrainConfig {
        epochs: args.epochs,
        lr: args.lr,
        weight_decay: args.weight_decay,
        batch_size: args.batch_size,
        grad_accum: args.grad_accum,
        max_steps: args.max_steps,
        max_seq_len: Some(args.max_seq_len),
        seed: args.seed,
        checkpoint_every: Some(args.checkpoint_every),
        lora,
    };
    cfg.validate()?;

    // Training data first: a bad group name should fail before a model load.
    let dir = DataDir::resolve(global.data_dir.as_deref())?;
    let groups_path = args.groups.clone().unwrap_or_else(|| dir.groups_csv());
    let groups = read_groups(&groups_path)?;
    let group = find_group(&groups, &args.group)?;
    let method = match args.method {
        MethodArg::Ag => Method::Ag,
        MethodArg::Qa => Method::Qa,
        MethodArg::Vim => Method::Vim,
    };
    let rule = match args.rule {
        RuleArg::Min => Rule::Min,
        RuleArg::Mean => Rule::Mean,
    };
    let examples_of = |split: Split| -> anyhow::Result<Vec<vim::TrainingExample>> {
        let arguments = read_arguments(&dir.split_csv(split))?;
        let examples = vim::examples(method, &arguments, group, rule, args.threshold, args.seed);
        Ok(subsample(examples, args.max_examples, args.seed))
    };
    let train_examples = examples_of(Split::Train)?;
    let valid_examples = examples_of(Split::Valid)?;

    apply_threads(global);
    let device = models::select_device(args.cuda)?;
    let mut model = models::load_model(&args.model, &device)
        .with_context(|| format!("cannot load model '{}'", args.model))?;
    let max_len = Some(args.max_seq_len);
    let (train_set, cut_train) = encode_examples(&model, &train_examples, max_len)?;
    let (valid_set, cut_valid) = encode_examples(&model, &valid_examples, max_len)?;
    eprintln!(
        "group {}, method {}: {} training and {} validation examples ({} cut to {} tokens); model {} loaded in {:.1} s",
        group.name,
        method,
        train_set.len(),
        valid_set.len(),
        cut_train + cut_valid,
        args.max_seq_len,
        model.name,
        started.elapsed().as_secs_f64()
    );

    let base_model = if args.model == "smollm2" {
        SMOLLM2_HF_REPO.to_string()
    } else {
        args.model.clone()
    };
    let run = RunOptions {
        out_dir: args.out.clone(),
        base_model,
        resume: args.resume,
    };
    let mut progress = Progress::new();
    let summary = train::train(
        &mut model.llama,
        &train_set,
        &valid_set,
        &cfg,
        &run,
        &mut |e| progress.show(e),
    )?;

    provenance::write(
        &summary.adapter_dir,
        &AdapterProvenance {
            group: group.name.clone(),
            values: group.values.scores().to_vec(),
            method: method.to_string(),
            rule: rule.to_string(),
            threshold: args.threshold,
            seed: args.seed,
            groups_file: groups_path.display().to_string(),
        },
    )?;
    println!(
        "trained {} steps of {} ({})",
        summary.steps,
        summary.total_steps,
        match summary.resumed_from {
            Some(step) => format!("resumed at step {step}"),
            None => "fresh start".to_string(),
        }
    );
    let fmt = |l: Option<f64>| l.map_or("n/a".to_string(), |l| format!("{l:.4}"));
    println!(
        "final train loss {}  valid loss {}",
        fmt(summary.train_loss),
        fmt(summary.valid_loss)
    );
    println!(
        "training time {:.1} s (total {:.1} s)",
        summary.elapsed_s,
        started.elapsed().as_secs_f64()
    );
    println!("adapter: {}", summary.adapter_dir.display());
    Ok(())
}

/// Draws the progress bar on a terminal; prints one line per validation and checkpoint, and
/// every step's line when stderr is not a terminal (logs, CI).
struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new() -> Self {
        Self { bar: None }
    }

    fn line(&self, text: String) {
        match &self.bar {
            Some(bar) if !bar.is_hidden() => bar.println(text),
            _ => eprintln!("{text}"),
        }
    }

    fn show(&mut self, event: &TrainEvent) {
        match event {
            TrainEvent::Started {
                total_steps,
                start_step,
                trainable_params,
                ..
            } => {
                let bar = ProgressBar::new(*total_steps as u64);
                if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}")
                {
                    bar.set_style(style);
                }
                bar.set_position(*start_step as u64);
                self.bar = Some(bar);
                self.line(format!("training {trainable_params} adapter parameters for {total_steps} steps (from step {start_step})"));
            }
            TrainEvent::Step {
                step,
                total,
                epoch,
                loss,
                tokens_per_s,
                eta_s,
            } => {
                let msg = format!(
                    "epoch {} loss {loss:.4}  {tokens_per_s:.0} tok/s  eta {}",
                    epoch + 1,
                    eta(*eta_s)
                );
                match &self.bar {
                    Some(bar) if !bar.is_hidden() => {
                        bar.set_position(*step as u64);
                        bar.set_message(msg);
                    }
                    _ => eprintln!("step {step}/{total} {msg}"),
                }
            }
            TrainEvent::Validation { epoch, step, loss } => self.line(format!(
                "validation after epoch {} (step {step}): loss {loss:.4}",
                epoch + 1
            )),
            TrainEvent::Checkpoint { step, path } => {
                self.line(format!("checkpoint at step {step}: {}", path.display()))
            }
            TrainEvent::Finished { .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
            }
        }
    }
}

fn eta(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}
