//! A simulation job's results for the explorer (admins and members):
//! `GET /api/jobs/{id}/simulation` — its summary against people and the theory's checks — and
//! `GET /api/jobs/{id}/simulation/{file}` — its plots and tables, only the files named in
//! `valuelab_common::api::populations::SIMULATION_FILES`, read from the job's output folder.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::jobs;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use std::path::{Path, PathBuf};
use valuelab_common::api::populations::{SimulationResults, TheoryCheckView, SIMULATION_FILES};
use valuelab_engine::population::read_summary;
use valuelab_engine::population::summary::is_simulation;

/// The output folder of simulation job `id`, once it has results.
async fn results_dir(state: &web::Data<AppState>, id: i32) -> ApiResult<PathBuf> {
    let row = state.db(move |conn| jobs::load(conn, id)).await?;
    if row.kind != "simulate" {
        return Err(ApiError::not_found(format!(
            "job {id} is a {} job, not a simulation",
            row.kind
        )));
    }
    let dir = PathBuf::from(&row.out);
    if !is_simulation(&dir) {
        return Err(ApiError::not_found(format!(
            "job {id} has no results yet (it is {}; they appear when it is done)",
            row.status
        )));
    }
    Ok(dir)
}

/// Where a results file lies in the folder: the structure's files under `structure/`.
fn file_path(dir: &Path, name: &str) -> PathBuf {
    match name {
        "circumplex.svg" | "matrix.svg" | "structure.json" => dir.join("structure").join(name),
        _ => dir.join(name),
    }
}

pub async fn simulation(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i32>,
) -> ApiResult<HttpResponse> {
    caller.require_staff()?;
    let id = path.into_inner();
    let dir = results_dir(&state, id).await?;
    let results = web::block(move || -> ApiResult<SimulationResults> {
        let s = read_summary(&dir).map_err(|e| ApiError::Internal(e.into()))?;
        let structure: serde_json::Value =
            std::fs::read_to_string(file_path(&dir, "structure.json"))
                .ok()
                .and_then(|text| serde_json::from_str(&text).ok())
                .unwrap_or_default();
        let checks: Vec<TheoryCheckView> =
            serde_json::from_value(structure["checks"].clone()).unwrap_or_default();
        Ok(SimulationResults {
            job_id: id,
            strategy: s.strategy.to_string(),
            method: s.method.to_string(),
            model: s.model,
            n: s.n,
            speakers: s.speakers,
            instruments: s.instruments.iter().map(|i| i.to_string()).collect(),
            matrix_r_raw: s.matrix_r_raw,
            matrix_r_centred: s.matrix_r_centred,
            procrustes_congruence: s.procrustes_congruence,
            wasserstein_mean: s.wasserstein_mean,
            relations_r: s.relations_r,
            reference: s.reference,
            ceiling_raw: s.ceiling_raw,
            ceiling_centred: s.ceiling_centred,
            human_without_dominant: s.human_without_dominant,
            checks,
            files: SIMULATION_FILES
                .iter()
                .filter(|f| file_path(&dir, f).is_file())
                .map(|f| f.to_string())
                .collect(),
        })
    })
    .await??;
    Ok(HttpResponse::Ok().json(results))
}

pub async fn simulation_file(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i32, String)>,
) -> ApiResult<HttpResponse> {
    caller.require_staff()?;
    let (id, name) = path.into_inner();
    // Only the listed names: a request never reaches another path of the disk.
    if !SIMULATION_FILES.contains(&name.as_str()) {
        return Err(ApiError::not_found(format!(
            "no file '{name}': one of {}",
            SIMULATION_FILES.join(", ")
        )));
    }
    let dir = results_dir(&state, id).await?;
    let file = file_path(&dir, &name);
    let bytes = web::block(move || std::fs::read(&file))
        .await?
        .map_err(|_| ApiError::not_found(format!("this simulation has no {name}")))?;
    let content_type = match name.rsplit('.').next() {
        Some("svg") => "image/svg+xml",
        Some("csv") => "text/csv; charset=utf-8",
        _ => "application/json",
    };
    Ok(HttpResponse::Ok().content_type(content_type).body(bytes))
}
