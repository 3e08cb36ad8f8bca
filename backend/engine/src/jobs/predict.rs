//! `PredictJob`: each group's answer (0..1) to each ESS-style question, for groups and questions
//! that have no gold (`valuelab predict ess`), written as one TSV (`group`, `code`,
//! `prediction`) when every answer is in.

use super::eval::ess_task;
use super::model::ModelChoice;
use super::progress::{CancelToken, JobEvent, ProgressSink};
use crate::data::groups::read_groups;
use crate::eval::{ess, runner};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictJob {
    /// Groups table in the format of country_and_group.csv.
    pub groups_file: PathBuf,
    /// Question table in the format of ess_round6_questions.tsv.
    pub questions: PathBuf,
    pub model: ModelChoice,
    /// Gold answers for few-shot examples (needed with `shots` only).
    #[serde(default)]
    pub gold: Option<PathBuf>,
    #[serde(default)]
    pub shots: usize,
    /// Output TSV.
    pub out: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PredictOutput {
    /// Predictions written (0 when cancelled: nothing is written then).
    pub predictions: usize,
    pub groups: usize,
    pub questions: usize,
    /// Predictions with no readable sample (NA).
    pub unparsed: usize,
    pub cancelled: bool,
    pub out: PathBuf,
}

impl PredictJob {
    pub fn run(&self, sink: &dyn ProgressSink, cancel: &CancelToken) -> Result<PredictOutput> {
        let groups = read_groups(&self.groups_file)?;
        let task = ess_task(
            &self.questions,
            self.gold.as_deref(),
            self.shots,
            self.model.seed,
        )?;
        let spec = self.model.run_spec(
            self.groups_file.display().to_string(),
            self.gold.as_ref().map(|p| p.display().to_string()),
            self.shots,
            None,
        );
        let mut answerer = self.model.load_answerer(&groups, sink)?;
        let records = runner::predict(
            &task,
            &groups,
            &spec,
            &mut answerer,
            cancel.flag(),
            &mut |p| sink.event(&JobEvent::Items(p.clone())),
        )?;
        let mut output = PredictOutput {
            predictions: 0,
            groups: groups.len(),
            questions: task.items.len(),
            unparsed: 0,
            cancelled: records.is_none(),
            out: self.out.clone(),
        };
        if let Some(records) = records {
            ess::write_predictions(&self.out, &records)?;
            output.predictions = records.len();
            output.unparsed = records.iter().filter(|r| r.answer.is_none()).count();
        }
        Ok(output)
    }
}
