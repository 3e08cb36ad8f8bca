//! `valuelab eval pvq|valuenet|ess|args` (one evaluation run into a resumable run folder) and
//! `valuelab predict ess` (answers for any group and question tables, no gold needed).
//! The work is `valuelab_engine::jobs::{EvalJob, PredictJob}`; this file turns the flags into
//! their specs and prints a summary. Ctrl-C stops between batches; rerunning the same command
//! resumes.

use super::args::ModelArgs;
use super::GlobalArgs;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use valuelab_engine::eval::runner::{read_items, ITEMS_FILE};
use valuelab_engine::eval::{argument_quality, AnswerMode, Method, RunResult, TaskKind};
use valuelab_engine::groups::GroupSelection;
use valuelab_engine::jobs::{EvalJob, EvalOutput, Job, ModelChoice, PredictJob, PredictOutput};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// PVQ-40 (Table 18): value scores by the PVQ key, against each group's values.
    Pvq(EvalArgs),
    /// ValueNet (Table 20): agreement ratio per value, against each group's values.
    Valuenet(EvalArgs),
    /// ESS opinions (Table 21): each question on its own scale, against gold group means.
    Ess(EssArgs),
    /// Argument generation (Table 19): stance and premise per conclusion, for human evaluation.
    Args(EvalArgs),
}

#[derive(Debug, clap::Subcommand)]
pub enum PredictCommand {
    /// Predict each group's answer (0..1) to each ESS-style question.
    Ess(PredictEssArgs),
}

/// Which model answers, and how.
#[derive(Debug, Clone, clap::Args)]
pub struct MethodOptions {
    /// How the values reach the model: base, prompt-short, prompt-long, prompt-dominant, vim, vim-ag, vim-qa.
    #[arg(long)]
    pub method: String,
    #[command(flatten)]
    pub model: ModelArgs,
    /// VIM methods: an adapter folder (one group) or a folder of adapter folders named by group.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// expect: expected answer from option probabilities (default); sample: the paper's protocol
    /// (temperature 1, top-p 0.5, answers parsed and averaged). Argument generation: expect picks
    /// the stance by likelihood and samples the premise after a lead-in stating it; sample is the
    /// paper's (stance sampled and parsed).
    #[arg(long, value_parser = ["expect", "sample"])]
    pub answer: Option<String>,
    /// Samples per item in sample mode.
    #[arg(long, default_value_t = 5)]
    pub samples: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Items per model call (they share the group's persona cache).
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
}

/// Which groups.
#[derive(Debug, Clone, clap::Args)]
pub struct GroupOptions {
    /// Target groups table (default: the data directory's vim/country_and_group.csv).
    #[arg(long)]
    pub groups: Option<PathBuf>,
    /// Evaluate only this group (repeatable; default: all).
    #[arg(long = "group")]
    pub group: Vec<String>,
    /// Evaluate N groups spread over the value space (farthest-point sampling, deterministic).
    #[arg(long, conflicts_with = "group")]
    pub sample_groups: Option<usize>,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub groups: GroupOptions,
    #[command(flatten)]
    pub model: MethodOptions,
    /// Ask only the first N items (spread over values where the task has them), for quick runs.
    #[arg(long)]
    pub limit_items: Option<usize>,
    /// Run folder: run.json, items.jsonl (resumable), results.json.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct EssArgs {
    #[command(flatten)]
    pub common: EvalArgs,
    /// Question table (default: the data directory's vim/ess_round6_questions.tsv).
    #[arg(long)]
    pub questions: Option<PathBuf>,
    /// Gold group means (`group`, `code`, `mean`, `n`) from `valuelab groups gold`; without it,
    /// predictions only.
    #[arg(long)]
    pub gold: Option<PathBuf>,
    /// Few-shot: show N other questions with the group's gold answer before each question
    /// (drawn with --seed; needs --gold). The method is reported as e.g. "prompt-long+3shot".
    #[arg(long, default_value_t = 0)]
    pub shots: usize,
}

#[derive(Debug, clap::Args)]
pub struct PredictEssArgs {
    /// Groups table in the format of country_and_group.csv.
    #[arg(
        long,
        required_unless_present = "respondents",
        conflicts_with = "respondents"
    )]
    pub groups: Option<PathBuf>,
    /// An ESS CSV of respondents (the 21 PVQ items): each respondent is predicted with their
    /// own profile, named `respondent <idno>` (best with --method profile-offset, steer or profile-readout).
    #[arg(long, value_name = "FILE")]
    pub respondents: Option<PathBuf>,
    /// Question table in the format of ess_round6_questions.tsv (code, chapter, scale, question).
    #[arg(long)]
    pub questions: PathBuf,
    #[command(flatten)]
    pub model: MethodOptions,
    /// Gold answers for few-shot examples (needed with --shots only).
    #[arg(long)]
    pub gold: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub shots: usize,
    /// Output TSV: group, code, prediction (0..1).
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(global: &GlobalArgs, cmd: Command) -> anyhow::Result<()> {
    super::run::execute(global, Job::Eval(job(global, cmd)?))
}

pub fn run_predict(global: &GlobalArgs, cmd: PredictCommand) -> anyhow::Result<()> {
    super::run::execute(global, Job::Predict(predict_job(global, cmd)?))
}

/// The job spec of the flags.
pub fn job(global: &GlobalArgs, cmd: Command) -> anyhow::Result<EvalJob> {
    let (task, common, ess) = match cmd {
        Command::Pvq(a) => (TaskKind::Pvq, a, None),
        Command::Valuenet(a) => (TaskKind::ValueNet, a, None),
        Command::Args(a) => (TaskKind::Args, a, None),
        Command::Ess(a) => {
            let extra = (a.questions, a.gold, a.shots);
            (TaskKind::Ess, a.common, Some(extra))
        }
    };
    let (questions, gold, shots) = ess.unwrap_or((None, None, 0));
    let groups = match (&common.groups.group[..], common.groups.sample_groups) {
        ([], None) => GroupSelection::All,
        // 0 is refused by the selection itself, with the flag added by `hints`.
        ([], Some(n)) => GroupSelection::Sample(n),
        (names, _) => GroupSelection::Names(names.to_vec()),
    };
    Ok(EvalJob {
        task,
        data_dir: global.data_dir.clone(),
        groups_file: common.groups.groups,
        groups,
        model: model_choice(global, common.model)?,
        limit_items: common.limit_items,
        questions,
        gold,
        shots,
        out: common.out,
    })
}

/// The job spec of `predict ess`.
pub fn predict_job(global: &GlobalArgs, cmd: PredictCommand) -> anyhow::Result<PredictJob> {
    let PredictCommand::Ess(args) = cmd;
    let respondents = args.respondents.is_some();
    let Some(groups_file) = args.groups.or(args.respondents) else {
        anyhow::bail!("give --groups FILE or --respondents FILE");
    };
    Ok(PredictJob {
        groups_file,
        respondents,
        data_dir: global.data_dir.clone(),
        questions: args.questions,
        model: model_choice(global, args.model)?,
        gold: args.gold,
        shots: args.shots,
        out: args.out,
    })
}

fn model_choice(global: &GlobalArgs, opts: MethodOptions) -> anyhow::Result<ModelChoice> {
    let method: Method = opts.method.parse()?;
    let answer: Option<AnswerMode> = opts.answer.as_deref().map(str::parse).transpose()?;
    Ok(ModelChoice {
        method,
        model: opts.model.model,
        adapter: opts.adapter,
        cuda: opts.model.cuda,
        answer,
        samples: opts.samples,
        seed: opts.seed,
        batch_size: opts.batch_size,
        threads: global.threads,
    })
}

pub fn print(out: &EvalOutput) -> anyhow::Result<()> {
    match &out.result {
        Some(result) => {
            print_summary(result, &out.out);
            Ok(())
        }
        None => anyhow::bail!(
            "interrupted after {} of {} items; rerun the same command to resume",
            out.done,
            out.total
        ),
    }
}

pub fn print_predictions(out: &PredictOutput) -> anyhow::Result<()> {
    if out.cancelled {
        anyhow::bail!(
            "interrupted before every answer was in: nothing was written to {}",
            out.out.display()
        );
    }
    eprintln!(
        "wrote {} predictions ({} groups × {} questions{}) to {}",
        out.predictions,
        out.groups,
        out.questions,
        if out.unparsed > 0 {
            format!(", {} NA: no sample could be read", out.unparsed)
        } else {
            String::new()
        },
        out.out.display()
    );
    Ok(())
}

/// A one-screen summary; `valuelab report` renders the full tables and plots.
fn print_summary(result: &RunResult, out: &Path) {
    let mut nmses = Vec::new();
    let (mut answered, mut failures, mut refusals) = (0, 0, 0);
    for g in &result.groups {
        let pairs: Vec<(f64, f64)> = g
            .predicted
            .iter()
            .zip(&g.target)
            .filter_map(|(p, t)| Some(((*p)?, (*t)?)))
            .collect();
        let (p, t): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
        if let Some(n) = valuelab_common::metrics::nmse(&p, &t) {
            nmses.push(n);
        }
        answered += g.answered;
        failures += g.parse_failures;
        refusals += g.refusals;
    }
    println!(
        "{} {} ({}, {} mode): {} groups",
        result.task,
        result.method,
        result.model,
        result.answer_mode,
        result.groups.len()
    );
    if let Some(mean) = valuelab_common::metrics::mean(&nmses) {
        println!("mean NMSE over groups: {mean:.4}");
    }
    if result.answer_mode == "sample" {
        println!("answers asked: {answered}, parse failures: {failures}, refusals: {refusals}");
    }
    if result.task == TaskKind::Args {
        print_argument_quality(out);
    }
    println!(
        "results: {}; render with `valuelab report {}`",
        out.join("results.json").display(),
        out.display()
    );
}

/// How many generated arguments a human could judge, and what is wrong with the others (the
/// check an annotation study applies before it pairs them).
fn print_argument_quality(out: &Path) {
    let Ok(records) = read_items(&out.join(ITEMS_FILE)) else {
        return;
    };
    let mut flaws: BTreeMap<&str, usize> = BTreeMap::new();
    let mut total = 0;
    for generation in records.values().filter_map(|r| r.generation.as_ref()) {
        total += 1;
        if let Some(flaw) = argument_quality::check(generation) {
            *flaws.entry(flaw.describe()).or_default() += 1;
        }
    }
    let flawed: usize = flaws.values().sum();
    println!("arguments: {total}, can be judged: {}", total - flawed);
    for (flaw, n) in flaws {
        println!("  {n} not: {flaw}");
    }
}
