//! `/annotate/{id}`: the annotator's page. Guidelines and consent first; then one pair at a
//! time — the target group's profile chart pinned beside it, the conclusion, the two arguments —
//! chosen with the buttons or the keys 1 (left), 2 (right), 0 (can't decide); U undoes the last
//! judgement. Each judgement is saved the moment it is made, so a reload resumes. At the end:
//! the completion code (and the recruiter's link, when the study has one).

use crate::api;
use crate::pages::failure_view;
use leptos::prelude::*;
use leptos::task::spawn_local;
use valuelab_common::api::studies::{
    JudgementRequest, JudgementResponse, NextItem, Progress, StudyIntro,
};
use valuelab_common::pairwise::Shown;

/// Markdown to HTML with raw HTML dropped, so guidelines cannot inject markup or scripts.
pub fn guidelines_html(markdown: &str) -> String {
    use pulldown_cmark::{html, Event, Parser};
    let events =
        Parser::new(markdown).filter(|e| !matches!(e, Event::Html(_) | Event::InlineHtml(_)));
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

#[derive(Clone, PartialEq)]
enum Stage {
    Loading,
    Consent(StudyIntro),
    Item(Box<NextItem>),
    Done(Progress),
    Failed(api::Failure),
}

#[component]
pub fn Annotate(id: i32) -> impl IntoView {
    let stage = RwSignal::new(Stage::Loading);
    let guidelines = RwSignal::new(String::new());
    let show_guidelines = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let notice = RwSignal::new(None::<String>);

    let load_next = move || {
        spawn_local(async move {
            match api::get::<NextItem>(&format!("/api/studies/{id}/next")).await {
                Ok(Some(item)) => stage.set(Stage::Item(Box::new(item))),
                Ok(None) => match api::required(
                    api::get::<Progress>(&format!("/api/studies/{id}/progress")).await,
                ) {
                    Ok(progress) => stage.set(Stage::Done(progress)),
                    Err(failure) => stage.set(Stage::Failed(failure)),
                },
                Err(failure) => stage.set(Stage::Failed(failure)),
            }
            busy.set(false);
        });
    };

    spawn_local(async move {
        match api::required(api::get::<StudyIntro>(&format!("/api/studies/{id}/intro")).await) {
            Ok(intro) => {
                guidelines.set(guidelines_html(&intro.guidelines));
                if intro.consented {
                    load_next();
                } else {
                    stage.set(Stage::Consent(intro));
                }
            }
            Err(failure) => stage.set(Stage::Failed(failure)),
        }
    });

    let consent = move |_| {
        spawn_local(async move {
            match api::post::<_, ()>(&format!("/api/studies/{id}/consent"), &()).await {
                Ok(_) => load_next(),
                Err(failure) => stage.set(Stage::Failed(failure)),
            }
        });
    };

    let choose = move |choice: Shown| {
        let Stage::Item(item) = stage.get_untracked() else {
            return;
        };
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        notice.set(None);
        let body = JudgementRequest {
            item_id: item.item_id,
            choice,
            active_seconds: None,
        };
        spawn_local(async move {
            match api::post::<_, JudgementResponse>(&format!("/api/studies/{id}/judgements"), &body)
                .await
            {
                Ok(_) => load_next(),
                Err(failure) => {
                    notice.set(Some(failure.message));
                    load_next();
                }
            }
        });
    };

    let undo = move || {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            match api::delete::<JudgementResponse>(&format!("/api/studies/{id}/judgements/last"))
                .await
            {
                Ok(_) => notice.set(Some(
                    "Your last judgement was undone; judge that pair again.".into(),
                )),
                Err(failure) => notice.set(Some(failure.message)),
            }
            load_next();
        });
    };

    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if !matches!(stage.get_untracked(), Stage::Item(_))
            || ev.ctrl_key()
            || ev.meta_key()
            || ev.alt_key()
        {
            return;
        }
        match ev.key().as_str() {
            "1" => choose(Shown::Left),
            "2" => choose(Shown::Right),
            "0" => choose(Shown::Tie),
            "u" | "U" => undo(),
            _ => {}
        }
    });
    on_cleanup(move || keys.remove());

    view! {
        <main class="annotate">
            {move || match stage.get() {
                Stage::Loading => view! { <p>"Loading your study…"</p> }.into_any(),
                Stage::Failed(failure) => failure_view(failure),
                Stage::Consent(intro) => view! {
                    <h1>{intro.name}</h1>
                    <div id="guidelines" class="guidelines" inner_html=guidelines.get_untracked()></div>
                    <p>"Your judgements are stored with your participant id and used for research on language models. You may stop at any time."</p>
                    <button id="consent" on:click=consent>"I have read the guidelines and agree to take part"</button>
                }.into_any(),
                Stage::Done(progress) => view! {
                    <h1>"Thank you — you are done"</h1>
                    <p>{format!("You judged {} pairs.", progress.judged)}</p>
                    <p>"Your completion code: " <strong id="completion-code">{progress.completion_code.clone().unwrap_or_default()}</strong></p>
                    {progress.completion_url.clone().map(|url| view! { <p><a id="completion-link" href=url>"Return to the study site"</a></p> })}
                }.into_any(),
                Stage::Item(item) => item_view(*item, choose, undo, show_guidelines, guidelines, busy, id).into_any(),
            }}
            {move || notice.get().map(|n| view! { <p class="notice" id="notice">{n}</p> })}
        </main>
    }
}

fn item_view(
    item: NextItem,
    choose: impl Fn(Shown) + Copy + 'static,
    undo: impl Fn() + Copy + 'static,
    show_guidelines: RwSignal<bool>,
    guidelines: RwSignal<String>,
    busy: RwSignal<bool>,
    id: i32,
) -> impl IntoView {
    let progress = item.progress.clone();
    view! {
        <div class="pair-page">
            <aside class="profile">
                <img id="profile" alt="the target group's value profile" src=format!("/api/studies/{id}/items/{}/profile.svg", item.item_id)/>
            </aside>
            <section class="pair">
                <p id="progress" class="progress">{format!("Pair {} of {}", progress.judged + 1, progress.total)}</p>
                <p class="question">"Which argument would people with this value profile rather make about:"</p>
                <h2 id="conclusion">{item.conclusion.clone()}</h2>
                <div class="arguments">
                    <article id="left" class="argument">
                        <h3>"Left (1)"</h3>
                        <p class="stance">{item.left.stance.clone()}</p>
                        <p>{item.left.premise.clone()}</p>
                    </article>
                    <article id="right" class="argument">
                        <h3>"Right (2)"</h3>
                        <p class="stance">{item.right.stance.clone()}</p>
                        <p>{item.right.premise.clone()}</p>
                    </article>
                </div>
                <div class="choices">
                    <button id="choose-left" disabled=move || busy.get() on:click=move |_| choose(Shown::Left)>"Left (1)"</button>
                    <button id="choose-tie" disabled=move || busy.get() on:click=move |_| choose(Shown::Tie)>"Can't decide (0)"</button>
                    <button id="choose-right" disabled=move || busy.get() on:click=move |_| choose(Shown::Right)>"Right (2)"</button>
                </div>
                <p class="tools">
                    <button id="undo" on:click=move |_| undo()>"Undo last (U)"</button>
                    " "
                    <button id="toggle-guidelines" on:click=move |_| show_guidelines.update(|s| *s = !*s)>"Guidelines"</button>
                </p>
                {move || show_guidelines.get().then(|| view! { <div class="guidelines" inner_html=guidelines.get_untracked()></div> })}
            </section>
        </div>
    }
}
