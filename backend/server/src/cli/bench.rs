//! `valuelab bench`: the engine's speed on this machine (see docs/performance.md).

use super::args::ModelArgs;
use super::GlobalArgs;
use anyhow::Context;
use std::path::PathBuf;
use valuelab_engine::bench::{self, BenchConfig};
use valuelab_engine::data::DataDir;
use valuelab_engine::models::InferenceWeights;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Prompt length for the prompt-processing figure.
    #[arg(long, default_value_t = 185)]
    pub prompt_tokens: usize,
    /// Tokens generated for the generation figure.
    #[arg(long, default_value_t = 32)]
    pub gen_tokens: usize,
    /// Batch sizes for prompt processing and generation.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    pub batches: Vec<usize>,
    /// Repetitions per timing (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Timed LoRA train steps (0 skips training).
    #[arg(long, default_value_t = 3)]
    pub train_steps: usize,
    /// Weights of the decoding steps (generation after the prompt): q8_0 (a quantised copy
    /// beside the f32 weights) or f32 only. Overrides VALUELAB_INFERENCE_WEIGHTS.
    #[arg(long)]
    pub inference_weights: Option<InferenceWeights>,
    /// Write the figures as JSON here as well.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

pub fn run_bench(global: &GlobalArgs, args: BenchArgs) -> anyhow::Result<()> {
    super::args::with_threads(global, || bench(global, args))
}

fn bench(global: &GlobalArgs, args: BenchArgs) -> anyhow::Result<()> {
    let data_dir = DataDir::resolve(global.data_dir.as_deref()).ok();
    if data_dir.is_none() {
        eprintln!("no data directory: skipping the option-scoring figure (pass --data-dir)");
    }
    let cfg = BenchConfig {
        model: args.model.model,
        prompt_tokens: args.prompt_tokens,
        gen_tokens: args.gen_tokens,
        batches: args.batches,
        repeats: args.repeats.max(1),
        train_steps: args.train_steps,
        inference_weights: match args.inference_weights {
            Some(weights) => weights,
            None => InferenceWeights::from_env()?,
        },
        data_dir,
    };
    let device = valuelab_engine::models::select_device(args.model.cuda)?;
    let report = bench::run(&cfg, &device, |stage| eprintln!("bench: {stage}"))?;
    println!("model           {}", report.model);
    println!("threads         {}", report.threads);
    println!("load            {:.2} s", report.load_s);
    println!(
        "weights         {} for decoding steps ({:.0} MB quantised)",
        report.settings.inference_weights.name(),
        report.quantized_mb
    );
    for t in &report.prompt {
        println!("prompt   b{:<3}  {:.1} tok/s", t.batch, t.tokens_per_s);
    }
    for t in &report.generation {
        println!("generate b{:<3}  {:.1} tok/s", t.batch, t.tokens_per_s);
    }
    if let Some(s) = &report.scoring {
        println!(
            "scoring         {:.2} items/s (PVQ-40, {} items, persona {} tokens encoded in {:.2} s)",
            s.items_per_s, s.items, s.persona_tokens, s.persona_encode_s
        );
        println!(
            "scoring shifted {:.2} items/s batched, {:.2} items/s one at a time (a shift per item, as a relevance readout)",
            s.shifted.batched_items_per_s, s.shifted.one_at_a_time_items_per_s
        );
    }
    if let Some(t) = report.train_step_s {
        println!("train step      {t:.2} s (LoRA r 8 q/v, batch 4 x 128 tokens)");
    }
    if let Some(m) = report.peak_memory_mb {
        println!("peak memory     {m:.0} MB");
    }
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
