//! Simulation jobs through the API: a population simulated on the server's worker, its results
//! and files for the explorer, and the 4xx answers (roles, other job kinds, unknown files,
//! results asked for too early, bad specs).

use crate::helpers::{error_text, json};
use crate::jobs::{app_with, pvq_spec, quick_worker, submit, wait_for};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use valuelab_common::api::auth::Role;
use valuelab_common::api::populations::SimulationResults;
use valuelab_common::api::ErrorResponse;
use valuelab_tests::fixtures::{shared_data_dir, tiny_model};

/// `valuelab simulate --print-spec` for the tiny model, with Norway's ESS sample as the people.
fn simulate_spec(model: &Path, out: &str) -> Value {
    let data = shared_data_dir();
    json!({
        "job": "simulate",
        "strategy": "h-np",
        "n": 10,
        "instruments": ["pvq40", "prosocial"],
        "model": {"method": "prompt-dominant", "model": model, "batch_size": 4, "seed": 2},
        "data_dir": data,
        "human": data.join("ess/microdata/ess9_no.csv"),
        "limit_items": 10,
        "out": out,
    })
}

#[tokio::test]
async fn a_simulation_runs_on_the_worker_and_shows_its_results() {
    let app = app_with(quick_worker(1)).await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let member = app.logged_in(Role::Member, "mel").await;
    let model = tiny_model(app.dir.path());
    let id = submit(&admin, &simulate_spec(&model, "sims/hnp")).await;
    let done = wait_for(&member, id, "done", |j| j.status == "done").await;
    assert_eq!(done.kind, "simulate");
    assert!(
        done.progress.total > 0 && done.progress.done == done.progress.total,
        "{done:?}"
    );

    let results: SimulationResults =
        json(member.get(&format!("/api/jobs/{id}/simulation")).await).await;
    assert_eq!((results.n, results.strategy.as_str()), (10, "h-np"));
    assert_eq!(results.reference, "ess9_no.csv");
    assert!(results.ceiling_raw.unwrap() > 0.8, "{results:?}");
    assert_eq!(results.checks.len(), 4);
    assert!(
        results.files.contains(&"respondents.csv".to_string()),
        "{results:?}"
    );

    let csv = member
        .get(&format!("/api/jobs/{id}/simulation/respondents.csv"))
        .await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert_eq!(csv.text().await.unwrap().lines().count(), 11);
    let svg = member
        .get(&format!("/api/jobs/{id}/simulation/relations.svg"))
        .await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");

    // Only the listed files, never a path of the disk.
    for name in ["personas.json", "..%2Fjob.json", "answers.jsonl"] {
        let response = member
            .get(&format!("/api/jobs/{id}/simulation/{name}"))
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{name}");
        let error: ErrorResponse = response.json().await.unwrap();
        assert!(error.error.contains("circumplex.svg"), "{error:?}");
    }
}

#[tokio::test]
async fn simulation_results_answer_4xx_where_there_are_none() {
    let app = app_with(quick_worker(0)).await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let member = app.logged_in(Role::Member, "mel").await;
    let (study, _) = app.study(&admin, &["Group_1"], 1, json!({})).await;
    let annotator = &app.invited_annotators(&admin, study, 1).await[0];
    let model = tiny_model(app.dir.path());
    let queued = submit(&admin, &simulate_spec(&model, "sims/queued")).await;
    let eval = submit(&admin, &pvq_spec(&model, json!("all"), Some(1), "runs/e")).await;

    let response = member.get(&format!("/api/jobs/{queued}/simulation")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(error_text(response)
        .await
        .contains("no results yet (it is queued"));
    let response = member.get(&format!("/api/jobs/{eval}/simulation")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(error_text(response)
        .await
        .contains("is a eval job, not a simulation"));
    assert_eq!(
        member.get("/api/jobs/999/simulation").await.status(),
        StatusCode::NOT_FOUND
    );
    for path in [
        format!("/api/jobs/{queued}/simulation"),
        format!("/api/jobs/{queued}/simulation/circumplex.svg"),
    ] {
        assert_eq!(
            annotator.get(&path).await.status(),
            StatusCode::FORBIDDEN,
            "{path}"
        );
        assert_eq!(
            app.anonymous().get(&path).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }

    // A bad simulation spec is answered field by field.
    let mut spec = simulate_spec(&model, "sims/bad");
    spec["n"] = json!(0);
    spec["model"]["method"] = json!("vim-qa");
    spec["gap"] = json!(7.5);
    let response = admin.post("/api/jobs", &spec).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: ErrorResponse = response.json().await.unwrap();
    // A VIM method carries personas with adapters: the spec must name their folder.
    for field in ["n", "gap", "model.adapter"] {
        assert!(
            error.fields.contains_key(field),
            "{field}: {:?}",
            error.fields
        );
    }
    let mut spec = simulate_spec(&model, "sims/bad");
    spec["strategy"] = json!("even");
    let response = admin.post("/api/jobs", &spec).await;
    let error: ErrorResponse = response.json().await.unwrap();
    assert!(
        error.fields["strategy"].contains("unknown variant"),
        "{:?}",
        error.fields
    );
}
