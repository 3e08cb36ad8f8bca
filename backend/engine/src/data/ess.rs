//! European Social Survey data: the round-6 question set used for opinion prediction, the key of
//! the 21 PVQ items in ESS variables, and a generic reader of ESS microdata CSV files.

use super::table::{parse_int, Table};
use crate::{Error, Field, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use valuelab_common::scale::AnswerScale;
use valuelab_common::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct EssQuestion {
    /// ESS variable name (`tvtot`).
    pub code: String,
    pub chapter: String,
    pub scale: AnswerScale,
    /// The prompt text as the authors used it.
    pub question: String,
}

/// Reads `ess_round6_questions.tsv`: `code`, `chapter`, `scale`, `question`.
pub fn read_questions(path: &Path) -> Result<Vec<EssQuestion>> {
    let mut table = Table::open_tsv(path)?;
    let code = table.require("code")?;
    let chapter = table.require("chapter")?;
    let scale = table.require("scale")?;
    let question = table.require("question")?;
    let mut questions = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    while let Some(row) = table.next_row()? {
        let code = table.text(&row, code)?.to_string();
        if let Some(first) = seen.insert(code.clone(), row.line) {
            return Err(table.error(
                row.line,
                format!("question '{code}' appears twice (first on line {first})"),
            ));
        }
        let scale_text = table.text(&row, scale)?;
        let scale =
            AnswerScale::parse(scale_text).map_err(|e| table.error(row.line, e.to_string()))?;
        questions.push(EssQuestion {
            code,
            chapter: table.text(&row, chapter)?.to_string(),
            scale,
            question: table.text(&row, question)?.to_string(),
        });
    }
    if questions.is_empty() {
        return Err(Error::file(
            path,
            None,
            "no questions (expected one row per question after the header)",
        ));
    }
    Ok(questions)
}

/// Writes questions in the form [`read_questions`] reads (a subset of the question table, for
/// runs that ask only some questions).
pub fn write_questions(path: &Path, questions: &[EssQuestion]) -> Result<()> {
    crate::output::write_atomically(path, |out| {
        writeln!(out, "code\tchapter\tscale\tquestion")?;
        for q in questions {
            writeln!(
                out,
                "{}\t{}\t{}\t{}",
                q.code, q.chapter, q.scale, q.question
            )?;
        }
        Ok(())
    })
}

/// Reads `ess_pvq21_key.tsv`: the ESS variable of each PVQ-21 item and the value it scores, in
/// item order.
pub fn read_pvq21_key(path: &Path) -> Result<Vec<(String, Value)>> {
    let mut table = Table::open_tsv(path)?;
    let variable = table.require("variable")?;
    let value = table.require("value")?;
    let item = table.find("item");
    let mut key: Vec<(i64, String, Value)> = Vec::new();
    while let Some(row) = table.next_row()? {
        let name = table.text(&row, variable)?.to_string();
        if key.iter().any(|(_, v, _)| v.eq_ignore_ascii_case(&name)) {
            return Err(table.error(row.line, format!("variable '{name}' appears twice")));
        }
        let cell = table.cell(&row, value);
        let scored = cell
            .parse::<Value>()
            .map_err(|e| table.error(row.line, e.to_string()))?;
        let number = match item {
            Some(col) => table.int(&row, col)?,
            None => key.len() as i64 + 1,
        };
        key.push((number, name, scored));
    }
    if key.is_empty() {
        return Err(Error::file(
            path,
            None,
            "no items (expected one row per PVQ-21 item after the header)",
        ));
    }
    key.sort_by_key(|(number, _, _)| *number);
    Ok(key
        .into_iter()
        .map(|(_, name, value)| (name, value))
        .collect())
}

/// ESS microdata: numeric answers by respondent, plus the respondent ids and countries.
#[derive(Debug, Clone, PartialEq)]
pub struct EssTable {
    pub path: PathBuf,
    /// The numeric columns, in file order (every non-empty cell a whole number).
    pub columns: Vec<String>,
    /// One row per respondent, aligned with `columns`; `None` for an empty cell.
    pub rows: Vec<Vec<Option<i64>>>,
    /// `idno` of each respondent (the 1-based row number when the file has no `idno`).
    pub ids: Vec<String>,
    /// `cntry` of each respondent when the file has that column.
    pub countries: Option<Vec<String>>,
    /// Columns left out of `columns` because a cell is not a whole number: name, line and cell.
    pub text_columns: Vec<(String, usize, String)>,
}

impl EssTable {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The position of an ESS variable among `columns`, case-insensitively and with or without
    /// the edition suffix `a` (`ipcrtiv` finds `ipcrtiva` and the other way round).
    pub fn column(&self, name: &str) -> Option<usize> {
        find_variable(&self.columns, name)
    }

    /// Like [`EssTable::column`], with an error that names the file and says why it is missing.
    pub fn require_column(&self, name: &str) -> Result<usize> {
        self.column(name).ok_or_else(|| {
            let text = self.text_columns.iter().find(|(c, _, _)| same_variable(c, name));
            let message = match text {
                Some((column, line, cell)) => format!(
                    "column '{column}' is not numeric (line {line} holds '{cell}'; expected whole-number ESS codes)"
                ),
                None => format!("missing column '{name}' (also looked for '{name}a'; expected an ESS variable)"),
            };
            Error::file(&self.path, Some(1), message)
        })
    }

    /// Respondent `row`'s answer in column `column`.
    pub fn get(&self, row: usize, column: usize) -> Option<i64> {
        self.rows
            .get(row)
            .and_then(|r| r.get(column).copied().flatten())
    }
}

fn same_variable(column: &str, name: &str) -> bool {
    let (c, n) = (
        column.to_ascii_lowercase(),
        name.trim().to_ascii_lowercase(),
    );
    c == n || c == format!("{n}a") || format!("{c}a") == n
}

fn find_variable(columns: &[String], name: &str) -> Option<usize> {
    // An exact match wins over a suffix match, so `x` never shadows a real `xa`.
    columns
        .iter()
        .position(|c| c.eq_ignore_ascii_case(name.trim()))
        .or_else(|| columns.iter().position(|c| same_variable(c, name)))
}

/// Cells read as missing besides the empty cell (pandas and R spellings).
const MISSING_CELLS: [&str; 3] = ["NA", "NaN", "."];

/// Reads an ESS microdata CSV with any columns (comma-separated; tab-separated when the header
/// has tabs and no commas).
pub fn read_ess_csv(path: &Path) -> Result<EssTable> {
    read_ess_columns(path, None)
}

/// Like [`read_ess_csv`], keeping only the named variables (matched as in
/// [`EssTable::column`]); full ESS files have hundreds of columns.
pub fn read_ess_csv_columns(path: &Path, wanted: &[&str]) -> Result<EssTable> {
    read_ess_columns(path, Some(wanted))
}

fn read_ess_columns(path: &Path, wanted: Option<&[&str]>) -> Result<EssTable> {
    let delimiter = sniff_delimiter(path)?;
    let mut table = Table::open(path, delimiter)?;
    let header = table.header().to_vec();
    let id_col = table.find("idno");
    let country_col = table.find("cntry");
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| Some(i) != country_col)
        .filter(|&i| wanted.is_none_or(|w| w.iter().any(|name| same_variable(&header[i], name))))
        .collect();

    let mut rows = Vec::new();
    let mut ids = Vec::new();
    let mut countries = country_col.map(|_| Vec::new());
    // First non-numeric cell per kept column: such a column is text, not an ESS code.
    let mut not_numeric: Vec<Option<(usize, String)>> = vec![None; keep.len()];
    while let Some(row) = table.next_row()? {
        let mut values = Vec::with_capacity(keep.len());
        for (k, &col) in keep.iter().enumerate() {
            let cell = table.cell(&row, col);
            if cell.is_empty() || MISSING_CELLS.contains(&cell) {
                values.push(None);
                continue;
            }
            let value = parse_int(cell);
            if value.is_none() && not_numeric[k].is_none() {
                not_numeric[k] = Some((row.line, cell.to_string()));
            }
            values.push(value);
        }
        rows.push(values);
        ids.push(match id_col {
            Some(col) => table.cell(&row, col).to_string(),
            None => rows.len().to_string(),
        });
        if let (Some(list), Some(col)) = (countries.as_mut(), country_col) {
            list.push(table.cell(&row, col).to_string());
        }
    }
    if rows.is_empty() {
        return Err(Error::file(
            path,
            None,
            "no respondents (expected one row per respondent after the header)",
        ));
    }

    let numeric: Vec<bool> = not_numeric.iter().map(Option::is_none).collect();
    let columns = keep
        .iter()
        .zip(&numeric)
        .filter(|(_, &n)| n)
        .map(|(&c, _)| header[c].clone())
        .collect();
    for row in &mut rows {
        let mut k = 0;
        row.retain(|_| {
            k += 1;
            numeric[k - 1]
        });
    }
    let text_columns = keep
        .iter()
        .zip(not_numeric)
        .filter_map(|(&c, bad)| bad.map(|(line, cell)| (header[c].clone(), line, cell)))
        .collect();
    Ok(EssTable {
        path: path.to_path_buf(),
        columns,
        rows,
        ids,
        countries,
        text_columns,
    })
}

/// The survey weight of every respondent of an ESS microdata file, row for row as
/// [`read_ess_csv`] reads them: column `column` (such as `pspwght`, the ESS post-stratification
/// weight), each cell a number ≥ 0. Weights are decimals, so [`EssTable`] keeps no such column.
pub fn read_weights(path: &Path, column: &str) -> Result<Vec<f64>> {
    let delimiter = sniff_delimiter(path)?;
    let mut table = Table::open(path, delimiter)?;
    let col = table.find(column).ok_or_else(|| {
        Error::input(
            Field::Weight,
            format!(
                "{}: no weight column '{column}' (its weight columns: {}); name one of them, or none for unweighted means",
                path.display(),
                weight_columns(table.header())
            ),
        )
    })?;
    let mut weights = Vec::new();
    while let Some(row) = table.next_row()? {
        let w = table.f64(&row, col)?;
        if w < 0.0 {
            return Err(table.error(row.line, format!("negative weight {w} in {column}")));
        }
        weights.push(w);
    }
    Ok(weights)
}

/// The ESS weight variables among a header (`pspwght`, `dweight`, `pweight`, `anweight`), for
/// an error that lists what the file offers.
fn weight_columns(header: &[String]) -> String {
    let found: Vec<&str> = header
        .iter()
        .map(String::as_str)
        .filter(|h| h.to_ascii_lowercase().ends_with("weight") || h.eq_ignore_ascii_case("pspwght"))
        .collect();
    if found.is_empty() {
        "none".into()
    } else {
        found.join(", ")
    }
}

fn sniff_delimiter(path: &Path) -> Result<u8> {
    use std::io::BufRead;
    let file = std::fs::File::open(path)
        .map_err(|e| Error::file(path, None, format!("cannot open: {e}")))?;
    let mut first = String::new();
    std::io::BufReader::new(file)
        .read_line(&mut first)
        .map_err(|e| Error::file(path, Some(1), format!("cannot read the header: {e}")))?;
    Ok(if first.contains('\t') && !first.contains(',') {
        b'\t'
    } else {
        b','
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testdata::{file_with, shared_data};

    #[test]
    fn reads_151_questions_with_their_scales() {
        let questions = read_questions(&shared_data().ess_questions_tsv()).unwrap();
        assert_eq!(questions.len(), 151);
        assert_eq!(questions[0].code, "tvtot");
        assert_eq!(questions[0].chapter, "media_and_social_trust");
        let chapters: std::collections::BTreeSet<&str> =
            questions.iter().map(|q| q.chapter.as_str()).collect();
        assert_eq!(chapters.len(), 5);
    }

    #[test]
    fn written_questions_read_back_the_same() {
        let questions = read_questions(&shared_data().ess_questions_tsv()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.tsv");
        write_questions(&path, &questions[3..9]).unwrap();
        assert_eq!(read_questions(&path).unwrap(), questions[3..9]);
    }

    #[test]
    fn a_bad_question_row_names_its_line() {
        let (_d, path) = file_with(
            "q.tsv",
            "code\tchapter\tscale\tquestion\nx\tpolitics\t0-10\tHow?\nx\tpolitics\t0-10\tAgain?\n",
        );
        let err = read_questions(&path).unwrap_err().to_string();
        assert!(
            err.contains("q.tsv line 3: question 'x' appears twice (first on line 2)"),
            "{err}"
        );
        let (_d, path) = file_with(
            "q.tsv",
            "code\tchapter\tscale\tquestion\nx\tpolitics\t\tHow?\n",
        );
        let err = read_questions(&path).unwrap_err().to_string();
        assert!(err.contains("q.tsv line 2: empty scale"), "{err}");
    }

    #[test]
    fn reads_the_pvq21_key_in_item_order() {
        let key = read_pvq21_key(&shared_data().ess_pvq21_key_tsv()).unwrap();
        assert_eq!(key.len(), 21);
        assert_eq!(key[0], ("ipcrtiv".to_string(), Value::SelfDirection));
        assert_eq!(key[1], ("imprich".to_string(), Value::Power));
        for value in valuelab_common::ALL_VALUES {
            assert!(key.iter().any(|(_, v)| *v == value), "{value} has no item");
        }
        let (_d, path) = file_with("k.tsv", "variable\titem\tvalue\nipcrtiv\t1\tCreativity\n");
        let err = read_pvq21_key(&path).unwrap_err().to_string();
        assert!(
            err.contains("k.tsv line 2: unknown value 'Creativity'"),
            "{err}"
        );
    }

    #[test]
    fn reads_real_responses_and_finds_variables_without_the_suffix() {
        let data = shared_data();
        let table = read_ess_csv(&data.ess_responses_csv()).unwrap();
        assert_eq!(table.len(), 22190);
        assert_eq!(table.columns.len(), 22);
        assert_eq!(table.countries, None);
        assert_eq!(table.ids[0], "50014");
        let col = table.require_column("ipcrtiv").unwrap();
        assert_eq!(table.columns[col], "ipcrtiva");
        assert_eq!(table.get(0, col), Some(3));
        for (variable, _) in read_pvq21_key(&data.ess_pvq21_key_tsv()).unwrap() {
            assert!(table.column(&variable).is_some(), "{variable}");
        }
        let selected =
            read_ess_csv_columns(&data.ess_responses_csv(), &["ipcrtiv", "imprich"]).unwrap();
        assert_eq!(selected.columns, vec!["ipcrtiva", "impricha"]);
        assert_eq!(selected.rows[1], vec![Some(2), Some(4)]);
    }

    #[test]
    fn countries_text_columns_and_missing_cells_are_kept_apart() {
        let text =
            "idno,cntry,name,ipcrtiv,dweight\n1,BE,ESS6,3,1.0\n2,DE,ESS6,,0.5\n3,DE,ESS6,NA,1\n";
        let (_d, path) = file_with("ess.csv", text);
        let table = read_ess_csv(&path).unwrap();
        assert_eq!(
            table.countries,
            Some(vec!["BE".into(), "DE".into(), "DE".into()])
        );
        assert_eq!(table.columns, vec!["idno", "ipcrtiv"]);
        let col = table.column("IPCRTIVA").unwrap();
        assert_eq!(
            (table.get(0, col), table.get(1, col), table.get(2, col)),
            (Some(3), None, None)
        );
        let err = table.require_column("dweight").unwrap_err().to_string();
        assert!(
            err.contains("ess.csv line 1: column 'dweight' is not numeric (line 3 holds '0.5'"),
            "{err}"
        );
        let err = table.require_column("impfun").unwrap_err().to_string();
        assert!(err.contains("missing column 'impfun'"), "{err}");

        assert_eq!(read_weights(&path, "dweight").unwrap(), vec![1.0, 0.5, 1.0]);
        let err = read_weights(&path, "pspwght").unwrap_err();
        assert_eq!(err.field(), Some(Field::Weight));
        assert!(
            err.to_string()
                .contains("no weight column 'pspwght' (its weight columns: dweight)"),
            "{err}"
        );
        let (_d, path) = file_with("ess.csv", "idno,ipcrtiv\n1,3\n2\n");
        let err = read_ess_csv(&path).unwrap_err().to_string();
        assert!(err.contains("ess.csv line 3: expected 2 fields"), "{err}");
    }
}
