//! `db/schema.rs` against the migrations of the backend under test (SQLite, or PostgreSQL with
//! `VALUELAB_TEST_BACKEND=postgres`): every table holds rows written through the API and loads
//! them back through the schema, so a migration cannot drift from it unnoticed, in a column's
//! name or, on PostgreSQL, its type (an INTEGER read as BIGINT fails to load).

use crate::helpers::spawn_app;
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;
use valuelab_common::api::auth::Role;
use valuelab_server::db::models::*;
use valuelab_server::db::schema::*;

#[tokio::test]
async fn every_table_loads_through_the_diesel_schema() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let (study, _) = app.study(&admin, &["Group_1"], 2, json!({})).await;
    let annotators = app.invited_annotators(&admin, study, 1).await;
    let annotator = &annotators[0];
    let item = annotator.next(study).await.expect("an item");
    let judged = annotator
        .judge(study, item["item_id"].as_i64().unwrap(), "left")
        .await;
    assert_eq!(judged.status(), StatusCode::CREATED);
    annotator.next(study).await.expect("a second item, leased");
    let runs = app.args_runs("explorer", &["Group_1"], 1, |_, _, _| {});
    let imported = admin
        .post("/api/runs/import", &json!({"paths": [runs.run_a]}))
        .await;
    assert_eq!(imported.status(), StatusCode::OK);
    let model = valuelab_tests::fixtures::tiny_model(app.dir.path());
    let spec = json!({"job": "eval", "task": "pvq", "data_dir": valuelab_tests::fixtures::shared_data_dir(),
        "model": {"method": "base", "model": model}, "limit_items": 1, "out": "runs/schema"});
    let queued = admin.post("/api/jobs", &spec).await;
    assert_eq!(queued.status(), StatusCode::CREATED);
    let template = admin
        .post(
            "/api/job-templates",
            &json!({"name": "t", "spec": spec.to_string()}),
        )
        .await;
    assert_eq!(template.status(), StatusCode::CREATED);

    let pool = valuelab_server::db::open(&app.database_url).expect("test database");
    let mut conn = pool.get().expect("connection");
    let counts = [
        (
            "users",
            users::table
                .select(User::as_select())
                .load(&mut conn)
                .map(|r| r.len()),
        ),
        (
            "sessions",
            sessions::table
                .select(Session::as_select())
                .load(&mut conn)
                .map(|r| r.len()),
        ),
        (
            "studies",
            studies::table
                .select(Study::as_select())
                .load(&mut conn)
                .map(|r| r.len()),
        ),
        (
            "study_items",
            study_items::table
                .select(StudyItem::as_select())
                .load(&mut conn)
                .map(|r| r.len()),
        ),
        (
            "assignments",
            assignments::table
                .select(Assignment::as_select())
                .load(&mut conn)
                .map(|r| r.len()),
        ),
        (
            "judgements",
            judgements::table
                .select(Judgement::as_select())
                .load(&mut conn)
                .map(|r| r.len()),
        ),
        (
            "invites",
            invites::table
                .select(Invite::as_select())
                .load(&mut conn)
                .map(|r| r.len()),
        ),
        (
            "runs",
            runs::table
                .select(Run::as_select())
                .load(&mut conn)
                .map(|r| r.len()),
        ),
        (
            "jobs",
            jobs::table
                .select(JobRow::as_select())
                .load(&mut conn)
                .map(|r| r.len()),
        ),
        (
            "job_log",
            job_log::table
                .select(JobLogLine::as_select())
                .load(&mut conn)
                .map(|r| r.len()),
        ),
        (
            "job_templates",
            job_templates::table
                .select(JobTemplate::as_select())
                .load(&mut conn)
                .map(|r| r.len()),
        ),
    ];
    for (table, rows) in counts {
        let rows = rows.unwrap_or_else(|e| panic!("{table} does not load through schema.rs: {e}"));
        assert!(
            rows > 0,
            "{table} is empty: the test wrote none of its rows"
        );
    }
}
