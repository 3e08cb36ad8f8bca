//! `valuelab groups`: target groups from ESS microdata (`build`, with the elbow method) and the
//! groups' gold opinions (`gold`). The work is done by `valuelab_engine::groups`.

use super::GlobalArgs;
use anyhow::Context;
use std::path::{Path, PathBuf};
use valuelab_engine::data::{self, DataDir};
use valuelab_engine::groups::{self, elbow, KMeansSettings};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Score every respondent's PVQ-21 values, cluster them with k-means++ and write the groups
    /// (plus one group per country when the file has a `cntry` column).
    Build(BuildArgs),
    /// Assign respondents to the nearest group and write each group's mean answer per question.
    Gold(GoldArgs),
}

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// ESS microdata (CSV) with the 21 PVQ items (`ipcrtiv` or `ipcrtiva`, ...).
    #[arg(long)]
    pub ess: PathBuf,
    /// Number of value groups (k-means clusters).
    #[arg(long, required_unless_present = "elbow")]
    pub k: Option<usize>,
    /// Seed of the k-means++ initialisation.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// k-means restarts from fresh k-means++ seedings; the run with the lowest SSE is kept.
    #[arg(long, default_value_t = KMeansSettings::default().runs)]
    pub runs: usize,
    /// Where to write the groups (the format of `country_and_group.csv` plus `Size`).
    #[arg(long, required_unless_present = "elbow")]
    pub out: Option<PathBuf>,
    /// Print the within-cluster SSE for each k in K1..K2 and plot it as SVG.
    #[arg(long, value_name = "K1..K2")]
    pub elbow: Option<String>,
    /// Where to write the elbow plot (default: next to --out as `<name>.elbow.svg`).
    #[arg(long)]
    pub elbow_out: Option<PathBuf>,
    /// PVQ-21 scoring key (default: `vim/ess_pvq21_key.tsv` of the data directory).
    #[arg(long)]
    pub key: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct GoldArgs {
    /// ESS microdata (CSV) with the 21 PVQ items and the questions' columns.
    #[arg(long)]
    pub ess: PathBuf,
    /// Target groups (as written by `valuelab groups build`).
    #[arg(long)]
    pub groups: PathBuf,
    /// Questions with their answer scales (default: `vim/ess_round6_questions.tsv`).
    #[arg(long)]
    pub questions: Option<PathBuf>,
    /// Where to write the gold table (`group`, `code`, `mean`, `n`).
    #[arg(long)]
    pub out: PathBuf,
    /// PVQ-21 scoring key (default: `vim/ess_pvq21_key.tsv` of the data directory).
    #[arg(long)]
    pub key: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Build(args) => build(global, args),
        Command::Gold(args) => gold(global, args),
    }
}

/// The scoring key: `--key` when given, else the data directory's.
fn key_path(global: &GlobalArgs, key: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match key {
        Some(path) => Ok(path),
        None => Ok(DataDir::resolve(global.data_dir.as_deref())?.ess_pvq21_key_tsv()),
    }
}

fn build(global: &GlobalArgs, args: BuildArgs) -> anyhow::Result<()> {
    let key = data::ess::read_pvq21_key(&key_path(global, args.key)?)?;
    let table = data::ess::read_ess_csv(&args.ess)?;
    let scored = groups::score_respondents(&table, &key)?;
    eprintln!(
        "scored {} of {} respondents in {} ({} skipped: too few PVQ-21 answers)",
        scored.points.len(),
        scored.points.len() + scored.skipped,
        args.ess.display(),
        scored.skipped
    );

    let settings = KMeansSettings {
        runs: args.runs,
        ..KMeansSettings::default()
    };
    if let Some(range) = &args.elbow {
        let ks = elbow::parse_k_range(range)?;
        let curve = elbow::elbow(&scored.points, ks, args.seed, &settings)?;
        println!("k\tsse");
        for p in &curve {
            println!("{}\t{:.3}", p.k, p.sse);
        }
        let svg_path = elbow_path(args.elbow_out.as_deref(), args.out.as_deref())?;
        let svg = elbow::elbow_svg(&curve, &format!("Elbow: {}", file_name(&args.ess)))?;
        data::write_atomically(&svg_path, |out| Ok(out.write_all(svg.as_bytes())?))?;
        eprintln!("wrote the elbow plot to {}", svg_path.display());
    }

    let (Some(k), Some(out)) = (args.k, args.out) else {
        if args.k.is_some() {
            anyhow::bail!("--k needs --out FILE to write the groups to");
        }
        return Ok(());
    };
    let built = groups::build_groups(&scored, k, args.seed, &settings)?;
    data::groups::write_groups(&out, &built.groups)?;
    let countries = built.groups.len() - k;
    eprintln!(
        "wrote {k} value groups{} to {} (within-cluster SSE {:.3})",
        if countries > 0 {
            format!(" and {countries} country groups")
        } else {
            String::new()
        },
        out.display(),
        built.sse
    );
    for g in &built.groups {
        eprintln!("  {}\t{}", g.name, g.size.unwrap_or(0));
    }
    Ok(())
}

/// `--elbow-out`, else `<out stem>.elbow.svg` beside `--out`.
fn elbow_path(elbow_out: Option<&Path>, out: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = elbow_out {
        return Ok(path.to_path_buf());
    }
    let out =
        out.context("--elbow needs --elbow-out FILE.svg or --out FILE to put the plot beside")?;
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "groups".into());
    Ok(out.with_file_name(format!("{stem}.elbow.svg")))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn gold(global: &GlobalArgs, args: GoldArgs) -> anyhow::Result<()> {
    let key = data::ess::read_pvq21_key(&key_path(global, args.key)?)?;
    let questions_path = match args.questions {
        Some(path) => path,
        None => DataDir::resolve(global.data_dir.as_deref())?.ess_questions_tsv(),
    };
    let questions = data::ess::read_questions(&questions_path)?;
    let target_groups = data::groups::read_groups(&args.groups)?;
    let table = data::ess::read_ess_csv(&args.ess)?;
    let scored = groups::score_respondents(&table, &key)?;
    let gold = groups::build_gold(&table, &scored, &target_groups, &questions)?;
    groups::gold::write_gold(&args.out, &gold.rows)?;

    eprintln!(
        "assigned {} respondents ({} skipped: too few PVQ-21 answers) to {} groups",
        scored.points.len(),
        scored.skipped,
        target_groups.len()
    );
    let empty: Vec<String> = target_groups
        .iter()
        .zip(&gold.members)
        .filter(|(_, &n)| n == 0)
        .map(|(g, _)| g.name.clone())
        .collect();
    if !empty.is_empty() {
        eprintln!(
            "note: {} groups got no respondents (not a Group_<n> cluster nor a cntry code of the file): {}",
            empty.len(),
            summarise(empty.into_iter())
        );
    }
    if !gold.coded_from_zero.is_empty() {
        eprintln!(
            "note: read as coded from 0 (a 0 answer occurs): {}",
            gold.coded_from_zero.join(", ")
        );
    }
    if !gold.missing_columns.is_empty() {
        eprintln!(
            "warning: {} of {} questions have no column in {} and got no gold: {}",
            gold.missing_columns.len(),
            questions.len(),
            args.ess.display(),
            gold.missing_columns.join(", ")
        );
    }
    if !gold.unanswered.is_empty() {
        eprintln!(
            "note: {} (group, question) pairs have no valid answer and no row: {}",
            gold.unanswered.len(),
            summarise(gold.unanswered.iter().map(|(g, q)| format!("{g}/{q}")))
        );
    }
    eprintln!(
        "wrote {} gold means to {}",
        gold.rows.len(),
        args.out.display()
    );
    Ok(())
}

/// The first few items of a long list, then how many more.
fn summarise(items: impl Iterator<Item = String>) -> String {
    const SHOWN: usize = 10;
    let items: Vec<String> = items.collect();
    let more = items.len().saturating_sub(SHOWN);
    let mut text = items.into_iter().take(SHOWN).collect::<Vec<_>>().join(", ");
    if more > 0 {
        text.push_str(&format!(", ... ({more} more)"));
    }
    text
}
