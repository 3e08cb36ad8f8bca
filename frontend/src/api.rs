//! Typed client of the server's JSON API (same origin, session cookie sent by the browser), over
//! the wire types of `valuelab_common::api`. Failures carry the server's `{error}` text, which
//! the pages show as it is: it already says what was wrong and how to fix it.

use gloo_net::http::{Request, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
use valuelab_common::api::{ErrorResponse, HealthResponse};

/// A failed call: the HTTP status (0 when the server was unreachable), what to show, and for a
/// form's 400 the message of each bad field (a dotted path such as `model.batch_size`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Failure {
    pub status: u16,
    pub message: String,
    pub fields: BTreeMap<String, String>,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub type ApiResult<T> = Result<T, Failure>;

fn unreachable(err: gloo_net::Error) -> Failure {
    Failure {
        status: 0,
        message: format!("the server cannot be reached ({err})"),
        fields: BTreeMap::new(),
    }
}

/// The body as `T`; `None` for 204 No Content; the server's error text otherwise.
async fn read<T: DeserializeOwned>(response: Response) -> ApiResult<Option<T>> {
    let status = response.status();
    if status == 204 {
        return Ok(None);
    }
    if !response.ok() {
        let (message, fields) = match response.json::<ErrorResponse>().await {
            Ok(body) => (body.error, body.fields),
            Err(_) => (format!("the server answered {status}"), BTreeMap::new()),
        };
        return Err(Failure {
            status,
            message,
            fields,
        });
    }
    response.json::<T>().await.map(Some).map_err(|err| Failure {
        status,
        message: format!("unexpected answer from {}: {err}", response.url()),
        fields: BTreeMap::new(),
    })
}

pub async fn get<T: DeserializeOwned>(path: &str) -> ApiResult<Option<T>> {
    read(Request::get(path).send().await.map_err(unreachable)?).await
}

pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> ApiResult<Option<T>> {
    let request = Request::post(path).json(body).map_err(unreachable)?;
    read(request.send().await.map_err(unreachable)?).await
}

pub async fn delete<T: DeserializeOwned>(path: &str) -> ApiResult<Option<T>> {
    read(Request::delete(path).send().await.map_err(unreachable)?).await
}

/// A call whose answer has a body: 204 counts as a failure here.
pub fn required<T>(value: ApiResult<Option<T>>) -> ApiResult<T> {
    value.and_then(|v| {
        v.ok_or(Failure {
            status: 204,
            message: "the server sent no content".to_string(),
            fields: BTreeMap::new(),
        })
    })
}

pub async fn fetch_health() -> Result<HealthResponse, String> {
    required(get("/api/health").await).map_err(|f| f.message)
}

/// Goes to another page of the app (a full load: each page fetches its own state).
pub fn go(path: &str) {
    let _ = leptos::prelude::window().location().set_href(path);
}

/// A query parameter of the page's own URL.
pub fn query(name: &str) -> Option<String> {
    let search = leptos::prelude::window().location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
        .filter(|v| !v.is_empty())
}
