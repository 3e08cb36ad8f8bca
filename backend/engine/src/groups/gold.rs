//! Gold opinions of target groups: each group's mean answer per survey question, rescaled to
//! 0..1, written as a TSV with columns `group`, `code`, `mean`, `n`.

use crate::{Error, Result};
use std::path::Path;

/// The mean of one group's valid (rescaled) answers to one question, over `n` respondents.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupMean {
    pub mean: f64,
    pub n: usize,
}

/// One row of a gold file.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldRow {
    pub group: String,
    pub code: String,
    pub mean: f64,
    pub n: usize,
}

pub const GOLD_HEADER: [&str; 4] = ["group", "code", "mean", "n"];

/// Means of one question's answers per group. `memberships[i]` lists the groups respondent `i`
/// belongs to (a cluster and possibly a country), `answers[i]` is the respondent's answer already
/// rescaled to 0..1, or `None` when missing. With `weights` (the survey's weight of each
/// respondent) the means are weighted; `n` counts respondents either way. A group nobody in it
/// answered (or whose answering members all weigh 0) gets `None`.
pub fn gold_means(
    memberships: &[Vec<usize>],
    group_count: usize,
    answers: &[Option<f64>],
    weights: Option<&[f64]>,
) -> Vec<Option<GroupMean>> {
    let mut sums = vec![0.0; group_count];
    let mut totals = vec![0.0; group_count];
    let mut counts = vec![0usize; group_count];
    for (i, (groups, answer)) in memberships.iter().zip(answers).enumerate() {
        let Some(x) = answer else { continue };
        let w = weights.map_or(1.0, |w| w[i]);
        for &g in groups {
            sums[g] += w * x;
            totals[g] += w;
            counts[g] += 1;
        }
    }
    sums.iter()
        .zip(&totals)
        .zip(&counts)
        .map(|((&s, &t), &n)| (t > 0.0).then(|| GroupMean { mean: s / t, n }))
        .collect()
}

pub fn write_gold(path: &Path, rows: &[GoldRow]) -> Result<()> {
    crate::output::write_atomically(path, |out| {
        let mut writer = csv::WriterBuilder::new().delimiter(b'\t').from_writer(out);
        let write_err = |e: csv::Error| Error::file(path, None, format!("cannot write: {e}"));
        writer.write_record(GOLD_HEADER).map_err(write_err)?;
        for r in rows {
            // Six decimals keep the means exact to well below any error that matters.
            let mean = format!("{:.6}", r.mean);
            writer
                .write_record([r.group.as_str(), r.code.as_str(), &mean, &r.n.to_string()])
                .map_err(write_err)?;
        }
        writer.flush()?;
        Ok(())
    })
}

/// Reads a gold table written by [`write_gold`] (or by hand in the same format).
pub fn read_gold(path: &Path) -> Result<Vec<GoldRow>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .from_path(path)
        .map_err(|e| Error::file(path, None, format!("cannot read the gold table: {e}")))?;
    let header = reader
        .headers()
        .map_err(|e| Error::file(path, Some(1), e.to_string()))?
        .clone();
    if header.iter().collect::<Vec<_>>() != GOLD_HEADER {
        return Err(Error::file(
            path,
            Some(1),
            "expected the header group, code, mean, n (tab-separated)",
        ));
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| Error::file(path, Some(line), e.to_string()))?;
        let mean: f64 = record[2]
            .trim()
            .parse()
            .ok()
            .filter(|m: &f64| (0.0..=1.0).contains(m))
            .ok_or_else(|| {
                Error::file(
                    path,
                    Some(line),
                    format!("mean '{}' is not a number in 0..1", &record[2]),
                )
            })?;
        let n: usize = record[3].trim().parse().map_err(|_| {
            Error::file(
                path,
                Some(line),
                format!("n '{}' is not a count", &record[3]),
            )
        })?;
        rows.push(GoldRow {
            group: record[0].to_string(),
            code: record[1].to_string(),
            mean,
            n,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_count_only_answered_items_and_every_group_of_a_respondent() {
        // Respondent 0 in groups 0 and 2, 1 in group 0, 2 in groups 1 and 2, 3 in group 1 (missing).
        let memberships = vec![vec![0, 2], vec![0], vec![1, 2], vec![1]];
        let answers = [Some(0.2), Some(0.6), Some(1.0), None];
        let means = gold_means(&memberships, 4, &answers, None);
        assert_eq!(
            means[0],
            Some(GroupMean {
                mean: (0.2 + 0.6) / 2.0,
                n: 2
            })
        );
        assert_eq!(means[1], Some(GroupMean { mean: 1.0, n: 1 }));
        assert_eq!(
            means[2],
            Some(GroupMean {
                mean: (0.2 + 1.0) / 2.0,
                n: 2
            })
        );
        assert_eq!(means[3], None);
        // Weighted: respondent 1 counts three times as much as respondent 0; n still counts people.
        let weights = [1.0, 3.0, 0.0, 2.0];
        let means = gold_means(&memberships, 4, &answers, Some(&weights));
        assert_eq!(
            means[0],
            Some(GroupMean {
                mean: (0.2 + 3.0 * 0.6) / 4.0,
                n: 2
            })
        );
        // Group 1's only answer has weight 0: no weighted mean.
        assert_eq!(means[1], None);
        assert_eq!(means[2], Some(GroupMean { mean: 0.2, n: 2 }));
    }

    #[test]
    fn gold_tables_round_trip_and_bad_rows_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gold.tsv");
        let rows = vec![
            GoldRow {
                group: "Group_1".into(),
                code: "ppltrst".into(),
                mean: 0.25,
                n: 4,
            },
            GoldRow {
                group: "AT".into(),
                code: "vote".into(),
                mean: 1.0 / 3.0,
                n: 3,
            },
        ];
        write_gold(&path, &rows).unwrap();
        let back = read_gold(&path).unwrap();
        assert_eq!(back[0], rows[0]);
        assert!((back[1].mean - 1.0 / 3.0).abs() < 1e-6);
        std::fs::write(&path, "group\tcode\tmean\tn\nG\tq\t1.5\t2\n").unwrap();
        let err = read_gold(&path).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("1.5"), "{err}");
    }
}
