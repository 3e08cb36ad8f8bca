//! The annotator's loop within their study: `GET /api/studies/{id}/intro` (guidelines, consent,
//! progress), `POST /consent`, `GET /next` (200 with the leased pair, 204 when done),
//! `POST /judgements`, `DELETE /judgements/last` (undo), `GET /progress`. Nothing here names the
//! methods or shows anyone else's judgements.

use crate::auth::Caller;
use crate::db::models::{Study, StudyItem};
use crate::db::schema::users;
use crate::db::{now_s, Db};
use crate::error::{ApiError, ApiResult};
use crate::state::{write_transaction, AppState};
use crate::studies::{self, assign};
use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use valuelab_common::api::studies::{
    JudgementRequest, JudgementResponse, NextItem, ProfileScore, ShownArgument, StudyIntro,
};
use valuelab_common::ALL_VALUES;

/// Loads the caller's study (403 for anyone who is not its annotator) and runs `work` on it;
/// `work` puts its writes in `write_transaction` and reads outside it, so the one-writer section
/// stays short.
async fn in_study<T: Send + 'static>(
    state: &AppState,
    caller: &Caller,
    id: i32,
    work: impl FnOnce(&mut Db, &Study, i32) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    caller.require_annotator_of(id)?;
    let user_id = caller.user.id;
    state
        .db(move |conn| {
            let study = studies::load(conn, id)?;
            work(conn, &study, user_id)
        })
        .await
}

pub async fn intro(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    let consented = caller.user.consented_at.is_some();
    let intro = in_study(
        &state,
        &caller,
        path.into_inner(),
        move |conn, study, user| {
            Ok(StudyIntro {
                id: study.id,
                name: study.name.clone(),
                guidelines: study.guidelines.clone(),
                consented,
                progress: assign::progress(conn, study, user)?,
            })
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(intro))
}

pub async fn consent(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    in_study(&state, &caller, path.into_inner(), |conn, _, user| {
        write_transaction(conn, |conn| {
            diesel::update(users::table.find(user))
                .set(users::consented_at.eq(now_s()))
                .execute(conn)?;
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn next(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    if caller.user.consented_at.is_none() {
        caller.require_annotator_of(path.as_ref().to_owned())?;
        return Err(ApiError::forbidden(
            "read the guidelines and give your consent first (POST /api/studies/{id}/consent)",
        ));
    }
    let found = in_study(&state, &caller, path.into_inner(), |conn, study, user| {
        let next = write_transaction(conn, |conn| assign::next(conn, study, user))?;
        let progress = assign::progress(conn, study, user)?;
        Ok((next, progress))
    })
    .await?;
    match found {
        (assign::Next::Item(leased), progress) => {
            let (item, lease) = *leased;
            Ok(HttpResponse::Ok().json(shown(
            &item,
            lease.a_on_left,
            lease.lease_expires_ms,
            progress,
        )?))
        }
        (assign::Next::Done, _) => Ok(HttpResponse::NoContent().finish()),
        (assign::Next::Wait(seconds), _) => Err(ApiError::conflict(format!(
            "every remaining item is being judged by someone else right now; try again in {seconds} s"
        ))),
    }
}

/// The pair as this annotator sees it: A on the left or the right, never named.
fn shown(
    item: &StudyItem,
    a_on_left: bool,
    lease_expires_ms: i64,
    progress: valuelab_common::api::studies::Progress,
) -> ApiResult<NextItem> {
    let a = ShownArgument {
        stance: item.stance_a.clone(),
        premise: item.premise_a.clone(),
    };
    let b = ShownArgument {
        stance: item.stance_b.clone(),
        premise: item.premise_b.clone(),
    };
    let (left, right) = if a_on_left { (a, b) } else { (b, a) };
    let scores: Vec<f64> = serde_json::from_str(&item.profile)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("item {} profile: {e}", item.id)))?;
    let profile = ALL_VALUES
        .iter()
        .zip(scores)
        .map(|(value, score)| ProfileScore {
            value: *value,
            name: value.name().to_string(),
            score,
        })
        .collect();
    Ok(NextItem {
        item_id: item.id,
        conclusion: item.conclusion.clone(),
        left,
        right,
        profile,
        lease_expires_ms,
        progress,
    })
}

pub async fn judge(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
    body: web::Json<JudgementRequest>,
) -> ApiResult<HttpResponse> {
    let JudgementRequest {
        item_id,
        choice,
        active_seconds,
    } = body.into_inner();
    let response = in_study(
        &state,
        &caller,
        path.into_inner(),
        move |conn, study, user| {
            let id = write_transaction(conn, |conn| {
                assign::judge(conn, study, user, item_id, choice, active_seconds)
            })?;
            Ok(JudgementResponse {
                id,
                item_id,
                progress: assign::progress(conn, study, user)?,
            })
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(response))
}

pub async fn undo(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    let response = in_study(&state, &caller, path.into_inner(), |conn, study, user| {
        let (id, item_id) = write_transaction(conn, |conn| assign::undo_last(conn, study, user))?;
        Ok(JudgementResponse {
            id,
            item_id,
            progress: assign::progress(conn, study, user)?,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(response))
}

pub async fn progress(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    let progress = in_study(&state, &caller, path.into_inner(), assign::progress).await?;
    Ok(HttpResponse::Ok().json(progress))
}
