//! `GET /api/health`: liveness and build version, for load balancers and the frontend's footer.

use actix_web::HttpResponse;
use valuelab_common::api::HealthResponse;

pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse {
        status: "ok".to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    })
}
