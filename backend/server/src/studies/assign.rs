//! Handing items to annotators. Rules (issue 8): exactly k distinct annotators per item, never
//! the same item twice to one person, least-covered items first; an item handed out is leased
//! and returns to the pool when the lease runs out unjudged; left/right is drawn per (annotator,
//! item) and balanced across the item's annotators. Every write runs in one write transaction
//! (`state::write_transaction`), so two annotators can never take the last slot of an item at
//! once.

use crate::db::models::{Assignment, NewAssignment, NewJudgement, Study, StudyItem};
use crate::db::schema::{assignments, judgements, study_items};
use crate::db::{now_ms, Db};
use crate::error::{ApiError, ApiResult};
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

/// How many annotators hold or have judged each item: one aggregate query, so handing out an
/// item stays cheap as a study fills up.
fn coverage(conn: &mut Db, study_id: i32) -> QueryResult<HashMap<i32, usize>> {
    let rows: Vec<(i32, i64)> = assignments::table
        .filter(assignments::study_id.eq(study_id))
        .group_by(assignments::item_id)
        .select((assignments::item_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(item, holders)| (item, holders as usize))
        .collect())
}

/// Items this annotator holds or has judged.
fn mine(conn: &mut Db, study_id: i32, user_id: i32) -> QueryResult<HashSet<i32>> {
    Ok(assignments::table
        .filter(assignments::study_id.eq(study_id))
        .filter(assignments::user_id.eq(user_id))
        .select(assignments::item_id)
        .load::<i32>(conn)?
        .into_iter()
        .collect())
}

/// An assignment whose annotator has not judged its item yet: a lease still open.
#[diesel::dsl::auto_type]
fn unjudged() -> _ {
    diesel::dsl::not(diesel::dsl::exists(
        judgements::table
            .filter(judgements::item_id.eq(assignments::item_id))
            .filter(judgements::user_id.eq(assignments::user_id)),
    ))
}

/// When the first lease of someone else's that is not judged yet runs out.
fn first_expiry_ms(conn: &mut Db, study_id: i32) -> QueryResult<Option<i64>> {
    assignments::table
        .filter(assignments::study_id.eq(study_id))
        .filter(unjudged())
        .select(diesel::dsl::min(assignments::lease_expires_ms))
        .first(conn)
}

/// Deletes leases that ran out unjudged, so their items go back to the pool.
fn reclaim_expired(conn: &mut Db, study_id: i32, now: i64) -> QueryResult<usize> {
    diesel::delete(
        assignments::table
            .filter(assignments::study_id.eq(study_id))
            .filter(assignments::lease_expires_ms.lt(now))
            .filter(unjudged()),
    )
    .execute(conn)
}

/// The caller's open lease in this study (handed out, not judged), if any.
fn open_lease(conn: &mut Db, study_id: i32, user_id: i32) -> QueryResult<Option<Assignment>> {
    assignments::table
        .filter(assignments::study_id.eq(study_id))
        .filter(assignments::user_id.eq(user_id))
        .filter(unjudged())
        .select(Assignment::as_select())
        .first(conn)
        .optional()
}

/// This annotator's judgements: (real items, attention checks).
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

/// What the study holds for an annotator right now.
enum Choice {
    Resume(Assignment),
    Done,
    Wait(i64),
    /// The item to lease (an attention check when one is due), and the draw that breaks an even
    /// left/right split.
    Lease(i32, bool),
}

/// Works out the caller's next item: their open lease if they have one (a reload resumes it),
/// an attention check when one is due, else the items they have not seen that still lack
/// annotators, least covered first.
fn choose(conn: &mut Db, study: &Study, user_id: i32, now: i64) -> ApiResult<Choice> {
    if let Some(open) = open_lease(conn, study.id, user_id)? {
        return Ok(Choice::Resume(open));
    }
    // ids only: the texts of the one chosen item are loaded when it is leased. In id order, so
    // the seeded draws below pick the same items whatever order the database keeps rows in.
    let items: Vec<(i32, bool)> = study_items::table
        .filter(study_items::study_id.eq(study.id))
        .order(study_items::id)
        .select((study_items::id, study_items::attention_answer.is_not_null()))
        .load(conn)?;
    let checks: Vec<i32> = items
        .iter()
        .filter(|(_, c)| *c)
        .map(|(id, _)| *id)
        .collect();
    let real: Vec<i32> = items
        .iter()
        .filter(|(_, c)| !*c)
        .map(|(id, _)| *id)
        .collect();
    let (judged, checks_done) = judged_real(conn, study.id, user_id)?;
    if judged >= total_for(study, real.len()) {
        return Ok(Choice::Done);
    }
    let per_item = coverage(conn, study.id)?;
    let mine = mine(conn, study.id, user_id)?;
    let k = study.annotators_per_item.max(1) as usize;
    // Reproducible from the study's seed: the draw depends on who asks and how far they are.
    let mut rng = ChaCha8Rng::seed_from_u64(
        study.seed as u64 ^ (u64::from(user_id as u32) << 32) ^ (judged + checks_done) as u64,
    );
    let side_draw = rng.random_bool(0.5);
    let every = study.attention_every.max(0) as usize;
    let check_due = every > 0 && judged >= (checks_done + 1) * every;
    let fresh_checks: Vec<i32> = checks.into_iter().filter(|id| !mine.contains(id)).collect();
    if check_due && !fresh_checks.is_empty() {
        let check = fresh_checks[rng.random_range(0..fresh_checks.len())];
        return Ok(Choice::Lease(check, side_draw));
    }
    // least covered first; among equals a draw, so annotators spread over the items
    let least_covered = real
        .iter()
        .filter(|id| !mine.contains(id))
        .map(|id| (per_item.get(id).copied().unwrap_or(0), *id))
        .filter(|(n, _)| *n < k)
        .map(|(n, id)| (n, rng.random::<u32>(), id))
        .min();
    match least_covered {
        Some((_, _, id)) => Ok(Choice::Lease(id, side_draw)),
        None => {
            let unseen = real.iter().any(|id| !mine.contains(id));
            Ok(match first_expiry_ms(conn, study.id)? {
                Some(t) if unseen => Choice::Wait(((t - now) / 1000).max(1)),
                _ => Choice::Done,
            })
        }
    }
}

/// Leases `item_id` to the caller, A on the side shown left less often so far (`draw` when even).
fn lease(
    conn: &mut Db,
    study: &Study,
    user_id: i32,
    item_id: i32,
    draw: bool,
    now: i64,
) -> ApiResult<Next> {
    let sides: Vec<bool> = assignments::table
        .filter(assignments::item_id.eq(item_id))
        .select(assignments::a_on_left)
        .load(conn)?;
    let a_left = sides.iter().filter(|l| **l).count();
    let a_on_left = match (2 * a_left).cmp(&sides.len()) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => draw,
    };
    diesel::insert_into(assignments::table)
        .values(NewAssignment {
            study_id: study.id,
            item_id,
            user_id,
            a_on_left,
            leased_at_ms: now,
            lease_expires_ms: now + i64::from(study.lease_seconds) * 1000,
        })
        .execute(conn)?;
    let lease = open_lease(conn, study.id, user_id)?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("lease of item {item_id} vanished")))?;
    let item: StudyItem = study_items::table
        .find(item_id)
        .select(StudyItem::as_select())
        .first(conn)?;
    Ok(Next::Item(Box::new((item, lease))))
}

/// Leases the caller's next item (see [`choose`]). Runs inside the write transaction.
pub fn next(conn: &mut Db, study: &Study, user_id: i32) -> ApiResult<Next> {
    let now = now_ms();
    reclaim_expired(conn, study.id, now)?;
    match choose(conn, study, user_id, now)? {
        Choice::Resume(open) => {
            // A resumed item gets a fresh lease: the annotator is back at it.
            let expires = now + i64::from(study.lease_seconds) * 1000;
            diesel::update(assignments::table.find(open.id))
                .set(assignments::lease_expires_ms.eq(expires))
                .execute(conn)?;
            let item = study_items::table
                .find(open.item_id)
                .select(StudyItem::as_select())
                .first(conn)?;
            let open = Assignment {
                lease_expires_ms: expires,
                ..open
            };
            Ok(Next::Item(Box::new((item, open))))
        }
        Choice::Done => Ok(Next::Done),
        Choice::Wait(seconds) => Ok(Next::Wait(seconds)),
        Choice::Lease(item_id, draw) => lease(conn, study, user_id, item_id, draw, now),
    }
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

/// No open lease, and every real item the caller has not judged already has k judgements.
fn nothing_left(conn: &mut Db, study: &Study, user_id: i32) -> ApiResult<bool> {
    if open_lease(conn, study.id, user_id)?.is_some() {
        return Ok(false);
    }
    let full = judgements::table
        .filter(judgements::study_id.eq(study.id))
        .group_by(judgements::item_id)
        .having(diesel::dsl::count_star().ge(i64::from(study.annotators_per_item.max(1))))
        .select(judgements::item_id);
    let judged_by_caller = judgements::table
        .filter(judgements::item_id.eq(study_items::id))
        .filter(judgements::user_id.eq(user_id));
    let open: i64 = study_items::table
        .filter(study_items::study_id.eq(study.id))
        .filter(study_items::attention_answer.is_null())
        .filter(diesel::dsl::not(diesel::dsl::exists(judged_by_caller)))
        .filter(study_items::id.ne_all(full))
        .count()
        .get_result(conn)?;
    Ok(open == 0)
}
