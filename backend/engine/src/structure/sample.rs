//! The respondents whose value structure is analysed: real people from an ESS file (the 21 PVQ
//! items, any round), or a simulated population's `respondents.csv`. Either way a respondent is
//! ten value scores on 1..6 and the mean over every item answered, for within-person centring.

use super::matrix::{centre, CorrelationMatrix, Scores};
use crate::data::ess::{read_ess_csv, EssTable};
use crate::data::groups::TargetGroup;
use crate::groups::score_respondents;
use crate::{Error, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use valuelab_common::pvq21::mean_item_score;
use valuelab_common::{Value, ValueDistribution, ALL_VALUES};

/// Column of `respondents.csv` with each persona's mean over the PVQ-40 items.
pub const ITEM_MEAN_COLUMN: &str = "pvq_item_mean";
/// The file a population simulation writes its respondents to.
pub const RESPONDENTS_FILE: &str = "respondents.csv";

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Where the respondents came from (a file name), for reports.
    pub label: String,
    pub scores: Vec<Scores>,
    pub item_means: Vec<f64>,
    /// Each respondent's id (ESS `idno`, a simulation's persona number); may be empty.
    pub ids: Vec<String>,
    /// Rows left out: too few PVQ answers.
    pub skipped: usize,
}

impl Sample {
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The correlation matrix of the raw or the within-person centred scores.
    pub fn matrix(&self, centred: bool) -> CorrelationMatrix {
        if centred {
            CorrelationMatrix::of(&centre(&self.scores, &self.item_means))
        } else {
            CorrelationMatrix::of(&self.scores)
        }
    }

    /// Two random halves (seeded), for the agreement of a sample with itself.
    pub fn split_halves(&self, seed: u64) -> (Sample, Sample) {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        let half = |rows: &[usize], which: &str| Sample {
            label: format!("{} ({which} half)", self.label),
            scores: rows.iter().map(|&i| self.scores[i]).collect(),
            item_means: rows.iter().map(|&i| self.item_means[i]).collect(),
            ids: rows
                .iter()
                .filter_map(|&i| self.ids.get(i).cloned())
                .collect(),
            skipped: 0,
        };
        let (a, b) = order.split_at(self.len() / 2);
        (half(a, "first"), half(b, "second"))
    }
}

/// Real respondents of an ESS CSV, scored with the PVQ-21 `key` (variable, value).
pub fn read_ess_sample(path: &Path, key: &[(String, Value)]) -> Result<Sample> {
    let table = read_ess_csv(path)?;
    let scored = score_respondents(&table, key)?;
    if scored.points.is_empty() {
        return Err(Error::invalid(format!(
            "{}: no respondent answered enough PVQ-21 items to be scored ({} rows)",
            path.display(),
            table.len()
        )));
    }
    let item_means = item_means(&table, key, &scored.rows)?;
    let idno = table.column("idno");
    let ids = scored
        .rows
        .iter()
        .map(|&row| match idno.and_then(|c| table.get(row, c)) {
            Some(id) => id.to_string(),
            None => format!("row{}", row + 1),
        })
        .collect();
    Ok(Sample {
        label: file_label(path),
        scores: scored.points,
        item_means,
        ids,
        skipped: scored.skipped,
    })
}

impl Sample {
    /// Each respondent as a target group of one: named by id (`respondent <idno>`), with their
    /// own profile; respondents whose scores fall outside 1..6 are left out.
    pub fn respondent_groups(&self) -> Vec<TargetGroup> {
        self.scores
            .iter()
            .zip(&self.ids)
            .filter_map(|(scores, id)| {
                Some(TargetGroup {
                    name: format!("respondent {id}"),
                    values: ValueDistribution::parse(*scores).ok()?,
                    size: Some(1),
                })
            })
            .collect()
    }
}

fn item_means(table: &EssTable, key: &[(String, Value)], rows: &[usize]) -> Result<Vec<f64>> {
    let columns: Vec<usize> = key
        .iter()
        .map(|(variable, _)| table.require_column(variable))
        .collect::<Result<_>>()?;
    Ok(rows
        .iter()
        .map(|&row| {
            let answers: Vec<Option<i64>> = columns.iter().map(|&c| table.get(row, c)).collect();
            // A scored respondent has answered items, so the mean exists.
            mean_item_score(&answers).unwrap_or(f64::NAN)
        })
        .collect())
}

/// A simulated population: `DIR/respondents.csv` (or that file named directly), with a column
/// per value (its name) and `pvq_item_mean`.
pub fn read_simulated_sample(path: &Path) -> Result<Sample> {
    let file = if path.is_dir() {
        path.join(RESPONDENTS_FILE)
    } else {
        path.to_path_buf()
    };
    let mut reader = csv::Reader::from_path(&file).map_err(|e| {
        Error::invalid(format!(
            "cannot read {} ({e}); expected the folder of `valuelab simulate` or its {RESPONDENTS_FILE}",
            file.display()
        ))
    })?;
    let headers = reader
        .headers()
        .map_err(|e| Error::invalid(format!("{}: {e}", file.display())))?
        .clone();
    let find = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            Error::invalid(format!(
                "{}: no column '{name}' (a simulation's respondents need the ten value columns and {ITEM_MEAN_COLUMN})",
                file.display()
            ))
        })
    };
    let value_columns: Vec<usize> = ALL_VALUES
        .iter()
        .map(|v| find(v.name()))
        .collect::<Result<_>>()?;
    let mean_column = find(ITEM_MEAN_COLUMN)?;
    let id_column = headers.iter().position(|h| h == "persona");
    let mut sample = Sample {
        label: file_label(path),
        scores: Vec::new(),
        item_means: Vec::new(),
        ids: Vec::new(),
        skipped: 0,
    };
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| Error::invalid(format!("{}: {e}", file.display())))?;
        let number = |column: usize| -> Result<Option<f64>> {
            let cell = record.get(column).unwrap_or("").trim();
            if cell.is_empty() {
                return Ok(None);
            }
            cell.parse::<f64>().map(Some).map_err(|_| {
                Error::invalid(format!(
                    "{} line {}: '{cell}' in column '{}' is not a number",
                    file.display(),
                    line + 2,
                    &headers[column]
                ))
            })
        };
        let scores: Vec<Option<f64>> = value_columns
            .iter()
            .map(|&c| number(c))
            .collect::<Result<_>>()?;
        match (
            scores.iter().copied().collect::<Option<Vec<f64>>>(),
            number(mean_column)?,
        ) {
            (Some(scores), Some(mean)) => {
                sample.scores.push(scores.try_into().expect("ten columns"));
                sample.item_means.push(mean);
                let id = id_column.and_then(|c| record.get(c)).map(str::to_string);
                sample
                    .ids
                    .push(id.unwrap_or_else(|| (line + 1).to_string()));
            }
            // A persona whose PVQ answers are missing (a cancelled run) is left out, counted.
            _ => sample.skipped += 1,
        }
    }
    if sample.len() < 3 {
        return Err(Error::invalid(format!(
            "{}: {} complete respondents; a value structure needs at least 3",
            file.display(),
            sample.len()
        )));
    }
    Ok(sample)
}

fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulated_population_is_read_by_column_name_and_incomplete_rows_counted() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<&str> = ALL_VALUES.iter().map(|v| v.name()).collect();
        let mut text = format!("persona,{},{ITEM_MEAN_COLUMN}\n", names.join(","));
        for k in 0..4 {
            let row: Vec<String> = (0..10).map(|v| format!("{}", 1 + (k + v) % 6)).collect();
            text.push_str(&format!("p{k},{},3.5\n", row.join(",")));
        }
        text.push_str(&format!("p9,{},\n", ["2"; 10].join(",")));
        std::fs::write(dir.path().join(RESPONDENTS_FILE), text).unwrap();
        let sample = read_simulated_sample(dir.path()).unwrap();
        assert_eq!(sample.len(), 4);
        assert_eq!(sample.skipped, 1);
        assert_eq!(sample.scores[1][0], 2.0);
        assert_eq!(sample.item_means, vec![3.5; 4]);
        let (a, b) = sample.split_halves(1);
        assert_eq!((a.len(), b.len()), (2, 2));
    }

    #[test]
    fn a_file_without_the_value_columns_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.csv");
        std::fs::write(&file, "persona,Achievement\np,3\n").unwrap();
        let err = read_simulated_sample(&file).unwrap_err().to_string();
        assert!(err.contains("no column 'Benevolence'"), "{err}");
    }
}
