//! The app's pages, chosen by the URL path at load. Every page is a full page load that fetches
//! its own state from the API, so a reload always resumes where the server says the person is;
//! that is all the routing the app needs, so it has no client-side router.

use crate::pages::{annotate, compare, home, job, jobs, join, login, report, runs, studies};
use leptos::prelude::*;

#[component]
pub fn App() -> impl IntoView {
    let path = window().location().pathname().unwrap_or_default();
    let parts: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    match parts.as_slice() {
        ["login"] => login::Login().into_any(),
        ["studies"] => studies::Studies().into_any(),
        ["studies", id] => match id.parse::<i32>() {
            Ok(id) => view! { <report::Report id=id/> }.into_any(),
            Err(_) => not_found(&path).into_any(),
        },
        ["annotate", id] => match id.parse::<i32>() {
            Ok(id) => view! { <annotate::Annotate id=id/> }.into_any(),
            Err(_) => not_found(&path).into_any(),
        },
        ["jobs"] => jobs::Jobs().into_any(),
        ["jobs", id] => match id.parse::<i32>() {
            Ok(id) => view! { <job::Job id=id/> }.into_any(),
            Err(_) => not_found(&path).into_any(),
        },
        ["runs"] => runs::Runs().into_any(),
        ["compare"] => compare::Compare().into_any(),
        ["runs", id] => match id.parse::<i32>() {
            Ok(id) => view! { <runs::Run id=id/> }.into_any(),
            Err(_) => not_found(&path).into_any(),
        },
        ["join", token] => view! { <join::Join token=token.to_string()/> }.into_any(),
        ["invite", token] => view! { <join::AcceptInvite token=token.to_string()/> }.into_any(),
        [] => home::Home().into_any(),
        _ => not_found(&path).into_any(),
    }
}

fn not_found(path: &str) -> impl IntoView {
    view! {
        <main>
            <h1>"Not found"</h1>
            <p>"valuelab has no page " <code>{path.to_string()}</code> ". " <a href="/">"Home"</a></p>
        </main>
    }
}
