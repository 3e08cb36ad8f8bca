//! `/compare?ids=3,5,8&baseline=3` (admins and members): finished runs of one task side by side
//! with the value-blind (and, for ESS, value-regression) baselines, the differences against a
//! pinned run (click "pin" on a row), repeated seeds as mean and 95 % interval, the server's
//! charts, and the table as CSV. The run page shows the same for one run.

use crate::api;
use crate::pages::failure_view;
use leptos::prelude::*;
use valuelab_common::api::runs::{ComparedRow, RunComparison, SeedAggregate};
use valuelab_common::stats::MeanInterval;

#[component]
pub fn Compare() -> impl IntoView {
    let ids = api::query("ids").unwrap_or_default();
    let baseline = api::query("baseline").and_then(|b| b.parse::<i32>().ok());
    view! {
        <main>
            <nav><a href="/runs">"← all runs"</a> " · " <a href="/jobs">"Jobs"</a></nav>
            <h1>"Runs compared"</h1>
            <Scores ids=ids baseline=baseline/>
        </main>
    }
}

/// The comparison of runs `ids` ("3,5,8"), its charts and its CSV.
#[component]
pub fn Scores(ids: String, baseline: Option<i32>) -> impl IntoView {
    let query = match baseline {
        Some(b) => format!("ids={ids}&baseline={b}"),
        None => format!("ids={ids}"),
    };
    let comparison = {
        let query = query.clone();
        LocalResource::new(move || {
            let path = format!("/api/runs/compare?{query}");
            async move { api::required(api::get::<RunComparison>(&path).await) }
        })
    };
    let radar_group = RwSignal::new(String::new());
    view! {
        {move || comparison.get().map(|result| match result {
            Ok(c) => comparison_view(&ids, c, radar_group).into_any(),
            Err(failure) => failure_view(failure),
        })}
        <p><a id="compare-csv" href=format!("/api/runs/compare.csv?{query}")>"Download the table as CSV"</a></p>
    }
}

fn number(x: Option<f64>) -> String {
    x.map_or("–".to_string(), |v| format!("{v:.4}"))
}

fn signed(x: Option<f64>) -> String {
    x.map_or("–".to_string(), |v| format!("{v:+.4}"))
}

fn interval(m: &Option<MeanInterval>) -> String {
    match m {
        Some(MeanInterval {
            mean,
            low: Some(lo),
            high: Some(hi),
            ..
        }) => format!("{mean:.4} [{lo:.4}, {hi:.4}]"),
        Some(m) => format!("{:.4}", m.mean),
        None => "–".to_string(),
    }
}

fn comparison_view(ids: &str, c: RunComparison, radar_group: RwSignal<String>) -> impl IntoView {
    let pinned = c.baseline;
    let ids = ids.to_string();
    let chart = |name: &str, extra: String| format!("/api/runs/charts/{name}.svg?ids={ids}{extra}");
    let nmse_chart = chart("nmse", String::new());
    let scatter_chart = chart("scatter", String::new());
    let radar_base = chart("radar", String::new());
    let row_ids = ids.clone();
    view! {
        <p>{format!("Task {}, {} target groups scored by every run.", c.task, c.groups)}
            {pinned.map(|b| format!(" Differences are against run #{b}."))}</p>
        <table id="comparison" class="runs">
            <thead><tr>
                <th>"Row"</th><th>"Run"</th><th>"Seed"</th><th>"NMSE"</th><th>"Value-blind NMSE"</th>
                <th>"Skill"</th><th>"Between-group r"</th><th>"Profile r"</th>
                <th>"Δ NMSE"</th><th>"Δ skill"</th><th>"Δ r"</th><th></th>
            </tr></thead>
            <tbody>{c.rows.into_iter().map(|r| compared_row(r, pinned, &row_ids)).collect_view()}</tbody>
        </table>
        {(!c.seed_groups.is_empty()).then(|| view! {
            <h2>"Repeated seeds (mean and 95 % interval)"</h2>
            <table id="seeds" class="runs">
                <thead><tr>
                    <th>"Method"</th><th>"Runs"</th><th>"Seeds"</th><th>"NMSE"</th><th>"Skill"</th>
                    <th>"Between-group r"</th><th>"Profile r"</th>
                </tr></thead>
                <tbody>{c.seed_groups.into_iter().map(seed_row).collect_view()}</tbody>
            </table>
        })}
        {(!c.notes.is_empty()).then(|| view! {
            <ul class="notice">{c.notes.into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
        })}
        <h2>"Charts"</h2>
        <figure><img id="chart-nmse" src=nmse_chart alt="NMSE per value category and method"/></figure>
        <label>"Radar of group (empty: the first) "
            <input id="radar-group" placeholder="Group_1" bind:value=radar_group/></label>
        <figure><img id="chart-radar" alt="target and model scores per value"
            src=move || {
                let group = radar_group.get();
                if group.trim().is_empty() { radar_base.clone() } else { format!("{radar_base}&group={}", js_sys::encode_uri_component(group.trim())) }
            }/></figure>
        <figure><img id="chart-scatter" src=scatter_chart alt="group size against NMSE"
            on:error=|ev| hide(&ev)/></figure>
    }
}

/// An image the server has no chart for (a 404) is hidden rather than shown broken.
fn hide(ev: &leptos::ev::Event) {
    use wasm_bindgen::JsCast;
    if let Some(img) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = img.style().set_property("display", "none");
    }
}

fn compared_row(r: ComparedRow, pinned: Option<i32>, ids: &str) -> impl IntoView {
    let run = r
        .run_id
        .map(|id| view! { <a href=format!("/runs/{id}")>{format!("#{id}")}</a> });
    let pin = r.run_id.filter(|id| Some(*id) != pinned).map(|id| {
        view! { <a class="pin" href=format!("/compare?ids={ids}&baseline={id}")>"pin"</a> }
    });
    view! {
        <tr class=format!("row-{}", r.kind)>
            <td>{if r.kind == "run" { r.label.clone() } else { r.kind.clone() }}</td>
            <td>{run}</td>
            <td class="num">{r.seed.map(|s| s.to_string()).unwrap_or_default()}</td>
            <td class="num">{number(r.nmse)}</td>
            <td class="num">{number(r.value_blind_nmse)}</td>
            <td class="num">{number(r.skill)}</td>
            <td class="num">{number(r.between_group_r)}</td>
            <td class="num">{number(r.profile_r)}</td>
            <td class="num">{signed(r.nmse_difference)}</td>
            <td class="num">{signed(r.skill_difference)}</td>
            <td class="num">{signed(r.between_group_r_difference)}</td>
            <td>{pin}</td>
        </tr>
    }
}

fn seed_row(s: SeedAggregate) -> impl IntoView {
    view! {
        <tr>
            <td>{s.method}</td>
            <td>{s.runs.iter().map(|id| format!("#{id}")).collect::<Vec<_>>().join(" ")}</td>
            <td>{s.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")}</td>
            <td class="num">{interval(&s.nmse)}</td>
            <td class="num">{interval(&s.skill)}</td>
            <td class="num">{interval(&s.between_group_r)}</td>
            <td class="num">{interval(&s.profile_r)}</td>
        </tr>
    }
}
