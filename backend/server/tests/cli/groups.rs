//! `valuelab groups build` and `valuelab groups gold` end to end on a survey file generated here:
//! two respondent profiles with known opinions, in two countries, with ESS missing codes.

use crate::common::{data_dir, text, valuelab};
use std::path::Path;

/// The 21 PVQ variables and the value each scores, from the data directory's key.
fn pvq_key() -> Vec<(String, String)> {
    let key = std::fs::read_to_string(data_dir().join("vim/ess_pvq21_key.tsv"))
        .expect("read the PVQ-21 key");
    key.lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            (cells[0].to_string(), cells[2].to_string())
        })
        .collect()
}

/// Values profile "open" rates highest (PVQ answer 1, score 6; other items answer 6, score 1).
const OPEN: [&str; 4] = ["Self-direction", "Stimulation", "Hedonism", "Universalism"];

/// 10 "open" respondents (AT, AT, AT, CH, ...) then 10 "closed" ones, then one who skipped the
/// PVQ. Opinions: `ppltrst` (0-10) and `vote` (Yes|No|Not eligible, coded 1..3).
fn write_survey(path: &Path) {
    let key = pvq_key();
    let mut header = vec!["idno".to_string(), "cntry".to_string()];
    header.extend(key.iter().map(|(v, _)| format!("{v}a")));
    header.extend(["ppltrst".to_string(), "vote".to_string()]);
    let mut out = header.join(",") + "\n";
    for r in 0..21 {
        let open = r < 10;
        let country = if r % 4 == 3 { "CH" } else { "AT" };
        let mut cells = vec![r.to_string(), country.to_string()];
        for (_, value) in &key {
            let code = match (r, open == OPEN.contains(&value.as_str())) {
                (20, _) => "88",
                (_, true) => "1",
                (_, false) => "6",
            };
            cells.push(code.to_string());
        }
        // Open: trust 8 (respondent 0 says 88: don't know), vote yes. Closed: trust 2, vote no
        // (respondent 10 answers 9: no answer).
        let trust = match r {
            0 => 88,
            _ if open => 8,
            _ => 2,
        };
        let vote = match r {
            10 => 9,
            _ if open => 1,
            _ => 2,
        };
        cells.extend([trust.to_string(), vote.to_string()]);
        out += &(cells.join(",") + "\n");
    }
    std::fs::write(path, out).expect("write the survey");
}

const QUESTIONS: &str = "code\tchapter\tscale\tquestion\n\
    ppltrst\tmedia_and_social_trust\t0-10\tTrust?\n\
    vote\tpolitics\tYes|No|Not eligible to vote\tVoted?\n\
    happy\tsubjective_well-being\t0-10\tHappy?\n";

/// Rows of a TSV file, header first.
fn tsv(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .expect("read the TSV")
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[test]
fn build_then_gold_gives_hand_computed_group_means() {
    let dir = tempfile::tempdir().unwrap();
    let survey = dir.path().join("ess.csv");
    write_survey(&survey);
    // A folder that does not exist yet: build creates it for the groups and the plot.
    let groups = dir.path().join("out/groups.tsv");
    let built = valuelab(&[
        "groups",
        "build",
        "--ess",
        survey.to_str().unwrap(),
        "--k",
        "2",
        "--seed",
        "3",
        "--out",
        groups.to_str().unwrap(),
        "--elbow",
        "1..3",
    ]);
    assert!(built.status.success(), "{}", text(&built.stderr));
    let stderr = text(&built.stderr);
    assert!(
        stderr.contains("scored 20 of 21 respondents") && stderr.contains("1 skipped"),
        "{stderr}"
    );

    // The elbow table: every respondent sits on one of two profiles, so k = 2 leaves no spread.
    let stdout = text(&built.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "k\tsse");
    // Profiles differ by 5 on each of 10 values: each of the 20 respondents is 2.5 away per
    // value from the grand mean, so SSE(k=1) = 20 * 10 * 2.5^2 = 1250.
    assert_eq!(lines[1], "1\t1250.000");
    assert_eq!(lines[2], "2\t0.000");
    let svg = std::fs::read_to_string(dir.path().join("out/groups.elbow.svg"))
        .expect("the elbow plot beside --out");
    assert!(svg.contains("<svg") && svg.contains("within-cluster SSE"));

    let table = tsv(&groups);
    assert_eq!(table[0][1], "Country");
    assert_eq!(table[0].last().unwrap(), "Size");
    let names: Vec<&str> = table[1..].iter().map(|r| r[1].as_str()).collect();
    assert_eq!(names, ["Group_1", "Group_2", "AT", "CH"]);
    let sizes: Vec<&str> = table[1..].iter().map(|r| r[12].as_str()).collect();
    // CH: respondents 3, 7, 11, 15, 19; AT the other 15 scored ones.
    assert_eq!(&sizes[..2], ["10", "10"]);
    assert_eq!(&sizes[2..], ["15", "5"]);
    // Self-direction (field 8 after the index and the name): 6 for the open group, 1 for the closed one.
    let open_group = if table[1][8] == "6" {
        "Group_1"
    } else {
        "Group_2"
    };
    let closed_group = if open_group == "Group_1" {
        "Group_2"
    } else {
        "Group_1"
    };

    let questions = dir.path().join("questions.tsv");
    std::fs::write(&questions, QUESTIONS).unwrap();
    let gold_path = dir.path().join("gold.tsv");
    let gold_args = vec![
        "groups",
        "gold",
        "--ess",
        survey.to_str().unwrap(),
        "--groups",
        groups.to_str().unwrap(),
        "--questions",
        questions.to_str().unwrap(),
        "--out",
        gold_path.to_str().unwrap(),
    ];
    let gold = valuelab(&gold_args);
    assert!(gold.status.success(), "{}", text(&gold.stderr));
    let stderr = text(&gold.stderr);
    assert!(
        stderr.contains("warning: 1 of 3 questions have no column") && stderr.contains("happy"),
        "{stderr}"
    );

    let rows = tsv(&gold_path);
    assert_eq!(rows[0], ["group", "code", "mean", "n"]);
    let row = |group: &str, code: &str| -> (f64, usize) {
        let r = rows
            .iter()
            .find(|r| r[0] == group && r[1] == code)
            .unwrap_or_else(|| panic!("no {group}/{code}"));
        (r[2].parse().unwrap(), r[3].parse().unwrap())
    };
    assert_eq!(row(open_group, "ppltrst"), (0.8, 9));
    assert_eq!(row(closed_group, "ppltrst"), (0.2, 10));
    assert_eq!(row(open_group, "vote"), (0.0, 10));
    assert_eq!(row(closed_group, "vote"), (0.5, 9));
    // AT: open respondents 0, 1, 2, 4, 5, 6, 8, 9 (0 said "don't know") and closed 10, 12, 13,
    // 14, 16, 17, 18: trust (7 * 8 + 7 * 2) / 14 / 10.
    let (mean, n) = row("AT", "ppltrst");
    assert_eq!(n, 14);
    assert!((mean - 0.5).abs() < 1e-6);
    // CH: open 3, 7 and closed 11, 15, 19 vote 1, 1, 2, 2, 2 → (0 + 0 + .5 * 3) / 5.
    assert_eq!(row("CH", "vote"), (0.3, 5));
    assert_eq!(rows.len(), 1 + 4 * 2);

    // A weight column the file lacks: the error names it and the way out; the gold stays.
    let weighted = valuelab(&[gold_args.as_slice(), &["--weight", "pspwght"]].concat());
    assert!(!weighted.status.success());
    let stderr = text(&weighted.stderr);
    assert!(
        stderr.contains("no weight column 'pspwght' (its weight columns: none)")
            && stderr.contains("use --weight COLUMN, or --weight none"),
        "{stderr}"
    );
    assert_eq!(tsv(&gold_path), rows);
}

#[test]
fn impossible_requests_fail_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let survey = dir.path().join("ess.csv");
    write_survey(&survey);
    let out = dir.path().join("g.tsv");
    let too_many = valuelab(&[
        "groups",
        "build",
        "--ess",
        survey.to_str().unwrap(),
        "--k",
        "50",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!too_many.status.success());
    assert!(
        text(&too_many.stderr).contains("cannot make 50 groups from 20 scored respondents"),
        "{}",
        text(&too_many.stderr)
    );
    assert!(!out.exists());

    let bad_range = valuelab(&[
        "groups",
        "build",
        "--ess",
        survey.to_str().unwrap(),
        "--elbow",
        "4..2",
        "--elbow-out",
        "x.svg",
    ]);
    assert!(!bad_range.status.success());
    assert!(text(&bad_range.stderr).contains("bad k range '4..2'"));

    let missing = valuelab(&[
        "groups",
        "build",
        "--ess",
        "no-such.csv",
        "--k",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("no-such.csv"));
}

/// The mean of `column` over the rows whose group name starts with "Group_" (or not).
fn mean_of(rows: &[Vec<String>], column: &str, kmeans: bool) -> f64 {
    let at = rows[0].iter().position(|h| h == column).unwrap();
    let scores: Vec<f64> = rows[1..]
        .iter()
        .filter(|r| r.len() > at && r[1].starts_with("Group_") == kmeans)
        .map(|r| r[at].parse::<f64>().unwrap())
        .collect();
    scores.iter().sum::<f64>() / scores.len() as f64
}

#[test]
fn rescore_puts_the_authors_k_means_groups_on_the_countries_scale() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rescored.tsv");
    let done = valuelab(&["groups", "rescore", "--out", out.to_str().unwrap()]);
    assert!(done.status.success(), "{}", text(&done.stderr));
    let stderr = text(&done.stderr);
    assert!(
        stderr.contains("100 k-means groups rescored as 7 − score"),
        "{stderr}"
    );

    let before = tsv(&data_dir().join("vim/country_and_group.csv"));
    let after = tsv(&out);
    // As the authors give them, the groups rank Power above Benevolence, the reverse of the
    // countries (the ESS's answer coding); rescored they rank like the countries.
    assert!(mean_of(&before, "Power", true) > mean_of(&before, "Benevolence", true));
    assert!(mean_of(&after, "Benevolence", true) > mean_of(&after, "Power", true) + 1.0);
    for value in ["Benevolence", "Power", "Tradition"] {
        let (old, new) = (mean_of(&before, value, true), mean_of(&after, value, true));
        assert!((old + new - 7.0).abs() < 1e-9, "{value}: {old} + {new}");
        let (old, new) = (
            mean_of(&before, value, false),
            mean_of(&after, value, false),
        );
        assert!((old - new).abs() < 1e-9, "countries kept: {value}");
    }

    let again = valuelab(&[
        "groups",
        "rescore",
        "--groups",
        out.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("write the rescored groups to a new file (use --out)"),
        "{}",
        text(&again.stderr)
    );
}
