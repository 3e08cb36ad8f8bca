//! `valuelab protocol`: the evidence that a conditioning method carries profiles (issue 11).
//! Every method runs as ordinary `eval` runs on the held-out profiles of a conditioner's split
//! (`split.json`: 28 countries and 20 k-means groups never trained or tuned on): PVQ-40 and
//! ValueNet, plus for every method that takes a profile the shuffled control (each held-out
//! group given another's profile) and the sign check (the mean held-out profile with one value
//! raised at a time). With `ess` among the tasks, every method also answers the opinion questions
//! for the value groups of each whole-country ESS sample (`protocol_countries`), scored against
//! their real answers. Per-group VIM (`--vim DIR`, one adapter per held-out profile, from
//! `VimHeldOutJob`) runs the same way; its shuffled control gives each group another group's
//! adapter's answers, its sign check needs the sign-check profiles' adapters, and the ESS
//! countries' groups, which have no adapters, are left out. The runs live in
//! `out/runs/<method>/<task>` (ESS: `ess-<file stem>`) and resume like any eval run; the report is `protocol.md`, `protocol.json`, `protocol.csv` and
//! `plots/<method>.svg`.

use super::model::{ModelChoice, ModelRun};
use super::profile_split::SplitRecord;
use super::progress::{CancelToken, JobEvent, ProgressSink};
use super::protocol_countries::{prepare_countries, Country, CountrySettings};
use super::EvalJob;
use crate::adapter::find::resolve_adapters;
use crate::conditioning::profiles::is_kmeans_group;
use crate::data::groups::{read_groups, write_groups, TargetGroup};
use crate::data::DataDir;
use crate::eval::{Method, RunResult, TaskKind};
use crate::groups::GroupSelection;
use crate::output::{write_atomically, write_json};
use crate::protocol::opinions::opinion_evidence;
use crate::protocol::profiles::{
    pick_groups, shuffle_donors, shuffled_profiles, sign_profiles, SIGN_BASE,
};
use crate::protocol::report::{csv, markdown};
use crate::protocol::{
    donated_answers, plots, shuffled_mean_r, sign_check, task_evidence, MethodEvidence,
    ProtocolReport, SubsetEvidence,
};
use crate::{Error, Result, ResultExt};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use valuelab_common::ALL_VALUES;

pub const REPORT_FILE: &str = "protocol.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolMethod {
    pub method: Method,
    /// The conditioner or adapter folder, for the methods that need one.
    #[serde(default)]
    pub adapter: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolJob {
    /// A conditioner's `split.json`, or the conditioner folder holding it.
    pub split: PathBuf,
    pub methods: Vec<ProtocolMethod>,
    #[serde(flatten)]
    pub model: ModelRun,
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub groups_file: Option<PathBuf>,
    #[serde(default = "default_tasks")]
    pub tasks: Vec<TaskKind>,
    #[serde(default)]
    pub limit_items: Option<usize>,
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    #[serde(default = "default_bootstrap")]
    pub bootstrap: usize,
    #[serde(default)]
    pub seed: u64,
    /// ESS: the whole-country microdata files (None: every `ess/microdata/*.csv` of the data
    /// directory).
    #[serde(default)]
    pub ess_microdata: Option<Vec<PathBuf>>,
    /// ESS: k-means value groups per country.
    #[serde(default = "default_ess_groups")]
    pub ess_groups: usize,
    /// ESS: the survey weight column of the gold means (null: unweighted).
    #[serde(default = "default_weight")]
    pub weight: Option<String>,
    pub out: PathBuf,
}

fn default_tasks() -> Vec<TaskKind> {
    vec![TaskKind::Pvq, TaskKind::ValueNet, TaskKind::Ess]
}
fn default_ess_groups() -> usize {
    8
}
/// ESS's post-stratification weight, in every one of the shared microdata files.
fn default_weight() -> Option<String> {
    Some("pspwght".into())
}
fn default_batch() -> usize {
    16
}
fn default_bootstrap() -> usize {
    1000
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProtocolOutput {
    pub dir: PathBuf,
    /// None when cancelled (the finished runs stay and are not asked again).
    pub report: Option<ProtocolReport>,
}

/// The run folder name of each method: its name, then `-2`, `-3` when a method comes again
/// (two conditioners of one kind).
fn labels(methods: &[ProtocolMethod]) -> Vec<String> {
    methods
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let name = m.method.name();
            match methods[..i].iter().filter(|o| o.method == m.method).count() {
                0 => name.to_string(),
                n => format!("{name}-{}", n + 1),
            }
        })
        .collect()
}

impl ProtocolJob {
    fn eval(
        &self,
        task: TaskKind,
        m: &ProtocolMethod,
        groups_file: &Path,
        out: PathBuf,
    ) -> EvalJob {
        EvalJob {
            task,
            data_dir: self.data_dir.clone(),
            groups_file: Some(groups_file.to_path_buf()),
            groups: GroupSelection::All,
            model: ModelChoice {
                method: m.method,
                model: self.model.model.clone(),
                adapter: m.adapter.clone(),
                cuda: self.model.cuda,
                answer: None,
                samples: 1,
                seed: self.seed,
                batch_size: self.batch_size,
                threads: self.model.threads,
            },
            limit_items: self.limit_items,
            questions: None,
            gold: None,
            shots: 0,
            out,
        }
    }

    /// A method's ESS run for one country's value groups, scored against their gold.
    fn ess_eval(&self, m: &ProtocolMethod, country: &Country, out: PathBuf) -> EvalJob {
        EvalJob {
            questions: Some(country.questions_file.clone()),
            gold: Some(country.gold_file.clone()),
            ..self.eval(TaskKind::Ess, m, &country.groups_file, out)
        }
    }

    fn cancelled(&self) -> ProtocolOutput {
        ProtocolOutput {
            dir: self.out.clone(),
            report: None,
        }
    }

    /// Runs one eval; None when it was cancelled.
    fn run_eval(
        &self,
        job: EvalJob,
        what: &str,
        sink: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<Option<RunResult>> {
        sink.event(&JobEvent::message(format!("{what}: {}", job.out.display())));
        let output = job
            .run(sink, cancel)
            .context(|| format!("protocol run {what}"))?;
        Ok(output.result.map(|r| *r))
    }

    /// The evidence within the held-out countries and within the held-out k-means groups (each
    /// when it has at least three profiles).
    fn subset_evidence(&self, task: TaskKind, result: &RunResult) -> Vec<SubsetEvidence> {
        [("countries", false), ("k-means groups", true)]
            .into_iter()
            .filter_map(|(subset, kmeans)| {
                let mut part = result.clone();
                part.groups.retain(|g| is_kmeans_group(&g.group) == kmeans);
                (part.groups.len() >= 3).then(|| SubsetEvidence {
                    task,
                    subset: subset.to_string(),
                    evidence: task_evidence(&part, self.bootstrap, self.seed),
                })
            })
            .collect()
    }

    pub fn run(&self, sink: &dyn ProgressSink, cancel: &CancelToken) -> Result<ProtocolOutput> {
        if self.methods.is_empty() {
            return Err(Error::invalid("give at least one method to test"));
        }
        let data = DataDir::resolve(self.data_dir.as_deref())?;
        let split = SplitRecord::read(&self.split)?;
        let all = read_groups(
            &self
                .groups_file
                .clone()
                .unwrap_or_else(|| data.groups_csv()),
        )?;
        let held = pick_groups(&all, &split.held_out)?;
        let tables = self.out.join("groups");
        std::fs::create_dir_all(&tables)
            .context(|| format!("cannot create {}", tables.display()))?;
        let (held_file, shuffled_file, sign_file) = (
            tables.join("held_out.csv"),
            tables.join("shuffled.csv"),
            tables.join("sign.csv"),
        );
        write_groups(&held_file, &held)?;
        write_groups(&shuffled_file, &shuffled_profiles(&held, self.seed))?;
        let sign_groups = sign_profiles(&held)?;
        write_groups(&sign_file, &sign_groups)?;
        let countries = if self.tasks.contains(&TaskKind::Ess) {
            let files = match &self.ess_microdata {
                Some(files) => files.clone(),
                None => data.ess_microdata_files()?,
            };
            let settings = CountrySettings {
                files: &files,
                groups: self.ess_groups,
                seed: self.seed,
                weight: self.weight.as_deref(),
                data: &data,
                out: &self.out,
            };
            prepare_countries(&settings, sink)?
        } else {
            Vec::new()
        };
        let bumped: Vec<String> = ALL_VALUES
            .iter()
            .map(|v| format!("sign_{}", v.name()))
            .collect();

        let mut methods = Vec::new();
        for (m, label) in self.methods.iter().zip(labels(&self.methods)) {
            let dir = self.out.join("runs").join(&label);
            let mut tasks = Vec::new();
            let mut subsets = Vec::new();
            let mut pvq_run = None;
            for &task in self.tasks.iter().filter(|&&t| t != TaskKind::Ess) {
                let job = self.eval(task, m, &held_file, dir.join(task.name()));
                let Some(result) =
                    self.run_eval(job, &format!("{label} {}", task.name()), sink, cancel)?
                else {
                    return Ok(self.cancelled());
                };
                tasks.push((task, task_evidence(&result, self.bootstrap, self.seed)));
                subsets.extend(self.subset_evidence(task, &result));
                if task == TaskKind::Pvq {
                    pvq_run = Some(result);
                }
            }
            let (mut shuffled, mut sign) = (None, None);
            if let (Some(truth), false) = (&pvq_run, m.method == Method::Base) {
                shuffled = match m.method.per_group_adapter() {
                    // A per-group adapter holds its group's profile: given another's profile, a
                    // group is answered by the other's adapter, as in the held-out run.
                    true => {
                        let names: Vec<String> = held.iter().map(|g| g.name.clone()).collect();
                        let donors = shuffle_donors(held.len(), self.seed);
                        shuffled_mean_r(&donated_answers(truth, &names, &donors), truth)
                    }
                    false => {
                        let job =
                            self.eval(TaskKind::Pvq, m, &shuffled_file, dir.join("pvq-shuffled"));
                        let what = format!("{label} shuffled profiles");
                        let Some(result) = self.run_eval(job, &what, sink, cancel)? else {
                            return Ok(self.cancelled());
                        };
                        shuffled_mean_r(&result, truth)
                    }
                };
                if let Some(missing) = missing_sign_adapters(m, &sign_groups) {
                    sink.event(&JobEvent::message(format!(
                        "{label}: no sign check, {missing}"
                    )));
                } else {
                    let job = self.eval(TaskKind::Pvq, m, &sign_file, dir.join("pvq-sign"));
                    let Some(result) =
                        self.run_eval(job, &format!("{label} sign check"), sink, cancel)?
                    else {
                        return Ok(self.cancelled());
                    };
                    sign = sign_check(&result, SIGN_BASE, &bumped);
                }
            }
            if let Some(result) = &pvq_run {
                let svg = plots::target_against_model(
                    result,
                    &format!("PVQ-40, {label}: target against model, held-out profiles"),
                )?;
                let path = self.out.join("plots").join(format!("{label}.svg"));
                write_text(&path, &svg)?;
            }
            let mut opinions = Vec::new();
            let no_adapters = m.method.per_group_adapter();
            if no_adapters && !countries.is_empty() {
                sink.event(&JobEvent::message(format!(
                    "{label}: no ESS opinions, the countries' value groups have no per-group adapters"
                )));
            }
            for country in countries.iter().filter(|_| !no_adapters) {
                let job = self.ess_eval(m, country, dir.join(format!("ess-{}", country.label)));
                let what = format!("{label} ESS {}", country.gold.country);
                let Some(result) = self.run_eval(job, &what, sink, cancel)? else {
                    return Ok(self.cancelled());
                };
                opinions.push(opinion_evidence(
                    &country.gold,
                    &result,
                    &country.group_names,
                ));
            }
            methods.push(MethodEvidence {
                method: label,
                adapter: m.adapter.as_ref().map(|a| a.display().to_string()),
                tasks,
                shuffled_mean_r: shuffled,
                sign,
                subsets,
                opinions,
            });
        }
        let report = ProtocolReport {
            model: self.model.model.clone(),
            held_out: split.held_out.clone(),
            limit_items: self.limit_items,
            methods,
            countries: countries.into_iter().map(|c| c.baseline).collect(),
        };
        write_json(&self.out.join(REPORT_FILE), &report)?;
        write_text(&self.out.join("protocol.md"), &markdown(&report))?;
        write_text(&self.out.join("protocol.csv"), &csv(&report))?;
        sink.event(&JobEvent::message(format!(
            "report: {}",
            self.out.join("protocol.md").display()
        )));
        Ok(ProtocolOutput {
            dir: self.out.clone(),
            report: Some(report),
        })
    }
}

/// Why `m` cannot run the sign check, if it cannot: per-group VIM needs an adapter trained for
/// each sign-check profile (`valuelab train --method vim --held-out-of` trains them).
pub(super) fn missing_sign_adapters(
    m: &ProtocolMethod,
    sign_groups: &[TargetGroup],
) -> Option<String> {
    let (true, Some(dir)) = (m.method.per_group_adapter(), &m.adapter) else {
        return None;
    };
    let names: Vec<&str> = sign_groups.iter().map(|g| g.name.as_str()).collect();
    resolve_adapters(dir, &names).err().map(|e| {
        format!("{e}; `valuelab train --method vim --held-out-of SPLIT` trains the sign-check profiles too")
    })
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    write_atomically(path, |out| Ok(out.write_all(text.as_bytes())?))
}
