//! More Touché arguments for the value probe than the readout's own (`--probe-arguments N`):
//! of each, only the text the probe reads (its premise, or its QA and AG prompts) runs through
//! the model, to the relevance layer, with no answer state. An answer state costs about 0.4 s
//! an item for SmolLM2-135M on two cores, a premise to layer 22 about 0.15 s, and the probe
//! names values better the more arguments it is fit on (a one-off program, `docs/results.md`:
//! on 3,300 premises instead of 900, Touché's held-out top-1 0.67 → 0.75 and PVQ-40 items' own
//! value from 2.6 to 1.9 values ranked above it), while the readout's direction needs few.
//!
//! The states are saved beside the answer states, tagged with the model and the arguments, so
//! training again with other settings skips the model.

use super::examples::ExampleSet;
use super::readout::means_name;
use super::relevance::{text_means_with_progress, text_of, RelevanceText};
use crate::models::LoadedModel;
use crate::vim::Task;
use crate::Result;
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

pub const PROBE_TENSORS: &str = "probe_texts.safetensors";
pub const PROBE_TAG: &str = "probe_texts.json";

#[derive(Debug, Serialize, Deserialize)]
struct ProbeTextsTag {
    model: String,
    arguments: Vec<usize>,
    /// Which (text, layer) states the tensors file holds.
    read: Vec<(RelevanceText, usize)>,
}

/// The probe's further texts: their token-averaged states (rows, hidden) and, for each row,
/// the argument (an index into `ExampleSet::arguments`) it comes from: one row per premise,
/// or two per argument (its QA and its AG prompt).
pub struct ProbeTexts {
    pub means: Tensor,
    pub arguments: Vec<usize>,
}

/// The texts of `arguments` that a probe reading `read.0` reads, and each one's argument.
fn texts_of(set: &ExampleSet, arguments: &[usize], read: RelevanceText) -> Result<ProbeTextRows> {
    let tasks: &[Task] = match read {
        RelevanceText::Prompt => &[Task::Qa, Task::Ag],
        // The QA and AG items of an argument share its premise: read it once.
        RelevanceText::Subject => &[Task::Qa],
    };
    let mut rows = ProbeTextRows::default();
    for &argument in arguments {
        for &task in tasks {
            let item = super::examples::choice_item(&set.arguments[argument], task);
            let text = text_of(&item.prompt, item.subject.as_deref(), read)?;
            rows.texts.push(text.to_string());
            rows.arguments.push(argument);
        }
    }
    Ok(rows)
}

#[derive(Default)]
struct ProbeTextRows {
    texts: Vec<String>,
    arguments: Vec<usize>,
}

/// The tensors saved in `dir` for `model_name` and `arguments`, with the states they hold;
/// nothing when there are none or they are of other arguments.
fn load_saved(
    dir: &Path,
    model_name: &str,
    arguments: &[usize],
    model: &LoadedModel,
) -> (Vec<(RelevanceText, usize)>, HashMap<String, Tensor>) {
    let tag = std::fs::read_to_string(dir.join(PROBE_TAG))
        .ok()
        .and_then(|text| serde_json::from_str::<ProbeTextsTag>(&text).ok())
        .filter(|tag| tag.model == model_name && tag.arguments == arguments);
    let tensors = tag
        .as_ref()
        .and_then(|_| candle_core::safetensors::load(dir.join(PROBE_TENSORS), model.device()).ok());
    match (tag, tensors) {
        (Some(tag), Some(tensors)) => (tag.read, tensors),
        _ => (Vec::new(), HashMap::new()),
    }
}

/// The states after layer `read.1` of the texts `read.0` of `arguments`: loaded from `dir`
/// when saved there for the same model and arguments, else computed (calling
/// `progress(done, total)`) and saved.
pub fn probe_texts(
    model: &LoadedModel,
    model_name: &str,
    set: &ExampleSet,
    arguments: &[usize],
    read: (RelevanceText, usize),
    dir: Option<&Path>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ProbeTexts> {
    let rows = texts_of(set, arguments, read.0)?;
    let (mut saved_read, mut saved) = match dir {
        Some(dir) => load_saved(dir, model_name, arguments, model),
        None => (Vec::new(), HashMap::new()),
    };
    let name = means_name(read.0, read.1);
    if let Some(means) = saved
        .get(&name)
        .filter(|m| m.dim(0).ok() == Some(rows.texts.len()))
    {
        progress(rows.texts.len(), rows.texts.len());
        return Ok(ProbeTexts {
            means: means.clone(),
            arguments: rows.arguments,
        });
    }
    let means = text_means_with_progress(model, &rows.texts, read.1, progress)?;
    if let Some(dir) = dir {
        saved.insert(name, means.clone());
        saved_read.retain(|&r| r != read);
        saved_read.push(read);
        candle_core::safetensors::save(&saved, dir.join(PROBE_TENSORS))?;
        let tag = ProbeTextsTag {
            model: model_name.to_string(),
            arguments: arguments.to_vec(),
            read: saved_read,
        };
        crate::output::write_json(&dir.join(PROBE_TAG), &tag)?;
    }
    Ok(ProbeTexts {
        means,
        arguments: rows.arguments,
    })
}
