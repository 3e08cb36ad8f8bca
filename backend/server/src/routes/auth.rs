//! `POST /api/auth/login`, `POST /api/auth/logout`, `GET /api/auth/me`.

use crate::auth::accounts::validate_username;
use crate::auth::{me, password, role_of, session, Caller};
use crate::db::models::User;
use crate::db::schema::users;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use valuelab_common::api::auth::Credentials;

pub async fn login(
    state: web::Data<AppState>,
    body: web::Json<Credentials>,
) -> ApiResult<HttpResponse> {
    let Credentials { username, password } = body.into_inner();
    let secure = state.settings.secure_cookies;
    let found = state
        .db(move |conn| {
            let username = username.trim();
            // A name no account can have is not looked up (PostgreSQL refuses text with NUL).
            let user: Option<User> = match validate_username(username) {
                Ok(()) => users::table
                    .filter(users::username.eq(username))
                    .select(User::as_select())
                    .first(conn)
                    .optional()?,
                Err(_) => None,
            };
            let Some(user) = user else {
                password::verify_nothing(&password);
                return Ok(None);
            };
            let ok = user
                .password_hash
                .as_deref()
                .is_some_and(|hash| password::verify(&password, hash));
            if !ok {
                return Ok(None);
            }
            let cookie = session::start(conn, user.id, secure)?;
            Ok(Some((user, cookie)))
        })
        .await?;
    let (user, cookie) =
        found.ok_or_else(|| ApiError::Unauthorized("wrong username or password".into()))?;
    let role = role_of(&user)?;
    Ok(HttpResponse::Ok().cookie(cookie).json(me(&user, role)))
}

pub async fn logout(state: web::Data<AppState>, request: HttpRequest) -> ApiResult<HttpResponse> {
    if let Some(token) = request.cookie(session::SESSION_COOKIE) {
        let token = token.value().to_string();
        state
            .db(move |conn| Ok(session::end(conn, &token)?))
            .await?;
    }
    Ok(HttpResponse::NoContent()
        .cookie(session::removal_cookie())
        .finish())
}

pub async fn current_user(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(caller.me())
}
