//! `valuelab vim data`: VIM training examples for one target group, as JSONL.

use super::GlobalArgs;
use anyhow::{bail, Context};
use std::path::PathBuf;
use valuelab_engine::data::groups::{find_group, read_groups};
use valuelab_engine::data::touche::{read_arguments, Argument, Split};
use valuelab_engine::data::DataDir;
use valuelab_engine::vim::{self, Method, Rule, Task};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// argument generation (Algorithm 1, Table 16)
    Ag,
    /// question answering (Algorithm 2, Table 17)
    Qa,
    /// both, interleaved (seeded)
    Vim,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuleArg {
    /// the least important expressed value must reach the threshold (the paper's Algorithm 1)
    Min,
    /// the mean of the expressed values must reach it (the authors' released training data)
    Mean,
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
        Command::Data(args) => run_data(global, args),
    }
}

fn run_data(global: &GlobalArgs, args: DataArgs) -> anyhow::Result<()> {
    if !args.threshold.is_finite() {
        bail!(
            "--threshold must be a number on the 1..6 scale, got {}",
            args.threshold
        );
    }
    // The data directory is only needed for what the flags do not name.
    let needs_dir = args.groups.is_none() || args.arguments.is_none();
    let dir = if needs_dir {
        Some(DataDir::resolve(global.data_dir.as_deref())?)
    } else {
        None
    };
    let data_dir = || dir.as_ref().context("no data directory");

    let groups_path = match &args.groups {
        Some(path) => path.clone(),
        None => data_dir()?.groups_csv(),
    };
    let groups = read_groups(&groups_path)?;
    let group = find_group(&groups, &args.group)?;

    let (arguments, source) = match &args.arguments {
        Some(path) => (read_arguments(path)?, path.display().to_string()),
        None => {
            let splits: &[Split] = match args.split {
                SplitArg::Train => &[Split::Train],
                SplitArg::Valid => &[Split::Valid],
                SplitArg::Test => &[Split::Test],
                SplitArg::All => &Split::ALL,
            };
            let mut all: Vec<Argument> = Vec::new();
            for &split in splits {
                all.extend(read_arguments(&data_dir()?.split_csv(split))?);
            }
            let names: Vec<&str> = splits.iter().map(|s| s.as_str()).collect();
            (all, format!("{} split", names.join("+")))
        }
    };

    let method = match args.method {
        MethodArg::Ag => Method::Ag,
        MethodArg::Qa => Method::Qa,
        MethodArg::Vim => Method::Vim,
    };
    let rule = match args.rule {
        RuleArg::Min => Rule::Min,
        RuleArg::Mean => Rule::Mean,
    };
    let examples = vim::examples(method, &arguments, group, rule, args.threshold, args.seed);
    vim::write_jsonl(&args.out, &examples)?;

    let ag = examples.iter().filter(|e| e.task == Task::Ag).count();
    let say = examples
        .iter()
        .filter(|e| e.task == Task::Ag && e.answer.starts_with("I would say"))
        .count();
    let qa = examples.len() - ag;
    println!(
        "wrote {} examples to {} (group {}, {} arguments from the {source}, method {}, rule {rule}, threshold {}, seed {})",
        examples.len(),
        args.out.display(),
        group.name,
        arguments.len(),
        method,
        args.threshold,
        args.seed
    );
    if method != Method::Qa {
        println!(
            "  argument generation: {ag} ({say} \"I would say\", {} \"I would not say\")",
            ag - say
        );
    }
    if method != Method::Ag {
        println!("  question answering: {qa} (one per argument and expressed value)");
    }
    println!(
        "  skipped: {} arguments without a value label",
        vim::unlabelled_count(&arguments)
    );
    Ok(())
}
