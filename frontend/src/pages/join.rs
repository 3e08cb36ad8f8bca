//! `/join/{token}`: a study's public link (the participant id comes from `?PROLIFIC_PID=` or
//! `?participant=`), and `/invite/{token}`: choose a username and password for an invite.

use crate::api;
use crate::pages::{failure_view, start_page};
use leptos::prelude::*;
use leptos::task::spawn_local;
use valuelab_common::api::auth::{Credentials, Me};

#[component]
pub fn Join(token: String) -> impl IntoView {
    let participant = api::query("PROLIFIC_PID").or_else(|| api::query("participant"));
    let path = match &participant {
        Some(id) => format!("/api/join/{token}?participant={}", urlencode(id)),
        None => format!("/api/join/{token}"),
    };
    let joined = LocalResource::new(move || {
        let path = path.clone();
        async move { api::required(api::get::<Me>(&path).await) }
    });
    view! {
        <main class="narrow">
            <h1>"Joining the study…"</h1>
            {move || joined.get().map(|result| match result {
                Ok(me) => {
                    api::go(&start_page(&me));
                    view! { <p>"Opening your study."</p> }.into_any()
                }
                Err(failure) => failure_view(failure),
            })}
        </main>
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[component]
pub fn AcceptInvite(token: String) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = Credentials {
            username: username.get_untracked(),
            password: password.get_untracked(),
        };
        let path = format!("/api/invites/{token}/accept");
        spawn_local(async move {
            match api::required(api::post::<_, Me>(&path, &body).await) {
                Ok(me) => api::go(&start_page(&me)),
                Err(failure) => error.set(Some(failure.message)),
            }
        });
    };
    view! {
        <main class="narrow">
            <h1>"You are invited to valuelab"</h1>
            <p>"Choose a username and a password (at least 8 characters)."</p>
            <form on:submit=submit>
                <label>"Username" <input id="username" autocomplete="username" bind:value=username/></label>
                <label>"Password" <input id="password" type="password" autocomplete="new-password" bind:value=password/></label>
                <button type="submit">"Create my account"</button>
            </form>
            {move || error.get().map(|e| view! { <p class="error">{e}</p> })}
        </main>
    }
}
