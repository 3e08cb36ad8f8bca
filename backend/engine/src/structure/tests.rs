use super::checks::CIRCLE;
use super::*;
use crate::data::ess::read_pvq21_key;
use crate::data::testdata::shared_data;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Respondents drawn from the circumplex itself: a personal level (scale use), a direction on
/// the circle, and noise. Their value structure is the theory's.
pub(super) fn circumplex_sample(n: usize, seed: u64) -> Sample {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut scores = Vec::new();
    let mut item_means = Vec::new();
    for _ in 0..n {
        let level: f64 = rng.random_range(2.0..5.0);
        let direction: f64 = rng.random_range(0.0..std::f64::consts::TAU);
        let mut row = [0.0; 10];
        for (k, v) in CIRCLE.iter().enumerate() {
            let angle = k as f64 * std::f64::consts::TAU / 10.0;
            row[v.index()] = level + (angle - direction).cos() + rng.random_range(-0.2..0.2);
        }
        item_means.push(row.iter().sum::<f64>() / 10.0);
        scores.push(row);
    }
    Sample {
        label: format!("circumplex {seed}"),
        scores,
        item_means,
        ids: Vec::new(),
        skipped: 0,
    }
}

#[test]
fn a_circumplex_population_passes_the_theory_once_centred_and_matches_itself() {
    let sample = circumplex_sample(400, 1);
    let other = circumplex_sample(400, 2);
    let centred = StructureOptions {
        centred: true,
        ..Default::default()
    };
    let report = analyse(&sample, &other, &centred).unwrap();
    assert_eq!(report.n, 400);
    assert!(report.checks.iter().all(|c| c.pass), "{:#?}", report.checks);
    assert!(report.matrix_r.unwrap() > 0.95, "{:?}", report.matrix_r);
    let fit = report.procrustes.as_ref().unwrap();
    assert!(fit.correlation > 0.95, "{fit:?}");
    // Raw, the shared level makes every value correlate positively: the bipolar checks fail.
    let raw = analyse(&sample, &other, &StructureOptions::default()).unwrap();
    assert!(!raw.checks[0].pass, "{:?}", raw.checks[0]);
    assert_eq!(raw.matrix_r, raw.matrix_r_raw);
    assert_eq!(report.matrix_r, raw.matrix_r_centred);
    // Against itself, everything agrees exactly.
    let own = analyse(&sample, &sample, &centred).unwrap();
    assert!((own.matrix_r.unwrap() - 1.0).abs() < 1e-12);
    assert!(own.procrustes.unwrap().m2 < 1e-9);
}

#[test]
fn a_population_without_structure_scores_near_zero_against_people() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let noise = Sample {
        label: "noise".into(),
        scores: (0..400)
            .map(|_| std::array::from_fn(|_| rng.random_range(1.0..6.0)))
            .collect(),
        item_means: vec![3.5; 400],
        ids: Vec::new(),
        skipped: 0,
    };
    let report = analyse(
        &noise,
        &circumplex_sample(400, 4),
        &StructureOptions {
            centred: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        report.matrix_r.unwrap().abs() < 0.5,
        "{:?}",
        report.matrix_r
    );
}

#[test]
fn a_value_without_variance_leaves_r_and_procrustes_undefined_and_named() {
    let mut sample = circumplex_sample(50, 5);
    for row in sample.scores.iter_mut() {
        row[0] = 4.0;
    }
    let report = analyse(&sample, &circumplex_sample(50, 6), &Default::default()).unwrap();
    assert_eq!(report.matrix_r, None);
    assert!(report.procrustes.is_none());
    assert_eq!(report.constant_values, vec!["Achievement".to_string()]);
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["matrix_r"].is_null());
    for key in ["n", "procrustes", "checks", "dominant_share"] {
        assert!(json.get(key).is_some(), "{key}");
    }
}

#[test]
fn two_halves_of_the_real_ess_sample_agree_as_the_literature_says() {
    let data = shared_data();
    let key = read_pvq21_key(&data.ess_pvq21_key_tsv()).unwrap();
    let people = read_ess_sample(&data.ess_responses_csv(), &key).unwrap();
    assert!(people.len() > 20_000, "{}", people.len());
    let report = analyse(
        &people,
        &people,
        &StructureOptions {
            centred: true,
            ..Default::default()
        },
    )
    .unwrap();
    // The scale: two halves of one country agree at about 0.97 (centred 0.98).
    let ceiling = &report.reference;
    assert!(ceiling.split_half_r_raw.unwrap() > 0.95, "{ceiling:?}");
    assert!(ceiling.split_half_r_centred.unwrap() > 0.95, "{ceiling:?}");
    // Real people pass the bipolar checks once centred.
    assert!(
        report.checks[0].pass && report.checks[1].pass,
        "{:#?}",
        report.checks
    );
    let shares: Vec<f64> = report.dominant_by_gap.iter().map(|d| d.share).collect();
    assert!(shares.windows(2).all(|w| w[1] <= w[0]), "{shares:?}");
}
