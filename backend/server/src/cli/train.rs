//! `valuelab train`: a LoRA adapter that injects one target group's values (VIM, Kang et al.
//! 2023): the group's training examples from the authors' train split, validation on their valid
//! split, the adapter saved in PEFT format with `training_log.jsonl` and `trainer_state.json`.
//! The work is `valuelab_engine::jobs::TrainJob`.

use super::args::{MethodArg, ModelArgs, RuleArg};
use super::GlobalArgs;
use std::path::PathBuf;
use valuelab_engine::jobs::vim_data::VimExamples;
use valuelab_engine::jobs::{Job, TrainJob, TrainOutput};
use valuelab_engine::lora::LoraConfig;
use valuelab_engine::vim;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target group, a name from the groups file (Albania, Group_7, ...).
    #[arg(long)]
    pub group: String,
    /// Training task: argument generation, question answering, or both (VIM).
    #[arg(long, value_enum)]
    pub method: MethodArg,
    #[command(flatten)]
    pub model: ModelArgs,
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
    super::run::execute(global, Job::Train(job(global, args)))
}

/// The job spec of the flags.
pub fn job(global: &GlobalArgs, args: Args) -> TrainJob {
    TrainJob {
        examples: VimExamples {
            data_dir: global.data_dir.clone(),
            groups_file: args.groups,
            group: args.group,
            method: args.method.into(),
            rule: args.rule.into(),
            threshold: args.threshold,
            seed: args.seed,
        },
        model: args.model.model,
        cuda: args.model.cuda,
        threads: global.threads,
        epochs: args.epochs,
        lr: args.lr,
        weight_decay: args.weight_decay,
        batch_size: args.batch_size,
        grad_accum: args.grad_accum,
        max_steps: args.max_steps,
        max_examples: args.max_examples,
        max_seq_len: args.max_seq_len,
        lora: LoraConfig {
            r: args.rank,
            lora_alpha: args.alpha,
            lora_dropout: args.dropout,
            target_modules: args.target_modules,
        },
        checkpoint_every: args.checkpoint_every,
        resume: args.resume,
        out: args.out,
    }
}

pub fn print(out: &TrainOutput, seconds: f64) -> anyhow::Result<()> {
    let summary = &out.summary;
    if summary.cancelled {
        anyhow::bail!(
            "interrupted at step {} of {}: a checkpoint is saved in {}; rerun the same command with --resume to continue",
            summary.steps,
            summary.total_steps,
            summary.adapter_dir.display()
        );
    }
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
        "training time {:.1} s (total {seconds:.1} s)",
        summary.elapsed_s,
    );
    println!("adapter: {}", summary.adapter_dir.display());
    Ok(())
}
