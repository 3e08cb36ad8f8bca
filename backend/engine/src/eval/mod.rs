//! The evaluation tasks of the paper (§5–6) and the loop that runs them. A target group's values
//! reach the model through a `methods::Method` (none, a persona prompt, or a VIM adapter); the
//! tasks (`pvq`, `valuenet`, `ess`, `argument_generation`) build items with the prompts of Tables 18–21; an
//! `answerer::Answerer` (the model, `model_answerer`) answers them in an `answer_mode::AnswerMode`;
//! `runner` asks, saves every answer as it comes (resumable), and turns the answers into the
//! `RunResult` that `report` renders. Run folder format: `docs/eval-format.md`.

pub mod answer_mode;
pub mod answerer;
pub mod argument_generation;
pub mod argument_quality;
pub mod ess;
pub mod methods;
pub mod model_answerer;
pub mod pvq;
pub mod report;
pub mod result;
pub mod run_result;
pub mod runner;
pub mod task;
pub mod valuenet;

#[cfg(test)]
mod testing;

pub use answer_mode::AnswerMode;
pub use answerer::{Answerer, ChoiceItem, GenerationConfig};
pub use methods::{persona, Method, MethodLabel};
pub use result::{ItemRecord, RunInfo};
pub use run_result::{GroupResult, RunResult};
pub use runner::{Outcome, Progress, RunSpec};
pub use task::{Task, TaskKind};
