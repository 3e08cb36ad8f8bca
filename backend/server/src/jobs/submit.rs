//! `POST /api/jobs`: a job spec exactly as `valuelab <command> --print-spec` prints it, with an
//! optional `backend`, checked field by field before it is queued. A bad spec answers 400 with
//! `fields` (each bad field as a dotted path, `model.batch_size`, and what is wrong): the run
//! form shows each message beside its field.

use super::{append_log, load, refuse_shared_output};
use crate::db::models::{JobRow, NewJob};
use crate::db::schema::jobs;
use crate::db::{now_s, Db};
use crate::error::{ApiError, ApiResult};
use crate::state::write_transaction;
use diesel::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use valuelab_engine::jobs::check::check;
use valuelab_engine::jobs::{
    ConditionJob, EvalJob, GroupsJob, Job, PredictJob, ProtocolJob, ReportJob, SimulateJob,
    TrainJob, VimCondJob, VimDataJob, VimHeldOutJob,
};

/// The job kinds a spec's `job` may name.
const KINDS: [&str; 11] = [
    "eval",
    "train",
    "vim-cond",
    "vim-held-out",
    "condition",
    "groups",
    "vim-data",
    "predict",
    "report",
    "simulate",
    "protocol",
];

/// Where a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The server's own worker threads.
    Local,
    /// A Slurm cluster (`sbatch`).
    Slurm,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Slurm => "slurm",
        }
    }
}

/// A checked submission: the job with every relative path resolved against the jobs folder and
/// the server's data folder filled in, and where it runs.
#[derive(Debug)]
pub struct Submission {
    pub job: Job,
    pub backend: Backend,
}

/// What the server fills into a spec, and what it offers.
pub struct SubmitContext<'a> {
    pub jobs_dir: &'a Path,
    pub data_dir: Option<&'a Path>,
    /// Whether this server can submit to Slurm.
    pub slurm: bool,
}

/// Reads and checks a submitted body; every problem found is reported at once.
pub fn parse(body: Value, context: &SubmitContext) -> ApiResult<Submission> {
    let Value::Object(mut body) = body else {
        return Err(fields([(
            "job",
            "send a job spec: a JSON object as `valuelab <command> --print-spec` prints it"
                .to_string(),
        )]));
    };
    let backend = backend(body.remove("backend"), context.slurm)?;
    let mut job = job_from(body)?;
    job = job.with_defaults(context.data_dir, None);
    job.resolve_paths(context.jobs_dir);
    let problems = check(&job);
    if !problems.is_empty() {
        return Err(ApiError::InvalidFields(problems));
    }
    Ok(Submission { job, backend })
}

fn fields<const N: usize>(pairs: [(&str, String); N]) -> ApiError {
    ApiError::InvalidFields(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn backend(given: Option<Value>, slurm: bool) -> ApiResult<Backend> {
    match given.as_ref().map(|v| v.as_str()) {
        None | Some(Some("local")) => Ok(Backend::Local),
        Some(Some("slurm")) if slurm => Ok(Backend::Slurm),
        Some(Some("slurm")) => Err(fields([(
            "backend",
            "this server does not submit to Slurm (sbatch does not run where it runs); use \
             \"local\", or `valuelab ... --backend slurm` on a cluster's login node"
                .to_string(),
        )])),
        _ => Err(fields([(
            "backend",
            format!(
                "must be \"local\" or \"slurm\", got {}",
                given.unwrap_or(Value::Null)
            ),
        )])),
    }
}

/// The job a spec describes. Each kind's struct is read on its own, so a type error names the
/// field's path (`model.batch_size`); the tag is checked first.
fn job_from(mut body: Map<String, Value>) -> ApiResult<Job> {
    let kind = match body.remove("job") {
        Some(Value::String(kind)) => kind,
        other => {
            let got = other.map_or("nothing".to_string(), |v| v.to_string());
            return Err(fields([(
                "job",
                format!("must be one of {}, got {got}", KINDS.join(", ")),
            )]));
        }
    };
    let body = Value::Object(body);
    Ok(match kind.as_str() {
        "eval" => Job::Eval(typed::<EvalJob>(body)?),
        "train" => Job::Train(typed::<TrainJob>(body)?),
        "vim-cond" => Job::VimCond(typed::<VimCondJob>(body)?),
        "vim-held-out" => Job::VimHeldOut(typed::<VimHeldOutJob>(body)?),
        "condition" => Job::Condition(typed::<ConditionJob>(body)?),
        "protocol" => Job::Protocol(typed::<ProtocolJob>(body)?),
        "groups" => Job::Groups(typed::<GroupsJob>(body)?),
        "vim-data" => Job::VimData(typed::<VimDataJob>(body)?),
        "predict" => Job::Predict(typed::<PredictJob>(body)?),
        "report" => Job::Report(typed::<ReportJob>(body)?),
        "simulate" => Job::Simulate(typed::<SimulateJob>(body)?),
        other => {
            return Err(fields([(
                "job",
                format!("must be one of {}, got \"{other}\"", KINDS.join(", ")),
            )]))
        }
    })
}

fn typed<T: DeserializeOwned>(body: Value) -> ApiResult<T> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // A missing field is reported at its parent: name the field itself.
        let field = match missing_field(&inner) {
            Some(name) if path == "." => name.to_string(),
            Some(name) => format!("{path}.{name}"),
            None if path == "." => "job".to_string(),
            None => path,
        };
        fields([(field.as_str(), inner)])
    })
}

/// `missing field `x`` → `x`.
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
}

/// The folder or file a job writes: two live jobs never share one.
pub fn output_of(job: &Job) -> PathBuf {
    match job {
        Job::Eval(j) => j.out.clone(),
        Job::Train(j) => j.training.out.clone(),
        Job::VimCond(j) => j.training.out.clone(),
        Job::VimHeldOut(j) => j.training.out.clone(),
        Job::Condition(j) => j.out.clone(),
        Job::Protocol(j) => j.out.clone(),
        Job::Report(j) => j.out_dir(),
        Job::Groups(j) => j.output_file().to_path_buf(),
        Job::VimData(j) => j.out.clone(),
        Job::Predict(j) => j.out.clone(),
        Job::Simulate(j) => j.out.clone(),
    }
}

fn kind_of(job: &Job) -> &'static str {
    match job {
        Job::Eval(_) => "eval",
        Job::Train(_) => "train",
        Job::VimCond(_) => "vim-cond",
        Job::VimHeldOut(_) => "vim-held-out",
        Job::Condition(_) => "condition",
        Job::Protocol(_) => "protocol",
        Job::Groups(_) => "groups",
        Job::VimData(_) => "vim-data",
        Job::Predict(_) => "predict",
        Job::Report(_) => "report",
        Job::Simulate(_) => "simulate",
    }
}

/// Queues a checked submission (409 when a live job writes to the same output).
pub fn enqueue(
    conn: &mut Db,
    submission: &Submission,
    user: i32,
    username: &str,
) -> ApiResult<JobRow> {
    let out = output_of(&submission.job).display().to_string();
    write_transaction(conn, |conn| {
        refuse_shared_output(conn, &out, None)?;
        diesel::insert_into(jobs::table)
            .values(NewJob {
                kind: kind_of(&submission.job).to_string(),
                spec: submission.job.to_json(),
                backend: submission.backend.as_str().to_string(),
                status: "queued".to_string(),
                out: out.clone(),
                created_by: user,
                created_at: now_s(),
            })
            .execute(conn)?;
        // No RETURNING on both backends: the write lock is held, so the newest row is this one.
        let id: i32 = jobs::table
            .select(jobs::id)
            .order(jobs::id.desc())
            .first(conn)?;
        append_log(conn, id, &format!("queued by {username} → {out}"))?;
        load(conn, id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn context(dir: &Path) -> SubmitContext<'_> {
        SubmitContext {
            jobs_dir: dir,
            data_dir: None,
            slurm: false,
        }
    }

    fn field_errors(body: Value) -> BTreeMap<String, String> {
        match parse(body, &context(Path::new("/srv/jobs"))) {
            Err(ApiError::InvalidFields(fields)) => fields,
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn a_type_error_names_the_path_of_its_field() {
        let errors = field_errors(json!({"job": "eval", "task": "pvq", "out": "x",
            "model": {"method": "base", "batch_size": "four"}}));
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["model.batch_size"]);
        assert!(
            errors["model.batch_size"].contains("invalid type"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_missing_field_is_named_itself_not_its_parent() {
        let errors =
            field_errors(json!({"job": "eval", "task": "pvq", "model": {"method": "base"}}));
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["out"]);
        let errors = field_errors(json!({"job": "eval", "task": "pvq", "out": "x", "model": {}}));
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["model.method"]);
    }

    #[test]
    fn the_tag_and_the_backend_are_checked_first() {
        let errors = field_errors(json!({"task": "pvq"}));
        assert!(errors["job"].contains("eval, train"), "{errors:?}");
        let errors = field_errors(json!({"job": "fly"}));
        assert!(errors["job"].contains("\"fly\""), "{errors:?}");
        let errors = field_errors(json!({"job": "eval", "backend": "slurm"}));
        assert!(
            errors["backend"].contains("does not submit to Slurm"),
            "{errors:?}"
        );
        let errors = field_errors(json!({"job": "eval", "backend": 3}));
        assert!(errors["backend"].contains("got 3"), "{errors:?}");
        let errors = field_errors(json!([1, 2]));
        assert!(errors["job"].contains("JSON object"), "{errors:?}");
    }

    #[test]
    fn an_unknown_method_is_a_field_error_of_model_method() {
        let errors = field_errors(json!({"job": "eval", "task": "pvq", "out": "x",
            "model": {"method": "telepathy"}}));
        assert!(errors.contains_key("model.method"), "{errors:?}");
    }
}
