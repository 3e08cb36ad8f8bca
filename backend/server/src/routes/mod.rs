//! HTTP routes of the JSON API, one module per area under `/api`. Every answer is JSON, errors
//! included (`valuelab_common::api::ErrorResponse`), so clients never parse HTML error pages:
//! malformed bodies, paths and queries answer 400 with what was wrong, not actix's plain text.
//! Every route that reads or changes stored data takes the `auth::Caller` and checks its role.

mod annotate;
mod auth;
mod health;
mod invites;
mod jobs;
mod populations;
mod runs;
mod studies;
mod values;

use crate::error::ApiError;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use valuelab_common::api::ErrorResponse;

pub use health::health;
pub use values::list_values;

/// Largest JSON body accepted: a study request with long guidelines fits easily.
pub const MAX_JSON_BYTES: usize = 256 * 1024;

/// Mounts `/api/*`. A known path with the wrong method answers 405, an unknown path 404.
pub fn api(cfg: &mut web::ServiceConfig) {
    cfg.app_data(json_config())
        .app_data(web::PathConfig::default().error_handler(|err, _| {
            ApiError::not_found(format!("bad path: {err} (ids are whole numbers)")).into()
        }))
        .app_data(web::QueryConfig::default().error_handler(|err, _| {
            ApiError::bad_request(format!("bad query string: {err}")).into()
        }))
        .service(
            web::scope("/api")
                .wrap(from_fn(same_origin_only))
                .service(web::resource("/health").get(health))
                .service(web::resource("/values").get(list_values))
                .service(web::resource("/auth/login").post(auth::login))
                .service(web::resource("/auth/logout").post(auth::logout))
                .service(web::resource("/auth/me").get(auth::current_user))
                .service(web::resource("/invites/{token}/accept").post(invites::accept))
                .service(web::resource("/join/{study_token}").get(invites::join))
                .service(
                    web::resource("/studies")
                        .get(studies::list)
                        .post(studies::create),
                )
                .service(web::resource("/runs").get(runs::list))
                .service(web::resource("/runs/import").post(runs::import_runs))
                .service(web::resource("/runs/compare").get(runs::compare_runs))
                .service(web::resource("/runs/compare.csv").get(runs::compare_csv))
                .service(web::resource("/runs/charts/{chart}").get(runs::chart_svg))
                .service(web::resource("/runs/{id}").get(runs::get))
                .service(web::resource("/runs/{id}/table.csv").get(runs::table_csv))
                .service(web::resource("/jobs").get(jobs::list).post(jobs::create))
                .service(web::resource("/jobs/{id}").get(jobs::get))
                .service(web::resource("/jobs/{id}/cancel").post(jobs::cancel))
                .service(web::resource("/jobs/{id}/resume").post(jobs::resume))
                .service(web::resource("/jobs/{id}/log").get(jobs::log))
                .service(web::resource("/jobs/{id}/simulation").get(populations::simulation))
                .service(
                    web::resource("/jobs/{id}/simulation/{file}").get(populations::simulation_file),
                )
                .service(
                    web::resource("/job-templates")
                        .get(jobs::templates)
                        .post(jobs::save_template),
                )
                .service(web::resource("/job-templates/{id}").delete(jobs::delete_template))
                .service(web::resource("/method-pairs").get(studies::method_pairs))
                .service(
                    web::resource("/method-pairs/win_tie_lose.svg").get(studies::method_pairs_svg),
                )
                .service(web::resource("/studies/{id}").get(studies::get))
                .service(web::resource("/studies/{id}/report").get(studies::full_report))
                .service(web::resource("/studies/{id}/agreement").get(studies::agreement))
                .service(web::resource("/studies/{id}/judgements.csv").get(studies::judgements_csv))
                .service(
                    web::resource("/studies/{id}/judgements.jsonl").get(studies::judgements_jsonl),
                )
                .service(
                    web::resource("/studies/{id}/win_tie_lose.svg").get(studies::win_tie_lose_svg),
                )
                .service(
                    web::resource("/studies/{id}/items/{item}/profile.svg")
                        .get(studies::profile_svg),
                )
                .service(web::resource("/studies/{id}/invites").post(invites::create))
                .service(web::resource("/studies/{id}/intro").get(annotate::intro))
                .service(web::resource("/studies/{id}/consent").post(annotate::consent))
                .service(web::resource("/studies/{id}/next").get(annotate::next))
                .service(web::resource("/studies/{id}/progress").get(annotate::progress))
                .service(web::resource("/studies/{id}/judgements").post(annotate::judge))
                .service(web::resource("/studies/{id}/judgements/last").delete(annotate::undo))
                .default_service(web::to(api_not_found)),
        );
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_JSON_BYTES)
        .error_handler(|err, _| {
            use actix_web::error::JsonPayloadError;
            let message = match &err {
                JsonPayloadError::ContentType => {
                    "send the body as JSON with 'Content-Type: application/json'".to_string()
                }
                JsonPayloadError::Overflow { limit }
                | JsonPayloadError::OverflowKnownLength { limit, .. } => {
                    format!("request body too large (at most {limit} bytes)")
                }
                other => format!("bad JSON body: {other}"),
            };
            ApiError::bad_request(message).into()
        })
}

/// CSRF defence beside SameSite=Strict cookies: a state-changing request that a browser marks as
/// coming from another site's page (its `Origin` differs from this server) is refused.
async fn same_origin_only(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if unsafe_method {
        if let Some(origin) = request
            .headers()
            .get("origin")
            .and_then(|o| o.to_str().ok())
        {
            let host = request.connection_info().host().to_string();
            let origin_host = origin.split("://").nth(1).unwrap_or(origin);
            if origin_host != host {
                let response = ApiError::forbidden(format!(
                    "cross-site request refused (Origin {origin} is not this server, {host})"
                ))
                .error_response();
                return Ok(request.into_response(response).map_into_right_body());
            }
        }
    }
    next.call(request).await.map(|r| r.map_into_left_body())
}

async fn api_not_found(request: HttpRequest) -> HttpResponse {
    HttpResponse::NotFound().json(ErrorResponse {
        error: format!(
            "no API endpoint {} {} (see docs/api.md)",
            request.method(),
            request.path()
        ),
        fields: Default::default(),
    })
}
