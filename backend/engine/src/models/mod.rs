//! Llama-family models: the decoder (`llama`), where a `--model` argument points (`source`),
//! the GGUF and Hugging Face loaders (`gguf`, `hf`), tokenizers (`tokenizer`) and prompt
//! formats (`chat`). [`load_model`] puts them together into a [`LoadedModel`], which
//! `generate` (sampling, option scoring), `train` and `eval` use.

pub mod chat;
pub mod gguf;
pub mod hf;
pub mod llama;
pub mod residual;
pub mod source;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod tokenizer;

pub use chat::{ChatTemplate, PromptParts};
pub use llama::{Cache, Config, Input, Llama, Mode};
pub use residual::{Readout, ResidualOffsets};
pub use source::{resolve, ModelSource};
pub use tokenizer::TextTokenizer;

use crate::{Error, Result};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde::Serialize;

/// End-of-text markers that stop generation when the vocabulary has them, besides the eos ids
/// the model's files declare: SmolLM2 declares `<|im_end|>` but ends plain text with `<|endoftext|>`.
const END_MARKERS: [&str; 2] = ["<|endoftext|>", "<|end_of_text|>"];

/// Environment variable choosing the weights that decoding steps multiply by:
/// [`InferenceWeights`] `q8_0` (the default) or `f32`.
pub const INFERENCE_WEIGHTS_ENV: &str = "VALUELAB_INFERENCE_WEIGHTS";

/// Which weights the decoding steps of generation (one new token per row, after the prompt)
/// multiply by on the CPU. Prompts, option scoring and training always use f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum InferenceWeights {
    /// A Q8_0 copy of every linear layer besides the f32 one (about 1.06 bytes per weight).
    #[default]
    #[serde(rename = "q8_0")]
    Q8_0,
    /// f32 only: the exact dequantised weights, the slower generation.
    #[serde(rename = "f32")]
    F32,
}

impl std::str::FromStr for InferenceWeights {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        [Self::Q8_0, Self::F32]
            .into_iter()
            .find(|w| w.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "'{s}' is not a weight type: use q8_0 (the default) or f32"
                ))
            })
    }
}

impl InferenceWeights {
    /// From [`INFERENCE_WEIGHTS_ENV`], the default when unset.
    pub fn from_env() -> Result<Self> {
        match std::env::var(INFERENCE_WEIGHTS_ENV) {
            Err(_) => Ok(Self::default()),
            Ok(v) if v.is_empty() => Ok(Self::default()),
            Ok(v) => v
                .parse()
                .map_err(|e: Error| Error::invalid(format!("{INFERENCE_WEIGHTS_ENV}: {e}"))),
        }
    }

    /// The name the environment variable, `--inference-weights` and the bench JSON use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Q8_0 => "q8_0",
            Self::F32 => "f32",
        }
    }
}

/// A model ready for inference: weights, tokenizer, prompt format and stop ids.
pub struct LoadedModel {
    pub llama: Llama,
    pub tokenizer: TextTokenizer,
    /// None: plain prompts (no chat template recognised).
    pub chat: Option<ChatTemplate>,
    /// Display name: the `--model` argument as given.
    pub name: String,
    /// Token ids that end a generation.
    pub eos_ids: Vec<u32>,
    pub source: Option<ModelSource>,
}

impl LoadedModel {
    /// Assembles a model from parts (tests, or weights built elsewhere); eos ids are the
    /// tokenizer's, the chat format's end of turn and [`END_MARKERS`].
    pub fn new(
        llama: Llama,
        tokenizer: TextTokenizer,
        chat: Option<ChatTemplate>,
        name: &str,
        extra_eos: &[u32],
    ) -> Self {
        let mut eos_ids: Vec<u32> = extra_eos.to_vec();
        eos_ids.extend(tokenizer.eos_id());
        if let Some(chat) = &chat {
            eos_ids.extend(tokenizer.token_id(chat.end_of_turn()));
        }
        eos_ids.extend(END_MARKERS.iter().filter_map(|m| tokenizer.token_id(m)));
        eos_ids.sort_unstable();
        eos_ids.dedup();
        LoadedModel {
            llama,
            tokenizer,
            chat,
            name: name.to_string(),
            eos_ids,
            source: None,
        }
    }

    pub fn device(&self) -> &Device {
        self.llama.device()
    }

    pub fn config(&self) -> &Config {
        self.llama.config()
    }

    pub fn is_eos(&self, id: u32) -> bool {
        self.eos_ids.contains(&id)
    }

    /// The prompt for `task` as answered by `persona`, split so the prefix (up to the end of the
    /// persona) can be encoded once per persona. See `chat` for the formats.
    pub fn prompt_parts(&self, persona: &str, task: &str) -> PromptParts {
        match &self.chat {
            Some(chat) => chat.prompt_parts(persona, task),
            None => chat::plain_prompt_parts(persona, task),
        }
    }

    /// How an answer option is written after this model's prompts (leading space or not).
    pub fn answer_surface(&self, option: &str) -> String {
        chat::answer_surface(self.chat.as_ref(), option)
    }
}

/// The device a command asked for: CPU, or the first CUDA GPU in builds with the `cuda` feature.
pub fn select_device(cuda: bool) -> Result<Device> {
    if !cuda {
        return Ok(Device::Cpu);
    }
    #[cfg(feature = "cuda")]
    {
        Ok(Device::new_cuda(0)?)
    }
    #[cfg(not(feature = "cuda"))]
    {
        Err(Error::invalid(
            "this build has no CUDA support: rebuild with `--features cuda` on a machine with the CUDA toolkit",
        ))
    }
}

/// Loads `spec` (`smollm2`, a `.gguf` path or a Hugging Face Llama directory) onto `device`,
/// with the inference weights [`INFERENCE_WEIGHTS_ENV`] asks for.
pub fn load_model(spec: &str, device: &Device) -> Result<LoadedModel> {
    load_model_with(spec, device, InferenceWeights::from_env()?)
}

/// [`load_model`] with the inference weights given.
pub fn load_model_with(
    spec: &str,
    device: &Device,
    weights: InferenceWeights,
) -> Result<LoadedModel> {
    let source = source::resolve(spec)?;
    let mut model = match &source {
        ModelSource::Gguf(path) => {
            let mut file = gguf::GgufFile::open(path)?;
            file.check_architecture(path)?;
            let config = file.config(path)?;
            let tokenizer = TextTokenizer::from_gguf(&file.content, path)?;
            check_vocab(&config, &tokenizer, path)?;
            let chat = file.chat_template().and_then(|t| ChatTemplate::detect(&t));
            let tensors = file.hf_tensors(&config, path, device)?;
            let llama = Llama::load(
                VarBuilder::from_tensors(tensors, DType::F32, device),
                &config,
            )
            .map_err(|e| Error::file(path, None, format!("cannot build the model: {e}")))?;
            LoadedModel::new(llama, tokenizer, chat, spec, &[])
        }
        ModelSource::HfDir(dir) => {
            let parts = hf::load_dir(dir, device)?;
            check_vocab(&parts.config, &parts.tokenizer, dir)?;
            let chat = parts
                .chat_template
                .as_deref()
                .and_then(ChatTemplate::detect);
            let llama = Llama::load(parts.vb, &parts.config)
                .map_err(|e| Error::file(dir, None, format!("cannot build the model: {e}")))?;
            LoadedModel::new(llama, parts.tokenizer, chat, spec, &parts.eos_ids)
        }
    };
    model.source = Some(source);
    model
        .llama
        .set_quantized_inference(weights == InferenceWeights::Q8_0);
    Ok(model)
}

/// Token ids beyond the embedding table would fail deep inside a forward pass; say so up front.
fn check_vocab(config: &Config, tokenizer: &TextTokenizer, path: &std::path::Path) -> Result<()> {
    if tokenizer.vocab_size() > config.vocab_size {
        return Err(Error::file(
            path,
            None,
            format!(
                "the tokenizer has {} tokens but the model only {} embeddings",
                tokenizer.vocab_size(),
                config.vocab_size
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_weights_parse_by_name_and_bad_names_list_the_choices() {
        assert_eq!(
            "q8_0".parse::<InferenceWeights>().unwrap(),
            InferenceWeights::Q8_0
        );
        assert_eq!(
            "F32".parse::<InferenceWeights>().unwrap(),
            InferenceWeights::F32
        );
        let err = "q4".parse::<InferenceWeights>().unwrap_err().to_string();
        assert!(
            err.contains("'q4'") && err.contains("q8_0") && err.contains("f32"),
            "{err}"
        );
    }
}
