//! `VimDataJob`: a group's VIM training examples (prompt/answer pairs of the paper's Tables 16
//! and 17) as JSONL, for other tools or for inspection.

use super::progress::ProgressSink;
use crate::data::groups::{find_group, read_groups, TargetGroup};
use crate::data::touche::{read_arguments, Argument, Split};
use crate::data::DataDir;
use crate::vim::{self, Rule, Task, TrainingExample, TrainingMethod};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which arguments: one of the authors' splits, all of them, or a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgumentSource {
    Splits(Vec<Split>),
    File(PathBuf),
}

/// Which VIM examples, of which target group: the part of a spec that the jobs building
/// examples share (this one, and training). Flattened into their JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VimExamples {
    /// The research data (None: `VALUELAB_DATA_DIR`, then the download cache).
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// Groups table (None: the data directory's).
    #[serde(default)]
    pub groups_file: Option<PathBuf>,
    /// The target group.
    pub group: String,
    /// Argument generation, question answering, or both.
    pub method: TrainingMethod,
    /// How argument generation combines the group's scores on an argument's values.
    pub rule: Rule,
    /// Threshold γ on the 1..6 scale for argument generation's "I would say".
    pub threshold: f64,
    /// Seed of question answering's stochastic rounding and of the VIM interleave (training
    /// uses it for everything it draws).
    pub seed: u64,
}

impl VimExamples {
    pub fn check(&self) -> Result<()> {
        vim::check_threshold(self.threshold)
    }

    pub fn data_dir(&self) -> Result<DataDir> {
        DataDir::resolve(self.data_dir.as_deref())
    }

    /// The target group, and the groups file it came from.
    pub fn target_group(&self) -> Result<(TargetGroup, PathBuf)> {
        let path = DataDir::file_or(
            self.groups_file.as_deref(),
            self.data_dir.as_deref(),
            DataDir::groups_csv,
        )?;
        let groups = read_groups(&path)?;
        Ok((find_group(&groups, &self.group)?.clone(), path))
    }

    /// The group's examples from `arguments`.
    pub fn build(&self, group: &TargetGroup, arguments: &[Argument]) -> Vec<TrainingExample> {
        vim::examples(
            self.method,
            arguments,
            group,
            self.rule,
            self.threshold,
            self.seed,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VimDataJob {
    #[serde(flatten)]
    pub examples: VimExamples,
    pub arguments: ArgumentSource,
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
        let spec = &self.examples;
        spec.check()?;
        let (group, _) = spec.target_group()?;
        let (arguments, source) = match &self.arguments {
            ArgumentSource::File(path) => (read_arguments(path)?, path.display().to_string()),
            ArgumentSource::Splits(splits) => {
                let dir = spec.data_dir()?;
                let mut all: Vec<Argument> = Vec::new();
                for &split in splits {
                    all.extend(read_arguments(&dir.split_csv(split))?);
                }
                let names: Vec<&str> = splits.iter().map(|s| s.as_str()).collect();
                (all, format!("{} split", names.join("+")))
            }
        };
        let examples = spec.build(&group, &arguments);
        vim::write_jsonl(&self.out, &examples)?;

        let ag = examples.iter().filter(|e| e.task == Task::Ag).count();
        let ag_say = examples
            .iter()
            .filter(|e| e.task == Task::Ag && e.answer.starts_with("I would say"))
            .count();
        Ok(VimDataOutput {
            group: group.name.clone(),
            method: spec.method,
            rule: spec.rule,
            threshold: spec.threshold,
            seed: spec.seed,
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
