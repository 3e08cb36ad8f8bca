//! `valuelab data check`: load every file of a data directory with its loader and say what it
//! holds, or why it cannot be used.

use super::dir::DataDir;
use super::golden::{read_golden_labels, GOLDEN_THRESHOLD};
use super::groups::{read_groups, TargetGroup};
use super::touche::{read_arguments, Split, Stance};
use super::{ess, instruments, pvq, valuenet};
use crate::Result;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use valuelab_common::vim_rule::{rule_score, Rule};

/// The result of checking one file (or the ValueNet folder).
#[derive(Debug, Clone, PartialEq)]
pub enum CheckStatus {
    /// Loaded; what it holds.
    Found(String),
    /// Not there. `fetchable` files come with `valuelab data fetch`; the others (converted from
    /// the authors' xlsx files, or survey microdata) have to be copied from a full data directory.
    Missing { fetchable: bool },
    /// There but unusable; the loader's message (file, line, expectation).
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileCheck {
    /// Relative to the data directory.
    pub path: PathBuf,
    pub status: CheckStatus,
}

impl FileCheck {
    /// Invalid files and missing files that every command needs are problems; a missing
    /// optional file only disables the tasks that read it.
    pub fn is_problem(&self) -> bool {
        matches!(
            self.status,
            CheckStatus::Invalid(_) | CheckStatus::Missing { fetchable: true }
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DataReport {
    pub root: PathBuf,
    pub files: Vec<FileCheck>,
}

impl DataReport {
    pub fn problems(&self) -> Vec<&FileCheck> {
        self.files.iter().filter(|f| f.is_problem()).collect()
    }

    pub fn is_ok(&self) -> bool {
        self.problems().is_empty()
    }
}

impl fmt::Display for DataReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "data directory {}", self.root.display())?;
        for file in &self.files {
            let path = file.path.display();
            match &file.status {
                CheckStatus::Found(what) => writeln!(f, "  ok       {path}: {what}")?,
                CheckStatus::Missing { fetchable: true } => {
                    writeln!(f, "  MISSING  {path} (run `valuelab data fetch`, or use a full copy of the data)")?
                }
                CheckStatus::Missing { fetchable: false } => writeln!(
                    f,
                    "  missing  {path} (optional; not downloadable: copy it from a full data directory to run the tasks that use it)"
                )?,
                CheckStatus::Invalid(why) => writeln!(f, "  INVALID  {path}: {why}")?,
            }
        }
        let problems = self.problems().len();
        if problems == 0 {
            write!(f, "all required files are usable")
        } else {
            write!(f, "{problems} problem(s)")
        }
    }
}

/// Loads every file of `dir`. Problems are recorded in the report, not returned as errors, so
/// that one bad file does not hide the state of the others.
pub fn check(dir: &DataDir) -> Result<DataReport> {
    let mut files = Vec::new();
    let mut run =
        |path: PathBuf, fetchable: bool, load: &mut dyn FnMut(&Path) -> Result<String>| {
            let status = if !path.exists() {
                CheckStatus::Missing { fetchable }
            } else {
                match load(&path) {
                    Ok(what) => CheckStatus::Found(what),
                    Err(e) => CheckStatus::Invalid(e.to_string()),
                }
            };
            let relative = path.strip_prefix(dir.root()).unwrap_or(&path).to_path_buf();
            files.push(FileCheck {
                path: relative,
                status,
            });
        };

    let mut groups: Option<Vec<TargetGroup>> = None;
    run(dir.groups_csv(), true, &mut |p| {
        let loaded = read_groups(p)?;
        let clusters = loaded
            .iter()
            .filter(|g| g.name.starts_with("Group_"))
            .count();
        let what = format!(
            "{} groups ({} countries, {clusters} clusters)",
            loaded.len(),
            loaded.len() - clusters
        );
        groups = Some(loaded);
        Ok(what)
    });
    run(dir.arguments_csv(), true, &mut |p| {
        let args = read_arguments(p)?;
        let favor = args
            .iter()
            .filter(|a| a.stance == Stance::InFavorOf)
            .count();
        Ok(format!(
            "{} arguments ({favor} in favor of, {} against)",
            args.len(),
            args.len() - favor
        ))
    });
    for split in Split::ALL {
        run(dir.split_csv(split), true, &mut |p| {
            Ok(format!(
                "{} arguments ({split} split)",
                read_arguments(p)?.len()
            ))
        });
    }
    run(dir.valuenet_dir(), true, &mut |p| {
        let scenarios = valuenet::read_valuenet(p)?;
        let positive = scenarios.iter().filter(|s| s.label > 0).count();
        Ok(format!(
            "{} scenarios in 20 files ({positive} positive, {} negative)",
            scenarios.len(),
            scenarios.len() - positive
        ))
    });
    run(dir.ess_questions_tsv(), false, &mut |p| {
        let questions = ess::read_questions(p)?;
        let mut chapters: BTreeMap<&str, usize> = BTreeMap::new();
        for q in &questions {
            *chapters.entry(q.chapter.as_str()).or_default() += 1;
        }
        let per: Vec<String> = chapters.iter().map(|(c, n)| format!("{c} {n}")).collect();
        Ok(format!(
            "{} questions ({})",
            questions.len(),
            per.join(", ")
        ))
    });
    run(dir.pvq40_items_tsv(), false, &mut |p| {
        Ok(format!("{} PVQ-40 items", pvq::read_pvq40(p)?.len()))
    });
    let mut key: Option<Vec<(String, valuelab_common::Value)>> = None;
    run(dir.ess_pvq21_key_tsv(), false, &mut |p| {
        let loaded = ess::read_pvq21_key(p)?;
        let what = format!("{} PVQ-21 items", loaded.len());
        key = Some(loaded);
        Ok(what)
    });
    run(dir.golden_ag_labels_tsv(), false, &mut |p| {
        golden_summary(p, groups.as_deref())
    });
    run(dir.ess_responses_csv(), false, &mut |p| {
        let table = ess::read_ess_csv(p)?;
        let mut what = format!(
            "{} respondents, {} numeric columns",
            table.len(),
            table.columns.len()
        );
        if let Some(key) = &key {
            let found = key
                .iter()
                .filter(|(v, _)| table.column(v).is_some())
                .count();
            what.push_str(&format!(", {found} of the {} PVQ-21 items", key.len()));
        }
        Ok(what)
    });
    run(dir.ipip50_items_tsv(), false, &mut |p| {
        let items = instruments::read_ipip50(p)?;
        let mut traits: Vec<&str> = items.iter().map(|i| i.trait_name.as_str()).collect();
        traits.sort_unstable();
        traits.dedup();
        Ok(format!(
            "{} IPIP items ({} traits)",
            items.len(),
            traits.len()
        ))
    });
    Ok(DataReport {
        root: dir.root().to_path_buf(),
        files,
    })
}

/// Counts the released labels per group and checks each against the mean rule.
fn golden_summary(path: &Path, groups: Option<&[TargetGroup]>) -> Result<String> {
    let labels = read_golden_labels(path)?;
    let mut per_group: BTreeMap<&str, usize> = BTreeMap::new();
    for label in &labels {
        *per_group.entry(label.group.as_str()).or_default() += 1;
    }
    let counts: Vec<String> = per_group.iter().map(|(g, n)| format!("{g} {n}")).collect();
    let mut what = format!(
        "{} labels for {} groups ({})",
        labels.len(),
        per_group.len(),
        counts.join(", ")
    );
    let Some(groups) = groups else {
        what.push_str("; not compared with the mean rule (no usable groups file)");
        return Ok(what);
    };
    for label in &labels {
        let group = super::groups::find_group(groups, &label.group)
            .map_err(|e| crate::Error::file(path, Some(label.line), e.to_string()))?;
        let score = rule_score(Rule::Mean, &label.values, &group.values).ok_or_else(|| {
            crate::Error::file(
                path,
                Some(label.line),
                "no value column set (expected at least one 1)",
            )
        })?;
        if (score - label.score).abs() > 1e-9 || (score >= GOLDEN_THRESHOLD) != label.would_say {
            return Err(crate::Error::file(
                path,
                Some(label.line),
                format!(
                    "score {} / label {} disagree with the mean rule on the groups file ({score}, threshold {GOLDEN_THRESHOLD})",
                    label.score,
                    if label.would_say { "pos" } else { "neg" }
                ),
            ));
        }
    }
    what.push_str("; all match the mean rule at threshold 3");
    Ok(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_data_checks_clean_with_the_published_counts() {
        let report = check(&crate::data::testdata::shared_data()).unwrap();
        let text = report.to_string();
        assert!(report.is_ok(), "{text}");
        assert_eq!(report.files.len(), 12);
        for expected in [
            "vim/country_and_group.csv: 128 groups (28 countries, 100 clusters)",
            "vim/valueEval_10.csv: 7374 arguments",
            "vim/argument_generation/train.csv: 3818 arguments",
            "vim/argument_generation/valid.csv: 424 arguments",
            "vim/argument_generation/test.csv: 3132 arguments",
            "vim/valuenet: 500 scenarios in 20 files (250 positive, 250 negative)",
            "151 questions (media_and_social_trust 5, personal_and_social_well-being 39, politics 34, subjective_well-being 28, understanding_democracy 45)",
            "40 PVQ-40 items",
            "21 PVQ-21 items",
            "29694 labels for 7 groups (Albania 4242,",
            "all match the mean rule",
            "22190 respondents, 22 numeric columns, 21 of the 21 PVQ-21 items",
            "50 IPIP items (5 traits)",
        ] {
            assert!(text.contains(expected), "missing '{expected}' in:\n{text}");
        }
    }

    #[test]
    fn a_broken_file_is_named_and_optional_files_may_be_missing() {
        let root = tempfile::tempdir().unwrap();
        let vim = root.path().join("vim");
        std::fs::create_dir_all(vim.join("argument_generation")).unwrap();
        let shared = crate::data::testdata::shared_data();
        std::fs::copy(shared.arguments_csv(), vim.join("valueEval_10.csv")).unwrap();
        std::fs::write(
            vim.join("country_and_group.csv"),
            "\tCountry\tPower\n0\tA\t3\n",
        )
        .unwrap();
        let report = check(&DataDir::new(root.path()).unwrap()).unwrap();
        let text = report.to_string();
        assert!(!report.is_ok());
        assert!(
            text.contains("INVALID  vim/country_and_group.csv: "),
            "{text}"
        );
        assert!(
            text.contains("country_and_group.csv line 1: missing value column(s) Achievement"),
            "{text}"
        );
        assert!(
            text.contains("ok       vim/valueEval_10.csv: 7374 arguments"),
            "{text}"
        );
        assert!(
            text.contains("MISSING  vim/argument_generation/train.csv"),
            "{text}"
        );
        assert!(
            text.contains("missing  vim/pvq40_items.tsv (optional"),
            "{text}"
        );
        let problems: Vec<String> = report
            .problems()
            .iter()
            .map(|p| p.path.display().to_string())
            .collect();
        assert_eq!(
            problems,
            [
                "vim/country_and_group.csv",
                "vim/argument_generation/train.csv",
                "vim/argument_generation/valid.csv",
                "vim/argument_generation/test.csv",
                "vim/valuenet"
            ]
        );
    }
}
