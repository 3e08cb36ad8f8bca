//! The job queue's API: `POST /api/jobs` (admin) queues a job spec, `GET /api/jobs` and
//! `GET /api/jobs/{id}` show where jobs stand, `GET /api/jobs/{id}/log?after=N` their log
//! (admins and members); `POST /api/jobs/{id}/cancel` and `/resume` (admin). Saved specs for
//! the run form: `GET`/`POST /api/job-templates`, `DELETE /api/job-templates/{id}` (admin).

use crate::auth::Caller;
use crate::db::models::{JobTemplate, NewJobTemplate};
use crate::db::now_s;
use crate::db::schema::job_templates;
use crate::error::{ApiError, ApiResult};
use crate::jobs::submit::{self, SubmitContext};
use crate::jobs::{self};
use crate::state::{write_transaction, AppState};
use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use serde::Deserialize;
use serde_json::Value;
use valuelab_common::api::auth::Role;
use valuelab_common::api::jobs::{self as api, JobCreated};

/// Longest template name.
const MAX_TEMPLATE_NAME: usize = 100;

pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<Value>,
) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let jobs_dir = state.settings.jobs.dir()?;
    let data_dir = state.settings.data_dir.clone();
    let slurm = state.settings.jobs.slurm.is_some();
    // The spec check reads files (groups table, model path): off the async workers.
    let submission = web::block(move || {
        submit::parse(
            body.into_inner(),
            &SubmitContext {
                jobs_dir: &jobs_dir,
                data_dir: data_dir.as_deref(),
                slurm,
            },
        )
    })
    .await??;
    let (user, username) = (caller.user.id, caller.user.username.clone());
    let row = state
        .db(move |conn| submit::enqueue(conn, &submission, user, &username))
        .await?;
    Ok(HttpResponse::Created().json(JobCreated { id: row.id }))
}

#[derive(Debug, Deserialize)]
pub struct StatusFilter {
    pub status: Option<String>,
}

pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<StatusFilter>,
) -> ApiResult<HttpResponse> {
    caller.require_staff()?;
    let status = query
        .into_inner()
        .status
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let list = state
        .db(move |conn| jobs::list(conn, status.as_deref()))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    caller.require_staff()?;
    let id = path.into_inner();
    let (row, mut view) = state
        .db(move |conn| {
            let row = jobs::load(conn, id)?;
            let view = jobs::view(conn, &row)?;
            Ok((row, view))
        })
        .await?;
    view.tasks = web::block(move || jobs::array_tasks(&row)).await?;
    Ok(HttpResponse::Ok().json(view))
}

pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    change(&state, &caller, path.into_inner(), jobs::cancel).await
}

pub async fn resume(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    change(&state, &caller, path.into_inner(), jobs::resume).await
}

/// An admin's change of job `id` (cancel, resume), answered with the job as it is now.
async fn change(
    state: &AppState,
    caller: &Caller,
    id: i32,
    action: fn(&mut crate::db::Db, i32) -> ApiResult<crate::db::models::JobRow>,
) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let view = state
        .db(move |conn| {
            let row = action(conn, id)?;
            jobs::view(conn, &row)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize)]
pub struct LogQuery {
    #[serde(default)]
    pub after: i32,
}

pub async fn log(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
    query: web::Query<LogQuery>,
) -> ApiResult<HttpResponse> {
    caller.require_staff()?;
    let (id, after) = (path.into_inner(), query.after);
    let log = state.db(move |conn| jobs::log(conn, id, after)).await?;
    Ok(HttpResponse::Ok().json(log))
}

pub async fn templates(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let rows = state
        .db(|conn| {
            Ok(job_templates::table
                .order(job_templates::name.asc())
                .select(JobTemplate::as_select())
                .load(conn)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(template_view).collect::<Vec<_>>()))
}

fn template_view(row: JobTemplate) -> api::JobTemplate {
    api::JobTemplate {
        id: row.id,
        name: row.name,
        spec: row.spec,
    }
}

/// Saves a spec under a name (a name saved before is overwritten). The spec may be partial —
/// a starting point for the form — but must be a JSON object naming its job kind.
pub async fn save_template(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<api::NewJobTemplate>,
) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let api::NewJobTemplate { name, spec } = body.into_inner();
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_TEMPLATE_NAME || name.contains('\0') {
        return Err(ApiError::bad_request(format!(
            "name: give 1..{MAX_TEMPLATE_NAME} characters"
        )));
    }
    let parsed: Value = serde_json::from_str(&spec)
        .map_err(|e| ApiError::bad_request(format!("spec: not JSON ({e})")))?;
    if !parsed.get("job").is_some_and(Value::is_string) {
        return Err(ApiError::bad_request(
            "spec: a JSON object with its job kind (\"job\": \"eval\", ...), as --print-spec prints it",
        ));
    }
    let spec = serde_json::to_string_pretty(&parsed).expect("JSON values serialise");
    let user = caller.user.id;
    let row = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                diesel::delete(job_templates::table.filter(job_templates::name.eq(&name)))
                    .execute(conn)?;
                diesel::insert_into(job_templates::table)
                    .values(NewJobTemplate {
                        name: &name,
                        spec: &spec,
                        created_by: user,
                        created_at: now_s(),
                    })
                    .execute(conn)?;
                Ok(job_templates::table
                    .filter(job_templates::name.eq(&name))
                    .select(JobTemplate::as_select())
                    .first(conn)?)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(template_view(row)))
}

pub async fn delete_template(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let id = path.into_inner();
    let deleted = state
        .db(move |conn| {
            write_transaction(conn, |conn| {
                Ok(diesel::delete(job_templates::table.find(id)).execute(conn)?)
            })
        })
        .await?;
    if deleted == 0 {
        return Err(ApiError::not_found(format!("no job template {id}")));
    }
    Ok(HttpResponse::NoContent().finish())
}
