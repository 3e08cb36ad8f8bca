//! `PredictJob`: each group's answer (0..1) to each ESS-style question, for groups and questions
//! that have no gold (`valuelab predict ess`), written as one TSV (`group`, `code`,
//! `prediction`) when every answer is in.

use super::eval::ess_task;
use super::model::ModelChoice;
use super::progress::{CancelToken, JobEvent, ProgressSink};
use crate::data::ess::read_pvq21_key;
use crate::data::groups::{read_groups, TargetGroup};
use crate::data::DataDir;
use crate::eval::{ess, runner};
use crate::structure::read_ess_sample;
use crate::Result;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictJob {
    /// Groups table in the format of country_and_group.csv; with `respondents`, an ESS CSV of
    /// respondents (the 21 PVQ items), each answered as a group of one with their own profile.
    pub groups_file: PathBuf,
    #[serde(default)]
    pub respondents: bool,
    /// The research data, for the PVQ-21 key of `respondents` (None: `VALUELAB_DATA_DIR`).
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
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
    /// The groups to predict for: a groups table, or respondents with their own profiles.
    fn groups(&self) -> Result<Vec<TargetGroup>> {
        if !self.respondents {
            return read_groups(&self.groups_file);
        }
        let data = DataDir::resolve(self.data_dir.as_deref())?;
        let key = read_pvq21_key(&data.ess_pvq21_key_tsv())?;
        Ok(read_ess_sample(&self.groups_file, &key)?.respondent_groups())
    }

    pub fn run(&self, sink: &dyn ProgressSink, cancel: &CancelToken) -> Result<PredictOutput> {
        let groups = self.groups()?;
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
