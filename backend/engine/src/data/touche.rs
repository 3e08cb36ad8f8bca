//! Touché23-ValueEval arguments with the 20 fine-grained labels folded into the ten Schwartz
//! values (`valueEval_10.csv`), and the authors' train/valid/test split of them.

use super::groups::value_columns;
use super::table::{parse_int, Table};
use crate::{Error, Result};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use valuelab_common::{Value, ALL_VALUES, VALUE_COUNT};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argument {
    /// The pandas row index of the file it was read from (the row number when the file has no
    /// index column). Ids of different split files are different numberings.
    pub id: usize,
    pub conclusion: String,
    pub stance: Stance,
    pub premise: String,
    /// Whether the premise expresses each value, in `ALL_VALUES` order.
    pub values: [bool; VALUE_COUNT],
}

impl Argument {
    /// The values the premise expresses, in `ALL_VALUES` order.
    pub fn expressed_values(&self) -> impl Iterator<Item = Value> + '_ {
        ALL_VALUES
            .iter()
            .copied()
            .filter(|v| self.values[v.index()])
    }

    pub fn has_values(&self) -> bool {
        self.values.iter().any(|&v| v)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stance {
    InFavorOf,
    Against,
}

impl Stance {
    /// The stance as written in the data and in the paper's prompts.
    pub fn as_str(self) -> &'static str {
        match self {
            Stance::InFavorOf => "in favor of",
            Stance::Against => "against",
        }
    }
}

impl fmt::Display for Stance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stance {
    type Err = Error;
    fn from_str(s: &str) -> Result<Stance> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("in favor of") {
            Ok(Stance::InFavorOf)
        } else if s.eq_ignore_ascii_case("against") {
            Ok(Stance::Against)
        } else {
            Err(Error::invalid(format!(
                "unknown stance '{s}' (expected 'in favor of' or 'against')"
            )))
        }
    }
}

/// One file of the authors' argument split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Valid,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }

    /// The file name under `vim/argument_generation/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Split::Train => "train.csv",
            Split::Valid => "valid.csv",
            Split::Test => "test.csv",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Split {
    type Err = Error;
    fn from_str(s: &str) -> Result<Split> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" => Ok(Split::Train),
            "valid" | "validation" => Ok(Split::Valid),
            "test" => Ok(Split::Test),
            other => Err(Error::invalid(format!(
                "unknown split '{other}' (expected train, valid or test)"
            ))),
        }
    }
}

/// Reads arguments in the format of `valueEval_10.csv` (also the split files): tab-separated,
/// `Conclusion`, `Stance`, `Premise` and the ten 0/1 value columns, found by name.
pub fn read_arguments(path: &Path) -> Result<Vec<Argument>> {
    let mut table = Table::open_tsv(path)?;
    let conclusion = table.require("Conclusion")?;
    let stance = table.require("Stance")?;
    let premise = table.require("Premise")?;
    let value_cols = value_columns(&table)?;

    let mut arguments = Vec::new();
    let mut seen: HashMap<usize, usize> = HashMap::new();
    while let Some(row) = table.next_row()? {
        let id = match table.index(&row) {
            Some(cell) => parse_int(cell).and_then(|n| usize::try_from(n).ok()).ok_or_else(|| {
                table.error(row.line, format!("expected a row index (a whole number) in the first column, found '{cell}'"))
            })?,
            None => arguments.len(),
        };
        if let Some(first) = seen.insert(id, row.line) {
            return Err(table.error(
                row.line,
                format!("row index {id} appears twice (first on line {first})"),
            ));
        }
        let stance_cell = table.cell(&row, stance);
        let stance = stance_cell.parse::<Stance>().map_err(|_| {
            table.error(
                row.line,
                format!("unknown stance '{stance_cell}' (expected 'in favor of' or 'against')"),
            )
        })?;
        let mut values = [false; VALUE_COUNT];
        for (flag, &col) in values.iter_mut().zip(value_cols.iter()) {
            *flag = table.flag(&row, col)?;
        }
        arguments.push(Argument {
            id,
            conclusion: table.text(&row, conclusion)?.to_string(),
            stance,
            premise: table.text(&row, premise)?.to_string(),
            values,
        });
    }
    if arguments.is_empty() {
        return Err(Error::file(
            path,
            None,
            "no arguments (expected one row per argument after the header)",
        ));
    }
    Ok(arguments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testdata::{file_with, shared_data};

    const HEADER: &str = "\tConclusion\tStance\tPremise\tAchievement\tBenevolence\tConformity\tHedonism\tPower\tSecurity\tSelf-direction\tStimulation\tTradition\tUniversalism\n";

    #[test]
    fn reads_all_arguments_and_the_authors_split() {
        let data = shared_data();
        let all = read_arguments(&data.arguments_csv()).unwrap();
        assert_eq!(all.len(), 7374);
        assert_eq!(all[0].id, 0);
        assert_eq!(all[0].conclusion, "We should ban human cloning");
        assert_eq!(all[0].stance, Stance::InFavorOf);
        assert_eq!(
            all[0].expressed_values().collect::<Vec<_>>(),
            vec![Value::Security]
        );
        // A premise with quoted quotes (line 87 of the file) is unescaped.
        let quoted = all.iter().find(|a| a.id == 85).unwrap();
        assert!(
            quoted.premise.contains("they're not \"all\" the people"),
            "{}",
            quoted.premise
        );

        let sizes: Vec<usize> = Split::ALL
            .iter()
            .map(|&s| read_arguments(&data.split_csv(s)).unwrap().len())
            .collect();
        assert_eq!(sizes, vec![3818, 424, 3132]);
        assert_eq!(sizes.iter().sum::<usize>(), all.len());
        // test.csv carries a second index column before the data; the first one is the id.
        let test = read_arguments(&data.split_csv(Split::Test)).unwrap();
        assert_eq!(test[1].id, 48);
        let train = read_arguments(&data.split_csv(Split::Train)).unwrap();
        assert_eq!(train[0].id, 1826);
        assert!(train.iter().chain(&test).all(Argument::has_values));
    }

    #[test]
    fn bad_stances_flags_and_indices_name_the_line() {
        let (_d, path) = file_with(
            "a.csv",
            &format!("{HEADER}0\tC\tneutral\tP\t0\t0\t0\t0\t0\t1\t0\t0\t0\t0\n"),
        );
        let err = read_arguments(&path).unwrap_err().to_string();
        assert!(
            err.contains(
                "a.csv line 2: unknown stance 'neutral' (expected 'in favor of' or 'against')"
            ),
            "{err}"
        );

        let (_d, path) = file_with(
            "a.csv",
            &format!("{HEADER}0\tC\tagainst\tP\t0\t0\t0\t0\t0\t2\t0\t0\t0\t0\n"),
        );
        let err = read_arguments(&path).unwrap_err().to_string();
        assert!(
            err.contains("a.csv line 2: expected 0 or 1 for Security, found '2'"),
            "{err}"
        );

        let (_d, path) = file_with(
            "a.csv",
            &format!("{HEADER}x\tC\tagainst\tP\t0\t0\t0\t0\t0\t1\t0\t0\t0\t0\n"),
        );
        let err = read_arguments(&path).unwrap_err().to_string();
        assert!(err.contains("a.csv line 2: expected a row index"), "{err}");

        let (_d, path) = file_with("a.csv", "\tConclusion\tStance\n0\tC\tagainst\n");
        let err = read_arguments(&path).unwrap_err().to_string();
        assert!(
            err.contains("a.csv line 1: missing column 'Premise'"),
            "{err}"
        );
    }

    #[test]
    fn stances_and_splits_parse_their_spellings() {
        assert_eq!("In favor of".parse::<Stance>().unwrap(), Stance::InFavorOf);
        assert_eq!(Stance::Against.as_str(), "against");
        assert_eq!("validation".parse::<Split>().unwrap(), Split::Valid);
        assert!("dev"
            .parse::<Split>()
            .unwrap_err()
            .to_string()
            .contains("expected train, valid or test"));
    }
}
