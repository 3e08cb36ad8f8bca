//! Rows of the tables in `schema.rs`: `X` is what a query returns, `NewX` what an insert takes.

use super::schema::*;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i32,
    pub username: String,
    pub password_hash: Option<String>,
    pub role: String,
    pub study_id: Option<i32>,
    pub consented_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: Option<&'a str>,
    pub role: &'a str,
    pub study_id: Option<i32>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub token_hash: String,
    pub user_id: i32,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = studies)]
pub struct Study {
    pub id: i32,
    pub name: String,
    pub run_a: String,
    pub run_b: String,
    pub method_a: String,
    pub method_b: String,
    pub annotators_per_item: i32,
    pub item_quota: Option<i32>,
    pub guidelines: String,
    pub public_token: String,
    pub completion_code: String,
    pub completion_url: Option<String>,
    pub attention_every: i32,
    pub attention_min_pass: f64,
    pub lease_seconds: i32,
    pub seed: i64,
    pub dropped: String,
    pub created_by: i32,
    pub created_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = studies)]
pub struct NewStudy {
    pub name: String,
    pub run_a: String,
    pub run_b: String,
    pub method_a: String,
    pub method_b: String,
    pub annotators_per_item: i32,
    pub item_quota: Option<i32>,
    pub guidelines: String,
    pub public_token: String,
    pub completion_code: String,
    pub completion_url: Option<String>,
    pub attention_every: i32,
    pub attention_min_pass: f64,
    pub lease_seconds: i32,
    pub seed: i64,
    pub dropped: String,
    pub created_by: i32,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = study_items)]
pub struct StudyItem {
    pub id: i32,
    pub study_id: i32,
    pub group_name: String,
    pub source_item: String,
    pub conclusion: String,
    pub profile: String,
    pub stance_a: String,
    pub premise_a: String,
    pub stance_b: String,
    pub premise_b: String,
    pub attention_answer: Option<String>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = study_items)]
pub struct NewStudyItem {
    pub study_id: i32,
    pub group_name: String,
    pub source_item: String,
    pub conclusion: String,
    pub profile: String,
    pub stance_a: String,
    pub premise_a: String,
    pub stance_b: String,
    pub premise_b: String,
    pub attention_answer: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = assignments)]
pub struct Assignment {
    pub id: i32,
    pub study_id: i32,
    pub item_id: i32,
    pub user_id: i32,
    pub a_on_left: bool,
    pub leased_at_ms: i64,
    pub lease_expires_ms: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = assignments)]
pub struct NewAssignment {
    pub study_id: i32,
    pub item_id: i32,
    pub user_id: i32,
    pub a_on_left: bool,
    pub leased_at_ms: i64,
    pub lease_expires_ms: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = judgements)]
pub struct Judgement {
    pub id: i32,
    pub study_id: i32,
    pub item_id: i32,
    pub user_id: i32,
    pub a_on_left: bool,
    pub choice_shown: String,
    pub choice: String,
    pub seconds: f64,
    pub created_at_ms: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = judgements)]
pub struct NewJudgement {
    pub study_id: i32,
    pub item_id: i32,
    pub user_id: i32,
    pub a_on_left: bool,
    pub choice_shown: String,
    pub choice: String,
    pub seconds: f64,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = invites)]
pub struct Invite {
    pub token_hash: String,
    pub role: String,
    pub study_id: Option<i32>,
    pub created_by: i32,
    pub created_at: i64,
    pub used_by: Option<i32>,
    pub used_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = runs)]
pub struct Run {
    pub id: i32,
    pub path: String,
    pub task: String,
    pub method: String,
    pub model: String,
    pub answer_mode: String,
    pub groups: String,
    pub status: String,
    pub started: String,
    pub finished: Option<String>,
    pub imported_at: i64,
}

/// A run folder as read from disk: inserted, or written over the row of the same path.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = runs)]
pub struct NewRun {
    pub path: String,
    pub task: String,
    pub method: String,
    pub model: String,
    pub answer_mode: String,
    pub groups: String,
    pub status: String,
    pub started: String,
    pub finished: Option<String>,
    pub imported_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = jobs)]
pub struct JobRow {
    pub id: i32,
    pub kind: String,
    pub spec: String,
    pub backend: String,
    pub status: String,
    pub out: String,
    pub progress_done: i64,
    pub progress_total: i64,
    pub detail: Option<String>,
    pub cancel_requested: bool,
    pub run_id: Option<i32>,
    pub error: Option<String>,
    pub slurm_job_id: Option<String>,
    pub attempts: i32,
    pub created_by: i32,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub heartbeat_at: Option<i64>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = jobs)]
pub struct NewJob {
    pub kind: String,
    pub spec: String,
    pub backend: String,
    pub status: String,
    pub out: String,
    pub created_by: i32,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = job_log)]
pub struct JobLogLine {
    pub id: i32,
    pub job_id: i32,
    pub at_ms: i64,
    pub line: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = job_log)]
pub struct NewJobLogLine<'a> {
    pub job_id: i32,
    pub at_ms: i64,
    pub line: &'a str,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = job_templates)]
pub struct JobTemplate {
    pub id: i32,
    pub name: String,
    pub spec: String,
    pub created_by: i32,
    pub created_at: i64,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = job_templates)]
pub struct NewJobTemplate<'a> {
    pub name: &'a str,
    pub spec: &'a str,
    pub created_by: i32,
    pub created_at: i64,
}
