//! `valuelab vim data`: VIM training examples for one target group, as JSONL
//! (`valuelab_engine::jobs::VimDataJob`).

use super::args::{MethodArg, RuleArg};
use super::GlobalArgs;
use std::path::PathBuf;
use valuelab_engine::data::touche::Split;
use valuelab_engine::jobs::vim_data::{ArgumentSource, VimExamples};
use valuelab_engine::jobs::{Job, VimDataJob, VimDataOutput};
use valuelab_engine::vim::{self, TrainingMethod};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write a group's VIM training examples (prompt/answer pairs of the paper's Tables 16 and 17)
    /// as JSONL: one object per line with fields prompt, answer, task ("ag"/"qa"), argument_id.
    Data(DataArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitArg {
    Train,
    Valid,
    Test,
    /// train, valid and test together
    All,
}

#[derive(Debug, clap::Args)]
pub struct DataArgs {
    /// Target group, a name from the groups file (Albania, Group_7, ...).
    #[arg(long)]
    pub group: String,
    /// Groups file in the format of country_and_group.csv (default: the data directory's).
    #[arg(long, value_name = "FILE")]
    pub groups: Option<PathBuf>,
    /// Which of the authors' argument files to use (vim/argument_generation/).
    #[arg(long, value_enum, default_value = "train")]
    pub split: SplitArg,
    /// Use this arguments file (valueEval_10.csv format) instead of --split.
    #[arg(long, value_name = "FILE", conflicts_with = "split")]
    pub arguments: Option<PathBuf>,
    /// Which examples: argument generation, question answering, or both (VIM).
    #[arg(long, value_enum, default_value = "vim")]
    pub method: MethodArg,
    /// How argument generation combines the group's scores on an argument's values. Default
    /// mean: the rule behind the authors' released training files (the paper states min).
    #[arg(long, value_enum, default_value = "mean")]
    pub rule: RuleArg,
    /// Threshold γ on the 1..6 scale: "I would say" when the combined score reaches it.
    #[arg(long, default_value_t = vim::DEFAULT_THRESHOLD)]
    pub threshold: f64,
    /// Seed of question answering's stochastic rounding and of the VIM interleave.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output JSONL file (written atomically).
    #[arg(long, value_name = "FILE.jsonl")]
    pub out: PathBuf,
}

pub fn run(global: &GlobalArgs, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Data(args) => super::run::execute(global, Job::VimData(job(global, args))),
    }
}

/// The job spec of the flags.
pub fn job(global: &GlobalArgs, args: DataArgs) -> VimDataJob {
    let arguments = match args.arguments {
        Some(path) => ArgumentSource::File(path),
        None => ArgumentSource::Splits(match args.split {
            SplitArg::Train => vec![Split::Train],
            SplitArg::Valid => vec![Split::Valid],
            SplitArg::Test => vec![Split::Test],
            SplitArg::All => Split::ALL.to_vec(),
        }),
    };
    VimDataJob {
        examples: VimExamples {
            data_dir: global.data_dir.clone(),
            groups_file: args.groups,
            group: args.group,
            method: args.method.into(),
            rule: args.rule.into(),
            threshold: args.threshold,
            seed: args.seed,
        },
        arguments,
        out: args.out,
    }
}

pub fn print(out: &VimDataOutput) -> anyhow::Result<()> {
    println!(
        "wrote {} examples to {} (group {}, {} arguments from the {}, method {}, rule {}, threshold {}, seed {})",
        out.examples,
        out.out.display(),
        out.group,
        out.arguments,
        out.source,
        out.method,
        out.rule,
        out.threshold,
        out.seed
    );
    if out.method != TrainingMethod::Qa {
        println!(
            "  argument generation: {} ({} \"I would say\", {} \"I would not say\")",
            out.ag,
            out.ag_say,
            out.ag - out.ag_say
        );
    }
    if out.method != TrainingMethod::Ag {
        println!(
            "  question answering: {} (one per argument and expressed value)",
            out.qa
        );
    }
    println!(
        "  skipped: {} arguments without a value label",
        out.unlabelled
    );
    Ok(())
}
