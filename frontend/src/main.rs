//! valuelab's web app: a Leptos client-side-rendered page compiled to WebAssembly and served by
//! `valuelab serve` from `static/pkg`. It shows Schwartz's ten values straight from
//! `valuelab_common` and the server's health from `GET /api/health`. Talks to the server only
//! through the wire types in `valuelab_common::api`.

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod app;
// Used by the wasm app only; compiled on the host too so its tests run with `cargo test`.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod status;

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "valuelab-frontend runs in a browser: build it with `scripts/build-frontend.sh` and open `valuelab serve`"
    );
}
