//! The Slurm backend: a job submitted to a lab's scheduler instead of run here. An evaluation
//! over many groups becomes an array (`sbatch --array`, one task per chunk of groups, each
//! running `valuelab run SPEC.json --array-index $SLURM_ARRAY_TASK_ID`); any other job is one
//! task. Status comes from `squeue` while tasks are queued or running and from the task folders
//! once they left the queue (accounting, `sacct`, is often off on small clusters); Cancel is
//! `scancel`; when every task finished, [`status::finish`] merges the task folders into the
//! job's run folder, which the explorer imports like any other.
//!
//! Each submission leaves `<out>/slurm/` (evaluations) or `<output>.slurm/` (other jobs): the
//! spec, the batch script, one log per task, and `submission.json`; a small registry under the
//! user's data directory maps the Slurm job id to it, so `valuelab jobs status ID` needs only
//! the id.

pub mod status;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use valuelab_engine::jobs::array::ArrayPlan;
use valuelab_engine::jobs::Job;

/// Resources and splitting of a Slurm submission (`--slurm-*` flags, or the server's settings).
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct SlurmOptions {
    /// Slurm partition (default: the cluster's default partition).
    #[arg(long = "slurm-partition", value_name = "P", global = true)]
    pub partition: Option<String>,
    /// Generic resources per task, e.g. gpu:1.
    #[arg(long = "slurm-gres", value_name = "G", global = true)]
    pub gres: Option<String>,
    /// Time limit per task, e.g. 2:00:00.
    #[arg(long = "slurm-time", value_name = "T", global = true)]
    pub time: Option<String>,
    /// Memory per task, e.g. 16G.
    #[arg(long = "slurm-mem", value_name = "M", global = true)]
    pub mem: Option<String>,
    /// Account to charge.
    #[arg(long = "slurm-account", value_name = "A", global = true)]
    pub account: Option<String>,
    /// Target groups per array task of an evaluation (default 1: one task per group).
    #[arg(long = "slurm-groups-per-task", value_name = "N", global = true)]
    pub groups_per_task: Option<usize>,
}

/// What a submission left behind (`submission.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// Slurm's job id of the array.
    pub job_id: String,
    pub tasks: usize,
    pub groups_per_task: usize,
    /// The folder holding the spec, the script, the task logs and this record.
    pub dir: PathBuf,
    pub spec: PathBuf,
    pub submitted_at: String,
}

const SUBMISSION_FILE: &str = "submission.json";

/// Whether `sbatch` can be run here.
pub fn available() -> bool {
    Command::new("sbatch")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The submission folder of `job`.
pub fn submission_dir(job: &Job) -> PathBuf {
    match job {
        Job::Eval(eval) => eval.out.join("slurm"),
        other => {
            let mut name = crate::jobs::submit::output_of(other).into_os_string();
            name.push(".slurm");
            PathBuf::from(name)
        }
    }
}

/// Submits `job` as an array whose tasks run the `valuelab` binary `exe` (this one, as a rule).
pub fn submit(
    job: &Job,
    options: &SlurmOptions,
    data_dir: Option<&Path>,
    exe: &Path,
) -> anyhow::Result<Submission> {
    let groups_per_task = options.groups_per_task.unwrap_or(1);
    let plan = ArrayPlan::of(job, groups_per_task).context("splitting the job into array tasks")?;
    let dir = absolute(&submission_dir(job))?;
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the submission folder {}", dir.display()))?;
    let spec = dir.join("spec.json");
    std::fs::write(&spec, job.to_json()).with_context(|| format!("writing {}", spec.display()))?;
    let script = dir.join("job.sh");
    std::fs::write(
        &script,
        batch_script(exe, &spec, &dir, &plan, groups_per_task, options, data_dir)?,
    )
    .with_context(|| format!("writing {}", script.display()))?;
    let output = Command::new("sbatch")
        .arg("--parsable")
        .arg(&script)
        .output()
        .context("cannot run sbatch (is Slurm's client installed, and SLURM_CONF set?)")?;
    if !output.status.success() {
        bail!(
            "sbatch refused the job: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    // `--parsable` prints `ID` or `ID;CLUSTER`.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let job_id = stdout
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    if job_id.is_empty() || !job_id.chars().all(|c| c.is_ascii_digit()) {
        bail!("sbatch printed no job id (it said '{}')", stdout.trim());
    }
    let submission = Submission {
        job_id,
        tasks: plan.len(),
        groups_per_task,
        dir: dir.clone(),
        spec,
        submitted_at: valuelab_engine::output::now_utc(),
    };
    std::fs::write(
        dir.join(SUBMISSION_FILE),
        serde_json::to_string_pretty(&submission)?,
    )?;
    register(&submission)?;
    Ok(submission)
}

fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    })
}

/// The batch script: resources as `#SBATCH` lines, one array task per chunk, each task running
/// its share of the spec and logging progress as JSON lines.
fn batch_script(
    exe: &Path,
    spec: &Path,
    dir: &Path,
    plan: &ArrayPlan,
    groups_per_task: usize,
    options: &SlurmOptions,
    data_dir: Option<&Path>,
) -> anyhow::Result<String> {
    let mut lines = vec![
        "#!/bin/bash".to_string(),
        "#SBATCH --job-name=valuelab".to_string(),
        format!("#SBATCH --array=0-{}", plan.len() - 1),
        format!("#SBATCH --output={}", dir.join("task-%a.log").display()),
        format!("#SBATCH --chdir={}", std::env::current_dir()?.display()),
    ];
    for (flag, value) in [
        ("partition", &options.partition),
        ("gres", &options.gres),
        ("time", &options.time),
        ("mem", &options.mem),
        ("account", &options.account),
    ] {
        if let Some(value) = value {
            if value.contains(char::is_whitespace) {
                bail!("--slurm-{flag} '{value}' has a space in it");
            }
            lines.push(format!("#SBATCH --{flag}={value}"));
        }
    }
    let data_dir = data_dir
        .map(|d| format!(" --data-dir {}", quote(&d.display().to_string())))
        .unwrap_or_default();
    lines.push(format!(
        "exec {}{data_dir} run {} --progress jsonl --array-index \"$SLURM_ARRAY_TASK_ID\" --groups-per-task {groups_per_task}",
        quote(&exe.display().to_string()),
        quote(&spec.display().to_string()),
    ));
    Ok(lines.join("\n") + "\n")
}

/// A shell word in single quotes.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Where the registry of submissions lives: `valuelab/slurm/` under the user's data directory.
fn registry_dir() -> anyhow::Result<PathBuf> {
    Ok(dirs::data_dir()
        .context("no user data directory (HOME unset?)")?
        .join("valuelab")
        .join("slurm"))
}

fn register(submission: &Submission) -> anyhow::Result<()> {
    let dir = registry_dir()?;
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join(format!("{}.json", submission.job_id)),
        serde_json::to_string_pretty(&submission.dir.join(SUBMISSION_FILE))?,
    )?;
    Ok(())
}

/// The submission record in a submission folder.
pub fn load(dir: &Path) -> anyhow::Result<Submission> {
    let path = dir.join(SUBMISSION_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("the submission record {} is gone", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// The submission of Slurm job `id` (made from this account on this machine).
pub fn find(id: &str) -> anyhow::Result<Submission> {
    let entry = registry_dir()?.join(format!("{}.json", id.trim()));
    let path: PathBuf = std::fs::read_to_string(&entry)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .with_context(|| {
            format!(
                "no valuelab submission with Slurm job id {id} here ({} is missing; jobs \
                 submitted from another account or machine are not known)",
                entry.display()
            )
        })?;
    load(path.parent().unwrap_or(Path::new(".")))
}
