//! valuelab's web app: a Leptos client-side-rendered app compiled to WebAssembly and served by
//! `valuelab serve` from `static/pkg`: login and invites, the annotator's page of a pairwise
//! study (public links for anonymous participants), and the studies' agreement reports. Talks to
//! the server only through the wire types in `valuelab_common::api`; charts are the server's SVG.

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod pages;
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
