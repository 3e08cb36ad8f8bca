//! `/jobs` (admins and members): every job with its status and progress; admins build an
//! evaluation from a form — or paste any spec `--print-spec` printed — and queue it. The server
//! checks the spec and answers one message per bad field, shown beside that field.

use crate::api;
use crate::pages::failure_view;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use valuelab_common::api::jobs::{JobCreated, JobTemplate, JobView, NewJobTemplate};

const TASKS: [&str; 4] = ["pvq", "valuenet", "ess", "args"];
const METHODS: [&str; 11] = [
    "base",
    "prompt-short",
    "prompt-long",
    "prompt-dominant",
    "vim",
    "vim-ag",
    "vim-qa",
    "vim-cond",
    "profile-offset",
    "steer",
    "profile-readout",
];

#[component]
pub fn Jobs() -> impl IntoView {
    let list =
        LocalResource::new(|| async { api::required(api::get::<Vec<JobView>>("/api/jobs").await) });
    view! {
        <main>
            <nav><a href="/runs">"Runs"</a> " · " <a href="/studies">"Studies"</a></nav>
            <h1>"Jobs"</h1>
            {move || list.get().map(|result| match result {
                Ok(jobs) if jobs.is_empty() => view! { <p>"No job yet."</p> }.into_any(),
                Ok(jobs) => view! {
                    <table id="jobs" class="jobs">
                        <thead><tr>
                            <th>"Job"</th><th>"Kind"</th><th>"Status"</th><th>"Progress"</th>
                            <th>"Output"</th><th>"By"</th>
                        </tr></thead>
                        <tbody>{jobs.into_iter().map(job_row).collect_view()}</tbody>
                    </table>
                }.into_any(),
                Err(failure) => failure_view(failure),
            })}
            <NewJob/>
        </main>
    }
}

/// "12 / 80 (15 %)".
pub fn progress_text(done: i64, total: i64) -> String {
    if total <= 0 {
        return "–".to_string();
    }
    format!(
        "{done} / {total} ({:.0} %)",
        100.0 * done as f64 / total as f64
    )
}

fn job_row(j: JobView) -> impl IntoView {
    view! {
        <tr>
            <td><a href=format!("/jobs/{}", j.id)>{format!("#{}", j.id)}</a></td>
            <td>{j.kind}</td>
            <td class=format!("status {}", j.status)>{j.status.clone()}</td>
            <td class="num">{progress_text(j.progress.done, j.progress.total)}</td>
            <td><code>{j.out}</code></td>
            <td>{j.created_by}</td>
        </tr>
    }
}

/// The form's fields; each is also the key of its error in the server's answer.
#[derive(Clone, Copy)]
struct Form {
    task: RwSignal<String>,
    method: RwSignal<String>,
    groups: RwSignal<String>,
    model: RwSignal<String>,
    adapter: RwSignal<String>,
    answer: RwSignal<String>,
    batch_size: RwSignal<String>,
    limit_items: RwSignal<String>,
    seed: RwSignal<String>,
    out: RwSignal<String>,
}

impl Form {
    fn new() -> Self {
        Form {
            task: RwSignal::new("pvq".into()),
            method: RwSignal::new("prompt-long".into()),
            groups: RwSignal::new("sample 8".into()),
            model: RwSignal::new("smollm2".into()),
            adapter: RwSignal::new(String::new()),
            answer: RwSignal::new("expect".into()),
            batch_size: RwSignal::new("16".into()),
            limit_items: RwSignal::new(String::new()),
            seed: RwSignal::new("0".into()),
            out: RwSignal::new(String::new()),
        }
    }

    /// The evaluation spec, as `valuelab eval <task> --print-spec` prints it. Numbers that do
    /// not parse are sent as typed, so the server names the field.
    fn spec(&self) -> Value {
        let number = |s: String| {
            let s = s.trim().to_string();
            s.parse::<u64>().map_or(Value::String(s), |n| json!(n))
        };
        let optional_number = |s: String| {
            if s.trim().is_empty() {
                Value::Null
            } else {
                number(s)
            }
        };
        let groups = self.groups.get();
        let groups = groups.trim();
        let groups = if groups.is_empty() || groups == "all" {
            json!("all")
        } else if let Some(n) = groups.strip_prefix("sample") {
            json!({"sample": number(n.to_string())})
        } else {
            let names: Vec<&str> = groups
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect();
            json!({"names": names})
        };
        let adapter = self.adapter.get();
        let out = self.out.get();
        let out = if out.trim().is_empty() {
            format!("runs/{}-{}", self.task.get(), self.method.get())
        } else {
            out
        };
        json!({
            "job": "eval",
            "task": self.task.get(),
            "groups": groups,
            "model": {
                "method": self.method.get(),
                "model": self.model.get().trim(),
                "adapter": if adapter.trim().is_empty() { Value::Null } else { json!(adapter.trim()) },
                "answer": self.answer.get(),
                "batch_size": number(self.batch_size.get()),
                "seed": number(self.seed.get()),
            },
            "limit_items": optional_number(self.limit_items.get()),
            "out": out,
        })
    }
}

/// An input and the server's message for its field (`key`, or any field under it).
fn field(
    label: &'static str,
    key: &'static str,
    input: impl IntoView + 'static,
    errors: RwSignal<BTreeMap<String, String>>,
) -> impl IntoView {
    view! {
        <label>
            {label} {input}
            {move || {
                let errors = errors.get();
                let message = errors
                    .iter()
                    .filter(|(k, _)| *k == key || k.starts_with(&format!("{key}.")))
                    .map(|(_, v)| v.clone())
                    .collect::<Vec<_>>()
                    .join("; ");
                (!message.is_empty())
                    .then(|| view! { <span class="error field-error" data-field=key>{message}</span> })
            }}
        </label>
    }
}

fn options(values: &'static [&'static str]) -> impl IntoView {
    values
        .iter()
        .map(|v| view! { <option value=*v>{*v}</option> })
        .collect_view()
}

/// Fields the form shows beside an input; any other field's error goes to the list below it.
const FORM_FIELDS: [&str; 10] = [
    "task",
    "model.method",
    "groups",
    "model.model",
    "model.adapter",
    "model.answer",
    "model.batch_size",
    "limit_items",
    "model.seed",
    "out",
];

#[component]
fn NewJob() -> impl IntoView {
    let form = Form::new();
    // The spec as JSON text: written by the form, or pasted / loaded from a template.
    let raw = RwSignal::new(String::new());
    let use_raw = RwSignal::new(false);
    let errors = RwSignal::new(BTreeMap::<String, String>::new());
    let message = RwSignal::new(None::<Result<String, String>>);
    let template_name = RwSignal::new(String::new());
    let templates = LocalResource::new(|| async {
        api::required(api::get::<Vec<JobTemplate>>("/api/job-templates").await).unwrap_or_default()
    });
    let spec = move || -> Result<Value, String> {
        if use_raw.get() {
            serde_json::from_str(&raw.get()).map_err(|e| format!("the spec is not JSON: {e}"))
        } else {
            Ok(form.spec())
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        errors.set(BTreeMap::new());
        let body = match spec() {
            Ok(body) => body,
            Err(e) => return message.set(Some(Err(e))),
        };
        spawn_local(async move {
            match api::required(api::post::<_, JobCreated>("/api/jobs", &body).await) {
                Ok(created) => api::go(&format!("/jobs/{}", created.id)),
                Err(failure) => {
                    errors.set(failure.fields.clone());
                    message.set(Some(Err(failure.message)));
                }
            }
        });
    };
    let save_template = move |_| {
        let body = match spec() {
            Ok(spec) => NewJobTemplate {
                name: template_name.get_untracked(),
                spec: spec.to_string(),
            },
            Err(e) => return message.set(Some(Err(e))),
        };
        spawn_local(async move {
            match api::required(api::post::<_, JobTemplate>("/api/job-templates", &body).await) {
                Ok(saved) => {
                    message.set(Some(Ok(format!("template '{}' saved", saved.name))));
                    templates.refetch();
                }
                Err(failure) => message.set(Some(Err(failure.message))),
            }
        });
    };
    let load_template = move |ev: leptos::ev::Event| {
        let chosen = event_target_value(&ev);
        let found = templates
            .get()
            .and_then(|list| list.into_iter().find(|t| t.name == chosen));
        if let Some(template) = found {
            raw.set(template.spec);
            use_raw.set(true);
            template_name.set(template.name);
        }
    };
    let other_errors = move || {
        errors
            .get()
            .into_iter()
            .filter(|(k, _)| {
                use_raw.get()
                    || !FORM_FIELDS
                        .iter()
                        .any(|f| k == f || k.starts_with(&format!("{f}.")))
            })
            .map(|(k, v)| view! { <li><code>{k}</code> ": " {v}</li> })
            .collect_view()
    };
    view! {
        <section>
            <h2>"New job (admins)"</h2>
            <label>"Start from a template "
                <select id="template" on:change=load_template>
                    <option value="">"—"</option>
                    {move || templates.get().unwrap_or_default().into_iter()
                        .map(|t| view! { <option value=t.name.clone()>{t.name.clone()}</option> })
                        .collect_view()}
                </select>
            </label>
            <form on:submit=submit class="new-job">
                <fieldset disabled=move || use_raw.get()>
                    <legend>"Evaluation"</legend>
                    {field("Task", "task", view! { <select id="task" bind:value=form.task>{options(&TASKS)}</select> }, errors)}
                    {field("Method", "model.method", view! { <select id="method" bind:value=form.method>{options(&METHODS)}</select> }, errors)}
                    {field("Groups: all, sample N, or names separated by commas", "groups", view! { <input id="groups" bind:value=form.groups/> }, errors)}
                    {field("Model: smollm2, a .gguf file or a Hugging Face folder", "model.model", view! { <input id="model" bind:value=form.model/> }, errors)}
                    {field("Adapter or conditioner folder (vim, vim-cond, profile-offset, steer, profile-readout)", "model.adapter", view! { <input id="adapter" bind:value=form.adapter/> }, errors)}
                    {field("Answers", "model.answer", view! { <select id="answer" bind:value=form.answer>{options(&["expect", "sample"])}</select> }, errors)}
                    {field("Batch size", "model.batch_size", view! { <input id="batch-size" bind:value=form.batch_size/> }, errors)}
                    {field("Items (empty: all)", "limit_items", view! { <input id="limit-items" bind:value=form.limit_items/> }, errors)}
                    {field("Seed", "model.seed", view! { <input id="seed" bind:value=form.seed/> }, errors)}
                    {field("Output folder (relative: under the server's jobs folder)", "out", view! { <input id="out" placeholder="runs/<task>-<method>" bind:value=form.out/> }, errors)}
                </fieldset>
                <label>
                    <input type="checkbox" id="use-raw" bind:checked=use_raw/>
                    " Send the JSON below instead (any job: train, groups, report, ...)"
                </label>
                <textarea id="spec" rows="12"
                    prop:value=move || if use_raw.get() { raw.get() } else { serde_json::to_string_pretty(&form.spec()).unwrap_or_default() }
                    on:input=move |ev| { raw.set(event_target_value(&ev)); use_raw.set(true); }>
                </textarea>
                <button type="submit" id="queue">"Queue the job"</button>
                " "
                <input id="template-name" placeholder="template name" bind:value=template_name/>
                <button type="button" id="save-template" on:click=save_template>"Save as template"</button>
            </form>
            {move || message.get().map(|m| match m {
                Ok(text) => view! { <p class="ok">{text}</p> }.into_any(),
                Err(text) => view! { <p class="error" id="job-error">{text}</p> }.into_any(),
            })}
            <ul class="error">{other_errors}</ul>
        </section>
    }
}
