//! valuelab's application layer: every piece of work a user can ask for is a job, a serde spec
//! (JSON) holding everything needed to run it, and [`run`] runs any of them. The command line
//! builds a spec from its flags and calls [`run`]; `valuelab run SPEC.json`, the server's job
//! worker and a cluster task call it with a saved spec. Progress goes to a [`ProgressSink`]; a
//! [`CancelToken`] stops a job at the next item or step, leaving a run directory that the same
//! job resumes.
//!
//! The jobs follow the data flow: [`GroupsJob`] (groups and their gold opinions), [`VimDataJob`]
//! (training examples), [`TrainJob`] (adapter), [`VimCondJob`] (one adapter for every profile), [`VimHeldOutJob`] (per-group VIM for the protocol's profiles), [`ConditionJob`] (a profile conditioner), [`EvalJob`] and [`PredictJob`] (the model
//! answers), [`SimulateJob`] (a population of personas), [`ReportJob`] (tables and plots), [`ProtocolJob`]
//! (the conditioning evidence). Each writes its outputs and a `job.json` record
//! ([`record`]): the full spec, the valuelab version and git commit, the seed, and the timings
//! of every invocation.
//!
//! Threads: a job runs on the caller's thread, inside a rayon pool of its own when the spec
//! names a thread count (candle's kernels run on the current rayon pool), so two jobs in one
//! process do not share or resize a global pool.

pub mod array;
pub mod check;
pub mod condition;
pub mod eval;
pub mod groups;
pub mod model;
mod paths;
pub mod predict;
pub mod profile_split;
pub mod progress;
pub mod protocol;
mod protocol_countries;
pub mod record;
pub mod report;
pub mod rescore_groups;
pub mod simulate;
pub mod train;
pub mod vim_cond;
pub mod vim_data;
pub mod vim_held_out;

pub use condition::{ConditionJob, ConditionOutput};
pub use eval::{EvalJob, EvalOutput};
pub use groups::{GroupsJob, GroupsOutput};
pub use model::{ModelChoice, ModelRun};
pub use predict::{PredictJob, PredictOutput};
pub use progress::{CancelToken, JobEvent, JsonLinesSink, NullSink, ProgressSink};
pub use protocol::{ProtocolJob, ProtocolOutput};
pub use record::{JobRecord, JobStatus};
pub use report::{ReportJob, ReportOutput};
pub use simulate::{SimulateJob, SimulateOutput};
pub use train::{TrainJob, TrainOutput};
pub use vim_cond::{VimCondJob, VimCondOutput};
pub use vim_data::{VimDataJob, VimDataOutput};
pub use vim_held_out::{VimHeldOutJob, VimHeldOutOutput};

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Any job, tagged by `job` in JSON: `{"job": "eval", "task": "pvq", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "kebab-case")]
pub enum Job {
    Groups(GroupsJob),
    VimData(VimDataJob),
    Train(TrainJob),
    VimCond(VimCondJob),
    VimHeldOut(VimHeldOutJob),
    Condition(ConditionJob),
    Eval(EvalJob),
    Predict(PredictJob),
    Report(ReportJob),
    Simulate(SimulateJob),
    Protocol(ProtocolJob),
}

/// What a job produced; the command line prints it, the server stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutput {
    Groups(GroupsOutput),
    VimData(VimDataOutput),
    Train(TrainOutput),
    VimCond(VimCondOutput),
    VimHeldOut(VimHeldOutOutput),
    Condition(ConditionOutput),
    Eval(EvalOutput),
    Predict(PredictOutput),
    Report(ReportOutput),
    Simulate(SimulateOutput),
    Protocol(ProtocolOutput),
}

impl JobOutput {
    /// Whether the job stopped at its cancel token before the end.
    pub fn is_cancelled(&self) -> bool {
        match self {
            JobOutput::Train(out) => out.summary.cancelled,
            JobOutput::VimCond(out) => out.summary.cancelled,
            JobOutput::VimHeldOut(out) => out.cancelled,
            JobOutput::Condition(out) => out.cancelled,
            JobOutput::Protocol(out) => out.report.is_none(),
            JobOutput::Eval(out) => out.result.is_none(),
            JobOutput::Predict(out) => out.cancelled,
            JobOutput::Simulate(out) => out.summary.is_none(),
            JobOutput::Groups(_) | JobOutput::VimData(_) | JobOutput::Report(_) => false,
        }
    }
}

/// How a run ended, with what it produced and where its record is.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// `Finished`, or `Cancelled` (the run directory resumes when the job runs again).
    pub status: JobStatus,
    /// The job's record (`job.json`): in its output folder, or beside its output file.
    pub record: PathBuf,
    pub output: JobOutput,
    pub seconds: f64,
}

impl RunOutcome {
    pub fn is_cancelled(&self) -> bool {
        self.status == JobStatus::Cancelled
    }
}

/// The name of a job's record inside an output folder.
pub const RECORD_FILE: &str = "job.json";

impl Job {
    /// Reads a spec saved as JSON (by `--print-spec`, the server or a person).
    pub fn from_json_file(path: &Path) -> Result<Job> {
        crate::output::read_json(path, "job spec")
    }

    /// The spec as pretty JSON, the form `from_json_file` reads.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a job spec is plain data")
    }

    /// Fills what the spec leaves to its environment: the data directory and the thread count
    /// (`valuelab run --data-dir DIR --threads N SPEC.json`); what the spec names stays.
    pub fn with_defaults(mut self, data_dir: Option<&Path>, threads: Option<usize>) -> Job {
        let fill = |slot: &mut Option<PathBuf>| {
            if slot.is_none() {
                *slot = data_dir.map(Path::to_path_buf);
            }
        };
        match &mut self {
            Job::Groups(GroupsJob::Build(j)) => fill(&mut j.data_dir),
            Job::Groups(GroupsJob::Gold(j)) => fill(&mut j.data_dir),
            Job::Groups(GroupsJob::Rescore(j)) => fill(&mut j.data_dir),
            Job::VimData(j) => fill(&mut j.examples.data_dir),
            Job::Train(j) => {
                fill(&mut j.examples.data_dir);
                j.training.model.threads = j.training.model.threads.or(threads);
            }
            Job::VimCond(j) => {
                fill(&mut j.profiles.data_dir);
                j.training.model.threads = j.training.model.threads.or(threads);
            }
            Job::VimHeldOut(j) => {
                fill(&mut j.data_dir);
                j.training.model.threads = j.training.model.threads.or(threads);
            }
            Job::Condition(j) => {
                fill(&mut j.profiles.data_dir);
                j.model.threads = j.model.threads.or(threads);
            }
            Job::Eval(j) => {
                fill(&mut j.data_dir);
                j.model.threads = j.model.threads.or(threads);
            }
            Job::Predict(j) => {
                fill(&mut j.data_dir);
                j.model.threads = j.model.threads.or(threads);
            }
            Job::Simulate(j) => {
                fill(&mut j.data_dir);
                j.model.threads = j.model.threads.or(threads);
            }
            Job::Protocol(j) => {
                fill(&mut j.data_dir);
                j.model.threads = j.model.threads.or(threads);
            }
            Job::Report(_) => {}
        }
        self
    }

    /// The seed of the job's random choices, where it has any.
    pub fn seed(&self) -> Option<u64> {
        match self {
            Job::Groups(j) => j.seed(),
            Job::VimData(j) => Some(j.examples.seed),
            Job::Train(j) => Some(j.examples.seed),
            Job::VimCond(j) => Some(j.seed),
            Job::VimHeldOut(j) => Some(j.seed),
            Job::Condition(j) => Some(j.seed),
            Job::Protocol(j) => Some(j.seed),
            Job::Eval(j) => Some(j.model.seed),
            Job::Predict(j) => Some(j.model.seed),
            Job::Simulate(j) => Some(j.model.seed),
            Job::Report(_) => None,
        }
    }

    /// CPU threads for model work (None: the process's rayon pool).
    pub fn threads(&self) -> Option<usize> {
        match self {
            Job::Train(j) => j.training.model.threads,
            Job::VimCond(j) => j.training.model.threads,
            Job::VimHeldOut(j) => j.training.model.threads,
            Job::Condition(j) => j.model.threads,
            Job::Protocol(j) => j.model.threads,
            Job::Eval(j) => j.model.threads,
            Job::Predict(j) => j.model.threads,
            Job::Simulate(j) => j.model.threads,
            Job::Groups(_) | Job::VimData(_) | Job::Report(_) => None,
        }
    }

    /// Where the job's record goes: `job.json` in its output folder, or `<file>.job.json`
    /// beside its output file.
    pub fn record_path(&self) -> PathBuf {
        match self {
            Job::Train(j) => j.training.out.join(RECORD_FILE),
            Job::VimCond(j) => j.training.out.join(RECORD_FILE),
            Job::VimHeldOut(j) => j.training.out.join(RECORD_FILE),
            Job::Condition(j) => j.out.join(RECORD_FILE),
            Job::Protocol(j) => j.out.join(RECORD_FILE),
            Job::Eval(j) => j.out.join(RECORD_FILE),
            Job::Simulate(j) => j.out.join(RECORD_FILE),
            Job::Report(j) => j.out_dir().join(RECORD_FILE),
            Job::Groups(j) => beside(j.output_file()),
            Job::VimData(j) => beside(&j.out),
            Job::Predict(j) => beside(&j.out),
        }
    }
}

fn beside(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(RECORD_FILE);
    file.with_file_name(name)
}

/// Runs `job` to its end or until `cancel` is set, reporting to `sink`, and records it.
pub fn run(job: &Job, sink: &dyn ProgressSink, cancel: &CancelToken) -> Result<RunOutcome> {
    let record_path = job.record_path();
    let started = Instant::now();
    let started_at = crate::output::now_utc();
    let result = in_thread_pool(job.threads(), || run_inner(job, sink, cancel)).and_then(|r| r);
    let seconds = started.elapsed().as_secs_f64();
    let status = match &result {
        Ok(output) if output.is_cancelled() => JobStatus::Cancelled,
        Ok(_) => JobStatus::Finished,
        Err(_) => JobStatus::Failed,
    };
    // A failure is recorded only where the job has a run folder already (or a record from an
    // earlier invocation): bad input must not leave files behind.
    let has_run_folder = match job {
        Job::Train(j) => j.training.out.is_dir(),
        Job::VimCond(j) => j.training.out.is_dir(),
        Job::VimHeldOut(j) => j.training.out.is_dir(),
        Job::Condition(j) => j.out.is_dir(),
        Job::Protocol(j) => j.out.is_dir(),
        Job::Eval(j) => j.out.is_dir(),
        Job::Simulate(j) => j.out.is_dir(),
        _ => false,
    };
    if status != JobStatus::Failed || has_run_folder || record_path.exists() {
        let error = result.as_ref().err().map(|e| e.to_string());
        let recorded =
            record::append_invocation(&record_path, job, started_at, seconds, status, error);
        if let (Err(e), Ok(_)) = (recorded, &result) {
            return Err(e);
        }
    }
    let output = result?;
    Ok(RunOutcome {
        status,
        record: record_path,
        output,
        seconds,
    })
}

fn run_inner(job: &Job, sink: &dyn ProgressSink, cancel: &CancelToken) -> Result<JobOutput> {
    Ok(match job {
        Job::Groups(j) => JobOutput::Groups(j.run(sink)?),
        Job::VimData(j) => JobOutput::VimData(j.run(sink)?),
        Job::Train(j) => JobOutput::Train(j.run(sink, cancel)?),
        Job::VimCond(j) => JobOutput::VimCond(j.run(sink, cancel)?),
        Job::VimHeldOut(j) => JobOutput::VimHeldOut(j.run(sink, cancel)?),
        Job::Condition(j) => JobOutput::Condition(j.run(sink, cancel)?),
        Job::Protocol(j) => JobOutput::Protocol(j.run(sink, cancel)?),
        Job::Eval(j) => JobOutput::Eval(j.run(sink, cancel)?),
        Job::Predict(j) => JobOutput::Predict(j.run(sink, cancel)?),
        Job::Report(j) => JobOutput::Report(j.run(sink)?),
        Job::Simulate(j) => JobOutput::Simulate(j.run(sink, cancel)?),
    })
}

/// How many times an idle worker of candle's own thread pool checks for work before it sleeps,
/// unless the user sets `CANDLE_BARRIER_POOL_SPIN_LIMIT` (candle's default is 25,000).
///
/// Why: candle runs its elementwise and quantised kernels on that pool and its matrix products
/// on rayon's, each with a worker per core. After every elementwise op candle's worker kept
/// spinning for about half a millisecond, on a core that rayon's workers needed for the next
/// matrix product; with the shorter spin, option scoring and the LoRA train step were faster on
/// 2 cores (docs/performance.md).
pub const CANDLE_POOL_SPIN_LIMIT: u32 = 500;

/// Sets up candle's own thread pool before any model work; call it before other threads start
/// (it writes the environment). The pool serves candle's elementwise and quantised kernels
/// ([`crate::lora::quantized`]) and is sized once, on first use, from `CANDLE_NUM_THREADS`
/// (else `RAYON_NUM_THREADS`, else every core): `threads` (a command's `--threads`) sets it,
/// unless the user did. Its workers' spin before sleeping is [`CANDLE_POOL_SPIN_LIMIT`].
pub fn configure_candle_pool(threads: Option<usize>) {
    if let Some(threads) = threads {
        if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
            std::env::set_var("CANDLE_NUM_THREADS", threads.max(1).to_string());
        }
    }
    if std::env::var_os("CANDLE_BARRIER_POOL_SPIN_LIMIT").is_none() {
        std::env::set_var(
            "CANDLE_BARRIER_POOL_SPIN_LIMIT",
            CANDLE_POOL_SPIN_LIMIT.to_string(),
        );
    }
}

/// Runs `work` in a rayon pool of `threads` threads (None: the current pool).
pub fn in_thread_pool<T: Send>(
    threads: Option<usize>,
    work: impl FnOnce() -> T + Send,
) -> Result<T> {
    match threads {
        None => Ok(work()),
        Some(n) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build()
                .map_err(|e| Error::invalid(format!("cannot start {n} worker threads: {e}")))?;
            Ok(pool.install(work))
        }
    }
}

#[cfg(test)]
mod tests;
