//! The results explorer's API: `POST /api/runs/import` (admin), `GET /api/runs` with filters,
//! `GET /api/runs/{id}` with its results, `GET /api/runs/{id}/table.csv` (admins and members).

use crate::auth::Caller;
use crate::db::models::Run;
use crate::error::{ApiError, ApiResult};
use crate::runs::{self, import};
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use serde_json::json;
use valuelab_common::api::auth::Role;
use valuelab_common::api::runs::{ImportRunsRequest, RunFilter};
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

/// `{run, results}`: results is the folder's `results.json`, null while the run is incomplete.
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    caller.require_staff()?;
    let (run, results) = with_results(&state, path.into_inner()).await?;
    let run = runs::summary(&run)?;
    Ok(HttpResponse::Ok().json(json!({"run": run, "results": results})))
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
