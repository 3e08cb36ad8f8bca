//! llama.cpp GGUF files → the f32, Hugging Face-named tensors `Llama::load` expects.
//!
//! Every tensor is dequantised to f32 (ENGINE-NOTES: base weights from GGUF are dequantised so
//! LoRA can train on them), renamed from llama.cpp's names to Hugging Face's, and the q/k
//! projections are un-permuted from llama.cpp's interleaved-RoPE row order back to the
//! Hugging Face "rotate_half" order (trap 6), so a PEFT adapter trained on the Hugging Face
//! weights lines up with ours.

use crate::models::llama::Config;
use crate::{Error, Result};
use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::Path;

/// A parsed GGUF file: its metadata and tensor directory, plus the open file to read tensors.
pub struct GgufFile {
    pub content: gguf_file::Content,
    reader: BufReader<File>,
}

impl GgufFile {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path)
            .map_err(|e| Error::file(path, None, format!("cannot open model file: {e}")))?;
        let mut reader = BufReader::new(file);
        let content = gguf_file::Content::read(&mut reader)
            .map_err(|e| Error::candle_file(path, "not a readable GGUF file", &e))?;
        Ok(GgufFile { content, reader })
    }

    fn metadata(&self, key: &str) -> Option<&gguf_file::Value> {
        self.content.metadata.get(key)
    }

    /// The architecture must be `llama`: other families have other tensors and layouts.
    pub fn check_architecture(&self, path: &Path) -> Result<()> {
        let arch = self
            .metadata("general.architecture")
            .and_then(|v| v.to_string().ok())
            .map(String::as_str)
            .unwrap_or("(none)");
        if arch != "llama" {
            return Err(Error::file(
                path,
                None,
                format!("model architecture '{arch}' is not supported (only 'llama'-family models load)"),
            ));
        }
        Ok(())
    }

    /// The model's `Config` from the `llama.*` metadata.
    pub fn config(&self, path: &Path) -> Result<Config> {
        let need = |key: &str| -> Result<&gguf_file::Value> {
            self.metadata(key)
                .ok_or_else(|| Error::file(path, None, format!("metadata '{key}' is missing")))
        };
        let usize_of = |key: &str| -> Result<usize> { Ok(need(key)?.to_u32()? as usize) };
        let hidden_size = usize_of("llama.embedding_length")?;
        let num_heads = usize_of("llama.attention.head_count")?;
        let num_kv_heads = match self.metadata("llama.attention.head_count_kv") {
            Some(v) => v.to_u32()? as usize,
            None => num_heads,
        };
        let embeddings = self
            .content
            .tensor_infos
            .get("token_embd.weight")
            .ok_or_else(|| Error::file(path, None, "tensor 'token_embd.weight' is missing"))?;
        // candle reports GGUF shapes in row-major (Hugging Face) order: (vocab, hidden).
        let vocab_size = embeddings.shape.dims()[0];
        let rope_theta = match self.metadata("llama.rope.freq_base") {
            Some(v) => v.to_f32()? as f64,
            None => 10_000.0,
        };
        if self.content.tensor_infos.contains_key("rope_freqs.weight") {
            // Llama 3.1 GGUFs store their long-context RoPE scaling as a tensor this loader does not read.
            return Err(Error::file(
                path,
                None,
                "this GGUF uses scaled RoPE frequencies (rope_freqs); load the model's Hugging Face directory instead",
            ));
        }
        if num_heads == 0
            || hidden_size % num_heads != 0
            || num_kv_heads == 0
            || num_heads % num_kv_heads != 0
        {
            return Err(Error::file(
                path,
                None,
                format!("inconsistent attention shape: hidden {hidden_size}, heads {num_heads}, kv heads {num_kv_heads}"),
            ));
        }
        Ok(Config {
            hidden_size,
            intermediate_size: usize_of("llama.feed_forward_length")?,
            num_layers: usize_of("llama.block_count")?,
            num_heads,
            num_kv_heads,
            head_dim: hidden_size / num_heads,
            vocab_size,
            rms_norm_eps: need("llama.attention.layer_norm_rms_epsilon")?.to_f32()? as f64,
            rope_theta,
            max_position_embeddings: usize_of("llama.context_length")?,
            tie_word_embeddings: !self.content.tensor_infos.contains_key("output.weight"),
            attention_bias: false,
            mlp_bias: false,
            rope_scaling: None,
        })
    }

    /// The Jinja chat template stored with the model, if any.
    pub fn chat_template(&self) -> Option<String> {
        self.metadata("tokenizer.chat_template")
            .and_then(|v| v.to_string().ok())
            .cloned()
    }

    /// Every tensor, dequantised to f32 on `device`, under its Hugging Face name, q/k un-permuted.
    pub fn hf_tensors(
        &mut self,
        cfg: &Config,
        path: &Path,
        device: &Device,
    ) -> Result<HashMap<String, Tensor>> {
        let names: Vec<String> = self.content.tensor_infos.keys().cloned().collect();
        let mut tensors = HashMap::with_capacity(names.len());
        for name in names {
            let Some(hf) = hf_name(&name) else {
                // Tensors Llama never reads (e.g. precomputed `rope_freqs`) are skipped.
                continue;
            };
            let qtensor = self
                .content
                .tensor(&mut self.reader, &name, &Device::Cpu)
                .map_err(|e| {
                    Error::candle_file(path, &format!("cannot read tensor '{name}'"), &e)
                })?;
            let mut tensor = qtensor
                .dequantize(&Device::Cpu)?
                .to_dtype(candle_core::DType::F32)?;
            if name.ends_with("attn_q.weight") {
                tensor = unpermute_rope_rows(&tensor, cfg.num_heads)?;
            } else if name.ends_with("attn_k.weight") {
                tensor = unpermute_rope_rows(&tensor, cfg.num_kv_heads)?;
            }
            tensors.insert(hf, tensor.to_device(device)?);
        }
        Ok(tensors)
    }
}

/// The Hugging Face name of a llama.cpp tensor, or `None` for tensors with no counterpart.
pub fn hf_name(gguf: &str) -> Option<String> {
    let fixed = match gguf {
        "token_embd.weight" => Some("model.embed_tokens.weight"),
        "output_norm.weight" => Some("model.norm.weight"),
        "output.weight" => Some("lm_head.weight"),
        _ => None,
    };
    if let Some(name) = fixed {
        return Some(name.to_string());
    }
    let rest = gguf.strip_prefix("blk.")?;
    let (layer, tail) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let module = match tail {
        "attn_q.weight" => "self_attn.q_proj.weight",
        "attn_k.weight" => "self_attn.k_proj.weight",
        "attn_v.weight" => "self_attn.v_proj.weight",
        "attn_output.weight" => "self_attn.o_proj.weight",
        "ffn_gate.weight" => "mlp.gate_proj.weight",
        "ffn_up.weight" => "mlp.up_proj.weight",
        "ffn_down.weight" => "mlp.down_proj.weight",
        "attn_norm.weight" => "input_layernorm.weight",
        "ffn_norm.weight" => "post_attention_layernorm.weight",
        _ => return None,
    };
    Some(format!("model.layers.{layer}.{module}"))
}

/// llama.cpp's `convert_hf_to_gguf.py` permutation of a q/k projection (rows = heads × head_dim):
/// `w.reshape(n_head, 2, head_dim / 2, in).swapaxes(1, 2)`, which interleaves the two halves
/// that "rotate_half" RoPE pairs. Kept for the round-trip test and for writing GGUF-layout weights.
pub fn permute_rope_rows(w: &Tensor, n_head: usize) -> Result<Tensor> {
    let (rows, cols) = w.dims2()?;
    let half = head_half(rows, n_head)?;
    Ok(w.reshape((n_head, 2, half, cols))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((rows, cols))?)
}

/// The inverse of [`permute_rope_rows`]: llama.cpp row order back to Hugging Face order.
pub fn unpermute_rope_rows(w: &Tensor, n_head: usize) -> Result<Tensor> {
    let (rows, cols) = w.dims2()?;
    let half = head_half(rows, n_head)?;
    Ok(w.reshape((n_head, half, 2, cols))?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((rows, cols))?)
}

fn head_half(rows: usize, n_head: usize) -> Result<usize> {
    if n_head == 0 || !rows.is_multiple_of(2 * n_head) {
        return Err(Error::invalid(format!(
            "a q/k projection with {rows} rows cannot split into {n_head} heads of even size"
        )));
    }
    Ok(rows / n_head / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_interleaves_the_rotate_half_pairs() {
        // One head of dim 4, one input column: HF rows r0 r1 r2 r3 pair (r0, r2) and (r1, r3)
        // under rotate_half; llama.cpp's interleaved layout puts each pair side by side.
        let w = Tensor::new(&[[0f32], [1.], [2.], [3.]], &Device::Cpu).unwrap();
        let p = permute_rope_rows(&w, 1).unwrap();
        assert_eq!(
            p.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            [0., 2., 1., 3.]
        );
    }

    #[test]
    fn unpermute_inverts_permute_for_several_heads() {
        let rows = 3 * 8;
        let w = Tensor::arange(0f32, (rows * 5) as f32, &Device::Cpu)
            .unwrap()
            .reshape((rows, 5))
            .unwrap();
        let p = permute_rope_rows(&w, 3).unwrap();
        assert_ne!(p.to_vec2::<f32>().unwrap(), w.to_vec2::<f32>().unwrap());
        let back = unpermute_rope_rows(&p, 3).unwrap();
        assert_eq!(back.to_vec2::<f32>().unwrap(), w.to_vec2::<f32>().unwrap());
    }

    #[test]
    fn odd_head_sizes_are_rejected() {
        let w = Tensor::zeros((6, 2), candle_core::DType::F32, &Device::Cpu).unwrap();
        assert!(unpermute_rope_rows(&w, 2).is_err());
    }

    #[test]
    fn gguf_names_map_to_hugging_face_names() {
        assert_eq!(
            hf_name("token_embd.weight").unwrap(),
            "model.embed_tokens.weight"
        );
        assert_eq!(
            hf_name("blk.12.attn_output.weight").unwrap(),
            "model.layers.12.self_attn.o_proj.weight"
        );
        assert_eq!(
            hf_name("blk.0.ffn_norm.weight").unwrap(),
            "model.layers.0.post_attention_layernorm.weight"
        );
        assert_eq!(hf_name("output.weight").unwrap(), "lm_head.weight");
        assert_eq!(hf_name("rope_freqs.weight"), None);
    }
}
