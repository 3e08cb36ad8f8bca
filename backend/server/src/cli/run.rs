//! `valuelab run SPEC.json`, and the path every job command takes: print the spec
//! (`--print-spec`), or run it with a terminal progress bar and Ctrl-C as its cancel token,
//! then print what it produced — the same output whether the job came from flags or a file.

use super::progress::TerminalSink;
use super::{eval, groups, report, train, vim, GlobalArgs};
use std::path::PathBuf;
use valuelab_engine::jobs::{self, CancelToken, Job, JobOutput};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A job spec as JSON (`valuelab <command> ... --print-spec > SPEC.json`). `--data-dir`
    /// and `--threads` fill what the spec leaves unset.
    #[arg(value_name = "SPEC.json")]
    pub spec: PathBuf,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let job =
        Job::from_json_file(&args.spec)?.with_defaults(global.data_dir.as_deref(), global.threads);
    execute(global, job)
}

/// Prints the spec (`--print-spec`) or runs the job and prints its output.
pub fn execute(global: &GlobalArgs, job: Job) -> anyhow::Result<()> {
    if global.print_spec {
        println!("{}", job.to_json());
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
    let sink = TerminalSink::new();
    let outcome = jobs::run(&job, &sink, &cancel);
    sink.finish();
    let outcome = outcome?;
    match &outcome.output {
        JobOutput::Groups(out) => groups::print(out),
        JobOutput::VimData(out) => vim::print(out),
        JobOutput::Train(out) => train::print(out, outcome.seconds),
        JobOutput::Eval(out) => eval::print(out),
        JobOutput::Predict(out) => eval::print_predictions(out),
        JobOutput::Report(out) => report::print(out),
    }
}
