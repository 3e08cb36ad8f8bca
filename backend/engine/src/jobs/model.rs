//! The model side of the jobs that ask a model questions (`eval`, `predict`): which model, which
//! method carries the values, how answers are read, and loading it all as an answerer.

use super::progress::{JobEvent, ProgressSink};
use crate::adapter::provenance::check_profile_conditioned;
use crate::adapter::resolve_adapters;
use crate::conditioning::ProfileConditioner;
use crate::data::groups::TargetGroup;
use crate::eval::model_answerer::ModelAnswerer;
use crate::eval::{AnswerMode, Method, RunSpec};
use crate::models;
use crate::{Error, Field, Result, ResultExt};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;

/// The embedded default model (installed by `scripts/install-model.sh`).
pub const DEFAULT_MODEL: &str = "smollm2";

/// Which model answers, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelChoice {
    /// How the values reach the model.
    pub method: Method,
    /// `smollm2`, a .gguf file, or a Hugging Face Llama directory.
    #[serde(default = "default_model")]
    pub model: String,
    /// VIM methods: an adapter folder (one group) or a folder of adapter folders named by group;
    /// `vim-cond`: its one adapter; `profile-offset`, `steer`: the conditioner folder.
    #[serde(default)]
    pub adapter: Option<PathBuf>,
    /// Run on the first CUDA GPU.
    #[serde(default)]
    pub cuda: bool,
    /// `expect` or `sample`; None: `expect`.
    #[serde(default)]
    pub answer: Option<AnswerMode>,
    /// Samples per item in sample mode.
    #[serde(default = "default_samples")]
    pub samples: usize,
    #[serde(default)]
    pub seed: u64,
    /// Items per model call (they share the group's persona cache).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// CPU threads for model work (None: the process's pool).
    #[serde(default)]
    pub threads: Option<usize>,
}

/// The model a job loads, on which device and with how many threads: the part of the
/// conditioning, protocol and training specs that says so (flattened into their JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRun {
    /// `smollm2`, a .gguf file, or a Hugging Face Llama directory.
    #[serde(default = "default_model")]
    pub model: String,
    /// Run on the first CUDA GPU.
    #[serde(default)]
    pub cuda: bool,
    /// CPU threads for model work (None: the process's pool).
    #[serde(default)]
    pub threads: Option<usize>,
}

impl ModelRun {
    pub fn load(&self) -> Result<models::LoadedModel> {
        let device = models::select_device(self.cuda)?;
        models::load_model(&self.model, &device)
            .context(|| format!("cannot load model '{}'", self.model))
    }
}

pub(super) fn default_model() -> String {
    DEFAULT_MODEL.to_string()
}
fn default_samples() -> usize {
    5
}
fn default_batch_size() -> usize {
    16
}

impl ModelChoice {
    /// How the runner asks (`run.json`'s settings).
    pub fn run_spec(
        &self,
        groups_file: String,
        gold: Option<String>,
        shots: usize,
        limit_items: Option<usize>,
    ) -> RunSpec {
        RunSpec {
            method: self.method,
            answer_mode: self.answer.unwrap_or_default(),
            samples: self.samples,
            seed: self.seed,
            batch_size: self.batch_size,
            shots,
            adapter: self.adapter.as_ref().map(|p| p.display().to_string()),
            groups_file,
            gold,
            limit_items,
        }
    }

    /// Loads the model (and finds each group's adapter for the VIM methods).
    pub fn load_answerer(
        &self,
        groups: &[TargetGroup],
        sink: &dyn ProgressSink,
    ) -> Result<ModelAnswerer> {
        let method = self.method;
        let adapters = match (&self.adapter, method.needs_adapter()) {
            (Some(dir), true) if method.conditions_on_profile() => {
                return self.load_conditioned_answerer(dir, sink);
            }
            // One adapter reads every group's profile from its prompt.
            (Some(dir), true) if method == Method::VimCond => {
                if !dir.join(crate::adapter::peft::CONFIG_FILE).is_file() {
                    return Err(Error::input(
                        Field::Adapter,
                        format!("{}: not an adapter folder (expected the output of `valuelab train --method vim-cond`)", dir.display()),
                    ));
                }
                if let Some(warning) = check_profile_conditioned(dir)? {
                    sink.event(&JobEvent::message(warning));
                }
                groups
                    .iter()
                    .map(|g| (g.name.clone(), dir.clone()))
                    .collect()
            }
            (Some(dir), true) => {
                let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
                resolve_adapters(dir, &names)?
            }
            (None, true) => return Err(Error::input(
                Field::Adapter,
                format!("method {method} injects values with a trained adapter: give its folder (the output of a training job)"),
            )),
            (Some(_), false) => return Err(Error::input(
                Field::Adapter,
                format!("an adapter is for the vim methods (vim, vim-ag, vim-qa, vim-cond) and the conditioners; method {method} puts the values in the prompt"),
            )),
            (None, false) => Default::default(),
        };
        self.load_answerer_with(adapters, sink)
    }

    /// Loads the model with the profile conditioner in `dir` (`profile-offset`, `steer`).
    pub fn load_conditioned_answerer(
        &self,
        dir: &std::path::Path,
        sink: &dyn ProgressSink,
    ) -> Result<ModelAnswerer> {
        let answerer = self.load_answerer_with(Default::default(), sink)?;
        let device = answerer.model().device().clone();
        let conditioner = ProfileConditioner::load(dir, &device)?;
        if conditioner.config.method.name() != self.method.name() {
            return Err(Error::input(
                Field::Adapter,
                format!(
                    "{} holds a {} conditioner, not one for method {}",
                    dir.display(),
                    conditioner.config.method.name(),
                    self.method
                ),
            ));
        }
        let llama = answerer.model().llama.config();
        let deepest = conditioner.config.layers.iter().copied().max().unwrap_or(0);
        if conditioner.config.hidden_size != llama.hidden_size || deepest >= llama.num_layers {
            return Err(Error::input(
                Field::Adapter,
                format!(
                    "{} was made for {} (width {}, layers {:?}); model '{}' has width {} and {} layers",
                    dir.display(),
                    conditioner.config.model,
                    conditioner.config.hidden_size,
                    conditioner.config.layers,
                    self.model,
                    llama.hidden_size,
                    llama.num_layers
                ),
            ));
        }
        Ok(answerer.with_conditioner(conditioner))
    }

    /// Loads the model with the adapters already found (group → adapter folder).
    pub fn load_answerer_with(
        &self,
        adapters: std::collections::HashMap<String, PathBuf>,
        sink: &dyn ProgressSink,
    ) -> Result<ModelAnswerer> {
        let started = Instant::now();
        let device = models::select_device(self.cuda)?;
        let answerer = ModelAnswerer::load(&self.model, &device, adapters)
            .context(|| format!("cannot load model '{}'", self.model))?;
        sink.event(&JobEvent::message(format!(
            "loaded {} in {:.1} s",
            self.model,
            started.elapsed().as_secs_f64()
        )));
        Ok(answerer)
    }
}
