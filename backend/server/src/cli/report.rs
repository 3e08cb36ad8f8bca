//! `valuelab report DIR ... [--out OUT] [--pair GROUP_A GROUP_B]`: tables and plots of finished
//! runs (`valuelab_engine::jobs::ReportJob`; the scoring lives in `valuelab_engine::eval::report`).
//! It writes the report and prints its Markdown to stdout (what it wrote goes to stderr, so the
//! tables can be piped).

use super::GlobalArgs;
use std::path::PathBuf;
use valuelab_engine::eval::report::ridge;
use valuelab_engine::jobs::{Job, ReportJob, ReportOutput};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run directories of `valuelab eval` (each holding results.json); runs of the same task are
    /// compared in one table. Folders of `valuelab simulate` (summary.json) are ranked in one
    /// table of populations against people (populations.md).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Folder for report.json, report.md and the SVG plots (default: `report/` beside the first
    /// run directory).
    #[arg(long, value_name = "OUT")]
    pub out: Option<PathBuf>,
    /// Two groups to contrast on PVQ and ValueNet (default: the two with the farthest targets).
    #[arg(long, num_args = 2, value_names = ["GROUP_A", "GROUP_B"])]
    pub pair: Option<Vec<String>>,
    /// Ridge penalty of the value-regression baseline, on standardised value scores.
    #[arg(long, default_value_t = ridge::DEFAULT_LAMBDA, value_name = "LAMBDA")]
    pub ridge_lambda: f64,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    super::run::execute(global, Job::Report(job(args)))
}

/// The job spec of the flags.
pub fn job(args: Args) -> ReportJob {
    ReportJob {
        dirs: args.dirs,
        out: args.out,
        pair: args.pair.and_then(|p| match p.as_slice() {
            [a, b] => Some((a.clone(), b.clone())),
            _ => None,
        }),
        ridge_lambda: args.ridge_lambda,
    }
}

/// The Markdown tables on stdout (what was written went to stderr, so the tables can be piped).
pub fn print(out: &ReportOutput) -> anyhow::Result<()> {
    print!("{}", out.markdown);
    Ok(())
}
