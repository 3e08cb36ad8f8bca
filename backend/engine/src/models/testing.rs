//! Tiny models for tests (here and in `generate`, `train`, `eval`): a random Llama whose
//! vocabulary is the byte-level test tokenizer's, so prompts, generation and scoring run end
//! to end in milliseconds.

pub use super::tokenizer::testing::test_tokenizer;

use super::chat::ChatTemplate;
use super::llama::{Config, Llama};
use super::LoadedModel;
use crate::Result;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;

/// A (rows, columns) tensor of values uniform in [-1, 1), seeded.
pub fn rand_tensor(shape: (usize, usize), seed: u64) -> Tensor {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let values: Vec<f32> = (0..shape.0 * shape.1)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    Tensor::from_vec(values, shape, &Device::Cpu).expect("a tensor of that shape")
}

/// The largest magnitude in an f32 tensor: the scale tolerances are stated against.
pub fn max_abs(t: &Tensor) -> f32 {
    t.abs()
        .and_then(|a| a.max_all())
        .and_then(|m| m.to_scalar::<f32>())
        .expect("an f32 tensor")
}

/// The largest absolute elementwise difference of two f32 tensors of one shape (tests compare
/// two ways of computing the same thing with it).
pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .and_then(|d| d.abs())
        .and_then(|d| d.flatten_all())
        .and_then(|d| d.max(0))
        .and_then(|d| d.to_scalar::<f32>())
        .expect("two f32 tensors of the same shape")
}

/// `Config::tiny` (2 layers, hidden 32, 4 heads, 2 kv heads) over the test tokenizer.
pub fn tiny_config() -> Config {
    Config::tiny(test_tokenizer().vocab_size())
}

/// Random weights under Hugging Face names, seeded: the raw material for files in loader tests.
pub fn random_tensors(cfg: &Config, seed: u64, device: &Device) -> Result<HashMap<String, Tensor>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut tensors = HashMap::new();
    let uniform =
        |shape: (usize, usize), scale: f32, rng: &mut rand_chacha::ChaCha8Rng| -> Result<Tensor> {
            let values: Vec<f32> = (0..shape.0 * shape.1)
                .map(|_| rng.random_range(-scale..scale))
                .collect();
            Ok(Tensor::from_vec(values, shape, device)?)
        };
    let (h, i, hd) = (cfg.hidden_size, cfg.intermediate_size, cfg.head_dim);
    tensors.insert(
        "model.embed_tokens.weight".to_string(),
        uniform((cfg.vocab_size, h), 1.0, &mut rng)?,
    );
    if !cfg.tie_word_embeddings {
        tensors.insert(
            "lm_head.weight".to_string(),
            uniform((cfg.vocab_size, h), 2.0 / (h as f32).sqrt(), &mut rng)?,
        );
    }
    for l in 0..cfg.num_layers {
        let shapes = [
            ("self_attn.q_proj", cfg.num_heads * hd, h),
            ("self_attn.k_proj", cfg.num_kv_heads * hd, h),
            ("self_attn.v_proj", cfg.num_kv_heads * hd, h),
            ("self_attn.o_proj", h, cfg.num_heads * hd),
            ("mlp.gate_proj", i, h),
            ("mlp.up_proj", i, h),
            ("mlp.down_proj", h, i),
        ];
        for (name, rows, cols) in shapes {
            let w = uniform((rows, cols), 1.0 / (cols as f32).sqrt(), &mut rng)?;
            tensors.insert(format!("model.layers.{l}.{name}.weight"), w);
        }
        for norm in ["input_layernorm", "post_attention_layernorm"] {
            let w = (uniform((1, h), 0.2, &mut rng)?.squeeze(0)? + 1.0)?;
            tensors.insert(format!("model.layers.{l}.{norm}.weight"), w);
        }
    }
    tensors.insert(
        "model.norm.weight".to_string(),
        Tensor::ones(h, DType::F32, device)?,
    );
    Ok(tensors)
}

/// A random tiny Llama (CPU) with the test tokenizer; ChatML prompts when `chat` is set. Its
/// output layer is untied: tied random embeddings make the model repeat its input token, which
/// leaves generation tests nothing to observe.
pub fn tiny_model(chat: bool, seed: u64) -> Result<LoadedModel> {
    let cfg = Config {
        tie_word_embeddings: false,
        ..tiny_config()
    };
    let device = Device::Cpu;
    let tensors = random_tensors(&cfg, seed, &device)?;
    let llama = Llama::load(VarBuilder::from_tensors(tensors, DType::F32, &device), &cfg)?;
    let chat = chat.then(|| ChatTemplate::chatml(Some("You are a test.")));
    Ok(LoadedModel::new(llama, test_tokenizer(), chat, "tiny", &[]))
}

/// Writes a llama.cpp-style GGUF (f32 tensors under llama.cpp names, q/k permuted for
/// interleaved RoPE, the test tokenizer in `tokenizer.ggml.*`, a ChatML template) holding
/// `tensors` (Hugging Face names, as [`random_tensors`] makes them) for `cfg`.
pub fn write_tiny_gguf(
    path: &std::path::Path,
    cfg: &Config,
    tensors: &HashMap<String, Tensor>,
) -> Result<()> {
    use super::gguf::{hf_name, permute_rope_rows};
    use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
    use gguf_file::Value;

    let tok = test_tokenizer();
    let vocab = tok.vocab_size();
    let mut tokens = vec![String::new(); vocab];
    for id in 0..vocab as u32 {
        tokens[id as usize] = tok.token(id).unwrap_or_default();
    }
    let special: Vec<&str> = super::tokenizer::testing::TEST_SPECIAL.to_vec();
    let types: Vec<Value> = tokens
        .iter()
        .map(|t| Value::I32(if special.contains(&t.as_str()) { 3 } else { 1 }))
        .collect();
    let merges: Vec<Value> = super::tokenizer::testing::TEST_MERGES
        .iter()
        .map(|m| Value::String(m.to_string()))
        .collect();
    let strings = |v: &[String]| Value::Array(v.iter().map(|s| Value::String(s.clone())).collect());
    let u32v = |n: usize| Value::U32(n as u32);
    let template = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}";
    let metadata: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("llama".into())),
        ("llama.embedding_length", u32v(cfg.hidden_size)),
        ("llama.feed_forward_length", u32v(cfg.intermediate_size)),
        ("llama.block_count", u32v(cfg.num_layers)),
        ("llama.attention.head_count", u32v(cfg.num_heads)),
        ("llama.attention.head_count_kv", u32v(cfg.num_kv_heads)),
        (
            "llama.attention.layer_norm_rms_epsilon",
            Value::F32(cfg.rms_norm_eps as f32),
        ),
        ("llama.rope.freq_base", Value::F32(cfg.rope_theta as f32)),
        ("llama.context_length", u32v(cfg.max_position_embeddings)),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.tokens", strings(&tokens)),
        ("tokenizer.ggml.token_type", Value::Array(types)),
        ("tokenizer.ggml.merges", Value::Array(merges)),
        ("tokenizer.ggml.bos_token_id", Value::U32(1)),
        ("tokenizer.ggml.eos_token_id", Value::U32(2)),
        ("tokenizer.ggml.add_bos_token", Value::Bool(false)),
        ("tokenizer.chat_template", Value::String(template.into())),
    ];
    // llama.cpp names: invert `hf_name` over the names a GGUF can hold.
    let mut gguf_names = vec![
        "token_embd.weight".to_string(),
        "output_norm.weight".to_string(),
        "output.weight".to_string(),
    ];
    for l in 0..cfg.num_layers {
        for m in [
            "attn_q",
            "attn_k",
            "attn_v",
            "attn_output",
            "ffn_gate",
            "ffn_up",
            "ffn_down",
            "attn_norm",
            "ffn_norm",
        ] {
            gguf_names.push(format!("blk.{l}.{m}.weight"));
        }
    }
    let mut qtensors = Vec::new();
    for name in gguf_names {
        let Some(tensor) = hf_name(&name).and_then(|hf| tensors.get(&hf)) else {
            continue;
        };
        let tensor = if name.ends_with("attn_q.weight") {
            permute_rope_rows(tensor, cfg.num_heads)?
        } else if name.ends_with("attn_k.weight") {
            permute_rope_rows(tensor, cfg.num_kv_heads)?
        } else {
            tensor.clone()
        };
        qtensors.push((name, QTensor::quantize(&tensor, GgmlDType::F32)?));
    }
    let mut file = std::fs::File::create(path)?;
    let md: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let ts: Vec<(&str, &QTensor)> = qtensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(&mut file, &md, &ts)?;
    Ok(())
}

/// A tiny random model as a GGUF file at `path`, for tests outside the engine (CLI, server).
pub fn write_random_tiny_gguf(path: &std::path::Path, seed: u64) -> Result<()> {
    write_random_tiny_gguf_with_context(path, seed, tiny_config().max_position_embeddings)
}

/// The same with room for `context` positions: a profile prompt takes about 1,000 tokens of
/// the byte-level test tokenizer.
pub fn write_random_tiny_gguf_with_context(
    path: &std::path::Path,
    seed: u64,
    context: usize,
) -> Result<()> {
    let mut cfg = tiny_config();
    cfg.max_position_embeddings = context;
    write_tiny_gguf(path, &cfg, &random_tensors(&cfg, seed, &Device::Cpu)?)
}

/// Writes a Hugging Face model directory (config.json, tokenizer.json, model.safetensors)
/// holding `tensors` for `cfg`, with the test tokenizer.
pub fn write_tiny_hf_dir(
    dir: &std::path::Path,
    cfg: &Config,
    tensors: &HashMap<String, Tensor>,
) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let config = serde_json::json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads,
        "num_key_value_heads": cfg.num_kv_heads,
        "vocab_size": cfg.vocab_size,
        "rms_norm_eps": cfg.rms_norm_eps,
        "rope_theta": cfg.rope_theta,
        "max_position_embeddings": cfg.max_position_embeddings,
        "tie_word_embeddings": cfg.tie_word_embeddings,
        "bos_token_id": 1,
        "eos_token_id": 2,
    });
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string_pretty(&config)?,
    )?;
    let tokenizer_config = serde_json::json!({
        "chat_template": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}",
        "eos_token": "<|im_end|>",
    });
    std::fs::write(
        dir.join("tokenizer_config.json"),
        serde_json::to_string_pretty(&tokenizer_config)?,
    )?;
    test_tokenizer()
        .inner()
        .save(dir.join("tokenizer.json"), false)
        .map_err(|e| crate::Error::invalid(format!("cannot save the test tokenizer: {e}")))?;
    candle_core::safetensors::save(tensors, dir.join("model.safetensors"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{load_model, Input};

    fn reference_logits(cfg: &Config, tensors: &HashMap<String, Tensor>, tokens: &[u32]) -> Tensor {
        let llama = Llama::load(
            VarBuilder::from_tensors(tensors.clone(), DType::F32, &Device::Cpu),
            cfg,
        )
        .unwrap();
        llama
            .forward_last(&Input::from_tokens(tokens, 0, &Device::Cpu).unwrap(), None)
            .unwrap()
    }

    #[test]
    fn a_gguf_file_loads_into_the_hugging_face_model_it_was_written_from() {
        for tied in [true, false] {
            let cfg = Config {
                tie_word_embeddings: tied,
                ..tiny_config()
            };
            let tensors = random_tensors(&cfg, 9, &Device::Cpu).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("tiny.gguf");
            write_tiny_gguf(&path, &cfg, &tensors).unwrap();
            let model = load_model(path.to_str().unwrap(), &Device::Cpu).unwrap();
            assert_eq!(model.config().tie_word_embeddings, tied);
            assert_eq!(
                model.chat.as_ref().map(|c| c.format.clone()),
                Some(crate::models::chat::ChatFormat::ChatMl)
            );
            let tokens = model
                .tokenizer
                .encode("<|im_start|>user\nThe 3 answers.<|im_end|>", true)
                .unwrap();
            assert_eq!(
                tokens,
                test_tokenizer()
                    .encode("<|im_start|>user\nThe 3 answers.<|im_end|>", true)
                    .unwrap()
            );
            let ours = model
                .llama
                .forward_last(&Input::from_tokens(&tokens, 0, &Device::Cpu).unwrap(), None)
                .unwrap();
            assert!(max_abs_diff(&ours, &reference_logits(&cfg, &tensors, &tokens)) < 1e-5);
            assert!(model.eos_ids.contains(&2));
        }
    }

    #[test]
    fn a_hugging_face_directory_loads_with_its_tokenizer_and_template() {
        let cfg = tiny_config();
        let tensors = random_tensors(&cfg, 10, &Device::Cpu).unwrap();
        let dir = tempfile::tempdir().unwrap();
        write_tiny_hf_dir(dir.path(), &cfg, &tensors).unwrap();
        let model = load_model(dir.path().to_str().unwrap(), &Device::Cpu).unwrap();
        assert!(model.chat.is_some());
        let tokens = model.tokenizer.encode("Hello there, 42!", true).unwrap();
        assert_eq!(
            model.tokenizer.decode(&tokens, false).unwrap(),
            "Hello there, 42!"
        );
        let ours = model
            .llama
            .forward_last(&Input::from_tokens(&tokens, 0, &Device::Cpu).unwrap(), None)
            .unwrap();
        assert!(max_abs_diff(&ours, &reference_logits(&cfg, &tensors, &tokens)) < 1e-5);
        assert_eq!(model.eos_ids, [0, 2]);
    }

    #[test]
    fn tiny_model_shapes_follow_the_config() {
        let model = tiny_model(false, 1).unwrap();
        let tokens = model.tokenizer.encode("shape check", false).unwrap();
        let input = Input::from_tokens(&tokens, 0, model.device()).unwrap();
        let hidden = model
            .llama
            .forward_hidden(&input, None, crate::models::Mode::Inference)
            .unwrap();
        assert_eq!(hidden.dims(), [1, tokens.len(), model.config().hidden_size]);
        assert_eq!(
            model.llama.logits(&hidden).unwrap().dims(),
            [1, tokens.len(), model.tokenizer.vocab_size()]
        );
    }
}
