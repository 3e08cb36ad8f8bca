//! `valuelab report`: reads finished runs (`results.json`, see `docs/eval-format.md`), scores every
//! method against the value-blind and value-regression baselines, and writes `report.json`
//! (machines), `report.md` (tables in the shape of the paper's Tables 2–4) and SVG plots.
//!
//! It reads the run format of `eval::run_result` (what the runner writes). Layout: `scores` and
//! `ridge` (the arithmetic), `compare` (paired t-tests), `analysis` (runs → [`Report`]), `markdown`, `plots`,
//! `paper` (the paper's figures for reference).

pub mod analysis;
pub mod compare;
#[cfg(test)]
mod fixtures;
pub mod markdown;
pub mod paper;
pub mod plots;
pub mod ridge;
pub mod scores;

use std::path::{Path, PathBuf};

pub use crate::eval::run_result::{GroupResult, RunResult, RESULTS_FILE};
pub use analysis::{build_report, Report, ReportOptions, RunInput, TaskReport};

use crate::Result;

/// Radar plots drawn per task at most (the contrasting pair first): one per group of 128 would
/// bury the other plots.
pub const MAX_RADARS: usize = 12;

/// Where a report goes by default: `report/` beside the first run directory.
pub fn default_out_dir(first_run_dir: &Path) -> PathBuf {
    let parent = first_run_dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parent.join("report")
}

/// Reads every run directory's `results.json`.
pub fn load_runs(dirs: &[PathBuf]) -> Result<Vec<RunInput>> {
    dirs.iter()
        .map(|dir| {
            Ok(RunInput {
                dir: dir.clone(),
                run: RunResult::load(dir)?,
            })
        })
        .collect()
}

/// A file name part from a group name: letters, digits, '-' and '_' kept, anything else '_'.
fn file_part(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The groups that get a radar: the contrasting pair first, then the others in order.
fn radar_groups(task: &TaskReport) -> Vec<usize> {
    let mut order: Vec<usize> = Vec::new();
    if let Some(c) = &task.contrast {
        for name in [&c.group_a, &c.group_b] {
            if let Some(i) = task.groups.iter().position(|g| &g.group == name) {
                order.push(i);
            }
        }
    }
    let rest: Vec<usize> = (0..task.groups.len())
        .filter(|i| !order.contains(i))
        .collect();
    order.extend(rest);
    order.truncate(MAX_RADARS);
    order
}

/// Writes `report.json`, the SVG plots and `report.md` (with a list of the plots) into `out`,
/// returning the paths written.
pub fn write_report(report: &Report, out: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out)?;
    let mut written = Vec::new();
    let mut write = |name: String, content: &str| -> Result<()> {
        let path = out.join(name);
        std::fs::write(&path, content)?;
        written.push(path);
        Ok(())
    };
    write("report.json".into(), &serde_json::to_string_pretty(report)?)?;
    let mut plots_md = String::from("## Plots\n\n");
    for task in &report.tasks {
        let mut files: Vec<String> = Vec::new();
        if let Some(svg) = plots::nmse_bars(task)? {
            files.push(format!("{}_nmse_by_category.svg", task.task));
            write(files[files.len() - 1].clone(), &svg)?;
        }
        if let Some(svg) = plots::size_scatter(task)? {
            files.push(format!("{}_size_vs_nmse.svg", task.task));
            write(files[files.len() - 1].clone(), &svg)?;
        }
        for g in radar_groups(task) {
            if let Some(svg) = plots::radar(task, g)? {
                files.push(format!(
                    "{}_radar_{}.svg",
                    task.task,
                    file_part(&task.groups[g].group)
                ));
                write(files[files.len() - 1].clone(), &svg)?;
            }
        }
        for f in files {
            plots_md.push_str(&format!("- [{f}]({f})\n"));
        }
    }
    let md = format!("{}\n{plots_md}", markdown::render(report));
    write("report.md".into(), &md)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fixtures::{ess_run, pvq_run, TARGETS_ESS};

    #[test]
    fn a_report_folder_holds_json_markdown_and_the_plots() {
        let out = tempfile::tempdir().unwrap();
        let runs = [
            pvq_run("vim", 0.1, [Some(5), Some(6), Some(7)]),
            ess_run("vim", TARGETS_ESS),
        ];
        let report = build_report(&runs, &ReportOptions::default()).unwrap();
        write_report(&report, out.path()).unwrap();
        let names: Vec<String> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        for name in [
            "report.json",
            "report.md",
            "pvq_nmse_by_category.svg",
            "pvq_size_vs_nmse.svg",
            "pvq_radar_Group_1.svg",
            "ess_nmse_by_category.svg",
        ] {
            assert!(
                names.contains(&name.to_string()),
                "{name} missing from {names:?}"
            );
        }
        assert!(
            !names.iter().any(|n| n.starts_with("ess_radar")),
            "ESS keys are questions: no radar"
        );
        let back: Report =
            serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
                .unwrap();
        // (floats may differ in the last bit after a text round trip, so compare structure)
        assert_eq!(back.tasks.len(), 2);
        assert_eq!(back.tasks[0].rows.len(), report.tasks[0].rows.len());
        assert_eq!(back.tasks[1].ridge_lambda, Some(ridge::DEFAULT_LAMBDA));
        let md = std::fs::read_to_string(out.path().join("report.md")).unwrap();
        assert!(md.contains("[pvq_radar_Group_2.svg](pvq_radar_Group_2.svg)"));
    }

    #[test]
    fn the_default_output_folder_is_beside_the_first_run() {
        assert_eq!(
            default_out_dir(Path::new("runs/pvq-vim")),
            PathBuf::from("runs/report")
        );
        assert_eq!(
            default_out_dir(Path::new("pvq-vim")),
            PathBuf::from("./report")
        );
    }

    #[test]
    fn group_names_become_safe_file_names() {
        assert_eq!(file_part("DE / 2012"), "DE___2012");
    }
}
