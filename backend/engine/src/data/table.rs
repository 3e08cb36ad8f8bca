//! Reading delimited tables (the TSVs and pandas-written CSVs of the data directory) with errors
//! that name the file, the line and what was expected.
//!
//! pandas writes its row index as the first column, with an empty or `Unnamed: 0` header, and
//! some tools leave the index column out of the header altogether; both are accepted, and columns
//! are found by name (case-insensitively), never by position.

use crate::{Error, Result};
use csv::StringRecord;
use std::fs::File;
use std::path::{Path, PathBuf};

pub struct Table {
    path: PathBuf,
    header: Vec<String>,
    reader: csv::Reader<File>,
    /// Fields before the first header column in every row: 1 when the header lacks the name of
    /// the leading index column, else 0. Known after the first row.
    offset: Option<usize>,
}

/// One data row; `line` is the 1-based line of the file where it starts.
pub struct Row {
    pub line: usize,
    record: StringRecord,
    offset: usize,
}

impl Table {
    /// Opens a tab-separated file.
    pub fn open_tsv(path: &Path) -> Result<Table> {
        Self::open(path, b'\t')
    }

    pub fn open(path: &Path, delimiter: u8) -> Result<Table> {
        let file = File::open(path).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                " (check the data directory, or run `valuelab data check`)"
            } else {
                ""
            };
            Error::file(path, None, format!("cannot open: {e}{hint}"))
        })?;
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(true)
            .flexible(true)
            .from_reader(file);
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(path, e))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if header.iter().all(|h| h.is_empty()) {
            return Err(Error::file(
                path,
                Some(1),
                "empty file (expected a header line)",
            ));
        }
        Ok(Table {
            path: path.to_path_buf(),
            header,
            reader,
            offset: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The header position of `name`, compared case-insensitively.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.header
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name.trim()))
    }

    /// Like [`Table::find`], with an error naming the columns that are there.
    pub fn require(&self, name: &str) -> Result<usize> {
        self.find(name).ok_or_else(|| {
            let found: Vec<&str> = self
                .header
                .iter()
                .filter(|h| !h.is_empty())
                .map(String::as_str)
                .collect();
            Error::file(
                &self.path,
                Some(1),
                format!("missing column '{name}' (found: {})", found.join(", ")),
            )
        })
    }

    /// Whether the first column is a pandas index (unnamed, or named by pandas `Unnamed: 0`).
    fn header_has_index(&self) -> bool {
        self.header
            .first()
            .is_some_and(|h| h.is_empty() || h.starts_with("Unnamed:"))
    }

    /// The next data row, or `None` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<Row>> {
        let mut record = StringRecord::new();
        let more = self
            .reader
            .read_record(&mut record)
            .map_err(|e| csv_error(&self.path, e))?;
        if !more {
            return Ok(None);
        }
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        let columns = self.header.len();
        let offset = match self.offset {
            Some(offset) => offset,
            None if record.len() == columns => 0,
            None if record.len() == columns + 1 => 1,
            None => {
                return Err(self.error(
                    line,
                    format!(
                        "expected {columns} fields like the header, found {}",
                        record.len()
                    ),
                ))
            }
        };
        self.offset = Some(offset);
        if record.len() != columns + offset {
            return Err(self.error(
                line,
                format!(
                    "expected {} fields like the rows above, found {}",
                    columns + offset,
                    record.len()
                ),
            ));
        }
        Ok(Some(Row {
            line,
            record,
            offset,
        }))
    }

    /// The cell of `row` under header column `column`.
    pub fn cell<'r>(&self, row: &'r Row, column: usize) -> &'r str {
        row.record.get(column + row.offset).unwrap_or("").trim()
    }

    /// The row's pandas index when the file has one.
    pub fn index<'r>(&self, row: &'r Row) -> Option<&'r str> {
        if row.offset == 1 || self.header_has_index() {
            row.record.get(0).map(str::trim)
        } else {
            None
        }
    }

    pub fn error(&self, line: usize, message: impl Into<String>) -> Error {
        Error::file(&self.path, Some(line), message)
    }

    /// Parses a number in column `column`, naming the column when it is not one.
    pub fn f64(&self, row: &Row, column: usize) -> Result<f64> {
        let cell = self.cell(row, column);
        cell.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| {
                self.error(
                    row.line,
                    format!(
                        "expected a number for {}, found '{cell}'",
                        self.header[column]
                    ),
                )
            })
    }

    /// Parses a whole number in column `column` (pandas may write `3.0` for 3).
    pub fn int(&self, row: &Row, column: usize) -> Result<i64> {
        let cell = self.cell(row, column);
        parse_int(cell).ok_or_else(|| {
            self.error(
                row.line,
                format!(
                    "expected a whole number for {}, found '{cell}'",
                    self.header[column]
                ),
            )
        })
    }

    /// Parses a 0/1 flag in column `column`.
    pub fn flag(&self, row: &Row, column: usize) -> Result<bool> {
        match parse_int(self.cell(row, column)) {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err(self.error(
                row.line,
                format!(
                    "expected 0 or 1 for {}, found '{}'",
                    self.header[column],
                    self.cell(row, column)
                ),
            )),
        }
    }

    /// A cell that must not be empty.
    pub fn text<'r>(&self, row: &'r Row, column: usize) -> Result<&'r str> {
        let cell = self.cell(row, column);
        if cell.is_empty() {
            return Err(self.error(
                row.line,
                format!("empty {} (expected text)", self.header[column]),
            ));
        }
        Ok(cell)
    }
}

/// A whole number, also when written as an integral float (`5.0`, as pandas does for columns
/// that hold missing values).
pub fn parse_int(cell: &str) -> Option<i64> {
    let cell = cell.trim();
    if let Ok(n) = cell.parse::<i64>() {
        return Some(n);
    }
    let x = cell.parse::<f64>().ok()?;
    (x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15).then_some(x as i64)
}

fn csv_error(path: &Path, err: csv::Error) -> Error {
    let line = err.position().map(|p| p.line() as usize);
    let message = match err.kind() {
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8 (expected a UTF-8 text file)".to_string(),
        csv::ErrorKind::Io(e) => format!("cannot read: {e}"),
        _ => format!("malformed table: {err}"),
    };
    Error::file(path, line, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testdata::file_with;

    fn rows(table: &mut Table) -> Vec<Row> {
        let mut out = Vec::new();
        while let Some(row) = table.next_row().unwrap() {
            out.push(row);
        }
        out
    }

    #[test]
    fn finds_columns_with_or_without_a_named_index_column() {
        let (_d, with) = file_with("a.tsv", "\tName\tX\n7\ta\t1\n9\tb\t2\n");
        let mut t = Table::open_tsv(&with).unwrap();
        let x = t.require("x").unwrap();
        let r = rows(&mut t);
        assert_eq!(
            (t.index(&r[1]), t.cell(&r[1], x), r[1].line),
            (Some("9"), "2", 3)
        );

        let (_d, without) = file_with("b.tsv", "Name\tX\n7\ta\t1\n");
        let mut t = Table::open_tsv(&without).unwrap();
        let name = t.require("NAME").unwrap();
        let r = rows(&mut t);
        assert_eq!((t.index(&r[0]), t.cell(&r[0], name)), (Some("7"), "a"));

        let (_d, plain) = file_with("c.tsv", "Name\tX\na\t1\n");
        let mut t = Table::open_tsv(&plain).unwrap();
        let r = rows(&mut t);
        assert_eq!(t.index(&r[0]), None);
    }

    #[test]
    fn ragged_rows_and_missing_columns_name_file_line_and_expectation() {
        let (_d, path) = file_with("r.tsv", "Name\tX\na\t1\nb\t2\t3\t4\n");
        let mut t = Table::open_tsv(&path).unwrap();
        assert!(t.next_row().unwrap().is_some());
        let err = t.next_row().err().unwrap().to_string();
        assert!(
            err.contains("r.tsv line 3: expected 2 fields like the rows above, found 4"),
            "{err}"
        );
        let err = t.require("Y").unwrap_err().to_string();
        assert!(
            err.contains("r.tsv line 1: missing column 'Y' (found: Name, X)"),
            "{err}"
        );
        let missing = path.with_file_name("nope.tsv");
        let err = Table::open_tsv(&missing).err().unwrap().to_string();
        assert!(err.contains("nope.tsv: cannot open"), "{err}");
    }

    #[test]
    fn integral_floats_count_as_whole_numbers() {
        assert_eq!(parse_int("5.0"), Some(5));
        assert_eq!(parse_int(" 7 "), Some(7));
        assert_eq!(parse_int("5.5"), None);
        assert_eq!(parse_int(""), None);
    }
}
