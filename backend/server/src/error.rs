//! The one error type of the JSON API: each variant is a status code, and every answer is a JSON
//! `{error}` that says what was wrong and how to fix it. Unexpected failures answer 500 with a
//! generic message; their cause chain goes to the server's log, never to the client.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use std::collections::BTreeMap;
use std::fmt;
use valuelab_common::api::ErrorResponse;

#[derive(Debug)]
pub enum ApiError {
    /// 400: the request is malformed or names something invalid.
    BadRequest(String),
    /// 400 for a form (a job spec): each bad field, a dotted path, with what is wrong with it.
    InvalidFields(BTreeMap<String, String>),
    /// 401: no valid session.
    Unauthorized(String),
    /// 403: logged in, but not allowed.
    Forbidden(String),
    /// 404
    NotFound(String),
    /// 409: valid, but conflicts with what is stored (already judged, not leased to you).
    Conflict(String),
    /// 410: a one-time link already used.
    Gone(String),
    /// 500: logged with its cause chain; the client sees a generic message.
    Internal(anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(message.into())
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::Forbidden(message.into())
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound(message.into())
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        ApiError::Conflict(message.into())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::BadRequest(m)
            | ApiError::Unauthorized(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::Gone(m) => f.write_str(m),
            ApiError::InvalidFields(fields) => {
                let each: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                f.write_str(&each.join("; "))
            }
            ApiError::Internal(_) => {
                f.write_str("internal server error (the server log has the cause)")
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidFields(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            log::error!("{cause:#}");
            eprintln!("valuelab serve: internal error: {cause:#}");
        }
        let fields = match self {
            ApiError::InvalidFields(fields) => fields.clone(),
            _ => BTreeMap::new(),
        };
        HttpResponse::build(self.status_code()).json(ErrorResponse {
            error: self.to_string(),
            fields,
        })
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        ApiError::Internal(anyhow::Error::new(err).context("database query"))
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        ApiError::Internal(anyhow::Error::new(err).context("no database connection"))
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(anyhow::anyhow!("database thread pool: {err}"))
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        ApiError::Internal(err)
    }
}
