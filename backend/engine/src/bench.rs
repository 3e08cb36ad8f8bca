//! The engine benchmark behind `valuelab bench`: the figures issue 3 asks for, measured on one
//! model in one process so they can be set against the PyTorch + PEFT and llama.cpp peers
//! (`scripts/bench/`) run on the same file. Timings are medians of repeated runs; the work
//! mirrors the peers exactly (random prompt tokens, greedy decoding, LoRA r 8 on q/v with
//! AdamW at batch 4 × 128 tokens and the loss on the last 32 tokens of each row).

use crate::data::{groups, pvq, DataDir};
use crate::eval::methods::{persona, Method};
use crate::generate::{
    score_items_shifted, score_items_with_prefix, ChoiceItem, ItemShifts, Normalisation,
    PrefixState,
};
use crate::models::{
    load_model_with, InferenceWeights, Input, LoadedModel, Readout, ResidualOffsets,
};
use crate::Result;
use candle_core::{Device, D};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub model: String,
    /// Prompt length for prompt-processing throughput (ENGINE-NOTES measured llama.cpp at 185).
    pub prompt_tokens: usize,
    pub gen_tokens: usize,
    pub batches: Vec<usize>,
    pub repeats: usize,
    pub train_steps: usize,
    pub inference_weights: InferenceWeights,
    /// Where PVQ items and a target group for the scoring benchmark come from (skipped without).
    pub data_dir: Option<DataDir>,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            model: "smollm2".into(),
            prompt_tokens: 185,
            gen_tokens: 32,
            batches: vec![1, 8],
            repeats: 3,
            train_steps: 3,
            inference_weights: InferenceWeights::default(),
            data_dir: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub batch: usize,
    pub tokens_per_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScoringFigures {
    pub items: usize,
    pub persona_tokens: usize,
    pub items_per_s: f64,
    pub persona_encode_s: f64,
    /// The same items, each moved by its own amount along one direction (a relevance readout):
    /// in the scorer's batches, and one item per call under a readout with its shift.
    pub shifted: ShiftedScoring,
}

/// Items/s (median of the bench's repeats) of scoring with a shift per item.
#[derive(Debug, Clone, Serialize)]
pub struct ShiftedScoring {
    pub batched_items_per_s: f64,
    pub one_at_a_time_items_per_s: f64,
}

/// What the figures were measured with; the peer scripts read it from `valuelab bench --json`
/// (`--like`), so both sides do the same work on the same file.
#[derive(Debug, Clone, Serialize)]
pub struct BenchSettings {
    /// The model file (a GGUF) or folder (Hugging Face) the model argument resolved to.
    pub model_file: String,
    pub prompt_tokens: usize,
    pub gen_tokens: usize,
    pub batches: Vec<usize>,
    pub repeats: usize,
    pub train_steps: usize,
    /// The weights of decoding steps; llama.cpp always uses the file's own.
    pub inference_weights: InferenceWeights,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub model: String,
    pub settings: BenchSettings,
    pub threads: usize,
    pub load_s: f64,
    /// Memory of the quantised weight copies (0 with f32 inference weights).
    pub quantized_mb: f64,
    pub prompt: Vec<Throughput>,
    pub generation: Vec<Throughput>,
    pub scoring: Option<ScoringFigures>,
    pub train_step_s: Option<f64>,
    pub peak_memory_mb: Option<f64>,
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, f64)> {
    let start = Instant::now();
    let out = f()?;
    Ok((out, start.elapsed().as_secs_f64()))
}

fn random_tokens(rng: &mut rand_chacha::ChaCha8Rng, n: usize, vocab: usize) -> Vec<u32> {
    (0..n)
        .map(|_| rng.random_range(100..vocab as u32))
        .collect()
}

fn prompt_throughput(
    model: &LoadedModel,
    cfg: &BenchConfig,
    batch: usize,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Result<f64> {
    let vocab = model.config().vocab_size;
    let rows: Vec<Vec<u32>> = (0..batch)
        .map(|_| random_tokens(rng, cfg.prompt_tokens, vocab))
        .collect();
    let input = Input::left_padded(&rows, &vec![0; batch], 0, model.device())?;
    let run = || -> Result<()> {
        // Logits at the last position only, as the peers compute them.
        model.llama.forward_last(&input, None)?;
        Ok(())
    };
    run()?;
    let times = (0..cfg.repeats)
        .map(|_| timed(run).map(|(_, t)| t))
        .collect::<Result<Vec<_>>>()?;
    Ok((batch * cfg.prompt_tokens) as f64 / median(times))
}

fn generation_throughput(
    model: &LoadedModel,
    cfg: &BenchConfig,
    batch: usize,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Result<f64> {
    let vocab = model.config().vocab_size;
    let rows: Vec<Vec<u32>> = (0..batch).map(|_| random_tokens(rng, 16, vocab)).collect();
    let mut cache = model.llama.new_cache();
    let mut logits = model.llama.forward_last(
        &Input::left_padded(&rows, &vec![0; batch], 0, model.device())?,
        Some(&mut cache),
    )?;
    let start = Instant::now();
    for step in 0..cfg.gen_tokens {
        let next: Vec<u32> = logits.argmax(D::Minus1)?.to_vec1()?;
        let ids = candle_core::Tensor::from_vec(next, (batch, 1), model.device())?;
        let positions = vec![vec![(16 + step) as u32]; batch];
        logits = model.llama.decode_step(
            &Input {
                ids,
                positions,
                valid: None,
            },
            &mut cache,
        )?;
    }
    Ok((batch * cfg.gen_tokens) as f64 / start.elapsed().as_secs_f64())
}

fn scoring_throughput(
    model: &mut LoadedModel,
    dir: &DataDir,
    cfg: &BenchConfig,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Result<ScoringFigures> {
    let items = pvq::read_pvq40(&dir.pvq40_items_tsv())?;
    let groups = groups::read_groups(&dir.groups_csv())?;
    let group = groups
        .first()
        .ok_or_else(|| crate::Error::invalid("the groups table is empty"))?;
    let choice_items: Vec<ChoiceItem> = items
        .iter()
        .map(|item| ChoiceItem {
            prompt: crate::eval::pvq::prompt(&item.text),
            options: (1..=6).map(|k| k.to_string()).collect(),
            subject: Some(item.text.clone()),
        })
        .collect();
    let text = persona(Method::PromptLong, group);
    let (prefix, persona_encode_s) = timed(|| PrefixState::new(model, &text))?;
    let (_, seconds) =
        timed(|| score_items_with_prefix(model, &prefix, &choice_items, Normalisation::Mean))?;
    let shifted = shifted_scoring(model, &prefix, &choice_items, cfg, rng)?;
    Ok(ScoringFigures {
        items: choice_items.len(),
        persona_tokens: prefix.len(),
        items_per_s: choice_items.len() as f64 / seconds,
        persona_encode_s,
        shifted,
    })
}

/// Scoring with random per-item amounts along a random direction, batched and one at a time.
fn shifted_scoring(
    model: &mut LoadedModel,
    prefix: &PrefixState,
    items: &[ChoiceItem],
    cfg: &BenchConfig,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Result<ShiftedScoring> {
    let hidden = model.llama.config().hidden_size;
    let direction: Vec<f32> = (0..hidden).map(|_| rng.random_range(-1.0..1.0)).collect();
    let direction = candle_core::Tensor::from_vec(direction, (1, hidden), model.device())?;
    let amounts: Vec<f32> = items.iter().map(|_| rng.random_range(-1.0..1.0)).collect();
    let shifts = ItemShifts {
        amounts: &amounts,
        direction: &direction,
    };
    let (mut batched, mut one_at_a_time) = (Vec::new(), Vec::new());
    for _ in 0..cfg.repeats.max(1) {
        let (_, s) =
            timed(|| score_items_shifted(model, prefix, items, Normalisation::Mean, Some(shifts)))?;
        batched.push(items.len() as f64 / s);
        let start = Instant::now();
        for (item, &amount) in items.iter().zip(&amounts) {
            let readout = Readout {
                gate: None,
                shift: Some(candle_core::Tensor::new(&[[amount]], model.device())?),
                direction: direction.clone(),
            };
            model
                .llama
                .set_residual_offsets(ResidualOffsets::default().with_readout(readout))?;
            score_items_with_prefix(
                model,
                prefix,
                std::slice::from_ref(item),
                Normalisation::Mean,
            )?;
        }
        one_at_a_time.push(items.len() as f64 / start.elapsed().as_secs_f64());
    }
    model
        .llama
        .set_residual_offsets(ResidualOffsets::default())?;
    Ok(ShiftedScoring {
        batched_items_per_s: median(batched),
        one_at_a_time_items_per_s: median(one_at_a_time),
    })
}

/// Median seconds per LoRA step at the shape: batch 4 × 128 tokens, the loss on the last
/// 32 tokens of each row (an answer after a prompt, as VIM's examples are).
fn train_step_time(model: &mut LoadedModel, cfg: &BenchConfig) -> Result<f64> {
    let timing = crate::train::bench::time_lora_steps(
        &mut model.llama,
        &crate::lora::LoraConfig::default(),
        4,
        128,
        32,
        cfg.train_steps,
    )?;
    Ok(median(timing.steps))
}

/// Runs every measurement, reporting each stage's name through `progress`.
pub fn run(
    cfg: &BenchConfig,
    device: &Device,
    mut progress: impl FnMut(&str),
) -> Result<BenchReport> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    progress("loading the model");
    let (mut model, load_s) = timed(|| {
        let model = load_model_with(&cfg.model, device, cfg.inference_weights)?;
        model.llama.quantize_now()?;
        Ok(model)
    })?;
    let mut prompt = Vec::new();
    let mut generation = Vec::new();
    for &batch in &cfg.batches {
        progress(&format!("prompt processing, batch {batch}"));
        prompt.push(Throughput {
            batch,
            tokens_per_s: prompt_throughput(&model, cfg, batch, &mut rng)?,
        });
        progress(&format!("generation, batch {batch}"));
        generation.push(Throughput {
            batch,
            tokens_per_s: generation_throughput(&model, cfg, batch, &mut rng)?,
        });
    }
    let scoring = match &cfg.data_dir {
        Some(dir) => {
            progress("option scoring (PVQ-40, prompt-long persona)");
            Some(scoring_throughput(&mut model, dir, cfg, &mut rng)?)
        }
        None => None,
    };
    let train_step_s = if cfg.train_steps > 0 {
        progress("LoRA train step, batch 4 x 128 tokens");
        Some(train_step_time(&mut model, cfg)?)
    } else {
        None
    };
    Ok(BenchReport {
        model: cfg.model.clone(),
        settings: BenchSettings {
            model_file: crate::models::source::resolve(&cfg.model)?
                .path()
                .display()
                .to_string(),
            prompt_tokens: cfg.prompt_tokens,
            gen_tokens: cfg.gen_tokens,
            batches: cfg.batches.clone(),
            repeats: cfg.repeats,
            train_steps: cfg.train_steps,
            inference_weights: cfg.inference_weights,
        },
        threads: rayon::current_num_threads(),
        load_s,
        quantized_mb: model.llama.quantized_bytes() as f64 / 1e6,
        prompt,
        generation,
        scoring,
        train_step_s,
        peak_memory_mb: crate::train::bench::peak_memory_mib(),
    })
}
