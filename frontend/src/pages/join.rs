//! `/join/{token}`: a study's public link (the participant id comes from `?PROLIFIC_PID=` or
//! `?participant=`), and `/invite/{token}`: choose a username and password for an invite.

use crate::api;
use crate::pages::{failure_view, start_page, CredentialsForm};
use leptos::prelude::*;
use valuelab_common::api::auth::Me;

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
    view! {
        <main class="narrow">
            <h1>"You are invited to valuelab"</h1>
            <p>"Choose a username and a password (at least 8 characters)."</p>
            <CredentialsForm path=format!("/api/invites/{token}/accept") button="Create my account" new_password=true/>
        </main>
    }
}
