//! Annotators' judgements as a table of counts, the input of Fleiss' kappa
//! (`valuelab_common::kappa`): either a counts table (one row per subject, one column per
//! category, optionally a header row of category names and a first column of subject ids) or long
//! format (a header `subject`, `rater`, `category`, one row per judgement), tab-separated. Every
//! cell is checked; errors name the file, the line and what was expected.

use crate::{Error, Result};
use std::collections::HashMap;
use std::path::Path;
use valuelab_common::kappa::counts_from_long;

/// Header columns that mark a long-format file.
const LONG_COLUMNS: [&str; 3] = ["subject", "rater", "category"];
/// Other names of the long-format columns: those of a study's `judgements.csv` export.
const LONG_ALIASES: [(&str, &str); 3] = [
    ("item_id", "subject"),
    ("annotator", "rater"),
    ("choice", "category"),
];
/// A study export's column flagging attention checks, whose rows are not agreement data.
const ATTENTION_COLUMN: &str = "attention_check";

/// First header cells that name a subject-id column in a counts table.
const ID_HEADERS: [&str; 3] = ["subject", "id", ""];

/// What the file held, as a subjects × categories table of counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub format: Format,
    pub categories: Vec<String>,
    pub counts: Vec<Vec<f64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Counts,
    Long,
}

/// Reads either format, telling them apart by the header (`subject`, `rater`, `category`).
/// `file` only names the source in error messages.
pub fn read_table(text: &str, file: &Path) -> Result<Table> {
    // A `.csv` file (the study export) is comma-separated; everything else tab-separated.
    let delimiter = match file.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("csv") => b',',
        _ => b'\t',
    };
    let mut rows = records(text, file, delimiter)?;
    let Some((_, first)) = rows.first() else {
        return Err(Error::invalid(format!(
            "{} is empty (expected a counts table or a header 'subject\\trater\\tcategory')",
            file.display()
        )));
    };
    let header: Vec<String> = first
        .iter()
        .map(|c| c.to_lowercase())
        .map(
            |c| match LONG_ALIASES.iter().find(|(alias, _)| *alias == c) {
                Some((_, name)) => name.to_string(),
                None => c,
            },
        )
        .collect();
    if let Some(col) = header.iter().position(|h| h == ATTENTION_COLUMN) {
        rows.retain(|(_, cells)| cells.get(col).is_none_or(|c| c != "true"));
    }
    if LONG_COLUMNS.iter().all(|c| header.iter().any(|h| h == c)) {
        read_long(&header, &rows[1..], file)
    } else {
        read_counts(&rows, file)
    }
}

/// Non-empty lines as (1-based line number, trimmed cells).
fn records(text: &str, file: &Path, delimiter: u8) -> Result<Vec<(u64, Vec<String>)>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            Error::invalid(format!(
                "cannot read {} as {}-separated text: {e}",
                file.display(),
                if delimiter == b',' { "comma" } else { "tab" }
            ))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let cells: Vec<String> = record.iter().map(str::to_string).collect();
        if cells.iter().all(|c| c.is_empty()) {
            continue;
        }
        rows.push((line, cells));
    }
    Ok(rows)
}

fn read_long(header: &[String], rows: &[(u64, Vec<String>)], file: &Path) -> Result<Table> {
    let column = |name: &str| header.iter().position(|h| h == name).unwrap_or(0);
    let (subject_col, rater_col, category_col) =
        (column("subject"), column("rater"), column("category"));
    let mut judgements: Vec<(String, String)> = Vec::with_capacity(rows.len());
    // (subject, rater) → line, so a rater who judged a subject twice is caught.
    let mut seen: HashMap<(String, String), u64> = HashMap::new();
    for (line, cells) in rows {
        let cell = |col: usize, name: &str| -> Result<String> {
            match cells.get(col).filter(|c| !c.is_empty()) {
                Some(c) => Ok(c.clone()),
                None => Err(Error::invalid(format!("{} line {line}: missing {name} (expected subject, rater and category separated by tabs)", file.display()))),
            }
        };
        let subject = cell(subject_col, "subject")?;
        let rater = cell(rater_col, "rater")?;
        let category = cell(category_col, "category")?;
        if let Some(earlier) = seen.insert((subject.clone(), rater.clone()), *line) {
            return Err(Error::invalid(format!(
                "{} line {line}: rater '{rater}' already judged subject '{subject}' on line {earlier} (expected one judgement per rater and subject)",
                file.display()
            )));
        }
        judgements.push((subject, category));
    }
    if judgements.is_empty() {
        return Err(Error::invalid(format!(
            "{} has a header but no judgements (expected rows of subject, rater, category)",
            file.display()
        )));
    }
    let table = counts_from_long(&judgements);
    Ok(Table {
        format: Format::Long,
        categories: table.categories,
        counts: table.counts,
    })
}

fn is_number(cell: &str) -> bool {
    cell.parse::<f64>().is_ok()
}

fn read_counts(rows: &[(u64, Vec<String>)], file: &Path) -> Result<Table> {
    let (_, first) = &rows[0];
    // A header names the categories: some cell after the first is not a number. (A header of
    // purely numeric category names cannot be told from data; it is read as data.)
    let has_header =
        first.iter().skip(1).any(|c| !is_number(c)) || (first.len() == 1 && !is_number(&first[0]));
    let data = if has_header { &rows[1..] } else { rows };
    let Some((_, first_data)) = data.first() else {
        return Err(Error::invalid(format!(
            "{} has a header but no subjects (expected one row of counts per subject)",
            file.display()
        )));
    };
    let has_id = match has_header {
        true => {
            ID_HEADERS.contains(&first[0].to_lowercase().as_str()) || !is_number(&first_data[0])
        }
        false => !is_number(&first_data[0]),
    };
    let skip = usize::from(has_id);
    let categories: Vec<String> = if has_header {
        first[skip..].to_vec()
    } else {
        (1..first_data.len().saturating_sub(skip) + 1)
            .map(|k| k.to_string())
            .collect()
    };
    if categories.is_empty() {
        return Err(Error::invalid(format!(
            "{} line {}: no category columns (expected one count per category)",
            file.display(),
            rows[0].0
        )));
    }
    let mut counts = Vec::with_capacity(data.len());
    for (line, cells) in data {
        let values = &cells[skip.min(cells.len())..];
        if values.len() != categories.len() {
            return Err(Error::invalid(format!(
                "{} line {line}: expected {} counts (one per category{}), found {}",
                file.display(),
                categories.len(),
                if has_id { ", after the subject id" } else { "" },
                values.len()
            )));
        }
        let mut row = Vec::with_capacity(values.len());
        for (k, cell) in values.iter().enumerate() {
            match cell.parse::<f64>() {
                Ok(n) if n.is_finite() && n >= 0.0 => row.push(n),
                _ => return Err(Error::invalid(format!(
                    "{} line {line}, column {}: '{cell}' is not a count (expected a non-negative number of raters for category '{}')",
                    file.display(),
                    k + 1 + skip,
                    categories[k]
                ))),
            }
        }
        counts.push(row);
    }
    Ok(Table {
        format: Format::Counts,
        categories,
        counts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Table> {
        read_table(text, Path::new("k.tsv"))
    }

    #[test]
    fn counts_table_with_header_and_ids_is_read() {
        let t = read("subject\tyes\tno\ns1\t2\t1\ns2\t0\t3\n").unwrap();
        assert_eq!(t.format, Format::Counts);
        assert_eq!(t.categories, vec!["yes", "no"]);
        assert_eq!(t.counts, vec![vec![2.0, 1.0], vec![0.0, 3.0]]);
    }

    #[test]
    fn bare_counts_table_gets_numbered_categories() {
        let t = read("2\t1\n\n0\t3\n").unwrap();
        assert_eq!(t.categories, vec!["1", "2"]);
        assert_eq!(t.counts.len(), 2);
        let t = read("a\t2\t1\nb\t0\t3\n").unwrap();
        assert_eq!(t.categories, vec!["1", "2"]);
        assert_eq!(t.counts, vec![vec![2.0, 1.0], vec![0.0, 3.0]]);
    }

    #[test]
    fn long_format_is_detected_by_its_header_in_any_column_order() {
        let t =
            read("rater\tsubject\tcategory\nr1\ts1\tA\nr2\ts1\tA\nr1\ts2\tB\nr2\ts2\tA\n").unwrap();
        assert_eq!(t.format, Format::Long);
        assert_eq!(t.categories, vec!["A", "B"]);
        assert_eq!(t.counts, vec![vec![2.0, 0.0], vec![1.0, 1.0]]);
    }

    #[test]
    fn a_study_export_is_read_as_long_format_without_its_attention_checks() {
        let csv = "study,item_id,group,annotator,shown_left,choice_shown,choice,seconds,attention_check\n\
                   1,7,G,ann1,A,left,A,3.0,false\n\
                   1,7,G,ann2,B,left,B,2.0,false\n\
                   1,8,G,ann1,A,right,B,2.0,false\n\
                   1,9,G,ann1,B,left,B,2.0,true\n";
        let t = read_table(csv, Path::new("judgements.csv")).unwrap();
        assert_eq!(t.format, Format::Long);
        assert_eq!(
            t.counts.len(),
            2,
            "items 7 and 8; the attention check 9 is left out"
        );
    }

    #[test]
    fn errors_name_file_line_and_expectation() {
        let err = read("yes\tno\n2\t1\n1\n").unwrap_err().to_string();
        assert_eq!(
            err,
            "k.tsv line 3: expected 2 counts (one per category), found 1"
        );
        let err = read("yes\tno\n2\tx\n").unwrap_err().to_string();
        assert!(
            err.starts_with("k.tsv line 2, column 2: 'x' is not a count"),
            "{err}"
        );
        let err = read("subject\trater\tcategory\ns1\tr1\tA\ns1\tr1\tB\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("k.tsv line 3: rater 'r1' already judged subject 's1' on line 2"),
            "{err}"
        );
        let err = read("subject\trater\tcategory\ns1\tr1\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("k.tsv line 2: missing category"), "{err}");
        assert!(read("")
            .unwrap_err()
            .to_string()
            .starts_with("k.tsv is empty"));
    }
}
