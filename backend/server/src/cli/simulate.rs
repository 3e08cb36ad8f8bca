//! `valuelab simulate`: a population of value-prompted personas answers questionnaires, and its
//! value structure, score distributions and value–behaviour relations are compared with people.
//! The work is `valuelab_engine::jobs::SimulateJob` (progress, Ctrl-C, resume by rerunning the
//! same command); this file turns the flags into its spec and prints the summary.

use super::args::ModelArgs;
use super::GlobalArgs;
use std::path::PathBuf;
use valuelab_engine::eval::Method;
use valuelab_engine::jobs::{Job, ModelChoice, SimulateJob, SimulateOutput};
use valuelab_engine::population::{InstrumentKind, Strategy};
use valuelab_engine::structure::DEFAULT_GAP;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// uniform, h-norm, h-even, h-np or survey (see docs/population.md).
    #[arg(long)]
    pub strategy: String,
    /// Personas in the population.
    #[arg(long)]
    pub n: usize,
    /// How a persona reaches the model: prompt-dominant (the value-prompting paper's wording),
    /// prompt-short, prompt-long (whole profiles), base (no values), or vim, vim-ag, vim-qa (the
    /// adapter of the group nearest each persona's profile; needs --adapter).
    #[arg(long, default_value = "prompt-dominant")]
    pub method: String,
    /// VIM methods: a folder of adapters trained by `valuelab train` (any folder names; each
    /// adapter's group and values are read from its valuelab_adapter.json), or one adapter.
    #[arg(long, value_name = "DIR")]
    pub adapter: Option<PathBuf>,
    /// Comma-separated: pvq40, bigfive, valuenet, prosocial (pvq40 is always asked).
    #[arg(long, default_value = "pvq40")]
    pub instruments: String,
    /// Seeds the survey draw and every persona's drawn answers.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Run folder (resumable): personas.json, answers.jsonl, respondents.csv, structure/, ...
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Items per model call (they share the persona's cache).
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// ESS CSV of the people the shares, survey respondents and reference come from (default:
    /// the data directory's ess/ess_pvq21_responses.csv).
    #[arg(long, value_name = "FILE")]
    pub human: Option<PathBuf>,
    /// PVQ-21 scoring key (default: the data directory's vim/ess_pvq21_key.tsv).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Scale points by which the top value must lead the second to dominate.
    #[arg(long, default_value_t = DEFAULT_GAP)]
    pub gap: f64,
    /// Ask at most N items per instrument (spread over its keys), for quick runs.
    #[arg(long)]
    pub limit_items: Option<usize>,
    /// A human value–behaviour table (`value,<column>,...`, as relations.csv) to compare with.
    #[arg(long, value_name = "FILE")]
    pub human_relations: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    super::run::execute(global, Job::Simulate(job(global, args)?))
}

pub fn job(global: &GlobalArgs, args: Args) -> anyhow::Result<SimulateJob> {
    let strategy: Strategy = args.strategy.parse()?;
    let method: Method = args.method.parse()?;
    Ok(SimulateJob {
        strategy,
        n: args.n,
        instruments: InstrumentKind::parse_list(&args.instruments)?,
        model: ModelChoice {
            method,
            model: args.model.model,
            adapter: args.adapter,
            cuda: args.model.cuda,
            answer: None,
            samples: 1,
            seed: args.seed,
            batch_size: args.batch_size,
            threads: global.threads,
        },
        data_dir: global.data_dir.clone(),
        human: args.human,
        key: args.key,
        gap: args.gap,
        limit_items: args.limit_items,
        human_relations: args.human_relations,
        out: args.out,
    })
}

pub fn print(out: &SimulateOutput) -> anyhow::Result<()> {
    let Some(summary) = &out.summary else {
        anyhow::bail!(
            "interrupted after {} of {} items; rerun the same command to resume",
            out.done,
            out.total
        );
    };
    let f = |x: Option<f64>| x.map_or("undefined".to_string(), |x| format!("{x:.3}"));
    println!(
        "population: {} × {} ({} distinct personas), method {}",
        summary.n, summary.strategy, summary.speakers, summary.method
    );
    println!(
        "matrix r vs {}: raw {}, centred {}",
        summary.reference,
        f(summary.matrix_r_raw),
        f(summary.matrix_r_centred)
    );
    println!(
        "ceiling (two halves of the people): raw {}, centred {}",
        f(summary.ceiling_raw),
        f(summary.ceiling_centred)
    );
    println!(
        "Procrustes congruence: {}",
        f(summary.procrustes_congruence)
    );
    println!(
        "theory checks passed: {} of {}",
        summary.checks_passed, summary.checks_total
    );
    println!(
        "mean Wasserstein distance to the people's value scores (1..6): {}",
        f(summary.wasserstein_mean)
    );
    if summary.relations_r.is_some() {
        println!(
            "value–behaviour r against the human table: {}",
            f(summary.relations_r)
        );
    }
    println!("results: {}", out.out.display());
    Ok(())
}
