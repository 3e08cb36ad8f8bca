//! `valuelab generate`, `valuelab score` and `valuelab bench` (being written).

use super::GlobalArgs;

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {}
#[derive(Debug, clap::Args)]
pub struct ScoreArgs {}
#[derive(Debug, clap::Args)]
pub struct BenchArgs {}

pub fn run_generate(_global: &GlobalArgs, _args: GenerateArgs) -> anyhow::Result<()> {
    anyhow::bail!("'valuelab generate' is not built yet")
}
pub fn run_score(_global: &GlobalArgs, _args: ScoreArgs) -> anyhow::Result<()> {
    anyhow::bail!("'valuelab score' is not built yet")
}
pub fn run_bench(_global: &GlobalArgs, _args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("'valuelab bench' is not built yet")
}
