//! `valuelab generate` and `valuelab score`: quick checks of a model or adapter on one prompt.
//! `valuelab bench` lives here too.

use super::args::{with_threads, ModelArgs};
use super::GlobalArgs;
use anyhow::Context;
use std::path::PathBuf;
use std::time::Instant;
use valuelab_engine::generate::{self, ChoiceItem, GenerationConfig, Normalisation};
use valuelab_engine::models::{self, LoadedModel};

/// Which model to load, with or without an adapter.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// A PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) to apply.
    #[arg(long)]
    pub adapter: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub model: LoadArgs,
    /// The task prompt.
    #[arg(long)]
    pub prompt: String,
    /// Persona text placed before the prompt (for example a value profile).
    #[arg(long, default_value = "")]
    pub persona: String,
    /// Maximum number of new tokens.
    #[arg(long, default_value_t = 64)]
    pub max_tokens: usize,
    /// Sampling temperature; 0 is greedy (the paper uses 1).
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Nucleus sampling mass (the paper uses 0.5).
    #[arg(long, default_value_t = 0.5)]
    pub top_p: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop when the text contains this (repeatable); the stop text is cut off.
    #[arg(long)]
    pub stop: Vec<String>,
    /// Words the answer begins with (the model continues them; they are not printed).
    #[arg(long, default_value = "")]
    pub answer_start: String,
    /// Number of samples, generated as one batch.
    #[arg(long, default_value_t = 1)]
    pub n: usize,
}

#[derive(Debug, clap::Args)]
pub struct ScoreArgs {
    #[command(flatten)]
    pub model: LoadArgs,
    /// The task prompt.
    #[arg(long)]
    pub prompt: String,
    /// An answer option, in order (repeat: --option 1 --option 2 ...).
    #[arg(long = "option", required = true)]
    pub options: Vec<String>,
    /// Persona text placed before the prompt.
    #[arg(long, default_value = "")]
    pub persona: String,
    /// Probabilities over options from the summed or the per-token mean log-probability.
    #[arg(long, default_value = "mean", value_parser = ["sum", "mean"])]
    pub norm: String,
}

/// Loads the model (and adapter, merged for speed), reporting the load time on stderr.
pub fn load(args: &LoadArgs) -> anyhow::Result<LoadedModel> {
    let started = Instant::now();
    let device = models::select_device(args.model.cuda)?;
    let mut model = models::load_model(&args.model.model, &device)
        .with_context(|| format!("cannot load model '{}'", args.model.model))?;
    if let Some(dir) = &args.adapter {
        valuelab_engine::adapter::apply(&mut model, dir, true)
            .with_context(|| format!("cannot apply adapter {}", dir.display()))?;
    }
    eprintln!(
        "loaded {} in {:.1} s",
        model.name,
        started.elapsed().as_secs_f64()
    );
    Ok(model)
}

pub fn run_generate(global: &GlobalArgs, args: GenerateArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.n >= 1, "--n must be at least 1");
    with_threads(global, || generate(args))
}

fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    let model = load(&args.model)?;
    let cfg = GenerationConfig {
        max_new_tokens: args.max_tokens,
        temperature: args.temperature,
        top_p: args.top_p,
        seed: args.seed,
        stop: args.stop,
        answer_start: args.answer_start,
    };
    let prompts = vec![args.prompt; args.n];
    let started = Instant::now();
    let outputs = generate::generate(&model, &args.persona, &prompts, &cfg)?;
    let seconds = started.elapsed().as_secs_f64();
    for (i, out) in outputs.iter().enumerate() {
        if outputs.len() > 1 {
            println!(
                "--- sample {} ({} tokens, {:?})",
                i + 1,
                out.tokens,
                out.finish
            );
        }
        println!("{}", out.text);
    }
    let tokens: usize = outputs.iter().map(|o| o.tokens).sum();
    if outputs.len() == 1 {
        eprintln!("finish: {:?}", outputs[0].finish);
    }
    eprintln!(
        "{tokens} tokens in {seconds:.2} s ({:.1} tokens/s)",
        tokens as f64 / seconds.max(1e-9)
    );
    Ok(())
}

pub fn run_score(global: &GlobalArgs, args: ScoreArgs) -> anyhow::Result<()> {
    with_threads(global, || score(args))
}

fn score(args: ScoreArgs) -> anyhow::Result<()> {
    let norm: Normalisation = args.norm.parse()?;
    let model = load(&args.model)?;
    let item = ChoiceItem {
        prompt: args.prompt,
        options: args.options,
        subject: None,
    };
    let scores =
        generate::score_items(&model, &args.persona, std::slice::from_ref(&item), norm)?.remove(0);
    let width = item
        .options
        .iter()
        .map(|o| o.chars().count())
        .max()
        .unwrap_or(0)
        .max("option".len());
    println!(
        "{:>3}  {:<width$}  {:>12}  {:>13}  {:>8}",
        "#", "option", "logprob_sum", "logprob_mean", "prob"
    );
    for (i, option) in item.options.iter().enumerate() {
        println!(
            "{:>3}  {:<width$}  {:>12.4}  {:>13.4}  {:>8.4}",
            i + 1,
            option,
            scores.logprob_sum[i],
            scores.logprob_mean[i],
            scores.probs[i]
        );
    }
    let expected = generate::expected_index(&scores.probs);
    println!(
        "expected index: {expected:.4} (option {:.4} on the 1..{} scale)",
        expected + 1.0,
        item.options.len()
    );
    Ok(())
}
