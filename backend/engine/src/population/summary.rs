//! What ranks a simulated population against people: `summary.json` of a simulation, and the
//! table that ranks several (`valuelab report` over simulation folders).

use super::{InstrumentKind, Strategy};
use crate::eval::Method;
use crate::output::read_json;
use crate::Result;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub const SUMMARY_FILE: &str = "summary.json";

/// The figures that rank a population against people (`summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationSummary {
    pub strategy: Strategy,
    pub method: Method,
    pub model: String,
    pub n: usize,
    /// Distinct persona texts asked.
    pub speakers: usize,
    pub instruments: Vec<InstrumentKind>,
    pub matrix_r_raw: Option<f64>,
    pub matrix_r_centred: Option<f64>,
    pub procrustes_congruence: Option<f64>,
    pub checks_passed: usize,
    pub checks_total: usize,
    /// Mean over the values of the Wasserstein distance to the people's scores (1..6 scale).
    pub wasserstein_mean: Option<f64>,
    /// Pearson r of the value–behaviour table against the human one, where one was given.
    pub relations_r: Option<f64>,
    /// The reference's own split-half agreement (raw, centred): the ceiling.
    pub ceiling_raw: Option<f64>,
    pub ceiling_centred: Option<f64>,
    /// Share of the people without a dominant value at the job's gap.
    pub human_without_dominant: f64,
    pub reference: String,
}

/// Reads a finished simulation's `summary.json`.
pub fn read_summary(dir: &Path) -> Result<SimulationSummary> {
    read_json(&dir.join(SUMMARY_FILE), "simulation summary")
}

/// Whether `dir` holds a finished simulation.
pub fn is_simulation(dir: &Path) -> bool {
    dir.join(SUMMARY_FILE).is_file()
}

fn figure(x: Option<f64>) -> String {
    x.map_or("–".into(), |x| format!("{x:.3}"))
}

/// Simulations best first: by the raw matrix r against people (undefined last), then by the
/// centred r.
pub fn rank(mut rows: Vec<(PathBuf, SimulationSummary)>) -> Vec<(PathBuf, SimulationSummary)> {
    let key = |x: Option<f64>| x.unwrap_or(f64::NEG_INFINITY);
    rows.sort_by(|a, b| {
        key(b.1.matrix_r_raw)
            .total_cmp(&key(a.1.matrix_r_raw))
            .then(key(b.1.matrix_r_centred).total_cmp(&key(a.1.matrix_r_centred)))
    });
    rows
}

/// The ranking as a Markdown table, with the human ceiling beside it.
pub fn ranking_markdown(ranked: &[(PathBuf, SimulationSummary)]) -> String {
    let mut md = String::from(
        "## Population strategies against people\n\n\
         | rank | strategy | method | model | n | matrix r (raw) | matrix r (centred) | Procrustes | theory checks | Wasserstein (1..6) | value–behaviour r | folder |\n\
         | ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n",
    );
    for (k, (dir, s)) in ranked.iter().enumerate() {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {}/{} | {} | {} | {} |",
            k + 1,
            s.strategy,
            s.method,
            Path::new(&s.model)
                .file_name()
                .map_or(s.model.clone(), |n| n.to_string_lossy().into_owned()),
            s.n,
            figure(s.matrix_r_raw),
            figure(s.matrix_r_centred),
            figure(s.procrustes_congruence),
            s.checks_passed,
            s.checks_total,
            figure(s.wasserstein_mean),
            figure(s.relations_r),
            dir.display()
        );
    }
    if let Some((_, s)) = ranked.first() {
        let _ = writeln!(
            md,
            "\nCeiling: two halves of {} agree at r = {} (raw), {} (centred).",
            s.reference,
            figure(s.ceiling_raw),
            figure(s.ceiling_centred)
        );
    }
    md
}

/// The ranking as CSV.
pub fn ranking_csv(ranked: &[(PathBuf, SimulationSummary)]) -> String {
    let mut csv = String::from("rank,strategy,method,model,n,matrix_r_raw,matrix_r_centred,procrustes,checks_passed,checks_total,wasserstein_mean,relations_r,ceiling_raw,ceiling_centred,folder\n");
    let f = |x: Option<f64>| x.map_or(String::new(), |x| format!("{x:.4}"));
    for (k, (dir, s)) in ranked.iter().enumerate() {
        let _ = writeln!(
            csv,
            "{},{},{},\"{}\",{},{},{},{},{},{},{},{},{},{},\"{}\"",
            k + 1,
            s.strategy,
            s.method,
            s.model.replace('"', "\"\""),
            s.n,
            f(s.matrix_r_raw),
            f(s.matrix_r_centred),
            f(s.procrustes_congruence),
            s.checks_passed,
            s.checks_total,
            f(s.wasserstein_mean),
            f(s.relations_r),
            f(s.ceiling_raw),
            f(s.ceiling_centred),
            dir.display().to_string().replace('"', "\"\"")
        );
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(strategy: Strategy, raw: Option<f64>) -> SimulationSummary {
        SimulationSummary {
            strategy,
            method: Method::PromptDominant,
            model: "/models/smollm2.gguf".into(),
            n: 200,
            speakers: 10,
            instruments: vec![InstrumentKind::Pvq40],
            matrix_r_raw: raw,
            matrix_r_centred: Some(0.1),
            procrustes_congruence: Some(0.5),
            checks_passed: 2,
            checks_total: 4,
            wasserstein_mean: Some(1.2),
            relations_r: None,
            ceiling_raw: Some(0.97),
            ceiling_centred: Some(0.98),
            human_without_dominant: 0.5,
            reference: "ess.csv".into(),
        }
    }

    #[test]
    fn strategies_rank_by_matrix_r_with_undefined_last() {
        let ranked = rank(vec![
            (PathBuf::from("u"), summary(Strategy::Uniform, Some(0.794))),
            (PathBuf::from("x"), summary(Strategy::Survey, None)),
            (PathBuf::from("n"), summary(Strategy::HNp, Some(0.828))),
        ]);
        let order: Vec<Strategy> = ranked.iter().map(|(_, s)| s.strategy).collect();
        assert_eq!(
            order,
            vec![Strategy::HNp, Strategy::Uniform, Strategy::Survey]
        );
        let md = ranking_markdown(&ranked);
        assert!(
            md.contains("| 1 | h-np | prompt-dominant | smollm2.gguf | 200 | 0.828 |"),
            "{md}"
        );
        assert!(md.contains("| 3 | survey |") && md.contains("| – |"));
        assert!(md.contains("agree at r = 0.970 (raw), 0.980 (centred)"));
        let csv = ranking_csv(&ranked);
        assert_eq!(csv.lines().count(), 4);
        assert!(csv
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("1,h-np,prompt-dominant,"));
    }
}
