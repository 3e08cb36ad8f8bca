//! Typed client of the server's JSON API (same origin), over the wire types of
//! `valuelab_common::api`. Errors become display strings: the page only shows them.

use gloo_net::http::Request;
use valuelab_common::api::HealthResponse;

pub async fn fetch_health() -> Result<HealthResponse, String> {
    let response = Request::get("/api/health")
        .send()
        .await
        .map_err(|err| err.to_string())?;
    if !response.ok() {
        return Err(format!("GET /api/health answered {}", response.status()));
    }
    response
        .json::<HealthResponse>()
        .await
        .map_err(|err| format!("GET /api/health sent unexpected JSON: {err}"))
}
