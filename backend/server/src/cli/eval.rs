//! `valuelab eval` and `valuelab predict` (being written).

use super::GlobalArgs;

#[derive(Debug, clap::Subcommand)]
pub enum Command {}

#[derive(Debug, clap::Subcommand)]
pub enum PredictCommand {}

pub fn run(_global: &GlobalArgs, cmd: Command) -> anyhow::Result<()> {
    match cmd {}
}

pub fn run_predict(_global: &GlobalArgs, cmd: PredictCommand) -> anyhow::Result<()> {
    match cmd {}
}
