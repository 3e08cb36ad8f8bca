//! Fleiss' kappa: agreement among many raters sorting subjects into categories, corrected for
//! the agreement expected by chance. Used to report how consistently annotators judged the
//! generated arguments (§5.2 of the paper). Subjects may have different numbers of raters: the
//! generalised form of Gwet's irrCAC (`fleiss.kappa.raw`), which equals Fleiss (1971) when every
//! subject has the same number of raters.

use std::collections::HashMap;
use std::hash::Hash;

/// Chance agreement this close to 1 leaves kappa's denominator at zero.
const CHANCE_EPSILON: f64 = 1e-12;

/// Agreement statistics of one table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kappa {
    /// `(observed − chance) / (1 − chance)`; `None` when chance agreement is 1 (every judgement
    /// in one category), where kappa is 0/0 and has no meaning.
    pub kappa: Option<f64>,
    /// Mean pairwise agreement over subjects with at least 2 raters (Fleiss' P̄).
    pub observed: f64,
    /// Agreement expected from the category proportions (Fleiss' P̄e).
    pub chance: f64,
    /// Subjects rated by at least one rater.
    pub subjects: usize,
    pub categories: usize,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KappaError {
    #[error("no judgements to compute kappa from")]
    NoSubjects,
    #[error("no categories: each subject needs a count per category")]
    NoCategories,
    #[error("subject {subject} has {found} category counts, expected {expected} like subject 1")]
    RaggedRow {
        subject: usize,
        found: usize,
        expected: usize,
    },
    #[error(
        "count {count} for subject {subject}, category {category} is not a non-negative number"
    )]
    BadCount {
        subject: usize,
        category: usize,
        count: f64,
    },
    #[error("no subject was rated by at least 2 raters, so observed agreement is undefined")]
    TooFewRaters,
}

/// Fleiss' kappa of a subjects × categories table of counts (`counts[i][k]` = raters who put
/// subject `i` in category `k`). Rows may sum to different rater numbers; rows summing to 0
/// (subjects nobody rated) are left out, as irrCAC does.
pub fn fleiss_kappa(counts: &[Vec<f64>]) -> Result<Kappa, KappaError> {
    let first = counts.first().ok_or(KappaError::NoSubjects)?;
    let categories = first.len();
    if categories == 0 {
        return Err(KappaError::NoCategories);
    }
    for (i, row) in counts.iter().enumerate() {
        if row.len() != categories {
            return Err(KappaError::RaggedRow {
                subject: i + 1,
                found: row.len(),
                expected: categories,
            });
        }
        if let Some((k, &count)) = row
            .iter()
            .enumerate()
            .find(|(_, c)| !c.is_finite() || **c < 0.0)
        {
            return Err(KappaError::BadCount {
                subject: i + 1,
                category: k + 1,
                count,
            });
        }
    }
    let rated: Vec<(&Vec<f64>, f64)> = counts
        .iter()
        .map(|row| (row, row.iter().sum::<f64>()))
        .filter(|(_, raters)| *raters > 0.0)
        .collect();
    if rated.is_empty() {
        return Err(KappaError::NoSubjects);
    }

    // Observed agreement: share of agreeing rater pairs per subject, averaged over subjects
    // with at least one pair.
    let pair_shares: Vec<f64> = rated
        .iter()
        .filter(|(_, raters)| *raters >= 2.0)
        .map(|(row, raters)| {
            let agreeing: f64 = row.iter().map(|n| n * (n - 1.0)).sum();
            agreeing / (raters * (raters - 1.0))
        })
        .collect();
    if pair_shares.is_empty() {
        return Err(KappaError::TooFewRaters);
    }
    let observed = pair_shares.iter().sum::<f64>() / pair_shares.len() as f64;

    // Chance agreement from category proportions averaged over subjects (each subject weighs
    // the same whatever its rater count), squared and summed.
    let subjects = rated.len();
    let mut proportions = vec![0.0; categories];
    for (row, raters) in &rated {
        for (p, n) in proportions.iter_mut().zip(row.iter()) {
            *p += n / raters / subjects as f64;
        }
    }
    let chance: f64 = proportions.iter().map(|p| p * p).sum();

    let kappa = if (1.0 - chance).abs() < CHANCE_EPSILON {
        None
    } else {
        Some((observed - chance) / (1.0 - chance))
    };
    Ok(Kappa {
        kappa,
        observed,
        chance,
        subjects,
        categories,
    })
}

/// A counts table built from long-format judgements: subjects in order of first appearance,
/// categories sorted, `counts[i][k]` as [`fleiss_kappa`] takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CountsTable<S, C> {
    pub subjects: Vec<S>,
    pub categories: Vec<C>,
    pub counts: Vec<Vec<f64>>,
}

/// Tallies `(subject, category)` judgements (one per rater and subject) into a counts table.
pub fn counts_from_long<S, C>(judgements: &[(S, C)]) -> CountsTable<S, C>
where
    S: Eq + Hash + Clone,
    C: Eq + Hash + Clone + Ord,
{
    let mut categories: Vec<C> = judgements.iter().map(|(_, c)| c.clone()).collect();
    categories.sort();
    categories.dedup();
    let category_index: HashMap<&C, usize> =
        categories.iter().enumerate().map(|(i, c)| (c, i)).collect();

    let mut subjects: Vec<S> = Vec::new();
    let mut subject_index: HashMap<&S, usize> = HashMap::new();
    let mut counts: Vec<Vec<f64>> = Vec::new();
    for (subject, category) in judgements {
        let row = *subject_index.entry(subject).or_insert_with(|| {
            subjects.push(subject.clone());
            counts.push(vec![0.0; categories.len()]);
            counts.len() - 1
        });
        counts[row][category_index[category]] += 1.0;
    }
    CountsTable {
        subjects,
        categories,
        counts,
    }
}

/// Fleiss' kappa of long-format `(subject, category)` judgements, any number of raters per
/// subject (irrCAC's `fleiss.kappa.raw`); categories are those that occur.
pub fn fleiss_kappa_long<S, C>(judgements: &[(S, C)]) -> Result<Kappa, KappaError>
where
    S: Eq + Hash + Clone,
    C: Eq + Hash + Clone + Ord,
{
    if judgements.is_empty() {
        return Err(KappaError::NoSubjects);
    }
    fleiss_kappa(&counts_from_long(judgements).counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fleiss (1971), Table 1: 30 patients, 6 psychiatrists each, categories depression,
    /// personality disorder, schizophrenia, neurosis, other. Tallied here from the per-rater
    /// `diagnoses` data of R's irr package (as reproduced in pyirr's `tests/diagnoses.csv`).
    /// irr's `kappam.fleiss(diagnoses)` and Fleiss' paper give κ = 0.430.
    const DIAGNOSES: [[f64; 5]; 30] = [
        [0., 0., 0., 6., 0.],
        [0., 3., 0., 0., 3.],
        [0., 1., 4., 0., 1.],
        [0., 0., 0., 0., 6.],
        [0., 3., 0., 3., 0.],
        [2., 0., 4., 0., 0.],
        [0., 0., 4., 0., 2.],
        [2., 0., 3., 1., 0.],
        [2., 0., 0., 4., 0.],
        [0., 0., 0., 0., 6.],
        [1., 0., 0., 5., 0.],
        [1., 1., 0., 4., 0.],
        [0., 3., 3., 0., 0.],
        [1., 0., 0., 5., 0.],
        [0., 2., 0., 3., 1.],
        [0., 0., 5., 0., 1.],
        [3., 0., 0., 1., 2.],
        [5., 1., 0., 0., 0.],
        [0., 2., 0., 4., 0.],
        [1., 0., 2., 0., 3.],
        [0., 0., 0., 0., 6.],
        [0., 1., 0., 5., 0.],
        [0., 2., 0., 1., 3.],
        [2., 0., 0., 4., 0.],
        [1., 0., 0., 4., 1.],
        [0., 5., 0., 1., 0.],
        [4., 0., 0., 0., 2.],
        [0., 2., 0., 4., 0.],
        [1., 0., 5., 0., 0.],
        [0., 0., 0., 0., 6.],
    ];

    /// The worked example of the English Wikipedia article "Fleiss' kappa": 10 subjects,
    /// 14 raters, 5 categories; P̄ = 0.378, P̄e = 0.213, κ = 0.210.
    const WIKIPEDIA: [[f64; 5]; 10] = [
        [0., 0., 0., 0., 14.],
        [0., 2., 6., 4., 2.],
        [0., 0., 3., 5., 6.],
        [0., 3., 9., 2., 0.],
        [2., 2., 8., 1., 1.],
        [7., 7., 0., 0., 0.],
        [3., 2., 6., 3., 0.],
        [2., 5., 3., 2., 2.],
        [6., 5., 2., 1., 0.],
        [0., 2., 2., 3., 7.],
    ];

    fn table<const K: usize>(rows: &[[f64; K]]) -> Vec<Vec<f64>> {
        rows.iter().map(|r| r.to_vec()).collect()
    }

    /// Expands a counts table into long-format judgements, subject and category as indices.
    fn long<const K: usize>(rows: &[[f64; K]]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            for (k, &n) in row.iter().enumerate() {
                out.extend(std::iter::repeat_n((i, k), n as usize));
            }
        }
        out
    }

    #[test]
    fn fleiss_1971_diagnoses_give_kappa_0_430() {
        let k = fleiss_kappa(&table(&DIAGNOSES)).unwrap();
        assert_eq!((k.subjects, k.categories), (30, 5));
        assert!((k.kappa.unwrap() - 0.4302).abs() < 5e-5, "{k:?}");
    }

    #[test]
    fn wikipedia_example_gives_kappa_0_210() {
        let k = fleiss_kappa(&table(&WIKIPEDIA)).unwrap();
        assert!((k.observed - 0.378).abs() < 5e-4, "{k:?}");
        assert!((k.chance - 0.213).abs() < 5e-4, "{k:?}");
        assert!((k.kappa.unwrap() - 0.2099).abs() < 5e-5, "{k:?}");
        assert_eq!((k.subjects, k.categories), (10, 5));
    }

    #[test]
    fn long_format_equals_the_counts_table() {
        for counts in [table(&DIAGNOSES), table(&WIKIPEDIA)] {
            let rows: Vec<[f64; 5]> = counts
                .iter()
                .map(|r| [r[0], r[1], r[2], r[3], r[4]])
                .collect();
            let from_long = fleiss_kappa_long(&long(&rows)).unwrap();
            assert_eq!(from_long, fleiss_kappa(&counts).unwrap());
        }
    }

    #[test]
    fn unequal_raters_follow_irrcac() {
        // Hand computation with irrCAC's formulas. Subject 1: 3 raters (2 in A, 1 in B),
        // subject 2: 2 raters (both B), subject 3: 1 rater (A).
        // pa = mean over subjects with ≥2 raters of Σ n(n−1) / r(r−1) = (2/6 + 2/2) / 2 = 2/3.
        // π_A = (2/3 + 0 + 1) / 3 = 5/9, π_B = (1/3 + 1 + 0) / 3 = 4/9, pe = 41/81.
        let k = fleiss_kappa(&[vec![2.0, 1.0], vec![0.0, 2.0], vec![1.0, 0.0]]).unwrap();
        assert!((k.observed - 2.0 / 3.0).abs() < 1e-12);
        assert!((k.chance - 41.0 / 81.0).abs() < 1e-12);
        let expected = (2.0 / 3.0 - 41.0 / 81.0) / (1.0 - 41.0 / 81.0);
        assert!((k.kappa.unwrap() - expected).abs() < 1e-12);
        assert_eq!(k.subjects, 3);
        let judgements = [
            ("s1", "A"),
            ("s1", "A"),
            ("s1", "B"),
            ("s2", "B"),
            ("s2", "B"),
            ("s3", "A"),
        ];
        assert_eq!(fleiss_kappa_long(&judgements).unwrap(), k);
    }

    #[test]
    fn perfect_agreement_across_categories_is_one() {
        let k = fleiss_kappa(&[vec![3.0, 0.0], vec![0.0, 3.0]]).unwrap();
        assert_eq!(k.kappa, Some(1.0));
    }

    #[test]
    fn kappa_is_undefined_when_every_judgement_is_in_one_category() {
        let k = fleiss_kappa(&[vec![4.0, 0.0], vec![3.0, 0.0]]).unwrap();
        assert_eq!(k.kappa, None);
        assert_eq!((k.observed, k.chance), (1.0, 1.0));
        let k = fleiss_kappa_long(&[(1, "yes"), (1, "yes"), (2, "yes"), (2, "yes")]).unwrap();
        assert_eq!(k.kappa, None);
        assert_eq!(k.categories, 1);
    }

    #[test]
    fn no_subject_with_two_raters_is_an_error() {
        let err = fleiss_kappa(&[vec![1.0, 0.0], vec![0.0, 1.0]]).unwrap_err();
        assert_eq!(err, KappaError::TooFewRaters);
        assert_eq!(
            fleiss_kappa_long(&[(1, 'a'), (2, 'b')]),
            Err(KappaError::TooFewRaters)
        );
    }

    #[test]
    fn unrated_subjects_are_left_out() {
        let with_empty = fleiss_kappa(&[vec![2.0, 1.0], vec![0.0, 0.0], vec![0.0, 3.0]]).unwrap();
        let without = fleiss_kappa(&[vec![2.0, 1.0], vec![0.0, 3.0]]).unwrap();
        assert_eq!(with_empty, without);
        assert_eq!(with_empty.subjects, 2);
    }

    #[test]
    fn malformed_tables_name_the_bad_cell() {
        assert_eq!(fleiss_kappa(&[]), Err(KappaError::NoSubjects));
        assert_eq!(fleiss_kappa(&[vec![]]), Err(KappaError::NoCategories));
        assert_eq!(fleiss_kappa(&[vec![0.0; 3]]), Err(KappaError::NoSubjects));
        let err = fleiss_kappa(&[vec![1.0, 1.0], vec![1.0]]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "subject 2 has 1 category counts, expected 2 like subject 1"
        );
        let err = fleiss_kappa(&[vec![1.0, 1.0], vec![1.0, -2.0]]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "count -2 for subject 2, category 2 is not a non-negative number"
        );
        let none: [(u8, u8); 0] = [];
        assert_eq!(fleiss_kappa_long(&none), Err(KappaError::NoSubjects));
    }

    #[test]
    fn counts_from_long_keeps_subject_order_and_sorts_categories() {
        let t = counts_from_long(&[("b", 2), ("a", 1), ("b", 1), ("b", 2)]);
        assert_eq!(t.subjects, vec!["b", "a"]);
        assert_eq!(t.categories, vec![1, 2]);
        assert_eq!(t.counts, vec![vec![1.0, 2.0], vec![1.0, 0.0]]);
    }
}
