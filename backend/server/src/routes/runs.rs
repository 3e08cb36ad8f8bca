//! The results explorer's API: `POST /api/runs/import` (admin), `GET /api/runs` with filters,
//! `GET /api/runs/{id}` with its results, `GET /api/runs/{id}/table.csv`; several runs side by
//! side: `GET /api/runs/compare` (JSON), `/api/runs/compare.csv`, and their charts
//! `GET /api/runs/charts/{nmse|radar|scatter}.svg` (admins and members).

use crate::auth::Caller;
use crate::db::models::Run;
use crate::error::{ApiError, ApiResult};
use crate::runs::{self, compare, import};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;
use valuelab_common::api::auth::Role;
use valuelab_common::api::runs::{ImportRunsRequest, RunFilter};
use valuelab_engine::eval::report::{plots, Report};
use valuelab_engine::eval::RunResult;

const TASKS: [&str; 4] = ["pvq", "valuenet", "ess", "args"];
const STATUSES: [&str; 2] = ["done", "incomplete"];

pub async fn import_runs(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<ImportRunsRequest>,
) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let paths = body.into_inner().paths;
    let imported = state.db(move |conn| import::import(conn, &paths)).await?;
    Ok(HttpResponse::Ok().json(imported))
}

/// Empty filters (`?task=`) mean no filter; a task or status that cannot exist is a 400.
fn checked(filter: RunFilter) -> ApiResult<RunFilter> {
    let given = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let filter = RunFilter {
        task: given(filter.task),
        method: given(filter.method),
        group: given(filter.group),
        status: given(filter.status),
    };
    for (name, value, allowed) in [
        ("task", &filter.task, &TASKS[..]),
        ("status", &filter.status, &STATUSES[..]),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !allowed.contains(v)) {
            return Err(ApiError::BadRequest(format!(
                "{name}: '{v}' is not one of {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(filter)
}

pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<RunFilter>,
) -> ApiResult<HttpResponse> {
    caller.require_staff()?;
    let filter = checked(query.into_inner())?;
    let list = state.db(move |conn| runs::list(conn, &filter)).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Run `id` and its results: the row from the database, then `results.json` read off the
/// database threads (file work must not hold a connection).
async fn with_results(state: &AppState, id: i32) -> ApiResult<(Run, Option<RunResult>)> {
    let run = state.db(move |conn| runs::load(conn, id)).await?;
    web::block(move || runs::results(&run).map(|results| (run, results))).await?
}

/// `{run, results, table, info, studies}`: results is the folder's `results.json`, null while
/// the run is incomplete; table its rows per group (empty while incomplete); info its
/// `run.json` (settings, provenance, timings); studies the annotation studies built on it.
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    caller.require_staff()?;
    let (run, results) = with_results(&state, path.into_inner()).await?;
    let table = results.as_ref().map(runs::group_rows).unwrap_or_default();
    let (info, run) = web::block(move || (runs::info(&run), run)).await?;
    let (studies, run) = state
        .db(move |conn| Ok((runs::studies::studies_of(conn, &run)?, run)))
        .await?;
    let run = runs::summary(&run)?;
    Ok(HttpResponse::Ok().json(
        json!({"run": run, "results": results, "table": table, "info": info, "studies": studies}),
    ))
}

pub async fn table_csv(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    caller.require_staff()?;
    let id = path.into_inner();
    let results = with_results(&state, id).await?.1.ok_or_else(|| {
        ApiError::not_found(format!(
            "run {id} is incomplete: its table appears when it finishes"
        ))
    })?;
    let csv = runs::table_csv(&results)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"run-{id}.csv\""),
        ))
        .body(csv))
}

#[derive(Debug, Deserialize)]
pub struct CompareQuery {
    pub ids: String,
    pub baseline: Option<i32>,
}

/// The runs of `ids` and their report, built off the database threads.
async fn report_of(state: &AppState, ids: &str) -> ApiResult<(Vec<Run>, Report)> {
    let ids = compare::parse_ids(ids)?;
    let runs = state.db(move |conn| compare::load_all(conn, &ids)).await?;
    web::block(move || compare::report(&runs).map(|report| (runs, report))).await?
}

/// `GET /api/runs/compare?ids=3,5&baseline=3`.
pub async fn compare_runs(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<CompareQuery>,
) -> ApiResult<HttpResponse> {
    caller.require_staff()?;
    let (runs, report) = report_of(&state, &query.ids).await?;
    let comparison = compare::compare(&runs, &report, query.baseline)?;
    Ok(HttpResponse::Ok().json(comparison))
}

/// `GET /api/runs/compare.csv?ids=3,5&baseline=3`.
pub async fn compare_csv(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<CompareQuery>,
) -> ApiResult<HttpResponse> {
    caller.require_staff()?;
    let (runs, report) = report_of(&state, &query.ids).await?;
    let comparison = compare::compare(&runs, &report, query.baseline)?;
    let csv = compare::comparison_csv(&comparison)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"comparison.csv\"",
        ))
        .body(csv))
}

#[derive(Debug, Deserialize)]
pub struct ChartQuery {
    pub ids: String,
    /// The radar's group (by name; default the first).
    pub group: Option<String>,
}

/// `GET /api/runs/charts/{chart}.svg?ids=3,5[&group=G]`: `nmse` (bars per category and
/// method), `radar` (target vs model per value, one group), `scatter` (group size vs NMSE).
pub async fn chart_svg(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<ChartQuery>,
) -> ApiResult<HttpResponse> {
    caller.require_staff()?;
    let chart = path.into_inner();
    let chart = chart.strip_suffix(".svg").unwrap_or(&chart).to_string();
    if !["nmse", "radar", "scatter"].contains(&chart.as_str()) {
        return Err(ApiError::not_found(format!(
            "no chart '{chart}': nmse.svg, radar.svg or scatter.svg"
        )));
    }
    let (_, report) = report_of(&state, &query.ids).await?;
    let task = report
        .tasks
        .first()
        .ok_or_else(|| ApiError::not_found("these runs have no scored answers to draw"))?;
    let group = match &query.group {
        Some(name) => task
            .groups
            .iter()
            .position(|g| &g.group == name)
            .ok_or_else(|| {
                ApiError::bad_request(format!("group: '{name}' is not a group of these runs"))
            })?,
        None => 0,
    };
    let svg = match chart.as_str() {
        "nmse" => plots::nmse_bars(task),
        "radar" => plots::radar(task, group),
        _ => plots::size_scatter(task),
    }
    .map_err(|e| ApiError::Internal(anyhow::anyhow!("drawing {chart}: {e}")))?
    .ok_or_else(|| {
        ApiError::not_found(format!(
            "no {chart} chart for these runs (the task or the groups lack what it plots)"
        ))
    })?;
    Ok(HttpResponse::Ok().content_type("image/svg+xml").body(svg))
}
