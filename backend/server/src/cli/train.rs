//! `valuelab train`: a LoRA adapter that injects one target group's values (VIM, Kang et al.
//! 2023): the group's training examples from the authors' train split, validation on their valid
//! split, the adapter saved in PEFT format with `training_log.jsonl` and `trainer_state.json`.
//! The work is `valuelab_engine::jobs::TrainJob`.
//!
//! `--method vim-cond` trains one adapter for every profile, each read from the short prompt
//! (`valuelab_engine::jobs::VimCondJob`); `--method profile-offset|steer|profile-readout` makes one profile
//! conditioner for every profile (`valuelab_engine::jobs::ConditionJob`). Neither takes
//! `--group`; their profile flags are below.

use super::args::{MethodArg, ModelArgs, RuleArg};
use super::GlobalArgs;
use anyhow::bail;
use std::path::PathBuf;
use valuelab_engine::conditioning::train_readout::READOUT_LR;
use valuelab_engine::conditioning::{ConditionerKind, RelevanceText};
use valuelab_engine::jobs::profile_split::ProfileSources;
use valuelab_engine::jobs::train::LoraTraining;
use valuelab_engine::jobs::vim_data::VimExamples;
use valuelab_engine::jobs::{
    ConditionJob, ConditionOutput, Job, TrainJob, TrainOutput, VimCondJob, VimCondOutput,
    VimHeldOutJob, VimHeldOutOutput,
};
use valuelab_engine::lora::LoraConfig;
use valuelab_engine::train::TrainSummary;
use valuelab_engine::vim;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TrainMethodArg {
    /// argument generation (Algorithm 1, Table 16), one group
    Ag,
    /// question answering (Algorithm 2, Table 17), one group
    Qa,
    /// both, interleaved (seeded), one group
    Vim,
    /// VIM examples drawn for many training profiles, each with its short prompt: one adapter
    /// that reads any profile from the prompt (no --group)
    VimCond,
    /// a learned map from any profile to residual offsets at middle layers (no --group)
    ProfileOffset,
    /// steering vectors, one per value; layer and strength chosen on validation profiles (no --group)
    Steer,
    /// a learned shift of the answer state after the final norm that depends on the item and
    /// the profile, fit on cached answer states (no --group)
    ProfileReadout,
}

/// Which text of an item the relevance readout's probe reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RelevanceTextArg {
    /// the prompt as built: the task's instructions and options around the item
    Prompt,
    /// what the item is about alone: a Touché premise in training; the PVQ statement, ValueNet
    /// scenario, ESS question or debated conclusion when answering
    Subject,
}

impl From<RelevanceTextArg> for RelevanceText {
    fn from(arg: RelevanceTextArg) -> Self {
        match arg {
            RelevanceTextArg::Prompt => RelevanceText::Prompt,
            RelevanceTextArg::Subject => RelevanceText::Subject,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target group, a name from the groups file (Albania, Group_7, ...); VIM methods only.
    #[arg(long)]
    pub group: Option<String>,
    /// Instead of --group: one adapter (ag, qa, vim) for each held-out profile of a conditioner's
    /// split (its folder or split.json) and for each sign-check profile, into OUT/<profile>/, all
    /// with these settings; `valuelab protocol --vim OUT` scores them. Give --groups as the
    /// conditioner was trained with.
    #[arg(long, value_name = "DIR|FILE")]
    pub held_out_of: Option<PathBuf>,
    /// What to train: a VIM adapter for one group (ag, qa, vim), one adapter for every profile
    /// (vim-cond), or a profile conditioner for every profile (profile-offset, steer,
    /// profile-readout).
    #[arg(long, value_enum)]
    pub method: TrainMethodArg,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Groups file in the format of country_and_group.csv (default: the data directory's).
    #[arg(long, value_name = "FILE")]
    pub groups: Option<PathBuf>,
    /// Passes over the training data (the paper: 5).
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// AdamW learning rate (default: the paper's 2e-5 for VIM adapters, 2e-4 for vim-cond, 0.01
    /// for profile-offset, 0.003 for profile-readout).
    #[arg(long)]
    pub lr: Option<f64>,
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
    /// Cut examples to this many tokens, from the start of the prompt (vim-cond drops longer
    /// examples instead, since the cut would take the profile).
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
    #[command(flatten)]
    pub conditioning: ConditioningArgs,
    /// Output folder: the adapter (adapter_config.json, adapter_model.safetensors),
    /// training_log.jsonl, trainer_state.json and checkpoint/; for the conditioners
    /// conditioning.json, conditioner.safetensors, split.json and training.json.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Flags of the methods for every profile (`vim-cond`, `profile-offset`, `steer`): where the
/// profiles come from and how they are split (`--lr`, `--batch-size`, `--seed`, `--threshold`,
/// `--rule`, `--groups` and `--max-steps` apply too).
#[derive(Debug, clap::Args)]
pub struct ConditioningArgs {
    /// ESS respondents whose own PVQ-21 profiles join training (default: the data directory's
    /// ess_pvq21_responses.csv).
    #[arg(long, value_name = "FILE")]
    pub respondents: Option<PathBuf>,
    /// Train on k-means groups only, no respondents.
    #[arg(long)]
    pub no_respondents: bool,
    /// k-means groups held out with the countries (never trained or tuned on).
    #[arg(long, default_value_t = 20)]
    pub held_out_groups: usize,
    /// k-means groups for validation (steer's strength, training curves).
    #[arg(long, default_value_t = 10)]
    pub validation_groups: usize,
    /// Layers that get offsets (profile-offset) or are tried (steer), comma-separated
    /// (default: a quarter, a half and three quarters of the depth).
    #[arg(long, value_delimiter = ',')]
    pub layers: Vec<usize>,
    /// Time budget of profile-offset training, in minutes.
    #[arg(long, default_value_t = 60.0)]
    pub minutes: f64,
    /// Validation examples (drawn once over the validation profiles).
    #[arg(long, default_value_t = 64)]
    pub validation_examples: usize,
    /// profile-offset: validate every this many steps.
    #[arg(long, default_value_t = 100)]
    pub validate_every: usize,
    /// steer: strengths tried on validation, comma-separated (0 = the plain model).
    #[arg(long, value_delimiter = ',', default_value = "0,1,2,4,8,16")]
    pub alphas: Vec<f64>,
    /// steer: arguments whose activations give the steering vectors.
    #[arg(long, default_value_t = 400)]
    pub steer_arguments: usize,
    /// profile-readout: Touché arguments whose answer states are computed, each as a QA and an
    /// AG item (about 0.4 s an item for the embedded model on 2 cores); a tenth validate.
    #[arg(long, default_value_t = 1000)]
    pub readout_arguments: usize,
    /// profile-readout: (profile, item) pairs per step.
    #[arg(long, default_value_t = 256)]
    pub readout_pairs: usize,
    /// profile-readout: read each item's value relevance from its prompt's token-averaged
    /// states after this layer (a probe fit on the Touché arguments' value labels) and move the
    /// answer by relevance · profile, instead of learning a gate on the answer state; 22 suits
    /// the embedded model (30 layers). Adds about 0.1 s an item to the answer states.
    #[arg(long)]
    pub relevance_layer: Option<usize>,
    /// profile-readout with --relevance-layer: the text of each item the probe reads. `subject`
    /// (the item alone) carries better from Touché to PVQ-40 than `prompt` (docs/results.md).
    #[arg(long, value_enum, default_value = "prompt")]
    pub relevance_text: RelevanceTextArg,
    /// profile-readout: also fit the level, one profile difference added to every profile's
    /// (ten numbers, printed in the summary), so the mean profile answers at the training
    /// targets' level instead of the plain model's; it cannot make answers follow profiles.
    #[arg(long)]
    pub fit_level: bool,
    /// profile-readout with --relevance-layer: fit the value probe also on this many further
    /// Touché training arguments, of which only the text the probe reads runs through the
    /// model (about 0.15 s a premise for the embedded model on 2 cores, no answer state); the
    /// probe names values better with more (docs/results.md). At most the training split's
    /// arguments beyond --readout-arguments (2,818 with the default 1,000).
    #[arg(long, default_value_t = 0)]
    pub probe_arguments: usize,
    /// vim-cond: training examples drawn, one (profile, argument) pair each.
    #[arg(long, default_value_t = 4000)]
    pub examples: usize,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    super::run::execute(global, job(global, args)?)
}

/// The job spec of the flags.
pub fn job(global: &GlobalArgs, args: Args) -> anyhow::Result<Job> {
    if let (Some(layer), false) = (
        args.conditioning.relevance_layer,
        matches!(args.method, TrainMethodArg::ProfileReadout),
    ) {
        bail!(
            "--relevance-layer {layer} belongs to --method profile-readout, not --method {}: drop it or change the method",
            method_name(args.method)
        );
    }
    if let (RelevanceTextArg::Subject, None) = (
        args.conditioning.relevance_text,
        args.conditioning.relevance_layer,
    ) {
        bail!("--relevance-text subject needs --relevance-layer (22 suits the embedded model)");
    }
    if let (n @ 1.., None) = (
        args.conditioning.probe_arguments,
        args.conditioning.relevance_layer,
    ) {
        bail!("--probe-arguments {n} fits the probe of --relevance-layer: add --relevance-layer (22 suits the embedded model) or drop it");
    }
    if let (Some(split), false) = (
        &args.held_out_of,
        matches!(
            args.method,
            TrainMethodArg::Ag | TrainMethodArg::Qa | TrainMethodArg::Vim
        ),
    ) {
        bail!(
            "--held-out-of {} trains one VIM adapter per held-out profile: use it with --method vim (or ag, qa), not --method {}",
            split.display(),
            method_name(args.method)
        );
    }
    if args.conditioning.fit_level && !matches!(args.method, TrainMethodArg::ProfileReadout) {
        bail!(
            "--fit-level belongs to --method profile-readout, not --method {}: drop it or change the method",
            method_name(args.method)
        );
    }
    let method = match args.method {
        TrainMethodArg::Ag => MethodArg::Ag,
        TrainMethodArg::Qa => MethodArg::Qa,
        TrainMethodArg::Vim => MethodArg::Vim,
        TrainMethodArg::ProfileOffset => {
            return condition_job(global, args, ConditionerKind::ProfileOffset)
        }
        TrainMethodArg::Steer => return condition_job(global, args, ConditionerKind::Steer),
        TrainMethodArg::ProfileReadout => {
            return condition_job(global, args, ConditionerKind::ProfileReadout)
        }
        TrainMethodArg::VimCond => return vim_cond_job(global, args),
    };
    if let Some(split) = args.held_out_of.clone() {
        return held_out_job(global, args, method, split);
    }
    let Some(group) = args.group.clone() else {
        bail!("--method {} trains one group's adapter: give --group (a name from the groups file, such as Albania or Group_7), or --held-out-of DIR for one per held-out profile of a conditioner", method_name(args.method));
    };
    Ok(Job::Train(TrainJob {
        examples: VimExamples {
            data_dir: global.data_dir.clone(),
            groups_file: args.groups.clone(),
            group,
            method: method.into(),
            rule: args.rule.into(),
            threshold: args.threshold,
            seed: args.seed,
        },
        training: lora_training(global, args, 2e-5),
    }))
}

/// Per-group VIM for `valuelab protocol --vim`: one adapter per held-out and sign-check profile.
fn held_out_job(
    global: &GlobalArgs,
    args: Args,
    method: MethodArg,
    split: PathBuf,
) -> anyhow::Result<Job> {
    if let Some(group) = &args.group {
        bail!("--held-out-of trains one adapter for each held-out profile of {}: drop --group {group}", split.display());
    }
    Ok(Job::VimHeldOut(VimHeldOutJob {
        split,
        data_dir: global.data_dir.clone(),
        groups_file: args.groups.clone(),
        sign_check: true,
        method: method.into(),
        rule: args.rule.into(),
        threshold: args.threshold,
        seed: args.seed,
        training: lora_training(global, args, 2e-5),
    }))
}

/// The adapter training flags (ag, qa, vim, vim-cond), with the method's default learning rate.
fn lora_training(global: &GlobalArgs, args: Args, default_lr: f64) -> LoraTraining {
    LoraTraining {
        model: args.model.run(global),
        epochs: args.epochs,
        lr: args.lr.unwrap_or(default_lr),
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

/// The profile flags of the methods for every profile.
fn profile_sources(global: &GlobalArgs, args: &Args) -> ProfileSources {
    let c = &args.conditioning;
    ProfileSources {
        data_dir: global.data_dir.clone(),
        groups_file: args.groups.clone(),
        respondents: c.respondents.clone(),
        no_respondents: c.no_respondents,
        held_out_groups: c.held_out_groups,
        validation_groups: c.validation_groups,
    }
}

fn vim_cond_job(global: &GlobalArgs, args: Args) -> anyhow::Result<Job> {
    if let Some(group) = &args.group {
        bail!("--method vim-cond trains one adapter for every profile: drop --group {group}");
    }
    if args.max_examples.is_some() {
        bail!("--method vim-cond draws --examples N (profile, argument) pairs: use that instead of --max-examples");
    }
    Ok(Job::VimCond(VimCondJob {
        profiles: profile_sources(global, &args),
        tasks: vim::TrainingMethod::Vim,
        rule: args.rule.into(),
        threshold: args.threshold,
        examples: args.conditioning.examples,
        validation_examples: args.conditioning.validation_examples,
        seed: args.seed,
        // Higher than VIM's 2e-5: each example is seen once, on a CPU budget of a few hundred
        // steps, not five epochs.
        training: lora_training(global, args, 2e-4),
    }))
}

fn method_name(method: TrainMethodArg) -> String {
    use clap::ValueEnum;
    method
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

fn condition_job(global: &GlobalArgs, args: Args, kind: ConditionerKind) -> anyhow::Result<Job> {
    if let Some(group) = &args.group {
        bail!(
            "--method {} makes one conditioner for every profile: drop --group {group}",
            kind.name()
        );
    }
    let profiles = profile_sources(global, &args);
    let c = args.conditioning;
    Ok(Job::Condition(ConditionJob {
        method: kind,
        model: args.model.run(global),
        profiles,
        rule: args.rule.into(),
        threshold: args.threshold,
        layers: (!c.layers.is_empty()).then_some(c.layers),
        steps: args.max_steps.unwrap_or(2000),
        minutes: c.minutes,
        batch_size: args.batch_size,
        lr: args.lr.unwrap_or(match kind {
            ConditionerKind::ProfileReadout => READOUT_LR,
            ConditionerKind::ProfileOffset | ConditionerKind::Steer => 0.01,
        }),
        weight_decay: args.weight_decay,
        validation_examples: c.validation_examples,
        validate_every: c.validate_every,
        alphas: c.alphas,
        steer_arguments: c.steer_arguments,
        readout_arguments: c.readout_arguments,
        readout_pairs: c.readout_pairs,
        relevance_layer: c.relevance_layer,
        relevance_text: c.relevance_text.into(),
        fit_level: c.fit_level,
        probe_arguments: c.probe_arguments,
        seed: args.seed,
        out: args.out,
    }))
}

/// The job's summary line was already shown as a progress message.
pub fn print_conditioner(out: &ConditionOutput) -> anyhow::Result<()> {
    println!(
        "conditioner: {} (use it with --method {} --adapter {})",
        out.dir.display(),
        out.method.name(),
        out.dir.display()
    );
    if out.cancelled {
        bail!("interrupted: the maps trained so far are saved in {}; rerun the command to train again from the start", out.dir.display());
    }
    Ok(())
}

pub fn print_vim_cond(out: &VimCondOutput, seconds: f64) -> anyhow::Result<()> {
    print_summary(&out.summary, seconds)?;
    println!(
        "{} training profiles; {} examples dropped as too long",
        out.profiles, out.dropped
    );
    println!(
        "use it with --method vim-cond --adapter {}",
        out.summary.adapter_dir.display()
    );
    Ok(())
}

pub fn print_vim_held_out(out: &VimHeldOutOutput) -> anyhow::Result<()> {
    println!(
        "{} of {} profiles have an adapter in {}",
        out.trained,
        out.profiles,
        out.dir.display()
    );
    if out.cancelled {
        bail!("interrupted: the adapters finished so far are kept; rerun the same command to train the rest");
    }
    println!(
        "score them with: valuelab protocol --vim {}",
        out.dir.display()
    );
    Ok(())
}

pub fn print(out: &TrainOutput, seconds: f64) -> anyhow::Result<()> {
    print_summary(&out.summary, seconds)
}

fn print_summary(summary: &TrainSummary, seconds: f64) -> anyhow::Result<()> {
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
