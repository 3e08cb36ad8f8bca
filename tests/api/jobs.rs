//! The job queue: an evaluation submitted as the CLI's spec runs on the server's worker to the
//! same result as on the command line and enters the explorer; bad specs get one message per
//! field; Cancel stops a queued or a running job and Resume finishes it; a job whose worker died
//! is marked interrupted by the next server, never "running" forever; roles.

use crate::database::TestDatabase;
use crate::helpers::{error_text, json, spawn_app_in, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};
use valuelab_common::api::auth::Role;
use valuelab_common::api::jobs::{JobCreated, JobLog, JobView};
use valuelab_common::api::runs::RunSummary;
use valuelab_common::api::ErrorResponse;
use valuelab_engine::jobs::{CancelToken, Job, NullSink};
use valuelab_server::configuration::JobSettings;
use valuelab_tests::fixtures::{shared_data_dir, tiny_model};

/// A worker that beats often, so that a Cancel arrives quickly and a dead one is seen soon.
pub(crate) fn quick_worker(workers: usize) -> JobSettings {
    JobSettings {
        workers,
        threads: Some(1),
        heartbeat_ms: 100,
        stale_ms: 1_000,
        ..JobSettings::default()
    }
}

pub(crate) async fn app_with(jobs: JobSettings) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary folder");
    let database = TestDatabase::new(dir.path());
    spawn_app_in(dir, database, &[], jobs).await
}

/// A PVQ evaluation spec as `valuelab eval pvq --print-spec` prints it, for the tiny model.
pub(crate) fn pvq_spec(
    model: &Path,
    groups: Value,
    limit_items: Option<usize>,
    out: &str,
) -> Value {
    json!({
        "job": "eval",
        "task": "pvq",
        "data_dir": shared_data_dir(),
        "groups": groups,
        "model": {"method": "prompt-short", "model": model, "batch_size": 1, "seed": 3},
        "limit_items": limit_items,
        "out": out,
    })
}

pub(crate) async fn submit(admin: &crate::helpers::Session, spec: &Value) -> i32 {
    let response = admin.post("/api/jobs", spec).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    json::<JobCreated>(response).await.id
}

async fn job(session: &crate::helpers::Session, id: i32) -> JobView {
    json(session.get(&format!("/api/jobs/{id}")).await).await
}

/// Polls the job until `done` says so (60 s at most).
pub(crate) async fn wait_for(
    session: &crate::helpers::Session,
    id: i32,
    what: &str,
    done: impl Fn(&JobView) -> bool,
) -> JobView {
    let started = Instant::now();
    loop {
        let view = job(session, id).await;
        if done(&view) {
            return view;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "job {id} never became {what}: {view:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_submitted_evaluation_runs_to_done_and_enters_the_explorer() {
    let app = app_with(quick_worker(1)).await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let member = app.logged_in(Role::Member, "mel").await;
    let model = tiny_model(app.dir.path());
    let spec = pvq_spec(
        &model,
        json!({"names": ["Group_1", "Albania"]}),
        Some(4),
        "runs/pvq",
    );

    let id = submit(&admin, &spec).await;
    let done = wait_for(&member, id, "done", |j| j.status == "done").await;
    assert_eq!((done.progress.done, done.progress.total), (8, 8));
    assert_eq!(
        (done.kind.as_str(), done.backend.as_str()),
        ("eval", "local")
    );
    assert_eq!(done.attempts, 1);
    assert_eq!(done.created_by, "ada");
    // the relative output went under the server's jobs folder
    let out = app.dir.path().join("jobs/runs/pvq");
    assert_eq!(Path::new(&done.out), out);
    assert!(out.join("results.json").is_file());

    // its run is in the explorer, finished
    let run_id = done.run_id.expect("the run was imported");
    let run: Value = json(member.get(&format!("/api/runs/{run_id}")).await).await;
    let run: RunSummary = serde_json::from_value(run["run"].clone()).unwrap();
    assert_eq!((run.status.as_str(), run.task.as_str()), ("done", "pvq"));
    assert_eq!(run.groups, ["Group_1", "Albania"]);

    // the log tells the story, and polling after its last line returns nothing new
    let log: JobLog = json(member.get(&format!("/api/jobs/{id}/log")).await).await;
    let lines: Vec<&str> = log.lines.iter().map(|l| l.line.as_str()).collect();
    assert!(lines[0].starts_with("queued by ada"), "{lines:?}");
    assert!(lines.contains(&"started (attempt 1)"), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("loaded ")), "{lines:?}");
    assert!(lines.last().unwrap().starts_with("done in"), "{lines:?}");
    let later: JobLog = json(
        member
            .get(&format!("/api/jobs/{id}/log?after={}", log.next_after))
            .await,
    )
    .await;
    assert!(later.lines.is_empty() && later.next_after == log.next_after);

    // the same spec run as `valuelab run SPEC.json` runs it gives the same answers
    let cli_out = app.dir.path().join("cli-pvq");
    let mut cli_spec = spec.clone();
    cli_spec["out"] = json!(cli_out);
    let cli_job: Job = serde_json::from_value(cli_spec).unwrap();
    tokio::task::spawn_blocking(move || {
        valuelab_engine::jobs::run(&cli_job, &NullSink, &CancelToken::new()).unwrap()
    })
    .await
    .unwrap();
    let results = |dir: &Path| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
    };
    assert_eq!(results(&out), results(&cli_out));

    let list: Vec<JobView> = json(member.get("/api/jobs?status=done").await).await;
    assert_eq!(list.iter().map(|j| j.id).collect::<Vec<_>>(), [id]);
}

#[tokio::test]
async fn a_bad_spec_gets_one_message_per_field() {
    let app = app_with(quick_worker(0)).await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let model = tiny_model(app.dir.path());
    let fields = |body: Value| {
        let admin = &admin;
        async move {
            let response = admin.post("/api/jobs", &body).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
            let error: ErrorResponse = response.json().await.unwrap();
            assert!(!error.error.is_empty());
            error.fields
        }
    };
    let mut spec = pvq_spec(&model, json!({"names": ["Atlantis"]}), Some(0), "runs/x");
    spec["model"]["model"] = json!(app.dir.path().join("missing.gguf"));
    spec["model"]["method"] = json!("vim");
    let errors = fields(spec).await;
    assert_eq!(
        errors.keys().map(String::as_str).collect::<Vec<_>>(),
        ["groups", "limit_items", "model.adapter", "model.model"]
    );
    assert!(errors["groups"].contains("Atlantis"), "{errors:?}");
    assert!(errors["model.model"].contains("missing.gguf"), "{errors:?}");

    let mut spec = pvq_spec(&model, json!("all"), None, "runs/x");
    spec["model"]["batch_size"] = json!("four");
    let errors = fields(spec).await;
    assert!(
        errors["model.batch_size"].contains("invalid type"),
        "{errors:?}"
    );

    let errors = fields(json!({"job": "eval", "task": "pvq", "model": {"method": "base"}})).await;
    assert!(errors["out"].contains("missing field"), "{errors:?}");
    let errors = fields(json!({"job": "sing"})).await;
    assert!(errors["job"].contains("\"sing\""), "{errors:?}");
    let mut spec = pvq_spec(&model, json!("all"), None, "runs/x");
    spec["backend"] = json!("slurm");
    assert!(fields(spec).await.contains_key("backend"));

    // two live jobs never write one run folder
    let spec = pvq_spec(&model, json!("all"), Some(1), "runs/shared");
    submit(&admin, &spec).await;
    let second = admin.post("/api/jobs", &spec).await;
    assert_eq!(second.status(), StatusCode::CONFLICT);
    assert!(error_text(second).await.contains("already writing"));
}

#[tokio::test]
async fn only_admins_submit_and_annotators_see_no_jobs() {
    let app = app_with(quick_worker(0)).await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let member = app.logged_in(Role::Member, "mel").await;
    let (study, _) = app.study(&admin, &["Group_1"], 1, json!({})).await;
    let annotator = &app.invited_annotators(&admin, study, 1).await[0];
    let model = tiny_model(app.dir.path());
    let spec = pvq_spec(&model, json!("all"), Some(1), "runs/roles");
    let id = submit(&admin, &spec).await;

    assert_eq!(
        member.post("/api/jobs", &spec).await.status(),
        StatusCode::FORBIDDEN
    );
    for path in [
        format!("/api/jobs/{id}/cancel"),
        format!("/api/jobs/{id}/resume"),
    ] {
        assert_eq!(
            member.post(&path, &json!({})).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    for path in [
        "/api/jobs".to_string(),
        format!("/api/jobs/{id}"),
        format!("/api/jobs/{id}/log"),
        "/api/job-templates".to_string(),
    ] {
        let status = annotator.get(&path).await.status();
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(
            app.anonymous().get(&path).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    assert_eq!(
        member.get(&format!("/api/jobs/{id}")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        member.get("/api/jobs/999").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        member.get("/api/jobs?status=sleeping").await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn cancel_stops_a_queued_and_a_running_job_and_resume_finishes_it() {
    // No worker: the job waits in the queue, and Cancel means it never starts.
    let app = app_with(quick_worker(0)).await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let model = tiny_model(app.dir.path());
    let queued = submit(&admin, &pvq_spec(&model, json!("all"), Some(1), "runs/q")).await;
    assert_eq!(job(&admin, queued).await.status, "queued");
    let cancelled: JobView = json(
        admin
            .post(&format!("/api/jobs/{queued}/cancel"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(cancelled.status, "cancelled");
    let again = admin
        .post(&format!("/api/jobs/{queued}/cancel"), &json!({}))
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);

    // A worker on the same database: 16 groups × 10 items, one item per call, take seconds on
    // the tiny model (about 50 items/s); it is cancelled as soon as it runs.
    let server = app.restarted(quick_worker(1)).await;
    let admin = server.log_in("ada").await;
    let long = submit(
        &admin,
        &pvq_spec(&model, json!({"sample": 16}), Some(10), "runs/long"),
    )
    .await;
    wait_for(&admin, long, "running", |j| j.status == "running").await;
    let asked: JobView = json(
        admin
            .post(&format!("/api/jobs/{long}/cancel"), &json!({}))
            .await,
    )
    .await;
    assert!(
        asked.status == "running" && asked.cancel_requested,
        "{asked:?}"
    );
    let stopped = wait_for(&admin, long, "stopped", |j| j.status != "running").await;
    assert_eq!(
        stopped.status, "cancelled",
        "the job ended before its cancel: {stopped:?}"
    );
    assert!(
        stopped.progress.done < stopped.progress.total,
        "{stopped:?}"
    );
    let run_id = stopped
        .run_id
        .expect("the incomplete run is in the explorer");
    let run: Value = json(admin.get(&format!("/api/runs/{run_id}")).await).await;
    assert_eq!(run["run"]["status"], "incomplete");

    // Resume continues from the items the run folder holds, to the end.
    let resumed: JobView = json(
        admin
            .post(&format!("/api/jobs/{long}/resume"), &json!({}))
            .await,
    )
    .await;
    assert_eq!(resumed.status, "queued");
    let done = wait_for(&admin, long, "done", |j| j.status == "done").await;
    assert_eq!(done.progress.done, done.progress.total);
    assert_eq!((done.attempts, done.run_id), (2, Some(run_id)));
    let run: Value = json(admin.get(&format!("/api/runs/{run_id}")).await).await;
    assert_eq!(run["run"]["status"], "done");
    let resume_done = admin
        .post(&format!("/api/jobs/{long}/resume"), &json!({}))
        .await;
    assert_eq!(resume_done.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_job_whose_worker_died_is_interrupted_by_the_next_server_and_resumes() {
    let app = app_with(quick_worker(0)).await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let model = tiny_model(app.dir.path());
    let id = submit(
        &admin,
        &pvq_spec(&model, json!({"names": ["Group_1"]}), Some(3), "runs/died"),
    )
    .await;
    // What a killed server leaves: the job running, its last heartbeat long ago.
    {
        use diesel::prelude::*;
        use valuelab_server::db::schema::jobs;
        let pool = valuelab_server::db::open(&app.database_url).unwrap();
        diesel::update(jobs::table.find(id))
            .set((
                jobs::status.eq("running"),
                jobs::attempts.eq(1),
                jobs::heartbeat_at.eq(Some(valuelab_server::db::now_ms() - 60_000)),
            ))
            .execute(&mut pool.get().unwrap())
            .unwrap();
    }
    let server = app.restarted(quick_worker(1)).await;
    let admin = server.log_in("ada").await;
    let interrupted = wait_for(&admin, id, "interrupted", |j| j.status != "running").await;
    assert_eq!(interrupted.status, "interrupted");
    assert!(interrupted.error.as_deref().unwrap().contains("Resume"));

    let resumed = admin
        .post(&format!("/api/jobs/{id}/resume"), &json!({}))
        .await;
    assert_eq!(resumed.status(), StatusCode::OK);
    let done = wait_for(&admin, id, "done", |j| j.status == "done").await;
    assert_eq!(
        (done.progress.done, done.progress.total, done.attempts),
        (3, 3, 2)
    );
}

#[tokio::test]
async fn templates_are_saved_by_name_listed_and_deleted() {
    let app = app_with(quick_worker(0)).await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let spec = json!({"job": "eval", "task": "pvq", "model": {"method": "prompt-long"}});
    let save = |name: &str, spec: &Value| {
        let body = json!({"name": name, "spec": spec.to_string()});
        let admin = &admin;
        async move { admin.post("/api/job-templates", &body).await }
    };
    assert_eq!(save("pvq long", &spec).await.status(), StatusCode::CREATED);
    let mut newer = spec.clone();
    newer["task"] = json!("valuenet");
    assert_eq!(save("pvq long", &newer).await.status(), StatusCode::CREATED);
    let list: Vec<Value> = json(admin.get("/api/job-templates").await).await;
    assert_eq!(list.len(), 1, "a name saved twice is one template");
    assert!(list[0]["spec"].as_str().unwrap().contains("valuenet"));
    assert_eq!(save("", &spec).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        save("no kind", &json!({"task": "pvq"})).await.status(),
        StatusCode::BAD_REQUEST
    );
    let id = list[0]["id"].as_i64().unwrap();
    let deleted = admin.delete(&format!("/api/job-templates/{id}")).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let missing = admin.delete(&format!("/api/job-templates/{id}")).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

/// The server's Slurm backend on a real cluster (`.ci/run` starts a one-node one); skipped,
/// saying so, without one.
#[tokio::test]
async fn a_job_posted_for_slurm_runs_as_an_array_and_enters_the_explorer() {
    let ready = std::process::Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    if !ready {
        eprintln!("SKIPPED: no Slurm cluster here; .ci/run starts one with scripts/slurm-local.sh");
        return;
    }
    let app = app_with(JobSettings {
        slurm: Some(Default::default()),
        slurm_exe: Some(valuelab_tests::load::built_valuelab().expect("valuelab is built")),
        ..quick_worker(1)
    })
    .await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let model = tiny_model(app.dir.path());
    let mut spec = pvq_spec(
        &model,
        json!({"names": ["Group_1", "Group_2", "Albania"]}),
        Some(3),
        "runs/on-slurm",
    );
    spec["backend"] = json!("slurm");
    let id = submit(&admin, &spec).await;
    let done = wait_for(&admin, id, "ended", |j| {
        !["queued", "running"].contains(&j.status.as_str())
    })
    .await;
    assert_eq!(done.status, "done", "{done:?}");
    assert_eq!(
        (
            done.backend.as_str(),
            done.progress.done,
            done.progress.total
        ),
        ("slurm", 3, 3)
    );
    assert!(done.slurm_job_id.is_some());
    let tasks: Vec<(usize, &str)> = done
        .tasks
        .iter()
        .map(|t| (t.index, t.state.as_str()))
        .collect();
    assert_eq!(tasks, [(0, "done"), (1, "done"), (2, "done")]);
    assert_eq!(done.tasks[2].groups, ["Albania"]);
    let run_id = done.run_id.expect("the merged run is in the explorer");
    let run: Value = json(admin.get(&format!("/api/runs/{run_id}")).await).await;
    assert_eq!(run["run"]["status"], "done");
    assert_eq!(
        run["run"]["groups"],
        json!(["Group_1", "Group_2", "Albania"])
    );
}
