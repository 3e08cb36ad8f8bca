//! The files of a value-structure analysis, written atomically into one folder: the report as
//! JSON, the two matrices as CSV, the circumplex and a heat map as SVG, and a Markdown summary
//! (the text `valuelab structure` prints).

use super::plots::{circumplex_svg, heat_map_svg};
use super::{CorrelationMatrix, StructureReport};
use crate::output::write_atomically;
use crate::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use valuelab_common::ALL_VALUES;

pub const REPORT_JSON: &str = "structure.json";
pub const SUMMARY_MD: &str = "structure.md";
pub const CIRCUMPLEX_SVG: &str = "circumplex.svg";
pub const MATRIX_SVG: &str = "matrix.svg";
pub const MATRIX_CSV: &str = "matrix.csv";
pub const REFERENCE_MATRIX_CSV: &str = "reference_matrix.csv";

/// Writes every file into `dir` (created if needed) and returns their paths.
pub fn write_structure(dir: &Path, report: &StructureReport) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let treatment = treatment(report.centred);
    let note = match (report.matrix_r, &report.procrustes) {
        (Some(r), Some(p)) => format!(
            "{treatment} · matrix r vs {} = {r:.3} · Procrustes congruence {:.3}",
            report.reference.label, p.correlation
        ),
        _ => format!("{treatment} · no comparison: some value has no variance"),
    };
    let mut files = vec![
        (REPORT_JSON, serde_json::to_string_pretty(report)? + "\n"),
        (SUMMARY_MD, summary(report)),
        (MATRIX_CSV, matrix_csv(&report.matrix)),
        (REFERENCE_MATRIX_CSV, matrix_csv(&report.reference.matrix)),
        (
            MATRIX_SVG,
            heat_map_svg(
                &format!("{}: value correlations ({treatment})", report.label),
                &names(),
                &names(),
                &report
                    .matrix
                    .0
                    .iter()
                    .map(|r| r.to_vec())
                    .collect::<Vec<_>>(),
            )?,
        ),
    ];
    let sample_points = report
        .procrustes
        .as_ref()
        .map(|p| p.aligned.clone())
        .or_else(|| report.mds.as_ref().map(|m| m.points.clone()));
    if let Some(points) = sample_points {
        let reference = report.reference.mds.as_ref().map(|m| &m.points);
        let title = format!("{}: values in the MDS plane", report.label);
        files.push((
            CIRCUMPLEX_SVG,
            circumplex_svg(&title, &points, reference, &note)?,
        ));
    }
    files
        .into_iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            write_atomically(&path, |w| Ok(w.write_all(text.as_bytes())?))?;
            Ok(path)
        })
        .collect()
}

fn names() -> Vec<String> {
    ALL_VALUES.iter().map(|v| v.name().to_string()).collect()
}

fn treatment(centred: bool) -> &'static str {
    if centred {
        "centred"
    } else {
        "raw"
    }
}

fn matrix_csv(matrix: &CorrelationMatrix) -> String {
    let rows: Vec<Vec<f64>> = matrix.0.iter().map(|r| r.to_vec()).collect();
    correlation_csv(&names(), &rows)
}

/// A table of correlations with a row per value (`value,<column>,...`), four decimals, blank
/// where undefined: the layout of `matrix.csv` and of a simulation's `relations.csv`.
pub fn correlation_csv(columns: &[String], rows: &[Vec<f64>]) -> String {
    let mut text = format!("value,{}\n", columns.join(","));
    for (v, row) in ALL_VALUES.iter().zip(rows) {
        let cells: Vec<String> = row
            .iter()
            .map(|r| {
                if r.is_nan() {
                    String::new()
                } else {
                    format!("{r:.4}")
                }
            })
            .collect();
        let _ = writeln!(text, "{},{}", v.name(), cells.join(","));
    }
    text
}

fn figure(x: Option<f64>) -> String {
    x.map_or("undefined".into(), |x| format!("{x:.3}"))
}

/// The Markdown summary: the comparison, the ceiling, the checks and the dominant shares.
pub fn summary(report: &StructureReport) -> String {
    let reference = &report.reference;
    let mut md = format!(
        "# Value structure of {}\n\n{} respondents ({} left out); matrices {}.\n\n",
        report.label,
        report.n,
        report.skipped,
        treatment(report.centred)
    );
    if !report.constant_values.is_empty() {
        let _ = writeln!(
            md,
            "No variance across respondents in {}: their correlations are undefined, so the matrix r and the MDS plane are too.\n",
            report.constant_values.join(", ")
        );
    }
    md.push_str("| comparison | raw r | centred r |\n| --- | ---: | ---: |\n");
    let _ = writeln!(
        md,
        "| {} vs {} (matrix r, 45 pairs) | {} | {} |",
        report.label,
        reference.label,
        figure(report.matrix_r_raw),
        figure(report.matrix_r_centred)
    );
    let _ = writeln!(
        md,
        "| ceiling: two halves of {} ({} respondents) | {} | {} |\n",
        reference.label,
        reference.n,
        figure(reference.split_half_r_raw),
        figure(reference.split_half_r_centred)
    );
    if let Some(p) = &report.procrustes {
        let _ = writeln!(
            md,
            "Procrustes (MDS plane onto the reference's): congruence {:.3}, m² {:.3}, rotation {:.0}°{}, scale {:.2}.\n",
            p.correlation,
            p.m2,
            p.rotation_deg,
            if p.reflection { ", mirrored" } else { "" },
            p.scale
        );
    }
    md.push_str("| theory check | sample | reference |\n| --- | --- | --- |\n");
    for (mine, theirs) in report.checks.iter().zip(&reference.checks) {
        let verdict = |c: &super::TheoryCheck| {
            format!("{} ({:.3})", if c.pass { "pass" } else { "FAIL" }, c.value)
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            mine.name,
            verdict(mine),
            verdict(theirs)
        );
    }
    md.push('\n');
    for c in &report.checks {
        let _ = writeln!(md, "- {}: {}", c.name, c.detail);
    }
    md.push_str("\n| gap G | with a dominant value | none |\n| ---: | ---: | ---: |\n");
    for d in &report.dominant_by_gap {
        let _ = writeln!(
            md,
            "| {:.2} | {:.1} % | {:.1} % |",
            d.gap,
            100.0 * d.share,
            100.0 * d.none
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::super::tests::circumplex_sample;
    use super::super::{analyse, StructureOptions};
    use super::*;

    #[test]
    fn every_file_is_written_and_names_its_figures() {
        let report = analyse(
            &circumplex_sample(100, 7),
            &circumplex_sample(100, 8),
            &StructureOptions::default(),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files = write_structure(dir.path(), &report).unwrap();
        assert_eq!(files.len(), 6);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(REPORT_JSON)).unwrap())
                .unwrap();
        assert_eq!(json["n"], 100);
        let csv = std::fs::read_to_string(dir.path().join(MATRIX_CSV)).unwrap();
        assert_eq!(csv.lines().count(), 11);
        assert!(csv
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("Achievement,1.0000,"));
        let md = std::fs::read_to_string(dir.path().join(SUMMARY_MD)).unwrap();
        assert!(md.contains("ceiling: two halves of circumplex 8"), "{md}");
        assert!(md.contains("| conservation_vs_openness |"));
    }
}
