-- Run folders known to the results explorer (issue 9): imported from disk (`valuelab runs
-- import`, `POST /api/runs/import`), one row per folder, updated in place on a re-import.

CREATE TABLE runs (
    id INTEGER PRIMARY KEY NOT NULL,
    -- the folder, absolute: the key a re-import finds the row by
    path TEXT NOT NULL UNIQUE,
    task TEXT NOT NULL,
    method TEXT NOT NULL,
    model TEXT NOT NULL,
    answer_mode TEXT NOT NULL,
    -- the run's target groups, a JSON array of names
    groups TEXT NOT NULL,
    -- 'done' (results.json written) or 'incomplete' (interrupted; `valuelab eval` resumes it)
    status TEXT NOT NULL CHECK (status IN ('done', 'incomplete')),
    -- run.json's start and end (RFC 3339)
    started TEXT NOT NULL,
    finished TEXT,
    imported_at BIGINT NOT NULL
);

CREATE INDEX runs_task_method ON runs (task, method);
