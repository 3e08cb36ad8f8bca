-- The job queue (issue 9): jobs an admin submits from the web app (`POST /api/jobs`), run by
-- the server's job worker or submitted to Slurm. The spec is the job layer's JSON, exactly as
-- `--print-spec` prints it; the run folder stays the source of truth for results.

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY NOT NULL,
    -- the spec's `job` tag: eval, train, groups, vim-data, predict, report
    kind TEXT NOT NULL,
    -- the job spec (JSON), its output path made absolute under the server's jobs folder
    spec TEXT NOT NULL,
    backend TEXT NOT NULL CHECK (backend IN ('local', 'slurm')),
    status TEXT NOT NULL
        CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled', 'interrupted')),
    -- the job's output (run or adapter folder, or file): two live jobs never share one
    out TEXT NOT NULL,
    progress_done BIGINT NOT NULL DEFAULT 0,
    progress_total BIGINT NOT NULL DEFAULT 0,
    -- the latest training step or evaluation batch (JSON: loss, tokens/s, items/s, ETA)
    detail TEXT,
    -- set by Cancel; the worker running the job sees it at its next heartbeat
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    -- the evaluation's run folder in the explorer, once imported
    run_id INTEGER REFERENCES runs (id),
    error TEXT,
    -- Slurm: the array job's id (sbatch --parsable)
    slurm_job_id TEXT,
    -- how many times a worker took it (1, then one more per Resume)
    attempts INTEGER NOT NULL DEFAULT 0,
    created_by INTEGER NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    -- a running job's worker writes this every few seconds; a stale one means the worker died
    heartbeat_at BIGINT
);

CREATE INDEX jobs_status ON jobs (status, id);

-- What a job told its watcher: messages, checkpoints, validation losses, errors.
CREATE TABLE job_log (
    id INTEGER PRIMARY KEY NOT NULL,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at_ms BIGINT NOT NULL,
    line TEXT NOT NULL
);

CREATE INDEX job_log_job ON job_log (job_id, id);

-- Specs saved under a name for the run form (admins).
CREATE TABLE job_templates (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);
