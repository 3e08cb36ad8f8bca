//! The annotator's loop: assignment (k distinct annotators, never twice, leases), balanced
//! left/right, judgements saved at once, undo, resume, public links, consent and completion.

use crate::helpers::{error_text, json, spawn_app, Session};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use valuelab_common::api::auth::{Me, Role};
use valuelab_common::api::studies::{JudgementResponse, Progress, StudySummary};

/// Which side holds method A: the fixture's run A argues "in favor of", run B "against".
fn a_is_left(item: &Value) -> bool {
    item["left"]["stance"] == "in favor of"
}

/// Judges until done, choosing by `choose(item) -> "left"|"right"|"tie"`; returns the item ids.
async fn work_through(
    session: &Session,
    study: i32,
    choose: impl Fn(&Value) -> &'static str,
) -> Vec<i64> {
    let mut seen = Vec::new();
    while let Some(item) = session.next(study).await {
        let id = item["item_id"].as_i64().unwrap();
        let response = session.judge(study, id, choose(&item)).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
        seen.push(id);
    }
    seen
}

#[tokio::test]
async fn three_annotators_give_every_item_exactly_three_judgements_with_balanced_sides() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let (study, _) = app
        .study(&admin, &["Group_1", "Group_2"], 3, json!({}))
        .await;
    let annotators = app.invited_annotators(&admin, study, 4).await;

    let mut per_item: HashMap<i64, usize> = HashMap::new();
    for annotator in &annotators[..3] {
        let seen = work_through(annotator, study, |_| "left").await;
        assert_eq!(
            seen.len(),
            6,
            "each of the first three judges every item once"
        );
        assert_eq!(
            seen.iter().collect::<HashSet<_>>().len(),
            6,
            "never the same item twice"
        );
        for id in seen {
            *per_item.entry(id).or_default() += 1;
        }
    }
    // the fourth finds nothing left: every item has its three
    assert!(annotators[3].next(study).await.is_none());
    assert!(per_item.values().all(|n| *n == 3), "{per_item:?}");

    let csv = admin
        .text(&format!("/api/studies/{study}/judgements.csv"))
        .await;
    let mut a_left: HashMap<String, usize> = HashMap::new();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 18, "{csv}");
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for line in &lines[1..] {
        let fields: Vec<&str> = line.split(',').collect();
        let shown_left = fields[col("shown_left")];
        // everyone chose "left": the canonical choice is whichever method was on the left
        assert_eq!(fields[col("choice_shown")], "left");
        assert_eq!(fields[col("choice")], shown_left);
        *a_left
            .entry(fields[col("item_id")].to_string())
            .or_default() += usize::from(shown_left == "A");
    }
    // balanced across the three annotators: A on the left once or twice, never 0 or 3 times
    assert!(a_left.values().all(|n| (1..=2).contains(n)), "{a_left:?}");
}

#[tokio::test]
async fn a_reload_resumes_the_leased_item_and_undo_brings_the_last_one_back() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let (study, _) = app.study(&admin, &["Group_1"], 3, json!({})).await;
    let annotator = app.invited_annotators(&admin, study, 1).await.remove(0);

    let first = annotator.next(study).await.unwrap();
    let again = annotator.next(study).await.unwrap();
    assert_eq!(
        first["item_id"], again["item_id"],
        "a reload shows the same pair"
    );
    assert_eq!(first["left"], again["left"], "on the same sides");
    let id = first["item_id"].as_i64().unwrap();
    let judged: JudgementResponse = json(annotator.judge(study, id, "right").await).await;
    assert_eq!(judged.progress.judged, 1);
    assert_eq!(judged.progress.total, 3);

    let undone = annotator
        .delete(&format!("/api/studies/{study}/judgements/last"))
        .await;
    assert_eq!(undone.status(), StatusCode::OK);
    let undone: JudgementResponse = undone.json().await.unwrap();
    assert_eq!((undone.item_id as i64, undone.progress.judged), (id, 0));
    let back = annotator.next(study).await.unwrap();
    assert_eq!(back["item_id"], id, "the undone item comes back first");
    assert_eq!(
        annotator.judge(study, id, "tie").await.status(),
        StatusCode::CREATED
    );
    let csv = admin
        .text(&format!("/api/studies/{study}/judgements.csv"))
        .await;
    assert_eq!(
        csv.lines().count(),
        2,
        "one judgement stored, the undone one gone: {csv}"
    );
    assert!(csv.lines().nth(1).unwrap().contains(",tie,tie,"), "{csv}");
    let nothing = annotator
        .delete(&format!("/api/studies/{study}/judgements/last"))
        .await;
    assert_eq!(nothing.status(), StatusCode::OK);
    let nothing_left = annotator
        .delete(&format!("/api/studies/{study}/judgements/last"))
        .await;
    assert_eq!(nothing_left.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_judgements_get_a_clear_4xx_and_store_nothing() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let (study, _) = app.study(&admin, &["Group_1"], 3, json!({})).await;
    let (other_study, _) = app.study(&admin, &["Group_1"], 1, json!({})).await;
    let annotators = app.invited_annotators(&admin, study, 2).await;
    let (ann, other) = (&annotators[0], &annotators[1]);
    let item = ann.next(study).await.unwrap();
    let id = item["item_id"].as_i64().unwrap();
    let path = format!("/api/studies/{study}/judgements");

    let bad_choice = ann
        .post(&path, &json!({"item_id": id, "choice": "A"}))
        .await;
    assert_eq!(bad_choice.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(bad_choice).await.contains("left"));
    let not_yours = other.judge(study, id, "left").await;
    assert_eq!(not_yours.status(), StatusCode::CONFLICT);
    assert!(error_text(not_yours).await.contains("not leased to you"));
    let unknown = ann.judge(study, 99_999, "left").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let wrong_study = ann.judge(other_study, id, "left").await;
    assert_eq!(wrong_study.status(), StatusCode::FORBIDDEN);
    let huge = ann
        .post(
            &path,
            &json!({"item_id": id, "choice": "left", "pad": "x".repeat(300_000)}),
        )
        .await;
    assert_eq!(huge.status(), StatusCode::BAD_REQUEST);
    assert!(error_text(huge).await.contains("too large"));

    assert_eq!(
        ann.judge(study, id, "left").await.status(),
        StatusCode::CREATED
    );
    let twice = ann.judge(study, id, "right").await;
    assert_eq!(twice.status(), StatusCode::CONFLICT);
    assert!(error_text(twice).await.contains("already judged"));
    let csv = admin
        .text(&format!("/api/studies/{study}/judgements.csv"))
        .await;
    assert_eq!(csv.lines().count(), 2, "{csv}");
    // staff do not annotate
    assert_eq!(
        admin
            .get(&format!("/api/studies/{study}/next"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn an_abandoned_lease_returns_the_item_to_the_pool() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let (study, _) = app
        .study(&admin, &["Group_1"], 1, json!({"annotators_per_item": 1}))
        .await;
    let annotators = app.invited_annotators(&admin, study, 2).await;
    let item = annotators[0].next(study).await.unwrap();
    // the only item is leased: the other waits, not done
    let waiting = annotators[1]
        .get(&format!("/api/studies/{study}/next"))
        .await;
    assert_eq!(waiting.status(), StatusCode::CONFLICT);
    assert!(error_text(waiting).await.contains("try again in"));

    // the first annotator leaves; their lease runs out
    let pool = valuelab_server::db::open(&app.database_url).unwrap();
    let mut conn = pool.get().unwrap();
    use diesel_lease::*;
    expire_all_leases(&mut conn);

    let taken_over = annotators[1].next(study).await.unwrap();
    assert_eq!(taken_over["item_id"], item["item_id"]);
    let late = annotators[0]
        .judge(study, item["item_id"].as_i64().unwrap(), "left")
        .await;
    assert_eq!(
        late.status(),
        StatusCode::CONFLICT,
        "a lease that ran out and was taken is gone"
    );
}

/// Ages every lease in the test database (no waiting ten minutes in a test).
mod diesel_lease {
    pub fn expire_all_leases(conn: &mut valuelab_server::db::PooledDb) {
        use diesel::RunQueryDsl;
        diesel::sql_query("UPDATE assignments SET lease_expires_ms = 0")
            .execute(conn)
            .expect("leases aged");
    }
}

#[tokio::test]
async fn a_public_link_with_a_prolific_id_resumes_and_ends_with_the_completion_code() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let (study, created) = app
        .study(
            &admin,
            &["Group_1"],
            2,
            json!({"completion_url": "https://app.prolific.com/submissions/complete?cc=X"}),
        )
        .await;
    let token = created["public_url"]
        .as_str()
        .unwrap()
        .trim_start_matches("/join/")
        .to_string();
    let participant = app.anonymous();

    let joined = participant
        .get(&format!("/api/join/{token}?PROLIFIC_PID=5f1a2b3c4d"))
        .await;
    assert_eq!(joined.status(), StatusCode::OK);
    let me: Me = joined.json().await.unwrap();
    assert_eq!((me.role, me.study_id), (Role::Annotator, Some(study)));
    assert!(me.username.ends_with("5f1a2b3c4d"), "{}", me.username);
    let before_consent = participant.get(&format!("/api/studies/{study}/next")).await;
    assert_eq!(before_consent.status(), StatusCode::FORBIDDEN);
    assert!(error_text(before_consent).await.contains("consent"));
    let intro: Value = json(
        participant
            .get(&format!("/api/studies/{study}/intro"))
            .await,
    )
    .await;
    assert_eq!(intro["consented"], false);
    assert!(intro["guidelines"].as_str().unwrap().contains("profile"));
    participant
        .post(&format!("/api/studies/{study}/consent"), &json!({}))
        .await;
    let first = participant.next(study).await.unwrap();
    participant
        .judge(study, first["item_id"].as_i64().unwrap(), "left")
        .await;

    // the same link in a fresh browser is the same participant, one judgement in
    let again = app.anonymous();
    let rejoined: Me = json(
        again
            .get(&format!("/api/join/{token}?participant=5f1a2b3c4d"))
            .await,
    )
    .await;
    assert_eq!(rejoined.id, me.id);
    let progress: Progress = json(again.get(&format!("/api/studies/{study}/progress")).await).await;
    assert_eq!(
        (progress.judged, progress.total, progress.done),
        (1, 2, false)
    );
    assert_eq!(progress.completion_code, None, "no code before the end");
    work_through(&again, study, |_| "tie").await;
    let done: Progress = json(again.get(&format!("/api/studies/{study}/progress")).await).await;
    let summary: StudySummary = json(admin.get(&format!("/api/studies/{study}")).await).await;
    assert!(done.done);
    assert_eq!(
        done.completion_code.as_deref(),
        Some(summary.completion_code.as_str())
    );
    assert!(done
        .completion_url
        .unwrap()
        .starts_with("https://app.prolific.com"));

    let bad_id = app
        .anonymous()
        .get(&format!("/api/join/{token}?participant=a%20b"))
        .await;
    assert_eq!(bad_id.status(), StatusCode::BAD_REQUEST);
    for link in ["nonsense", "ab%00cd"] {
        let bad_link = app.anonymous().get(&format!("/api/join/{link}")).await;
        assert_eq!(bad_link.status(), StatusCode::NOT_FOUND, "{link}");
    }
    // a participant of this study sees nothing of another
    let (other, _) = app.study(&admin, &["Group_1"], 1, json!({})).await;
    assert_eq!(
        again
            .get(&format!("/api/studies/{other}/intro"))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn what_an_annotator_receives_never_names_the_methods() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let (study, _) = app.study(&admin, &["Group_1"], 2, json!({})).await;
    let annotator = app.invited_annotators(&admin, study, 1).await.remove(0);

    let mut bodies = Vec::new();
    bodies.push(annotator.text(&format!("/api/studies/{study}/intro")).await);
    let item = annotator.next(study).await.unwrap();
    bodies.push(item.to_string());
    bodies.push(
        annotator
            .judge(study, item["item_id"].as_i64().unwrap(), "left")
            .await
            .text()
            .await
            .unwrap(),
    );
    bodies.push(
        annotator
            .text(&format!("/api/studies/{study}/progress"))
            .await,
    );

    for body in &bodies {
        for secret in [
            "prompt-long",
            "vim",
            "run-a",
            "run-b",
            "method",
            "choice\":\"A",
        ] {
            assert!(
                !body.contains(secret),
                "'{secret}' leaked to an annotator: {body}"
            );
        }
    }
    let profile = item["profile"].as_array().unwrap();
    assert_eq!(profile.len(), 10, "the target group's ten values");
    assert!(a_is_left(&item) || item["right"]["stance"] == "in favor of");
}

#[tokio::test]
async fn an_invite_works_once() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let (study, _) = app.study(&admin, &["Group_1"], 1, json!({})).await;
    let invites: Vec<Value> = json(
        admin
            .post(
                &format!("/api/studies/{study}/invites"),
                &json!({"role": "member", "count": 1}),
            )
            .await,
    )
    .await;
    let token = invites[0]["token"].as_str().unwrap();
    assert_eq!(invites[0]["url"], format!("/invite/{token}"));
    let accept = |name: &str| json!({"username": name, "password": "a long enough password"});
    let path = format!("/api/invites/{token}/accept");

    let short = app
        .anonymous()
        .post(&path, &json!({"username": "m", "password": "short"}))
        .await;
    assert_eq!(short.status(), StatusCode::BAD_REQUEST);
    let member = app.anonymous();
    let me: Me = json(member.post(&path, &accept("mel")).await).await;
    assert_eq!((me.role, me.study_id), (Role::Member, None));
    assert_eq!(member.get("/api/studies").await.status(), StatusCode::OK);
    let reused = app.anonymous().post(&path, &accept("mel2")).await;
    assert_eq!(reused.status(), StatusCode::GONE);
    let unknown = app
        .anonymous()
        .post("/api/invites/nope/accept", &accept("x"))
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let zero = admin
        .post(
            &format!("/api/studies/{study}/invites"),
            &json!({"role": "annotator", "count": 0}),
        )
        .await;
    assert_eq!(zero.status(), StatusCode::BAD_REQUEST);
    let bad_role = admin
        .post(
            &format!("/api/studies/{study}/invites"),
            &json!({"role": "root", "count": 1}),
        )
        .await;
    assert_eq!(bad_role.status(), StatusCode::BAD_REQUEST);
}
