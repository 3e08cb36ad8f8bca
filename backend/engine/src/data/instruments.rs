//! Public-domain questionnaires under `instruments/`: the 50-item IPIP Big-Five markers
//! (`ipip50_items.tsv`: `item`, `trait`, `key` `+`/`-`, `text`).

use super::table::Table;
use crate::{Error, Result};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpipItem {
    pub number: usize,
    /// Extraversion, Agreeableness, Conscientiousness, Emotional stability or Intellect/Imagination.
    pub trait_name: String,
    /// `-` items are scored 6 − answer on the 1..5 scale.
    pub reversed: bool,
    pub text: String,
}

pub fn read_ipip50(path: &Path) -> Result<Vec<IpipItem>> {
    let mut table = Table::open_tsv(path)?;
    let item = table.require("item")?;
    let trait_col = table.require("trait")?;
    let key = table.require("key")?;
    let text = table.require("text")?;
    let mut items = Vec::new();
    while let Some(row) = table.next_row()? {
        let number = table.int(&row, item)?;
        let number = usize::try_from(number)
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| {
                table.error(row.line, format!("item number {number} is not positive"))
            })?;
        let reversed = match table.cell(&row, key) {
            "+" => false,
            "-" => true,
            other => return Err(table.error(row.line, format!("key '{other}' (expected + or -)"))),
        };
        items.push(IpipItem {
            number,
            trait_name: table.text(&row, trait_col)?.to_string(),
            reversed,
            text: table.text(&row, text)?.to_string(),
        });
    }
    if items.is_empty() {
        return Err(Error::file(
            path,
            None,
            "no items (expected one row per item after the header)",
        ));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testdata::{file_with, shared_data};

    #[test]
    fn reads_50_items_ten_per_trait() {
        let items = read_ipip50(&shared_data().ipip50_items_tsv()).unwrap();
        assert_eq!(items.len(), 50);
        assert_eq!(
            items
                .iter()
                .filter(|i| i.trait_name == "Extraversion")
                .count(),
            10
        );
        assert!(items[1].reversed && !items[0].reversed);
        let (_d, path) = file_with("i.tsv", "item\ttrait\tkey\ttext\n1\tExtraversion\t?\tHi.\n");
        let err = read_ipip50(&path).unwrap_err().to_string();
        assert!(
            err.contains("i.tsv line 2: key '?' (expected + or -)"),
            "{err}"
        );
    }
}
