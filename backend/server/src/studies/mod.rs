//! Pairwise annotation studies (paper §5.2): building one from two `eval args` runs (`build`,
//! stored by `create`), handing items to annotators under leases (`assign`), and the agreement
//! and win/tie/lose reports and exports (`report`, `export`). Routes in `routes::studies` call
//! these inside database transactions.

pub mod assign;
pub mod build;
pub mod charts;
pub mod create;
pub mod export;
pub mod method_pairs;
pub mod report;

use crate::db::models::Study;
use crate::db::schema::studies;
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use diesel::prelude::*;

pub fn load(conn: &mut Db, id: i32) -> ApiResult<Study> {
    studies::table
        .find(id)
        .select(Study::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("no study {id}")))
}

/// The web app's page for a study's public link.
pub fn public_url(study: &Study) -> String {
    format!("/join/{}", study.public_token)
}
