//! `GET /api/values`: Schwartz's ten values with names, abbreviations and definitions, in the
//! fixed order of every score vector the API will return.

use actix_web::HttpResponse;
use valuelab_common::api::ValuesResponse;

pub async fn list_values() -> HttpResponse {
    HttpResponse::Ok().json(ValuesResponse::all())
}
