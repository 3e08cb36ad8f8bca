//! A Llama-family decoder with Hugging Face semantics (checkpoint names, "rotate-half" RoPE),
//! written for valuelab's two workloads rather than taken from candle-transformers:
//! - scoring and generation need logits at chosen positions, batches of left-padded prompts
//!   and a KV cache that can be forked (a persona prefix encoded once, reused per item);
//! - LoRA training needs differentiable ops throughout (candle's fast rms-norm, rope and
//!   softmax kernels have no backward: ENGINE-NOTES trap 1, so `fused` has its own, with
//!   backward passes) and frozen linears that skip weight gradients (trap 2).
//!
//! Weights come from a `VarBuilder` with HF names; the GGUF loader dequantises to f32 and
//! un-permutes q/k so that adapters line up with Hugging Face checkpoints.

use crate::lora::linear::{DropoutRng, LoraWeights};
use crate::lora::{FrozenLinear, LoraConfig};
use crate::models::residual::ResidualOffsets;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use std::collections::HashMap;
use std::sync::Mutex;

mod block;
mod cache;
mod fused;
mod prefix_softmax;

use block::{Block, RmsNorm, Rotary, StepContext, ATTENTION_MODULES, MLP_MODULES};
mod config;

pub use cache::{Cache, Input};
pub use config::{Config, LlamaConfig, RopeScaling};

/// Inference uses candle's fused kernels; training differentiable ops (`fused`'s on the CPU)
/// and LoRA dropout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Inference,
    Training,
}

#[derive(Debug)]
pub struct Llama {
    cfg: Config,
    embed_tokens: Tensor,
    blocks: Vec<Block>,
    norm: RmsNorm,
    lm_head: FrozenLinear,
    device: Device,
    dropout_rng: Mutex<DropoutRng>,
    /// Added to the residual stream after chosen blocks (profile conditioning); empty: none.
    offsets: ResidualOffsets,
}

/// PEFT's tensor name of a module's adapter factor (`factor` is "lora_A" or "lora_B").
pub fn peft_tensor_name(layer: usize, module: &str, factor: &str) -> String {
    let group = if MLP_MODULES.contains(&module) {
        "mlp"
    } else {
        "self_attn"
    };
    format!("base_model.model.model.layers.{layer}.{group}.{module}.{factor}.weight")
}

fn module_index(module: &str) -> Option<usize> {
    ATTENTION_MODULES
        .iter()
        .chain(MLP_MODULES.iter())
        .position(|m| *m == module)
}

impl Llama {
    pub fn load(vb: VarBuilder, cfg: &Config) -> Result<Self> {
        let device = vb.device().clone();
        let embed_tokens = vb
            .pp("model.embed_tokens")
            .get((cfg.vocab_size, cfg.hidden_size), "weight")?
            .detach();
        let blocks = (0..cfg.num_layers)
            .map(|i| Block::load(vb.pp(format!("model.layers.{i}")), cfg))
            .collect::<Result<Vec<_>>>()?;
        let norm = RmsNorm::load(vb.pp("model.norm"), cfg.hidden_size, cfg.rms_norm_eps)?;
        let lm_head = if cfg.tie_word_embeddings {
            FrozenLinear::new(embed_tokens.clone(), None)?
        } else {
            FrozenLinear::new(
                vb.pp("lm_head")
                    .get((cfg.vocab_size, cfg.hidden_size), "weight")?,
                None,
            )?
        };
        Ok(Self {
            cfg: cfg.clone(),
            embed_tokens,
            blocks,
            norm,
            lm_head,
            device,
            dropout_rng: Mutex::new(DropoutRng::new(0)),
            offsets: ResidualOffsets::default(),
        })
    }

    /// Adds `offsets` to the residual stream at every position of every later forward pass
    /// (caches built from now on include them); [`ResidualOffsets::default`] removes them.
    pub fn set_residual_offsets(&mut self, offsets: ResidualOffsets) -> Result<()> {
        offsets.check(self.cfg.num_layers, self.cfg.hidden_size)?;
        self.offsets = offsets;
        Ok(())
    }

    pub fn residual_offsets(&self) -> &ResidualOffsets {
        &self.offsets
    }

    /// Lets [`Self::decode_step`] multiply every frozen linear layer (and the output layer) by
    /// a quantised copy of its weight ([`crate::lora::quantized`]), made on its first use, or
    /// with `false` drops the copies. Only on the CPU: other devices keep f32.
    pub fn set_quantized_inference(&mut self, on: bool) {
        for block in &mut self.blocks {
            for linear in &mut block.linears {
                linear.base_mut().set_quantized(on);
            }
        }
        self.lm_head.set_quantized(on);
    }

    /// Makes the quantised copies now rather than in the first decoding step (a benchmark
    /// counts them in the load time).
    pub fn quantize_now(&self) -> Result<()> {
        for linear in self.frozen_linears() {
            linear.quantized_now()?;
        }
        Ok(())
    }

    fn frozen_linears(&self) -> impl Iterator<Item = &FrozenLinear> {
        self.blocks
            .iter()
            .flat_map(|b| b.linears.iter().map(|l| l.base()))
            .chain(std::iter::once(&self.lm_head))
    }

    /// Bytes held by the quantised copies made so far (0: none made, or f32 only).
    pub fn quantized_bytes(&self) -> usize {
        self.frozen_linears()
            .filter_map(|l| l.quantized())
            .map(|q| q.size_in_bytes())
            .sum()
    }

    /// Every frozen weight of the model, for tests that check no gradient reaches them.
    #[cfg(test)]
    pub(crate) fn frozen_weights(&self) -> Vec<&Tensor> {
        let mut weights = vec![&self.embed_tokens, &self.norm.weight, self.lm_head.weight()];
        for block in &self.blocks {
            weights.push(&block.input_layernorm.weight);
            weights.push(&block.post_attention_layernorm.weight);
            weights.extend(block.linears.iter().map(|l| l.base().weight()));
        }
        weights
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Reseeds LoRA dropout (the trainer reseeds per step so a resumed run repeats itself).
    pub fn set_dropout_seed(&self, seed: u64) {
        if let Ok(mut rng) = self.dropout_rng.lock() {
            *rng = DropoutRng::new(seed);
        }
    }

    pub fn new_cache(&self) -> Cache {
        Cache::new(self.cfg.num_layers)
    }

    /// Additive attention mask (batch, 1, time, past + time): a query sees earlier real tokens
    /// and always itself (so padded rows stay finite); None when nothing needs masking.
    fn attention_mask(
        &self,
        input: &Input,
        t: usize,
        past_valid: &[Vec<bool>],
    ) -> Result<Option<Tensor>> {
        let past = past_valid.first().map_or(0, Vec::len);
        if input.valid.is_none() && past_valid.iter().flatten().all(|&v| v) && t == 1 {
            return Ok(None);
        }
        let b = input.positions.len();
        let total = past + t;
        let rows = if input.valid.is_none() && past_valid.iter().flatten().all(|&v| v) {
            1
        } else {
            b
        };
        let mut mask = Vec::with_capacity(rows * t * total);
        for row in 0..rows {
            for i in 0..t {
                for j in 0..total {
                    let real = if j < past {
                        past_valid.get(row).is_none_or(|r| r[j])
                    } else {
                        input.valid.as_ref().is_none_or(|v| v[row][j - past])
                    };
                    let visible = j == past + i || (j < past + i && real);
                    mask.push(if visible { 0.0f32 } else { f32::NEG_INFINITY });
                }
            }
        }
        Ok(Some(Tensor::from_vec(
            mask,
            (rows, 1, t, total),
            &self.device,
        )?))
    }

    /// Final-norm hidden states (batch, time, hidden); appends this step to `cache` when given.
    /// Multiplies by the f32 weights.
    pub fn forward_hidden(
        &self,
        input: &Input,
        cache: Option<&mut Cache>,
        mode: Mode,
    ) -> Result<Tensor> {
        self.hidden_states(input, cache, mode, false)
    }

    fn hidden_states(
        &self,
        input: &Input,
        cache: Option<&mut Cache>,
        mode: Mode,
        quantized: bool,
    ) -> Result<Tensor> {
        let (b, t) = input.ids.dims2()?;
        if input.positions.len() != b || input.positions.iter().any(|p| p.len() != t) {
            return Err(Error::invalid(
                "input positions do not match the token batch",
            ));
        }
        let empty = Vec::new();
        let past_valid = cache.as_ref().map_or(&empty, |c| &c.valid);
        if !past_valid.is_empty() && past_valid.len() != b {
            return Err(Error::invalid(format!(
                "cache holds {} rows but the input has {b} (use Cache::share_batch)",
                past_valid.len()
            )));
        }
        let mask = self.attention_mask(input, t, past_valid)?;
        let rotary = Rotary::new(&self.cfg, &input.positions, &self.device)?;
        let shared_visible = match &cache {
            Some(cache) => cache.shared_prefixes_visible()?,
            None => true,
        };
        let ctx = StepContext {
            rotary: &rotary,
            mask: mask.as_ref(),
            mode,
            quantized,
            shared_visible,
        };
        let x = self.run_blocks(input, cache, &ctx, self.blocks.len(), None)?;
        self.offsets.read_out(self.norm.forward(&x, mode)?)
    }

    /// The residual stream after each block 0..=`last`, before any later block or the final
    /// norm: (batch, time, hidden) each. Steering vectors are read from it.
    pub fn residual_stream(&self, input: &Input, last: usize) -> Result<Vec<Tensor>> {
        if last >= self.blocks.len() {
            return Err(Error::invalid(format!(
                "layer {last} does not exist: the model has {} layers (0..{})",
                self.blocks.len(),
                self.blocks.len() - 1
            )));
        }
        let (_, t) = input.ids.dims2()?;
        let mask = self.attention_mask(input, t, &[])?;
        let rotary = Rotary::new(&self.cfg, &input.positions, &self.device)?;
        let ctx = StepContext {
            rotary: &rotary,
            mask: mask.as_ref(),
            mode: Mode::Inference,
            quantized: false,
            shared_visible: true,
        };
        let mut stream = Vec::with_capacity(last + 1);
        self.run_blocks(input, None, &ctx, last + 1, Some(&mut stream))?;
        Ok(stream)
    }

    /// Embeds `input` and runs the first `count` blocks, adding the residual offsets after
    /// each block that has one; appends this step to `cache` when given, and each block's
    /// output to `stream`.
    fn run_blocks(
        &self,
        input: &Input,
        mut cache: Option<&mut Cache>,
        ctx: &StepContext,
        count: usize,
        mut stream: Option<&mut Vec<Tensor>>,
    ) -> Result<Tensor> {
        let (b, t) = input.ids.dims2()?;
        let mut x = self
            .embed_tokens
            .index_select(&input.ids.flatten_all()?, 0)?
            .reshape((b, t, self.cfg.hidden_size))?;
        for (i, block) in self.blocks.iter().take(count).enumerate() {
            let slot = cache.as_deref_mut().map(|c| &mut c.kv[i]);
            x = block.forward(&x, &self.cfg, ctx, slot, &self.dropout_rng)?;
            x = self.offsets.add_after(i, x)?;
            if let Some(stream) = stream.as_deref_mut() {
                stream.push(x.clone());
            }
        }
        if let Some(cache) = cache {
            let new_valid = input
                .valid
                .clone()
                .unwrap_or_else(|| vec![vec![true; t]; b]);
            if cache.valid.is_empty() {
                cache.valid = new_valid;
            } else {
                for (row, new) in cache.valid.iter_mut().zip(new_valid) {
                    row.extend(new);
                }
            }
        }
        Ok(x)
    }

    /// Logits (…, vocab) for hidden states (…, hidden). Select the positions you need first:
    /// the output layer is the largest matmul of a small model.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        Ok(self.lm_head.forward(hidden)?)
    }

    /// Logits at the last position of every row: (batch, vocab).
    pub fn forward_last(&self, input: &Input, cache: Option<&mut Cache>) -> Result<Tensor> {
        let hidden = self.forward_hidden(input, cache, Mode::Inference)?;
        self.logits(&last_position(&hidden)?)
    }

    /// A decoding step of generation: [`Self::forward_last`] multiplied by the quantised copies
    /// of the weights where [`Self::set_quantized_inference`] made them (the f32 weights
    /// otherwise). Its logits differ from the f32 ones by the Q8_0 rounding (tested in
    /// `llama::tests`); scoring and prompts never take this path.
    pub fn decode_step(&self, input: &Input, cache: &mut Cache) -> Result<Tensor> {
        let hidden = self.hidden_states(input, Some(cache), Mode::Inference, true)?;
        Ok(self.lm_head.forward_quantized(&last_position(&hidden)?)?)
    }

    fn lora_targets<'a>(&self, cfg: &'a LoraConfig) -> Result<Vec<(usize, &'a str, usize)>> {
        cfg.validate()?;
        let mut targets = Vec::new();
        for layer in 0..self.cfg.num_layers {
            for module in &cfg.target_modules {
                let index = module_index(module)
                    .ok_or_else(|| Error::invalid(format!("unknown target module '{module}'")))?;
                targets.push((layer, module.as_str(), index));
            }
        }
        Ok(targets)
    }

    /// Adds fresh trainable adapters (A seeded kaiming-uniform, B zero) registered in `varmap`
    /// under PEFT's tensor names.
    pub fn attach_lora(&mut self, cfg: &LoraConfig, varmap: &VarMap, seed: u64) -> Result<()> {
        let targets = self.lora_targets(cfg)?;
        let mut vars = varmap
            .data()
            .lock()
            .map_err(|_| Error::invalid("varmap lock poisoned"))?;
        for (n, (layer, module, index)) in targets.into_iter().enumerate() {
            let linear = &mut self.blocks[layer].linears[index];
            let (a, b) = linear.init_lora_factors(cfg, seed.wrapping_add(n as u64))?;
            let a = Var::from_tensor(&a)?;
            let b = Var::from_tensor(&b)?;
            linear.set_lora(LoraWeights {
                a: a.as_tensor().clone(),
                b: b.as_tensor().clone(),
                scale: cfg.scale(),
                dropout: cfg.lora_dropout,
            })?;
            vars.insert(peft_tensor_name(layer, module, "lora_A"), a);
            vars.insert(peft_tensor_name(layer, module, "lora_B"), b);
        }
        Ok(())
    }

    /// Installs adapter factors read from a PEFT adapter (inference: no dropout, no gradients).
    pub fn load_lora(&mut self, cfg: &LoraConfig, tensors: &HashMap<String, Tensor>) -> Result<()> {
        let targets = self.lora_targets(cfg)?;
        let expected: Vec<String> = targets
            .iter()
            .flat_map(|(l, m, _)| {
                [
                    peft_tensor_name(*l, m, "lora_A"),
                    peft_tensor_name(*l, m, "lora_B"),
                ]
            })
            .collect();
        if let Some(extra) = tensors.keys().find(|k| !expected.contains(k)) {
            return Err(Error::invalid(format!(
                "adapter tensor '{extra}' does not belong to the target modules {:?} of a {}-layer model",
                cfg.target_modules, self.cfg.num_layers
            )));
        }
        for (layer, module, index) in targets {
            let get = |factor: &str| {
                let name = peft_tensor_name(layer, module, factor);
                tensors
                    .get(&name)
                    .ok_or_else(|| Error::invalid(format!("adapter is missing tensor '{name}'")))
                    .and_then(|t| Ok(t.to_device(&self.device)?.to_dtype(DType::F32)?.detach()))
            };
            let (a, b) = (get("lora_A")?, get("lora_B")?);
            self.blocks[layer].linears[index].set_lora(LoraWeights {
                a,
                b,
                scale: cfg.scale(),
                dropout: 0.0,
            })?;
        }
        Ok(())
    }

    /// The current adapter factors under PEFT names, for saving.
    pub fn lora_tensors(&self) -> Vec<(String, Tensor)> {
        let modules: Vec<&str> = ATTENTION_MODULES
            .iter()
            .chain(MLP_MODULES.iter())
            .copied()
            .collect();
        let mut out = Vec::new();
        for (layer, block) in self.blocks.iter().enumerate() {
            for (module, linear) in modules.iter().zip(&block.linears) {
                if let Some(lora) = linear.lora() {
                    out.push((peft_tensor_name(layer, module, "lora_A"), lora.a.clone()));
                    out.push((peft_tensor_name(layer, module, "lora_B"), lora.b.clone()));
                }
            }
        }
        out
    }

    /// Folds every adapter into its base weight.
    pub fn merge_lora(&mut self) -> Result<()> {
        for block in &mut self.blocks {
            for linear in &mut block.linears {
                linear.merge()?;
            }
        }
        Ok(())
    }
}

/// Hidden states (batch, time, hidden) at each row's last position: (batch, hidden).
fn last_position(hidden: &Tensor) -> Result<Tensor> {
    let t = hidden.dim(1)?;
    Ok(hidden.narrow(1, t - 1, 1)?.squeeze(1)?)
}

/// A randomly initialised model of any configuration, for tests and benchmarks.
pub fn random_model(cfg: &Config, seed: u64, device: &Device) -> Result<Llama> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut tensors = HashMap::new();
    let mut uniform = |shape: Vec<usize>, scale: f32| -> Result<Tensor> {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|_| rng.random_range(-scale..scale)).collect();
        Ok(Tensor::from_vec(values, shape, device)?)
    };
    let (h, i, hd) = (cfg.hidden_size, cfg.intermediate_size, cfg.head_dim);
    tensors.insert(
        "model.embed_tokens.weight".to_string(),
        uniform(vec![cfg.vocab_size, h], 1.0)?,
    );
    if !cfg.tie_word_embeddings {
        tensors.insert(
            "lm_head.weight".to_string(),
            uniform(vec![cfg.vocab_size, h], 0.5 / (h as f32).sqrt())?,
        );
    }
    for l in 0..cfg.num_layers {
        let p = format!("model.layers.{l}");
        let shapes = [
            ("self_attn.q_proj", cfg.num_heads * hd, h),
            ("self_attn.k_proj", cfg.num_kv_heads * hd, h),
            ("self_attn.v_proj", cfg.num_kv_heads * hd, h),
            ("self_attn.o_proj", h, cfg.num_heads * hd),
            ("mlp.gate_proj", i, h),
            ("mlp.up_proj", i, h),
            ("mlp.down_proj", h, i),
        ];
        for (name, out_dim, in_dim) in shapes {
            tensors.insert(
                format!("{p}.{name}.weight"),
                uniform(vec![out_dim, in_dim], 1.0 / (in_dim as f32).sqrt())?,
            );
        }
        for norm in ["input_layernorm", "post_attention_layernorm"] {
            tensors.insert(
                format!("{p}.{norm}.weight"),
                Tensor::ones(h, DType::F32, device)?,
            );
        }
    }
    tensors.insert(
        "model.norm.weight".into(),
        Tensor::ones(h, DType::F32, device)?,
    );
    Llama::load(VarBuilder::from_tensors(tensors, DType::F32, device), cfg)
}

#[cfg(test)]
mod tests;
