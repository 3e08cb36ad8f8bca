//! Profile conditioning through the API: a steer conditioner made on the server's worker as a
//! `condition` job, then the `protocol` job on its held-out profiles; bad specs answered field by
//! field, and only admins may submit.

use crate::jobs::{app_with, quick_worker, submit, wait_for};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use valuelab_common::api::auth::Role;
use valuelab_common::api::ErrorResponse;
use valuelab_tests::fixtures::{shared_data_dir, tiny_model};

fn condition_spec(model: &Path, out: &str) -> Value {
    json!({
        "job": "condition",
        "method": "steer",
        "model": model,
        "data_dir": shared_data_dir(),
        "no_respondents": true,
        "layers": [1],
        "alphas": [0.0, 4.0],
        "steer_arguments": 8,
        "validation_examples": 4,
        "out": out,
    })
}

#[tokio::test]
async fn a_conditioner_and_its_protocol_run_on_the_worker() {
    let app = app_with(quick_worker(1)).await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let model = tiny_model(app.dir.path());
    let id = submit(&admin, &condition_spec(&model, "cond/steer")).await;
    let done = wait_for(&admin, id, "done", |j| j.status == "done").await;
    assert_eq!(done.kind, "condition");

    let protocol = json!({
        "job": "protocol",
        "split": "cond/steer",
        "methods": [{"method": "base"}, {"method": "steer", "adapter": "cond/steer"}],
        "model": model,
        "data_dir": shared_data_dir(),
        "tasks": ["pvq"],
        "limit_items": 4,
        "bootstrap": 20,
        "out": "protocol",
    });
    let id = submit(&admin, &protocol).await;
    let done = wait_for(&admin, id, "done", |j| j.status == "done").await;
    assert_eq!(done.kind, "protocol");
}

#[tokio::test]
async fn bad_conditioning_specs_are_answered_field_by_field_and_only_admins_submit() {
    let app = app_with(quick_worker(1)).await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let member = app.logged_in(Role::Member, "mel").await;
    let model = tiny_model(app.dir.path());
    let mut spec = condition_spec(&model, "cond/bad");
    spec["minutes"] = json!(-1.0);
    spec["steps"] = json!(0);
    spec["alphas"] = json!([]);
    let response = admin.post("/api/jobs", &spec).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: ErrorResponse = response.json().await.unwrap();
    for field in ["minutes", "steps", "alphas"] {
        assert!(
            error.fields.contains_key(field),
            "{field}: {:?}",
            error.fields
        );
    }
    let mut spec = condition_spec(&model, "cond/bad");
    spec["method"] = json!("telepathy");
    let error: ErrorResponse = admin.post("/api/jobs", &spec).await.json().await.unwrap();
    assert!(
        error.fields["method"].contains("unknown variant"),
        "{:?}",
        error.fields
    );
    let response = member
        .post("/api/jobs", &condition_spec(&model, "cond/x"))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // vim-cond: one adapter for every profile, its fields checked like a training's.
    let mut spec = json!({
        "job": "vim-cond",
        "model": model,
        "data_dir": shared_data_dir(),
        "no_respondents": true,
        "examples": 0,
        "epochs": 0,
        "lr": 2e-4,
        "weight_decay": 0.0,
        "batch_size": 2,
        "grad_accum": 1,
        "max_seq_len": 512,
        "lora": {"r": 2, "lora_alpha": 4.0, "lora_dropout": 0.0, "target_modules": ["q_proj"]},
        "checkpoint_every": 10,
        "out": "vim-cond",
    });
    let response = admin.post("/api/jobs", &spec).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: ErrorResponse = response.json().await.unwrap();
    for field in ["examples", "epochs"] {
        assert!(
            error.fields.contains_key(field),
            "{field}: {:?}",
            error.fields
        );
    }
    spec["examples"] = json!(4);
    spec["epochs"] = json!(1);
    assert_eq!(
        member.post("/api/jobs", &spec).await.status(),
        StatusCode::FORBIDDEN
    );

    // protocol: its tasks and the ESS part's settings.
    let protocol = json!({
        "job": "protocol",
        "split": "cond/steer",
        "methods": [{"method": "base"}],
        "model": model,
        "data_dir": shared_data_dir(),
        "tasks": ["pvq", "args", "ess"],
        "ess_groups": 1,
        "ess_microdata": ["/nowhere/ess9_xx.csv"],
        "out": "protocol",
    });
    let response = admin.post("/api/jobs", &protocol).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: ErrorResponse = response.json().await.unwrap();
    assert!(
        error.fields["tasks"].contains("'args' is not a protocol task"),
        "{:?}",
        error.fields
    );
    assert!(
        error.fields["ess_groups"].contains("at least 2"),
        "{:?}",
        error.fields
    );
    assert!(
        error.fields["ess_microdata.0"].contains("does not exist"),
        "{:?}",
        error.fields
    );
}
