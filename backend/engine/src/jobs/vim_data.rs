//! `VimDataJob`: a group's VIM training examples (prompt/answer pairs of the paper's Tables 16
//! and 17) as JSONL, for other tools or for inspection.

use super::progress::ProgressSink;
use crate::data::groups::{find_group, read_groups};
use crate::data::touche::{read_arguments, Argument, Split};
use crate::data::DataDir;
use crate::vim::{self, Rule, Task, TrainingMethod};
use crate::{Error, Field, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which arguments: one of the authors' splits, all of them, or a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgumentSource {
    Splits(Vec<Split>),
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VimDataJob {
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// Groups table (None: the data directory's).
    #[serde(default)]
    pub groups_file: Option<PathBuf>,
    pub group: String,
    pub arguments: ArgumentSource,
    pub method: TrainingMethod,
    pub rule: Rule,
    pub threshold: f64,
    pub seed: u64,
    /// The JSONL file.
    pub out: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VimDataOutput {
    pub group: String,
    pub method: TrainingMethod,
    pub rule: Rule,
    pub threshold: f64,
    pub seed: u64,
    pub examples: usize,
    pub arguments: usize,
    /// Where the arguments came from ("train split", a path).
    pub source: String,
    /// Argument-generation examples, and how many of them say "I would say".
    pub ag: usize,
    pub ag_say: usize,
    pub qa: usize,
    /// Arguments without a value label (no example).
    pub unlabelled: usize,
    pub out: PathBuf,
}

impl VimDataJob {
    pub fn run(&self, _sink: &dyn ProgressSink) -> Result<VimDataOutput> {
        if !self.threshold.is_finite() {
            return Err(Error::input(
                Field::Threshold,
                format!(
                    "the threshold must be a number on the 1..6 scale, got {}",
                    self.threshold
                ),
            ));
        }
        // The data directory is only needed for what the spec does not name.
        let data_dir = || DataDir::resolve(self.data_dir.as_deref());
        let groups_path = match &self.groups_file {
            Some(path) => path.clone(),
            None => data_dir()?.groups_csv(),
        };
        let groups = read_groups(&groups_path)?;
        let group = find_group(&groups, &self.group)?;

        let (arguments, source) = match &self.arguments {
            ArgumentSource::File(path) => (read_arguments(path)?, path.display().to_string()),
            ArgumentSource::Splits(splits) => {
                let dir = data_dir()?;
                let mut all: Vec<Argument> = Vec::new();
                for &split in splits {
                    all.extend(read_arguments(&dir.split_csv(split))?);
                }
                let names: Vec<&str> = splits.iter().map(|s| s.as_str()).collect();
                (all, format!("{} split", names.join("+")))
            }
        };
        let examples = vim::examples(
            self.method,
            &arguments,
            group,
            self.rule,
            self.threshold,
            self.seed,
        );
        vim::write_jsonl(&self.out, &examples)?;

        let ag = examples.iter().filter(|e| e.task == Task::Ag).count();
        let ag_say = examples
            .iter()
            .filter(|e| e.task == Task::Ag && e.answer.starts_with("I would say"))
            .count();
        Ok(VimDataOutput {
            group: group.name.clone(),
            method: self.method,
            rule: self.rule,
            threshold: self.threshold,
            seed: self.seed,
            examples: examples.len(),
            arguments: arguments.len(),
            source,
            ag,
            ag_say,
            qa: examples.len() - ag,
            unlabelled: vim::unlabelled_count(&arguments),
            out: self.out.clone(),
        })
    }
}
