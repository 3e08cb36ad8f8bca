//! Handing items to annotators. Rules (issue 8): exactly k distinct annotators per item, never
//! the same item twice to one person, least-covered items first; an item handed out is leased
//! and returns to the pool when the lease runs out unjudged; left/right is drawn per (annotator,
//! item) and balanced across the item's annotators. Every function here runs inside one write
//! transaction (`state::write_transaction`), so two annotators can never take the last slot of
//! an item at once.

use crate::db::models::{Assignment, NewAssignment, NewJudgement, Study, StudyItem};
use crate::db::schema::{assignments, judgements, study_items};
use crate::db::{now_ms, Db};
use crate::routes::error::{ApiError, ApiResult};
use diesel::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{HashMap, HashSet};
use valuelab_common::api::studies::Progress;
use valuelab_common::pairwise::Shown;

/// Seconds of one item beyond which the annotator was away: time per item is capped here.
pub const IDLE_LIMIT_SECONDS: f64 = 300.0;

/// What `next` found for an annotator.
pub enum Next {
    /// This item, leased to the caller (A shown on the left or not).
    Item(Box<(StudyItem, Assignment)>),
    /// Nothing left for this annotator: quota reached or every item has its k annotators.
    Done,
    /// Items remain, but all are leased to others; one may come back in this many seconds.
    Wait(i64),
}

/// Where every item of the study stands.
struct Coverage {
    /// item id → (annotators holding or having judged it, of them with A on the left)
    per_item: HashMap<i32, (usize, usize)>,
    mine: HashSet<i32>,
    /// earliest expiry among leases not yet judged
    first_expiry_ms: Option<i64>,
}

/// Deletes leases that ran out unjudged, so their items go back to the pool.
fn reclaim_expired(conn: &mut Db, study_id: i32, now: i64) -> QueryResult<usize> {
    let judged = judgements::table
        .filter(judgements::item_id.eq(assignments::item_id))
        .filter(judgements::user_id.eq(assignments::user_id));
    diesel::delete(
        assignments::table
            .filter(assignments::study_id.eq(study_id))
            .filter(assignments::lease_expires_ms.lt(now))
            .filter(diesel::dsl::not(diesel::dsl::exists(judged))),
    )
    .execute(conn)
}

fn coverage(conn: &mut Db, study_id: i32, user_id: i32) -> QueryResult<Coverage> {
    let rows: Vec<Assignment> = assignments::table
        .filter(assignments::study_id.eq(study_id))
        .select(Assignment::as_select())
        .load(conn)?;
    let judged: HashSet<(i32, i32)> = judgements::table
        .filter(judgements::study_id.eq(study_id))
        .select((judgements::item_id, judgements::user_id))
        .load::<(i32, i32)>(conn)?
        .into_iter()
        .collect();
    let mut cov = Coverage {
        per_item: HashMap::new(),
        mine: HashSet::new(),
        first_expiry_ms: None,
    };
    for row in rows {
        let entry = cov.per_item.entry(row.item_id).or_default();
        entry.0 += 1;
        entry.1 += usize::from(row.a_on_left);
        if row.user_id == user_id {
            cov.mine.insert(row.item_id);
        }
        if !judged.contains(&(row.item_id, row.user_id)) {
            cov.first_expiry_ms = Some(
                cov.first_expiry_ms
                    .map_or(row.lease_expires_ms, |t| t.min(row.lease_expires_ms)),
            );
        }
    }
    Ok(cov)
}

/// The caller's open lease in this study (handed out, not judged), if any.
fn open_lease(conn: &mut Db, study_id: i32, user_id: i32) -> QueryResult<Option<Assignment>> {
    let judged = judgements::table
        .filter(judgements::item_id.eq(assignments::item_id))
        .filter(judgements::user_id.eq(assignments::user_id));
    assignments::table
        .filter(assignments::study_id.eq(study_id))
        .filter(assignments::user_id.eq(user_id))
        .filter(diesel::dsl::not(diesel::dsl::exists(judged)))
        .select(Assignment::as_select())
        .first(conn)
        .optional()
}

/// Real items (not attention checks) this annotator has judged.
fn judged_real(conn: &mut Db, study_id: i32, user_id: i32) -> QueryResult<(usize, usize)> {
    let rows: Vec<Option<String>> = judgements::table
        .inner_join(study_items::table)
        .filter(judgements::study_id.eq(study_id))
        .filter(judgements::user_id.eq(user_id))
        .select(study_items::attention_answer)
        .load(conn)?;
    let checks = rows.iter().filter(|a| a.is_some()).count();
    Ok((rows.len() - checks, checks))
}

/// The most items this annotator can judge.
fn total_for(study: &Study, real_items: usize) -> usize {
    match study.item_quota {
        Some(q) => (q.max(0) as usize).min(real_items),
        None => real_items,
    }
}

/// Leases the caller's next item: their open lease if they have one (a reload resumes it),
/// an attention check when one is due, else the least-covered item they have not seen.
pub fn next(conn: &mut Db, study: &Study, user_id: i32) -> ApiResult<Next> {
    let now = now_ms();
    reclaim_expired(conn, study.id, now)?;
    let lease_ms = i64::from(study.lease_seconds) * 1000;
    if let Some(open) = open_lease(conn, study.id, user_id)? {
        // A resumed item gets a fresh lease: the annotator is back at it.
        diesel::update(assignments::table.find(open.id))
            .set(assignments::lease_expires_ms.eq(now + lease_ms))
            .execute(conn)?;
        let item = study_items::table.find(open.item_id).first(conn)?;
        let open = Assignment {
            lease_expires_ms: now + lease_ms,
            ..open
        };
        return Ok(Next::Item(Box::new((item, open))));
    }
    let items: Vec<StudyItem> = study_items::table
        .filter(study_items::study_id.eq(study.id))
        .select(StudyItem::as_select())
        .load(conn)?;
    let (real, checks): (Vec<&StudyItem>, Vec<&StudyItem>) =
        items.iter().partition(|i| i.attention_answer.is_none());
    let (judged, checks_done) = judged_real(conn, study.id, user_id)?;
    if judged >= total_for(study, real.len()) {
        return Ok(Next::Done);
    }
    let cov = coverage(conn, study.id, user_id)?;
    let k = study.annotators_per_item.max(1) as usize;
    // Reproducible from the study's seed: the draw depends on who asks and how far they are.
    let mut rng = ChaCha8Rng::seed_from_u64(
        study.seed as u64 ^ (u64::from(user_id as u32) << 32) ^ (judged + checks_done) as u64,
    );

    let every = study.attention_every.max(0) as usize;
    let check_due = every > 0 && judged >= (checks_done + 1) * every;
    let fresh_checks: Vec<&&StudyItem> = checks
        .iter()
        .filter(|i| !cov.mine.contains(&i.id))
        .collect();
    let chosen: Option<&StudyItem> = if check_due && !fresh_checks.is_empty() {
        Some(fresh_checks[rng.random_range(0..fresh_checks.len())])
    } else {
        // least covered first; among equals a draw, so annotators spread over the items
        real.iter()
            .filter(|i| !cov.mine.contains(&i.id))
            .map(|i| (i, cov.per_item.get(&i.id).map_or(0, |c| c.0)))
            .filter(|(_, n)| *n < k)
            .map(|(i, n)| (n, rng.random::<u32>(), *i))
            .min_by_key(|(n, draw, _)| (*n, *draw))
            .map(|(_, _, i)| i)
    };
    let Some(item) = chosen else {
        return Ok(match cov.first_expiry_ms {
            Some(t) if real.iter().any(|i| !cov.mine.contains(&i.id)) => {
                Next::Wait(((t - now) / 1000).max(1))
            }
            _ => Next::Done,
        });
    };
    let (holders, a_left) = cov.per_item.get(&item.id).copied().unwrap_or((0, 0));
    // Balanced: the side shown left less often so far gets it; a fair draw when even.
    let a_on_left = match (2 * a_left).cmp(&holders) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => rng.random_bool(0.5),
    };
    diesel::insert_into(assignments::table)
        .values(NewAssignment {
            study_id: study.id,
            item_id: item.id,
            user_id,
            a_on_left,
            leased_at_ms: now,
            lease_expires_ms: now + lease_ms,
        })
        .execute(conn)?;
    let lease = open_lease(conn, study.id, user_id)?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("lease of item {} vanished", item.id)))?;
    Ok(Next::Item(Box::new((item.clone(), lease))))
}

/// Stores the caller's judgement of a leased item; returns the judgement's id.
pub fn judge(
    conn: &mut Db,
    study: &Study,
    user_id: i32,
    item_id: i32,
    choice: Shown,
    active_seconds: Option<f64>,
) -> ApiResult<i32> {
    let lease: Option<Assignment> = assignments::table
        .filter(assignments::study_id.eq(study.id))
        .filter(assignments::item_id.eq(item_id))
        .filter(assignments::user_id.eq(user_id))
        .select(Assignment::as_select())
        .first(conn)
        .optional()?;
    let Some(lease) = lease else {
        let exists = study_items::table
            .filter(study_items::study_id.eq(study.id))
            .filter(study_items::id.eq(item_id))
            .count()
            .get_result::<i64>(conn)?
            > 0;
        return Err(if exists {
            ApiError::conflict(format!(
                "item {item_id} is not leased to you (its lease may have run out); ask for the next item"
            ))
        } else {
            ApiError::not_found(format!("study {} has no item {item_id}", study.id))
        });
    };
    let already = judgements::table
        .filter(judgements::item_id.eq(item_id))
        .filter(judgements::user_id.eq(user_id))
        .count()
        .get_result::<i64>(conn)?;
    if already > 0 {
        return Err(ApiError::conflict(format!(
            "you already judged item {item_id}; undo it first to change your choice"
        )));
    }
    let now = now_ms();
    let elapsed = (now - lease.leased_at_ms).max(0) as f64 / 1000.0;
    let seconds = active_seconds
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(elapsed, |s| s.min(elapsed))
        .min(IDLE_LIMIT_SECONDS);
    diesel::insert_into(judgements::table)
        .values(NewJudgement {
            study_id: study.id,
            item_id,
            user_id,
            a_on_left: lease.a_on_left,
            choice_shown: choice.as_str().to_string(),
            choice: choice.to_canonical(lease.a_on_left).as_str().to_string(),
            seconds,
            created_at_ms: now,
        })
        .execute(conn)?;
    Ok(judgements::table
        .filter(judgements::item_id.eq(item_id))
        .filter(judgements::user_id.eq(user_id))
        .select(judgements::id)
        .first(conn)?)
}

/// Deletes the caller's last judgement and leases its item to them again, so `next` shows it
/// once more; returns the deleted judgement's id and its item's.
pub fn undo_last(conn: &mut Db, study: &Study, user_id: i32) -> ApiResult<(i32, i32)> {
    let last: Option<(i32, i32)> = judgements::table
        .filter(judgements::study_id.eq(study.id))
        .filter(judgements::user_id.eq(user_id))
        .order(judgements::id.desc())
        .select((judgements::id, judgements::item_id))
        .first(conn)
        .optional()?;
    let (id, item_id) =
        last.ok_or_else(|| ApiError::not_found("you have no judgement in this study to undo"))?;
    diesel::delete(judgements::table.find(id)).execute(conn)?;
    let now = now_ms();
    diesel::update(
        assignments::table
            .filter(assignments::item_id.eq(item_id))
            .filter(assignments::user_id.eq(user_id)),
    )
    .set((
        assignments::leased_at_ms.eq(now),
        assignments::lease_expires_ms.eq(now + i64::from(study.lease_seconds) * 1000),
    ))
    .execute(conn)?;
    Ok((id, item_id))
}

/// How far the caller is; done when their quota is reached or no item is left for them.
pub fn progress(conn: &mut Db, study: &Study, user_id: i32) -> ApiResult<Progress> {
    let real: i64 = study_items::table
        .filter(study_items::study_id.eq(study.id))
        .filter(study_items::attention_answer.is_null())
        .count()
        .get_result(conn)?;
    let total = total_for(study, real as usize);
    let (judged, _) = judged_real(conn, study.id, user_id)?;
    let done = judged >= total || nothing_left(conn, study, user_id)?;
    Ok(Progress {
        judged,
        total,
        done,
        completion_code: done.then(|| study.completion_code.clone()),
        completion_url: done.then(|| study.completion_url.clone()).flatten(),
    })
}

/// No open lease, and every real item the caller has not seen already has k judgements.
fn nothing_left(conn: &mut Db, study: &Study, user_id: i32) -> ApiResult<bool> {
    if open_lease(conn, study.id, user_id)?.is_some() {
        return Ok(false);
    }
    let k = study.annotators_per_item.max(1) as i64;
    let counts: Vec<(i32, i64)> = judgements::table
        .filter(judgements::study_id.eq(study.id))
        .group_by(judgements::item_id)
        .select((judgements::item_id, diesel::dsl::count_star()))
        .load(conn)?;
    let full: HashSet<i32> = counts
        .into_iter()
        .filter(|(_, n)| *n >= k)
        .map(|(i, _)| i)
        .collect();
    let mine: HashSet<i32> = judgements::table
        .filter(judgements::study_id.eq(study.id))
        .filter(judgements::user_id.eq(user_id))
        .select(judgements::item_id)
        .load::<i32>(conn)?
        .into_iter()
        .collect();
    let open_items = study_items::table
        .filter(study_items::study_id.eq(study.id))
        .filter(study_items::attention_answer.is_null())
        .select(study_items::id)
        .load::<i32>(conn)?
        .into_iter()
        .any(|id| !full.contains(&id) && !mine.contains(&id));
    Ok(!open_items)
}
