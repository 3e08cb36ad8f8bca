//! `valuelab eval pvq|valuenet|ess|args` (one evaluation run into a resumable run folder) and
//! `valuelab predict ess` (answers for any group and question tables, no gold needed).
//! The work happens in `valuelab_engine::eval`; this file reads the options, picks the groups,
//! loads the model and shows progress. Ctrl-C stops between batches; rerunning the same command
//! resumes.

use super::generate::apply_threads;
use super::GlobalArgs;
use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use valuelab_engine::data::groups::{find_group, read_groups, TargetGroup};
use valuelab_engine::data::{
    ess::read_questions, pvq::read_pvq40, touche::read_arguments, valuenet::read_valuenet,
};
use valuelab_engine::data::{DataDir, Split};
use valuelab_engine::eval::model_answerer::{resolve_adapters, ModelAnswerer};
use valuelab_engine::eval::runner::{self, Outcome, Progress, RunSpec};
use valuelab_engine::eval::{args as args_task, ess, pvq, select, valuenet};
use valuelab_engine::eval::{AnswerMode, Method, RunResult, Task, TaskKind};
use valuelab_engine::groups::gold::read_gold;
use valuelab_engine::models;

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
pub struct ModelOptions {
    /// How the values reach the model: base, prompt-short, prompt-long, prompt-dominant, vim, vim-ag, vim-qa.
    #[arg(long)]
    pub method: String,
    /// `smollm2` (installed by scripts/install-model.sh), a .gguf file, or a Hugging Face Llama directory.
    #[arg(long, default_value = "smollm2")]
    pub model: String,
    /// VIM methods: an adapter folder (one group) or a folder of adapter folders named by group.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
    /// Run on the first CUDA GPU (needs a build with `--features cuda`).
    #[arg(long)]
    pub cuda: bool,
    /// expect: expected answer from option probabilities (default); sample: the paper's protocol
    /// (temperature 1, top-p 0.5, answers parsed and averaged). Argument generation always samples.
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
    pub model: ModelOptions,
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
    #[arg(long)]
    pub groups: PathBuf,
    /// Question table in the format of ess_round6_questions.tsv (code, chapter, scale, question).
    #[arg(long)]
    pub questions: PathBuf,
    #[command(flatten)]
    pub model: ModelOptions,
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
    let (kind, common, ess_args) = match cmd {
        Command::Pvq(a) => (TaskKind::Pvq, a, None),
        Command::Valuenet(a) => (TaskKind::ValueNet, a, None),
        Command::Args(a) => (TaskKind::Args, a, None),
        Command::Ess(a) => {
            let extra = (a.questions, a.gold, a.shots);
            (TaskKind::Ess, a.common, Some(extra))
        }
    };
    let data =
        || DataDir::resolve(global.data_dir.as_deref()).context("the tasks read the research data");
    let groups_file = match &common.groups.groups {
        Some(p) => p.clone(),
        None => data()?.groups_csv(),
    };
    let all_groups = read_groups(&groups_file)?;
    let groups = select_groups(&all_groups, &common.groups)?;
    let method: Method = common.model.method.parse()?;

    let (mut task, gold_file, shots) = match kind {
        TaskKind::Pvq => (
            pvq::task(&read_pvq40(&data()?.pvq40_items_tsv())?)?,
            None,
            0,
        ),
        TaskKind::ValueNet => (
            valuenet::task(&read_valuenet(&data()?.valuenet_dir())?)?,
            None,
            0,
        ),
        TaskKind::Args => (
            args_task::task(&read_arguments(&data()?.split_csv(Split::Test))?)?,
            None,
            0,
        ),
        TaskKind::Ess => {
            let (questions, gold, shots) = ess_args.unwrap_or((None, None, 0));
            let questions = match questions {
                Some(p) => p,
                None => data()?.ess_questions_tsv(),
            };
            (
                ess_task(&questions, gold.as_deref(), shots, common.model.seed)?,
                gold,
                shots,
            )
        }
    };
    if let Some(n) = common.limit_items {
        task.limit_items(n);
    }
    let answer_mode = answer_mode(kind, common.model.answer.as_deref())?;
    let spec = RunSpec {
        method,
        answer_mode,
        samples: common.model.samples,
        seed: common.model.seed,
        batch_size: common.model.batch_size,
        shots,
        adapter: common
            .model
            .adapter
            .as_ref()
            .map(|p| p.display().to_string()),
        groups_file: groups_file.display().to_string(),
        gold: gold_file.map(|p| p.display().to_string()),
        limit_items: common.limit_items,
    };
    let mut answerer = load_answerer(global, &common.model, method, &groups)?;

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        // A second handler cannot be installed in one process; a failure only loses clean Ctrl-C.
        let _ = ctrlc::set_handler(move || {
            eprintln!("\nstopping after the current batch (finished items are saved)...");
            stop.store(true, Ordering::SeqCst);
        });
    }
    eprintln!(
        "{} × {} groups × {} items, method {}, {} mode → {}",
        kind,
        groups.len(),
        task.items.len(),
        spec.method_label(),
        answer_mode,
        common.out.display()
    );
    let bar = progress_bar((groups.len() * task.items.len()) as u64);
    let outcome = runner::run(
        &common.out,
        &task,
        &groups,
        &spec,
        &mut answerer,
        &stop,
        &mut |p| show(&bar, p),
    )?;
    bar.finish_and_clear();
    match outcome {
        Outcome::Finished(result) => {
            print_summary(&result, &common.out);
            Ok(())
        }
        Outcome::Interrupted { done, total } => {
            bail!("interrupted after {done} of {total} items; rerun the same command to resume")
        }
    }
}

pub fn run_predict(global: &GlobalArgs, cmd: PredictCommand) -> anyhow::Result<()> {
    let PredictCommand::Ess(args) = cmd;
    let groups = read_groups(&args.groups)?;
    let method: Method = args.model.method.parse()?;
    let task = ess_task(
        &args.questions,
        args.gold.as_deref(),
        args.shots,
        args.model.seed,
    )?;
    let spec = RunSpec {
        method,
        answer_mode: answer_mode(TaskKind::Ess, args.model.answer.as_deref())?,
        samples: args.model.samples,
        seed: args.model.seed,
        batch_size: args.model.batch_size,
        shots: args.shots,
        adapter: args.model.adapter.as_ref().map(|p| p.display().to_string()),
        groups_file: args.groups.display().to_string(),
        gold: args.gold.as_ref().map(|p| p.display().to_string()),
        limit_items: None,
    };
    let mut answerer = load_answerer(global, &args.model, method, &groups)?;
    let bar = progress_bar((groups.len() * task.items.len()) as u64);
    let records = runner::predict(&task, &groups, &spec, &mut answerer, &mut |p| show(&bar, p))?;
    bar.finish_and_clear();
    ess::write_predictions(&args.out, &records)?;
    let unparsed = records.iter().filter(|r| r.answer.is_none()).count();
    eprintln!(
        "wrote {} predictions ({} groups × {} questions{}) to {}",
        records.len(),
        groups.len(),
        task.items.len(),
        if unparsed > 0 {
            format!(", {unparsed} NA: no sample could be read")
        } else {
            String::new()
        },
        args.out.display()
    );
    Ok(())
}

fn ess_task(
    questions: &Path,
    gold: Option<&Path>,
    shots: usize,
    seed: u64,
) -> anyhow::Result<Task> {
    let questions = read_questions(questions)?;
    let gold_rows = gold.map(read_gold).transpose()?;
    let mut task = ess::task(&questions, gold_rows.as_deref())?;
    ess::FewShot::enable(&mut task, shots, seed)?;
    Ok(task)
}

fn answer_mode(kind: TaskKind, flag: Option<&str>) -> anyhow::Result<AnswerMode> {
    match (kind, flag) {
        (TaskKind::Args, Some("expect")) => {
            bail!("argument generation writes text, it has no options to score: leave out --answer (args always samples)")
        }
        (TaskKind::Args, _) | (_, Some("sample")) => Ok(AnswerMode::Sample),
        _ => Ok(AnswerMode::Expect),
    }
}

/// The groups a run asks: `--group` names (in the order given), `--sample-groups N`, or all.
fn select_groups(all: &[TargetGroup], opts: &GroupOptions) -> anyhow::Result<Vec<TargetGroup>> {
    if !opts.group.is_empty() {
        let mut picked: Vec<TargetGroup> = Vec::new();
        for name in &opts.group {
            let g = find_group(all, name)?;
            if !picked.iter().any(|p| p.name == g.name) {
                picked.push(g.clone());
            }
        }
        return Ok(picked);
    }
    if let Some(n) = opts.sample_groups {
        if n == 0 {
            bail!("--sample-groups must be at least 1");
        }
        return Ok(select::spread_groups(all, n)
            .into_iter()
            .map(|i| all[i].clone())
            .collect());
    }
    Ok(all.to_vec())
}

fn load_answerer(
    global: &GlobalArgs,
    opts: &ModelOptions,
    method: Method,
    groups: &[TargetGroup],
) -> anyhow::Result<ModelAnswerer> {
    let adapters = match (&opts.adapter, method.needs_adapter()) {
        (Some(dir), true) => {
            let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
            resolve_adapters(dir, &names)?
        }
        (None, true) => bail!(
            "method {method} injects values with a trained adapter: pass --adapter DIR (from `valuelab train --group NAME --out DIR`)"
        ),
        (Some(_), false) => bail!("--adapter is for the vim methods (vim, vim-ag, vim-qa); method {method} puts the values in the prompt"),
        (None, false) => Default::default(),
    };
    apply_threads(global);
    let started = Instant::now();
    let device = models::select_device(opts.cuda)?;
    let answerer = ModelAnswerer::load(&opts.model, &device, adapters)
        .with_context(|| format!("cannot load model '{}'", opts.model))?;
    eprintln!(
        "loaded {} in {:.1} s",
        opts.model,
        started.elapsed().as_secs_f64()
    );
    Ok(answerer)
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} items  {msg}") {
        bar.set_style(style);
    }
    bar
}

fn show(bar: &ProgressBar, p: &Progress) {
    bar.set_position(p.done as u64);
    let eta = p
        .eta_s
        .map(|s| format!(", ETA {}", clock(s)))
        .unwrap_or_default();
    bar.set_message(format!("{}  {:.2} items/s{eta}", p.group, p.items_per_s));
}

fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
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
    println!(
        "results: {}; render with `valuelab report {}`",
        out.join("results.json").display(),
        out.display()
    );
}
