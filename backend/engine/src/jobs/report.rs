//! `ReportJob`: tables and plots for finished evaluation runs — `report.json`, `report.md` and
//! SVG plots, every method scored against the value-blind and value-regression baselines — and,
//! for simulation folders among them, one table that ranks the populations against people
//! (`populations.md`, `populations.csv`).

use super::progress::{JobEvent, ProgressSink};
use crate::eval::report::{self, ridge, ReportOptions};
use crate::population::summary;
use crate::{Error, Field, Result, ResultExt};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportJob {
    /// Run folders of evaluation jobs (each holding results.json) and of simulations (each
    /// holding summary.json).
    pub dirs: Vec<PathBuf>,
    /// Where the report goes (None: `report/` beside the first run folder).
    #[serde(default)]
    pub out: Option<PathBuf>,
    /// Two groups to contrast on PVQ and ValueNet (None: the two with the farthest targets).
    #[serde(default)]
    pub pair: Option<(String, String)>,
    /// Ridge penalty of the value-regression baseline, on standardised value scores.
    #[serde(default = "default_lambda")]
    pub ridge_lambda: f64,
}

fn default_lambda() -> f64 {
    ridge::DEFAULT_LAMBDA
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReportOutput {
    /// The tables as Markdown (also in `report.md`).
    pub markdown: String,
    /// Every file written.
    pub files: Vec<PathBuf>,
    pub out: PathBuf,
}

impl ReportJob {
    /// The report folder.
    pub fn out_dir(&self) -> PathBuf {
        match (&self.out, self.dirs.first()) {
            (Some(out), _) => out.clone(),
            (None, Some(first)) => report::default_out_dir(first),
            (None, None) => PathBuf::from("report"),
        }
    }

    pub fn run(&self, sink: &dyn ProgressSink) -> Result<ReportOutput> {
        if !(self.ridge_lambda > 0.0 && self.ridge_lambda.is_finite()) {
            return Err(Error::input(
                Field::RidgeLambda,
                format!(
                    "the ridge penalty {} must be a positive number (the default {} suits 8 to 128 groups)",
                    self.ridge_lambda,
                    ridge::DEFAULT_LAMBDA
                ),
            ));
        }
        if self.dirs.is_empty() {
            return Err(Error::invalid("a report needs at least one run folder"));
        }
        let (simulations, runs): (Vec<&PathBuf>, Vec<&PathBuf>) =
            self.dirs.iter().partition(|d| summary::is_simulation(d));
        let out = self.out_dir();
        let mut markdown = String::new();
        let mut files = Vec::new();
        if !runs.is_empty() {
            let runs: Vec<PathBuf> = runs.into_iter().cloned().collect();
            let runs = report::load_runs(&runs).context(|| "cannot read the runs".to_string())?;
            let options = ReportOptions {
                pair: self.pair.clone(),
                ridge_lambda: self.ridge_lambda,
            };
            let built = report::build_report(&runs, &options)?;
            files = report::write_report(&built, &out)
                .context(|| format!("cannot write the report into {}", out.display()))?;
            markdown = report::markdown::render(&built);
        }
        if !simulations.is_empty() {
            let rows = simulations
                .into_iter()
                .map(|d| Ok((d.clone(), summary::read_summary(d)?)))
                .collect::<Result<Vec<_>>>()?;
            let ranked = summary::rank(rows);
            let table = summary::ranking_markdown(&ranked);
            for (name, text) in [
                ("populations.md", table.clone()),
                ("populations.csv", summary::ranking_csv(&ranked)),
            ] {
                let path = out.join(name);
                crate::output::write_atomically(&path, |w| Ok(w.write_all(text.as_bytes())?))?;
                files.push(path);
            }
            if !markdown.is_empty() {
                markdown.push('\n');
            }
            markdown.push_str(&table);
        }
        sink.event(&JobEvent::message(format!(
            "wrote {} files into {} (report.md, report.json, SVG plots; populations.md for simulations)",
            files.len(),
            out.display()
        )));
        Ok(ReportOutput {
            markdown,
            files,
            out,
        })
    }
}
