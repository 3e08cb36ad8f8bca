//! `valuelab groups`: target groups from ESS microdata (`build`, with the elbow method) and the
//! groups' gold opinions (`gold`), and the authors' k-means groups on the countries' scale
//! (`rescore`). The work is `valuelab_engine::jobs::GroupsJob`.

use super::GlobalArgs;
use std::path::PathBuf;
use valuelab_engine::groups::KMeansSettings;
use valuelab_engine::jobs::groups::{BuildGroups, GoldOpinions};
use valuelab_engine::jobs::rescore_groups::RescoreGroups;
use valuelab_engine::jobs::{GroupsJob, GroupsOutput, Job};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Score every respondent's PVQ-21 values, cluster them with k-means++ and write the groups
    /// (plus one group per country when the file has a `cntry` column).
    Build(BuildArgs),
    /// Assign respondents to the nearest group and write each group's mean answer per question.
    Gold(GoldArgs),
    /// Write the groups file with the k-means groups (Group_*) turned from the ESS answer
    /// coding (1 = very much like me) to the importance scale of the countries (7 − score).
    Rescore(RescoreArgs),
}

#[derive(Debug, clap::Args)]
pub struct RescoreArgs {
    /// The groups file to read (default: the data directory's country_and_group.csv).
    #[arg(long, value_name = "FILE")]
    pub groups: Option<PathBuf>,
    /// Where to write the rescored groups (then pass it to any command as --groups FILE).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
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
    /// Survey weight column for weighted means (ESS: `pspwght`, the post-stratification
    /// weight); `none` or absent: every respondent counts the same.
    #[arg(long, value_name = "COLUMN")]
    pub weight: Option<String>,
}

pub fn run(global: &GlobalArgs, cmd: Command) -> anyhow::Result<()> {
    super::run::execute(global, Job::Groups(job(global, cmd)))
}

/// The job spec of the flags.
pub fn job(global: &GlobalArgs, cmd: Command) -> GroupsJob {
    match cmd {
        Command::Build(args) => GroupsJob::Build(BuildGroups {
            data_dir: global.data_dir.clone(),
            ess: args.ess,
            k: args.k,
            seed: args.seed,
            runs: args.runs,
            out: args.out,
            elbow: args.elbow,
            elbow_out: args.elbow_out,
            key: args.key,
        }),
        Command::Gold(args) => GroupsJob::Gold(GoldOpinions {
            data_dir: global.data_dir.clone(),
            ess: args.ess,
            groups: args.groups,
            questions: args.questions,
            out: args.out,
            key: args.key,
            weight: args.weight.filter(|w| !w.eq_ignore_ascii_case("none")),
        }),
        Command::Rescore(args) => GroupsJob::Rescore(RescoreGroups {
            data_dir: global.data_dir.clone(),
            groups: args.groups,
            out: args.out,
        }),
    }
}

/// The elbow curve as a table on stdout (the job's messages went to stderr).
pub fn print(out: &GroupsOutput) -> anyhow::Result<()> {
    if !out.elbow.is_empty() {
        println!("k\tsse");
        for p in &out.elbow {
            println!("{}\t{:.3}", p.k, p.sse);
        }
    }
    Ok(())
}
