//! Markdown tables in the shape of the paper's Tables 2–4, with the baseline rows, the columns
//! that keep a low NMSE honest (skill, between-group r, profile r, parse failures) and the
//! paper's LLaMA-7B figures for the methods that match, labelled as the paper's.

use std::fmt::Write as _;
use valuelab_common::Value;

use super::analysis::{MethodRow, Report, RowKind, TaskReport};
use super::paper::{self, PaperRow, TABLE_4_CHAPTERS};
use crate::eval::TaskKind;

/// What the table cells say where a number is undefined, and where the paper has none.
const UNDEFINED: &str = "n/a";
const NOT_IN_PAPER: &str = "—";

/// p-values below this print as "< 0.001", as in the paper.
const SMALLEST_P: f64 = 0.001;

fn num(x: Option<f64>) -> String {
    x.map_or_else(|| UNDEFINED.to_string(), |x| format!("{x:.3}"))
}

fn percent(x: Option<f64>) -> String {
    x.map_or_else(
        || NOT_IN_PAPER.to_string(),
        |x| format!("{:.1}%", 100.0 * x),
    )
}

fn p_value(p: f64) -> String {
    if p < SMALLEST_P {
        "< 0.001".to_string()
    } else {
        format!("{p:.3}")
    }
}

/// The paper's column header for a category: the value's abbreviation or the chapter's.
pub fn category_header(category: &str) -> String {
    if let Ok(value) = category.parse::<Value>() {
        return value.abbreviation().to_string();
    }
    match category {
        "media_and_social_trust" => "MST",
        "personal_and_social_well-being" => "PSWB",
        "politics" => "POL",
        "understanding_democracy" => "UD",
        "subjective_well-being" => "SWB",
        other => other,
    }
    .to_string()
}

/// Title of a task's section, naming the paper's table it mirrors.
pub fn task_title(task: TaskKind) -> &'static str {
    match task {
        TaskKind::Pvq => "PVQ-40: value survey (shape of the paper's Table 2)",
        TaskKind::ValueNet => "ValueNet: behaviour prediction (shape of the paper's Table 3)",
        TaskKind::Ess => "ESS: opinion prediction (shape of the paper's Table 4)",
        TaskKind::Args => "Argument generation (for human evaluation)",
    }
}

fn row_name(row: &MethodRow) -> String {
    match row.kind {
        RowKind::Run => row.label.clone(),
        _ => format!("*{}*", row.label),
    }
}

fn paper_name(row: &PaperRow, table: &str) -> String {
    format!("*paper: {} (Kang et al. 2023, {table})*", row.paper_name)
}

fn table(out: &mut String, header: &[String], rows: &[Vec<String>]) {
    let line = |cells: &[String]| format!("| {} |", cells.join(" | "));
    let _ = writeln!(out, "{}", line(header));
    let rule: Vec<String> = header
        .iter()
        .enumerate()
        .map(|(i, _)| if i == 0 { "---".into() } else { "---:".into() })
        .collect();
    let _ = writeln!(out, "{}", line(&rule));
    for row in rows {
        let _ = writeln!(out, "{}", line(row));
    }
    out.push('\n');
}

/// The honesty columns shared by every table: skill, between-group r, profile r (value tasks),
/// parse failures, refusals.
fn extra_header(profile: bool) -> Vec<String> {
    let mut h = vec!["Skill".to_string(), "r".to_string()];
    if profile {
        h.push("Profile r".into());
    }
    h.extend(["Parse fail.".to_string(), "Refusals".to_string()]);
    h
}

/// A mean correlation, with how many undefined ones it skipped (`what`: keys or groups).
fn mean_r(r: Option<f64>, skipped: usize, what: &str) -> String {
    match r {
        Some(_) if skipped > 0 => format!("{} ({skipped} {what} n/a)", num(r)),
        _ => num(r),
    }
}

fn extra_cells(row: &MethodRow, profile: bool) -> Vec<String> {
    let mut c = vec![
        num(row.skill),
        mean_r(row.between_group_r, row.r_undefined_keys, "keys"),
    ];
    if profile {
        c.push(mean_r(
            row.profile_r,
            row.profile_r_undefined_groups,
            "groups",
        ));
    }
    c.extend([percent(row.parse_failure_rate), percent(row.refusal_rate)]);
    c
}

fn is_value_task(task: &TaskReport) -> bool {
    task.rows
        .iter()
        .any(|r| r.profile_r.is_some() || r.profile_r_undefined_groups > 0)
        || (!task.keys.is_empty() && task.keys.iter().all(|k| k.parse::<Value>().is_ok()))
}

fn run_methods(task: &TaskReport) -> Vec<&str> {
    task.rows
        .iter()
        .filter(|r| r.kind == RowKind::Run)
        .map(|r| r.method.as_str())
        .collect()
}

/// Table 2's shape: one NMSE per method.
fn pvq_table(out: &mut String, task: &TaskReport) {
    let mut header = vec!["Method".to_string(), "NMSE".to_string()];
    header.extend(extra_header(true));
    header.push("Groups".into());
    let mut rows: Vec<Vec<String>> = task
        .rows
        .iter()
        .map(|row| {
            let mut cells = vec![row_name(row), num(row.nmse)];
            cells.extend(extra_cells(row, true));
            cells.push(
                row.per_group
                    .iter()
                    .filter(|g| g.nmse.is_some())
                    .count()
                    .to_string(),
            );
            cells
        })
        .collect();
    for p in paper::rows_for(TaskKind::Pvq, &run_methods(task)) {
        let mut cells = vec![paper_name(p, "Table 2"), format!("{:.3}", p.figures[0])];
        cells.extend(std::iter::repeat_n(
            NOT_IN_PAPER.to_string(),
            header.len() - 3,
        ));
        cells.push("128".into());
        rows.push(cells);
    }
    table(out, &header, &rows);
}

/// The paper's figure for `category` in a Table 3 / Table 4 row (`None`: not in the paper).
fn paper_figure(task: TaskKind, row: &PaperRow, category: &str) -> Option<f64> {
    let column = match task {
        TaskKind::ValueNet => category.parse::<Value>().ok().map(Value::index),
        TaskKind::Ess => TABLE_4_CHAPTERS.iter().position(|c| *c == category),
        TaskKind::Pvq | TaskKind::Args => None,
    }?;
    row.figures.get(column).copied()
}

/// Tables 3 and 4's shape: NMSE per category, their mean (the paper's Ave.), then the extras.
/// For tasks keyed by question the per-group NMSE over all keys differs from Ave. (chapters have
/// different sizes), and skill is computed from it, so it gets its own column.
fn category_table(out: &mut String, task: &TaskReport, with_extras: bool) {
    let value_task = is_value_task(task);
    let nmse_column = with_extras && !value_task;
    let mut header = vec!["Method".to_string()];
    header.extend(task.categories.iter().map(|c| category_header(c)));
    header.push("Ave.".into());
    if nmse_column {
        header.push("NMSE".into());
    }
    if with_extras {
        header.extend(extra_header(value_task));
    }
    let mut rows: Vec<Vec<String>> = task
        .rows
        .iter()
        .map(|row| {
            let mut cells = vec![row_name(row)];
            cells.extend(row.nmse_by_category.iter().map(|x| num(*x)));
            cells.push(num(row.category_average));
            if nmse_column {
                cells.push(num(row.nmse));
            }
            if with_extras {
                cells.extend(extra_cells(row, value_task));
            }
            cells
        })
        .collect();
    if with_extras {
        let label = if task.task == "ess" {
            "Table 4"
        } else {
            "Table 3"
        };
        for p in paper::rows_for(task.task, &run_methods(task)) {
            let mut cells = vec![paper_name(p, label)];
            cells.extend(task.categories.iter().map(|c| {
                paper_figure(task.task, p, c)
                    .map_or_else(|| NOT_IN_PAPER.to_string(), |x| format!("{x:.3}"))
            }));
            cells.push(
                p.figures
                    .last()
                    .map_or_else(|| NOT_IN_PAPER.to_string(), |x| format!("{x:.3}")),
            );
            cells.extend(std::iter::repeat_n(
                NOT_IN_PAPER.to_string(),
                header.len() - cells.len(),
            ));
            rows.push(cells);
        }
    }
    table(out, &header, &rows);
}

fn args_table(out: &mut String, task: &TaskReport) {
    let header: Vec<String> = ["Method", "Groups", "Parse fail.", "Refusals"]
        .map(String::from)
        .to_vec();
    let rows: Vec<Vec<String>> = task
        .rows
        .iter()
        .map(|r| {
            vec![
                row_name(r),
                r.per_group.len().to_string(),
                percent(r.parse_failure_rate),
                percent(r.refusal_rate),
            ]
        })
        .collect();
    table(out, &header, &rows);
}

fn comparisons_table(out: &mut String, task: &TaskReport) {
    if task.comparisons.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "Paired t-tests across groups on per-group NMSE (ΔNMSE < 0: A is closer to the targets):\n"
    );
    let header: Vec<String> = ["A", "B", "Groups", "ΔNMSE (A − B)", "t", "df", "p"]
        .map(String::from)
        .to_vec();
    let rows: Vec<Vec<String>> = task
        .comparisons
        .iter()
        .map(|c| {
            vec![
                c.a.clone(),
                c.b.clone(),
                c.n.to_string(),
                format!("{:+.4}", c.mean_difference),
                format!("{:.2}", c.t),
                format!("{:.0}", c.df),
                p_value(c.p_value),
            ]
        })
        .collect();
    table(out, &header, &rows);
}

fn value_task_extras(out: &mut String, task: &TaskReport) {
    let _ = writeln!(out, "Between-group Pearson r per value (does the model follow the targets from group to group?):\n");
    let mut header = vec!["Method".to_string()];
    header.extend(task.keys.iter().map(|k| category_header(k)));
    let rows: Vec<Vec<String>> = task
        .rows
        .iter()
        .map(|row| {
            let mut cells = vec![row_name(row)];
            cells.extend(row.r_per_key.iter().map(|r| num(*r)));
            cells
        })
        .collect();
    table(out, &header, &rows);
    if let Some(c) = &task.contrast {
        let _ = writeln!(
            out,
            "Contrast {} vs {} ({}, rms target difference {:.3}): Pearson r over the values between the target difference and the model's difference (n/a: the model answers the two groups alike):\n",
            c.group_a, c.group_b, c.chosen_by, c.target_distance
        );
        let header: Vec<String> = ["Method", "Contrast r"].map(String::from).to_vec();
        let rows: Vec<Vec<String>> = c
            .rows
            .iter()
            .map(|r| vec![r.label.clone(), num(r.r)])
            .collect();
        table(out, &header, &rows);
    }
}

fn size_table(out: &mut String, task: &TaskReport) {
    let with_size = task.groups.iter().filter(|g| g.size.is_some()).count();
    if with_size == 0 {
        let _ = writeln!(
            out,
            "Group sizes unknown: no NMSE-against-size analysis (the paper's Figure 5).\n"
        );
        return;
    }
    let _ = writeln!(
        out,
        "NMSE against group size (the paper's Figure 5), {with_size} groups with a known size:\n"
    );
    let header: Vec<String> = ["Method", "r(size, NMSE)"].map(String::from).to_vec();
    let rows: Vec<Vec<String>> = task
        .rows
        .iter()
        .map(|r| vec![row_name(r), num(r.size_nmse_r)])
        .collect();
    table(out, &header, &rows);
}

const LEGEND: &str = "NMSE: mean squared error on 0..1, averaged over groups (lower is better). \
Skill: 1 − NMSE / NMSE(value-blind baseline on the same cells); 0 = no better than ignoring the values. \
r: between-group Pearson r per key, averaged over keys where it is defined (how many were not is shown). \
Profile r: per group, Pearson r between target and model over the ten values (blind to a level shift), averaged. \
Parse fail., Refusals: per answer asked. Rows in italics are baselines or the paper's own LLaMA-7B figures, \
which come from another model, 128 groups and sampled answers: a reference, not a like-for-like comparison.";

/// One task's section.
pub fn render_task(out: &mut String, task: &TaskReport) {
    let _ = writeln!(out, "## {}\n", task_title(task.task));
    match task.task {
        TaskKind::Args => args_table(out, task),
        TaskKind::Pvq => {
            pvq_table(out, task);
            let _ = writeln!(out, "NMSE per value:\n");
            category_table(out, task, false);
        }
        TaskKind::ValueNet | TaskKind::Ess => category_table(out, task, true),
    }
    if task.task != TaskKind::Args {
        if let Some(lambda) = task.ridge_lambda {
            let _ = writeln!(out, "Value-regression baseline: ridge (λ = {lambda}) from the ten standardised value scores, leave-one-group-out.\n");
        }
        if task.task == TaskKind::Ess
            && task.categories.iter().any(|c| c == "subjective_well-being")
        {
            let _ = writeln!(out, "Ave. is the mean of the columns shown; the paper's Ave. covers MST, PSWB, POL and UD only.\n");
        }
        comparisons_table(out, task);
        if is_value_task(task) {
            value_task_extras(out, task);
        }
        size_table(out, task);
    }
    for note in &task.notes {
        let _ = writeln!(out, "Note: {note}\n");
    }
}

/// The whole report: a section per task and the legend.
pub fn render(report: &Report) -> String {
    let mut out = String::from("# valuelab report\n\n");
    for task in &report.tasks {
        render_task(&mut out, task);
    }
    let _ = writeln!(out, "{LEGEND}\n\n_{}_", report.generated_by);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::report::analysis::{build_report, ReportOptions};
    use crate::eval::report::fixtures::{ess_run, pvq_run, TARGETS_ESS};

    fn lines_after<'a>(md: &'a str, header_start: &str) -> Vec<&'a str> {
        md.lines()
            .skip_while(|l| !l.starts_with(header_start))
            .take_while(|l| !l.is_empty())
            .collect()
    }

    #[test]
    fn the_pvq_table_has_table_2s_shape_with_baseline_and_paper_rows() {
        let report = build_report(
            &[pvq_run("prompt-long", 0.1, [None; 3])],
            &ReportOptions::default(),
        )
        .unwrap();
        let md = render(&report);
        let table = lines_after(&md, "| Method | NMSE |");
        assert_eq!(
            table[0],
            "| Method | NMSE | Skill | r | Profile r | Parse fail. | Refusals | Groups |"
        );
        assert_eq!(
            table[1],
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        // NMSE 0.1² = 0.010, r and profile r 1, parse failures 3 of 120 = 2.5 %, 3 groups.
        assert!(
            table[2].starts_with("| prompt-long | 0.010 | "),
            "{}",
            table[2]
        );
        assert!(
            table[2].ends_with("| 1.000 | 1.000 | 2.5% | 0.0% | 3 |"),
            "{}",
            table[2]
        );
        assert!(table[3].starts_with("| *value-blind baseline* | "));
        assert_eq!(table[4], "| *paper: LLaMA-7B Long (Kang et al. 2023, Table 2)* | 0.189 | — | — | — | — | — | 128 |");
        assert_eq!(table.len(), 5);
        // every row has as many cells as the header
        let cells = |l: &str| l.matches('|').count();
        assert!(table.iter().all(|l| cells(l) == cells(table[0])));
        assert!(
            md.contains("| Method | Ach | Ben | Con | Hed | Pow | Sec | SD | Sti | Tra | Uni |")
        );
        assert!(md.contains("Contrast Group_1 vs Group_2 (farthest targets"));
    }

    #[test]
    fn the_ess_table_has_table_4s_chapter_columns_and_the_papers_figures() {
        let runs = [ess_run("vim", TARGETS_ESS.map(|r| r.map(|t| t + 0.1)))];
        let md = render(&build_report(&runs, &ReportOptions::default()).unwrap());
        let table = lines_after(&md, "| Method | MST |");
        assert_eq!(
            table[0],
            "| Method | MST | PSWB | Ave. | NMSE | Skill | r | Parse fail. | Refusals |"
        );
        assert!(
            table[2].starts_with("| vim | 0.010 | 0.010 | 0.010 | 0.010 | "),
            "{}",
            table[2]
        );
        assert!(table[2].ends_with("| 0.0% | 25.0% |"), "{}", table[2]);
        assert!(table[4].starts_with("| *value-regression baseline* |"));
        // the paper's ViLLaMA row: MST 0.061, PSWB 0.059 in these columns, its Ave. 0.099
        assert_eq!(table[5], "| *paper: ViLLaMA-7B (Kang et al. 2023, Table 4)* | 0.061 | 0.059 | 0.099 | — | — | — | — | — |");
        assert!(md.contains("Paired t-tests"));
        assert!(md.contains("ridge (λ = 1)"));
    }

    #[test]
    fn skipped_correlations_are_counted_in_the_cell() {
        assert_eq!(mean_r(Some(0.5), 3, "keys"), "0.500 (3 keys n/a)");
        assert_eq!(mean_r(None, 10, "keys"), "n/a");
        assert_eq!(mean_r(Some(0.5), 0, "groups"), "0.500");
    }

    #[test]
    fn headers_use_the_papers_abbreviations() {
        assert_eq!(category_header("Self-direction"), "SD");
        assert_eq!(category_header("understanding_democracy"), "UD");
        assert_eq!(category_header("something_else"), "something_else");
    }
}
