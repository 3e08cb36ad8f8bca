//! Tests of `survey`.

use super::*;
use crate::data::ess::{read_ess_csv, read_pvq21_key, read_questions};
use crate::data::testdata::{file_with, shared_data};
use valuelab_common::pvq21::is_valid_answer;
use valuelab_common::{ALL_VALUES, VALUE_COUNT};

/// Few restarts keep the tests on 22,190 real respondents quick; determinism and validity
/// do not depend on how many there are.
const QUICK: KMeansSettings = KMeansSettings {
    runs: 2,
    max_iterations: 100,
    tolerance: 1e-4,
};

/// The ten values scored 6 by profile A (its PVQ answers are 1 there, 5 elsewhere → 2);
/// profile B answers 6 (→ 1) on these and 2 (→ 5) elsewhere.
const A_HIGH: [Value; 5] = [
    Value::Achievement,
    Value::Hedonism,
    Value::Power,
    Value::SelfDirection,
    Value::Stimulation,
];

fn profile(a: bool) -> Point {
    std::array::from_fn(|j| match (a, A_HIGH.contains(&ALL_VALUES[j])) {
        (true, true) => 6.0,
        (true, false) => 2.0,
        (false, true) => 1.0,
        (false, false) => 5.0,
    })
}

/// Opinion answers per respondent: six of profile A, six of profile B, then one respondent
/// who cannot be scored. Missing codes (77, 88, 99, 7, 8, 9) are mixed in; the expected means
/// below are worked out by hand from these rows.
const OPINIONS: [&str; 4] = ["ppltrst", "vote", "tvtot", "lrscale"];
const ANSWERS: [[i64; 4]; 13] = [
    // A: BE, BE, BE, BE, DE, DE
    [10, 1, 0, 0],
    [8, 1, 1, 10],
    [77, 2, 0, 5],
    [9, 8, 77, 5],
    [10, 1, 0, 88],
    [88, 7, 2, 5],
    // B: BE, BE, DE, DE, DE, DE
    [2, 2, 7, 77],
    [3, 2, 7, 77],
    [99, 2, 6, 88],
    [2, 9, 7, 77],
    [1, 3, 88, 99],
    [0, 2, 7, 77],
    // unscorable, BE: its answers must count nowhere
    [0, 3, 7, 0],
];
const COUNTRIES: [&str; 13] = [
    "BE", "BE", "BE", "BE", "DE", "DE", "BE", "BE", "DE", "DE", "DE", "DE", "BE",
];

/// A synthetic ESS file: `idno`, `cntry`, the 21 PVQ items (odd items with the `a` suffix of
/// later editions, even ones without) and the opinion columns.
fn synthetic_ess() -> String {
    let key = read_pvq21_key(&shared_data().ess_pvq21_key_tsv()).unwrap();
    let mut header = vec!["idno".to_string(), "cntry".to_string()];
    header.extend(key.iter().enumerate().map(|(i, (v, _))| {
        if i % 2 == 0 {
            format!("{v}a")
        } else {
            v.clone()
        }
    }));
    header.extend(OPINIONS.iter().map(|s| s.to_string()));
    let mut text = header.join(",") + "\n";
    for (r, opinions) in ANSWERS.iter().enumerate() {
        let a = r < 6;
        let mut cells = vec![(1000 + r).to_string(), COUNTRIES[r].to_string()];
        for (i, (_, value)) in key.iter().enumerate() {
            let high = A_HIGH.contains(value);
            let code = match (a, high) {
                (true, true) => 1,
                (true, false) => 5,
                (false, true) => 6,
                (false, false) => 2,
            };
            // Missing items that leave every value answered: still scorable.
            let code = match (r, i) {
                (12, _) => 8,
                (1, 0) => 7,
                (1, 5) => 77,
                (8, 3) => 9,
                _ => code,
            };
            cells.push(code.to_string());
        }
        cells.extend(opinions.iter().map(|x| x.to_string()));
        text += &(cells.join(",") + "\n");
    }
    text
}

const QUESTIONS: &str = "code\tchapter\tscale\tquestion\n\
    ppltrst\tmedia_and_social_trust\t0-10\tTrust?\n\
    vote\tpolitics\tYes|No|Not eligible to vote\tVoted?\n\
    tvtot\tmedia_and_social_trust\tNo time at all|Less than 0.5 hour|0.5 to 1 hour|More than 1 hour, up to 1.5 hours|More than 1.5 hours, up to 2 hours|More than 2 hours, up to 2.5 hours|More than 2.5 hours, up to 3 hours|More than 3 hours\tTV?\n\
    lrscale\tpolitics\t0-10\tLeft or right?\n\
    happy\tsubjective_well-being\t0-10\tHappy?\n";

fn mean_of(rows: &[GoldRow], group: &str, code: &str) -> Option<(f64, usize)> {
    rows.iter()
        .find(|r| r.group == group && r.code == code)
        .map(|r| (r.mean, r.n))
}

fn assert_gold(rows: &[GoldRow], group: &str, code: &str, mean: f64, n: usize) {
    let (got, got_n) =
        mean_of(rows, group, code).unwrap_or_else(|| panic!("no row for {group}/{code}"));
    assert!(
        (got - mean).abs() < 1e-12 && got_n == n,
        "{group}/{code}: got {got} over {got_n}, expected {mean} over {n}"
    );
}

#[test]
fn two_profiles_become_two_groups_plus_countries() {
    let (_d, path) = file_with("ess.csv", &synthetic_ess());
    let table = read_ess_csv(&path).unwrap();
    let key = read_pvq21_key(&shared_data().ess_pvq21_key_tsv()).unwrap();
    let scored = score_respondents(&table, &key).unwrap();
    assert_eq!((scored.points.len(), scored.skipped), (12, 1));
    assert_eq!(scored.points[1], profile(true));
    assert_eq!(scored.points[8], profile(false));

    let built = build_groups(&scored, 2, 5, &KMeansSettings::default()).unwrap();
    let names: Vec<&str> = built.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["Group_1", "Group_2", "BE", "DE"]);
    let a = built.assignments[0];
    assert!(
        built.assignments[..6].iter().all(|&g| g == a)
            && built.assignments[6..].iter().all(|&g| g != a)
    );
    assert_eq!(built.groups[a].values.scores(), &profile(true));
    assert_eq!(built.groups[1 - a].values.scores(), &profile(false));
    assert_eq!(built.sse, 0.0);
    // Belgium: four of profile A and two of B (the unscorable Belgian is not counted).
    let be = &built.groups[2];
    assert_eq!(be.size, Some(6));
    for j in 0..VALUE_COUNT {
        let expected = (4.0 * profile(true)[j] + 2.0 * profile(false)[j]) / 6.0;
        assert!((be.values.scores()[j] - expected).abs() < 1e-12);
    }
    assert_eq!(built.groups[3].size, Some(6));
}

#[test]
fn gold_means_match_the_hand_computed_ones() {
    let (dir, path) = file_with("ess.csv", &synthetic_ess());
    let questions_path = dir.path().join("questions.tsv");
    std::fs::write(&questions_path, QUESTIONS).unwrap();
    let questions = read_questions(&questions_path).unwrap();
    let table = read_ess_csv(&path).unwrap();
    let key = read_pvq21_key(&shared_data().ess_pvq21_key_tsv()).unwrap();
    let scored = score_respondents(&table, &key).unwrap();
    let built = build_groups(&scored, 2, 5, &KMeansSettings::default()).unwrap();
    let gold = build_gold(&table, &scored, &built.groups, &questions, None).unwrap();

    let a = built.groups[built.assignments[0]].name.clone();
    let b = built.groups[built.assignments[6]].name.clone();
    assert_eq!(gold.members, vec![6, 6, 6, 6]);
    // ppltrst (0-10): A answered 10, 8, 9, 10 (77 and 88 missing); B 2, 3, 2, 1, 0.
    assert_gold(&gold.rows, &a, "ppltrst", 37.0 / 4.0 / 10.0, 4);
    assert_gold(&gold.rows, &b, "ppltrst", 8.0 / 5.0 / 10.0, 5);
    // Belgium: A's 10, 8, 9 and B's 2, 3.
    assert_gold(&gold.rows, "BE", "ppltrst", 32.0 / 5.0 / 10.0, 5);
    // vote (3 options coded 1..3; 7, 8 and 9 are missing): A 1, 1, 2, 1 → 0, 0, .5, 0.
    assert_gold(&gold.rows, &a, "vote", 0.125, 4);
    assert_gold(&gold.rows, &b, "vote", (0.5 * 4.0 + 1.0) / 5.0, 5);
    // tvtot (8 options, coded 0..7 as a 0 answer shows): A 0, 1, 0, 0, 2 of 7.
    assert_gold(&gold.rows, &a, "tvtot", 3.0 / 35.0, 5);
    assert_gold(&gold.rows, &b, "tvtot", 34.0 / 35.0, 5);
    assert_eq!(gold.coded_from_zero, vec!["tvtot"]);
    // lrscale: nobody of profile B answered, so B has no row; DE's only answer is A's 5.
    assert_gold(&gold.rows, &a, "lrscale", 0.5, 5);
    assert_eq!(mean_of(&gold.rows, &b, "lrscale"), None);
    assert_gold(&gold.rows, "DE", "lrscale", 0.5, 1);
    assert_eq!(gold.unanswered, vec![(b.clone(), "lrscale".to_string())]);
    // `happy` has no column: reported, no rows.
    assert_eq!(gold.missing_columns, vec!["happy"]);
    assert!(gold.rows.iter().all(|r| r.code != "happy"));
    assert_eq!(gold.rows.len(), 4 * 4 - 1);
    // Everyone's ppltrst: A's 37 over 4 answers, B's 8 over 5.
    let everyone = |gold: &Gold| {
        gold.population
            .iter()
            .find(|(c, _)| c == "ppltrst")
            .unwrap()
            .1
    };
    assert!((everyone(&gold) - 45.0 / 9.0 / 10.0).abs() < 1e-12);

    // Survey weights: every respondent of profile B weighs 3, of A 1.
    let mut weights = vec![0.0; table.len()];
    for (&row, &g) in scored.rows.iter().zip(&built.assignments) {
        weights[row] = if g == built.assignments[0] { 1.0 } else { 3.0 };
    }
    let weighted = build_gold(&table, &scored, &built.groups, &questions, Some(&weights)).unwrap();
    // Belgium: A's 10, 8, 9 once, B's 2, 3 three times; n still counts people.
    assert_gold(
        &weighted.rows,
        "BE",
        "ppltrst",
        (27.0 + 3.0 * 5.0) / 9.0 / 10.0,
        5,
    );
    // Within one profile every weight is equal: the means do not move.
    assert_gold(&weighted.rows, &a, "ppltrst", 37.0 / 4.0 / 10.0, 4);
    assert!((everyone(&weighted) - (37.0 + 3.0 * 8.0) / 19.0 / 10.0).abs() < 1e-12);
    let err = build_gold(&table, &scored, &built.groups, &questions, Some(&[1.0]))
        .unwrap_err()
        .to_string();
    let expected = format!("1 weights for {} respondents", table.len());
    assert!(err.contains(&expected), "{err}");
}

#[test]
fn without_cluster_names_every_non_country_group_competes() {
    let (_d, path) = file_with("ess.csv", &synthetic_ess());
    let table = read_ess_csv(&path).unwrap();
    let key = read_pvq21_key(&shared_data().ess_pvq21_key_tsv()).unwrap();
    let scored = score_respondents(&table, &key).unwrap();
    let group = |name: &str, p: Point| TargetGroup {
        name: name.into(),
        values: ValueDistribution::parse(p).unwrap(),
        size: None,
    };
    // "Belgium" is no cntry code of the file, so it competes like "low"; "DE" is a country.
    let groups = vec![
        group("Belgium", [4.0; VALUE_COUNT]),
        group("low", profile(false)),
        group("DE", profile(true)),
    ];
    let question = read_questions(&file_with("q.tsv", QUESTIONS).1).unwrap();
    let gold = build_gold(&table, &scored, &groups, &question, None).unwrap();
    // Profile A is nearer Belgium's flat 4s than profile B; profile B sits on "low".
    assert_eq!(gold.members, vec![6, 6, 6]);
    assert_gold(&gold.rows, "Belgium", "ppltrst", 0.925, 4);
    // DE: A answered 10 (and 88), B 2, 1, 0 (and 99).
    assert_gold(
        &gold.rows,
        "DE",
        "ppltrst",
        (10.0 + 2.0 + 1.0 + 0.0) / 4.0 / 10.0,
        4,
    );
}

#[test]
fn a_file_without_any_question_column_is_an_error() {
    let (dir, path) = file_with("ess.csv", &synthetic_ess());
    let table = read_ess_csv(&path).unwrap();
    let key = read_pvq21_key(&shared_data().ess_pvq21_key_tsv()).unwrap();
    let scored = score_respondents(&table, &key).unwrap();
    let questions_path = dir.path().join("q.tsv");
    std::fs::write(
        &questions_path,
        "code\tchapter\tscale\tquestion\nhappy\tx\t0-10\tHappy?\n",
    )
    .unwrap();
    let questions = read_questions(&questions_path).unwrap();
    let built = build_groups(&scored, 2, 5, &KMeansSettings::default()).unwrap();
    let err = build_gold(&table, &scored, &built.groups, &questions, None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("ess.csv line 1: none of the 1 questions has a column"),
        "{err}"
    );
}

#[test]
fn a_missing_pvq_column_is_an_error_naming_it() {
    let text = synthetic_ess().replace("impfuna", "fun");
    let (_d, path) = file_with("ess.csv", &text);
    let table = read_ess_csv(&path).unwrap();
    let key = read_pvq21_key(&shared_data().ess_pvq21_key_tsv()).unwrap();
    let err = score_respondents(&table, &key).unwrap_err().to_string();
    assert!(err.contains("missing column 'impfun'"), "{err}");
}

/// The real responses table, the PVQ-21 key and the scored respondents.
type Real = (EssTable, Vec<(String, Value)>, ScoredRespondents);

/// The real responses, read and scored once for all tests.
fn real() -> &'static Real {
    static REAL: std::sync::OnceLock<Real> = std::sync::OnceLock::new();
    REAL.get_or_init(|| {
        let data = shared_data();
        let table = read_ess_csv(&data.ess_responses_csv()).unwrap();
        let key = read_pvq21_key(&data.ess_pvq21_key_tsv()).unwrap();
        let scored = score_respondents(&table, &key).unwrap();
        (table, key, scored)
    })
}

#[test]
fn real_responses_form_five_valid_groups_reproducibly() {
    let (table, key, scored) = real();
    assert_eq!(scored.points.len() + scored.skipped, 22190);
    assert_eq!(scored.countries, None);
    // Respondent 50014 answered ipcrtiva 3, impfreea 2 (Self-direction 7-3, 7-2) and
    // impricha 5, iprspota 2 (Power 7-5, 7-2).
    assert_eq!(table.ids[scored.rows[0]], "50014");
    assert_eq!(scored.points[0][Value::SelfDirection.index()], 4.5);
    assert_eq!(scored.points[0][Value::Power.index()], 3.5);
    // Every skipped respondent has fewer than 16 valid answers or a value left unanswered.
    let columns: Vec<usize> = key.iter().map(|(v, _)| table.column(v).unwrap()).collect();
    let mut kept = scored.rows.iter().peekable();
    for row in 0..table.len() {
        if kept.peek() == Some(&&row) {
            kept.next();
            continue;
        }
        let valid: Vec<Value> = columns
            .iter()
            .zip(key)
            .filter(|(&c, _)| table.get(row, c).is_some_and(is_valid_answer))
            .map(|(_, (_, v))| *v)
            .collect();
        assert!(
            valid.len() < 16 || ALL_VALUES.iter().any(|v| !valid.contains(v)),
            "row {row}"
        );
    }

    let built = build_groups(scored, 5, 2023, &QUICK).unwrap();
    assert_eq!(built.groups.len(), 5);
    let sizes: Vec<usize> = built.groups.iter().map(|g| g.size.unwrap()).collect();
    assert_eq!(sizes.iter().sum::<usize>(), scored.points.len());
    assert!(sizes.iter().all(|&n| n > 0), "{sizes:?}");
    for (g, group) in built.groups.iter().enumerate() {
        // A group's scores are its members' mean, and valid (1..6) by construction.
        let members: Vec<&Point> = scored
            .points
            .iter()
            .zip(&built.assignments)
            .filter(|(_, &a)| a == g)
            .map(|(p, _)| p)
            .collect();
        assert_eq!(members.len(), sizes[g]);
        for j in 0..VALUE_COUNT {
            let mean = members.iter().map(|p| p[j]).sum::<f64>() / members.len() as f64;
            assert!((group.values.scores()[j] - mean).abs() < 1e-9);
        }
    }
    assert_eq!(build_groups(scored, 5, 2023, &QUICK).unwrap(), built);
    // The groups file reads back as valid groups (scores in 1..6) with their sizes.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("groups.tsv");
    crate::data::groups::write_groups(&path, &built.groups).unwrap();
    assert_eq!(
        crate::data::groups::read_groups(&path).unwrap(),
        built.groups
    );
}

#[test]
fn real_responses_sse_falls_as_k_grows() {
    let (_, _, scored) = real();
    let curve = super::super::elbow::elbow(&scored.points, 2..=4, 7, &QUICK).unwrap();
    for w in curve.windows(2) {
        assert!(w[1].sse < w[0].sse, "{curve:?}");
    }
}
