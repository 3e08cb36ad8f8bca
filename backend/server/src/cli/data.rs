//! `valuelab data check` and `valuelab data fetch`.

use super::GlobalArgs;
use anyhow::{bail, Context};
use std::path::PathBuf;
use std::time::Duration;
use valuelab_engine::data::dir::default_cache_dir;
use valuelab_engine::data::fetch::{
    self, Fetched, HttpSource, DEFAULT_BASE_URL, FILES, NOT_FETCHABLE,
};
use valuelab_engine::data::{check, DataDir};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Validate the data directory (--data-dir / VALUELAB_DATA_DIR, else the fetch cache) and
    /// print what each file holds; fails naming any unusable file.
    Check,
    /// Download the authors' released files (dongjunKANG/VIM at c4f404a) into a user cache and
    /// verify their sha256. The files converted from xlsx (ESS questions, PVQ items, PVQ-21 key),
    /// the golden labels and the ESS microdata cannot be downloaded: use --data-dir for those.
    Fetch(FetchArgs),
}

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// Where to put the data (default: <user cache>/valuelab/data, found without --data-dir).
    #[arg(long, value_name = "DIR")]
    pub dest: Option<PathBuf>,
    /// Base URL of the authors' `data/` folder.
    #[arg(long, value_name = "URL", default_value = DEFAULT_BASE_URL)]
    pub base_url: String,
    /// Time limit per file, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,
}

pub fn run(global: &GlobalArgs, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Check => run_check(global),
        Command::Fetch(args) => run_fetch(args),
    }
}

fn run_check(global: &GlobalArgs) -> anyhow::Result<()> {
    let dir = DataDir::resolve(global.data_dir.as_deref())?;
    let report = check(&dir)?;
    println!("{report}");
    let problems = report.problems();
    if !problems.is_empty() {
        let names: Vec<String> = problems
            .iter()
            .map(|p| p.path.display().to_string())
            .collect();
        bail!(
            "data directory {} is not usable: {}",
            dir.root().display(),
            names.join(", ")
        );
    }
    Ok(())
}

fn run_fetch(args: FetchArgs) -> anyhow::Result<()> {
    let dest = match args.dest.clone().or_else(default_cache_dir) {
        Some(dest) => dest,
        None => bail!("cannot find a user cache folder: pass --dest DIR"),
    };
    let source = HttpSource::new(&args.base_url, Duration::from_secs(args.timeout));
    println!(
        "fetching {} files from {} into {}",
        FILES.len(),
        args.base_url,
        dest.display()
    );
    let mut downloaded = 0;
    let mut present = 0;
    fetch::fetch(&source, &dest, |file, how| match how {
        Fetched::Downloaded => {
            downloaded += 1;
            println!("  downloaded  {} (sha256 verified)", file.local);
        }
        Fetched::Present => {
            present += 1;
            println!("  present     {} (sha256 verified)", file.local);
        }
    })
    .with_context(|| format!("fetching into {}", dest.display()))?;
    println!("{downloaded} downloaded, {present} already present");
    println!(
        "not downloadable (copy them from a full data directory and pass --data-dir to use them):"
    );
    for (path, why) in NOT_FETCHABLE {
        println!("  {path}: {why}");
    }
    if args.dest.is_some() && args.dest != default_cache_dir() {
        println!(
            "use it with --data-dir {} (or VALUELAB_DATA_DIR)",
            dest.display()
        );
    } else {
        println!(
            "valuelab uses this folder when neither --data-dir nor VALUELAB_DATA_DIR is given"
        );
    }
    Ok(())
}
