//! `valuelab vim` (being written).

use super::GlobalArgs;

#[derive(Debug, clap::Subcommand)]
pub enum Command {}

pub fn run(_global: &GlobalArgs, cmd: Command) -> anyhow::Result<()> {
    match cmd {}
}
