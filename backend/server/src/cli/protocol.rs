//! `valuelab protocol`: every method on the held-out profiles of a conditioner's split, with
//! the shuffled control and the sign check, and on the ESS opinions of whole-country samples;
//! the report is `OUT/protocol.md`. The work is
//! `valuelab_engine::jobs::ProtocolJob` (its eval runs resume: rerun the same command).

use super::args::ModelArgs;
use super::GlobalArgs;
use anyhow::bail;
use std::path::PathBuf;
use valuelab_engine::eval::{Method, TaskKind};
use valuelab_engine::jobs::protocol::ProtocolMethod;
use valuelab_engine::jobs::{Job, ProtocolJob, ProtocolOutput};
use valuelab_engine::protocol::opinions::mean_over_countries;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A vim-cond adapter folder (from `valuelab train --method vim-cond`).
    #[arg(long, value_name = "DIR")]
    pub vim_cond: Option<PathBuf>,
    /// A profile-offset conditioner folder (from `valuelab train --method profile-offset`).
    #[arg(long, value_name = "DIR")]
    pub profile_offset: Option<PathBuf>,
    /// A steer conditioner folder (from `valuelab train --method steer`).
    #[arg(long, value_name = "DIR")]
    pub steer: Option<PathBuf>,
    /// A profile-readout conditioner folder (from `valuelab train --method profile-readout`).
    #[arg(long, value_name = "DIR")]
    pub profile_readout: Option<PathBuf>,
    /// Per-group VIM: a folder of one adapter per held-out profile (from `valuelab train
    /// --method vim --held-out-of DIR`); its shuffled control gives each group another's adapter,
    /// and it has no ESS runs (the countries' groups have no adapters).
    #[arg(long, value_name = "DIR")]
    pub vim: Option<PathBuf>,
    /// Methods that need no folder, compared at the same time, comma-separated; `none` for only
    /// the trained methods given by folder.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "base,prompt-short,prompt-long"
    )]
    pub methods: Vec<String>,
    /// The held-out split: a conditioner or vim-cond folder, or its split.json (default: the
    /// --vim-cond folder, else --profile-offset, else --steer, else --profile-readout, else the
    /// split --vim's adapters were trained for).
    #[arg(long, value_name = "DIR|FILE")]
    pub split: Option<PathBuf>,
    /// Tasks, comma-separated: pvq and valuenet on the held-out profiles; ess, the opinions of
    /// each whole-country ESS sample's value groups against their real answers.
    #[arg(long, value_delimiter = ',', default_value = "pvq,valuenet,ess")]
    pub tasks: Vec<String>,
    /// ESS: whole-country microdata files, comma-separated (default: every
    /// `ess/microdata/*.csv` of the data directory).
    #[arg(long, value_delimiter = ',', value_name = "FILE")]
    pub ess_microdata: Vec<PathBuf>,
    /// ESS: k-means value groups per country.
    #[arg(long, default_value_t = 8)]
    pub ess_groups: usize,
    /// ESS: the survey weight column of the gold means; `none` for unweighted.
    #[arg(long, value_name = "COLUMN", default_value = "pspwght")]
    pub weight: String,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Groups file the conditioner was trained with (default: the data directory's).
    #[arg(long, value_name = "FILE")]
    pub groups: Option<PathBuf>,
    /// Ask only this many items per task (spread over the values).
    #[arg(long)]
    pub limit_items: Option<usize>,
    /// Items per model call.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// Bootstrap resamples of the profiles for the 95 % intervals.
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Seed of the shuffled control and the bootstrap.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder: protocol.md, protocol.json, protocol.csv, plots/, groups/ and runs/.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    super::run::execute(global, Job::Protocol(job(global, args)?))
}

pub fn job(global: &GlobalArgs, args: Args) -> anyhow::Result<ProtocolJob> {
    let mut methods = Vec::new();
    let none = matches!(args.methods.as_slice(), [only] if only.eq_ignore_ascii_case("none"));
    for name in args.methods.iter().filter(|_| !none) {
        let method: Method = name.parse()?;
        if method.needs_adapter() {
            bail!("--methods takes methods without a folder; give {method}'s folder with its own flag (--vim-cond DIR, --profile-offset DIR, --steer DIR, --profile-readout DIR, --vim DIR)");
        }
        methods.push(ProtocolMethod {
            method,
            adapter: None,
        });
    }
    for (method, dir) in [
        (Method::VimCond, &args.vim_cond),
        (Method::ProfileOffset, &args.profile_offset),
        (Method::Steer, &args.steer),
        (Method::ProfileReadout, &args.profile_readout),
        (Method::Vim, &args.vim),
    ] {
        if let Some(dir) = dir {
            methods.push(ProtocolMethod {
                method,
                adapter: Some(dir.clone()),
            });
        }
    }
    let Some(split) = args
        .split
        .or(args.vim_cond.clone())
        .or(args.profile_offset.clone())
        .or(args.steer.clone())
        .or(args.profile_readout.clone())
        .or(args.vim.clone())
    else {
        bail!("give a trained method (--vim-cond DIR, --profile-offset DIR, --steer DIR, --profile-readout DIR or --vim DIR) or --split DIR: the held-out profiles come from its split.json");
    };
    let tasks = args
        .tasks
        .iter()
        .map(|t| match t.parse::<TaskKind>() {
            Ok(k @ (TaskKind::Pvq | TaskKind::ValueNet | TaskKind::Ess)) => Ok(k),
            _ => bail!("--tasks: '{t}' is not a protocol task (pvq, valuenet, ess)"),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ProtocolJob {
        split,
        methods,
        model: args.model.run(global),
        data_dir: global.data_dir.clone(),
        groups_file: args.groups,
        tasks,
        limit_items: args.limit_items,
        batch_size: args.batch_size,
        bootstrap: args.bootstrap,
        seed: args.seed,
        ess_microdata: (!args.ess_microdata.is_empty()).then_some(args.ess_microdata),
        ess_groups: args.ess_groups,
        weight: (!args.weight.eq_ignore_ascii_case("none")).then_some(args.weight),
        out: args.out,
    })
}

pub fn print(out: &ProtocolOutput) -> anyhow::Result<()> {
    let Some(report) = &out.report else {
        bail!(
            "interrupted: the finished runs are kept in {}; rerun the same command to go on",
            out.dir.display()
        );
    };
    let f = |x: Option<f64>| x.map_or("n/a".to_string(), |x| format!("{x:.3}"));
    println!("{} held-out profiles", report.held_out.len());
    for m in &report.methods {
        let pvq = m.task(TaskKind::Pvq);
        let valuenet = m.task(TaskKind::ValueNet);
        println!(
            "{:<16} PVQ-40 r {} (skill {})  ValueNet r {}  shuffled r {}  sign {}",
            m.method,
            f(pvq.and_then(|e| e.mean_r)),
            f(pvq.and_then(|e| e.skill)),
            f(valuenet.and_then(|e| e.mean_r)),
            f(m.shuffled_mean_r),
            m.sign
                .as_ref()
                .map_or("n/a".to_string(), |s| format!("{} of {}", s.up, s.of))
        );
    }
    for m in report.methods.iter().filter(|m| !m.opinions.is_empty()) {
        let (r, nmse, blind) = mean_over_countries(&m.opinions);
        println!(
            "{:<16} ESS opinions, {} {}: between-group r {}  NMSE {} (value-blind {})",
            m.method,
            m.opinions.len(),
            if m.opinions.len() == 1 {
                "country"
            } else {
                "countries"
            },
            f(r),
            f(nmse),
            f(blind)
        );
    }
    println!("report: {}", out.dir.join("protocol.md").display());
    Ok(())
}
