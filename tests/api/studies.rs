//! Creating studies from two `eval args` runs: what is accepted, what is refused and why, and
//! who may see what.

use crate::helpers::{error_text, json, spawn_app, valuelab_cli};
use reqwest::StatusCode;
use serde_json::{json, Value};
use valuelab_common::api::auth::Role;
use valuelab_common::api::studies::StudySummary;

#[tokio::test]
async fn an_admin_builds_a_study_from_two_matching_runs() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;

    let (id, created) = app
        .study(&admin, &["Group_1", "Group_2"], 3, json!({}))
        .await;

    assert_eq!(created["items"], 6);
    assert_eq!(created["dropped"], json!([]));
    assert!(created["public_url"]
        .as_str()
        .unwrap()
        .starts_with("/join/"));
    let summary: StudySummary = json(admin.get(&format!("/api/studies/{id}")).await).await;
    assert_eq!(
        (summary.method_a.as_str(), summary.method_b.as_str()),
        ("prompt-long", "vim")
    );
    assert_eq!(
        summary.annotators_per_item, 3,
        "the paper's three annotators by default"
    );
    assert_eq!(summary.items, 6);
}

#[tokio::test]
async fn pairs_with_an_unjudgeable_side_are_left_out_and_listed_with_the_reason() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let runs = app.args_runs("bad", &["Group_1"], 3, |_, item, g| match item {
        "arg0" => g.stance = None,
        "arg1" => g.premise = Some("This person is an alien.".to_string()),
        _ => {}
    });

    let response = admin
        .post(
            "/api/studies",
            &json!({"name": "s", "run_a": runs.run_a, "run_b": runs.run_b}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["items"], 1);
    let reasons: Vec<String> = created["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{}: {}",
                d["item"].as_str().unwrap(),
                d["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].starts_with("arg0: B: no stance"), "{reasons:?}");
    assert!(
        reasons[1].contains("arg1: B: the premise shares no content word"),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn runs_that_do_not_match_are_refused_with_the_reason() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let two = app.args_runs("two", &["Group_1", "Group_2"], 2, |_, _, _| {});
    let other = app.args_runs("other", &["Group_1", "Group_3"], 2, |_, _, _| {});
    let fewer = app.args_runs("fewer", &["Group_1", "Group_2"], 1, |_, _, _| {});
    let moved = app.args_runs("moved", &["Group_1", "Group_2"], 2, |_, item, g| {
        if item == "arg1" {
            g.conclusion = "We should ban homework".to_string();
        }
    });
    let missing = app.dir.path().join("no-such-run");
    let cases = [
        (
            &two.run_a,
            &other.run_b,
            "different target groups (only in run_a: Group_2; only in run_b: Group_3)",
        ),
        (
            &two.run_a,
            &fewer.run_b,
            "different arguments (only in run_a: Group_1/arg1, Group_2/arg1",
        ),
        (
            &two.run_a,
            &moved.run_b,
            "different conclusions (Group_1/arg1, Group_2/arg1)",
        ),
        (&two.run_a, &two.run_a, "the same folder"),
        (&two.run_a, &missing, "run_b: "),
        (&two.run_a, &two.groups_file, "has no run.json"),
    ];
    for (a, b, expected) in cases {
        let response = admin
            .post(
                "/api/studies",
                &json!({"name": "s", "run_a": a, "run_b": b}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{expected}");
        let error = error_text(response).await;
        assert!(
            error.contains(expected),
            "expected '{expected}' in: {error}"
        );
    }
    let listed: Vec<StudySummary> = json(admin.get("/api/studies").await).await;
    assert!(listed.is_empty(), "nothing stored for refused studies");
}

#[tokio::test]
async fn a_run_of_another_task_is_refused() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let runs = app.args_runs("pvq", &["Group_1"], 1, |_, _, _| {});
    let run_json = runs.run_b.join("run.json");
    let text = std::fs::read_to_string(&run_json)
        .unwrap()
        .replace("\"args\"", "\"pvq\"");
    std::fs::write(&run_json, text).unwrap();

    let response = admin
        .post(
            "/api/studies",
            &json!({"name": "s", "run_a": runs.run_a, "run_b": runs.run_b}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(response).await.contains("is a pvq run"));
}

#[tokio::test]
async fn out_of_range_settings_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let runs = app.args_runs("r", &["Group_1"], 1, |_, _, _| {});
    let base = json!({"name": "s", "run_a": runs.run_a, "run_b": runs.run_b});
    let cases = [
        (json!({"annotators_per_item": 0}), "annotators_per_item"),
        (json!({"item_quota": 0}), "item_quota"),
        (json!({"name": ""}), "name"),
        (json!({"name": "n".repeat(201)}), "name"),
        (json!({"attention_min_pass": 1.5}), "attention_min_pass"),
        (
            json!({"completion_url": "javascript:alert(1)"}),
            "completion_url",
        ),
        (json!({"annotators_per_item": -1}), "bad JSON"),
        // PostgreSQL's text cannot hold NUL: a 400 on both backends, not a 500 (issue 8)
        (json!({"name": "a\u{0}b"}), "name"),
        (json!({"guidelines": "\u{0}"}), "guidelines"),
    ];
    for (change, field) in cases {
        let mut body = base.clone();
        body.as_object_mut()
            .unwrap()
            .extend(change.as_object().unwrap().clone());
        let response = admin.post("/api/studies", &body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{change}");
        assert!(error_text(response).await.contains(field), "{change}");
    }
}

#[tokio::test]
async fn only_admins_create_studies_and_only_staff_read_them() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let member = app.logged_in(Role::Member, "mel").await;
    let (id, _) = app.study(&admin, &["Group_1"], 2, json!({})).await;
    let annotator = app.invited_annotators(&admin, id, 1).await.remove(0);
    let stranger = app.anonymous();
    let runs = app.args_runs("r", &["Group_1"], 1, |_, _, _| {});
    let body = json!({"name": "s", "run_a": runs.run_a, "run_b": runs.run_b});

    assert_eq!(
        member.post("/api/studies", &body).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        annotator.post("/api/studies", &body).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        stranger.post("/api/studies", &body).await.status(),
        StatusCode::UNAUTHORIZED
    );
    for path in [
        "",
        "/report",
        "/agreement",
        "/judgements.csv",
        "/judgements.jsonl",
    ] {
        let path = format!("/api/studies/{id}{path}");
        assert_eq!(member.get(&path).await.status(), StatusCode::OK, "{path}");
        let denied = annotator.get(&path).await;
        assert_eq!(denied.status(), StatusCode::FORBIDDEN, "{path}");
        assert!(
            error_text(denied).await.contains("admin or member"),
            "{path}"
        );
        assert_eq!(
            stranger.get(&path).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    assert_eq!(
        annotator.get("/api/studies").await.status(),
        StatusCode::FORBIDDEN
    );
    let invites = format!("/api/studies/{id}/invites");
    let invite = json!({"role": "annotator", "count": 1});
    assert_eq!(
        member.post(&invites, &invite).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        annotator.post(&invites, &invite).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn unknown_and_malformed_study_ids_answer_404_in_json() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;

    let unknown = admin.get("/api/studies/999").await;
    let malformed = admin.get("/api/studies/abc").await;

    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(error_text(unknown).await.contains("no study 999"));
    assert_eq!(malformed.status(), StatusCode::NOT_FOUND);
    assert!(error_text(malformed).await.contains("whole numbers"));
}

/// `valuelab study create` (the demo study of scripts/run-main.sh) stores the study the API
/// serves; a premise written after a lead-in (`eval args` in expect mode) is shown whole.
#[tokio::test]
async fn the_command_line_creates_a_study_and_lead_in_premises_are_shown_whole() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let runs = app.args_runs("led", &["Group_1"], 2, |_, _, g| {
        // run B's arguments continue a lead-in
        g.premise_lead_in = Some("I agree that we should act, because".to_string());
        g.premise = Some("it protects every uniform wearer in the community.".to_string());
    });
    let (run_a, run_b) = (
        runs.run_a.display().to_string(),
        runs.run_b.display().to_string(),
    );
    valuelab_cli(
        &app,
        &[
            "study",
            "create",
            "--name",
            "from the shell",
            "--run-a",
            &run_a,
            "--run-b",
            &run_b,
        ],
    )
    .await;

    let studies: Vec<StudySummary> = json(admin.get("/api/studies").await).await;
    let study = studies
        .iter()
        .find(|s| s.name == "from the shell")
        .expect("the study is listed");
    assert_eq!(study.items, 2);
    let annotator = app.invited_annotators(&admin, study.id, 1).await.remove(0);
    let item = annotator.next(study.id).await.expect("an item");
    // `args_runs` edits run B only: one side is B's.
    let whole =
        "I agree that we should act, because it protects every uniform wearer in the community.";
    assert!(
        item["left"]["premise"] == whole || item["right"]["premise"] == whole,
        "{item}"
    );
}
