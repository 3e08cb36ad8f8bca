//! One module per page; `app` picks one from the URL.

pub mod annotate;
pub mod compare;
pub mod home;
pub mod job;
pub mod jobs;
pub mod join;
pub mod login;
pub mod population;
pub mod report;
pub mod runs;
pub mod studies;

use crate::api::{self, Failure};
use leptos::prelude::*;
use leptos::task::spawn_local;
use valuelab_common::api::auth::{Credentials, Me, Role};

/// Where a person starts after logging in or joining.
pub fn start_page(me: &Me) -> String {
    match (me.role, me.study_id) {
        (Role::Annotator, Some(study)) => format!("/annotate/{study}"),
        (Role::Annotator, None) => "/".to_string(),
        _ => "/studies".to_string(),
    }
}

/// A failure as the page shows it; a lost session links to the login page.
pub fn failure_view(failure: Failure) -> AnyView {
    if failure.status == 401 {
        view! { <p class="error">{failure.message} " " <a href="/login">"Log in"</a></p> }
            .into_any()
    } else {
        view! { <p class="error">{failure.message}</p> }.into_any()
    }
}

/// The logged-in person, or `None`.
pub async fn me() -> Option<Me> {
    api::get::<Me>("/api/auth/me").await.ok().flatten()
}

/// Username and password posted to `path` (login, or accepting an invite); on success the
/// person's start page, else the server's reason under the form.
#[component]
pub fn CredentialsForm(path: String, button: &'static str, new_password: bool) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = Credentials {
            username: username.get_untracked(),
            password: password.get_untracked(),
        };
        let path = path.clone();
        spawn_local(async move {
            match api::required(api::post::<_, Me>(&path, &body).await) {
                Ok(me) => api::go(&start_page(&me)),
                Err(failure) => error.set(Some(failure.message)),
            }
        });
    };
    let autocomplete = if new_password {
        "new-password"
    } else {
        "current-password"
    };
    view! {
        <form on:submit=submit>
            <label>"Username" <input id="username" autocomplete="username" bind:value=username/></label>
            <label>"Password" <input id="password" type="password" autocomplete=autocomplete bind:value=password/></label>
            <button type="submit">{button}</button>
        </form>
        {move || error.get().map(|e| view! { <p class="error">{e}</p> })}
    }
}
