//! The ValueNet scenarios of the behaviour-prediction test: 20 files `<Value>_<positive|negative>.csv`
//! with 25 scenarios each, tab-separated, pandas index columns, `scenario`, `label` (1 / -1) and
//! `value` (upper case in the released files).

use super::table::Table;
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use valuelab_common::{Value, ALL_VALUES};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub value: Value,
    pub scenario: String,
    /// 1 when the scenario is positive for the value, -1 when negative.
    pub label: i8,
}

/// The polarities in file-name order, with their labels.
const POLARITIES: [(&str, i8); 2] = [("positive", 1), ("negative", -1)];

/// The path of one ValueNet file.
pub fn valuenet_file(dir: &Path, value: Value, label: i8) -> PathBuf {
    let polarity = if label > 0 { "positive" } else { "negative" };
    dir.join(format!("{}_{polarity}.csv", value.name()))
}

/// Reads all 20 files of `dir`, in `ALL_VALUES` order, positive before negative.
pub fn read_valuenet(dir: &Path) -> Result<Vec<Scenario>> {
    if !dir.is_dir() {
        return Err(Error::file(
            dir,
            None,
            "no such folder (expected the 20 ValueNet files <Value>_<positive|negative>.csv)",
        ));
    }
    let mut scenarios = Vec::new();
    for value in ALL_VALUES {
        for (_, label) in POLARITIES {
            scenarios.extend(read_valuenet_file(
                &valuenet_file(dir, value, label),
                value,
                label,
            )?);
        }
    }
    Ok(scenarios)
}

/// Reads one file, checking that its `value` and `label` columns agree with its name.
pub fn read_valuenet_file(path: &Path, value: Value, label: i8) -> Result<Vec<Scenario>> {
    let mut table = Table::open_tsv(path)?;
    let scenario_col = table.require("scenario")?;
    let label_col = table.require("label")?;
    let value_col = table.require("value")?;
    let mut scenarios = Vec::new();
    while let Some(row) = table.next_row()? {
        let cell = table.cell(&row, value_col);
        let row_value = cell
            .parse::<Value>()
            .map_err(|e| table.error(row.line, e.to_string()))?;
        if row_value != value {
            return Err(table.error(
                row.line,
                format!("value '{cell}' does not match the file name (expected {value})"),
            ));
        }
        let row_label = table.int(&row, label_col)?;
        if row_label != i64::from(label) {
            return Err(table.error(
                row.line,
                format!("label {row_label} does not match the file name (expected {label})"),
            ));
        }
        scenarios.push(Scenario {
            value,
            scenario: table.text(&row, scenario_col)?.to_string(),
            label,
        });
    }
    if scenarios.is_empty() {
        return Err(Error::file(
            path,
            None,
            "no scenarios (expected one row per scenario after the header)",
        ));
    }
    Ok(scenarios)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testdata::{file_with, shared_data};

    #[test]
    fn reads_500_scenarios_25_per_value_and_polarity() {
        let scenarios = read_valuenet(&shared_data().valuenet_dir()).unwrap();
        assert_eq!(scenarios.len(), 500);
        for value in ALL_VALUES {
            for label in [1, -1] {
                let n = scenarios
                    .iter()
                    .filter(|s| s.value == value && s.label == label)
                    .count();
                assert_eq!(n, 25, "{value} {label}");
            }
        }
        let first = &scenarios[0];
        assert_eq!((first.value, first.label), (Value::Achievement, 1));
    }

    #[test]
    fn a_value_or_label_that_contradicts_the_file_name_is_rejected() {
        let header = "\tUnnamed: 0\tUnnamed: 0.1\tscenario\tlabel\tvalue\n";
        let (_d, path) = file_with(
            "Power_positive.csv",
            &format!(
                "{header}1\t2\t2\tbuying a yacht\t1\tPOWER\n3\t4\t4\tgiving up\t1\tHEDONISM\n"
            ),
        );
        let err = read_valuenet_file(&path, Value::Power, 1)
            .unwrap_err()
            .to_string();
        assert!(err.contains("Power_positive.csv line 3: value 'HEDONISM' does not match the file name (expected Power)"), "{err}");

        let (_d, path) = file_with(
            "Power_positive.csv",
            &format!("{header}1\t2\t2\tbuying a yacht\t-1\tPOWER\n"),
        );
        let err = read_valuenet_file(&path, Value::Power, 1)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2: label -1 does not match the file name (expected 1)"),
            "{err}"
        );

        let (dir, _) = file_with(
            "Power_positive.csv",
            &format!("{header}1\t2\t2\tbuying a yacht\t1\tPOWER\n"),
        );
        let err = read_valuenet(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("Achievement_positive.csv: cannot open"),
            "{err}"
        );
    }
}
