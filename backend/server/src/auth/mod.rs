//! Who is calling and what they may do: argon2 passwords (`password`), cookie sessions
//! (`session`), and the [`Caller`] extractor every protected route takes, with its role checks.

pub mod accounts;
pub mod password;
pub mod session;

use crate::db::models::User;
use crate::db::now_s;
use crate::db::schema::{sessions, users};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, FromRequest, HttpRequest};
use diesel::prelude::*;
use std::future::Future;
use std::pin::Pin;
use valuelab_common::api::auth::{Me, Role};

/// The logged-in user of a request. Taking it as a handler argument makes the route answer 401
/// without a valid session.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub role: Role,
}

impl Caller {
    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::forbidden(format!(
            "this needs the role {} (you are {} '{}')",
            names.join(" or "),
            self.role,
            self.user.username
        )))
    }

    /// Staff (admin, member): study reports, agreement and exports.
    pub fn require_staff(&self) -> Result<(), ApiError> {
        self.require(&[Role::Admin, Role::Member])
    }

    /// An annotator of study `study_id` (the only study they can see).
    pub fn require_annotator_of(&self, study_id: i32) -> Result<(), ApiError> {
        self.require(&[Role::Annotator])?;
        if self.user.study_id != Some(study_id) {
            return Err(ApiError::forbidden(format!(
                "you are not an annotator of study {study_id}"
            )));
        }
        Ok(())
    }

    pub fn me(&self) -> Me {
        me(&self.user, self.role)
    }
}

/// A stored user's role; the table's CHECK admits only valid names, so a failure is a fault.
pub fn role_of(user: &User) -> Result<Role, ApiError> {
    Role::parse(&user.role)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("user {}: {e}", user.id)))
}

pub fn me(user: &User, role: Role) -> Me {
    Me {
        id: user.id,
        username: user.username.clone(),
        role,
        study_id: user.study_id,
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = request
            .cookie(session::SESSION_COOKIE)
            .map(|c| c.value().to_string());
        let state = request.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let not_logged_in = || {
                ApiError::Unauthorized(
                    "not logged in (POST /api/auth/login, or open your study link)".into(),
                )
            };
            let token = token.filter(|t| !t.is_empty()).ok_or_else(not_logged_in)?;
            let state = state.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no app state")))?;
            let user: Option<User> = state
                .db(move |conn| {
                    Ok(sessions::table
                        .inner_join(users::table)
                        .filter(sessions::token_hash.eq(session::token_hash(&token)))
                        .filter(sessions::expires_at.gt(now_s()))
                        .select(User::as_select())
                        .first(conn)
                        .optional()?)
                })
                .await?;
            let user = user.ok_or_else(|| {
                ApiError::Unauthorized("your session has ended; log in again".into())
            })?;
            let role = role_of(&user)?;
            Ok(Caller { user, role })
        })
    }
}
