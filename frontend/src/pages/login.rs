//! `/login`: username and password; on success, the person's start page.

use crate::api;
use crate::pages::start_page;
use leptos::prelude::*;
use leptos::task::spawn_local;
use valuelab_common::api::auth::{Credentials, Me};

#[component]
pub fn Login() -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = Credentials {
            username: username.get_untracked(),
            password: password.get_untracked(),
        };
        spawn_local(async move {
            match api::required(api::post::<_, Me>("/api/auth/login", &body).await) {
                Ok(me) => api::go(&start_page(&me)),
                Err(failure) => error.set(Some(failure.message)),
            }
        });
    };
    view! {
        <main class="narrow">
            <h1>"Log in to valuelab"</h1>
            <form on:submit=submit>
                <label>"Username" <input id="username" autocomplete="username" bind:value=username/></label>
                <label>"Password" <input id="password" type="password" autocomplete="current-password" bind:value=password/></label>
                <button type="submit">"Log in"</button>
            </form>
            {move || error.get().map(|e| view! { <p class="error">{e}</p> })}
        </main>
    }
}
