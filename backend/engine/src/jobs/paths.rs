//! Relative paths of a spec made absolute against one folder. The command line runs a spec in
//! the user's working directory; the server has no meaningful one, so it resolves every
//! relative path of a submitted spec — inputs and outputs alike — against its jobs folder: a
//! training job's `out: "adapters/g60"` and a later evaluation's `adapter: "adapters/g60"`
//! name the same folder.

use super::groups::GroupsJob;
use super::model::ModelChoice;
use super::profile_split::ProfileSources;
use super::vim_data::{ArgumentSource, VimExamples};
use super::Job;
use crate::models::source::NAMED_MODELS;
use std::path::{Path, PathBuf};

impl Job {
    /// Joins `base` onto every relative path the spec holds. Named models (`smollm2`) stay.
    pub fn resolve_paths(&mut self, base: &Path) {
        let path = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        let optional = |p: &mut Option<PathBuf>| {
            if let Some(p) = p {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        };
        let examples = |e: &mut VimExamples| {
            optional(&mut e.data_dir);
            optional(&mut e.groups_file);
        };
        let profiles = |p: &mut ProfileSources| {
            optional(&mut p.data_dir);
            optional(&mut p.groups_file);
            optional(&mut p.respondents);
        };
        match self {
            Job::Groups(GroupsJob::Build(j)) => {
                optional(&mut j.data_dir);
                path(&mut j.ess);
                optional(&mut j.out);
                optional(&mut j.elbow_out);
                optional(&mut j.key);
            }
            Job::Groups(GroupsJob::Rescore(j)) => {
                optional(&mut j.data_dir);
                optional(&mut j.groups);
                path(&mut j.out);
            }
            Job::Groups(GroupsJob::Gold(j)) => {
                optional(&mut j.data_dir);
                path(&mut j.ess);
                path(&mut j.groups);
                optional(&mut j.questions);
                path(&mut j.out);
                optional(&mut j.key);
            }
            Job::VimData(j) => {
                examples(&mut j.examples);
                if let ArgumentSource::File(file) = &mut j.arguments {
                    path(file);
                }
                path(&mut j.out);
            }
            Job::Train(j) => {
                examples(&mut j.examples);
                model_path(&mut j.training.model.model, base);
                path(&mut j.training.out);
            }
            Job::VimHeldOut(j) => {
                path(&mut j.split);
                optional(&mut j.data_dir);
                optional(&mut j.groups_file);
                model_path(&mut j.training.model.model, base);
                path(&mut j.training.out);
            }
            Job::Protocol(j) => {
                path(&mut j.split);
                optional(&mut j.data_dir);
                optional(&mut j.groups_file);
                model_path(&mut j.model.model, base);
                for file in j.ess_microdata.iter_mut().flatten() {
                    path(file);
                }
                for m in &mut j.methods {
                    if let Some(adapter) = m.adapter.as_mut().filter(|a| a.is_relative()) {
                        *adapter = base.join(&*adapter);
                    }
                }
                path(&mut j.out);
            }
            Job::Condition(j) => {
                profiles(&mut j.profiles);
                model_path(&mut j.model.model, base);
                path(&mut j.out);
            }
            Job::VimCond(j) => {
                profiles(&mut j.profiles);
                model_path(&mut j.training.model.model, base);
                path(&mut j.training.out);
            }
            Job::Eval(j) => {
                optional(&mut j.data_dir);
                optional(&mut j.groups_file);
                model_choice(&mut j.model, base);
                optional(&mut j.questions);
                optional(&mut j.gold);
                path(&mut j.out);
            }
            Job::Predict(j) => {
                path(&mut j.groups_file);
                optional(&mut j.data_dir);
                path(&mut j.questions);
                model_choice(&mut j.model, base);
                optional(&mut j.gold);
                path(&mut j.out);
            }
            Job::Simulate(j) => {
                optional(&mut j.data_dir);
                optional(&mut j.human);
                optional(&mut j.key);
                optional(&mut j.human_relations);
                model_choice(&mut j.model, base);
                path(&mut j.out);
            }
            Job::Report(j) => {
                j.dirs.iter_mut().for_each(path);
                optional(&mut j.out);
            }
        }
    }
}

fn model_choice(model: &mut ModelChoice, base: &Path) {
    model_path(&mut model.model, base);
    if let Some(adapter) = model.adapter.as_mut().filter(|a| a.is_relative()) {
        *adapter = base.join(&*adapter);
    }
}

/// A model is a name or a path; only a relative path moves.
fn model_path(model: &mut String, base: &Path) {
    let named = NAMED_MODELS.iter().any(|(name, _)| name == model);
    if !named && Path::new(model.as_str()).is_relative() {
        *model = base.join(model.as_str()).display().to_string();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_move_under_the_base_and_named_models_and_absolute_paths_stay() {
        let spec = r#"{"job": "eval", "task": "pvq", "data_dir": "/data",
            "model": {"method": "vim", "model": "smollm2", "adapter": "adapters/g60"},
            "out": "runs/pvq"}"#;
        let mut job: Job = serde_json::from_str(spec).unwrap();
        job.resolve_paths(Path::new("/srv/jobs"));
        let Job::Eval(eval) = &job else {
            panic!("an eval job")
        };
        assert_eq!(eval.out, Path::new("/srv/jobs/runs/pvq"));
        assert_eq!(eval.data_dir.as_deref(), Some(Path::new("/data")));
        assert_eq!(
            eval.model.adapter.as_deref(),
            Some(Path::new("/srv/jobs/adapters/g60"))
        );
        assert_eq!(eval.model.model, "smollm2");

        let mut train = train_job("models/tiny.gguf");
        train.resolve_paths(Path::new("/srv/jobs"));
        let Job::Train(train) = train else {
            panic!("a training job")
        };
        assert_eq!(train.training.model.model, "/srv/jobs/models/tiny.gguf");
        assert_eq!(train.training.out, Path::new("/srv/jobs/adapters/g1"));
    }

    #[test]
    fn a_protocol_resolves_its_split_adapters_and_microdata() {
        let mut job: Job = serde_json::from_value(serde_json::json!({
            "job": "protocol",
            "split": "cond/offset",
            "methods": [{"method": "profile-offset", "adapter": "cond/offset"}],
            "ess_microdata": ["ess/no.csv", "/data/ess/gb.csv"],
            "out": "protocol",
        }))
        .unwrap();
        job.resolve_paths(Path::new("/srv/jobs"));
        let Job::Protocol(p) = job else { panic!() };
        assert_eq!(p.split, Path::new("/srv/jobs/cond/offset"));
        assert_eq!(
            p.methods[0].adapter.as_deref(),
            Some(Path::new("/srv/jobs/cond/offset"))
        );
        assert_eq!(
            p.ess_microdata.unwrap(),
            [
                Path::new("/srv/jobs/ess/no.csv"),
                Path::new("/data/ess/gb.csv")
            ]
        );
        assert_eq!((p.model.model.as_str(), p.ess_groups), ("smollm2", 8));
        assert_eq!(p.weight.as_deref(), Some("pspwght"));
    }

    fn train_job(model: &str) -> Job {
        Job::Train(super::super::TrainJob {
            examples: VimExamples {
                data_dir: None,
                groups_file: None,
                group: "Group_1".into(),
                method: crate::vim::TrainingMethod::Vim,
                rule: crate::vim::Rule::Mean,
                threshold: 4.5,
                seed: 0,
            },
            training: super::super::train::LoraTraining {
                model: super::super::ModelRun {
                    model: model.into(),
                    cuda: false,
                    threads: None,
                },
                epochs: 1,
                lr: 1e-4,
                weight_decay: 0.0,
                batch_size: 4,
                grad_accum: 1,
                max_steps: None,
                max_examples: None,
                max_seq_len: 128,
                lora: crate::lora::LoraConfig::default(),
                checkpoint_every: 10,
                resume: false,
                out: "adapters/g1".into(),
            },
        })
    }
}
