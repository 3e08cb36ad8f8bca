//! `valuelab run SPEC.json`, and the path every job command takes: print the spec
//! (`--print-spec`), or run it with a progress display and Ctrl-C as its cancel token, then
//! print what it produced — the same output whether the job came from flags or a file.

use super::progress::TerminalSink;
use super::Backend;
use super::{eval, groups, protocol, report, simulate, train, vim, GlobalArgs};
use std::path::PathBuf;
use valuelab_engine::jobs::array::ArrayPlan;
use valuelab_engine::jobs::{self, CancelToken, Job, JobOutput, JsonLinesSink, ProgressSink};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A job spec as JSON (`valuelab <command> ... --print-spec > SPEC.json`). `--data-dir`
    /// and `--threads` fill what the spec leaves unset.
    #[arg(value_name = "SPEC.json")]
    pub spec: PathBuf,
    /// How progress goes to stderr: a bar (plain lines when stderr is not a terminal), or one
    /// JSON object per event (`jsonl`: cluster logs, other programs).
    #[arg(long, value_enum, default_value = "bar")]
    pub progress: ProgressFormat,
    /// Run only array task N of the spec (a Slurm array task: `--array-index
    /// $SLURM_ARRAY_TASK_ID`): an evaluation's Nth chunk of groups, into `<out>/tasks/NNNN`.
    #[arg(long, value_name = "N")]
    pub array_index: Option<usize>,
    /// Groups per array task (as submitted).
    #[arg(long, value_name = "K", default_value_t = 1, requires = "array_index")]
    pub groups_per_task: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressFormat {
    Bar,
    Jsonl,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let mut job =
        Job::from_json_file(&args.spec)?.with_defaults(global.data_dir.as_deref(), global.threads);
    if let Some(index) = args.array_index {
        job = ArrayPlan::of(&job, args.groups_per_task)?.task(&job, index)?;
    }
    match args.progress {
        ProgressFormat::Bar => execute(global, job),
        ProgressFormat::Jsonl => {
            execute_with(global, job, &JsonLinesSink::new(std::io::stderr()), &|| {})
        }
    }
}

/// Prints the spec (`--print-spec`), or runs the job with a progress bar and prints its output.
pub fn execute(global: &GlobalArgs, job: Job) -> anyhow::Result<()> {
    let sink = TerminalSink::new();
    execute_with(global, job, &sink, &|| sink.finish())
}

/// `execute` with any sink; `finish` clears what the sink drew before the output is printed.
fn execute_with(
    global: &GlobalArgs,
    job: Job,
    sink: &dyn ProgressSink,
    finish: &dyn Fn(),
) -> anyhow::Result<()> {
    if global.print_spec {
        println!("{}", job.to_json());
        return Ok(());
    }
    if global.backend == Backend::Slurm {
        let exe = std::env::current_exe()?;
        let submission =
            crate::slurm::submit(&job, &global.slurm, global.data_dir.as_deref(), &exe)?;
        println!("{}", submission.job_id);
        eprintln!(
            "submitted Slurm job {} ({} array tasks); follow it with `valuelab jobs status {}`, \
             then `valuelab jobs import {}`; files in {}",
            submission.job_id,
            submission.tasks,
            submission.job_id,
            submission.job_id,
            submission.dir.display()
        );
        return Ok(());
    }
    let cancel = CancelToken::new();
    {
        let cancel = cancel.clone();
        // A second handler cannot be installed in one process; a failure only loses clean Ctrl-C.
        let _ = ctrlc::set_handler(move || {
            eprintln!("\nstopping after the current batch or step (finished work is saved)...");
            cancel.cancel();
        });
    }
    let outcome = jobs::run(&job, sink, &cancel);
    finish();
    let outcome = outcome?;
    match &outcome.output {
        JobOutput::Groups(out) => groups::print(out),
        JobOutput::VimData(out) => vim::print(out),
        JobOutput::Train(out) => train::print(out, outcome.seconds),
        JobOutput::VimCond(out) => train::print_vim_cond(out, outcome.seconds),
        JobOutput::VimHeldOut(out) => train::print_vim_held_out(out),
        JobOutput::Condition(out) => train::print_conditioner(out),
        JobOutput::Eval(out) => eval::print(out),
        JobOutput::Predict(out) => eval::print_predictions(out),
        JobOutput::Report(out) => report::print(out),
        JobOutput::Simulate(out) => simulate::print(out),
        JobOutput::Protocol(out) => protocol::print(out),
    }
}
