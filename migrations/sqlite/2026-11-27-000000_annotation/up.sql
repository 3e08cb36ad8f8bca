-- Accounts, sessions, invites and pairwise annotation studies (issue 8).
-- Times are integers: seconds since the Unix epoch, or milliseconds where named `_ms`.

CREATE TABLE users (
    id INTEGER PRIMARY KEY NOT NULL,
    username TEXT NOT NULL UNIQUE,
    -- NULL for an anonymous study participant, who cannot log in with a password
    password_hash TEXT,
    role TEXT NOT NULL CHECK (role IN ('admin', 'member', 'annotator')),
    -- the one study an annotator joined through (public link or invite); NULL for staff
    study_id INTEGER,
    consented_at BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE studies (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    run_a TEXT NOT NULL,
    run_b TEXT NOT NULL,
    method_a TEXT NOT NULL,
    method_b TEXT NOT NULL,
    annotators_per_item INTEGER NOT NULL,
    item_quota INTEGER,
    guidelines TEXT NOT NULL,
    public_token TEXT NOT NULL UNIQUE,
    completion_code TEXT NOT NULL,
    completion_url TEXT,
    attention_every INTEGER NOT NULL,
    attention_min_pass DOUBLE NOT NULL,
    lease_seconds INTEGER NOT NULL,
    seed BIGINT NOT NULL,
    -- JSON: the pairs left out when the study was built, with the reason for each
    dropped TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);

CREATE TABLE study_items (
    id INTEGER PRIMARY KEY NOT NULL,
    study_id INTEGER NOT NULL REFERENCES studies (id),
    group_name TEXT NOT NULL,
    -- the argument id the two runs share
    source_item TEXT NOT NULL,
    conclusion TEXT NOT NULL,
    -- JSON: the target group's ten scores in valuelab's value order
    profile TEXT NOT NULL,
    stance_a TEXT NOT NULL,
    premise_a TEXT NOT NULL,
    stance_b TEXT NOT NULL,
    premise_b TEXT NOT NULL,
    -- NULL for a real pair; 'A' or 'B' for an attention check: the side a careful reader picks
    attention_answer TEXT
);
CREATE INDEX study_items_by_study ON study_items (study_id);

-- An item handed to an annotator. Unjudged rows whose lease ran out are deleted when the next
-- item is handed out, so an abandoned item returns to the pool.
CREATE TABLE assignments (
    id INTEGER PRIMARY KEY NOT NULL,
    study_id INTEGER NOT NULL REFERENCES studies (id),
    item_id INTEGER NOT NULL REFERENCES study_items (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    a_on_left BOOLEAN NOT NULL,
    leased_at_ms BIGINT NOT NULL,
    lease_expires_ms BIGINT NOT NULL,
    UNIQUE (item_id, user_id)
);
-- the lease sweep and each annotator's own rows are looked up on every hand-out
CREATE INDEX assignments_by_lease ON assignments (study_id, lease_expires_ms);
CREATE INDEX assignments_by_user ON assignments (user_id, study_id);

CREATE TABLE judgements (
    id INTEGER PRIMARY KEY NOT NULL,
    study_id INTEGER NOT NULL REFERENCES studies (id),
    item_id INTEGER NOT NULL REFERENCES study_items (id),
    user_id INTEGER NOT NULL REFERENCES users (id),
    a_on_left BOOLEAN NOT NULL,
    -- 'left' | 'right' | 'tie', as the annotator saw it
    choice_shown TEXT NOT NULL,
    -- 'A' | 'B' | 'tie', whatever side A was shown on
    choice TEXT NOT NULL,
    seconds DOUBLE NOT NULL,
    created_at_ms BIGINT NOT NULL,
    UNIQUE (item_id, user_id)
);
CREATE INDEX judgements_by_study ON judgements (study_id);
CREATE INDEX judgements_by_user ON judgements (user_id, study_id);

CREATE TABLE invites (
    token_hash TEXT PRIMARY KEY NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'member', 'annotator')),
    study_id INTEGER REFERENCES studies (id),
    created_by INTEGER NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    used_by INTEGER REFERENCES users (id),
    used_at BIGINT
);
