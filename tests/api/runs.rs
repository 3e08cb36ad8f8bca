//! The results explorer's runs: importing run folders (idempotent), listing them with filters,
//! one run with its results and its table, and who may do what.

use crate::helpers::{error_text, json, spawn_app, valuelab_cli};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use valuelab_common::api::auth::Role;
use valuelab_common::api::runs::{ImportedRun, RunSummary};
use valuelab_engine::eval::{AnswerMode, GroupResult, RunResult, TaskKind};

/// Marks a fixture run finished: a `results.json` with one group whose answers are known.
fn finish(run: &Path) {
    let result = RunResult {
        task: TaskKind::Args,
        method: "prompt-long".parse().unwrap(),
        model: "fixture".into(),
        answer_mode: AnswerMode::Sample,
        keys: vec!["k1".into(), "k2".into()],
        categories: vec!["Power".into(), "Tradition".into()],
        groups: vec![GroupResult {
            group: "Group_1".into(),
            size: Some(7),
            values: [3.0; 10],
            target: vec![Some(0.5), Some(0.25)],
            predicted: vec![Some(0.75), None],
            answered: 4,
            parse_failures: 1,
            refusals: 0,
        }],
    };
    std::fs::write(
        run.join("results.json"),
        serde_json::to_string(&result).unwrap(),
    )
    .unwrap();
}

#[tokio::test]
async fn imported_runs_are_listed_filtered_and_read_back_with_their_results() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let member = app.logged_in(Role::Member, "mel").await;
    let runs = app.args_runs("explorer", &["Group_1", "Group_2"], 2, |_, _, _| {});
    finish(&runs.run_a);
    let parent = runs.run_a.parent().unwrap().display().to_string();

    // A folder holding run folders imports each of them; a second import changes no id.
    let first: Vec<ImportedRun> = json(
        admin
            .post("/api/runs/import", &json!({"paths": [parent]}))
            .await,
    )
    .await;
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|r| r.new));
    let again: Vec<ImportedRun> = json(
        admin
            .post("/api/runs/import", &json!({"paths": [parent]}))
            .await,
    )
    .await;
    assert_eq!(
        again.iter().map(|r| r.id).collect::<Vec<_>>(),
        first.iter().map(|r| r.id).collect::<Vec<_>>()
    );
    assert!(again.iter().all(|r| !r.new));

    let all: Vec<RunSummary> = json(member.get("/api/runs").await).await;
    assert_eq!(all.len(), 2);
    let done: Vec<RunSummary> = json(member.get("/api/runs?status=done").await).await;
    assert_eq!(done.len(), 1);
    assert_eq!(
        (done[0].method.as_str(), done[0].task.as_str()),
        ("prompt-long", "args")
    );
    assert_eq!(done[0].groups, ["Group_1", "Group_2"]);
    let vim: Vec<RunSummary> = json(member.get("/api/runs?method=vim&task=").await).await;
    assert_eq!(vim.len(), 1);
    assert_eq!(vim[0].status, "incomplete");
    let none: Vec<RunSummary> = json(member.get("/api/runs?group=Group_9").await).await;
    assert!(none.is_empty());

    let one: Value = json(member.get(&format!("/api/runs/{}", done[0].id)).await).await;
    assert_eq!(one["run"]["path"], done[0].path.as_str(), "{one}");
    assert_eq!(one["results"]["groups"][0]["answered"], 4);
    assert_eq!(one["table"][0]["nmse"], 0.0625, "{one}");
    let incomplete: Value = json(member.get(&format!("/api/runs/{}", vim[0].id)).await).await;
    assert_eq!(incomplete["results"], Value::Null);
    assert_eq!(incomplete["table"], json!([]));

    // NMSE over the keys with both a target and a prediction: only k1, (0.75 − 0.5)² = 0.0625.
    let table = member
        .text(&format!("/api/runs/{}/table.csv", done[0].id))
        .await;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "group,size,nmse,answered,parse_failures,refusals");
    assert_eq!(lines[1], "Group_1,7,0.0625,4,1,0");
    let not_yet = member
        .get(&format!("/api/runs/{}/table.csv", vim[0].id))
        .await;
    assert_eq!(not_yet.status(), StatusCode::NOT_FOUND);
    assert!(error_text(not_yet).await.contains("incomplete"));
}

#[tokio::test]
async fn runs_are_for_staff_and_bad_input_gets_a_4xx_that_says_why() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let member = app.logged_in(Role::Member, "mel").await;
    let (study, _) = app.study(&admin, &["Group_1"], 1, json!({})).await;
    let annotator = app.invited_annotators(&admin, study, 1).await.remove(0);

    assert_eq!(
        annotator.get("/api/runs").await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.anonymous().get("/api/runs").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let by_member = member
        .post("/api/runs/import", &json!({"paths": ["/tmp"]}))
        .await;
    assert_eq!(by_member.status(), StatusCode::FORBIDDEN);

    let missing = admin
        .post("/api/runs/import", &json!({"paths": ["/no/such/folder"]}))
        .await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(missing).await.contains("/no/such/folder"));
    let empty_dir = tempfile::tempdir().unwrap();
    let nothing = admin
        .post("/api/runs/import", &json!({"paths": [empty_dir.path()]}))
        .await;
    assert_eq!(nothing.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(nothing).await.contains("no run folder"));
    let no_paths = admin.post("/api/runs/import", &json!({"paths": []})).await;
    assert_eq!(no_paths.status(), StatusCode::BAD_REQUEST);
    let bad_task = admin.get("/api/runs?task=poll").await;
    assert_eq!(bad_task.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(bad_task)
        .await
        .contains("pvq, valuenet, ess, args"));
    assert_eq!(
        admin.get("/api/runs/999").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin.get("/api/runs/abc").await.status(),
        StatusCode::NOT_FOUND
    );
    let all: Vec<RunSummary> = json(admin.get("/api/runs").await).await;
    assert!(all.is_empty(), "a refused import stores nothing");
}

/// `valuelab runs import DIR` (the end of scripts/run-main.sh) fills the same explorer.
#[tokio::test]
async fn the_command_line_imports_into_the_same_explorer() {
    let app = spawn_app().await;
    let member = app.logged_in(Role::Member, "mel").await;
    let runs = app.args_runs("cli", &["Group_1"], 1, |_, _, _| {});
    let run_b = runs.run_b.display().to_string();
    valuelab_cli(&app, &["runs", "import", &run_b]).await;
    let listed: Vec<RunSummary> = json(member.get("/api/runs").await).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].method, "vim");
}

/// A run's page links the studies built on its arguments, with its wins seen from its side.
#[tokio::test]
async fn a_run_lists_the_studies_built_on_it_with_its_win_rate() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let (study, _) = app.study(&admin, &["Group_1"], 2, json!({})).await;
    let summary: Value = json(admin.get(&format!("/api/studies/{study}")).await).await;
    let (run_a, run_b) = (summary["run_a"].clone(), summary["run_b"].clone());
    for run in [&run_a, &run_b] {
        finish(Path::new(run.as_str().unwrap()));
    }
    let imported: Vec<ImportedRun> = json(
        admin
            .post("/api/runs/import", &json!({"paths": [run_a, run_b]}))
            .await,
    )
    .await;
    let annotator = &app.invited_annotators(&admin, study, 1).await[0];
    let item = annotator.next(study).await.expect("an item");
    let judged = annotator
        .judge(study, item["item_id"].as_i64().unwrap(), "left")
        .await;
    assert_eq!(judged.status(), StatusCode::CREATED);

    let side = |page: &Value| page["studies"][0].clone();
    let a: Value = json(admin.get(&format!("/api/runs/{}", imported[0].id)).await).await;
    let b: Value = json(admin.get(&format!("/api/runs/{}", imported[1].id)).await).await;
    let (a, b) = (side(&a), side(&b));
    assert_eq!(
        (a["id"].as_i64(), a["side"].as_str()),
        (Some(study as i64), Some("A")),
        "{a}"
    );
    assert_eq!(
        (b["side"].as_str(), b["other_method"].as_str()),
        (Some("B"), Some("prompt-long"))
    );
    assert_eq!(
        (a["judgements"].as_u64(), b["judgements"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        a["wins"], b["losses"],
        "one judgement, seen from both sides: {a} {b}"
    );
    assert_eq!(
        a["wins"].as_f64().unwrap() + a["losses"].as_f64().unwrap(),
        1.0
    );
}
