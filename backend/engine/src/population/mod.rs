//! Population simulation (Yehudai, Rozen & Gera, "Teaching Values to Machines"): personas that
//! carry values (a dominant value, a whole profile, or none), populations built from them by a
//! strategy, the questionnaires they answer, and how the result compares with people. The job
//! that runs it is `jobs::simulate`; the value-structure analysis is `structure`.

pub mod adapters;
pub mod instruments;
pub mod persona;
pub mod prosocial;
pub mod relations;
pub mod respondents;
pub mod strategy;
pub mod summary;

pub use instruments::{Instrument, InstrumentKind, ALL_INSTRUMENTS};
pub use persona::{dominant_prompt, persona_text, target_profile, typical_profiles};
pub use relations::{representativeness, value_behaviour, RelationTable, Representativeness};
pub use respondents::{respondents, Answers, Respondent};
pub use strategy::{allocate, PersonaTarget, Strategy, ALL_STRATEGIES};
pub use summary::{read_summary, SimulationSummary};
