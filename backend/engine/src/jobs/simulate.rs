//! `SimulateJob`: a population of N personas built by a strategy (`population::strategy`)
//! answers the chosen instruments in `expect` mode, and the result is compared with people.
//!
//! The run folder (`docs/population.md`):
//! - `personas.json`: the spec, every persona's target and the distinct persona texts
//!   ("speakers") — a resume checks that the folder holds the same simulation;
//! - `answers.jsonl`: option probabilities per (speaker, instrument, item), appended and
//!   flushed per batch, so a cancelled or killed run keeps them and the same job resumes;
//! - at the end: `respondents.csv` (each persona's drawn answers scored), `expected.csv`,
//!   `relations.csv`/`.svg` (value–behaviour), `representativeness.csv`, `structure/` (the
//!   value structure against the human sample), `summary.json` and `summary.md`.

use super::model::ModelChoice;
use super::progress::{CancelToken, JobEvent, ProgressSink};
use crate::data::ess::read_pvq21_key;
use crate::data::DataDir;
use crate::eval::{AnswerMode, Answerer, ChoiceItem, Progress};
use crate::output::{read_json, read_jsonl, write_json, JsonlLog};
use crate::population::adapters::{find_group_adapters, nearest_adapter, GroupAdapter};
use crate::population::relations::read_relation_table;
use crate::population::respondents::{write_expected, write_respondents};
use crate::population::summary::SUMMARY_FILE;
use crate::population::{
    allocate, persona_text, representativeness, respondents, target_profile, typical_profiles,
    value_behaviour, Answers, Instrument, InstrumentKind, PersonaTarget, SimulationSummary,
    Strategy,
};
use crate::structure::matrix::Scores;
use crate::structure::{self, analyse, read_ess_sample, StructureOptions};
use crate::{Error, Field, Result, ResultExt};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use valuelab_common::ValueDistribution;

pub const PERSONAS_FILE: &str = "personas.json";
pub const ANSWERS_FILE: &str = "answers.jsonl";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulateJob {
    pub strategy: Strategy,
    /// Personas in the population.
    pub n: usize,
    /// What they answer; PVQ-40 first (the value scores).
    #[serde(default = "default_instruments")]
    pub instruments: Vec<InstrumentKind>,
    /// The model and how the personas reach it (`model.method`: prompt-dominant, prompt-short,
    /// prompt-long, base, or a VIM method with `model.adapter` a folder of trained adapters);
    /// `model.seed` seeds the survey draw and every drawn answer.
    pub model: ModelChoice,
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// ESS CSV of the people: shares of dominant values, survey respondents, and the reference
    /// (None: the data directory's ess/ess_pvq21_responses.csv).
    #[serde(default)]
    pub human: Option<PathBuf>,
    /// PVQ-21 scoring key (None: the data directory's).
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// Scale points by which the top value must lead to dominate.
    #[serde(default = "default_gap")]
    pub gap: f64,
    /// Ask at most this many items per instrument (spread over its keys).
    #[serde(default)]
    pub limit_items: Option<usize>,
    /// A human value–behaviour table (`value,<column>...`) to compare the relations with.
    #[serde(default)]
    pub human_relations: Option<PathBuf>,
    pub out: PathBuf,
}

fn default_instruments() -> Vec<InstrumentKind> {
    vec![InstrumentKind::Pvq40]
}
fn default_gap() -> f64 {
    structure::DEFAULT_GAP
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimulateOutput {
    pub out: PathBuf,
    pub done: usize,
    pub total: usize,
    /// None when cancelled before every item was answered.
    pub summary: Option<SimulationSummary>,
}

/// What `personas.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Personas {
    job: SimulateJob,
    targets: Vec<PersonaTarget>,
    speaker_of: Vec<usize>,
    speakers: Vec<Speaker>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Speaker {
    label: String,
    text: String,
    /// VIM methods: the group whose adapter carries this speaker's values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    /// Profile conditioners: the profile this speaker is conditioned on (None: plain model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    profile: Option<Scores>,
}

/// One line of `answers.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct AnswerLine {
    speaker: usize,
    instrument: InstrumentKind,
    item: String,
    probs: Vec<f64>,
}

impl SimulateJob {
    pub fn run(&self, sink: &dyn ProgressSink, cancel: &CancelToken) -> Result<SimulateOutput> {
        if self.model.answer.unwrap_or_default() != AnswerMode::Expect {
            return Err(Error::invalid(
                "a simulation answers in expect mode (respondent-level answers are drawn from the option probabilities); leave --answer out",
            ));
        }
        let data = DataDir::resolve(self.data_dir.as_deref())
            .context(|| "a simulation reads the research data".to_string())?;
        let key_file = DataDir::file_or(
            self.key.as_deref(),
            self.data_dir.as_deref(),
            DataDir::ess_pvq21_key_tsv,
        )?;
        let human_file = DataDir::file_or(
            self.human.as_deref(),
            self.data_dir.as_deref(),
            DataDir::ess_responses_csv,
        )?;
        let human = read_ess_sample(&human_file, &read_pvq21_key(&key_file)?)?;
        let instruments = self.load_instruments(&data)?;
        let personas = self.personas(&human)?;
        std::fs::create_dir_all(&self.out).map_err(|e| {
            Error::file(
                &self.out,
                None,
                format!("cannot create the run folder: {e}"),
            )
        })?;
        self.check_same_simulation(&personas)?;
        write_json(&self.out.join(PERSONAS_FILE), &personas)?;
        sink.event(&JobEvent::message(format!(
            "{} personas ({}), {} distinct persona texts, method {}, instruments {} → {}",
            self.n,
            self.strategy,
            personas.speakers.len(),
            self.model.method,
            instruments
                .iter()
                .map(|i| i.kind.name())
                .collect::<Vec<_>>()
                .join(","),
            self.out.display()
        )));
        let (answers, total, done) = self.ask(&personas, &instruments, sink, cancel)?;
        if done < total {
            return Ok(SimulateOutput {
                out: self.out.clone(),
                done,
                total,
                summary: None,
            });
        }
        let summary = self.write_results(&personas, &instruments, &answers, &human, sink)?;
        Ok(SimulateOutput {
            out: self.out.clone(),
            done,
            total,
            summary: Some(summary),
        })
    }

    fn load_instruments(&self, data: &DataDir) -> Result<Vec<Instrument>> {
        let mut kinds = self.instruments.clone();
        // PVQ-40 goes first: the respondents' value scores are read from instrument 0.
        kinds.retain(|k| *k != InstrumentKind::Pvq40);
        kinds.insert(0, InstrumentKind::Pvq40);
        kinds
            .iter()
            .map(|&k| Instrument::load(k, data, self.limit_items))
            .collect()
    }

    fn personas(&self, human: &structure::Sample) -> Result<Personas> {
        let targets = allocate(
            self.strategy,
            self.n,
            &human.scores,
            &human.ids,
            self.gap,
            self.model.seed,
        )?;
        let typical = typical_profiles(&human.scores, self.gap);
        let adapters = self.group_adapters()?;
        let mut speakers: Vec<Speaker> = Vec::new();
        let mut speaker_of = Vec::with_capacity(targets.len());
        for target in &targets {
            let text = persona_text(target, self.model.method, &typical)?;
            let group = match &adapters {
                Some(adapters) => target_profile(target, &typical)?
                    .map(|profile| nearest_adapter(adapters, &profile).group.clone()),
                None => None,
            };
            let profile = match self.model.method.conditions_on_profile() {
                true => target_profile(target, &typical)?,
                false => None,
            };
            let index = match speakers
                .iter()
                .position(|s| s.text == text && s.group == group && s.profile == profile)
            {
                Some(i) => i,
                None => {
                    let label = group
                        .as_ref()
                        .map_or_else(|| target.label(), |g| format!("adapter:{g}"));
                    speakers.push(Speaker {
                        label,
                        text,
                        group,
                        profile,
                    });
                    speakers.len() - 1
                }
            };
            speaker_of.push(index);
        }
        Ok(Personas {
            job: self.comparable(),
            targets,
            speaker_of,
            speakers,
        })
    }

    /// The VIM methods' adapters (None for the prompt methods).
    fn group_adapters(&self) -> Result<Option<Vec<GroupAdapter>>> {
        let method = self.model.method;
        if !method.needs_adapter() || method.conditions_on_profile() {
            return Ok(None);
        }
        let dir = self.model.adapter.as_deref().ok_or_else(|| {
            Error::input(
                Field::Adapter,
                format!(
                    "method {} carries values with trained adapters: give --adapter (a folder of `valuelab train` outputs)",
                    self.model.method
                ),
            )
        })?;
        find_group_adapters(dir).map(Some)
    }

    /// The spec without what may change between invocations of one simulation (threads).
    fn comparable(&self) -> SimulateJob {
        let mut job = self.clone();
        job.model.threads = None;
        job
    }

    fn check_same_simulation(&self, personas: &Personas) -> Result<()> {
        let path = self.out.join(PERSONAS_FILE);
        if !path.exists() {
            return Ok(());
        }
        let old: Personas = read_json(&path, "simulation personas")?;
        if old != *personas {
            return Err(Error::invalid(format!(
                "{} holds another simulation (its spec or personas differ); give a new --out, or delete the folder to start over",
                self.out.display()
            )));
        }
        Ok(())
    }

    /// Asks every (speaker, instrument, item) not yet in `answers.jsonl`. Returns the answers
    /// and (total, done).
    fn ask(
        &self,
        personas: &Personas,
        instruments: &[Instrument],
        sink: &dyn ProgressSink,
        cancel: &CancelToken,
    ) -> Result<(Answers, usize, usize)> {
        let path = self.out.join(ANSWERS_FILE);
        let explain = |e: serde_json::Error| {
            format!("not an answer line ({e}); the file is valuelab's own, delete it to ask again")
        };
        let mut answers = Answers::new();
        for line in read_jsonl::<AnswerLine>(&path, &explain)? {
            answers.insert(
                (line.speaker, line.instrument.to_string(), line.item),
                line.probs,
            );
        }
        let total =
            personas.speakers.len() * instruments.iter().map(|i| i.items.len()).sum::<usize>();
        let mut done = personas
            .speakers
            .iter()
            .enumerate()
            .map(|(s, _)| {
                instruments
                    .iter()
                    .flat_map(|i| i.items.iter().map(move |item| (i.kind, item)))
                    .filter(|(kind, item)| {
                        answers.contains_key(&(s, kind.to_string(), item.id.clone()))
                    })
                    .count()
            })
            .sum::<usize>();
        if done == total {
            return Ok((answers, total, done));
        }
        let adapters: HashMap<String, PathBuf> = match self.group_adapters()? {
            Some(found) => found.into_iter().map(|a| (a.group, a.dir)).collect(),
            None => HashMap::new(),
        };
        let mut answerer = match (
            &self.model.adapter,
            self.model.method.conditions_on_profile(),
        ) {
            (Some(dir), true) => self.model.load_conditioned_answerer(dir, sink)?,
            _ => self.model.load_answerer_with(adapters, sink)?,
        };
        // Speakers without an adapter or a profile first: once an adapter is merged into the
        // weights (or offsets set), only another one replaces it. Then group by group, so each
        // adapter is applied once.
        let mut order: Vec<usize> = (0..personas.speakers.len()).collect();
        order.sort_by_key(|&s| {
            let speaker = &personas.speakers[s];
            (speaker.group.clone(), speaker.profile.is_some())
        });
        let mut log = JsonlLog::open(&path, true)?;
        let started = Instant::now();
        let mut computed = 0;
        for s in order {
            let speaker = &personas.speakers[s];
            if let Some(group) = &speaker.group {
                answerer.select_group(group)?;
            }
            if let Some(profile) = &speaker.profile {
                let profile = ValueDistribution::parse(*profile)
                    .map_err(|e| Error::invalid(format!("persona {}: {e}", speaker.label)))?;
                answerer.condition_on(&profile)?;
            }
            for instrument in instruments {
                let pending: Vec<&crate::eval::task::TaskItem> = instrument
                    .items
                    .iter()
                    .filter(|item| {
                        !answers.contains_key(&(s, instrument.kind.to_string(), item.id.clone()))
                    })
                    .collect();
                for batch in pending.chunks(self.model.batch_size.max(1)) {
                    if cancel.is_cancelled() {
                        log.sync()?;
                        return Ok((answers, total, done));
                    }
                    let items: Vec<ChoiceItem> = batch
                        .iter()
                        .map(|item| ChoiceItem {
                            prompt: item.prompt.clone(),
                            options: item.options.clone(),
                            subject: Some(item.subject.clone()),
                        })
                        .collect();
                    let probs = answerer.option_probabilities(&speaker.text, &items)?;
                    for (item, p) in batch.iter().zip(probs) {
                        let line = AnswerLine {
                            speaker: s,
                            instrument: instrument.kind,
                            item: item.id.clone(),
                            probs: p,
                        };
                        log.append(&line)?;
                        answers.insert((s, instrument.kind.to_string(), line.item), line.probs);
                    }
                    done += batch.len();
                    computed += batch.len();
                    sink.event(&JobEvent::Items(Progress::at(
                        &speaker.label,
                        done,
                        total,
                        computed,
                        started,
                    )));
                }
            }
        }
        log.sync()?;
        Ok((answers, total, done))
    }

    fn write_results(
        &self,
        personas: &Personas,
        instruments: &[Instrument],
        answers: &Answers,
        human: &structure::Sample,
        sink: &dyn ProgressSink,
    ) -> Result<SimulationSummary> {
        let out = &self.out;
        let rows = respondents(
            &personas.targets,
            &personas.speaker_of,
            instruments,
            answers,
            self.model.seed,
        );
        write_respondents(
            &out.join(structure::sample::RESPONDENTS_FILE),
            instruments,
            &rows,
        )?;
        let labels: Vec<String> = personas.speakers.iter().map(|s| s.label.clone()).collect();
        write_expected(&out.join("expected.csv"), instruments, &labels, answers)?;

        let relations = value_behaviour(instruments, &rows);
        let relations_r = match &self.human_relations {
            Some(file) => relations.agreement(&read_relation_table(file)?).0,
            None => None,
        };
        if !relations.columns.is_empty() {
            write_text(&out.join("relations.csv"), &relations.to_csv())?;
            let names: Vec<String> = valuelab_common::ALL_VALUES
                .iter()
                .map(|v| v.name().to_string())
                .collect();
            let svg = structure::plots::heat_map_svg(
                "values and behaviour: r across personas",
                &names,
                &relations.columns,
                &relations.cells,
            )?;
            write_text(&out.join("relations.svg"), &svg)?;
        }
        let spread = representativeness(&rows, human);
        let mut csv = String::from("value,wasserstein,simulated_mean,human_mean\n");
        for r in &spread {
            let f = |x: Option<f64>| x.map_or(String::new(), |x| format!("{x:.4}"));
            csv.push_str(&format!(
                "{},{},{},{}\n",
                r.value,
                f(r.wasserstein),
                f(r.simulated_mean),
                f(r.human_mean)
            ));
        }
        write_text(&out.join("representativeness.csv"), &csv)?;
        let distances: Vec<f64> = spread.iter().filter_map(|r| r.wasserstein).collect();

        let simulated = structure::read_simulated_sample(out)?;
        let report = analyse(
            &simulated,
            human,
            &StructureOptions {
                centred: false,
                gap: self.gap,
                seed: self.model.seed,
            },
        )?;
        structure::write_structure(&out.join("structure"), &report)?;
        let summary = SimulationSummary {
            strategy: self.strategy,
            method: self.model.method,
            model: self.model.model.clone(),
            n: self.n,
            speakers: personas.speakers.len(),
            instruments: instruments.iter().map(|i| i.kind).collect(),
            matrix_r_raw: report.matrix_r_raw,
            matrix_r_centred: report.matrix_r_centred,
            procrustes_congruence: report.procrustes.as_ref().map(|p| p.correlation),
            checks_passed: report.checks.iter().filter(|c| c.pass).count(),
            checks_total: report.checks.len(),
            wasserstein_mean: (!distances.is_empty())
                .then(|| distances.iter().sum::<f64>() / distances.len() as f64),
            relations_r,
            ceiling_raw: report.reference.split_half_r_raw,
            ceiling_centred: report.reference.split_half_r_centred,
            human_without_dominant: structure::dominant_share(&human.scores, self.gap).none,
            reference: human.label.clone(),
        };
        write_json(&out.join(SUMMARY_FILE), &summary)?;
        sink.event(&JobEvent::message(format!(
            "matrix r against {}: raw {}, centred {} (ceiling {} / {}); results in {}",
            human.label,
            figure(summary.matrix_r_raw),
            figure(summary.matrix_r_centred),
            figure(summary.ceiling_raw),
            figure(summary.ceiling_centred),
            out.display()
        )));
        Ok(summary)
    }
}

fn figure(x: Option<f64>) -> String {
    x.map_or("undefined".into(), |x| format!("{x:.3}"))
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    crate::output::write_atomically(path, |w| Ok(w.write_all(text.as_bytes())?))
}

#[cfg(test)]
#[path = "simulate_tests.rs"]
mod tests;
