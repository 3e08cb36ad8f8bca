//! The 40 items of the Portrait Values Questionnaire (male wording) with the value each scores
//! (`pvq40_items.tsv`: `item`, `value`, `text`).

use super::table::Table;
use crate::{Error, Result};
use std::path::Path;
use valuelab_common::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvqItem {
    /// 1-based item number in the questionnaire.
    pub number: usize,
    pub value: Value,
    pub text: String,
}

/// Items in the PVQ-40.
pub const PVQ40_ITEMS: usize = 40;

/// Reads the PVQ-40 items, sorted by number; the numbers must run 1..=40, each once.
pub fn read_pvq40(path: &Path) -> Result<Vec<PvqItem>> {
    let mut table = Table::open_tsv(path)?;
    let item = table.require("item")?;
    let value = table.require("value")?;
    let text = table.require("text")?;
    let mut items: Vec<PvqItem> = Vec::new();
    while let Some(row) = table.next_row()? {
        let number = table.int(&row, item)?;
        let number = usize::try_from(number)
            .ok()
            .filter(|n| (1..=PVQ40_ITEMS).contains(n))
            .ok_or_else(|| {
                table.error(
                    row.line,
                    format!("item number {number} is outside 1..{PVQ40_ITEMS}"),
                )
            })?;
        if items.iter().any(|i| i.number == number) {
            return Err(table.error(row.line, format!("item {number} appears twice")));
        }
        let cell = table.cell(&row, value);
        let value = cell
            .parse::<Value>()
            .map_err(|e| table.error(row.line, e.to_string()))?;
        items.push(PvqItem {
            number,
            value,
            text: table.text(&row, text)?.to_string(),
        });
    }
    if items.len() != PVQ40_ITEMS {
        let missing: Vec<String> = (1..=PVQ40_ITEMS)
            .filter(|n| !items.iter().any(|i| i.number == *n))
            .map(|n| n.to_string())
            .collect();
        return Err(Error::file(
            path,
            None,
            format!(
                "expected {PVQ40_ITEMS} items, found {} (missing: {})",
                items.len(),
                missing.join(", ")
            ),
        ));
    }
    items.sort_by_key(|i| i.number);
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testdata::{file_with, shared_data};
    use valuelab_common::ALL_VALUES;

    #[test]
    fn reads_40_items_scoring_every_value() {
        let items = read_pvq40(&shared_data().pvq40_items_tsv()).unwrap();
        assert_eq!(items.len(), 40);
        assert_eq!((items[0].number, items[0].value), (1, Value::SelfDirection));
        assert!(items[0].text.starts_with("Thinking up new ideas"));
        assert_eq!(items[39].value, Value::Universalism);
        for value in ALL_VALUES {
            assert!(
                items.iter().filter(|i| i.value == value).count() >= 3,
                "{value}"
            );
        }
    }

    #[test]
    fn wrong_numbers_and_values_name_the_line() {
        let (_d, path) = file_with("p.tsv", "item\tvalue\ttext\n41\tPower\tRich.\n");
        let err = read_pvq40(&path).unwrap_err().to_string();
        assert!(
            err.contains("p.tsv line 2: item number 41 is outside 1..40"),
            "{err}"
        );
        let (_d, path) = file_with("p.tsv", "item\tvalue\ttext\n1\tWealth\tRich.\n");
        let err = read_pvq40(&path).unwrap_err().to_string();
        assert!(
            err.contains("p.tsv line 2: unknown value 'Wealth'"),
            "{err}"
        );
        let (_d, path) = file_with("p.tsv", "item\tvalue\ttext\n1\tPower\tRich.\n");
        let err = read_pvq40(&path).unwrap_err().to_string();
        assert!(
            err.contains("expected 40 items, found 1 (missing: 2, 3,"),
            "{err}"
        );
    }
}
