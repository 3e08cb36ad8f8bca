//! Command-line interface: one module per command group, each with its clap `Args`. A command
//! that does work parses its flags into a job spec (`valuelab_engine::jobs`) and hands it to
//! `run::execute`, the one path every job takes (`valuelab run SPEC.json` too): print the spec
//! with `--print-spec`, or run it with a progress bar and Ctrl-C as its cancel token, then print
//! what it produced.

use crate::db;
use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

pub mod args;
pub mod bench;
pub mod data;
pub mod eval;
pub mod generate;
pub mod groups;
pub mod hints;
pub mod jobs;
pub mod kappa;
pub mod progress;
pub mod protocol;
pub mod report;
pub mod run;
pub mod runs;
pub mod serve;
pub mod simulate;
pub mod structure;
pub mod study;
pub mod train;
pub mod user;
pub mod vim;

#[derive(Debug, Parser)]
#[command(
    name = "valuelab",
    version,
    about = "Inject human values into LLMs and predict what people with those values would say and do"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command understands.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Folder holding `vim/`, `ess/` and `instruments/` (the research data).
    #[arg(long, global = true, env = "VALUELAB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// CPU threads for model work (default: all cores).
    #[arg(long, global = true, env = "VALUELAB_THREADS")]
    pub threads: Option<usize>,
    /// Print the job spec (JSON) the command would run, instead of running it; `valuelab run
    /// SPEC.json` runs it.
    #[arg(long, global = true)]
    pub print_spec: bool,
    /// Where a job runs: here, or submitted to Slurm (an evaluation as an array over its groups;
    /// `valuelab jobs status|cancel|import ID` follow it).
    #[arg(long, global = true, value_enum, default_value = "local")]
    pub backend: Backend,
    #[command(flatten)]
    pub slurm: crate::slurm::SlurmOptions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Local,
    Slurm,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fleiss' kappa of a counts table or of long-format judgements.
    Kappa(kappa::Args),
    /// Check or download the research data.
    #[command(subcommand)]
    Data(data::Command),
    /// Build target groups from ESS microdata, and their gold opinions.
    #[command(subcommand)]
    Groups(groups::Command),
    /// VIM training data (argument generation and question answering).
    #[command(subcommand)]
    Vim(vim::Command),
    /// Train a LoRA adapter that injects a group's values.
    Train(train::Args),
    /// Generate text from a prompt (quick check of a model or adapter).
    Generate(generate::GenerateArgs),
    /// Score answer options for a prompt (quick check of a model or adapter).
    Score(generate::ScoreArgs),
    /// Benchmark the engine on this machine.
    Bench(bench::BenchArgs),
    /// Run an evaluation task.
    #[command(subcommand)]
    Eval(eval::Command),
    /// Predict answers without gold data.
    #[command(subcommand)]
    Predict(eval::PredictCommand),
    /// Render tables and plots for finished runs.
    Report(report::Args),
    /// Serve the web app and the JSON API.
    Serve(serve::Args),
    /// Accounts of the web app (the first admin).
    #[command(subcommand)]
    User(user::Command),
    /// The results explorer's runs: import run folders into the database.
    #[command(subcommand)]
    Runs(runs::Command),
    /// Annotation studies of the web app, from a script.
    #[command(subcommand)]
    Study(study::Command),
    /// Simulate a population of value-prompted personas answering questionnaires.
    Simulate(simulate::Args),
    /// Value structure of a simulated population or of ESS respondents against people: matrix r,
    /// MDS and Procrustes, the theory's checks, dominant-value shares.
    Structure(structure::Args),
    /// Test conditioning methods on held-out profiles: r across profiles, shuffled control,
    /// sign check (docs/conditioning.md).
    Protocol(protocol::Args),
    /// Run a saved job spec (from --print-spec, the server or a cluster task).
    Run(run::Args),
    /// Jobs submitted to Slurm (`--backend slurm`): status, cancel, import into the explorer.
    #[command(subcommand)]
    Jobs(jobs::Command),
}

impl Cli {
    pub fn run(self) -> anyhow::Result<()> {
        let global = self.global;
        valuelab_engine::jobs::configure_candle_pool(global.threads);
        let runs_a_job = matches!(
            self.command,
            Command::Groups(_)
                | Command::Vim(_)
                | Command::Train(_)
                | Command::Eval(_)
                | Command::Predict(_)
                | Command::Report(_)
                | Command::Simulate(_)
                | Command::Protocol(_)
                | Command::Run(_)
        );
        if global.print_spec && !runs_a_job {
            anyhow::bail!("--print-spec is for the commands that run a job: groups, vim data, train, eval, predict, report, simulate, protocol and run");
        }
        if global.backend == Backend::Slurm && !runs_a_job {
            anyhow::bail!("--backend slurm is for the commands that run a job: groups, vim data, train, eval, predict, report, simulate, protocol and run");
        }
        match self.command {
            Command::Kappa(args) => kappa::run(&global, args),
            Command::Data(cmd) => data::run(&global, cmd),
            Command::Groups(cmd) => groups::run(&global, cmd),
            Command::Vim(cmd) => vim::run(&global, cmd),
            Command::Train(args) => train::run(&global, args),
            Command::Generate(args) => generate::run_generate(&global, args),
            Command::Score(args) => generate::run_score(&global, args),
            Command::Bench(args) => bench::run_bench(&global, args),
            Command::Eval(cmd) => eval::run(&global, cmd),
            Command::Predict(cmd) => eval::run_predict(&global, cmd),
            Command::Report(args) => report::run(&global, args),
            Command::Serve(args) => serve::run(&global, args),
            Command::User(cmd) => user::run(cmd),
            Command::Study(cmd) => study::run(cmd),
            Command::Runs(cmd) => runs::run(cmd),
            Command::Simulate(args) => simulate::run(&global, args),
            Command::Structure(args) => structure::run(&global, args),
            Command::Protocol(args) => protocol::run(&global, args),
            Command::Run(args) => run::run(&global, args),
            Command::Jobs(cmd) => jobs::run(cmd),
        }
    }
}

/// The database a command that writes to the web app's database works on: `--database-url`
/// (or `VALUELAB_DATABASE_URL`), else the server's default. Returns a connection and the URL
/// to print, its password redacted.
pub fn open_database(flag: Option<String>) -> anyhow::Result<(db::PooledDb, String)> {
    let url = match flag {
        Some(url) => url,
        None => db::DatabaseUrl::default_url()?,
    };
    let pool = db::open(&url)?;
    let conn = pool.get().context("no database connection")?;
    Ok((conn, db::redact(&url)))
}
