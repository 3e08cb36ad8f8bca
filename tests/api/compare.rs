//! Runs side by side: real PVQ runs of the tiny model (two seeds of one method, one without
//! values) compared with the value-blind baseline, differences against a pinned
//! run, the two seeds aggregated as a mean with its interval, the CSV, the charts, and the 4xx
//! of comparisons that cannot be made.

use crate::helpers::{error_text, json, spawn_app, Session};
use reqwest::StatusCode;
use serde_json::json;
use std::path::{Path, PathBuf};
use valuelab_common::api::auth::Role;
use valuelab_common::api::runs::{ImportedRun, RunComparison};
use valuelab_engine::jobs::{CancelToken, Job, NullSink};
use valuelab_tests::fixtures::{shared_data_dir, tiny_model};

/// A finished PVQ run of the tiny model in `app`'s folder.
async fn pvq_run(model: &Path, out: PathBuf, method: &str, seed: u64) -> PathBuf {
    let spec = json!({
        "job": "eval", "task": "pvq", "data_dir": shared_data_dir(),
        "groups": {"names": ["Group_1", "Group_2", "Albania"]},
        "model": {"method": method, "model": model, "seed": seed,
                  "batch_size": 4, "threads": 1},
        "limit_items": 6, "out": out,
    });
    let job: Job = serde_json::from_value(spec).unwrap();
    tokio::task::spawn_blocking(move || {
        valuelab_engine::jobs::run(&job, &NullSink, &CancelToken::new()).unwrap()
    })
    .await
    .unwrap();
    out
}

async fn imported(admin: &Session, dirs: &[&PathBuf]) -> Vec<i32> {
    let runs: Vec<ImportedRun> = json(
        admin
            .post("/api/runs/import", &json!({ "paths": dirs }))
            .await,
    )
    .await;
    dirs.iter()
        .map(|d| {
            runs.iter()
                .find(|r| Path::new(&r.path) == d.as_path())
                .unwrap()
                .id
        })
        .collect()
}

#[tokio::test]
async fn runs_compare_with_the_baselines_a_pinned_run_and_seeds_aggregated() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let member = app.logged_in(Role::Member, "mel").await;
    let model = tiny_model(app.dir.path());
    let dir = app.dir.path().canonicalize().unwrap();
    let seed1 = pvq_run(&model, dir.join("short-1"), "prompt-short", 1).await;
    let seed2 = pvq_run(&model, dir.join("short-2"), "prompt-short", 2).await;
    let base = pvq_run(&model, dir.join("base"), "base", 1).await;
    let ids = imported(&admin, &[&seed1, &seed2, &base]).await;
    let query = format!("ids={},{},{}&baseline={}", ids[0], ids[1], ids[2], ids[2]);

    let c: RunComparison = json(member.get(&format!("/api/runs/compare?{query}")).await).await;
    assert_eq!(
        (c.task.as_str(), c.groups, c.baseline),
        ("pvq", 3, Some(ids[2]))
    );
    let runs: Vec<_> = c.rows.iter().filter(|r| r.kind == "run").collect();
    assert_eq!(
        runs.iter().map(|r| r.run_id.unwrap()).collect::<Vec<_>>(),
        ids
    );
    assert_eq!(
        runs.iter().map(|r| r.seed).collect::<Vec<_>>(),
        [Some(1), Some(2), Some(1)]
    );
    assert!(
        c.rows.iter().any(|r| r.kind == "value-blind"),
        "{:?}",
        c.rows
    );
    for row in &runs {
        let nmse = row.nmse.unwrap();
        let expected = nmse - runs[2].nmse.unwrap();
        assert!((row.nmse_difference.unwrap() - expected).abs() < 1e-12);
        let skill = 1.0 - nmse / row.value_blind_nmse.unwrap();
        assert!((row.skill.unwrap() - skill).abs() < 1e-9, "{row:?}");
    }
    assert_eq!(runs[2].nmse_difference, Some(0.0));

    // The two seeds of prompt-short, and nothing else, aggregate: mean of the two, t interval.
    assert_eq!(c.seed_groups.len(), 1, "{:?}", c.seed_groups);
    let seeds = &c.seed_groups[0];
    assert_eq!(
        (seeds.method.as_str(), seeds.runs.clone()),
        ("prompt-short", vec![ids[0], ids[1]])
    );
    let nmse = seeds.nmse.unwrap();
    let (a, b) = (runs[0].nmse.unwrap(), runs[1].nmse.unwrap());
    assert!((nmse.mean - (a + b) / 2.0).abs() < 1e-12);
    // n = 2: half width t(0.975, 1) · |a − b| / 2 = 12.706 · |a − b| / 2
    let half = 12.706_204_736 * (a - b).abs() / 2.0;
    assert!(
        (nmse.high.unwrap() - nmse.mean - half).abs() < 1e-6,
        "{nmse:?}"
    );

    let csv = member.text(&format!("/api/runs/compare.csv?{query}")).await;
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[0].starts_with("run_id,label,kind,model,answer_mode,seed,nmse"),
        "{csv}"
    );
    assert_eq!(lines.len(), 1 + c.rows.len());

    for chart in ["nmse.svg", "radar.svg?group=Albania"] {
        let sep = if chart.contains('?') { '&' } else { '?' };
        let response = member
            .get(&format!(
                "/api/runs/charts/{chart}{sep}ids={},{}",
                ids[0], ids[2]
            ))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{chart}");
        assert_eq!(response.headers()["content-type"], "image/svg+xml");
        assert!(response.text().await.unwrap().contains("<svg"));
    }
    let bad_group = member
        .get(&format!(
            "/api/runs/charts/radar.svg?ids={}&group=Atlantis",
            ids[0]
        ))
        .await;
    assert_eq!(bad_group.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn comparisons_that_cannot_be_made_get_a_4xx_that_says_why() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let model = tiny_model(app.dir.path());
    let dir = app.dir.path().canonicalize().unwrap();
    let pvq = pvq_run(&model, dir.join("pvq"), "prompt-short", 1).await;
    let args = app.args_runs("args", &["Group_1"], 1, |_, _, _| {});
    let ids = imported(&admin, &[&pvq, &args.run_a, &args.run_b]).await;

    for (query, expected) in [
        ("ids=".to_string(), "give 1..50 run ids"),
        ("ids=1,x".to_string(), "'x' is not a run id"),
        (
            format!("ids={},{}", ids[0], ids[1]),
            "runs of one task compare",
        ),
        (format!("ids={}", ids[2]), "incomplete"),
        (format!("ids={}&baseline=999", ids[0]), "baseline: run 999"),
    ] {
        let response = admin.get(&format!("/api/runs/compare?{query}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let text = error_text(response).await;
        assert!(text.contains(expected), "{query}: {text}");
    }
    assert_eq!(
        admin.get("/api/runs/compare?ids=999").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        admin
            .get(&format!("/api/runs/charts/pie.svg?ids={}", ids[0]))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let (study, _) = app.study(&admin, &["Group_1"], 1, json!({})).await;
    let annotator = &app.invited_annotators(&admin, study, 1).await[0];
    let refused = annotator
        .get(&format!("/api/runs/compare?ids={}", ids[0]))
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}
