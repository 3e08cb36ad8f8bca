//! `EvalJob`: one evaluation task (PVQ-40, ValueNet, ESS opinions or argument generation) for a
//! selection of target groups, into a resumable run folder (`run.json`, `items.jsonl`,
//! `results.json`; `docs/eval-format.md`). Cancelled, it keeps every finished item; the same job
//! run again asks only the rest.

use super::model::ModelChoice;
use super::progress::{CancelToken, JobEvent, ProgressSink};
use crate::data::groups::{read_groups, TargetGroup};
use crate::data::{
    ess::read_questions, pvq::read_pvq40, touche::read_arguments, valuenet::read_valuenet,
};
use crate::data::{DataDir, Split};
use crate::eval::runner::{self, Outcome};
use crate::eval::{argument_generation, ess, pvq, valuenet};
use crate::eval::{RunResult, Task, TaskKind};
use crate::groups::gold::read_gold;
use crate::groups::GroupSelection;
use crate::{Result, ResultExt};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalJob {
    pub task: TaskKind,
    /// The research data (None: `VALUELAB_DATA_DIR`, then the download cache).
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// Target groups table (None: the data directory's `vim/country_and_group.csv`).
    #[serde(default)]
    pub groups_file: Option<PathBuf>,
    #[serde(default)]
    pub groups: GroupSelection,
    pub model: ModelChoice,
    /// Ask only the first N items (spread over values where the task has them).
    #[serde(default)]
    pub limit_items: Option<usize>,
    /// ESS: the question table (None: the data directory's).
    #[serde(default)]
    pub questions: Option<PathBuf>,
    /// ESS: gold group means to compare with (and to draw few-shot examples from).
    #[serde(default)]
    pub gold: Option<PathBuf>,
    /// ESS: few-shot examples per question.
    #[serde(default)]
    pub shots: usize,
    /// The run folder.
    pub out: PathBuf,
}

/// What an evaluation produced: the result when it finished (None when cancelled), and how far
/// it got.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOutput {
    pub result: Option<Box<RunResult>>,
    pub done: usize,
    pub total: usize,
    pub out: PathBuf,
}

impl EvalJob {
    /// The groups table the job reads and the groups it selects from it.
    pub fn selected_groups(&self) -> Result<(PathBuf, Vec<TargetGroup>)> {
        let groups_file = DataDir::file_or(
            self.groups_file.as_deref(),
            self.data_dir.as_deref(),
            DataDir::groups_csv,
        )
        .context(|| "the tasks read the research data".to_string())?;
        let groups = self.groups.select(&read_groups(&groups_file)?)?;
        Ok((groups_file, groups))
    }

    pub fn run(&self, sink: &dyn ProgressSink, cancel: &CancelToken) -> Result<EvalOutput> {
        let data = || {
            DataDir::resolve(self.data_dir.as_deref())
                .context(|| "the tasks read the research data".to_string())
        };
        let file_or = |explicit: &Option<PathBuf>, default: fn(&DataDir) -> PathBuf| {
            DataDir::file_or(explicit.as_deref(), self.data_dir.as_deref(), default)
                .context(|| "the tasks read the research data".to_string())
        };
        let (groups_file, groups) = self.selected_groups()?;
        let mut task = match self.task {
            TaskKind::Pvq => pvq::task(&read_pvq40(&data()?.pvq40_items_tsv())?)?,
            TaskKind::ValueNet => valuenet::task(&read_valuenet(&data()?.valuenet_dir())?)?,
            TaskKind::Args => {
                argument_generation::task(&read_arguments(&data()?.split_csv(Split::Test))?)?
            }
            TaskKind::Ess => {
                let questions = file_or(&self.questions, DataDir::ess_questions_tsv)?;
                ess_task(
                    &questions,
                    self.gold.as_deref(),
                    self.shots,
                    self.model.seed,
                )?
            }
        };
        if let Some(n) = self.limit_items {
            task.limit_items(n);
        }
        let (gold, shots) = match self.task {
            TaskKind::Ess => (
                self.gold.as_ref().map(|p| p.display().to_string()),
                self.shots,
            ),
            _ => (None, 0),
        };
        let spec = self.model.run_spec(
            groups_file.display().to_string(),
            gold,
            shots,
            self.limit_items,
        );
        let mut answerer = self.model.load_answerer(&groups, sink)?;
        sink.event(&JobEvent::message(format!(
            "{} × {} groups × {} items, method {}, {} mode → {}",
            self.task,
            groups.len(),
            task.items.len(),
            spec.method_label(),
            spec.answer_mode,
            self.out.display()
        )));
        let outcome = runner::run(
            &self.out,
            &task,
            &groups,
            &spec,
            &mut answerer,
            cancel.flag(),
            &mut |p| sink.event(&JobEvent::Items(p.clone())),
        )?;
        let total = groups.len() * task.items.len();
        Ok(match outcome {
            Outcome::Finished(result) => EvalOutput {
                result: Some(Box::new(result)),
                done: total,
                total,
                out: self.out.clone(),
            },
            Outcome::Interrupted { done, total } => EvalOutput {
                result: None,
                done,
                total,
                out: self.out.clone(),
            },
        })
    }
}

/// The ESS task from a question table, with gold and few-shot examples where asked for.
pub(super) fn ess_task(
    questions: &Path,
    gold: Option<&Path>,
    shots: usize,
    seed: u64,
) -> Result<Task> {
    let questions = read_questions(questions)?;
    let gold_rows = gold.map(read_gold).transpose()?;
    let mut task = ess::task(&questions, gold_rows.as_deref())?;
    ess::FewShot::enable(&mut task, shots, seed)?;
    Ok(task)
}
