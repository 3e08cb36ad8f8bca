//! `valuelab runs import DIR...`: puts finished (or interrupted) run folders into the results
//! explorer's database, as `POST /api/runs/import` does; importing again updates them.

use crate::db;
use crate::runs::import;
use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Import run folders, or folders holding them (searched 3 levels down).
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Run folders of `valuelab eval`, or folders holding them.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Database: sqlite://PATH or postgres://... (default: the server's, or VALUELAB_DATABASE_URL).
    #[arg(long, env = db::ENV_DATABASE_URL)]
    pub database_url: Option<String>,
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Import(args) => import_runs(args),
    }
}

fn import_runs(args: ImportArgs) -> anyhow::Result<()> {
    let (mut conn, url) = super::open_database(args.database_url)?;
    let paths: Vec<String> = args.dirs.iter().map(|d| d.display().to_string()).collect();
    let imported = import::import(&mut conn, &paths).map_err(|e| anyhow::anyhow!("{e}"))?;
    for run in &imported {
        println!(
            "{} run {} {} ({})",
            if run.new { "imported" } else { "updated " },
            run.id,
            run.path,
            run.status
        );
    }
    let new = imported.iter().filter(|r| r.new).count();
    println!(
        "{} runs in {}: {new} new, {} updated",
        imported.len(),
        url,
        imported.len() - new
    );
    Ok(())
}
