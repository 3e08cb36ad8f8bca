//! One module per page; `app` picks one from the URL.

pub mod annotate;
pub mod home;
pub mod join;
pub mod login;
pub mod report;
pub mod studies;

use crate::api::{self, Failure};
use leptos::prelude::*;
use valuelab_common::api::auth::{Me, Role};

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
