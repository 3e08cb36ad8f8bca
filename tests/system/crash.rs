//! Issue 8, reliability: the real server (`target/*/valuelab serve`) under concurrent annotators
//! is killed with SIGKILL mid-way and restarted on the same SQLite file. Every judgement that was
//! answered 201 must be stored, none twice, and no item may hold more than k judgements.
//! (The measured 100 × 20 run is `load-annotators`, docs/annotation.md.)

use valuelab_tests::load::{built_valuelab, run, LoadConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_loses_no_acknowledged_judgement() {
    let dir = tempfile::tempdir().unwrap();
    let report = run(LoadConfig {
        valuelab: built_valuelab().expect("the valuelab binary is built by cargo test"),
        dir: dir.path().to_path_buf(),
        annotators: 12,
        judgements_each: 6,
        annotators_per_item: 3,
        kill_after: Some(20),
        think_ms: 0,
    })
    .await
    .unwrap_or_else(|e| panic!("load run: {e:#}"));

    assert_eq!(report.restarts, 1);
    assert_eq!(report.acknowledged, 12 * 6, "{report:?}");
    assert_eq!(report.lost, 0, "{report:?}");
    assert_eq!(report.duplicated, 0, "{report:?}");
    assert_eq!(report.over_k, 0, "{report:?}");
    assert!(report.stored >= report.acknowledged, "{report:?}");
}
