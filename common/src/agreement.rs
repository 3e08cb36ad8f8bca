//! Chance-corrected agreement of an annotation study: each item (say, a pair of generated
//! arguments) is judged by several annotators into nominal categories (A / B / tie), and the
//! report needs to say how far the annotators agree beyond what their category use alone would
//! produce. Four coefficients side by side, because each fails differently: Fleiss' kappa (from
//! [`crate::kappa`]) and Krippendorff's alpha collapse when nearly every judgement lands in one
//! category, Gwet's AC1 stays stable there, and raw percent agreement is the number readers
//! check the others against. Each comes with a percentile bootstrap interval over items and,
//! where it is undefined, a note in plain words saying why, for the API to show instead of a
//! bare null.
//!
//! Tables are items × categories counts as [`fleiss_kappa`] takes them; rows may have
//! different numbers of judgements. Formulas follow Gwet's irrCAC (`pa` and `gwet.ac1.raw`)
//! and Krippendorff (2011), "Computing Krippendorff's alpha-reliability".

use crate::kappa::{fleiss_kappa, Kappa, KappaError};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// Bootstrap resamples of the items behind each interval unless the caller asks otherwise.
pub const BOOTSTRAP_RESAMPLES: usize = 1000;
/// Coverage of the bootstrap intervals.
const CONFIDENCE: f64 = 0.95;
/// An interval needs at least this share of resamples with a defined coefficient; below it the
/// defined ones are a biased subset (those that happened to avoid degenerate draws).
const MIN_DEFINED_SHARE: f64 = 0.5;
/// Denominators this close to zero (relative to their scale) count as zero: 0/0 is undefined.
const ZERO_EPSILON: f64 = 1e-12;

const NO_PAIRS: &str = "no item has 2 or more judgements yet";

/// One coefficient as the API reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coefficient {
    pub value: Option<f64>,
    /// Percentile bootstrap 95 % interval over items.
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// Why `value` or the interval is null, in plain words; absent when both are there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The agreement block of an annotation study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// Items with at least 2 judgements: the ones agreement is measured on.
    pub n_items: usize,
    pub fleiss_kappa: Coefficient,
    pub krippendorff_alpha: Coefficient,
    pub gwet_ac1: Coefficient,
    pub percent_agreement: Coefficient,
}

/// How often one annotator sided with the majority of the others.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnnotatorAgreement {
    /// This annotator's judgements of items where the other annotators have a strict plurality.
    pub items: usize,
    /// Of those, the judgements in the others' plurality category.
    pub agreed: usize,
    /// `agreed / items`; `None` when `items` is 0.
    pub rate: Option<f64>,
}

/// The table through [`fleiss_kappa`], which validates it and yields pa and the category
/// proportions; its errors become notes.
fn checked(counts: &[Vec<f64>]) -> Result<Kappa, String> {
    fleiss_kappa(counts).map_err(|e| match e {
        KappaError::NoSubjects | KappaError::TooFewRaters => NO_PAIRS.to_string(),
        malformed => malformed.to_string(),
    })
}

fn kappa_or_reason(counts: &[Vec<f64>]) -> Result<f64, String> {
    checked(counts)?.kappa.ok_or_else(|| {
        "every judgement is in one category, so chance agreement is 1 and kappa is undefined"
            .to_string()
    })
}

fn percent_or_reason(counts: &[Vec<f64>]) -> Result<f64, String> {
    Ok(checked(counts)?.observed)
}

fn ac1_or_reason(counts: &[Vec<f64>]) -> Result<f64, String> {
    let k = checked(counts)?;
    let q = k.categories as f64;
    if k.categories < 2 {
        return Err("only one category is on offer, so AC1 is undefined".to_string());
    }
    // irrCAC's π_k is the mean over rated items of r_ik / r_i, the same proportions Fleiss'
    // chance agreement squares; they sum to 1, so Σ π_k (1 − π_k) = 1 − Σ π_k². irrCAC
    // multiplies by the sum of the weight matrix (q for identity weights) and divides by
    // q (q − 1), which leaves Gwet's (2008) 1 / (q − 1). At most (1 − 1/q) / (q − 1) = 1/q,
    // so unlike kappa's, this chance agreement never reaches 1.
    let chance = (1.0 - k.chance) / (q - 1.0);
    Ok((k.observed - chance) / (1.0 - chance))
}

fn alpha_or_reason(counts: &[Vec<f64>]) -> Result<f64, String> {
    // Validates the table and makes sure some item is pairable.
    checked(counts)?;
    let categories = counts[0].len();
    // n_c: pairable values per category; n: all pairable values; Σ_c o_cc: the diagonal of
    // the coincidence matrix, each item's matching pairs weighted by 1 / (m_u − 1).
    let mut values = vec![0.0; categories];
    let mut n = 0.0;
    let mut matching = 0.0;
    for row in counts {
        let m: f64 = row.iter().sum();
        if m < 2.0 {
            // A lone value has no partner to coincide with (Krippendorff 2011, §B).
            continue;
        }
        for (v, c) in values.iter_mut().zip(row) {
            *v += c;
        }
        matching += row.iter().map(|c| c * (c - 1.0)).sum::<f64>() / (m - 1.0);
        n += m;
    }
    // Nominal alpha = 1 − D_o / D_e, rewritten on the diagonal as Krippendorff's
    // ((n − 1) Σ o_cc − Σ n_c (n_c − 1)) / (n (n − 1) − Σ n_c (n_c − 1)).
    let by_chance: f64 = values.iter().map(|c| c * (c - 1.0)).sum();
    let expected = n * (n - 1.0) - by_chance;
    if expected <= ZERO_EPSILON * n * (n - 1.0) {
        return Err(
            "every judgement is in one category, so expected disagreement is 0 and alpha is \
             undefined"
                .to_string(),
        );
    }
    Ok(((n - 1.0) * matching - by_chance) / expected)
}

/// Mean pairwise agreement over items with at least 2 judgements (Fleiss' P̄, irrCAC's `pa`).
/// `None` when no item has 2 judgements or the table is malformed.
pub fn percent_agreement(counts: &[Vec<f64>]) -> Option<f64> {
    percent_or_reason(counts).ok()
}

/// Krippendorff's alpha for nominal data from the coincidence matrix. Items with fewer than 2
/// judgements are not pairable and are left out, as Krippendorff specifies. `None` when
/// undefined: no pairable values, or every value in one category (expected disagreement 0).
pub fn krippendorff_alpha_nominal(counts: &[Vec<f64>]) -> Option<f64> {
    alpha_or_reason(counts).ok()
}

/// Gwet's AC1 for any number of raters per item, as irrCAC's `gwet.ac1.raw`: pa over items
/// with at least 2 judgements, chance agreement `Σ_k π_k (1 − π_k) / (q − 1)` with `π_k` the
/// mean over rated items of `r_ik / r_i`. `q` is the table's number of columns, so give every
/// category on offer a column even if nobody chose it (irrCAC's `categ.labels`). `None` when
/// `q < 2`, no item has 2 judgements, or the table is malformed.
pub fn gwet_ac1(counts: &[Vec<f64>]) -> Option<f64> {
    ac1_or_reason(counts).ok()
}

/// One item's pairwise agreement: the share of pairs of its judgements in the same category.
/// `None` with fewer than 2 judgements or a count that is negative or not finite.
pub fn item_agreement(counts: &[f64]) -> Option<f64> {
    if counts.iter().any(|c| !c.is_finite() || *c < 0.0) {
        return None;
    }
    let raters: f64 = counts.iter().sum();
    if raters < 2.0 {
        return None;
    }
    Some(counts.iter().map(|n| n * (n - 1.0)).sum::<f64>() / (raters * (raters - 1.0)))
}

type Estimator = fn(&[Vec<f64>]) -> Result<f64, String>;

/// The four coefficients in the order of [`Agreement`]'s fields.
const ESTIMATORS: [Estimator; 4] = [
    kappa_or_reason,
    alpha_or_reason,
    ac1_or_reason,
    percent_or_reason,
];

/// Uniform index below `n` (> 0) by Lemire's multiply-and-reject, so no index is favoured.
fn index_below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    let n = n as u64;
    let mut wide = u128::from(rng.next_u64()) * u128::from(n);
    if (wide as u64) < n {
        let threshold = n.wrapping_neg() % n;
        while (wide as u64) < threshold {
            wide = u128::from(rng.next_u64()) * u128::from(n);
        }
    }
    (wide >> 64) as usize
}

/// Linear interpolation between order statistics (Hyndman & Fan type 7, R's default).
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

fn percentile_interval(mut draws: Vec<f64>, resamples: usize) -> Result<(f64, f64), String> {
    if resamples == 0 {
        return Err("no bootstrap resamples were drawn, so there is no interval".to_string());
    }
    if (draws.len() as f64) < MIN_DEFINED_SHARE * resamples as f64 {
        return Err(format!(
            "only {} of {resamples} bootstrap resamples of the items gave a defined value, \
             too few for an interval",
            draws.len()
        ));
    }
    draws.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    Ok((quantile(&draws, tail), quantile(&draws, 1.0 - tail)))
}

fn coefficient(value: Result<f64, String>, draws: Vec<f64>, resamples: usize) -> Coefficient {
    let (value, interval) = match value {
        Ok(v) => (Some(v), percentile_interval(draws, resamples)),
        Err(note) => (None, Err(note)),
    };
    let (interval, note) = match interval {
        Ok(ci) => (Some(ci), None),
        Err(note) => (None, Some(note)),
    };
    Coefficient {
        value,
        ci_low: interval.map(|(lo, _)| lo),
        ci_high: interval.map(|(_, hi)| hi),
        note,
    }
}

/// Fleiss' kappa, Krippendorff's alpha, Gwet's AC1 and percent agreement of a counts table,
/// each with a percentile bootstrap 95 % interval: `resamples` times the rated items are drawn
/// with replacement and every coefficient recomputed; resamples where a coefficient is
/// undefined are skipped for it, and with fewer than half defined its interval is null.
/// Deterministic given `seed`. Use [`BOOTSTRAP_RESAMPLES`] unless there is a reason not to.
pub fn agreement(counts: &[Vec<f64>], resamples: usize, seed: u64) -> Agreement {
    let points = ESTIMATORS.map(|estimate| estimate(counts));
    let mut draws: [Vec<f64>; 4] = Default::default();
    // A point value exists only for a well-formed table; without one there is nothing to
    // put an interval around.
    if points.iter().any(Result::is_ok) {
        // Items nobody judged carry no information; items with one judgement stay in, since
        // they count in the category proportions of kappa and AC1.
        let pool: Vec<&Vec<f64>> = counts
            .iter()
            .filter(|row| row.iter().sum::<f64>() > 0.0)
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut sample: Vec<Vec<f64>> = Vec::with_capacity(pool.len());
        for _ in 0..resamples {
            sample.clear();
            for _ in 0..pool.len() {
                sample.push(pool[index_below(&mut rng, pool.len())].clone());
            }
            for ((d, estimate), point) in draws.iter_mut().zip(ESTIMATORS).zip(&points) {
                if point.is_ok() {
                    if let Ok(v) = estimate(&sample) {
                        d.push(v);
                    }
                }
            }
        }
    }
    let [kappa, alpha, ac1, pa] = points;
    let [kappa_draws, alpha_draws, ac1_draws, pa_draws] = draws;
    let n_items = counts
        .iter()
        .filter(|r| r.iter().sum::<f64>() >= 2.0)
        .count();
    Agreement {
        n_items,
        fleiss_kappa: coefficient(kappa, kappa_draws, resamples),
        krippendorff_alpha: coefficient(alpha, alpha_draws, resamples),
        gwet_ac1: coefficient(ac1, ac1_draws, resamples),
        percent_agreement: coefficient(pa, pa_draws, resamples),
    }
}

/// The category with strictly more votes than any other; `None` on a tie or with no votes.
fn strict_plurality<'a, C>(tally: impl Iterator<Item = (&'a C, usize)>) -> Option<&'a C> {
    let mut votes: Vec<(&C, usize)> = tally.filter(|(_, n)| *n > 0).collect();
    votes.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    match votes.as_slice() {
        [(top, n), rest @ ..] if rest.first().is_none_or(|(_, next)| next < n) => Some(*top),
        _ => None,
    }
}

/// Per annotator, how often their judgement matches the strict plurality of the OTHER
/// annotators' judgements of the same item, from `(item, annotator, category)` judgements.
/// Judgements whose item has no other annotator, or whose other annotators tie, are not
/// counted. Annotators come sorted, including those with nothing counted (`rate: None`).
pub fn agreement_with_majority<I, A, C>(judgements: &[(I, A, C)]) -> Vec<(A, AnnotatorAgreement)>
where
    I: Eq + Hash + Clone,
    A: Eq + Hash + Clone + Ord,
    C: Eq + Hash + Clone,
{
    // An annotator's "others" are the item's tally less their own judgements of it, so an
    // annotator who judged an item twice never votes with themselves.
    let mut by_item: HashMap<&I, HashMap<&C, usize>> = HashMap::new();
    let mut own: HashMap<(&I, &A), HashMap<&C, usize>> = HashMap::new();
    for (item, annotator, category) in judgements {
        *by_item
            .entry(item)
            .or_default()
            .entry(category)
            .or_default() += 1;
        *own.entry((item, annotator))
            .or_default()
            .entry(category)
            .or_default() += 1;
    }
    let mut out: BTreeMap<A, AnnotatorAgreement> = BTreeMap::new();
    for (item, annotator, category) in judgements {
        let tally = out.entry(annotator.clone()).or_default();
        let mine = &own[&(item, annotator)];
        let others = by_item[item]
            .iter()
            .map(|(c, n)| (*c, n - mine.get(c).copied().unwrap_or(0)));
        if let Some(majority) = strict_plurality(others) {
            tally.items += 1;
            if majority == category {
                tally.agreed += 1;
            }
        }
    }
    out.into_iter()
        .map(|(annotator, mut a)| {
            a.rate = (a.items > 0).then(|| a.agreed as f64 / a.items as f64);
            (annotator, a)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Krippendorff (2011), "Computing Krippendorff's alpha-reliability", §B: 4 coders,
    /// 12 units, values 1–5 (columns) with missing data; unit 12 has a single value, so alpha
    /// leaves it out. The paper gives nominal α = 0.743. The same data ship with irrCAC as
    /// `cac.raw4raters`; its README reports pa = 0.8181818, AC1 = 0.77544 (pe = 0.1903212),
    /// Fleiss' kappa = 0.76117 and Krippendorff's alpha = 0.74342.
    #[rustfmt::skip]
    const KRIPPENDORFF: [[f64; 5]; 12] = [
        [3., 0., 0., 0., 0.], [0., 3., 1., 0., 0.], [0., 0., 4., 0., 0.], [0., 0., 4., 0., 0.],
        [0., 4., 0., 0., 0.], [1., 1., 1., 1., 0.], [0., 0., 0., 4., 0.], [3., 1., 0., 0., 0.],
        [0., 4., 0., 0., 0.], [0., 0., 0., 0., 3.], [2., 0., 0., 0., 0.], [0., 0., 1., 0., 0.],
    ];

    /// irrCAC's `distrib.6raters` (the first 15 patients of Fleiss 1971); its README reports
    /// AC1 = 0.4448007, pa = 0.5511111, kappa = 0.4139265 and alpha = 0.4204384.
    #[rustfmt::skip]
    const SIX_RATERS: [[f64; 5]; 15] = [
        [0., 0., 0., 6., 0.], [0., 3., 0., 0., 3.], [0., 1., 4., 0., 1.], [0., 0., 0., 0., 6.],
        [0., 3., 0., 3., 0.], [2., 0., 4., 0., 0.], [0., 0., 4., 0., 2.], [2., 0., 3., 1., 0.],
        [2., 0., 0., 4., 0.], [0., 0., 0., 0., 6.], [1., 0., 0., 5., 0.], [1., 1., 0., 4., 0.],
        [0., 3., 3., 0., 0.], [1., 0., 0., 5., 0.], [0., 2., 0., 3., 1.],
    ];

    fn table<const K: usize>(rows: &[[f64; K]]) -> Vec<Vec<f64>> {
        rows.iter().map(|r| r.to_vec()).collect()
    }

    fn close(a: Option<f64>, b: f64, tolerance: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < tolerance)
    }

    fn all(a: &Agreement) -> [&Coefficient; 4] {
        let kinds = [&a.fleiss_kappa, &a.krippendorff_alpha, &a.gwet_ac1];
        [kinds[0], kinds[1], kinds[2], &a.percent_agreement]
    }

    #[test]
    fn krippendorff_2011_example_matches_the_paper_and_irrcac() {
        let t = table(&KRIPPENDORFF);
        // By hand: n_c = 9, 13, 10, 5, 3 (n = 40), Σ o_cc = 32, Σ n_c (n_c − 1) = 344,
        // α = (39 · 32 − 344) / (40 · 39 − 344) = 904 / 1216 = 0.7434.
        assert!(close(krippendorff_alpha_nominal(&t), 904.0 / 1216.0, 1e-12));
        assert!(close(percent_agreement(&t), 9.0 / 11.0, 1e-12));
        assert!(close(gwet_ac1(&t), 0.77544, 5e-6));
        let a = agreement(&t, 0, 1);
        assert_eq!(a.n_items, 11);
        assert!(close(a.fleiss_kappa.value, 0.76117, 5e-6));
    }

    #[test]
    fn six_raters_match_irrcac() {
        let t = table(&SIX_RATERS);
        assert!(close(gwet_ac1(&t), 0.4448007, 5e-8));
        assert!(close(percent_agreement(&t), 0.5511111, 5e-8));
        assert!(close(krippendorff_alpha_nominal(&t), 0.4204384, 5e-8));
        let kappa = agreement(&t, 0, 1).fleiss_kappa.value;
        assert!(close(kappa, 0.4139265, 5e-8));
    }

    #[test]
    fn perfect_agreement_is_one_everywhere() {
        let a = agreement(&table(&[[3., 0., 0.], [0., 3., 0.], [0., 0., 3.]]), 200, 7);
        let one = |x| close(x, 1.0, 1e-12);
        for c in all(&a) {
            assert!(one(c.value) && one(c.ci_low) && one(c.ci_high), "{c:?}");
        }
    }

    #[test]
    fn one_category_leaves_kappa_and_alpha_undefined_but_not_ac1() {
        // A / B / tie on offer, every judgement A. π = (1, 0, 0): kappa's chance agreement and
        // alpha's expected agreement are 1, AC1's chance agreement Σ π (1 − π) / 2 is 0.
        let a = agreement(&table(&[[3., 0., 0.], [2., 0., 0.], [1., 0., 0.]]), 100, 3);
        assert_eq!(a.n_items, 2);
        assert_eq!(a.fleiss_kappa.value, None);
        let note = "every judgement is in one category, so chance agreement is 1 and kappa is \
                    undefined";
        assert_eq!(a.fleiss_kappa.note.as_deref(), Some(note));
        assert_eq!(a.krippendorff_alpha.value, None);
        let alpha_note = a.krippendorff_alpha.note.unwrap_or_default();
        assert!(alpha_note.contains("alpha is undefined"), "{alpha_note}");
        assert_eq!(a.percent_agreement.value, Some(1.0));
        assert_eq!((a.gwet_ac1.value, a.gwet_ac1.note), (Some(1.0), None));
        // With a single column there is no chance agreement to speak of.
        assert_eq!(gwet_ac1(&[vec![3.0], vec![2.0]]), None);
    }

    #[test]
    fn three_items_three_raters_by_hand() {
        // Columns A, B, tie. Items: (A, A, A), (A, A, B), (B, tie, tie).
        // pa = (6/6 + 2/6 + 2/6) / 3 = 5/9.
        // π = ((1 + 2/3 + 0) / 3, (0 + 1/3 + 1/3) / 3, (0 + 0 + 2/3) / 3) = (5/9, 2/9, 2/9).
        // Fleiss: pe = 25/81 + 4/81 + 4/81 = 11/27, κ = (15/27 − 11/27) / (16/27) = 1/4.
        // AC1: pe = (5/9 · 4/9 + 2 · 2/9 · 7/9) / (3 − 1) = (48/81) / 2 = 8/27,
        //      AC1 = (15/27 − 8/27) / (19/27) = 7/19.
        // Alpha: n_c = (5, 2, 2), n = 9; Σ o_cc = 6/2 + 2/2 + 2/2 = 5;
        //      Σ n_c (n_c − 1) = 20 + 2 + 2 = 24; α = (8 · 5 − 24) / (9 · 8 − 24) = 16/48 = 1/3.
        let t = table(&[[3., 0., 0.], [2., 1., 0.], [0., 1., 2.]]);
        let per_item: Vec<Option<f64>> = t.iter().map(|row| item_agreement(row)).collect();
        assert_eq!(per_item, [Some(1.0), Some(1.0 / 3.0), Some(1.0 / 3.0)]);
        assert!(close(percent_agreement(&t), 5.0 / 9.0, 1e-12));
        assert!(close(gwet_ac1(&t), 7.0 / 19.0, 1e-12));
        assert!(close(krippendorff_alpha_nominal(&t), 1.0 / 3.0, 1e-12));
        assert!(close(agreement(&t, 0, 0).fleiss_kappa.value, 0.25, 1e-12));
    }

    #[test]
    fn unequal_raters_follow_irrcac_and_krippendorff() {
        // Item 1: 2 A, 1 B; item 2: 2 B; item 3: 1 A (no partner).
        // pa = (2/6 + 2/2) / 2 = 2/3; π = (5/9, 4/9); AC1 pe = 2 · 5/9 · 4/9 / 1 = 40/81,
        // AC1 = (54/81 − 40/81) / (41/81) = 14/41.
        // Alpha without item 3: n_c = (2, 3), Σ o_cc = 2/2 + 2/1 = 3, Σ n_c (n_c − 1) = 8,
        // α = (4 · 3 − 8) / (5 · 4 − 8) = 1/3.
        let t = vec![vec![2.0, 1.0], vec![0.0, 2.0], vec![1.0, 0.0]];
        assert!(close(gwet_ac1(&t), 14.0 / 41.0, 1e-12));
        assert!(close(krippendorff_alpha_nominal(&t), 1.0 / 3.0, 1e-12));
        assert!(close(percent_agreement(&t), 2.0 / 3.0, 1e-12));
    }

    #[test]
    fn without_pairs_every_coefficient_says_why() {
        let t = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.0, 0.0]];
        assert_eq!(percent_agreement(&t), None);
        assert_eq!(krippendorff_alpha_nominal(&t), None);
        assert_eq!(gwet_ac1(&t), None);
        let a = agreement(&t, 50, 1);
        assert_eq!(a.n_items, 0);
        for c in all(&a) {
            assert_eq!((c.value, c.note.as_deref()), (None, Some(NO_PAIRS)));
        }
        let a = agreement(&[], BOOTSTRAP_RESAMPLES, 1);
        assert_eq!(a.percent_agreement.note.as_deref(), Some(NO_PAIRS));
        let ragged = agreement(&[vec![1.0, 1.0], vec![1.0]], 10, 1);
        let note = "subject 2 has 1 category counts, expected 2 like subject 1";
        assert_eq!(ragged.gwet_ac1.note.as_deref(), Some(note));
    }

    #[test]
    fn item_agreement_needs_two_judgements_and_sound_counts() {
        assert_eq!(item_agreement(&[1.0, 1.0]), Some(0.0));
        assert_eq!(item_agreement(&[1.0, 0.0]), None);
        assert_eq!(item_agreement(&[3.0, -1.0]), None);
    }

    #[test]
    fn bootstrap_is_deterministic_and_brackets_the_estimate() {
        let t = table(&SIX_RATERS);
        let a = agreement(&t, BOOTSTRAP_RESAMPLES, 42);
        assert_eq!(a, agreement(&t, BOOTSTRAP_RESAMPLES, 42));
        assert_ne!(a, agreement(&t, BOOTSTRAP_RESAMPLES, 43));
        assert_eq!(a.n_items, 15);
        for c in all(&a) {
            let (v, lo, hi) = (c.value.unwrap(), c.ci_low.unwrap(), c.ci_high.unwrap());
            assert!(lo < v && v < hi && c.note.is_none(), "{c:?}");
        }
    }

    #[test]
    fn intervals_need_enough_defined_resamples() {
        let a = agreement(&table(&KRIPPENDORFF), 0, 1);
        assert!(a.gwet_ac1.value.is_some());
        assert_eq!((a.gwet_ac1.ci_low, a.gwet_ac1.ci_high), (None, None));
        assert!(a.gwet_ac1.note.unwrap().contains("no bootstrap resamples"));
        let note = "only 4 of 10 bootstrap resamples of the items gave a defined value, too few \
                    for an interval";
        assert_eq!(percentile_interval(vec![0.5; 4], 10), Err(note.to_string()));
        assert_eq!(percentile_interval(vec![0.5; 5], 10), Ok((0.5, 0.5)));
        // Percentiles interpolate like R: quantile(1:5, c(0.025, 0.975)) → 1.1, 4.9.
        let (lo, hi) = percentile_interval(vec![5.0, 3.0, 1.0, 2.0, 4.0], 5).unwrap();
        assert!(
            (lo - 1.1).abs() < 1e-12 && (hi - 4.9).abs() < 1e-12,
            "{lo} {hi}"
        );
    }

    #[test]
    fn bootstrap_indices_cover_the_range_evenly() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut seen = [0usize; 7];
        for _ in 0..7000 {
            seen[index_below(&mut rng, 7)] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
    }

    #[test]
    fn coefficient_serialises_without_an_empty_note() {
        let c = coefficient(Ok(0.5), vec![], 0);
        assert!(c.note.is_some());
        let c = Coefficient { note: None, ..c };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, r#"{"value":0.5,"ci_low":null,"ci_high":null}"#);
        assert_eq!(serde_json::from_str::<Coefficient>(&json).unwrap(), c);
    }

    #[test]
    fn annotators_are_compared_with_the_plurality_of_the_others() {
        // Item 1: x A, y A, z A → everyone's others say A: all agree.
        // Item 2: x A, y A, z B → x's and y's others tie (A, B): not counted; z disagrees.
        // Item 3: x B, y tie → each one's single other disagrees.
        // Item 4: z A, w A → both agree. Items 5 and 6: w and v alone → not counted.
        // Item 7: u A twice, nobody else → u never votes with themselves: not counted.
        #[rustfmt::skip]
        let judgements = [
            (1, "x", "A"), (1, "y", "A"), (1, "z", "A"),
            (2, "x", "A"), (2, "y", "A"), (2, "z", "B"),
            (3, "x", "B"), (3, "y", "tie"),
            (4, "z", "A"), (4, "w", "A"),
            (5, "w", "tie"), (6, "v", "A"), (7, "u", "A"), (7, "u", "A"),
        ];
        let summary: Vec<(&str, usize, usize, Option<f64>)> = agreement_with_majority(&judgements)
            .into_iter()
            .map(|(a, s)| (a, s.items, s.agreed, s.rate))
            .collect();
        #[rustfmt::skip]
        let expected = vec![
            ("u", 0, 0, None), ("v", 0, 0, None), ("w", 1, 1, Some(1.0)),
            ("x", 2, 1, Some(0.5)), ("y", 2, 1, Some(0.5)), ("z", 3, 2, Some(2.0 / 3.0)),
        ];
        assert_eq!(summary, expected);
    }
}
