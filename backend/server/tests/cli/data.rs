//! `valuelab data check`, `valuelab data fetch` and `valuelab vim data` end to end: the built
//! binary on the shared research data (`VALUELAB_DATA_DIR`, else `../shared/data` next to the
//! checkout).

use crate::common::{data_dir as shared_data, text};
use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary with a clean environment for the data directory: no `VALUELAB_DATA_DIR`, and
/// a cache folder of its own so a user's fetched data is never picked up.
fn valuelab(args: &[&str], cache: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_valuelab"))
        .args(args)
        .env_remove("VALUELAB_DATA_DIR")
        .env("XDG_CACHE_HOME", cache)
        .env("HOME", cache)
        .output()
        .expect("run valuelab")
}

#[test]
fn data_check_prints_what_the_shared_data_holds() {
    let cache = tempfile::tempdir().unwrap();
    let data = shared_data();
    let out = valuelab(
        &["data", "check", "--data-dir", data.to_str().unwrap()],
        cache.path(),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    for expected in [
        "128 groups",
        "7374 arguments",
        "3818 arguments (train split)",
        "500 scenarios in 20 files",
        "151 questions",
        "40 PVQ-40 items",
        "29694 labels for 7 groups",
        "22190 respondents",
        "all required files are usable",
    ] {
        assert!(
            stdout.contains(expected),
            "missing '{expected}' in:\n{stdout}"
        );
    }
}

#[test]
fn data_check_fails_naming_a_broken_file() {
    let cache = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("vim")).unwrap();
    let groups = root.path().join("vim/country_and_group.csv");
    let original =
        std::fs::read_to_string(shared_data().join("vim/country_and_group.csv")).unwrap();
    // Line 3 (Belgium): Power 3.37 becomes 7.2.
    std::fs::write(&groups, original.replacen("\t3.37\t", "\t7.2\t", 1)).unwrap();
    let out = valuelab(
        &["data", "check", "--data-dir", root.path().to_str().unwrap()],
        cache.path(),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!out.status.success());
    assert!(
        stdout.contains("country_and_group.csv line 3: score 7.2 for Power is outside 1..6"),
        "{stdout}"
    );
    assert!(
        stderr.contains("is not usable: vim/country_and_group.csv"),
        "{stderr}"
    );
}

#[test]
fn commands_without_a_data_directory_say_how_to_get_one() {
    let cache = tempfile::tempdir().unwrap();
    let out = valuelab(&["data", "check"], cache.path());
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("pass --data-dir DIR or set VALUELAB_DATA_DIR"),
        "{stderr}"
    );
    assert!(stderr.contains("valuelab data fetch"), "{stderr}");

    // Data in the fetch cache is found without --data-dir; the files fetch cannot provide are
    // optional there.
    let fetched = cache.path().join("valuelab/data/vim");
    std::fs::create_dir_all(fetched.join("argument_generation")).unwrap();
    let shared = shared_data().join("vim");
    for file in ["country_and_group.csv", "valueEval_10.csv"] {
        std::fs::copy(shared.join(file), fetched.join(file)).unwrap();
    }
    for split in ["train.csv", "valid.csv", "test.csv"] {
        let from = shared.join("argument_generation").join(split);
        std::fs::copy(from, fetched.join("argument_generation").join(split)).unwrap();
    }
    copy_dir(&shared.join("valuenet"), &fetched.join("valuenet"));
    let out = valuelab(&["data", "check"], cache.path());
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!(
            "data directory {}",
            cache.path().join("valuelab/data").display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("missing  vim/pvq40_items.tsv (optional"),
        "{stdout}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn data_fetch_without_network_points_at_data_dir() {
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("dest");
    let out = valuelab(
        &[
            "data",
            "fetch",
            "--dest",
            dest.to_str().unwrap(),
            "--base-url",
            "http://127.0.0.1:9/data",
            "--timeout",
            "5",
        ],
        cache.path(),
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot download http://127.0.0.1:9/data/country_and_group.csv"),
        "{stderr}"
    );
    assert!(
        stderr.contains("pass --data-dir DIR (or set VALUELAB_DATA_DIR)"),
        "{stderr}"
    );
    assert!(!dest.join("vim/country_and_group.csv").exists());
}

fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

#[test]
fn vim_data_writes_both_tasks_as_jsonl() {
    let cache = tempfile::tempdir().unwrap();
    let data = shared_data();
    let out_path = cache.path().join("albania.jsonl");
    let args = [
        "vim",
        "data",
        "--data-dir",
        data.to_str().unwrap(),
        "--group",
        "Albania",
        "--split",
        "valid",
    ];
    let out = valuelab(
        &[&args[..], &["--out", out_path.to_str().unwrap()]].concat(),
        cache.path(),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));

    let rows = read_jsonl(&out_path);
    let ag: Vec<_> = rows.iter().filter(|r| r["task"] == "ag").collect();
    let qa: Vec<_> = rows.iter().filter(|r| r["task"] == "qa").collect();
    // valid.csv has 424 arguments, each with at least one value label.
    assert_eq!(ag.len(), 424);
    assert!(qa.len() > ag.len());
    assert_eq!(ag.len() + qa.len(), rows.len());
    for row in &rows {
        let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "{row}");
        assert!(
            row["prompt"].is_string() && row["answer"].is_string() && row["argument_id"].is_u64()
        );
    }
    // valid.csv's first argument (index 3): against nuclear-weapon abolition, Security + Universalism.
    let first = ag.iter().find(|r| r["argument_id"] == 3).unwrap();
    assert_eq!(
        first["prompt"],
        "Tell me what you would say about the following statement. Statement: We should fight for the abolition of nuclear weapons Answer:"
    );
    // Albania: Security 5.15, Universalism 5.0, mean 5.075 >= 3.
    assert_eq!(
        first["answer"],
        "I would say, \"I against with that because nuclear weapons help keep the peace in uncertain times.\" about We should fight for the abolition of nuclear weapons"
    );
    let qa_first: Vec<_> = qa.iter().filter(|r| r["argument_id"] == 3).collect();
    assert_eq!(qa_first.len(), 2);
    let security = qa_first[0]["answer"].as_str().unwrap();
    assert!(
        security == "Because I think Security is important to me, my answer is 5."
            || security == "Because I think Security is very much important to me, my answer is 6.",
        "{security}"
    );
    assert!(
        stdout.contains(&format!("wrote {} examples", rows.len())),
        "{stdout}"
    );
    assert!(stdout.contains("argument generation: 424"), "{stdout}");
    assert!(
        stdout.contains("skipped: 0 arguments without a value label"),
        "{stdout}"
    );

    // Same seed, same file; another seed, other rounding and order.
    let again = cache.path().join("again.jsonl");
    let out = valuelab(
        &[&args[..], &["--out", again.to_str().unwrap()]].concat(),
        cache.path(),
    );
    assert!(out.status.success());
    assert_eq!(
        std::fs::read(&again).unwrap(),
        std::fs::read(&out_path).unwrap()
    );
    let other = cache.path().join("other.jsonl");
    let out = valuelab(
        &[
            &args[..],
            &["--seed", "1", "--out", other.to_str().unwrap()],
        ]
        .concat(),
        cache.path(),
    );
    assert!(out.status.success());
    assert_ne!(
        std::fs::read(&other).unwrap(),
        std::fs::read(&out_path).unwrap()
    );
}

#[test]
fn vim_data_min_rule_says_less_than_the_mean_rule() {
    let cache = tempfile::tempdir().unwrap();
    let data = shared_data();
    let mut said = Vec::new();
    for rule in ["min", "mean"] {
        let path = cache.path().join(format!("{rule}.jsonl"));
        let out = valuelab(
            &[
                "vim",
                "data",
                "--data-dir",
                data.to_str().unwrap(),
                "--group",
                "Group_2",
                "--method",
                "ag",
                "--rule",
                rule,
                "--threshold",
                "2.5",
                "--out",
                path.to_str().unwrap(),
            ],
            cache.path(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let rows = read_jsonl(&path);
        assert_eq!(rows.len(), 3818);
        assert!(rows.iter().all(|r| r["task"] == "ag"));
        said.push(
            rows.iter()
                .filter(|r| r["answer"].as_str().unwrap().starts_with("I would say"))
                .count(),
        );
    }
    // min ≤ mean for every argument, so min says "I would say" at most as often, and here less.
    assert!(said[0] < said[1], "{said:?}");
}

#[test]
fn vim_data_rejects_an_unknown_group_and_leaves_no_file() {
    let cache = tempfile::tempdir().unwrap();
    let data = shared_data();
    let path = cache.path().join("x.jsonl");
    let out = valuelab(
        &[
            "vim",
            "data",
            "--data-dir",
            data.to_str().unwrap(),
            "--group",
            "Atlantis",
            "--out",
            path.to_str().unwrap(),
        ],
        cache.path(),
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("unknown group 'Atlantis' (available: Albania"),
        "{stderr}"
    );
    assert!(!path.exists());
}
