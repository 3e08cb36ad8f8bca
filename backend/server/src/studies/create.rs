//! Stores a study built from two runs: the study row, its pairs and its attention checks, in one
//! transaction so a failure leaves no half-made study.

use super::build::{self, BuiltStudy, Pair};
use crate::auth::session::new_token;
use crate::db::models::{NewStudy, NewStudyItem};
use crate::db::schema::{studies, study_items};
use crate::db::{batch_insert, now_s, Db};
use crate::error::{ApiError, ApiResult};
use crate::state::write_transaction;
use diesel::prelude::*;
use sha2::{Digest, Sha256};
use valuelab_common::api::studies::{
    CreateStudyRequest, CreateStudyResponse, DEFAULT_ANNOTATORS_PER_ITEM,
    DEFAULT_ATTENTION_MIN_PASS, DEFAULT_LEASE_MINUTES,
};
use valuelab_engine::output::stable_hash;

/// Limits on what a request may ask for; beyond them it is a mistake, not a study.
pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_GUIDELINES_CHARS: usize = 50_000;
pub const MAX_ANNOTATORS_PER_ITEM: u32 = 50;
pub const MAX_LEASE_MINUTES: u32 = 24 * 60;
/// Characters of the completion code participants type back (no 0/O, 1/I look-alikes).
const COMPLETION_CODE_CHARS: usize = 8;

/// The checked request: every field within its limits, defaults filled in.
pub struct Settings {
    pub name: String,
    pub k: u32,
    pub quota: Option<u32>,
    pub guidelines: String,
    pub attention_every: u32,
    pub attention_min_pass: f64,
    pub lease_minutes: u32,
    pub completion_url: Option<String>,
    pub seed: u64,
}

pub fn validate(request: &CreateStudyRequest) -> Result<Settings, String> {
    // PostgreSQL's text cannot hold NUL (SQLite's can): refused on both backends alike.
    let texts = [
        ("name", Some(&request.name)),
        ("guidelines", Some(&request.guidelines)),
        ("completion_url", request.completion_url.as_ref()),
    ];
    if let Some((field, _)) = texts
        .iter()
        .find(|(_, text)| text.is_some_and(|t| t.contains('\0')))
    {
        return Err(format!(
            "{field}: contains a NUL character (\\u0000); remove it"
        ));
    }
    let name = request.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "name: give the study a name of 1..{MAX_NAME_CHARS} characters"
        ));
    }
    if request.guidelines.chars().count() > MAX_GUIDELINES_CHARS {
        return Err(format!(
            "guidelines: at most {MAX_GUIDELINES_CHARS} characters"
        ));
    }
    let k = request
        .annotators_per_item
        .unwrap_or(DEFAULT_ANNOTATORS_PER_ITEM);
    if !(1..=MAX_ANNOTATORS_PER_ITEM).contains(&k) {
        return Err(format!(
            "annotators_per_item: {k} is outside 1..{MAX_ANNOTATORS_PER_ITEM} (the paper used 3)"
        ));
    }
    if request.item_quota == Some(0) {
        return Err(
            "item_quota: 0 would let nobody judge anything; leave it out for no quota".into(),
        );
    }
    let attention_min_pass = request
        .attention_min_pass
        .unwrap_or(DEFAULT_ATTENTION_MIN_PASS);
    if !(0.0..=1.0).contains(&attention_min_pass) {
        return Err(format!(
            "attention_min_pass: {attention_min_pass} is not a share in 0..1"
        ));
    }
    let lease_minutes = request.lease_minutes.unwrap_or(DEFAULT_LEASE_MINUTES);
    if !(1..=MAX_LEASE_MINUTES).contains(&lease_minutes) {
        return Err(format!(
            "lease_minutes: {lease_minutes} is outside 1..{MAX_LEASE_MINUTES}"
        ));
    }
    let completion_url = request
        .completion_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            if u.starts_with("https://") || u.starts_with("http://") {
                Ok(u.to_string())
            } else {
                Err(format!("completion_url: '{u}' is not an http(s) URL"))
            }
        })
        .transpose()?;
    Ok(Settings {
        seed: request.seed.unwrap_or_else(|| stable_hash(&name)),
        name,
        k,
        quota: request.item_quota,
        guidelines: request.guidelines.clone(),
        attention_every: request.attention_every.unwrap_or(0),
        attention_min_pass,
        lease_minutes,
        completion_url,
    })
}

/// Reads both runs and pairs them (the slow part, no database); errors are for the client.
pub fn build(request: &CreateStudyRequest, settings: &Settings) -> Result<BuiltStudy, String> {
    let a = build::read_run("run_a", &request.run_a)?;
    let b = build::read_run("run_b", &request.run_b)?;
    let profiles = build::read_profiles(&a)?;
    let (pairs, dropped) = build::pair_runs(&a, &b, &profiles)?;
    if pairs.is_empty() {
        return Err(format!(
            "no pair of the two runs can be judged ({} left out: {}); generate the arguments again",
            dropped.len(),
            dropped
                .iter()
                .take(3)
                .map(|d| format!("{}/{}: {}", d.group, d.item, d.reason))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    let checks = build::attention_count(pairs.len(), settings.attention_every);
    let attention_checks = build::attention_checks(&pairs, checks, settings.seed);
    Ok(BuiltStudy {
        method_a: a.info.method.to_string(),
        method_b: b.info.method.to_string(),
        pairs,
        attention_checks,
        dropped,
    })
}

/// Stores the study and its items; returns its id.
pub fn store(
    conn: &mut Db,
    request: &CreateStudyRequest,
    settings: &Settings,
    built: &BuiltStudy,
    created_by: i32,
) -> ApiResult<i32> {
    let dropped = serde_json::to_string(&built.dropped)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("dropped pairs to JSON: {e}")))?;
    let public_token = new_token();
    write_transaction(conn, |conn| {
        diesel::insert_into(studies::table)
            .values(NewStudy {
                name: settings.name.clone(),
                run_a: request.run_a.trim().to_string(),
                run_b: request.run_b.trim().to_string(),
                method_a: built.method_a.clone(),
                method_b: built.method_b.clone(),
                annotators_per_item: settings.k as i32,
                item_quota: settings.quota.map(|q| q.min(i32::MAX as u32) as i32),
                guidelines: settings.guidelines.clone(),
                public_token: public_token.clone(),
                completion_code: completion_code(&public_token),
                completion_url: settings.completion_url.clone(),
                attention_every: settings.attention_every.min(i32::MAX as u32) as i32,
                attention_min_pass: settings.attention_min_pass,
                lease_seconds: (settings.lease_minutes * 60) as i32,
                seed: settings.seed as i64,
                dropped,
                created_by,
                created_at: now_s(),
            })
            .execute(conn)?;
        let id: i32 = studies::table
            .filter(studies::public_token.eq(&public_token))
            .select(studies::id)
            .first(conn)?;
        let rows: Vec<NewStudyItem> = built
            .pairs
            .iter()
            .chain(&built.attention_checks)
            .map(|pair| item_row(id, pair))
            .collect();
        batch_insert(conn, diesel::insert_into(study_items::table).values(&rows))?;
        Ok(id)
    })
}

/// What `POST /api/studies` and `valuelab study create` answer once study `id` is stored.
pub fn response(conn: &mut Db, id: i32, built: &BuiltStudy) -> ApiResult<CreateStudyResponse> {
    let study = super::load(conn, id)?;
    Ok(CreateStudyResponse {
        id,
        items: built.pairs.len(),
        attention_checks: built.attention_checks.len(),
        dropped: built.dropped.clone(),
        public_url: super::public_url(&study),
    })
}

fn item_row(study_id: i32, pair: &Pair) -> NewStudyItem {
    NewStudyItem {
        study_id,
        group_name: pair.group.clone(),
        source_item: pair.item.clone(),
        conclusion: pair.conclusion.clone(),
        profile: serde_json::to_string(&pair.profile.to_vec()).unwrap_or_else(|_| "[]".into()),
        stance_a: pair.a.0.clone(),
        premise_a: pair.a.1.clone(),
        stance_b: pair.b.0.clone(),
        premise_b: pair.b.1.clone(),
        attention_answer: pair.attention_answer.map(|c| c.as_str().to_string()),
    }
}

/// A short code derived from the study's secret token, so it cannot be guessed from the URL.
fn completion_code(public_token: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    Sha256::digest(format!("completion:{public_token}").as_bytes())
        .iter()
        .take(COMPLETION_CODE_CHARS)
        .map(|byte| ALPHABET[*byte as usize % ALPHABET.len()] as char)
        .collect()
}
