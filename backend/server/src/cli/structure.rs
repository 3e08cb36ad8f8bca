//! `valuelab structure (DIR | --ess FILE)`: the value structure of a simulated population or of
//! ESS respondents against a human reference (the shared PVQ-21 responses unless `--against` or
//! `--against-ess` names another): matrix r, MDS and Procrustes, the theory's checks, the
//! dominant-value shares, and the reference's split-half ceiling. The analysis lives in
//! `valuelab_engine::structure`; this module reads the inputs and prints or writes the result.

use super::GlobalArgs;
use anyhow::Context;
use std::path::{Path, PathBuf};
use valuelab_engine::data::ess::read_pvq21_key;
use valuelab_engine::data::DataDir;
use valuelab_engine::structure::{
    analyse, read_ess_sample, read_simulated_sample, summary, write_structure, Sample,
    StructureOptions, DEFAULT_GAP,
};

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["dir", "ess"]))]
pub struct Args {
    /// The output folder of `valuelab simulate` (or its respondents.csv).
    pub dir: Option<PathBuf>,
    /// Analyse real respondents instead: an ESS CSV with the 21 PVQ items (any round).
    #[arg(long, value_name = "FILE")]
    pub ess: Option<PathBuf>,
    /// Compare against another simulation's folder.
    #[arg(long, value_name = "DIR", conflicts_with = "against_ess")]
    pub against: Option<PathBuf>,
    /// Compare against an ESS CSV (default: the data directory's ess/ess_pvq21_responses.csv).
    #[arg(long, value_name = "FILE")]
    pub against_ess: Option<PathBuf>,
    /// Correlate within-person centred scores (each respondent's mean over items subtracted).
    #[arg(long)]
    pub centred: bool,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Write structure.json, structure.md, the matrices (CSV) and the plots (SVG) here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Scale points by which the top value must lead the second to dominate.
    #[arg(long, default_value_t = DEFAULT_GAP)]
    pub gap: f64,
    /// Seed of the split of the reference into halves (the ceiling).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// PVQ-21 scoring key (default: the data directory's vim/ess_pvq21_key.tsv).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    if !(args.gap >= 0.0 && args.gap <= 5.0) {
        anyhow::bail!(
            "--gap {} is outside 0..5 (scale points on the 1..6 scale)",
            args.gap
        );
    }
    let data_dir = global.data_dir.as_deref();
    let key = || -> anyhow::Result<_> {
        let path = DataDir::file_or(args.key.as_deref(), data_dir, DataDir::ess_pvq21_key_tsv)?;
        Ok(read_pvq21_key(&path)?)
    };
    let sample = match (&args.dir, &args.ess) {
        (Some(dir), _) => read_simulated_sample(dir)?,
        (None, Some(file)) => read_ess(file, &key()?)?,
        (None, None) => unreachable!("clap requires DIR or --ess"),
    };
    let reference = match &args.against {
        Some(dir) => read_simulated_sample(dir)?,
        None => {
            let file = DataDir::file_or(
                args.against_ess.as_deref(),
                data_dir,
                DataDir::ess_responses_csv,
            )?;
            read_ess(&file, &key()?)?
        }
    };
    let options = StructureOptions {
        centred: args.centred,
        gap: args.gap,
        seed: args.seed,
    };
    let report = analyse(&sample, &reference, &options)?;
    if let Some(out) = &args.out {
        let files = write_structure(out, &report)
            .with_context(|| format!("cannot write the analysis into {}", out.display()))?;
        if !args.json {
            for f in files {
                eprintln!("wrote {}", f.display());
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", summary(&report));
    }
    Ok(())
}

fn read_ess(file: &Path, key: &[(String, valuelab_common::Value)]) -> anyhow::Result<Sample> {
    read_ess_sample(file, key)
        .with_context(|| format!("cannot score the PVQ-21 answers in {}", file.display()))
}
