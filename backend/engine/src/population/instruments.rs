//! The questionnaires a simulated population answers, each item in `expect` mode (probabilities
//! over the options). An instrument is a list of items, each scoring one key (a value, a trait,
//! a cause), with every option's position on 0..1 (reverse-keyed items carry reversed
//! positions), and the scale its key scores are reported on:
//!
//! - `pvq40`: the 40 PVQ items (VIM's Table 18 prompt), keys the ten values, scores on 1..6;
//! - `bigfive`: the IPIP-50 Big-Five markers, keys the five traits, scores on 1..5;
//! - `valuenet`: the ValueNet everyday-behaviour scenarios (Table 20), keys the ten values,
//!   scores the agreement ratio on 0..1;
//! - `prosocial`: valuelab's charity-allocation game (`prosocial`, `docs/prosocial.md`), keys
//!   the causes, scores the share of the endowment given, 0..1.

use super::prosocial;
use crate::data::instruments::IpipItem;
use crate::data::DataDir;
use crate::eval::pvq::numbered_options;
use crate::eval::task::TaskItem;
use crate::eval::{pvq, valuenet};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use valuelab_common::scale::AnswerScale;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstrumentKind {
    Pvq40,
    BigFive,
    ValueNet,
    Prosocial,
}

pub const ALL_INSTRUMENTS: [InstrumentKind; 4] = [
    InstrumentKind::Pvq40,
    InstrumentKind::BigFive,
    InstrumentKind::ValueNet,
    InstrumentKind::Prosocial,
];

impl InstrumentKind {
    pub fn name(self) -> &'static str {
        match self {
            InstrumentKind::Pvq40 => "pvq40",
            InstrumentKind::BigFive => "bigfive",
            InstrumentKind::ValueNet => "valuenet",
            InstrumentKind::Prosocial => "prosocial",
        }
    }

    /// Parses the comma-separated `--instruments` list; PVQ-40 must be in it (the value scores
    /// every other measure is related to come from it).
    pub fn parse_list(text: &str) -> Result<Vec<InstrumentKind>> {
        let mut list = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let kind: InstrumentKind = part.parse()?;
            if !list.contains(&kind) {
                list.push(kind);
            }
        }
        if !list.contains(&InstrumentKind::Pvq40) {
            return Err(Error::invalid(format!(
                "--instruments '{text}' lacks pvq40: the personas' value scores come from it"
            )));
        }
        Ok(list)
    }
}

impl fmt::Display for InstrumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for InstrumentKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ALL_INSTRUMENTS
            .iter()
            .copied()
            .find(|k| k.name() == s.trim())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "unknown instrument '{s}' (expected pvq40, bigfive, valuenet or prosocial)"
                ))
            })
    }
}

#[derive(Debug, Clone)]
pub struct Instrument {
    pub kind: InstrumentKind,
    /// What the items score, in report order.
    pub keys: Vec<String>,
    pub items: Vec<TaskItem>,
    /// A key's score is `low + (high − low) ×` the mean position of its items' answers.
    pub low: f64,
    pub high: f64,
}

impl Instrument {
    /// Builds `kind` from the research data, keeping at most `limit` items (spread over keys).
    pub fn load(kind: InstrumentKind, data: &DataDir, limit: Option<usize>) -> Result<Self> {
        let mut instrument = match kind {
            InstrumentKind::Pvq40 => {
                let task = pvq::task(&crate::data::pvq::read_pvq40(&data.pvq40_items_tsv())?)?;
                Self::from_task(kind, task, 1.0, 6.0)
            }
            InstrumentKind::ValueNet => {
                let scenarios = crate::data::valuenet::read_valuenet(&data.valuenet_dir())?;
                Self::from_task(kind, valuenet::task(&scenarios)?, 0.0, 1.0)
            }
            InstrumentKind::BigFive => big_five(&crate::data::instruments::read_ipip50(
                &data.ipip50_items_tsv(),
            )?),
            InstrumentKind::Prosocial => prosocial::instrument(),
        };
        if let Some(n) = limit {
            instrument.limit_items(n);
        }
        Ok(instrument)
    }

    fn from_task(kind: InstrumentKind, task: crate::eval::Task, low: f64, high: f64) -> Self {
        Self {
            kind,
            keys: task.keys,
            items: task.items,
            low,
            high,
        }
    }

    /// Keeps `n` items, round-robin over keys and over keyings (as `Task::limit_items`).
    pub fn limit_items(&mut self, n: usize) {
        let mut task = crate::eval::Task {
            kind: crate::eval::TaskKind::ValueNet,
            keys: self.keys.clone(),
            categories: self.keys.clone(),
            items: std::mem::take(&mut self.items),
            pvq_key: None,
            gold: None,
            few_shot: None,
        };
        task.limit_items(n);
        self.items = task.items;
    }

    /// Each key's score from answers on 0..1 parallel to `items` (`None` for a key with no
    /// answered item).
    pub fn key_scores(&self, answers: &[Option<f64>]) -> Vec<Option<f64>> {
        let mut sums = vec![0.0; self.keys.len()];
        let mut counts = vec![0usize; self.keys.len()];
        for (item, answer) in self.items.iter().zip(answers) {
            if let Some(a) = answer {
                sums[item.key] += a;
                counts[item.key] += 1;
            }
        }
        sums.iter()
            .zip(&counts)
            .map(|(s, &n)| (n > 0).then(|| self.low + (self.high - self.low) * s / n as f64))
            .collect()
    }

    /// The mean over all answered items on the instrument's scale (PVQ: the quantity of
    /// within-person centring).
    pub fn item_mean(&self, answers: &[Option<f64>]) -> Option<f64> {
        let got: Vec<f64> = answers.iter().flatten().copied().collect();
        (!got.is_empty())
            .then(|| self.low + (self.high - self.low) * got.iter().sum::<f64>() / got.len() as f64)
    }
}

/// IPIP's five response anchors, in order.
pub const IPIP_OPTIONS: [&str; 5] = [
    "Very inaccurate",
    "Moderately inaccurate",
    "Neither accurate nor inaccurate",
    "Moderately accurate",
    "Very accurate",
];

/// The IPIP instructions with the statement, options numbered like the PVQ prompt's.
pub fn ipip_prompt(text: &str) -> String {
    format!(
        "Indicate how accurately the following statement describes you: {}. Statement: {}. Answer:",
        numbered_options(&IPIP_OPTIONS),
        text.trim().trim_end_matches('.')
    )
}

fn big_five(items: &[IpipItem]) -> Instrument {
    let mut keys: Vec<String> = Vec::new();
    for item in items {
        if !keys.contains(&item.trait_name) {
            keys.push(item.trait_name.clone());
        }
    }
    let scale = AnswerScale::Options(IPIP_OPTIONS.iter().map(|s| s.to_string()).collect());
    let items = items
        .iter()
        .map(|item| {
            let mut positions: Vec<f64> = (0..5).map(|k| k as f64 / 4.0).collect();
            if item.reversed {
                positions.reverse();
            }
            TaskItem {
                id: item.number.to_string(),
                key: keys
                    .iter()
                    .position(|k| *k == item.trait_name)
                    .expect("listed"),
                prompt: ipip_prompt(&item.text),
                options: (1..=5).map(|k| k.to_string()).collect(),
                option_values: positions,
                parser: Some(scale.clone()),
                subject: item.text.clone(),
            }
        })
        .collect();
    Instrument {
        kind: InstrumentKind::BigFive,
        keys,
        items,
        low: 1.0,
        high: 5.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testdata::shared_data;

    #[test]
    fn every_instrument_loads_from_the_real_data_with_its_keys() {
        let data = shared_data();
        let pvq = Instrument::load(InstrumentKind::Pvq40, &data, None).unwrap();
        assert_eq!((pvq.items.len(), pvq.keys.len()), (40, 10));
        let big = Instrument::load(InstrumentKind::BigFive, &data, None).unwrap();
        assert_eq!((big.items.len(), big.keys.len()), (50, 5));
        // Item 2 ("I feel little concern for others") is reversed: option 1 scores highest.
        assert_eq!(big.items[1].option_values[0], 1.0);
        assert!(big.items[1]
            .prompt
            .contains("Statement: I feel little concern for others. Answer:"));
        let vn = Instrument::load(InstrumentKind::ValueNet, &data, Some(40)).unwrap();
        assert_eq!(vn.items.len(), 40);
        let pro = Instrument::load(InstrumentKind::Prosocial, &data, None).unwrap();
        assert!(pro.items.len() >= 6);
    }

    #[test]
    fn key_scores_average_positions_on_the_instruments_scale() {
        let data = shared_data();
        let big = Instrument::load(InstrumentKind::BigFive, &data, None).unwrap();
        // Every answer at position 0.5 → 3 on 1..5 for every trait; one trait's items
        // unanswered → None.
        let mut answers = vec![Some(0.5); big.items.len()];
        for (a, item) in answers.iter_mut().zip(&big.items) {
            if item.key == 0 {
                *a = None;
            }
        }
        let scores = big.key_scores(&answers);
        assert_eq!(scores[0], None);
        assert!(scores[1..].iter().all(|s| *s == Some(3.0)));
        assert_eq!(big.item_mean(&answers), Some(3.0));
    }

    #[test]
    fn the_instrument_list_needs_pvq40_and_names_unknown_ones() {
        let list = InstrumentKind::parse_list("pvq40,bigfive,pvq40").unwrap();
        assert_eq!(list, vec![InstrumentKind::Pvq40, InstrumentKind::BigFive]);
        assert!(InstrumentKind::parse_list("bigfive")
            .unwrap_err()
            .to_string()
            .contains("lacks pvq40"));
        assert!(InstrumentKind::parse_list("pvq40,mmpi")
            .unwrap_err()
            .to_string()
            .contains("'mmpi'"));
    }
}
