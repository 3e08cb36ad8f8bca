//! The study's figures from its stored judgements: agreement (whole study and per target
//! group), each annotator against the majority of the others and on the attention checks,
//! win/tie/lose of A against B, position bias, and the items annotators disagreed on most.
//! Annotators below the study's attention threshold are left out of every figure but their own.

use super::public_url;
use crate::db::models::{Judgement, Study};
use crate::db::schema::{judgements, study_items, users};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use diesel::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use valuelab_common::agreement::{
    agreement, agreement_with_majority, item_agreement, Agreement, AnnotatorAgreement,
    BOOTSTRAP_RESAMPLES,
};
use valuelab_common::api::studies::{
    AnnotatorReport, DroppedPair, GroupAgreement, ItemDisagreement, StudyReport, StudySummary,
};
use valuelab_common::pairwise::{position_bias, win_tie_lose, Canonical, Shown, WinTieLose};

/// Items listed in the disagreement view.
const DISAGREEMENTS_SHOWN: usize = 50;

/// One stored judgement with what the report needs about its item and annotator.
pub struct JudgementRow {
    pub judgement: Judgement,
    pub group: String,
    pub conclusion: String,
    pub attention_answer: Option<String>,
    pub annotator: String,
}

pub fn load_judgements(conn: &mut Db, study_id: i32) -> ApiResult<Vec<JudgementRow>> {
    let rows: Vec<(Judgement, String, String, Option<String>, String)> = judgements::table
        .inner_join(study_items::table)
        .inner_join(users::table.on(users::id.eq(judgements::user_id)))
        .filter(judgements::study_id.eq(study_id))
        .order(judgements::id)
        .select((
            Judgement::as_select(),
            study_items::group_name,
            study_items::conclusion,
            study_items::attention_answer,
            users::username,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(judgement, group, conclusion, attention_answer, annotator)| JudgementRow {
                judgement,
                group,
                conclusion,
                attention_answer,
                annotator,
            },
        )
        .collect())
}

pub fn summary(conn: &mut Db, study: &Study) -> ApiResult<StudySummary> {
    let rows = load_judgements(conn, study.id)?;
    summary_of(conn, study, &rows)
}

/// The summary from judgements already loaded (the report loads them once for everything).
fn summary_of(conn: &mut Db, study: &Study, rows: &[JudgementRow]) -> ApiResult<StudySummary> {
    let items: i64 = study_items::table
        .filter(study_items::study_id.eq(study.id))
        .filter(study_items::attention_answer.is_null())
        .count()
        .get_result(conn)?;
    let real: Vec<&JudgementRow> = rows
        .iter()
        .filter(|r| r.attention_answer.is_none())
        .collect();
    let mut per_item: HashMap<i32, usize> = HashMap::new();
    for r in &real {
        *per_item.entry(r.judgement.item_id).or_default() += 1;
    }
    let k = study.annotators_per_item.max(1) as usize;
    let dropped: Vec<DroppedPair> = serde_json::from_str(&study.dropped).map_err(|e| {
        ApiError::Internal(anyhow::anyhow!("study {} dropped pairs: {e}", study.id))
    })?;
    Ok(StudySummary {
        id: study.id,
        name: study.name.clone(),
        run_a: study.run_a.clone(),
        run_b: study.run_b.clone(),
        method_a: study.method_a.clone(),
        method_b: study.method_b.clone(),
        annotators_per_item: study.annotators_per_item as u32,
        item_quota: study.item_quota.map(|q| q as u32),
        guidelines: study.guidelines.clone(),
        items: items as usize,
        complete_items: per_item.values().filter(|n| **n >= k).count(),
        judgements: real.len(),
        annotators: rows
            .iter()
            .map(|r| r.judgement.user_id)
            .collect::<HashSet<_>>()
            .len(),
        attention_every: study.attention_every as u32,
        attention_min_pass: study.attention_min_pass,
        public_url: public_url(study),
        completion_code: study.completion_code.clone(),
        dropped,
        created_at: study.created_at,
    })
}

/// Counts per item over (A, B, tie), in item order.
pub(super) fn counts_table<'a>(rows: impl Iterator<Item = &'a JudgementRow>) -> Vec<Vec<f64>> {
    let mut per_item: BTreeMap<i32, Vec<f64>> = BTreeMap::new();
    for r in rows {
        let counts = per_item
            .entry(r.judgement.item_id)
            .or_insert_with(|| vec![0.0; 3]);
        if let Ok(choice) = Canonical::parse(&r.judgement.choice) {
            counts[category(choice)] += 1.0;
        }
    }
    per_item.into_values().collect()
}

fn category(choice: Canonical) -> usize {
    match choice {
        Canonical::A => 0,
        Canonical::B => 1,
        Canonical::Tie => 2,
    }
}

pub(super) fn canonical_choices<'a>(
    rows: impl Iterator<Item = &'a JudgementRow>,
) -> Vec<Canonical> {
    rows.filter_map(|r| Canonical::parse(&r.judgement.choice).ok())
        .collect()
}

/// Win / tie / lose of the counted judgements (the chart needs no more of the report).
pub fn study_win_tie_lose(study: &Study, rows: &[JudgementRow]) -> Option<WinTieLose> {
    let excluded = excluded_annotators(study, rows);
    win_tie_lose(&canonical_choices(counted(rows, &excluded)))
}

/// Agreement of the counted judgements (real items, annotators who passed the checks).
pub fn study_agreement(study: &Study, rows: &[JudgementRow]) -> Agreement {
    let excluded = excluded_annotators(study, rows);
    agreement(
        &counts_table(counted(rows, &excluded)),
        BOOTSTRAP_RESAMPLES,
        study.seed as u64,
    )
}

/// The judgements every figure counts: real items (no attention checks), from annotators who
/// passed the checks.
pub(super) fn counted<'a>(
    rows: &'a [JudgementRow],
    excluded: &'a HashSet<i32>,
) -> impl Iterator<Item = &'a JudgementRow> + Clone {
    rows.iter()
        .filter(move |r| r.attention_answer.is_none() && !excluded.contains(&r.judgement.user_id))
}

/// (checks seen, checks passed) per annotator.
fn attention(rows: &[JudgementRow]) -> HashMap<i32, (usize, usize)> {
    let mut out: HashMap<i32, (usize, usize)> = HashMap::new();
    for r in rows {
        if let Some(answer) = &r.attention_answer {
            let entry = out.entry(r.judgement.user_id).or_default();
            entry.0 += 1;
            entry.1 += usize::from(&r.judgement.choice == answer);
        }
    }
    out
}

pub(super) fn excluded_annotators(study: &Study, rows: &[JudgementRow]) -> HashSet<i32> {
    attention(rows)
        .into_iter()
        .filter(|(_, (seen, passed))| {
            *seen > 0 && (*passed as f64) < study.attention_min_pass * *seen as f64
        })
        .map(|(user, _)| user)
        .collect()
}

pub fn report(conn: &mut Db, study: &Study) -> ApiResult<StudyReport> {
    let rows = load_judgements(conn, study.id)?;
    let summary = summary_of(conn, study, &rows)?;
    let excluded = excluded_annotators(study, &rows);
    let seed = study.seed as u64;
    let kept = counted(&rows, &excluded);

    let groups: Vec<String> = kept
        .clone()
        .map(|r| r.group.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let per_group = groups
        .into_iter()
        .map(|group| GroupAgreement {
            agreement: agreement(
                &counts_table(kept.clone().filter(|r| r.group == group)),
                BOOTSTRAP_RESAMPLES,
                seed,
            ),
            group,
        })
        .collect();

    let choices = canonical_choices(kept.clone());
    let shown: Vec<Shown> = kept
        .clone()
        .filter_map(|r| Shown::parse(&r.judgement.choice_shown).ok())
        .collect();

    let long: Vec<(i32, String, String)> = rows
        .iter()
        .filter(|r| r.attention_answer.is_none())
        .map(|r| {
            (
                r.judgement.item_id,
                r.annotator.clone(),
                r.judgement.choice.clone(),
            )
        })
        .collect();
    let majority: HashMap<String, _> = agreement_with_majority(&long).into_iter().collect();
    let checks = attention(&rows);
    let mut by_annotator: BTreeMap<String, (i32, Vec<f64>, usize)> = BTreeMap::new();
    for r in &rows {
        let entry =
            by_annotator
                .entry(r.annotator.clone())
                .or_insert((r.judgement.user_id, Vec::new(), 0));
        if r.attention_answer.is_none() {
            entry.1.push(r.judgement.seconds);
            entry.2 += 1;
        }
    }
    let annotators = by_annotator
        .into_iter()
        .map(|(name, (user, mut seconds, judgements))| {
            let (seen, passed) = checks.get(&user).copied().unwrap_or((0, 0));
            AnnotatorReport {
                with_majority: majority.get(&name).cloned().unwrap_or(AnnotatorAgreement {
                    items: 0,
                    agreed: 0,
                    rate: None,
                }),
                annotator: name,
                judgements,
                attention_checks: seen,
                attention_passed: passed,
                excluded: excluded.contains(&user),
                median_seconds: median(&mut seconds),
            }
        })
        .collect();

    Ok(StudyReport {
        agreement: agreement(&counts_table(kept.clone()), BOOTSTRAP_RESAMPLES, seed),
        per_group,
        annotators,
        win_tie_lose: win_tie_lose(&choices),
        position_bias: position_bias(&shown),
        disagreements: disagreements(kept),
        study: summary,
    })
}

fn disagreements<'a>(rows: impl Iterator<Item = &'a JudgementRow>) -> Vec<ItemDisagreement> {
    let mut items: BTreeMap<i32, ItemDisagreement> = BTreeMap::new();
    for r in rows {
        let entry = items
            .entry(r.judgement.item_id)
            .or_insert_with(|| ItemDisagreement {
                item_id: r.judgement.item_id,
                group: r.group.clone(),
                conclusion: r.conclusion.clone(),
                a: 0,
                b: 0,
                tie: 0,
                agreement: None,
            });
        match Canonical::parse(&r.judgement.choice) {
            Ok(Canonical::A) => entry.a += 1,
            Ok(Canonical::B) => entry.b += 1,
            Ok(Canonical::Tie) => entry.tie += 1,
            Err(_) => {}
        }
    }
    let mut list: Vec<ItemDisagreement> = items
        .into_values()
        .map(|mut d| {
            d.agreement = item_agreement(&[d.a as f64, d.b as f64, d.tie as f64]);
            d
        })
        .filter(|d| d.agreement.is_some())
        .collect();
    list.sort_by(|x, y| {
        x.agreement
            .partial_cmp(&y.agreement)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    list.truncate(DISAGREEMENTS_SHOWN);
    list
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}
