//! A finished simulation on its job page: how the population compares with people (matrix r
//! next to the human ceiling, Procrustes, representativeness), the theory's checks, the
//! circumplex and value–behaviour plots, and its CSV tables.

use crate::api;
use leptos::prelude::*;
use leptos::task::spawn_local;
use valuelab_common::api::populations::SimulationResults;

fn figure(x: Option<f64>) -> String {
    x.map_or("–".to_string(), |x| format!("{x:.3}"))
}

#[component]
pub fn Simulation(job: i32) -> impl IntoView {
    let results = RwSignal::new(None::<Result<SimulationResults, api::Failure>>);
    spawn_local(async move {
        let got = api::required(
            api::get::<SimulationResults>(&format!("/api/jobs/{job}/simulation")).await,
        );
        results.set(Some(got));
    });
    view! {
        <section id="simulation">
            <h2>"Population against people"</h2>
            {move || results.get().map(|r| match r {
                Ok(s) => results_view(s).into_any(),
                Err(failure) => view! { <p class="error">{failure.message}</p> }.into_any(),
            })}
        </section>
    }
}

fn results_view(s: SimulationResults) -> impl IntoView {
    let file = move |name: &str| format!("/api/jobs/{}/simulation/{name}", s.job_id);
    let has = |name: &str| s.files.iter().any(|f| f == name);
    let plots: Vec<(&str, &str)> = [
        (
            "circumplex.svg",
            "the ten values in the MDS plane, aligned onto the people's",
        ),
        ("matrix.svg", "value correlations across personas"),
        ("relations.svg", "values and behaviour across personas"),
    ]
    .into_iter()
    .filter(|(name, _)| has(name))
    .collect();
    let tables: Vec<String> = s
        .files
        .iter()
        .filter(|f| f.ends_with(".csv"))
        .cloned()
        .collect();
    view! {
        <p>{format!(
            "{} personas by {} ({} distinct persona texts), method {}, model {}; instruments {}.",
            s.n, s.strategy, s.speakers, s.method, s.model, s.instruments.join(", ")
        )}</p>
        <table id="simulation-summary" class="jobs">
            <thead><tr><th>"measure"</th><th>"raw"</th><th>"centred"</th></tr></thead>
            <tbody>
                <tr><td>{format!("matrix r against {}", s.reference)}</td>
                    <td id="matrix-r-raw">{figure(s.matrix_r_raw)}</td><td>{figure(s.matrix_r_centred)}</td></tr>
                <tr><td>"ceiling: two halves of the people"</td>
                    <td>{figure(s.ceiling_raw)}</td><td>{figure(s.ceiling_centred)}</td></tr>
                <tr><td>"Procrustes congruence"</td><td colspan="2">{figure(s.procrustes_congruence)}</td></tr>
                <tr><td>"mean Wasserstein distance to the people's value scores (1..6)"</td>
                    <td colspan="2">{figure(s.wasserstein_mean)}</td></tr>
                <tr><td>"people without a dominant value"</td>
                    <td colspan="2">{format!("{:.1} %", 100.0 * s.human_without_dominant)}</td></tr>
                {s.relations_r.map(|r| view! {
                    <tr><td>"value–behaviour r against the human table"</td><td colspan="2">{format!("{r:.3}")}</td></tr>
                })}
            </tbody>
        </table>
        <h3>"The theory's checks"</h3>
        <ul id="simulation-checks">{s.checks.clone().into_iter().map(|c| view! {
            <li class=if c.pass { "pass" } else { "fail" }>
                {format!("{}: {} — {}", c.name, if c.pass { "pass" } else { "FAIL" }, c.detail)}
            </li>
        }).collect_view()}</ul>
        {plots.into_iter().map(|(name, alt)| view! {
            <figure><img id=format!("plot-{}", name.trim_end_matches(".svg")) src=file(name) alt=alt/></figure>
        }).collect_view()}
        <p>"Tables: " {tables.into_iter().map(|name| view! {
            <a href=file(&name) download=name.clone()>{name.clone()}</a>" "
        }).collect_view()}</p>
    }
}
