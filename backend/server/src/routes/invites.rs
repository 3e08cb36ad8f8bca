//! Joining: one-time invites (`POST /api/studies/{id}/invites`, admin;
//! `POST /api/invites/{token}/accept`) and a study's public link for anonymous participants
//! (`GET /api/join/{study_token}?participant=ID`, also `?PROLIFIC_PID=ID`).

use crate::auth::accounts::{insert_user, validate_username};
use crate::auth::{me, password, role_of, session, Caller};
use crate::db::models::{Invite, Study, User};
use crate::db::schema::{invites, studies as studies_table, users};
use crate::db::{batch_insert, now_s};
use crate::error::{ApiError, ApiResult};
use crate::state::{write_transaction, AppState};
use crate::studies;
use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use valuelab_common::api::auth::{Credentials, InviteRequest, InviteResponse, Role};

/// Invites made by one request at most.
pub const MAX_INVITES: u32 = 500;

pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
    body: web::Json<InviteRequest>,
) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let study_id = path.into_inner();
    let InviteRequest { role, count } = body.into_inner();
    if !(1..=MAX_INVITES).contains(&count) {
        return Err(ApiError::bad_request(format!(
            "count: {count} is outside 1..{MAX_INVITES}"
        )));
    }
    let admin = caller.user.id;
    let links = state
        .db(move |conn| {
            studies::load(conn, study_id)?;
            let now = now_s();
            let tokens: Vec<String> = (0..count).map(|_| session::new_token()).collect();
            let rows: Vec<Invite> = tokens
                .iter()
                .map(|token| Invite {
                    token_hash: session::token_hash(token),
                    role: role.as_str().to_string(),
                    study_id: Some(study_id),
                    created_by: admin,
                    created_at: now,
                    used_by: None,
                    used_at: None,
                })
                .collect();
            batch_insert(conn, diesel::insert_into(invites::table).values(&rows))?;
            Ok(tokens)
        })
        .await?;
    let body: Vec<InviteResponse> = links
        .into_iter()
        .map(|token| InviteResponse {
            url: format!("/invite/{token}"),
            token,
        })
        .collect();
    Ok(HttpResponse::Created().json(body))
}

pub async fn accept(
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Json<Credentials>,
) -> ApiResult<HttpResponse> {
    let token = path.into_inner();
    let Credentials { username, password } = body.into_inner();
    let username = username.trim().to_string();
    validate_username(&username).map_err(ApiError::BadRequest)?;
    password::validate(&password).map_err(ApiError::BadRequest)?;
    let hash = password::hash(&password)?;
    let secure = state.settings.secure_cookies;
    let (user, cookie) = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                let invite: Invite = invites::table
                    .find(session::token_hash(&token))
                    .select(Invite::as_select())
                    .first(conn)
                    .optional()?
                    .ok_or_else(|| ApiError::not_found("no such invite (check the link)"))?;
                if invite.used_by.is_some() {
                    return Err(ApiError::Gone(
                        "this invite was already used; log in, or ask the admin for a new one"
                            .into(),
                    ));
                }
                let taken = users::table
                    .filter(users::username.eq(&username))
                    .count()
                    .get_result::<i64>(conn)?;
                if taken > 0 {
                    return Err(ApiError::conflict(format!(
                        "username '{username}' is taken; choose another"
                    )));
                }
                // Staff invites give an account for every study; annotators belong to theirs.
                let study_id = (invite.role == Role::Annotator.as_str())
                    .then_some(invite.study_id)
                    .flatten();
                let user = insert_user(conn, &username, Some(&hash), &invite.role, study_id)?;
                diesel::update(invites::table.find(&invite.token_hash))
                    .set((invites::used_by.eq(user.id), invites::used_at.eq(now_s())))
                    .execute(conn)?;
                let cookie = session::start(conn, user.id, secure)?;
                Ok((user, cookie))
            })
        })
        .await?;
    let role = role_of(&user)?;
    Ok(HttpResponse::Ok().cookie(cookie).json(me(&user, role)))
}

#[derive(Debug, Deserialize)]
pub struct JoinQuery {
    participant: Option<String>,
    #[serde(rename = "PROLIFIC_PID")]
    prolific_pid: Option<String>,
}

/// Longest external participant id accepted.
const MAX_PARTICIPANT_CHARS: usize = 48;

/// The public link: the participant id (from the recruiting platform) becomes the annotator's
/// name within the study, so the same link resumes; without one a random id is made.
pub async fn join(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<JoinQuery>,
) -> ApiResult<HttpResponse> {
    let public_token = path.into_inner();
    let JoinQuery {
        participant,
        prolific_pid,
    } = query.into_inner();
    let participant = participant
        .or(prolific_pid)
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty());
    if let Some(p) = &participant {
        if p.chars().count() > MAX_PARTICIPANT_CHARS {
            return Err(ApiError::bad_request(format!(
                "participant: at most {MAX_PARTICIPANT_CHARS} characters"
            )));
        }
        validate_username(p)
            .map_err(|e| ApiError::bad_request(e.replace("username", "participant")))?;
    }
    // Links are hex tokens; anything else names no study (and PostgreSQL refuses text with NUL).
    if !public_token.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(no_study_has_this_link());
    }
    let secure = state.settings.secure_cookies;
    let (user, cookie) = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                let study: Study = studies_table::table
                    .filter(studies_table::public_token.eq(&public_token))
                    .select(Study::as_select())
                    .first(conn)
                    .optional()?
                    .ok_or_else(no_study_has_this_link)?;
                let id = participant.unwrap_or_else(|| format!("anon-{}", &session::new_token()[..12]));
                let username = format!("s{}-{id}", study.id);
                let existing: Option<User> = users::table
                    .filter(users::username.eq(&username))
                    .select(User::as_select())
                    .first(conn)
                    .optional()?;
                let user = match existing {
                    Some(user) if user.study_id == Some(study.id) && user.password_hash.is_none() => user,
                    Some(_) => {
                        return Err(ApiError::conflict(format!(
                            "participant id '{id}' belongs to an account that is not this study's participant"
                        )))
                    }
                    None => insert_user(conn, &username, None, Role::Annotator.as_str(), Some(study.id))?,
                };
                let cookie = session::start(conn, user.id, secure)?;
                Ok((user, cookie))
            })
        })
        .await?;
    Ok(HttpResponse::Ok()
        .cookie(cookie)
        .json(me(&user, Role::Annotator)))
}

fn no_study_has_this_link() -> ApiError {
    ApiError::not_found("no study has this link (check the URL)")
}
