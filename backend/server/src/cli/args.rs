//! Flags that several commands share, declared once: model selection, the VIM method and rule,
//! and running work on the `--threads` pool.

use super::GlobalArgs;
use valuelab_engine::jobs::ModelRun;
use valuelab_engine::vim::{Rule, TrainingMethod};

/// Which model to load.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// `smollm2` (installed by scripts/install-model.sh), a .gguf file, or a Hugging Face Llama directory.
    #[arg(long, default_value = "smollm2")]
    pub model: String,
    /// Run on the first CUDA GPU (needs a build with `--features cuda`).
    #[arg(long)]
    pub cuda: bool,
}

impl ModelArgs {
    /// The model part of a conditioning, protocol or training spec.
    pub fn run(self, global: &GlobalArgs) -> ModelRun {
        ModelRun {
            model: self.model,
            cuda: self.cuda,
            threads: global.threads,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MethodArg {
    /// argument generation (Algorithm 1, Table 16)
    Ag,
    /// question answering (Algorithm 2, Table 17)
    Qa,
    /// both, interleaved (seeded)
    Vim,
}

impl From<MethodArg> for TrainingMethod {
    fn from(arg: MethodArg) -> TrainingMethod {
        match arg {
            MethodArg::Ag => TrainingMethod::Ag,
            MethodArg::Qa => TrainingMethod::Qa,
            MethodArg::Vim => TrainingMethod::Vim,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuleArg {
    /// the least important expressed value must reach the threshold (the paper's Algorithm 1)
    Min,
    /// the mean of the expressed values must reach it (the authors' released training data)
    Mean,
}

impl From<RuleArg> for Rule {
    fn from(arg: RuleArg) -> Rule {
        match arg {
            RuleArg::Min => Rule::Min,
            RuleArg::Mean => Rule::Mean,
        }
    }
}

/// Runs `work` on a pool of `--threads` threads (the process's pool without it): candle's
/// kernels run on the current rayon pool, and an oversubscribed pool collapses throughput
/// (ENGINE-NOTES trap 4).
pub fn with_threads<T: Send>(
    global: &GlobalArgs,
    work: impl FnOnce() -> anyhow::Result<T> + Send,
) -> anyhow::Result<T> {
    valuelab_engine::jobs::in_thread_pool(global.threads, work)?
}
