//! `/jobs/{id}` (admins and members): where one job stands — status, a progress bar with the
//! latest figures (items/s or loss and tokens/s, ETA), its log — polled every second while it is
//! queued or running; Cancel and Resume for admins; the run it produced in the explorer, or a
//! simulation's results (`population`).

use crate::api;
use crate::pages::failure_view;
use crate::pages::jobs::progress_text;
use crate::pages::population::Simulation;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::time::Duration;
use valuelab_common::api::jobs::{JobDetail, JobLog, JobLogLine, JobView};

const POLL: Duration = Duration::from_secs(1);

#[component]
pub fn Job(id: i32) -> impl IntoView {
    let job = RwSignal::new(None::<Result<JobView, api::Failure>>);
    let lines = RwSignal::new(Vec::<JobLogLine>::new());
    let after = RwSignal::new(0);
    let action_error = RwSignal::new(None::<String>);
    // One refresh: the job, then the log lines after the last one shown.
    let refresh = move || {
        spawn_local(async move {
            let view = api::required(api::get::<JobView>(&format!("/api/jobs/{id}")).await);
            job.set(Some(view));
            let path = format!("/api/jobs/{id}/log?after={}", after.get_untracked());
            if let Ok(log) = api::required(api::get::<JobLog>(&path).await) {
                after.set(log.next_after);
                lines.update(|l| l.extend(log.lines));
            }
        })
    };
    refresh();
    let live = move || {
        job.get_untracked()
            .and_then(|j| j.ok())
            .is_none_or(|j| j.status == "queued" || j.status == "running")
    };
    if let Ok(handle) = set_interval_with_handle(
        move || {
            if live() {
                refresh();
            }
        },
        POLL,
    ) {
        on_cleanup(move || handle.clear());
    }
    let act = move |action: &'static str| {
        spawn_local(async move {
            let path = format!("/api/jobs/{id}/{action}");
            match api::required(api::post::<_, JobView>(&path, &serde_json::json!({})).await) {
                Ok(view) => {
                    action_error.set(None);
                    job.set(Some(Ok(view)));
                }
                Err(failure) => action_error.set(Some(failure.message)),
            }
        })
    };
    view! {
        <main>
            <nav><a href="/jobs">"← all jobs"</a> " · " <a href="/runs">"Runs"</a></nav>
            <h1>{format!("Job #{id}")}</h1>
            {move || job.get().map(|result| match result {
                Ok(j) => job_view(j, act).into_any(),
                Err(failure) => failure_view(failure),
            })}
            {move || action_error.get().map(|e| view! { <p class="error">{e}</p> })}
            <h2>"Log"</h2>
            <pre id="log" class="log">
                {move || lines.get().into_iter().map(|l| format!("{}  {}\n", clock(l.at_ms), l.line)).collect::<String>()}
            </pre>
        </main>
    }
}

fn job_view(j: JobView, act: impl Fn(&'static str) + Copy + 'static) -> impl IntoView {
    let percent = if j.progress.total > 0 {
        100.0 * j.progress.done as f64 / j.progress.total as f64
    } else {
        0.0
    };
    let can_cancel = j.status == "queued" || j.status == "running";
    let can_resume = matches!(j.status.as_str(), "cancelled" | "interrupted" | "failed");
    view! {
        <p>
            <span id="job-status" class=format!("status {}", j.status)>{j.status.clone()}</span>
            {j.cancel_requested.then_some(" (stopping after the current batch or step)")}
            {format!(" · {} job on {} · attempt {} · by {}", j.kind, j.backend, j.attempts, j.created_by)}
        </p>
        <progress id="job-progress" max="100" value=percent></progress>
        <span id="job-progress-text">{format!(" {}", progress_text(j.progress.done, j.progress.total))}</span>
        <p class="progress">{detail_text(&j.detail)}</p>
        {j.error.clone().map(|e| view! { <p class="error" id="job-error">{e}</p> })}
        {j.run_id.map(|run| view! { <p><a id="job-run" href=format!("/runs/{run}")>{format!("Run #{run} in the explorer")}</a></p> })}
        <p>
            {can_cancel.then(|| view! { <button id="cancel" on:click=move |_| act("cancel")>"Cancel"</button> })}
            {can_resume.then(|| view! { <button id="resume" on:click=move |_| act("resume")>"Resume"</button> })}
        </p>
        {(!j.tasks.is_empty()).then(|| view! {
            <h2>{format!("Slurm job {}: array tasks", j.slurm_job_id.clone().unwrap_or_default())}</h2>
            <table id="job-tasks" class="jobs">
                <thead><tr><th>"Task"</th><th>"State"</th><th>"Groups"</th><th>"Log"</th></tr></thead>
                <tbody>{j.tasks.clone().into_iter().map(|t| view! {
                    <tr><td>{t.index}</td><td class=format!("status {}", t.state)>{t.state.clone()}</td>
                        <td>{t.groups.join(", ")}</td><td><code>{t.log}</code></td></tr>
                }).collect_view()}</tbody>
            </table>
        })}
        {(j.kind == "simulate" && j.status == "done").then(|| view! { <Simulation job=j.id/> })}
        <p>"Output: " <code>{j.out.clone()}</code></p>
        <details>
            <summary>"Spec"</summary>
            <pre>{j.spec.clone()}</pre>
        </details>
    }
}

/// "Group_12 · 41.2 items/s · ETA 1 min 3 s" or "epoch 2 · loss 1.234 · 812 tokens/s · ...".
fn detail_text(d: &JobDetail) -> String {
    let mut parts = Vec::new();
    if let Some(group) = &d.group {
        parts.push(group.clone());
    }
    if let Some(epoch) = d.epoch {
        parts.push(format!("epoch {epoch}"));
    }
    if let Some(loss) = d.loss {
        parts.push(format!("loss {loss:.3}"));
    }
    if let Some(rate) = d.items_per_s {
        parts.push(format!("{rate:.1} items/s"));
    }
    if let Some(rate) = d.tokens_per_s {
        parts.push(format!("{rate:.0} tokens/s"));
    }
    if let Some(eta) = d.eta_s {
        let eta = eta.round() as i64;
        parts.push(if eta >= 60 {
            format!("ETA {} min {} s", eta / 60, eta % 60)
        } else {
            format!("ETA {eta} s")
        });
    }
    parts.join(" · ")
}

/// Unix milliseconds as the browser's local time of day.
fn clock(at_ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms as f64));
    format!(
        "{:02}:{:02}:{:02}",
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
}
