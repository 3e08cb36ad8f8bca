//! `/`: what valuelab does, the ten values, the server status, and where to go next.

use crate::pages::{me, start_page};
use crate::{api, status::status_line};
use leptos::prelude::*;
use valuelab_common::{Value, ALL_VALUES};

#[component]
pub fn Home() -> impl IntoView {
    // LocalResource: the fetch future is not Send in the browser.
    let health = LocalResource::new(api::fetch_health);
    let who = LocalResource::new(me);
    view! {
        <main>
            <h1>"valuelab"</h1>
            <p>
                "Inject a target distribution of Schwartz's ten basic values into a language model, "
                "then ask it survey items, scenarios and opinion questions and compare its answers "
                "with those of real people who hold those values."
            </p>
            <nav>
                {move || match who.get().flatten() {
                    Some(me) => view! {
                        <a href=start_page(&me)>{format!("Continue as {}", me.username)}</a>
                    }.into_any(),
                    None => view! { <a href="/login">"Log in"</a> }.into_any(),
                }}
            </nav>
            <ValueTable/>
            <footer>{move || status_line(health.get().as_ref())}</footer>
        </main>
    }
}

#[component]
fn ValueTable() -> impl IntoView {
    view! {
        <table class="values">
            <thead>
                <tr><th>"Value"</th><th>"Abbr."</th><th>"Defining goal"</th></tr>
            </thead>
            <tbody>{ALL_VALUES.iter().copied().map(value_row).collect_view()}</tbody>
        </table>
    }
}

fn value_row(value: Value) -> impl IntoView {
    view! {
        <tr>
            <td>{value.name()}</td>
            <td>{value.abbreviation()}</td>
            <td>{value.definition()}</td>
        </tr>
    }
}
