//! `valuelab kappa FILE` end to end: the built binary on both file formats.

use std::path::Path;
use std::process::Command;

/// Fleiss (1971) Table 1 as counts (30 patients × 5 diagnoses, 6 raters each); κ = 0.430
/// (see `valuelab_common::kappa` tests for the source).
const DIAGNOSES: [[u32; 5]; 30] = [
    [0, 0, 0, 6, 0],
    [0, 3, 0, 0, 3],
    [0, 1, 4, 0, 1],
    [0, 0, 0, 0, 6],
    [0, 3, 0, 3, 0],
    [2, 0, 4, 0, 0],
    [0, 0, 4, 0, 2],
    [2, 0, 3, 1, 0],
    [2, 0, 0, 4, 0],
    [0, 0, 0, 0, 6],
    [1, 0, 0, 5, 0],
    [1, 1, 0, 4, 0],
    [0, 3, 3, 0, 0],
    [1, 0, 0, 5, 0],
    [0, 2, 0, 3, 1],
    [0, 0, 5, 0, 1],
    [3, 0, 0, 1, 2],
    [5, 1, 0, 0, 0],
    [0, 2, 0, 4, 0],
    [1, 0, 2, 0, 3],
    [0, 0, 0, 0, 6],
    [0, 1, 0, 5, 0],
    [0, 2, 0, 1, 3],
    [2, 0, 0, 4, 0],
    [1, 0, 0, 4, 1],
    [0, 5, 0, 1, 0],
    [4, 0, 0, 0, 2],
    [0, 2, 0, 4, 0],
    [1, 0, 5, 0, 0],
    [0, 0, 0, 0, 6],
];
const CATEGORIES: [&str; 5] = [
    "Depression",
    "Personality disorder",
    "Schizophrenia",
    "Neurosis",
    "Other",
];

fn valuelab_kappa(file: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_valuelab"))
        .arg("kappa")
        .arg(file)
        .output()
        .expect("the valuelab binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn counts_table_and_long_format_give_fleiss_1971_kappa() {
    let dir = tempfile::tempdir().expect("temporary directory");

    let mut counts = format!("subject\t{}\n", CATEGORIES.join("\t"));
    for (i, row) in DIAGNOSES.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(u32::to_string).collect();
        counts.push_str(&format!("p{}\t{}\n", i + 1, cells.join("\t")));
    }
    let counts_file = dir.path().join("counts.tsv");
    std::fs::write(&counts_file, counts).expect("write counts");

    // The same judgements, one row per rater; rater names run per subject.
    let mut long = String::from("subject\trater\tcategory\n");
    for (i, row) in DIAGNOSES.iter().enumerate() {
        let mut rater = 0;
        for (k, &n) in row.iter().enumerate() {
            for _ in 0..n {
                rater += 1;
                long.push_str(&format!("p{}\tr{rater}\t{}\n", i + 1, CATEGORIES[k]));
            }
        }
    }
    let long_file = dir.path().join("long.tsv");
    std::fs::write(&long_file, long).expect("write long");

    for (file, format) in [
        (&counts_file, "counts table"),
        (&long_file, "long-format judgements"),
    ] {
        let (ok, stdout, stderr) = valuelab_kappa(file);
        assert!(ok, "valuelab kappa failed: {stderr}");
        assert!(stdout.contains(format), "{stdout}");
        assert!(stdout.contains("kappa: 0.4302\n"), "{stdout}");
        assert!(stdout.contains("subjects: 30\n"), "{stdout}");
        assert!(stdout.contains("categories: 5 ("), "{stdout}");
        assert!(stdout.contains("observed agreement: 0.5556\n"), "{stdout}");
    }
}

#[test]
fn undefined_kappa_is_printed_and_bad_files_fail_with_the_line() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let one_category = dir.path().join("one.tsv");
    std::fs::write(
        &one_category,
        "subject\trater\tcategory\ns1\ta\tyes\ns1\tb\tyes\ns2\ta\tyes\ns2\tb\tyes\n",
    )
    .expect("write");
    let (ok, stdout, _) = valuelab_kappa(&one_category);
    assert!(ok);
    assert!(stdout.contains("kappa: undefined"), "{stdout}");

    let bad = dir.path().join("bad.tsv");
    std::fs::write(&bad, "yes\tno\n2\t1\n2\n").expect("write");
    let (ok, _, stderr) = valuelab_kappa(&bad);
    assert!(!ok);
    assert!(
        stderr.contains("bad.tsv line 3: expected 2 counts"),
        "{stderr}"
    );

    let lonely = dir.path().join("lonely.tsv");
    std::fs::write(&lonely, "yes\tno\n1\t0\n0\t1\n").expect("write");
    let (ok, _, stderr) = valuelab_kappa(&lonely);
    assert!(!ok);
    assert!(
        stderr.contains("no subject was rated by at least 2 raters"),
        "{stderr}"
    );
}
