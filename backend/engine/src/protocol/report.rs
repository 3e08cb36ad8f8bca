//! The protocol's report: `protocol.json` (everything), `protocol.md` (the tables a person reads,
//! with the goals marked reached or missed) and `protocol.csv` (one row per method and
//! task).

use super::evidence::{SignCheck, TaskEvidence};
use super::opinions::{mean_over_countries, CountryBaseline, OpinionEvidence, Yardstick};
use crate::eval::TaskKind;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodEvidence {
    pub method: String,
    #[serde(default)]
    pub adapter: Option<String>,
    pub tasks: Vec<(TaskKind, TaskEvidence)>,
    /// PVQ-40 mean r with the held-out profiles shuffled among the groups.
    pub shuffled_mean_r: Option<f64>,
    pub sign: Option<SignCheck>,
    /// The same evidence within each kind of held-out profile (the countries, the k-means
    /// groups): their scores are printed differently and lie on different levels, so a method
    /// can follow the profile within one kind and still lose r when both are pooled.
    #[serde(default)]
    pub subsets: Vec<SubsetEvidence>,
    /// ESS opinions of each microdata country's value groups, in the report's country order.
    #[serde(default)]
    pub opinions: Vec<OpinionEvidence>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubsetEvidence {
    pub task: TaskKind,
    pub subset: String,
    pub evidence: TaskEvidence,
}

impl MethodEvidence {
    pub fn task(&self, kind: TaskKind) -> Option<&TaskEvidence> {
        self.tasks.iter().find(|(k, _)| *k == kind).map(|(_, e)| e)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolReport {
    pub model: String,
    pub held_out: Vec<String>,
    pub limit_items: Option<usize>,
    pub methods: Vec<MethodEvidence>,
    /// The ESS countries and their model-free yardsticks (empty without the `ess` task).
    #[serde(default)]
    pub countries: Vec<CountryBaseline>,
}

fn num(x: Option<f64>) -> String {
    x.map_or("n/a".into(), |x| format!("{x:.3}"))
}

fn interval(ci: Option<(f64, f64)>) -> String {
    ci.map_or("n/a".into(), |(lo, hi)| format!("{lo:.3} … {hi:.3}"))
}

/// The goals for a method, each with whether it was reached.
pub fn goals(m: &MethodEvidence) -> Vec<(&'static str, Option<bool>)> {
    let pvq = m.task(TaskKind::Pvq);
    let valuenet = m.task(TaskKind::ValueNet);
    let (ess_r, ess_nmse, ess_blind) = mean_over_countries(&m.opinions);
    vec![
        (
            "PVQ-40 mean r ≥ 0.8",
            pvq.and_then(|e| e.mean_r).map(|r| r >= 0.8),
        ),
        (
            "PVQ-40 NMSE below value-blind",
            pvq.and_then(|e| Some(e.nmse? < e.value_blind_nmse?)),
        ),
        (
            "ValueNet mean r ≥ 0.3",
            valuenet.and_then(|e| e.mean_r).map(|r| r >= 0.3),
        ),
        (
            "shuffled control within ±0.1",
            m.shuffled_mean_r.map(|r| r.abs() < 0.1),
        ),
        ("sign check ≥ 9 of 10", m.sign.as_ref().map(|s| s.up >= 9)),
        (
            "ESS opinions mean between-group r ≥ 0.5",
            ess_r.map(|r| r >= 0.5),
        ),
        (
            "ESS opinions NMSE below value-blind",
            ess_nmse.zip(ess_blind).map(|(n, b)| n < b),
        ),
    ]
}

pub fn markdown(report: &ProtocolReport) -> String {
    let mut md = format!(
        "# Conditioning protocol\n\nModel `{}`; {} held-out profiles (never trained or tuned on): {}.{}\n\n",
        report.model,
        report.held_out.len(),
        report.held_out.join(", "),
        report.limit_items.map_or(String::new(), |n| format!(" Items per task limited to {n}."))
    );
    for kind in [TaskKind::Pvq, TaskKind::ValueNet] {
        if !report.methods.iter().any(|m| m.task(kind).is_some()) {
            continue;
        }
        md.push_str(&format!(
            "## {}\n\n| method | mean r across profiles | 95 % CI | NMSE | value-blind NMSE | skill | level r | centred r |{}\n|---|---:|---:|---:|---:|---:|---:|---:|{}\n",
            if kind == TaskKind::Pvq { "PVQ-40" } else { "ValueNet" },
            if kind == TaskKind::Pvq { " shuffled r | sign check (beyond the rest) |" } else { "" },
            if kind == TaskKind::Pvq { "---:|---:|" } else { "" },
        ));
        for m in &report.methods {
            let Some(e) = m.task(kind) else { continue };
            let ci = interval(e.mean_r_ci);
            let mut row = format!(
                "| {} | {} | {ci} | {} | {} | {} | {} | {} |",
                m.method,
                num(e.mean_r),
                num(e.nmse),
                num(e.value_blind_nmse),
                num(e.skill),
                num(e.level_r),
                num(e.centred_mean_r)
            );
            if kind == TaskKind::Pvq {
                let sign = m.sign.as_ref().map_or("n/a".into(), |s| {
                    format!("{} of {} ({})", s.up, s.of, s.beyond_the_rest)
                });
                row.push_str(&format!(" {} | {sign} |", num(m.shuffled_mean_r)));
            }
            md.push_str(&row);
            md.push('\n');
        }
        md.push('\n');
    }
    if let Some(first) = report.methods.iter().find_map(|m| m.task(TaskKind::Pvq)) {
        md.push_str("## PVQ-40: r across profiles per value\n\n| method |");
        for key in &first.keys {
            md.push_str(&format!(" {key} |"));
        }
        md.push_str(&format!("\n|---|{}\n", "---:|".repeat(first.keys.len())));
        for m in &report.methods {
            if let Some(e) = m.task(TaskKind::Pvq) {
                md.push_str(&format!("| {} |", m.method));
                for r in &e.r_per_key {
                    md.push_str(&format!(" {} |", num(*r)));
                }
                md.push('\n');
            }
        }
        md.push('\n');
    }
    if report.methods.iter().any(|m| !m.subsets.is_empty()) {
        md.push_str("## By kind of held-out profile\n\n| method | task | profiles | kind | mean r across profiles | 95 % CI | NMSE | value-blind NMSE | skill | level r | centred r |\n|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for m in &report.methods {
            for s in &m.subsets {
                let e = &s.evidence;
                md.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                    m.method,
                    s.task.name(),
                    e.profiles,
                    s.subset,
                    num(e.mean_r),
                    interval(e.mean_r_ci),
                    num(e.nmse),
                    num(e.value_blind_nmse),
                    num(e.skill),
                    num(e.level_r),
                    num(e.centred_mean_r)
                ));
            }
        }
        md.push('\n');
    }
    md.push_str(&opinions_markdown(report));
    md.push_str("## Goals\n\n| method | goal | reached |\n|---|---|---|\n");
    for m in &report.methods {
        for (goal, reached) in goals(m) {
            let mark = match reached {
                Some(true) => "yes",
                Some(false) => "no",
                None => "n/a (not measured or undefined)",
            };
            md.push_str(&format!("| {} | {goal} | {mark} |\n", m.method));
        }
    }
    md.push_str(
        "\nr: Pearson across the held-out profiles, per key, then averaged; the interval resamples profiles. \
Skill: 1 − NMSE / NMSE(value-blind), where the value-blind guess gives every profile the held-out mean. \
Shuffled r: the same method with each held-out group given another group's profile, scored against its own: \
near 0 when the signal comes from the profile. Sign check: the mean held-out profile with one value raised \
by one point; counted when that value's PVQ score rises, and in brackets when it rises more than the other \
values' scores do (a level shift raises them all). Level r: each profile's mean target against its mean \
prediction. Centred r: r per value after removing each profile's own mean (its priorities). \
Plots: `plots/<method>.svg`.\n",
    );
    md
}

fn yardstick_cells(y: &Yardstick) -> String {
    format!("{} | {} | {}", num(y.mean_r), num(y.nmse), num(y.skill))
}

/// The ESS tables: each country with its yardsticks, then every method in every country.
fn opinions_markdown(report: &ProtocolReport) -> String {
    if report.countries.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "## ESS opinions per country\n\nValue groups (k-means) of each country's own respondents; gold: their answers, \
weighted where a weight is named. The value-blind guess gives every group the country's population mean; ridge from the \
ten values is fit on the other countries' groups, or within the country on its other groups (leave one out).\n\n\
| country | respondents | groups | items | weight | value-blind NMSE | ridge, other countries: r | NMSE | skill | ridge, within: r | NMSE | skill |\n\
|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for c in &report.countries {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            c.country,
            c.respondents,
            c.groups,
            c.items,
            c.weighted_by.as_deref().unwrap_or("none"),
            num(c.value_blind_nmse),
            yardstick_cells(&c.ridge_other_countries),
            yardstick_cells(&c.ridge_within)
        ));
    }
    md.push_str("\n| method | country | mean between-group r per item | items with r | NMSE | value-blind NMSE | skill |\n|---|---|---:|---:|---:|---:|---:|\n");
    for m in &report.methods {
        for e in &m.opinions {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                m.method,
                e.country,
                num(e.mean_r),
                e.items_with_r,
                num(e.nmse),
                num(e.value_blind_nmse),
                num(e.skill)
            ));
        }
        if m.opinions.len() > 1 {
            let (r, nmse, blind) = mean_over_countries(&m.opinions);
            md.push_str(&format!(
                "| {} | mean | {} | | {} | {} | |\n",
                m.method,
                num(r),
                num(nmse),
                num(blind)
            ));
        }
    }
    md.push('\n');
    md
}

pub fn csv(report: &ProtocolReport) -> String {
    let mut out = String::from("method,task,profiles,mean_r,ci_low,ci_high,nmse,value_blind_nmse,skill,shuffled_r,sign_up,sign_of,level_r,centred_r,sign_beyond_the_rest\n");
    let cell = |x: Option<f64>| x.map_or(String::new(), |x| format!("{x:.6}"));
    for m in &report.methods {
        for (kind, e) in &m.tasks {
            let pvq = *kind == TaskKind::Pvq;
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                m.method,
                kind.name(),
                e.profiles,
                cell(e.mean_r),
                cell(e.mean_r_ci.map(|c| c.0)),
                cell(e.mean_r_ci.map(|c| c.1)),
                cell(e.nmse),
                cell(e.value_blind_nmse),
                cell(e.skill),
                if pvq {
                    cell(m.shuffled_mean_r)
                } else {
                    String::new()
                },
                m.sign
                    .as_ref()
                    .filter(|_| pvq)
                    .map_or(String::new(), |s| s.up.to_string()),
                m.sign
                    .as_ref()
                    .filter(|_| pvq)
                    .map_or(String::new(), |s| s.of.to_string()),
                cell(e.level_r),
                cell(e.centred_mean_r),
                m.sign
                    .as_ref()
                    .filter(|_| pvq)
                    .map_or(String::new(), |s| s.beyond_the_rest.to_string()),
            ));
        }
        // ESS: one row per country (task `ess:<country>`, profiles = its groups).
        for (e, c) in m.opinions.iter().zip(&report.countries) {
            out.push_str(&format!(
                "{},ess:{},{},{},,,{},{},{},,,,,,\n",
                m.method,
                e.country,
                c.groups,
                cell(e.mean_r),
                cell(e.nmse),
                cell(e.value_blind_nmse),
                cell(e.skill),
            ));
        }
    }
    out
}
