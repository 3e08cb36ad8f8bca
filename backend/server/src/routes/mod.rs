//! HTTP routes of the JSON API, one module per URL under `/api`. Every answer is JSON, errors
//! included (`valuelab_common::api::ErrorResponse`), so clients never parse HTML error pages.

mod health;
mod values;

use actix_web::{web, HttpRequest, HttpResponse};
use valuelab_common::api::ErrorResponse;

pub use health::health;
pub use values::list_values;

/// Mounts `/api/*`. A known path with the wrong method answers 405, an unknown path 404.
pub fn api(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .service(web::resource("/health").get(health))
            .service(web::resource("/values").get(list_values))
            .default_service(web::to(api_not_found)),
    );
}

async fn api_not_found(request: HttpRequest) -> HttpResponse {
    HttpResponse::NotFound().json(ErrorResponse {
        error: format!(
            "no API endpoint {} {} (known: GET /api/health, GET /api/values)",
            request.method(),
            request.path()
        ),
    })
}
