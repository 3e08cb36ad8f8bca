//! `/login`: username and password; on success, the person's start page.

use crate::pages::CredentialsForm;
use leptos::prelude::*;

#[component]
pub fn Login() -> impl IntoView {
    view! {
        <main class="narrow">
            <h1>"Log in to valuelab"</h1>
            <CredentialsForm path="/api/auth/login".to_string() button="Log in" new_password=false/>
        </main>
    }
}
