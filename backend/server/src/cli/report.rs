//! `valuelab report DIR ... [--out OUT] [--pair GROUP_A GROUP_B]`: tables and plots of finished
//! runs. The scoring lives in `valuelab_engine::eval::report`; this module resolves the folders,
//! writes the report and prints its Markdown to stdout (what it wrote goes to stderr, so the
//! tables can be piped).

use super::GlobalArgs;
use anyhow::Context;
use std::path::PathBuf;
use valuelab_engine::eval::report::{self, ridge, ReportOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run directories of `valuelab eval` (each holding results.json); runs of the same task are
    /// compared in one table.
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

pub fn run(_global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.ridge_lambda > 0.0 && args.ridge_lambda.is_finite(),
        "--ridge-lambda {} must be a positive number (the default {} suits 8 to 128 groups)",
        args.ridge_lambda,
        ridge::DEFAULT_LAMBDA
    );
    let runs = report::load_runs(&args.dirs).context("cannot read the runs")?;
    let options = ReportOptions {
        pair: args.pair.and_then(|p| match p.as_slice() {
            [a, b] => Some((a.clone(), b.clone())),
            _ => None,
        }),
        ridge_lambda: args.ridge_lambda,
    };
    let built = report::build_report(&runs, &options)?;
    let out = args
        .out
        .unwrap_or_else(|| report::default_out_dir(&args.dirs[0]));
    let written = report::write_report(&built, &out)
        .with_context(|| format!("cannot write the report into {}", out.display()))?;
    print!("{}", report::markdown::render(&built));
    eprintln!(
        "wrote {} files into {} (report.md, report.json, SVG plots)",
        written.len(),
        out.display()
    );
    Ok(())
}
