//! Target groups in the format of the authors' `country_and_group.csv`: tab-separated, a pandas
//! index column, `Country` (the group's name), the ten value scores in `ALL_VALUES` order, and
//! (in files valuelab writes) a `Size` column with the number of respondents.

use super::table::Table;
use crate::{Error, Result};
use std::collections::HashMap;
use std::path::Path;
use valuelab_common::{Value, ValueDistribution, ALL_VALUES, VALUE_COUNT};

#[derive(Debug, Clone, PartialEq)]
pub struct TargetGroup {
    pub name: String,
    pub values: ValueDistribution,
    /// Respondents behind the scores, when known (the authors' file has no sizes).
    pub size: Option<usize>,
}

#[cfg(test)]
impl TargetGroup {
    /// A test group with every value at `level` and no size.
    pub fn flat(name: &str, level: f64) -> TargetGroup {
        TargetGroup {
            name: name.into(),
            values: ValueDistribution::parse([level; VALUE_COUNT]).unwrap(),
            size: None,
        }
    }
}

/// Header of the name column, as in the authors' file.
const NAME_COLUMN: &str = "Country";
const SIZE_COLUMN: &str = "Size";
/// How many names an unknown-group error lists.
const SUGGESTIONS: usize = 8;

pub fn read_groups(path: &Path) -> Result<Vec<TargetGroup>> {
    let mut table = Table::open_tsv(path)?;
    let name_col = table
        .find(NAME_COLUMN)
        .or_else(|| table.find("group"))
        .or_else(|| table.find("name"))
        .ok_or_else(|| table.error(1, "missing column 'Country' (the group name)"))?;
    let value_cols = value_columns(&table)?;
    let size_col = table.find(SIZE_COLUMN);

    let mut groups = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    while let Some(row) = table.next_row()? {
        let name = table.text(&row, name_col)?.to_string();
        if let Some(first) = seen.insert(name.clone(), row.line) {
            return Err(table.error(
                row.line,
                format!("group '{name}' appears twice (first on line {first})"),
            ));
        }
        let mut scores = [0.0; VALUE_COUNT];
        for (score, &col) in scores.iter_mut().zip(value_cols.iter()) {
            *score = table.f64(&row, col)?;
        }
        let values =
            ValueDistribution::parse(scores).map_err(|e| table.error(row.line, e.to_string()))?;
        let size = match size_col {
            Some(col) if !table.cell(&row, col).is_empty() => {
                let n = table.int(&row, col)?;
                Some(
                    usize::try_from(n)
                        .map_err(|_| table.error(row.line, format!("size {n} is negative")))?,
                )
            }
            _ => None,
        };
        groups.push(TargetGroup { name, values, size });
    }
    if groups.is_empty() {
        return Err(Error::file(
            path,
            None,
            "no groups (expected one row per group after the header)",
        ));
    }
    Ok(groups)
}

/// The header positions of the ten value columns, in `ALL_VALUES` order, matched by name.
pub(crate) fn value_columns(table: &Table) -> Result<[usize; VALUE_COUNT]> {
    let mut cols = [usize::MAX; VALUE_COUNT];
    for (i, header) in table.header().iter().enumerate() {
        // `Value::from_str` ignores case and punctuation ("Self-Direction", "SELF_DIRECTION").
        if let Ok(value) = header.parse::<Value>() {
            if cols[value.index()] != usize::MAX {
                return Err(table.error(
                    1,
                    format!("two columns for {value} (expected each value once)"),
                ));
            }
            cols[value.index()] = i;
        }
    }
    let missing: Vec<&str> = ALL_VALUES
        .iter()
        .filter(|v| cols[v.index()] == usize::MAX)
        .map(|v| v.name())
        .collect();
    if !missing.is_empty() {
        return Err(table.error(
            1,
            format!(
                "missing value column(s) {} (expected the ten Schwartz values)",
                missing.join(", ")
            ),
        ));
    }
    Ok(cols)
}

/// Writes `groups` in the authors' format plus a `Size` column (empty where unknown).
pub fn write_groups(path: &Path, groups: &[TargetGroup]) -> Result<()> {
    crate::output::write_atomically(path, |out| {
        let mut header = vec![String::new(), NAME_COLUMN.to_string()];
        header.extend(ALL_VALUES.iter().map(|v| v.name().to_string()));
        header.push(SIZE_COLUMN.to_string());
        let mut writer = csv::WriterBuilder::new().delimiter(b'\t').from_writer(out);
        let write_err = |e: csv::Error| Error::file(path, None, format!("cannot write: {e}"));
        writer.write_record(&header).map_err(write_err)?;
        for (i, group) in groups.iter().enumerate() {
            let mut record = vec![i.to_string(), group.name.clone()];
            // `Display` of f64 is the shortest text that reads back to the same number.
            record.extend(group.values.scores().iter().map(|s| s.to_string()));
            record.push(group.size.map(|n| n.to_string()).unwrap_or_default());
            writer.write_record(&record).map_err(write_err)?;
        }
        writer.flush()?;
        Ok(())
    })
}

/// The group called `name` (exact match first, then case-insensitive).
pub fn find_group<'a>(groups: &'a [TargetGroup], name: &str) -> Result<&'a TargetGroup> {
    let wanted = name.trim();
    if let Some(g) = groups.iter().find(|g| g.name == wanted) {
        return Ok(g);
    }
    if let Some(g) = groups.iter().find(|g| g.name.eq_ignore_ascii_case(wanted)) {
        return Ok(g);
    }
    // Suggest names that share a prefix with the request, else the first few.
    let prefix: String = wanted.chars().take(3).collect::<String>().to_lowercase();
    let mut close: Vec<&str> = groups
        .iter()
        .filter(|g| !prefix.is_empty() && g.name.to_lowercase().starts_with(&prefix))
        .map(|g| g.name.as_str())
        .collect();
    if close.is_empty() {
        close = groups.iter().map(|g| g.name.as_str()).collect();
    }
    let more = if close.len() > SUGGESTIONS {
        ", ..."
    } else {
        ""
    };
    close.truncate(SUGGESTIONS);
    Err(Error::invalid(format!(
        "unknown group '{wanted}' (available: {}{more}; {} groups in all)",
        close.join(", "),
        groups.len()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testdata::{file_with, shared_data};

    const HEADER: &str = "\tCountry\tAchievement\tBenevolence\tConformity\tHedonism\tPower\tSecurity\tSelf-direction\tStimulation\tTradition\tUniversalism\n";

    #[test]
    fn reads_the_authors_file_with_all_128_groups() {
        let groups = read_groups(&shared_data().groups_csv()).unwrap();
        assert_eq!(groups.len(), 128);
        let albania = find_group(&groups, "albania").unwrap();
        assert_eq!(albania.values.score(Value::Benevolence), 5.23);
        assert_eq!(albania.values.score(Value::Universalism), 5.0);
        assert_eq!(albania.size, None);
        assert!(find_group(&groups, "Group_100").is_ok());
        assert_eq!(
            groups
                .iter()
                .filter(|g| g.name.starts_with("Group_"))
                .count(),
            100
        );
    }

    #[test]
    fn out_of_range_scores_name_file_line_and_value() {
        let text = format!(
            "{HEADER}0\tA\t1\t2\t3\t4\t5\t6\t1\t2\t3\t4\n1\tB\t1\t2\t3\t4\t7.2\t6\t1\t2\t3\t4\n"
        );
        let (_d, path) = file_with("groups.tsv", &text);
        let err = read_groups(&path).unwrap_err().to_string();
        assert!(
            err.ends_with("groups.tsv line 3: score 7.2 for Power is outside 1..6"),
            "{err}"
        );
    }

    #[test]
    fn a_header_without_the_index_name_and_in_any_case_is_accepted() {
        let text = "country\tUNIVERSALISM\tachievement\tBenevolence\tConformity\tHedonism\tPower\tSecurity\tSelf-Direction\tStimulation\tTradition\n0\tA\t6\t1\t2\t3\t4\t5\t5\t1\t2\t3\n";
        let (_d, path) = file_with("g.tsv", text);
        let groups = read_groups(&path).unwrap();
        assert_eq!(groups[0].values.score(Value::Universalism), 6.0);
        assert_eq!(groups[0].values.score(Value::Achievement), 1.0);
        assert_eq!(groups[0].values.score(Value::Power), 5.0);
        assert_eq!(groups[0].values.score(Value::SelfDirection), 1.0);
    }

    #[test]
    fn missing_values_bad_numbers_and_duplicates_are_errors() {
        let (_d, path) = file_with("g.tsv", "\tCountry\tPower\n0\tA\t3\n");
        let err = read_groups(&path).unwrap_err().to_string();
        assert!(
            err.contains("g.tsv line 1: missing value column(s) Achievement, Benevolence"),
            "{err}"
        );

        let text = format!("{HEADER}0\tA\t1\t2\tx\t4\t5\t6\t1\t2\t3\t4\n");
        let (_d, path) = file_with("g.tsv", &text);
        let err = read_groups(&path).unwrap_err().to_string();
        assert!(
            err.contains("g.tsv line 2: expected a number for Conformity, found 'x'"),
            "{err}"
        );

        let text = format!(
            "{HEADER}0\tA\t1\t2\t3\t4\t5\t6\t1\t2\t3\t4\n1\tA\t1\t2\t3\t4\t5\t6\t1\t2\t3\t4\n"
        );
        let (_d, path) = file_with("g.tsv", &text);
        let err = read_groups(&path).unwrap_err().to_string();
        assert!(
            err.contains("line 3: group 'A' appears twice (first on line 2)"),
            "{err}"
        );

        let (_d, path) = file_with("g.tsv", HEADER);
        assert!(read_groups(&path)
            .unwrap_err()
            .to_string()
            .contains("no groups"));
    }

    #[test]
    fn written_groups_read_back_identically() {
        let mut groups = read_groups(&shared_data().groups_csv()).unwrap();
        groups.truncate(30);
        groups[0].size = Some(1234);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/groups.tsv");
        write_groups(&path, &groups).unwrap();
        assert_eq!(read_groups(&path).unwrap(), groups);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("\tCountry\tAchievement\t")
                && text.lines().next().unwrap().ends_with("\tSize")
        );
    }

    #[test]
    fn unknown_group_lists_close_names() {
        let groups = read_groups(&shared_data().groups_csv()).unwrap();
        let err = find_group(&groups, "Group_1000").unwrap_err().to_string();
        assert!(
            err.starts_with("unknown group 'Group_1000' (available: Group_1, Group_2"),
            "{err}"
        );
        assert!(err.ends_with("128 groups in all)"), "{err}");
        let err = find_group(&groups, "Atlantis").unwrap_err().to_string();
        assert!(err.contains("Albania"), "{err}");
    }
}
