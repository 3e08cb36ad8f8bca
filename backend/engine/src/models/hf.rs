//! Hugging Face Llama-family directories: `config.json`, `tokenizer.json`, one or more
//! `*.safetensors` (sharded through `model.safetensors.index.json`), and optionally
//! `tokenizer_config.json` (chat template, special tokens) and `generation_config.json` (eos ids).

use crate::models::llama::{Config, LlamaConfig};
use crate::models::tokenizer::TextTokenizer;
use crate::{Error, Result};
use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Architectures whose checkpoints use Llama's tensor names and blocks.
const LLAMA_ARCHITECTURES: [&str; 1] = ["LlamaForCausalLM"];

/// What a Hugging Face directory provides before the model is built.
pub struct HfModel {
    pub config: Config,
    pub vb: VarBuilder<'static>,
    pub tokenizer: TextTokenizer,
    pub chat_template: Option<String>,
    pub eos_ids: Vec<u32>,
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::file(path, None, format!("cannot read: {e}")))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::file(path, Some(e.line()), format!("not valid JSON: {e}")))
}

fn read_optional_json(path: &Path) -> Result<Option<Value>> {
    if path.is_file() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}

/// Token ids from a JSON field that holds an id or a list of ids (`eos_token_id`).
fn ids(value: Option<&Value>) -> Vec<u32> {
    match value {
        Some(Value::Number(n)) => n.as_u64().map(|n| vec![n as u32]).unwrap_or_default(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_u64().map(|n| n as u32))
            .collect(),
        _ => Vec::new(),
    }
}

/// A special token named in tokenizer_config.json, written as a string or `{"content": ...}`.
fn token_text(value: Option<&Value>) -> Option<&str> {
    match value? {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("content")?.as_str(),
        _ => None,
    }
}

/// The template in tokenizer_config.json: a string, or a list of named templates ("default").
fn chat_template(config: &Value) -> Option<String> {
    match config.get("chat_template")? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => items
            .iter()
            .find(|t| t.get("name").and_then(Value::as_str) == Some("default"))
            .or_else(|| items.first())
            .and_then(|t| t.get("template")?.as_str().map(str::to_string)),
        _ => None,
    }
}

/// The safetensors files of a checkpoint: those the index names, else every `*.safetensors`.
fn weight_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let index = dir.join("model.safetensors.index.json");
    let files: Vec<PathBuf> = if index.is_file() {
        let json = read_json(&index)?;
        let map = json
            .get("weight_map")
            .and_then(Value::as_object)
            .ok_or_else(|| Error::file(&index, None, "has no 'weight_map' object"))?;
        let names: BTreeSet<&str> = map.values().filter_map(Value::as_str).collect();
        names.into_iter().map(|n| dir.join(n)).collect()
    } else {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
            .collect();
        files.sort();
        files
    };
    if files.is_empty() {
        return Err(Error::file(
            dir,
            None,
            "no *.safetensors weights in this model directory",
        ));
    }
    if let Some(missing) = files.iter().find(|f| !f.is_file()) {
        return Err(Error::file(
            missing,
            None,
            "weight file named by model.safetensors.index.json is missing",
        ));
    }
    Ok(files)
}

/// Reads a Hugging Face Llama directory; weights are memory-mapped and converted to f32 lazily.
pub fn load_dir(dir: &Path, device: &Device) -> Result<HfModel> {
    let config_path = dir.join("config.json");
    if !config_path.is_file() {
        return Err(Error::file(
            &config_path,
            None,
            "missing: a Hugging Face model directory needs config.json",
        ));
    }
    let raw = read_json(&config_path)?;
    let architectures: Vec<&str> = raw
        .get("architectures")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let model_type = raw.get("model_type").and_then(Value::as_str).unwrap_or("");
    let is_llama = architectures
        .iter()
        .any(|a| LLAMA_ARCHITECTURES.contains(a))
        || (architectures.is_empty() && model_type == "llama");
    if !is_llama {
        return Err(Error::file(
            &config_path,
            None,
            format!(
                "architecture {architectures:?} (model_type '{model_type}') is not supported: only Llama-family models \
                 (LlamaForCausalLM) load"
            ),
        ));
    }
    let llama_config: LlamaConfig = serde_json::from_value(raw.clone())
        .map_err(|e| Error::file(&config_path, None, format!("not a Llama config: {e}")))?;
    let config = llama_config.into_config()?;

    let tokenizer_path = dir.join("tokenizer.json");
    if !tokenizer_path.is_file() {
        return Err(Error::file(
            &tokenizer_path,
            None,
            "missing: the model directory needs tokenizer.json",
        ));
    }
    let tokenizer_config = read_optional_json(&dir.join("tokenizer_config.json"))?;
    let generation_config = read_optional_json(&dir.join("generation_config.json"))?;
    let tokenizer = TextTokenizer::from_file(&tokenizer_path, None, None, None)?;
    let special = |key: &str| {
        tokenizer_config
            .as_ref()
            .and_then(|c| token_text(c.get(key)))
            .and_then(|t| tokenizer.token_id(t))
    };
    let bos_id = ids(raw.get("bos_token_id"))
        .first()
        .copied()
        .or_else(|| special("bos_token"));
    let mut eos_ids = ids(generation_config
        .as_ref()
        .and_then(|g| g.get("eos_token_id")));
    eos_ids.extend(ids(raw.get("eos_token_id")));
    eos_ids.extend(special("eos_token"));
    let pad_id = special("pad_token").or_else(|| ids(raw.get("pad_token_id")).first().copied());
    let tokenizer = TextTokenizer::new(
        tokenizer.inner().clone(),
        bos_id,
        eos_ids.first().copied(),
        pad_id,
    );
    let chat_template = tokenizer_config.as_ref().and_then(chat_template);

    let files = weight_files(dir)?;
    // SAFETY: the files are memory-mapped read-only; valuelab never writes model files, and a
    // user replacing them while a command runs is outside what any mmap-based loader can guard.
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&files, DType::F32, device)? };
    Ok(HfModel {
        config,
        vb,
        tokenizer,
        chat_template,
        eos_ids,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_llama_configs_are_rejected_with_the_architecture_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}"#,
        )
        .unwrap();
        let err = load_dir(dir.path(), &Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("GPT2LMHeadModel") && err.contains("Llama"),
            "{err}"
        );
    }

    #[test]
    fn missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = load_dir(dir.path(), &Device::Cpu)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("config.json"), "{err}");
    }

    #[test]
    fn chat_templates_come_as_strings_or_named_lists() {
        let single: Value = serde_json::json!({"chat_template": "T"});
        assert_eq!(chat_template(&single).as_deref(), Some("T"));
        let listed: Value = serde_json::json!({"chat_template": [{"name": "tool_use", "template": "X"}, {"name": "default", "template": "D"}]});
        assert_eq!(chat_template(&listed).as_deref(), Some("D"));
    }

    #[test]
    fn eos_ids_come_as_numbers_or_lists() {
        assert_eq!(ids(Some(&serde_json::json!(2))), [2]);
        assert_eq!(
            ids(Some(&serde_json::json!([128001, 128009]))),
            [128001, 128009]
        );
        assert!(ids(None).is_empty());
    }
}
