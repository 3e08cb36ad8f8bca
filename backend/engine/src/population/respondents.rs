//! From option probabilities to respondents. Personas that say the same text to the model get
//! the same probabilities (the model is deterministic in `expect` mode), so each distinct text —
//! a "speaker" — is asked once; every persona then draws its own answer to each item from its
//! speaker's probabilities, with a generator seeded by (seed, persona, instrument, item), so the
//! draws do not depend on the order work was done in or on a resume. Those drawn answers are the
//! respondent-level data (the value-prompting paper samples answers too); the expected answers
//! stay in `expected.csv`, one row per speaker.

use super::instruments::Instrument;
use super::strategy::PersonaTarget;
use crate::output::{stable_hash, write_atomically};
use crate::structure::sample::ITEM_MEAN_COLUMN;
use crate::Result;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::path::Path;
use valuelab_common::ALL_VALUES;

/// Option probabilities of every (speaker, instrument, item) asked so far.
pub type Answers = HashMap<(usize, String, String), Vec<f64>>;

/// One persona's scores on every instrument (`None`: unanswered key).
#[derive(Debug, Clone, PartialEq)]
pub struct Respondent {
    pub persona: usize,
    pub target: PersonaTarget,
    pub speaker: usize,
    /// Per instrument (in the simulation's order), the key scores.
    pub scores: Vec<Vec<Option<f64>>>,
    /// Mean over the PVQ-40 items on 1..6.
    pub pvq_item_mean: Option<f64>,
}

/// Draws an option index from `probs` with `rng` (inverse CDF; the last option takes any
/// rounding left over).
pub fn draw(probs: &[f64], rng: &mut impl Rng) -> usize {
    let total: f64 = probs.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, p) in probs.iter().enumerate() {
        if u < *p {
            return i;
        }
        u -= p;
    }
    probs.len().saturating_sub(1)
}

/// Each persona's drawn answers, scored per instrument. `instruments[0]` must be PVQ-40.
pub fn respondents(
    targets: &[PersonaTarget],
    speaker_of: &[usize],
    instruments: &[Instrument],
    answers: &Answers,
    seed: u64,
) -> Vec<Respondent> {
    targets
        .iter()
        .zip(speaker_of)
        .enumerate()
        .map(|(persona, (target, &speaker))| {
            let mut item_answers: Vec<Vec<Option<f64>>> = Vec::new();
            for instrument in instruments {
                let drawn = instrument
                    .items
                    .iter()
                    .map(|item| {
                        let probs = answers.get(&(
                            speaker,
                            instrument.kind.to_string(),
                            item.id.clone(),
                        ))?;
                        let mut rng = ChaCha8Rng::seed_from_u64(stable_hash(&format!(
                            "{seed}:{persona}:{}:{}",
                            instrument.kind, item.id
                        )));
                        Some(item.option_values[draw(probs, &mut rng)])
                    })
                    .collect();
                item_answers.push(drawn);
            }
            Respondent {
                persona,
                target: target.clone(),
                speaker,
                scores: instruments
                    .iter()
                    .zip(&item_answers)
                    .map(|(i, a)| i.key_scores(a))
                    .collect(),
                pvq_item_mean: instruments[0].item_mean(&item_answers[0]),
            }
        })
        .collect()
}

/// A speaker's expected key scores per instrument (from expected, not drawn, answers).
pub fn expected_scores(
    speaker: usize,
    instruments: &[Instrument],
    answers: &Answers,
) -> Vec<Vec<Option<f64>>> {
    instruments
        .iter()
        .map(|instrument| {
            let expected: Vec<Option<f64>> = instrument
                .items
                .iter()
                .map(|item| {
                    answers
                        .get(&(speaker, instrument.kind.to_string(), item.id.clone()))
                        .map(|p| item.expected_answer(p))
                })
                .collect();
            instrument.key_scores(&expected)
        })
        .collect()
}

/// Column names of an instrument's scores: PVQ-40's are the bare value names (what
/// `valuelab structure` reads), the others `<instrument>.<key>`.
pub fn score_columns(instrument: &Instrument) -> Vec<String> {
    match instrument.kind {
        super::InstrumentKind::Pvq40 => instrument.keys.clone(),
        kind => instrument
            .keys
            .iter()
            .map(|k| format!("{kind}.{k}"))
            .collect(),
    }
}

fn cell(x: Option<f64>) -> String {
    x.map_or(String::new(), |x| format!("{x:.4}"))
}

/// `respondents.csv`: persona, its target, the target profile where it has one, then every
/// instrument's scores and the PVQ item mean.
pub fn write_respondents(
    path: &Path,
    instruments: &[Instrument],
    rows: &[Respondent],
) -> Result<()> {
    let mut lines = Vec::with_capacity(rows.len() + 1);
    let mut header: Vec<String> = vec!["persona".into(), "target".into(), "dominant".into()];
    header.extend(ALL_VALUES.iter().map(|v| format!("target.{}", v.name())));
    for instrument in instruments {
        header.extend(score_columns(instrument));
    }
    header.push(ITEM_MEAN_COLUMN.into());
    lines.push(header);
    for r in rows {
        let mut line = vec![r.persona.to_string(), r.target.label()];
        match &r.target {
            PersonaTarget::Dominant { value } => {
                line.push(value.name().into());
                line.extend(std::iter::repeat_n(String::new(), ALL_VALUES.len()));
            }
            PersonaTarget::Profile { scores, .. } => {
                line.push(String::new());
                line.extend(scores.iter().map(|s| format!("{s:.4}")));
            }
            PersonaTarget::Naive => {
                line.push(String::new());
                line.extend(std::iter::repeat_n(String::new(), ALL_VALUES.len()));
            }
        }
        for scores in &r.scores {
            line.extend(scores.iter().map(|s| cell(*s)));
        }
        line.push(cell(r.pvq_item_mean));
        lines.push(line);
    }
    write_csv(path, &lines)
}

/// `expected.csv`: one row per speaker (a distinct persona text), its expected scores.
pub fn write_expected(
    path: &Path,
    instruments: &[Instrument],
    speakers: &[String],
    answers: &Answers,
) -> Result<()> {
    let mut header: Vec<String> = vec!["speaker".into()];
    for instrument in instruments {
        header.extend(score_columns(instrument));
    }
    let mut lines = vec![header];
    for (k, label) in speakers.iter().enumerate() {
        let mut line = vec![label.clone()];
        for scores in expected_scores(k, instruments, answers) {
            line.extend(scores.iter().map(|s| cell(*s)));
        }
        lines.push(line);
    }
    write_csv(path, &lines)
}

/// Writes CSV records (the csv crate quotes what needs quoting) atomically.
fn write_csv(path: &Path, lines: &[Vec<String>]) -> Result<()> {
    write_atomically(path, |w| {
        let mut writer = csv::Writer::from_writer(w);
        for line in lines {
            writer
                .write_record(line)
                .map_err(|e| crate::Error::file(path, None, format!("cannot write: {e}")))?;
        }
        writer.flush()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::prosocial;

    #[test]
    fn draws_follow_the_probabilities() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut counts = [0usize; 3];
        for _ in 0..10_000 {
            counts[draw(&[0.2, 0.0, 0.8], &mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!(
            (counts[0] as f64 / 10_000.0 - 0.2).abs() < 0.02,
            "{counts:?}"
        );
        assert_eq!(draw(&[1.0], &mut rng), 0);
    }

    #[test]
    fn personas_of_one_speaker_draw_their_own_answers_reproducibly() {
        // Two personas share speaker 0; each prosocial item is 50:50 between nothing and all.
        let game = prosocial::instrument();
        let mut answers = Answers::new();
        for item in &game.items {
            answers.insert(
                (0, "prosocial".into(), item.id.clone()),
                vec![0.5, 0.0, 0.0, 0.0, 0.0, 0.5],
            );
        }
        let targets = vec![PersonaTarget::Naive, PersonaTarget::Naive];
        let instruments = vec![game];
        let a = respondents(&targets, &[0, 0], &instruments, &answers, 7);
        assert_eq!(a, respondents(&targets, &[0, 0], &instruments, &answers, 7));
        assert_ne!(a[0].scores, a[1].scores, "same speaker, independent draws");
        for s in a[0].scores[0].iter() {
            assert!(matches!(s, Some(x) if *x == 0.0 || *x == 1.0));
        }
        // The expected answer is the mean: 0.5 for every cause.
        let expected = expected_scores(0, &instruments, &answers);
        assert!(expected[0].iter().all(|s| *s == Some(0.5)));
    }
}
