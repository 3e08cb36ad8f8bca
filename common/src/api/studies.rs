//! Pairwise annotation studies: creation (admin), the annotator's loop (`next` → `judgements`),
//! and the reports (admin, member). Method names never reach an annotator: the types an
//! annotator receives ([`NextItem`], [`StudyIntro`], [`Progress`]) have no field for them.

use crate::agreement::{Agreement, AnnotatorAgreement};
use crate::pairwise::{PositionBias, Shown, WinTieLose};
use crate::values::Value;
use serde::{Deserialize, Serialize};

/// Annotators per item when the request names none (the paper's three, §5.2).
pub const DEFAULT_ANNOTATORS_PER_ITEM: u32 = 3;
/// Minutes an item stays leased to the annotator it was handed to.
pub const DEFAULT_LEASE_MINUTES: u32 = 10;
/// Share of attention checks an annotator must pass to count, when the request names none.
pub const DEFAULT_ATTENTION_MIN_PASS: f64 = 0.8;

/// `POST /api/studies` (admin).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateStudyRequest {
    pub name: String,
    /// An `eval args` run folder the server can read: method A.
    pub run_a: String,
    /// The run of method B, on the same target groups and conclusions.
    pub run_b: String,
    #[serde(default)]
    pub annotators_per_item: Option<u32>,
    /// Most items one annotator judges; `None`: as many as the study has.
    #[serde(default)]
    pub item_quota: Option<u32>,
    /// Markdown shown before the first item and one click away during the study.
    #[serde(default)]
    pub guidelines: String,
    /// One hidden attention check after every this many items; `None` or 0: none.
    #[serde(default)]
    pub attention_every: Option<u32>,
    /// Share of attention checks an annotator must pass for their judgements to count.
    #[serde(default)]
    pub attention_min_pass: Option<f64>,
    #[serde(default)]
    pub lease_minutes: Option<u32>,
    /// Where an anonymous participant goes when done (e.g. Prolific's completion URL).
    #[serde(default)]
    pub completion_url: Option<String>,
    /// Seed of the left/right draws and the attention checks (default: from the name).
    #[serde(default)]
    pub seed: Option<u64>,
}

/// A pair the study left out, and why (a side with no stance, an empty or repeated premise...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DroppedPair {
    pub group: String,
    pub item: String,
    pub reason: String,
}

/// `201` answer of `POST /api/studies`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateStudyResponse {
    pub id: i32,
    /// Pairs to judge (attention checks not counted).
    pub items: usize,
    pub attention_checks: usize,
    pub dropped: Vec<DroppedPair>,
    /// The study's public link (web app path), for anonymous participants.
    pub public_url: String,
}

/// A study as admins and members see it (`GET /api/studies`, `GET /api/studies/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudySummary {
    pub id: i32,
    pub name: String,
    pub run_a: String,
    pub run_b: String,
    pub method_a: String,
    pub method_b: String,
    pub annotators_per_item: u32,
    pub item_quota: Option<u32>,
    pub guidelines: String,
    pub items: usize,
    /// Items with all their judgements.
    pub complete_items: usize,
    pub judgements: usize,
    pub annotators: usize,
    pub attention_every: u32,
    pub attention_min_pass: f64,
    pub public_url: String,
    pub completion_code: String,
    pub dropped: Vec<DroppedPair>,
    pub created_at: i64,
}

/// What an annotator sees before the first item (`GET /api/studies/{id}/intro`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyIntro {
    pub id: i32,
    pub name: String,
    pub guidelines: String,
    /// Whether this annotator has given consent (`POST /api/studies/{id}/consent`).
    pub consented: bool,
    pub progress: Progress,
}

/// How far one annotator is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub judged: usize,
    /// The most this annotator can judge: the quota, or every item of the study.
    pub total: usize,
    pub done: bool,
    /// Shown once done (anonymous participants enter it where they were recruited).
    pub completion_code: Option<String>,
    pub completion_url: Option<String>,
}

/// One side of a pair as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownArgument {
    /// "in favor of" / "against".
    pub stance: String,
    pub premise: String,
}

/// One value of the target group's profile (1..6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileScore {
    pub value: Value,
    pub name: String,
    pub score: f64,
}

/// `GET /api/studies/{id}/next` (annotator): the pair leased to the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextItem {
    pub item_id: i32,
    pub conclusion: String,
    pub left: ShownArgument,
    pub right: ShownArgument,
    pub profile: Vec<ProfileScore>,
    /// When the lease ends (ms since the epoch); after it the item may go to someone else.
    pub lease_expires_ms: i64,
    pub progress: Progress,
}

/// `POST /api/studies/{id}/judgements` (annotator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgementRequest {
    pub item_id: i32,
    pub choice: Shown,
    /// Seconds the page was in use for this item, idle time left out (measured by the page);
    /// the server caps it at the time since the item was handed out.
    #[serde(default)]
    pub active_seconds: Option<f64>,
}

/// `201` answer of a judgement, and of `DELETE /api/studies/{id}/judgements/last` (undo).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgementResponse {
    pub id: i32,
    pub item_id: i32,
    pub progress: Progress,
}

/// Agreement among the judgements of one target group's items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupAgreement {
    pub group: String,
    pub agreement: Agreement,
}

/// One annotator in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnotatorReport {
    pub annotator: String,
    pub judgements: usize,
    pub with_majority: AnnotatorAgreement,
    pub attention_checks: usize,
    pub attention_passed: usize,
    /// Below the study's threshold: this annotator's judgements are left out of the figures.
    pub excluded: bool,
    pub median_seconds: Option<f64>,
}

/// An item in the disagreement view, lowest agreement first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemDisagreement {
    pub item_id: i32,
    pub group: String,
    pub conclusion: String,
    pub a: usize,
    pub b: usize,
    pub tie: usize,
    pub agreement: Option<f64>,
}

/// `GET /api/studies/{id}/report` (admin, member): everything the report page draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyReport {
    pub study: StudySummary,
    pub agreement: Agreement,
    pub per_group: Vec<GroupAgreement>,
    pub annotators: Vec<AnnotatorReport>,
    /// Method A against method B over the counted judgements; `None` before the first.
    pub win_tie_lose: Option<WinTieLose>,
    pub position_bias: PositionBias,
    pub disagreements: Vec<ItemDisagreement>,
}

/// One method pair over every study that compared the two (`GET /api/method-pairs`): their
/// counted judgements pooled, as the paper's Figure 3 has one bar per pair. A study of the pair
/// the other way round counts with A and B swapped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodPairReport {
    pub method_a: String,
    pub method_b: String,
    pub studies: Vec<i32>,
    /// Items with at least one counted judgement.
    pub items: usize,
    pub judgements: usize,
    pub agreement: Agreement,
    pub win_tie_lose: Option<WinTieLose>,
}
