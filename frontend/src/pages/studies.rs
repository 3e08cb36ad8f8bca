//! `/studies` (admins and members): every study with its progress; admins create one from two
//! `eval args` run folders.

use crate::api;
use crate::pages::failure_view;
use leptos::prelude::*;
use leptos::task::spawn_local;
use valuelab_common::agreement::Coefficient;
use valuelab_common::api::studies::{
    CreateStudyRequest, CreateStudyResponse, MethodPairReport, StudySummary,
};
use valuelab_common::pairwise::Share;

#[component]
pub fn Studies() -> impl IntoView {
    let list = LocalResource::new(|| async {
        api::required(api::get::<Vec<StudySummary>>("/api/studies").await)
    });
    view! {
        <main>
            <nav><a href="/runs">"Runs"</a> " · " <a href="/jobs">"Jobs"</a></nav>
            <h1>"Annotation studies"</h1>
            {move || list.get().map(|result| match result {
                Ok(studies) if studies.is_empty() => view! { <p>"No study yet."</p> }.into_any(),
                Ok(studies) => view! {
                    <table class="studies">
                        <thead><tr>
                            <th>"Study"</th><th>"A"</th><th>"B"</th><th>"Items"</th>
                            <th>"Complete"</th><th>"Judgements"</th><th>"Annotators"</th>
                        </tr></thead>
                        <tbody>{studies.into_iter().map(study_row).collect_view()}</tbody>
                    </table>
                }.into_any(),
                Err(failure) => failure_view(failure),
            })}
            <MethodPairs/>
            <CreateStudy/>
        </main>
    }
}

fn study_row(s: StudySummary) -> impl IntoView {
    view! {
        <tr>
            <td><a href=format!("/studies/{}", s.id)>{s.name}</a></td>
            <td>{s.method_a}</td>
            <td>{s.method_b}</td>
            <td>{s.items}</td>
            <td>{s.complete_items}</td>
            <td>{s.judgements}</td>
            <td>{s.annotators}</td>
        </tr>
    }
}

/// Figure 3 over all studies: one row and one bar per method pair.
#[component]
fn MethodPairs() -> impl IntoView {
    let pairs = LocalResource::new(|| async {
        api::required(api::get::<Vec<MethodPairReport>>("/api/method-pairs").await)
    });
    move || {
        pairs.get().map(|result| match result {
            Ok(pairs) if pairs.iter().any(|p| p.judgements > 0) => view! {
                <section class="method-pairs">
                    <h2>"Method pairs over all studies"</h2>
                    <table>
                        <thead><tr>
                            <th>"A vs B"</th><th>"Studies"</th><th>"Items"</th><th>"Judgements"</th>
                            <th>"Fleiss' κ [95 %]"</th><th>"A wins"</th><th>"Ties"</th><th>"B wins"</th>
                        </tr></thead>
                        <tbody>{pairs.into_iter().map(pair_row).collect_view()}</tbody>
                    </table>
                    <img src="/api/method-pairs/win_tie_lose.svg" alt="win, tie and lose per method pair"/>
                </section>
            }
            .into_any(),
            // Nothing judged yet; or a failure the study list above already shows.
            Ok(_) | Err(_) => ().into_any(),
        })
    }
}

fn with_interval(c: &Coefficient) -> String {
    match (c.value, c.ci_low, c.ci_high) {
        (Some(v), Some(lo), Some(hi)) => format!("{v:.2} [{lo:.2}, {hi:.2}]"),
        (Some(v), _, _) => format!("{v:.2}"),
        _ => "–".to_string(),
    }
}

fn share(s: Option<&Share>) -> String {
    s.map_or("–".to_string(), |s| {
        format!("{:.0} % ({})", s.share * 100.0, s.count)
    })
}

fn pair_row(p: MethodPairReport) -> impl IntoView {
    let wtl = p.win_tie_lose.as_ref();
    view! {
        <tr>
            <td>{format!("{} vs {}", p.method_a, p.method_b)}</td>
            <td>{p.studies.iter().map(|id| view! { <a href=format!("/studies/{id}")>{format!("{id} ")}</a> }).collect_view()}</td>
            <td class="num">{p.items}</td>
            <td class="num">{p.judgements}</td>
            <td class="num">{with_interval(&p.agreement.fleiss_kappa)}</td>
            <td class="num">{share(wtl.map(|w| &w.a_wins))}</td>
            <td class="num">{share(wtl.map(|w| &w.ties))}</td>
            <td class="num">{share(wtl.map(|w| &w.b_wins))}</td>
        </tr>
    }
}

/// The admin's form; a member who submits it gets the server's 403 text.
#[component]
fn CreateStudy() -> impl IntoView {
    let name = RwSignal::new(String::new());
    let run_a = RwSignal::new(String::new());
    let run_b = RwSignal::new(String::new());
    let k = RwSignal::new("3".to_string());
    let quota = RwSignal::new(String::new());
    let attention = RwSignal::new(String::new());
    let guidelines = RwSignal::new(String::new());
    let message = RwSignal::new(None::<Result<String, String>>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let number = |s: String| s.trim().parse::<u32>().ok();
        let body = CreateStudyRequest {
            name: name.get_untracked(),
            run_a: run_a.get_untracked(),
            run_b: run_b.get_untracked(),
            annotators_per_item: number(k.get_untracked()),
            item_quota: number(quota.get_untracked()),
            guidelines: guidelines.get_untracked(),
            attention_every: number(attention.get_untracked()),
            attention_min_pass: None,
            lease_minutes: None,
            completion_url: None,
            seed: None,
        };
        spawn_local(async move {
            match api::required(api::post::<_, CreateStudyResponse>("/api/studies", &body).await) {
                Ok(created) => api::go(&format!("/studies/{}", created.id)),
                Err(failure) => message.set(Some(Err(failure.message))),
            }
        });
    };
    view! {
        <section>
            <h2>"New study (admins)"</h2>
            <form on:submit=submit class="create-study">
                <label>"Name" <input id="study-name" bind:value=name/></label>
                <label>"Run A (eval args folder)" <input id="run-a" bind:value=run_a/></label>
                <label>"Run B (eval args folder)" <input id="run-b" bind:value=run_b/></label>
                <label>"Annotators per item" <input id="k" type="number" min="1" bind:value=k/></label>
                <label>"Item quota per annotator (empty: none)" <input id="quota" type="number" min="1" bind:value=quota/></label>
                <label>"Attention check every n items (empty: none)" <input id="attention" type="number" min="1" bind:value=attention/></label>
                <label>"Guidelines (Markdown)" <textarea id="guidelines" rows="5" bind:value=guidelines></textarea></label>
                <button type="submit">"Create the study"</button>
            </form>
            {move || message.get().map(|m| match m {
                Ok(text) => view! { <p class="ok">{text}</p> }.into_any(),
                Err(text) => view! { <p class="error">{text}</p> }.into_any(),
            })}
        </section>
    }
}
