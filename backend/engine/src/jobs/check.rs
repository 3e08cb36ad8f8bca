//! A job spec checked before it is queued: the server's run form answers a bad spec with one
//! message per field instead of a job that fails minutes later. Only what is cheap is checked —
//! numbers in range, files and folders that exist, groups that the groups table knows, a model
//! that resolves, an adapter where the method needs one — never loading a model or a data set.
//! A spec that passes can still fail at run time (a corrupt file); the job's error says why.

use super::model::{ModelChoice, ModelRun};
use super::profile_split::ProfileSources;
use super::train::LoraTraining;
use super::{
    ConditionJob, EvalJob, Job, ProtocolJob, SimulateJob, TrainJob, VimCondJob, VimHeldOutJob,
};
use crate::data::groups::{find_group, read_groups, TargetGroup};
use crate::data::DataDir;
use crate::eval::{AnswerMode, TaskKind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each bad field of a spec (a dotted path, `model.batch_size`) with what is wrong with it.
pub type SpecProblems = BTreeMap<String, String>;

/// The problems of `job`, empty when it may be queued.
pub fn check(job: &Job) -> SpecProblems {
    let mut problems = Problems::default();
    match job {
        Job::Eval(j) => check_eval(j, &mut problems),
        Job::Train(j) => check_train(j, &mut problems),
        Job::VimCond(j) => check_vim_cond(j, &mut problems),
        Job::VimHeldOut(j) => check_vim_held_out(j, &mut problems),
        Job::Condition(j) => check_condition(j, &mut problems),
        // The other jobs read small tables and fail within a second if their input is bad.
        Job::Simulate(j) => check_simulate(j, &mut problems),
        Job::Protocol(j) => check_protocol(j, &mut problems),
        Job::Groups(_) | Job::VimData(_) | Job::Predict(_) | Job::Report(_) => {}
    }
    problems.0
}

#[derive(Default)]
struct Problems(SpecProblems);

impl Problems {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_string()).or_insert(message.into());
    }

    /// A whole number that must be at least `min`.
    fn at_least(&mut self, field: &str, value: usize, min: usize) {
        if value < min {
            self.add(field, format!("must be at least {min}, got {value}"));
        }
    }

    fn existing(&mut self, field: &str, path: &Option<PathBuf>) {
        if let Some(path) = path.as_deref().filter(|p| !p.exists()) {
            self.add(
                field,
                format!("{} does not exist on the server", path.display()),
            );
        }
    }
}

fn check_eval(job: &EvalJob, problems: &mut Problems) {
    let data_dir = data_dir(&job.data_dir, problems);
    let groups = groups_table(&job.groups_file, data_dir.as_ref(), problems);
    if let Some(groups) = groups {
        if let Err(e) = job.groups.select(&groups) {
            problems.add("groups", e.to_string());
        }
    }
    check_model(&job.model, problems);
    if let Some(n) = job.limit_items {
        problems.at_least("limit_items", n, 1);
    }
    problems.existing("questions", &job.questions);
    problems.existing("gold", &job.gold);
    if job.task != TaskKind::Ess {
        for (field, given) in [
            ("questions", job.questions.is_some()),
            ("gold", job.gold.is_some()),
            ("shots", job.shots > 0),
        ] {
            if given {
                problems.add(field, format!("only the ess task takes {field}"));
            }
        }
    } else if job.shots > 0 && job.gold.is_none() {
        problems.add(
            "gold",
            "few-shot examples are drawn from gold answers: give a gold file",
        );
    }
    check_out(&job.out, problems);
}

fn check_model(model: &ModelChoice, problems: &mut Problems) {
    if let Err(e) = crate::models::resolve(&model.model) {
        problems.add("model.model", e.to_string());
    }
    let method = model.method;
    match (&model.adapter, method.needs_adapter()) {
        (None, true) => problems.add(
            "model.adapter",
            format!(
                "method {method} needs the folder of a trained adapter (a training job's output)"
            ),
        ),
        (Some(_), false) => problems.add(
            "model.adapter",
            format!("method {method} puts the values in the prompt and takes no adapter"),
        ),
        _ => problems.existing("model.adapter", &model.adapter),
    }
    check_cuda("model.cuda", model.cuda, problems);
    problems.at_least("model.batch_size", model.batch_size, 1);
    problems.at_least("model.samples", model.samples, 1);
    if let Some(threads) = model.threads {
        problems.at_least("model.threads", threads, 1);
    }
}

fn check_protocol(job: &ProtocolJob, problems: &mut Problems) {
    if job.methods.is_empty() {
        problems.add("methods", "give at least one method to test");
    }
    if let Some(bad) = job
        .tasks
        .iter()
        .find(|t| !matches!(t, TaskKind::Pvq | TaskKind::ValueNet | TaskKind::Ess))
    {
        problems.add(
            "tasks",
            format!(
                "'{}' is not a protocol task (pvq, valuenet, ess)",
                bad.name()
            ),
        );
    }
    check_model_spec(&job.model, problems);
    problems.at_least("batch_size", job.batch_size, 1);
    if job.tasks.contains(&TaskKind::Ess) {
        problems.at_least("ess_groups", job.ess_groups, 2);
        for (i, file) in job.ess_microdata.iter().flatten().enumerate() {
            problems.existing(&format!("ess_microdata.{i}"), &Some(file.clone()));
        }
    }
}

fn check_simulate(job: &SimulateJob, problems: &mut Problems) {
    data_dir(&job.data_dir, problems);
    problems.at_least("n", job.n, 1);
    if job.instruments.is_empty() {
        problems.add("instruments", "name at least pvq40");
    }
    if !(0.0..=5.0).contains(&job.gap) {
        problems.add(
            "gap",
            format!("must lie in 0..5 scale points, got {}", job.gap),
        );
    }
    if let Some(n) = job.limit_items {
        problems.at_least("limit_items", n, 1);
    }
    check_model(&job.model, problems);
    if job.model.answer.is_some_and(|a| a != AnswerMode::Expect) {
        problems.add("model.answer", "a simulation answers in expect mode");
    }
    problems.existing("human", &job.human);
    problems.existing("key", &job.key);
    problems.existing("human_relations", &job.human_relations);
    check_out(&job.out, problems);
}

fn check_train(job: &TrainJob, problems: &mut Problems) {
    let examples = &job.examples;
    let data_dir = data_dir(&examples.data_dir, problems);
    let groups = groups_table(&examples.groups_file, data_dir.as_ref(), problems);
    if let Some(groups) = groups {
        if let Err(e) = find_group(&groups, &examples.group) {
            problems.add("group", e.to_string());
        }
    }
    if let Err(e) = examples.check() {
        problems.add("threshold", e.to_string());
    }
    check_lora_training(&job.training, problems);
}

fn check_vim_cond(job: &VimCondJob, problems: &mut Problems) {
    check_profiles(&job.profiles, problems);
    if !job.threshold.is_finite() {
        problems.add("threshold", "must be a number on the 1..6 scale");
    }
    problems.at_least("examples", job.examples, 1);
    if job.training.max_examples.is_some() {
        problems.add(
            "max_examples",
            "vim-cond draws `examples` (profile, argument) pairs: set that instead",
        );
    }
    problems.at_least("validation_examples", job.validation_examples, 1);
    check_lora_training(&job.training, problems);
}

fn check_vim_held_out(job: &VimHeldOutJob, problems: &mut Problems) {
    problems.existing("split", &Some(job.split.clone()));
    data_dir(&job.data_dir, problems);
    problems.existing("groups_file", &job.groups_file);
    if !job.threshold.is_finite() {
        problems.add("threshold", "must be a number on the 1..6 scale");
    }
    check_lora_training(&job.training, problems);
}

/// The fields of an adapter training (train, vim-cond, vim-held-out).
fn check_lora_training(job: &LoraTraining, problems: &mut Problems) {
    check_model_spec(&job.model, problems);
    for (field, value) in [
        ("epochs", job.epochs),
        ("batch_size", job.batch_size),
        ("grad_accum", job.grad_accum),
        ("checkpoint_every", job.checkpoint_every),
        ("lora.r", job.lora.r),
    ] {
        problems.at_least(field, value, 1);
    }
    problems.at_least("max_seq_len", job.max_seq_len, 8);
    for (field, value) in [
        ("max_steps", job.max_steps),
        ("max_examples", job.max_examples),
    ] {
        if let Some(value) = value {
            problems.at_least(field, value, 1);
        }
    }
    if !(job.lr.is_finite() && job.lr > 0.0) {
        problems.add("lr", format!("must be a positive number, got {}", job.lr));
    }
    if !(job.weight_decay.is_finite() && job.weight_decay >= 0.0) {
        problems.add(
            "weight_decay",
            format!("must be 0 or more, got {}", job.weight_decay),
        );
    }
    check_out(&job.out, problems);
}

/// Where the profiles of a training across profiles come from (condition, vim-cond).
fn check_profiles(profiles: &ProfileSources, problems: &mut Problems) {
    let data_dir = data_dir(&profiles.data_dir, problems);
    groups_table(&profiles.groups_file, data_dir.as_ref(), problems);
    problems.existing("respondents", &profiles.respondents);
}

fn check_condition(job: &ConditionJob, problems: &mut Problems) {
    check_profiles(&job.profiles, problems);
    check_model_spec(&job.model, problems);
    for (field, value) in [
        ("steps", job.steps),
        ("batch_size", job.batch_size),
        ("validation_examples", job.validation_examples),
    ] {
        problems.at_least(field, value, 1);
    }
    if !(job.lr.is_finite() && job.lr > 0.0) {
        problems.add("lr", format!("must be a positive number, got {}", job.lr));
    }
    if !(job.minutes.is_finite() && job.minutes > 0.0) {
        problems.add(
            "minutes",
            format!("must be a positive number of minutes, got {}", job.minutes),
        );
    }
    if job.alphas.is_empty() || job.alphas.iter().any(|a| !a.is_finite()) {
        problems.add(
            "alphas",
            "give one or more finite strengths, such as 0,1,2,4",
        );
    }
    check_out(&job.out, problems);
}

/// The `model` and `cuda` fields of a job that loads a model itself (train, condition).
/// The model of a conditioning, protocol or training spec.
fn check_model_spec(run: &ModelRun, problems: &mut Problems) {
    if let Err(e) = crate::models::resolve(&run.model) {
        problems.add("model", e.to_string());
    }
    check_cuda("cuda", run.cuda, problems);
    if let Some(threads) = run.threads {
        problems.at_least("threads", threads, 1);
    }
}

fn check_cuda(field: &str, cuda: bool, problems: &mut Problems) {
    if cuda && !cfg!(feature = "cuda") {
        problems.add(
            field,
            "this server was built without CUDA (rebuild with --features cuda)",
        );
    }
}

fn check_out(out: &Path, problems: &mut Problems) {
    if out.as_os_str().is_empty() {
        problems.add("out", "give the folder the job writes to");
    }
}

/// The data directory the spec names (or the environment's), when it resolves.
fn data_dir(given: &Option<PathBuf>, problems: &mut Problems) -> Option<DataDir> {
    DataDir::resolve(given.as_deref())
        .map_err(|e| problems.add("data_dir", e.to_string()))
        .ok()
}

/// The groups table a spec reads: its own file, else the data directory's.
fn groups_table(
    file: &Option<PathBuf>,
    data_dir: Option<&DataDir>,
    problems: &mut Problems,
) -> Option<Vec<TargetGroup>> {
    let path = match file {
        Some(path) => path.clone(),
        None => data_dir?.groups_csv(),
    };
    let field = if file.is_some() {
        "groups_file"
    } else {
        "data_dir"
    };
    read_groups(&path)
        .map_err(|e| problems.add(field, e.to_string()))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testdata::shared_data;
    use crate::eval::Method;
    use crate::groups::GroupSelection;

    fn eval_job(model: &str) -> EvalJob {
        EvalJob {
            task: TaskKind::Pvq,
            data_dir: Some(shared_data().root().to_path_buf()),
            groups_file: None,
            groups: GroupSelection::Names(vec!["Group_1".into()]),
            model: ModelChoice {
                method: Method::PromptShort,
                model: model.to_string(),
                adapter: None,
                cuda: false,
                answer: None,
                samples: 5,
                seed: 3,
                batch_size: 2,
                threads: Some(1),
            },
            limit_items: Some(4),
            questions: None,
            gold: None,
            shots: 0,
            out: PathBuf::from("runs/pvq"),
        }
    }

    #[test]
    fn a_runnable_spec_has_no_problems_and_each_bad_field_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("tiny.gguf");
        crate::models::testing::write_random_tiny_gguf(&model, 7).unwrap();
        let good = eval_job(&model.display().to_string());
        assert_eq!(check(&Job::Eval(good.clone())), SpecProblems::new());

        let mut bad = good;
        bad.groups = GroupSelection::Names(vec!["Atlantis".into()]);
        bad.model.model = dir.path().join("none.gguf").display().to_string();
        bad.model.method = Method::Vim;
        bad.model.batch_size = 0;
        bad.limit_items = Some(0);
        bad.shots = 2;
        let problems = check(&Job::Eval(bad));
        let fields: Vec<&str> = problems.keys().map(String::as_str).collect();
        assert_eq!(
            fields,
            [
                "groups",
                "limit_items",
                "model.adapter",
                "model.batch_size",
                "model.model",
                "shots"
            ]
        );
        assert!(problems["groups"].contains("Atlantis"), "{problems:?}");
        assert!(problems["model.batch_size"].contains("at least 1"));
    }
}
