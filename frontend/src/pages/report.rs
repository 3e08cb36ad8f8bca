//! `/studies/{id}` (admins and members): agreement with intervals, win / tie / lose (the
//! server's SVG), position bias, each annotator, the least agreed items, exports, and for
//! admins the public link and invites.

use crate::api;
use crate::pages::failure_view;
use leptos::prelude::*;
use leptos::task::spawn_local;
use valuelab_common::agreement::Coefficient;
use valuelab_common::api::auth::{InviteRequest, InviteResponse, Role};
use valuelab_common::api::studies::{AnnotatorReport, ItemDisagreement, StudyReport};

fn number(x: Option<f64>) -> String {
    x.map_or("–".to_string(), |v| format!("{v:.3}"))
}

fn coefficient_row(name: &'static str, c: Coefficient) -> impl IntoView {
    let interval = match (c.ci_low, c.ci_high) {
        (Some(lo), Some(hi)) => format!("[{lo:.3}, {hi:.3}]"),
        _ => "–".to_string(),
    };
    view! {
        <tr>
            <td>{name}</td>
            <td class="num">{number(c.value)}</td>
            <td class="num">{interval}</td>
            <td>{c.note.unwrap_or_default()}</td>
        </tr>
    }
}

#[component]
pub fn Report(id: i32) -> impl IntoView {
    let report = LocalResource::new(move || async move {
        api::required(api::get::<StudyReport>(&format!("/api/studies/{id}/report")).await)
    });
    view! {
        <main>
            <p><a href="/studies">"← all studies"</a></p>
            {move || report.get().map(|result| match result {
                Ok(report) => report_view(id, report).into_any(),
                Err(failure) => failure_view(failure),
            })}
        </main>
    }
}

fn report_view(id: i32, r: StudyReport) -> impl IntoView {
    let s = r.study.clone();
    let a = r.agreement.clone();
    let bias = r.position_bias.clone();
    view! {
        <h1>{s.name.clone()}</h1>
        <p>
            {format!("A = {} ({}), B = {} ({}); {} items, {} complete, {} judgements by {} annotators; k = {}.",
                s.method_a, s.run_a, s.method_b, s.run_b, s.items, s.complete_items, s.judgements, s.annotators, s.annotators_per_item)}
        </p>
        <h2>"Agreement"</h2>
        <p>{format!("Over {} items with at least two judgements; 95 % bootstrap intervals over items.", a.n_items)}</p>
        <table id="agreement" class="agreement">
            <thead><tr><th>"Coefficient"</th><th>"Value"</th><th>"95 % interval"</th><th>"Note"</th></tr></thead>
            <tbody>
                {coefficient_row("Fleiss' kappa", a.fleiss_kappa)}
                {coefficient_row("Krippendorff's alpha (nominal)", a.krippendorff_alpha)}
                {coefficient_row("Gwet's AC1", a.gwet_ac1)}
                {coefficient_row("Percent agreement", a.percent_agreement)}
            </tbody>
        </table>
        <h2>"Win / tie / lose"</h2>
        {match r.win_tie_lose {
            Some(_) => view! { <img id="win-tie-lose" alt="win / tie / lose chart" src=format!("/api/studies/{id}/win_tie_lose.svg")/> }.into_any(),
            None => view! { <p>"No judgement yet."</p> }.into_any(),
        }}
        <p>{format!("Position bias: left chosen in {} of {} decisive judgements (share {}, p = {}).",
            bias.left, bias.decisive, number(bias.left_share), number(bias.p_value))}</p>
        <h2>"Annotators"</h2>
        <table class="annotators">
            <thead><tr><th>"Annotator"</th><th>"Judgements"</th><th>"With the majority"</th><th>"Attention checks"</th><th>"Median s / item"</th><th></th></tr></thead>
            <tbody>{r.annotators.into_iter().map(annotator_row).collect_view()}</tbody>
        </table>
        <h2>"Least agreed items"</h2>
        <table class="disagreements">
            <thead><tr><th>"Group"</th><th>"Conclusion"</th><th>"A"</th><th>"B"</th><th>"Tie"</th><th>"Agreement"</th></tr></thead>
            <tbody>{r.disagreements.into_iter().map(disagreement_row).collect_view()}</tbody>
        </table>
        <h2>"Export"</h2>
        <p>
            <a href=format!("/api/studies/{id}/judgements.csv")>"judgements.csv"</a> " · "
            <a href=format!("/api/studies/{id}/judgements.jsonl")>"judgements.jsonl"</a>
        </p>
        <Invites id=id public_url=s.public_url/>
    }
}

fn annotator_row(a: AnnotatorReport) -> impl IntoView {
    view! {
        <tr>
            <td>{a.annotator}</td>
            <td class="num">{a.judgements}</td>
            <td class="num">{format!("{}/{} ({})", a.with_majority.agreed, a.with_majority.items, number(a.with_majority.rate))}</td>
            <td class="num">{format!("{}/{}", a.attention_passed, a.attention_checks)}</td>
            <td class="num">{number(a.median_seconds)}</td>
            <td>{if a.excluded { "excluded (attention checks)" } else { "" }}</td>
        </tr>
    }
}

fn disagreement_row(d: ItemDisagreement) -> impl IntoView {
    view! {
        <tr>
            <td>{d.group}</td><td>{d.conclusion}</td>
            <td class="num">{d.a}</td><td class="num">{d.b}</td><td class="num">{d.tie}</td>
            <td class="num">{number(d.agreement)}</td>
        </tr>
    }
}

/// The public link and one-time invites (the server refuses non-admins).
#[component]
fn Invites(id: i32, public_url: String) -> impl IntoView {
    let links = RwSignal::new(Vec::<String>::new());
    let error = RwSignal::new(None::<String>);
    let origin = window().location().origin().unwrap_or_default();
    let public = format!("{origin}{public_url}?PROLIFIC_PID=");
    let invite = move |count: u32| {
        let origin = window().location().origin().unwrap_or_default();
        spawn_local(async move {
            let body = InviteRequest {
                role: Role::Annotator,
                count,
            };
            match api::required(
                api::post::<_, Vec<InviteResponse>>(&format!("/api/studies/{id}/invites"), &body)
                    .await,
            ) {
                Ok(invites) => links.set(
                    invites
                        .into_iter()
                        .map(|i| format!("{origin}{}", i.url))
                        .collect(),
                ),
                Err(failure) => error.set(Some(failure.message)),
            }
        });
    };
    view! {
        <h2>"Invite annotators"</h2>
        <p>"Public link (append the participant id): " <code id="public-link">{public}</code></p>
        <button id="invite-3" on:click=move |_| invite(3)>"Invite 3 annotators"</button>
        <ul id="invite-links">{move || links.get().into_iter().map(|l| view! { <li><code>{l}</code></li> }).collect_view()}</ul>
        {move || error.get().map(|e| view! { <p class="error">{e}</p> })}
    }
}
