//! ESS microdata to groups and gold: scores respondents, builds k-means and country groups, and
//! assigns respondents to groups for their gold opinions. The algorithms live in `cluster` and
//! `gold` and take plain vectors; this file joins them to the tables of `data::ess`.

use super::cluster::{cluster_with, nearest, KMeansSettings, Point};
use super::gold::{gold_means, GoldRow};
use crate::data::ess::{EssQuestion, EssTable};
use crate::data::groups::TargetGroup;
use crate::{Error, Result};
use std::collections::{BTreeMap, HashMap};
use valuelab_common::pvq21::score_pvq21;
use valuelab_common::scale::AnswerScale;
use valuelab_common::{Value, ValueDistribution};

/// Names of the k-means groups: `Group_1` .. `Group_K`, as in `country_and_group.csv`.
pub const CLUSTER_PREFIX: &str = "Group_";

/// The respondents of an ESS table whose values could be scored.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredRespondents {
    /// Row in the ESS table of each scored respondent.
    pub rows: Vec<usize>,
    /// Their ten value scores, aligned with `rows`.
    pub points: Vec<Point>,
    /// Their `cntry` when the table has that column (empty text when the cell is).
    pub countries: Option<Vec<String>>,
    /// Respondents left out: too few PVQ-21 answers, or no answer for some value.
    pub skipped: usize,
}

/// Scores every respondent of `table` with the PVQ-21 `key` (variable, value), skipping those
/// who answered too few items.
pub fn score_respondents(table: &EssTable, key: &[(String, Value)]) -> Result<ScoredRespondents> {
    let columns: Vec<usize> = key
        .iter()
        .map(|(variable, _)| table.require_column(variable))
        .collect::<Result<_>>()?;
    let item_values: Vec<Value> = key.iter().map(|(_, v)| *v).collect();
    let mut scored = ScoredRespondents {
        rows: Vec::new(),
        points: Vec::new(),
        countries: table.countries.as_ref().map(|_| Vec::new()),
        skipped: 0,
    };
    let mut answers = vec![None; columns.len()];
    for row in 0..table.len() {
        for (answer, &col) in answers.iter_mut().zip(&columns) {
            *answer = table.get(row, col);
        }
        match score_pvq21(&item_values, &answers) {
            Ok(values) => {
                scored.rows.push(row);
                scored.points.push(*values.scores());
                if let (Some(out), Some(all)) =
                    (scored.countries.as_mut(), table.countries.as_ref())
                {
                    out.push(all[row].clone());
                }
            }
            // Too few answers is the respondent's state, not a bad file: count and go on.
            Err(_) => scored.skipped += 1,
        }
    }
    Ok(scored)
}

/// Groups built from scored respondents: `Group_1..Group_K`, then one per country (sorted by code).
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltGroups {
    pub groups: Vec<TargetGroup>,
    /// The k-means group of each scored respondent (index into `groups`).
    pub assignments: Vec<usize>,
    /// Within-cluster SSE of the k-means groups.
    pub sse: f64,
}

pub fn build_groups(
    scored: &ScoredRespondents,
    k: usize,
    seed: u64,
    settings: &KMeansSettings,
) -> Result<BuiltGroups> {
    let clustering = cluster_with(&scored.points, k, seed, settings)?;
    let mut groups = Vec::with_capacity(k);
    for (g, (centroid, &size)) in clustering
        .centroids
        .iter()
        .zip(&clustering.sizes)
        .enumerate()
    {
        groups.push(TargetGroup {
            name: format!("{CLUSTER_PREFIX}{}", g + 1),
            values: distribution(centroid)?,
            size: Some(size),
        });
    }
    if let Some(countries) = &scored.countries {
        let mut members: BTreeMap<&str, Vec<&Point>> = BTreeMap::new();
        for (country, point) in countries.iter().zip(&scored.points) {
            if !country.is_empty() {
                members.entry(country.as_str()).or_default().push(point);
            }
        }
        for (country, points) in members {
            let mean: Point = std::array::from_fn(|j| {
                points.iter().map(|p| p[j]).sum::<f64>() / points.len() as f64
            });
            groups.push(TargetGroup {
                name: country.to_string(),
                values: distribution(&mean)?,
                size: Some(points.len()),
            });
        }
    }
    Ok(BuiltGroups {
        groups,
        assignments: clustering.assignments,
        sse: clustering.sse,
    })
}

/// Means of valid scores stay in 1..6; the check guards against a key or scorer gone wrong.
fn distribution(point: &Point) -> Result<ValueDistribution> {
    Ok(ValueDistribution::parse(*point)?)
}

/// Gold opinions and what was left out on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Gold {
    /// One row per (group, question) with at least one valid answer, groups in file order.
    pub rows: Vec<GoldRow>,
    /// Respondents assigned to each group, aligned with the groups passed in.
    pub members: Vec<usize>,
    /// Questions whose variable the ESS table lacks (or holds as text).
    pub missing_columns: Vec<String>,
    /// (group, question) pairs without a single valid answer: they get no row.
    pub unanswered: Vec<(String, String)>,
    /// Option-list questions read as coded from 0 because a 0 answer occurs (ESS `tvtot`, ...).
    pub coded_from_zero: Vec<String>,
}

/// Each group's mean rescaled answer per question.
///
/// Who counts for a group: a group named like a `cntry` code of the table takes that country's
/// respondents; every scored respondent also joins the nearest (Euclidean on the ten scores) of
/// the k-means groups, those named `Group_<n>` — or, when no group is named so, of all groups that
/// are not countries. Groups that are neither (countries absent from the file, such as the full
/// country names of `country_and_group.csv`) get no respondents.
pub fn build_gold(
    table: &EssTable,
    scored: &ScoredRespondents,
    groups: &[TargetGroup],
    questions: &[EssQuestion],
) -> Result<Gold> {
    let memberships = memberships(scored, groups);
    let mut members = vec![0usize; groups.len()];
    for m in &memberships {
        for &g in m {
            members[g] += 1;
        }
    }

    let mut per_question = Vec::new();
    let mut gold = Gold {
        rows: Vec::new(),
        members,
        missing_columns: Vec::new(),
        unanswered: Vec::new(),
        coded_from_zero: Vec::new(),
    };
    for question in questions {
        let Some(col) = table.column(&question.code) else {
            gold.missing_columns.push(question.code.clone());
            continue;
        };
        let raw: Vec<Option<i64>> = scored.rows.iter().map(|&row| table.get(row, col)).collect();
        let first_code = first_code(&question.scale, &raw);
        if first_code == 0 && matches!(question.scale, AnswerScale::Options(_)) {
            gold.coded_from_zero.push(question.code.clone());
        }
        let answers: Vec<Option<f64>> = raw
            .iter()
            .map(|r| r.and_then(|code| question.scale.rescale_code_from(code as f64, first_code)))
            .collect();
        per_question.push((question, gold_means(&memberships, groups.len(), &answers)));
    }
    if per_question.is_empty() {
        return Err(Error::file(
            &table.path,
            Some(1),
            format!(
                "none of the {} questions has a column here (expected ESS variables such as '{}')",
                questions.len(),
                questions
                    .first()
                    .map(|q| q.code.as_str())
                    .unwrap_or("ppltrst")
            ),
        ));
    }
    for (g, group) in groups.iter().enumerate() {
        for (question, means) in &per_question {
            match means[g] {
                Some(m) => gold.rows.push(GoldRow {
                    group: group.name.clone(),
                    code: question.code.clone(),
                    mean: m.mean,
                    n: m.n,
                }),
                None => gold
                    .unanswered
                    .push((group.name.clone(), question.code.clone())),
            }
        }
    }
    Ok(gold)
}

/// The code of a scale's first position. ESS codes numeric ranges as themselves and option lists
/// from 1, except a few counts coded from 0 (`tvtot`: 0 = "No time at all"); no ESS missing code
/// is 0, so a 0 among the answers marks an option list coded from 0.
fn first_code(scale: &AnswerScale, raw: &[Option<i64>]) -> i64 {
    match scale {
        AnswerScale::Numeric { low, .. } => *low,
        AnswerScale::Options(_) if raw.contains(&Some(0)) => 0,
        AnswerScale::Options(_) => 1,
    }
}

/// The groups each scored respondent belongs to (see [`build_gold`]).
fn memberships(scored: &ScoredRespondents, groups: &[TargetGroup]) -> Vec<Vec<usize>> {
    let by_name: HashMap<&str, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.name.as_str(), i))
        .collect();
    let country_group: Vec<Option<usize>> = match &scored.countries {
        Some(countries) => countries
            .iter()
            .map(|c| by_name.get(c.as_str()).copied())
            .collect(),
        None => vec![None; scored.points.len()],
    };
    let is_country: Vec<bool> = {
        let mut flags = vec![false; groups.len()];
        for g in country_group.iter().flatten() {
            flags[*g] = true;
        }
        flags
    };
    let named_clusters: Vec<usize> = (0..groups.len())
        .filter(|&g| is_cluster_name(&groups[g].name))
        .collect();
    let candidates: Vec<usize> = if named_clusters.is_empty() {
        (0..groups.len()).filter(|&g| !is_country[g]).collect()
    } else {
        named_clusters
    };
    let centroids: Vec<Point> = candidates
        .iter()
        .map(|&g| *groups[g].values.scores())
        .collect();
    scored
        .points
        .iter()
        .zip(&country_group)
        .map(|(point, country)| {
            let mut m: Vec<usize> = nearest(&centroids, point)
                .map(|i| candidates[i])
                .into_iter()
                .collect();
            m.extend(*country);
            m
        })
        .collect()
}

fn is_cluster_name(name: &str) -> bool {
    name.strip_prefix(CLUSTER_PREFIX)
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
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
        let gold = build_gold(&table, &scored, &built.groups, &questions).unwrap();

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
        let gold = build_gold(&table, &scored, &groups, &question).unwrap();
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
        let err = build_gold(&table, &scored, &built.groups, &questions)
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
}
