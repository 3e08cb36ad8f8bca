//! `/runs` (admins and members): every run in the explorer with filters (task, method, group,
//! status — asked of the server) and free-text search (over the loaded list); admins import run
//! folders from the server's disk. `/runs/{id}`: one run, its settings and its table per group.

use crate::api;
use crate::pages::failure_view;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;
use valuelab_common::api::runs::{
    ImportRunsRequest, ImportedRun, RunFilter, RunGroupRow, RunStudy, RunSummary,
};

#[component]
pub fn Runs() -> impl IntoView {
    let task = RwSignal::new(api::query("task").unwrap_or_default());
    let method = RwSignal::new(api::query("method").unwrap_or_default());
    let group = RwSignal::new(api::query("group").unwrap_or_default());
    let status = RwSignal::new(api::query("status").unwrap_or_default());
    let search = RwSignal::new(String::new());
    let list = LocalResource::new(move || {
        let filter = RunFilter {
            task: Some(task.get()),
            method: Some(method.get()),
            group: Some(group.get()),
            status: Some(status.get()),
        };
        async move {
            let query = [
                ("task", filter.task),
                ("method", filter.method),
                ("group", filter.group),
                ("status", filter.status),
            ]
            .into_iter()
            .filter_map(|(k, v)| {
                v.filter(|v| !v.trim().is_empty())
                    .map(|v| format!("{k}={}", encode(&v)))
            })
            .collect::<Vec<_>>()
            .join("&");
            api::required(api::get::<Vec<RunSummary>>(&format!("/api/runs?{query}")).await)
        }
    });
    let shown = move |runs: Vec<RunSummary>| -> Vec<RunSummary> {
        let needle = search.get().to_lowercase();
        runs.into_iter()
            .filter(|r| {
                needle.is_empty()
                    || [&r.task, &r.method, &r.model, &r.path, &r.status, &r.created]
                        .iter()
                        .any(|f| f.to_lowercase().contains(&needle))
                    || r.groups.iter().any(|g| g.to_lowercase().contains(&needle))
            })
            .collect()
    };
    let selected = RwSignal::new(Vec::<i32>::new());
    view! {
        <main>
            <nav><a href="/jobs">"Jobs"</a> " · " <a href="/studies">"Studies"</a></nav>
            <h1>"Runs"</h1>
            <form class="filters" on:submit=|ev: leptos::ev::SubmitEvent| ev.prevent_default()>
                <label>"Task " <select id="filter-task" bind:value=task>
                    <option value="">"any"</option>
                    {["pvq", "valuenet", "ess", "args"].map(|t| view! { <option value=t>{t}</option> })}
                </select></label>
                <label>"Method " <input id="filter-method" placeholder="prompt-long" bind:value=method/></label>
                <label>"Group " <input id="filter-group" placeholder="Group_60" bind:value=group/></label>
                <label>"Status " <select id="filter-status" bind:value=status>
                    <option value="">"any"</option>
                    <option value="done">"done"</option>
                    <option value="incomplete">"incomplete"</option>
                </select></label>
                <label>"Search " <input id="search" placeholder="model, folder, date..." bind:value=search/></label>
            </form>
            {move || list.get().map(|result| match result {
                Ok(runs) => {
                    let runs = shown(runs);
                    if runs.is_empty() {
                        view! { <p>"No run matches."</p> }.into_any()
                    } else {
                        view! {
                            <table id="runs" class="runs">
                                <thead><tr>
                                    <th></th><th>"Run"</th><th>"Task"</th><th>"Method"</th><th>"Model"</th>
                                    <th>"Groups"</th><th>"Status"</th><th>"Started"</th>
                                </tr></thead>
                                <tbody>{runs.into_iter().map(|r| run_row(r, selected)).collect_view()}</tbody>
                            </table>
                            <p>
                                <a id="compare-selected"
                                    href=move || format!("/compare?ids={}", selected.get().iter().map(i32::to_string).collect::<Vec<_>>().join(","))
                                    class:disabled=move || selected.get().is_empty()>
                                    {move || format!("Compare the {} selected runs", selected.get().len())}
                                </a>
                                " (finished runs of one task)"
                            </p>
                        }.into_any()
                    }
                }
                Err(failure) => failure_view(failure),
            })}
            <ImportRuns on_done=move || list.refetch()/>
        </main>
    }
}

/// A query value made safe for a URL.
fn encode(value: &str) -> String {
    js_sys::encode_uri_component(value).into()
}

fn run_row(r: RunSummary, selected: RwSignal<Vec<i32>>) -> impl IntoView {
    let id = r.id;
    let toggle = move |ev: leptos::ev::Event| {
        let on = event_target_checked(&ev);
        selected.update(|s| {
            s.retain(|x| *x != id);
            if on {
                s.push(id);
            }
        });
    };
    let groups = if r.groups.len() > 3 {
        format!("{} groups", r.groups.len())
    } else {
        r.groups.join(", ")
    };
    view! {
        <tr>
            <td><input type="checkbox" class="select-run" data-run=id
                prop:checked=move || selected.get().contains(&id) on:change=toggle/></td>
            <td><a href=format!("/runs/{}", r.id)>{format!("#{}", r.id)}</a></td>
            <td>{r.task}</td>
            <td>{r.method}</td>
            <td>{r.model}</td>
            <td>{groups}</td>
            <td class=format!("status {}", r.status)>{r.status.clone()}</td>
            <td>{r.created}</td>
        </tr>
    }
}

#[component]
fn ImportRuns(on_done: impl Fn() + Copy + 'static) -> impl IntoView {
    let paths = RwSignal::new(String::new());
    let message = RwSignal::new(None::<Result<String, String>>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = ImportRunsRequest {
            paths: paths
                .get_untracked()
                .lines()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(String::from)
                .collect(),
        };
        spawn_local(async move {
            match api::required(api::post::<_, Vec<ImportedRun>>("/api/runs/import", &body).await) {
                Ok(imported) => {
                    let new = imported.iter().filter(|r| r.new).count();
                    message.set(Some(Ok(format!(
                        "{} run folders: {new} new, {} brought up to date",
                        imported.len(),
                        imported.len() - new
                    ))));
                    on_done();
                }
                Err(failure) => message.set(Some(Err(failure.message))),
            }
        });
    };
    view! {
        <section>
            <h2>"Import run folders (admins)"</h2>
            <form on:submit=submit>
                <label>"Folders on the server, one per line (a run folder, or a folder holding runs)"
                    <textarea id="import-paths" rows="3" bind:value=paths></textarea></label>
                <button type="submit" id="import">"Import"</button>
            </form>
            {move || message.get().map(|m| match m {
                Ok(text) => view! { <p class="ok">{text}</p> }.into_any(),
                Err(text) => view! { <p class="error">{text}</p> }.into_any(),
            })}
        </section>
    }
}

/// `GET /api/runs/{id}`, the parts this page shows.
#[derive(Debug, Clone, Deserialize)]
struct RunPage {
    run: RunSummary,
    table: Vec<RunGroupRow>,
    /// The run's `run.json`: settings, provenance and the speed of each invocation.
    #[serde(default)]
    info: Option<serde_json::Value>,
    #[serde(default)]
    studies: Vec<RunStudy>,
}

#[component]
pub fn Run(id: i32) -> impl IntoView {
    let page = LocalResource::new(move || async move {
        api::required(api::get::<RunPage>(&format!("/api/runs/{id}")).await)
    });
    view! {
        <main>
            <nav><a href="/runs">"← all runs"</a> " · " <a href="/jobs">"Jobs"</a></nav>
            {move || page.get().map(|result| match result {
                Ok(page) => run_view(id, page).into_any(),
                Err(failure) => failure_view(failure),
            })}
        </main>
    }
}

fn run_view(id: i32, page: RunPage) -> impl IntoView {
    let r = page.run;
    let nmse: Vec<f64> = page.table.iter().filter_map(|row| row.nmse).collect();
    let mean = (!nmse.is_empty()).then(|| nmse.iter().sum::<f64>() / nmse.len() as f64);
    view! {
        <h1>{format!("Run #{id}: {} · {}", r.task, r.method)}</h1>
        <table class="run-summary">
            <tr><th>"Status"</th><td id="run-status">{r.status.clone()}</td></tr>
            <tr><th>"Model"</th><td>{r.model.clone()}</td></tr>
            <tr><th>"Answers"</th><td>{r.answer_mode.clone()}</td></tr>
            <tr><th>"Groups"</th><td>{r.groups.len()}</td></tr>
            <tr><th>"Started"</th><td>{r.created.clone()}</td></tr>
            <tr><th>"Finished"</th><td>{r.finished.clone().unwrap_or_else(|| "–".into())}</td></tr>
            <tr><th>"Folder"</th><td><code>{r.path.clone()}</code></td></tr>
            <tr><th>"Mean NMSE over groups"</th><td id="run-nmse">{mean.map_or("–".to_string(), |m| format!("{m:.4}"))}</td></tr>
        </table>
        {page.info.map(settings_view)}
        {(!page.studies.is_empty()).then(|| view! {
            <h2>"Annotation studies of its arguments"</h2>
            <table id="run-studies" class="runs">
                <thead><tr><th>"Study"</th><th>"Side"</th><th>"Against"</th><th>"Judgements"</th>
                    <th>"Wins"</th><th>"Ties"</th><th>"Losses"</th></tr></thead>
                <tbody>{page.studies.into_iter().map(study_row).collect_view()}</tbody>
            </table>
        })}
        {(r.status == "done").then(|| view! {
            <h2>"Scores"</h2>
            <crate::pages::compare::Scores ids=id.to_string() baseline=None/>
        })}
        {if page.table.is_empty() {
            view! { <p>"The run is incomplete: its table appears when it finishes (Resume its job, or run the same `valuelab eval` again)."</p> }.into_any()
        } else {
            view! {
                <h2>"Per group"</h2>
                <p><a href=format!("/api/runs/{id}/table.csv")>"Download as CSV"</a></p>
                <table id="run-table" class="runs">
                    <thead><tr>
                        <th>"Group"</th><th>"Size"</th><th>"NMSE"</th><th>"Answered"</th>
                        <th>"Unreadable"</th><th>"Refusals"</th>
                    </tr></thead>
                    <tbody>{page.table.into_iter().map(group_row).collect_view()}</tbody>
                </table>
            }.into_any()
        }}
    }
}

fn group_row(g: RunGroupRow) -> impl IntoView {
    view! {
        <tr>
            <td>{g.group}</td>
            <td class="num">{g.size.map_or("–".to_string(), |s| s.to_string())}</td>
            <td class="num">{g.nmse.map_or("–".to_string(), |n| format!("{n:.4}"))}</td>
            <td class="num">{g.answered}</td>
            <td class="num">{g.parse_failures}</td>
            <td class="num">{g.refusals}</td>
        </tr>
    }
}

fn percent(x: Option<f64>) -> String {
    x.map_or("–".to_string(), |v| format!("{:.0} %", v * 100.0))
}

fn study_row(s: RunStudy) -> impl IntoView {
    view! {
        <tr>
            <td><a href=format!("/studies/{}", s.id)>{s.name}</a></td>
            <td>{s.side}</td>
            <td>{s.other_method}</td>
            <td class="num">{s.judgements}</td>
            <td class="num">{percent(s.wins)}</td>
            <td class="num">{percent(s.ties)}</td>
            <td class="num">{percent(s.losses)}</td>
        </tr>
    }
}

/// The run's settings and provenance from its `run.json`, and the speed of each invocation.
fn settings_view(info: serde_json::Value) -> impl IntoView {
    let text = |key: &str| match &info[key] {
        serde_json::Value::Null => "–".to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let fields = [
        ("Seed", "seed"),
        ("Samples per item", "samples"),
        ("Few-shot examples", "shots"),
        ("Items asked", "limit_items"),
        ("Adapter", "adapter"),
        ("Groups table", "groups_file"),
        ("Gold", "gold"),
        ("valuelab", "valuelab_version"),
    ];
    let speed: Vec<serde_json::Value> = info["speed"].as_array().cloned().unwrap_or_default();
    view! {
        <details id="run-settings">
            <summary>"Settings, provenance and timings"</summary>
            <table class="run-summary">
                {fields.into_iter().map(|(label, key)| view! { <tr><th>{label}</th><td>{text(key)}</td></tr> }).collect_view()}
            </table>
            <table class="runs">
                <thead><tr><th>"Invocation"</th><th>"Items"</th><th>"Prompt tokens"</th><th>"Seconds"</th>
                    <th>"Items/s"</th><th>"Tokens/s"</th></tr></thead>
                <tbody>{speed.into_iter().enumerate().map(|(i, s)| {
                    let num = |k: &str, digits: usize| s[k].as_f64().map_or("–".to_string(), |v| format!("{v:.digits$}"));
                    view! { <tr><td>{i + 1}</td><td class="num">{num("items", 0)}</td><td class="num">{num("tokens", 0)}</td>
                        <td class="num">{num("wall_s", 1)}</td><td class="num">{num("items_per_s", 1)}</td><td class="num">{num("tokens_per_s", 0)}</td></tr> }
                }).collect_view()}</tbody>
            </table>
        </details>
    }
}
