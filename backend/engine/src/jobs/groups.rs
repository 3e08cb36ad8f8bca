//! `GroupsJob`: target groups from ESS microdata (`build`: respondents' PVQ-21 values clustered
//! with k-means++, plus one group per country; optionally the elbow curve to choose k), and the
//! groups' gold opinions (`gold`: each group's mean answer per question); `rescore` puts the
//! authors' k-means groups on the countries' scale (`rescore_groups`).

use super::progress::{JobEvent, ProgressSink};
use super::rescore_groups::RescoreGroups;
use crate::data::{self, DataDir};
use crate::groups::elbow::{self, ElbowPoint};
use crate::groups::{self, KMeansSettings};
use crate::output::write_atomically;
use crate::{Error, Field, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use valuelab_common::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum GroupsJob {
    Build(BuildGroups),
    Gold(GoldOpinions),
    Rescore(RescoreGroups),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildGroups {
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// ESS microdata (CSV) with the 21 PVQ items.
    pub ess: PathBuf,
    /// Number of value groups (k-means clusters); None with an elbow only.
    #[serde(default)]
    pub k: Option<usize>,
    pub seed: u64,
    /// k-means restarts; the run with the lowest SSE is kept.
    pub runs: usize,
    /// The groups file (None with an elbow only).
    #[serde(default)]
    pub out: Option<PathBuf>,
    /// `K1..K2`: the within-cluster SSE for each k, plotted as SVG.
    #[serde(default)]
    pub elbow: Option<String>,
    /// The elbow plot (None: `<out stem>.elbow.svg` beside `out`).
    #[serde(default)]
    pub elbow_out: Option<PathBuf>,
    /// PVQ-21 scoring key (None: the data directory's).
    #[serde(default)]
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoldOpinions {
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// ESS microdata (CSV) with the 21 PVQ items and the questions' columns.
    pub ess: PathBuf,
    /// Target groups (as written by a build).
    pub groups: PathBuf,
    /// Questions with their answer scales (None: the data directory's).
    #[serde(default)]
    pub questions: Option<PathBuf>,
    /// The gold table (`group`, `code`, `mean`, `n`).
    pub out: PathBuf,
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Survey weight column for weighted means (ESS: `pspwght`); None: every respondent counts
    /// the same.
    #[serde(default)]
    pub weight: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupsOutput {
    /// The elbow curve, when one was asked for.
    pub elbow: Vec<ElbowPoint>,
    /// The file written (groups or gold), if any.
    pub written: Option<PathBuf>,
}

impl GroupsJob {
    pub fn seed(&self) -> Option<u64> {
        match self {
            GroupsJob::Build(b) => Some(b.seed),
            GroupsJob::Gold(_) | GroupsJob::Rescore(_) => None,
        }
    }

    /// The file the job's record goes beside.
    pub fn output_file(&self) -> &Path {
        match self {
            GroupsJob::Build(b) => b
                .out
                .as_deref()
                .or(b.elbow_out.as_deref())
                .unwrap_or(&b.ess),
            GroupsJob::Gold(g) => &g.out,
            GroupsJob::Rescore(r) => &r.out,
        }
    }

    pub fn run(&self, sink: &dyn ProgressSink) -> Result<GroupsOutput> {
        match self {
            GroupsJob::Build(b) => b.run(sink),
            GroupsJob::Gold(g) => g.run(sink),
            GroupsJob::Rescore(r) => r.run(sink),
        }
    }
}

/// The PVQ-21 scoring key: the one named, else the data directory's.
fn read_key(data_dir: Option<&Path>, key: Option<&Path>) -> Result<Vec<(String, Value)>> {
    data::ess::read_pvq21_key(&DataDir::file_or(
        key,
        data_dir,
        DataDir::ess_pvq21_key_tsv,
    )?)
}

fn say(sink: &dyn ProgressSink, text: String) {
    sink.event(&JobEvent::message(text));
}

impl BuildGroups {
    fn run(&self, sink: &dyn ProgressSink) -> Result<GroupsOutput> {
        let key = read_key(self.data_dir.as_deref(), self.key.as_deref())?;
        let table = data::ess::read_ess_csv(&self.ess)?;
        let scored = groups::score_respondents(&table, &key)?;
        say(
            sink,
            format!(
                "scored {} of {} respondents in {} ({} skipped: too few PVQ-21 answers)",
                scored.points.len(),
                scored.points.len() + scored.skipped,
                self.ess.display(),
                scored.skipped
            ),
        );
        let settings = KMeansSettings {
            runs: self.runs,
            ..KMeansSettings::default()
        };
        let mut output = GroupsOutput {
            elbow: Vec::new(),
            written: None,
        };
        if let Some(range) = &self.elbow {
            let ks = elbow::parse_k_range(range)?;
            output.elbow = elbow::elbow(&scored.points, ks, self.seed, &settings)?;
            let svg_path = self.elbow_path()?;
            let svg = elbow::elbow_svg(&output.elbow, &format!("Elbow: {}", file_name(&self.ess)))?;
            write_atomically(&svg_path, |out| Ok(out.write_all(svg.as_bytes())?))?;
            say(
                sink,
                format!("wrote the elbow plot to {}", svg_path.display()),
            );
        }

        let (Some(k), Some(out)) = (self.k, &self.out) else {
            if self.k.is_some() {
                return Err(Error::input(
                    Field::Out,
                    "a number of groups needs an output file to write the groups to",
                ));
            }
            return Ok(output);
        };
        let built = groups::build_groups(&scored, k, self.seed, &settings)?;
        data::groups::write_groups(out, &built.groups)?;
        let countries = built.groups.len() - k;
        say(
            sink,
            format!(
                "wrote {k} value groups{} to {} (within-cluster SSE {:.3})",
                if countries > 0 {
                    format!(" and {countries} country groups")
                } else {
                    String::new()
                },
                out.display(),
                built.sse
            ),
        );
        for g in &built.groups {
            say(sink, format!("  {}\t{}", g.name, g.size.unwrap_or(0)));
        }
        output.written = Some(out.clone());
        Ok(output)
    }

    /// `elbow_out`, else `<out stem>.elbow.svg` beside `out`.
    fn elbow_path(&self) -> Result<PathBuf> {
        if let Some(path) = &self.elbow_out {
            return Ok(path.clone());
        }
        let out = self.out.as_ref().ok_or_else(|| {
            Error::input(
                Field::ElbowOut,
                "the elbow curve needs a file for its plot, or an output file to put the plot beside",
            )
        })?;
        let stem = out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "groups".into());
        Ok(out.with_file_name(format!("{stem}.elbow.svg")))
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

impl GoldOpinions {
    fn run(&self, sink: &dyn ProgressSink) -> Result<GroupsOutput> {
        let key = read_key(self.data_dir.as_deref(), self.key.as_deref())?;
        let questions_path = DataDir::file_or(
            self.questions.as_deref(),
            self.data_dir.as_deref(),
            DataDir::ess_questions_tsv,
        )?;
        let questions = data::ess::read_questions(&questions_path)?;
        let target_groups = data::groups::read_groups(&self.groups)?;
        let table = data::ess::read_ess_csv(&self.ess)?;
        let scored = groups::score_respondents(&table, &key)?;
        let weights = self
            .weight
            .as_deref()
            .map(|column| data::ess::read_weights(&self.ess, column))
            .transpose()?;
        let gold = groups::build_gold(
            &table,
            &scored,
            &target_groups,
            &questions,
            weights.as_deref(),
        )?;
        groups::gold::write_gold(&self.out, &gold.rows)?;

        say(
            sink,
            format!(
                "assigned {} respondents ({} skipped: too few PVQ-21 answers) to {} groups; {}",
                scored.points.len(),
                scored.skipped,
                target_groups.len(),
                match &self.weight {
                    Some(column) => format!("means weighted by {column}"),
                    None => "unweighted means".to_string(),
                }
            ),
        );
        let empty: Vec<String> = target_groups
            .iter()
            .zip(&gold.members)
            .filter(|(_, &n)| n == 0)
            .map(|(g, _)| g.name.clone())
            .collect();
        if !empty.is_empty() {
            say(sink, format!(
                "note: {} groups got no respondents (not a Group_<n> cluster nor a cntry code of the file): {}",
                empty.len(),
                summarise(empty.into_iter())
            ));
        }
        if !gold.coded_from_zero.is_empty() {
            say(
                sink,
                format!(
                    "note: read as coded from 0 (a 0 answer occurs): {}",
                    gold.coded_from_zero.join(", ")
                ),
            );
        }
        if !gold.missing_columns.is_empty() {
            say(
                sink,
                format!(
                    "warning: {} of {} questions have no column in {} and got no gold: {}",
                    gold.missing_columns.len(),
                    questions.len(),
                    self.ess.display(),
                    gold.missing_columns.join(", ")
                ),
            );
        }
        if !gold.unanswered.is_empty() {
            say(
                sink,
                format!(
                    "note: {} (group, question) pairs have no valid answer and no row: {}",
                    gold.unanswered.len(),
                    summarise(gold.unanswered.iter().map(|(g, q)| format!("{g}/{q}")))
                ),
            );
        }
        say(
            sink,
            format!(
                "wrote {} gold means to {}",
                gold.rows.len(),
                self.out.display()
            ),
        );
        Ok(GroupsOutput {
            elbow: Vec::new(),
            written: Some(self.out.clone()),
        })
    }
}

/// The first few items of a long list, then how many more.
fn summarise(items: impl Iterator<Item = String>) -> String {
    const SHOWN: usize = 10;
    let items: Vec<String> = items.collect();
    let more = items.len().saturating_sub(SHOWN);
    let mut text = items.into_iter().take(SHOWN).collect::<Vec<_>>().join(", ");
    if more > 0 {
        text.push_str(&format!(", ... ({more} more)"));
    }
    text
}
