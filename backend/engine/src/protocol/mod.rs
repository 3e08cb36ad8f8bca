//! The conditioning protocol's evidence (issue 11): every method on profiles it never saw, with
//! the controls that tell profile signal from a model's usual answer. The runs themselves are
//! ordinary `eval` runs made by `jobs::ProtocolJob`; this module builds their profile tables
//! ([`profiles`]), scores them ([`evidence`]; ESS opinions per country in [`opinions`]) and
//! writes the report ([`report`], [`plots`]).

pub mod evidence;
pub mod opinions;
pub mod plots;
pub mod profiles;
pub mod report;

pub use evidence::{
    donated_answers, shuffled_mean_r, sign_check, task_evidence, SignCheck, TaskEvidence,
};
pub use opinions::{CountryBaseline, CountryGold, OpinionEvidence, Yardstick};
pub use report::{MethodEvidence, ProtocolReport, SubsetEvidence};
