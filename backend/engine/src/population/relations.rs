//! How the population's values relate to what it does, and how its answers are spread:
//! - value–behaviour relations: the Pearson r between each PVQ value score and each key of the
//!   other instruments across personas (a table, a heat map), and the r between that table and
//!   a human table in the same layout (`value,<column>,...`), over the cells both have;
//! - representativeness: for each value, the 1-Wasserstein distance between the personas' and
//!   the people's score distributions on the 1..6 scale (OpinionQA's measure of how well a
//!   model's answers stand for a population).

use super::instruments::Instrument;
use super::respondents::{score_columns, Respondent};
use crate::structure::outputs::correlation_csv;
use crate::structure::Sample;
use crate::{Error, Result};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use valuelab_common::metrics::pearson;
use valuelab_common::stats::wasserstein_1d;
use valuelab_common::ALL_VALUES;

/// Rows: the ten values; columns: every non-PVQ key (`bigfive.Extraversion`, ...).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelationTable {
    pub columns: Vec<String>,
    /// `cells[value][column]`; NaN where undefined (no variance).
    pub cells: Vec<Vec<f64>>,
}

/// The table over respondents whose scores are complete for the pair.
pub fn value_behaviour(instruments: &[Instrument], rows: &[Respondent]) -> RelationTable {
    let mut columns = Vec::new();
    let mut behaviour: Vec<Vec<Option<f64>>> = Vec::new();
    for (k, instrument) in instruments.iter().enumerate().skip(1) {
        for (j, name) in score_columns(instrument).into_iter().enumerate() {
            columns.push(name);
            behaviour.push(rows.iter().map(|r| r.scores[k][j]).collect());
        }
    }
    let cells = ALL_VALUES
        .iter()
        .map(|v| {
            behaviour
                .iter()
                .map(|b| {
                    let (x, y): (Vec<f64>, Vec<f64>) = rows
                        .iter()
                        .zip(b)
                        .filter_map(|(r, b)| Some((r.scores[0][v.index()]?, (*b)?)))
                        .unzip();
                    pearson(&x, &y).unwrap_or(f64::NAN)
                })
                .collect()
        })
        .collect();
    RelationTable { columns, cells }
}

impl RelationTable {
    pub fn to_csv(&self) -> String {
        correlation_csv(&self.columns, &self.cells)
    }

    /// Pearson r between this table and `human` over the (value, column) cells both define,
    /// with the number of cells used.
    pub fn agreement(&self, human: &HashMap<(String, String), f64>) -> (Option<f64>, usize) {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for (v, row) in ALL_VALUES.iter().zip(&self.cells) {
            for (column, &r) in self.columns.iter().zip(row) {
                if let Some(&h) = human.get(&(v.name().to_string(), column.clone())) {
                    if r.is_finite() && h.is_finite() {
                        x.push(r);
                        y.push(h);
                    }
                }
            }
        }
        (pearson(&x, &y), x.len())
    }
}

/// Reads a human table in the layout `to_csv` writes: `(value, column) → r`.
pub fn read_relation_table(path: &Path) -> Result<HashMap<(String, String), f64>> {
    let mut reader = csv::Reader::from_path(path)
        .map_err(|e| Error::file(path, None, format!("cannot read the relations table: {e}")))?;
    let headers = reader
        .headers()
        .map_err(|e| Error::file(path, None, e.to_string()))?
        .clone();
    let mut table = HashMap::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| Error::file(path, Some(n + 2), e.to_string()))?;
        let value = record.get(0).unwrap_or("").trim().to_string();
        if value.parse::<valuelab_common::Value>().is_err() {
            return Err(Error::file(
                path,
                Some(n + 2),
                format!(
                    "'{value}' is not one of the ten values (the first column names the value)"
                ),
            ));
        }
        for (column, cell) in headers.iter().zip(record.iter()).skip(1) {
            if cell.trim().is_empty() {
                continue;
            }
            let r: f64 = cell.trim().parse().map_err(|_| {
                Error::file(
                    path,
                    Some(n + 2),
                    format!("'{cell}' in column {column} is not a number"),
                )
            })?;
            table.insert((value.clone(), column.to_string()), r);
        }
    }
    Ok(table)
}

/// One value's simulated against human score distribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Representativeness {
    pub value: String,
    pub wasserstein: Option<f64>,
    pub simulated_mean: Option<f64>,
    pub human_mean: Option<f64>,
}

/// The distance per value between the personas' PVQ-40 scores and the people's PVQ-21 scores.
pub fn representativeness(rows: &[Respondent], human: &Sample) -> Vec<Representativeness> {
    let mean = |xs: &[f64]| (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
    ALL_VALUES
        .iter()
        .map(|v| {
            let simulated: Vec<f64> = rows.iter().filter_map(|r| r.scores[0][v.index()]).collect();
            let people: Vec<f64> = human.scores.iter().map(|s| s[v.index()]).collect();
            Representativeness {
                value: v.name().to_string(),
                wasserstein: wasserstein_1d(&simulated, &people),
                simulated_mean: mean(&simulated),
                human_mean: mean(&people),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::prosocial;
    use crate::population::strategy::PersonaTarget;
    use crate::population::{Instrument, InstrumentKind};

    fn pvq_stub() -> Instrument {
        Instrument {
            kind: InstrumentKind::Pvq40,
            keys: ALL_VALUES.iter().map(|v| v.name().to_string()).collect(),
            items: Vec::new(),
            low: 1.0,
            high: 6.0,
        }
    }

    #[test]
    fn relations_correlate_values_with_behaviour_across_personas() {
        // Benevolence rises 1, 2, 3, 4 and giving to the stranger rises with it; Power falls.
        let rows: Vec<Respondent> = (0..4)
            .map(|k| {
                let mut values = vec![Some(3.0); 10];
                values[1] = Some(1.0 + k as f64);
                values[4] = Some(5.0 - k as f64);
                values[0] = Some(if k % 2 == 0 { 2.0 } else { 4.0 });
                let mut giving = vec![Some(0.5); prosocial::CAUSES.len()];
                giving[0] = Some(0.2 * k as f64);
                Respondent {
                    persona: k,
                    target: PersonaTarget::Naive,
                    speaker: k,
                    scores: vec![values, giving],
                    pvq_item_mean: Some(3.0),
                }
            })
            .collect();
        let table = value_behaviour(&[pvq_stub(), prosocial::instrument()], &rows);
        assert_eq!(table.columns[0], "prosocial.stranger");
        assert!((table.cells[1][0] - 1.0).abs() < 1e-12);
        assert!((table.cells[4][0] + 1.0).abs() < 1e-12);
        // Constant giving to the food bank: undefined, not 0.
        assert!(table.cells[1][1].is_nan());
        // Against a human table that has the Benevolence and Power cells only.
        let mut human = HashMap::new();
        human.insert(
            ("Benevolence".to_string(), "prosocial.stranger".to_string()),
            0.3,
        );
        human.insert(
            ("Power".to_string(), "prosocial.stranger".to_string()),
            -0.2,
        );
        human.insert(
            ("Achievement".to_string(), "prosocial.stranger".to_string()),
            0.0,
        );
        let (r, cells) = table.agreement(&human);
        assert_eq!(cells, 3);
        assert!(r.unwrap() > 0.9);
        // The CSV reads back.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rel.csv");
        std::fs::write(&file, table.to_csv()).unwrap();
        let back = read_relation_table(&file).unwrap();
        assert_eq!(
            back[&("Power".to_string(), "prosocial.stranger".to_string())],
            -1.0
        );
        assert!(!back.contains_key(&("Benevolence".to_string(), "prosocial.food_bank".to_string())));
    }
}
