//! Studies for admins and members: `POST /api/studies` (admin), `GET /api/studies`,
//! `GET /api/studies/{id}`, `/report`, `/agreement`, `/judgements.csv`, `/judgements.jsonl`.

use crate::auth::Caller;
use crate::db::models::Study;
use crate::db::schema::{studies as studies_table, study_items};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::studies::{self, charts, create, export, report};
use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use valuelab_common::api::auth::Role;
use valuelab_common::api::studies::CreateStudyRequest;
use valuelab_common::VALUE_COUNT;

pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CreateStudyRequest>,
) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let request = body.into_inner();
    let settings = create::validate(&request).map_err(ApiError::BadRequest)?;
    // Reading two run folders is file work: off the async workers too.
    let (request, settings, built) = web::block(move || {
        create::build(&request, &settings).map(|built| (request, settings, built))
    })
    .await?
    .map_err(ApiError::BadRequest)?;
    let admin = caller.user.id;
    let response = state
        .db(move |conn| {
            let id = create::store(conn, &request, &settings, &built, admin)?;
            create::response(conn, id, &built)
        })
        .await?;
    Ok(HttpResponse::Created().json(response))
}

pub async fn list(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    caller.require_staff()?;
    let summaries = state
        .db(|conn| {
            let all: Vec<Study> = studies_table::table
                .order(studies_table::id.desc())
                .select(Study::as_select())
                .load(conn)?;
            all.iter()
                .map(|s| report::summary(conn, s))
                .collect::<ApiResult<Vec<_>>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(summaries))
}

/// `GET /api/method-pairs` (staff): agreement and win/tie/lose per method pair, over all studies.
pub async fn method_pairs(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    caller.require_staff()?;
    let pairs = state.db(studies::method_pairs::method_pairs).await?;
    Ok(HttpResponse::Ok().json(pairs))
}

/// `GET /api/method-pairs/win_tie_lose.svg` (staff): Figure 3 with a bar per judged pair.
pub async fn method_pairs_svg(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    caller.require_staff()?;
    let bars = state
        .db(studies::method_pairs::method_pairs_win_tie_lose)
        .await?;
    if bars.is_empty() {
        return Err(ApiError::not_found(
            "no judgements yet: the chart appears with the first one",
        ));
    }
    Ok(svg_response(charts::method_pairs_svg(&bars)?))
}

/// Loads study `id` for a staff caller and applies `view` to it on the database thread.
async fn staff_view<T: Send + 'static>(
    state: &AppState,
    caller: &Caller,
    id: i32,
    view: impl FnOnce(&mut crate::db::Db, &Study) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    caller.require_staff()?;
    state
        .db(move |conn| {
            let study = studies::load(conn, id)?;
            view(conn, &study)
        })
        .await
}

pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    let summary = staff_view(&state, &caller, path.into_inner(), report::summary).await?;
    Ok(HttpResponse::Ok().json(summary))
}

pub async fn full_report(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    let report = staff_view(&state, &caller, path.into_inner(), report::report).await?;
    Ok(HttpResponse::Ok().json(report))
}

pub async fn agreement(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    let agreement = staff_view(&state, &caller, path.into_inner(), |conn, study| {
        let rows = report::load_judgements(conn, study.id)?;
        Ok(report::study_agreement(study, &rows))
    })
    .await?;
    Ok(HttpResponse::Ok().json(agreement))
}

/// One export format: its renderer, content type and file extension.
type Export = (
    fn(&[report::JudgementRow]) -> anyhow::Result<String>,
    &'static str,
    &'static str,
);
const CSV: Export = (export::csv, "text/csv; charset=utf-8", "csv");
const JSONL: Export = (export::jsonl, "application/x-ndjson", "jsonl");

pub async fn judgements_csv(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    download(&state, &caller, path.into_inner(), CSV).await
}

pub async fn judgements_jsonl(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    download(&state, &caller, path.into_inner(), JSONL).await
}

/// Every judgement of study `id` as a file download.
async fn download(
    state: &AppState,
    caller: &Caller,
    id: i32,
    (render, content_type, extension): Export,
) -> ApiResult<HttpResponse> {
    let body = staff_view(state, caller, id, move |conn, study| {
        Ok(render(&report::load_judgements(conn, study.id)?)?)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"study-{id}-judgements.{extension}\""),
        ))
        .body(body))
}

/// `GET /api/studies/{id}/win_tie_lose.svg` (staff): the paper's Figure 3 for this study.
pub async fn win_tie_lose_svg(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    let svg = staff_view(&state, &caller, path.into_inner(), |conn, study| {
        let rows = report::load_judgements(conn, study.id)?;
        let wtl = report::study_win_tie_lose(study, &rows).ok_or_else(|| {
            ApiError::not_found("no judgements yet: the chart appears with the first one")
        })?;
        Ok(charts::win_tie_lose_svg(
            &study.method_a,
            &study.method_b,
            &wtl,
        )?)
    })
    .await?;
    Ok(svg_response(svg))
}

/// `GET /api/studies/{id}/items/{item}/profile.svg` (the study's annotators and staff): the
/// target group's profile beside the pair. It names no method, so annotators may see it.
pub async fn profile_svg(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i32, i32)>,
) -> ApiResult<HttpResponse> {
    let (id, item_id) = path.into_inner();
    if caller.require_staff().is_err() {
        caller.require_annotator_of(id)?;
    }
    let svg = state
        .db(move |conn| {
            let profile: String = study_items::table
                .filter(study_items::study_id.eq(id))
                .filter(study_items::id.eq(item_id))
                .select(study_items::profile)
                .first(conn)
                .optional()?
                .ok_or_else(|| ApiError::not_found(format!("study {id} has no item {item_id}")))?;
            let scores: [f64; VALUE_COUNT] = serde_json::from_str(&profile)
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("item {item_id} profile: {e}")))?;
            Ok(charts::profile_svg(&scores)?)
        })
        .await?;
    Ok(svg_response(svg))
}

fn svg_response(svg: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "private, max-age=300"))
        .body(svg)
}
