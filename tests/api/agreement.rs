//! Agreement and the report on a case small enough to compute by hand, and the exports.

use crate::helpers::{json, spawn_app};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::Path;
use valuelab_common::api::auth::Role;
use valuelab_common::api::studies::StudyReport;
use valuelab_common::fleiss_kappa;
use valuelab_engine::data::judgements::read_table;

fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 1e-9)
}

/// Two items, three annotators. Item X (the lower id): A, A, A. Item Y: A, A, B.
/// Categories (A, B, tie); counts X = (3, 0, 0), Y = (2, 1, 0).
/// - percent agreement: P_X = 1, P_Y = (2·1 + 1·0) / (3·2) = 1/3, mean 2/3.
/// - Fleiss: p = (5/6, 1/6, 0), P_e = 25/36 + 1/36 = 13/18, κ = (2/3 − 13/18) / (5/18) = −0.2.
/// - Krippendorff (nominal): o_AA = 3 + 1, o_AB = o_BA = 1, n = 6, n_A = 5, n_B = 1;
///   D_o = 2/6, D_e = 2·5·1 / (6·5) = 1/3, α = 1 − 1 = 0.
/// - Gwet AC1: π = (5/6, 1/6, 0), P_e = (1 − 26/36) / (3 − 1) = 5/36,
///   AC1 = (2/3 − 5/36) / (31/36) = 19/31.
#[tokio::test]
async fn agreement_matches_the_hand_computed_small_case() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let member = app.logged_in(Role::Member, "mel").await;
    let (study, _) = app.study(&admin, &["Group_1"], 2, json!({})).await;
    let annotators = app.invited_annotators(&admin, study, 3).await;

    let mut item_ids = Vec::new();
    for (who, annotator) in annotators.iter().enumerate() {
        while let Some(item) = annotator.next(study).await {
            let id = item["item_id"].as_i64().unwrap();
            item_ids.push(id);
            let a_left = item["left"]["stance"] == "in favor of";
            // annotator 2 picks B on the higher item id (both ids are known after annotator 0)
            let wants_a = !(who == 2 && id == *item_ids.iter().max().unwrap());
            let choice = if wants_a == a_left { "left" } else { "right" };
            assert_eq!(
                annotator.judge(study, id, choice).await.status(),
                StatusCode::CREATED
            );
        }
    }

    let agreement: Value = json(member.get(&format!("/api/studies/{study}/agreement")).await).await;
    assert_eq!(agreement["n_items"], 2);
    assert!(
        close(&agreement["percent_agreement"]["value"], 2.0 / 3.0),
        "{agreement}"
    );
    assert!(
        close(&agreement["fleiss_kappa"]["value"], -0.2),
        "{agreement}"
    );
    assert!(
        close(&agreement["krippendorff_alpha"]["value"], 0.0),
        "{agreement}"
    );
    assert!(
        close(&agreement["gwet_ac1"]["value"], 19.0 / 31.0),
        "{agreement}"
    );
    for name in [
        "fleiss_kappa",
        "krippendorff_alpha",
        "gwet_ac1",
        "percent_agreement",
    ] {
        let c = &agreement[name];
        assert!(
            c.get("ci_low").is_some() && c.get("ci_high").is_some(),
            "{name}: {c}"
        );
    }

    // `valuelab kappa judgements.csv` reads the export and finds the same kappa
    let csv = member
        .text(&format!("/api/studies/{study}/judgements.csv"))
        .await;
    let table =
        read_table(&csv, Path::new("judgements.csv")).expect("the export reads as judgements");
    let kappa = fleiss_kappa(&table.counts).unwrap().kappa.unwrap();
    assert!((kappa + 0.2).abs() < 1e-9, "{kappa}");

    let report: StudyReport = json(member.get(&format!("/api/studies/{study}/report")).await).await;
    let wtl = report.win_tie_lose.expect("judgements were made");
    assert_eq!(
        (wtl.n, wtl.a_wins.count, wtl.b_wins.count, wtl.ties.count),
        (6, 5, 1, 0)
    );
    assert_eq!(report.annotators.len(), 3);
    let dissenter = report
        .annotators
        .iter()
        .find(|a| a.with_majority.agreed < a.with_majority.items);
    assert!(
        dissenter.is_some(),
        "the annotator who chose B disagreed with the others once"
    );
    assert_eq!(
        report.disagreements[0].b, 1,
        "the split item is listed first"
    );
    assert_eq!(report.per_group.len(), 1);
    assert_eq!(report.position_bias.decisive, 6);
}

#[tokio::test]
async fn before_any_judgement_the_coefficients_are_null_with_a_note() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let (study, _) = app.study(&admin, &["Group_1"], 2, json!({})).await;

    let agreement: Value = json(admin.get(&format!("/api/studies/{study}/agreement")).await).await;

    assert_eq!(agreement["n_items"], 0);
    assert!(agreement["fleiss_kappa"]["value"].is_null());
    assert!(
        agreement["fleiss_kappa"]["note"]
            .as_str()
            .is_some_and(|n| !n.is_empty()),
        "{agreement}"
    );
}

#[tokio::test]
async fn exports_have_one_row_per_judgement_in_csv_and_jsonl() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let (study, _) = app
        .study(&admin, &["Group_1"], 2, json!({"annotators_per_item": 2}))
        .await;
    let empty = admin
        .text(&format!("/api/studies/{study}/judgements.csv"))
        .await;
    assert_eq!(
        empty.lines().count(),
        1,
        "an empty study still has its header: {empty}"
    );
    for annotator in app.invited_annotators(&admin, study, 2).await {
        while let Some(item) = annotator.next(study).await {
            annotator
                .judge(study, item["item_id"].as_i64().unwrap(), "right")
                .await;
        }
    }

    let csv = admin
        .get(&format!("/api/studies/{study}/judgements.csv"))
        .await;
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    let jsonl = admin
        .text(&format!("/api/studies/{study}/judgements.jsonl"))
        .await;

    let header = csv.lines().next().unwrap();
    for column in [
        "item_id",
        "annotator",
        "shown_left",
        "choice_shown",
        "choice",
        "seconds",
        "attention_check",
    ] {
        assert!(
            header.split(',').any(|h| h == column),
            "{column} in {header}"
        );
    }
    assert_eq!(csv.lines().count(), 1 + 4);
    assert_eq!(jsonl.lines().count(), 4);
    for line in jsonl.lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        let expected = if row["shown_left"] == "A" { "B" } else { "A" };
        assert_eq!(row["choice_shown"], "right");
        assert_eq!(
            row["choice"], expected,
            "right is the side not on the left: {row}"
        );
    }
}

/// The broken side of an attention check argues against its own stance (studies::build).
fn is_broken(side: &Value) -> bool {
    let premise = side["premise"].as_str().unwrap_or_default();
    premise.starts_with("I am firmly against this") || premise.starts_with("I fully support this")
}

#[tokio::test]
async fn annotators_who_fail_the_hidden_attention_checks_are_left_out_of_the_figures() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    let (study, created) = app
        .study(
            &admin,
            &["Group_1"],
            2,
            json!({"attention_every": 1, "annotators_per_item": 2}),
        )
        .await;
    assert_eq!(created["attention_checks"], 2);
    let annotators = app.invited_annotators(&admin, study, 2).await;
    let mut seen_checks = 0;
    for (who, annotator) in annotators.iter().enumerate() {
        while let Some(item) = annotator.next(study).await {
            let check = is_broken(&item["left"]) || is_broken(&item["right"]);
            seen_checks += usize::from(check);
            // annotator 0 reads carefully; annotator 1 always picks the broken side of a check
            let choice = match (check, who, is_broken(&item["left"])) {
                (true, 0, true) | (true, 1, false) => "right",
                (true, _, _) => "left",
                (false, _, _) => "left",
            };
            let id = item["item_id"].as_i64().unwrap();
            assert_eq!(
                annotator.judge(study, id, choice).await.status(),
                StatusCode::CREATED
            );
        }
    }
    assert_eq!(
        seen_checks, 2,
        "one check after every item, each annotator sees one"
    );

    let report: StudyReport = json(admin.get(&format!("/api/studies/{study}/report")).await).await;
    let careless = report
        .annotators
        .iter()
        .find(|a| a.excluded)
        .expect("one annotator excluded");
    assert_eq!(
        (careless.attention_checks, careless.attention_passed),
        (1, 0)
    );
    assert_eq!(report.annotators.iter().filter(|a| a.excluded).count(), 1);
    assert_eq!(
        report.win_tie_lose.unwrap().n,
        2,
        "only the careful annotator's two judgements count"
    );
    assert_eq!(
        report.study.items, 2,
        "attention checks are not counted as items"
    );
    let jsonl = admin
        .text(&format!("/api/studies/{study}/judgements.jsonl"))
        .await;
    let checks: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|row| row["attention_check"] == true)
        .collect();
    assert_eq!(checks.len(), 2);
    assert_eq!(
        checks
            .iter()
            .filter(|r| r["attention_passed"] == true)
            .count(),
        1
    );
}

/// Figure 3 per method pair: a study of the same pair the other way round is pooled with A and
/// B swapped, and only staff see it.
#[tokio::test]
async fn method_pairs_pool_the_studies_of_a_pair_either_way_round() {
    let app = spawn_app().await;
    let admin = app.logged_in(Role::Admin, "ada").await;
    // study 1: A = prompt-long (argues "in favor of"), B = vim ("against")
    let (forward, _) = app.study(&admin, &["Group_1"], 2, json!({})).await;
    let runs = app.args_runs("swapped", &["Group_1"], 2, |_, _, _| {});
    let created: Value = json(
        admin
            .post(
                "/api/studies",
                &json!({"name": "swapped", "run_a": runs.run_b, "run_b": runs.run_a}),
            )
            .await,
    )
    .await;
    let backward = created["id"].as_i64().unwrap() as i32;

    // Every judgement, in both studies, prefers vim's argument.
    for study in [forward, backward] {
        let annotator = app.invited_annotators(&admin, study, 1).await.remove(0);
        while let Some(item) = annotator.next(study).await {
            let vim_left = item["left"]["stance"] == "against";
            let choice = if vim_left { "left" } else { "right" };
            let id = item["item_id"].as_i64().unwrap();
            assert_eq!(
                annotator.judge(study, id, choice).await.status(),
                StatusCode::CREATED
            );
        }
        assert_eq!(
            annotator.get("/api/method-pairs").await.status(),
            StatusCode::FORBIDDEN
        );
    }

    let pairs: Value = json(admin.get("/api/method-pairs").await).await;
    assert_eq!(pairs.as_array().unwrap().len(), 1, "{pairs}");
    let pair = &pairs[0];
    assert_eq!(
        (pair["method_a"].as_str(), pair["method_b"].as_str()),
        (Some("prompt-long"), Some("vim"))
    );
    assert_eq!(pair["studies"], json!([forward, backward]));
    assert_eq!(
        (pair["items"].as_u64(), pair["judgements"].as_u64()),
        (Some(4), Some(4))
    );
    assert_eq!(pair["win_tie_lose"]["b_wins"]["count"], 4, "{pair}");
    assert_eq!(pair["win_tie_lose"]["a_wins"]["count"], 0, "{pair}");
    let svg = admin.text("/api/method-pairs/win_tie_lose.svg").await;
    assert!(svg.contains("prompt-long (A) vs vim (B), n = 4"), "{svg}");
}
