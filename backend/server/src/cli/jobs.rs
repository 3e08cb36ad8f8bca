//! `valuelab jobs status|cancel|import ID`: a job submitted to Slurm with `--backend slurm`,
//! followed by its Slurm job id.

use crate::db;
use crate::runs::import;
use crate::slurm::{self, status};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Each array task's state (pending, running, done, failed, cancelled).
    Status(StatusArgs),
    /// Cancel the tasks still queued or running (`scancel`).
    Cancel(IdArgs),
    /// When every task is done: merge an evaluation's task folders into its run folder and
    /// import it into the results explorer.
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// The Slurm job id `--backend slurm` printed.
    pub id: String,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    pub id: String,
    /// One JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    pub id: String,
    /// Database: sqlite://PATH or postgres://... (default: the server's, or VALUELAB_DATABASE_URL).
    #[arg(long, env = db::ENV_DATABASE_URL)]
    pub database_url: Option<String>,
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Status(args) => {
            let submission = slurm::find(&args.id)?;
            let state = status::status(&submission)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&state)?);
                return Ok(());
            }
            println!(
                "Slurm job {}: {} of {} tasks done{}",
                state.job_id,
                state.done,
                state.tasks.len(),
                if state.ended { "" } else { " (still running)" }
            );
            for task in &state.tasks {
                println!(
                    "  task {:>4}  {:<9}  {}  log {}",
                    task.index,
                    task.state,
                    task.groups.join(","),
                    task.log.display()
                );
            }
            Ok(())
        }
        Command::Cancel(args) => {
            let submission = slurm::find(&args.id)?;
            status::cancel(&submission)?;
            println!("cancelled Slurm job {}", submission.job_id);
            Ok(())
        }
        Command::Import(args) => {
            let submission = slurm::find(&args.id)?;
            let state = status::status(&submission)?;
            if !state.all_done() {
                let left: Vec<String> = state
                    .tasks
                    .iter()
                    .filter(|t| t.state != "done")
                    .map(|t| format!("{} ({})", t.index, t.state))
                    .collect();
                anyhow::bail!(
                    "Slurm job {}: tasks {} are not done; wait, or resubmit the spec ({}) — \
                     finished tasks are kept",
                    submission.job_id,
                    left.join(", "),
                    submission.spec.display()
                );
            }
            let Some(run_dir) = status::finish(&submission)? else {
                println!(
                    "Slurm job {}: done; its outputs are in place",
                    submission.job_id
                );
                return Ok(());
            };
            let (mut conn, url) = super::open_database(args.database_url)?;
            let imported = import::import(&mut conn, &[run_dir.display().to_string()])
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for run in &imported {
                println!(
                    "merged {} tasks into {} → run {} in {url}",
                    state.tasks.len(),
                    run.path,
                    run.id
                );
            }
            Ok(())
        }
    }
}
