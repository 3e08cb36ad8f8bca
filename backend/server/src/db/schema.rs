// @generated: the tables of migrations/sqlite, as `diesel print-schema` writes them. Edit the
// migration, then this file to match; `db::tests` checks that they agree.

diesel::table! {
    assignments (id) {
        id -> Integer,
        study_id -> Integer,
        item_id -> Integer,
        user_id -> Integer,
        a_on_left -> Bool,
        leased_at_ms -> BigInt,
        lease_expires_ms -> BigInt,
    }
}

diesel::table! {
    invites (token_hash) {
        token_hash -> Text,
        role -> Text,
        study_id -> Nullable<Integer>,
        created_by -> Integer,
        created_at -> BigInt,
        used_by -> Nullable<Integer>,
        used_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    job_log (id) {
        id -> Integer,
        job_id -> Integer,
        at_ms -> BigInt,
        line -> Text,
    }
}

diesel::table! {
    job_templates (id) {
        id -> Integer,
        name -> Text,
        spec -> Text,
        created_by -> Integer,
        created_at -> BigInt,
    }
}

diesel::table! {
    jobs (id) {
        id -> Integer,
        kind -> Text,
        spec -> Text,
        backend -> Text,
        status -> Text,
        out -> Text,
        progress_done -> BigInt,
        progress_total -> BigInt,
        detail -> Nullable<Text>,
        cancel_requested -> Bool,
        run_id -> Nullable<Integer>,
        error -> Nullable<Text>,
        slurm_job_id -> Nullable<Text>,
        attempts -> Integer,
        created_by -> Integer,
        created_at -> BigInt,
        started_at -> Nullable<BigInt>,
        finished_at -> Nullable<BigInt>,
        heartbeat_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    judgements (id) {
        id -> Integer,
        study_id -> Integer,
        item_id -> Integer,
        user_id -> Integer,
        a_on_left -> Bool,
        choice_shown -> Text,
        choice -> Text,
        seconds -> Double,
        created_at_ms -> BigInt,
    }
}

diesel::table! {
    runs (id) {
        id -> Integer,
        path -> Text,
        task -> Text,
        method -> Text,
        model -> Text,
        answer_mode -> Text,
        groups -> Text,
        status -> Text,
        started -> Text,
        finished -> Nullable<Text>,
        imported_at -> BigInt,
    }
}

diesel::table! {
    sessions (token_hash) {
        token_hash -> Text,
        user_id -> Integer,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    studies (id) {
        id -> Integer,
        name -> Text,
        run_a -> Text,
        run_b -> Text,
        method_a -> Text,
        method_b -> Text,
        annotators_per_item -> Integer,
        item_quota -> Nullable<Integer>,
        guidelines -> Text,
        public_token -> Text,
        completion_code -> Text,
        completion_url -> Nullable<Text>,
        attention_every -> Integer,
        attention_min_pass -> Double,
        lease_seconds -> Integer,
        seed -> BigInt,
        dropped -> Text,
        created_by -> Integer,
        created_at -> BigInt,
    }
}

diesel::table! {
    study_items (id) {
        id -> Integer,
        study_id -> Integer,
        group_name -> Text,
        source_item -> Text,
        conclusion -> Text,
        profile -> Text,
        stance_a -> Text,
        premise_a -> Text,
        stance_b -> Text,
        premise_b -> Text,
        attention_answer -> Nullable<Text>,
    }
}

diesel::table! {
    users (id) {
        id -> Integer,
        username -> Text,
        password_hash -> Nullable<Text>,
        role -> Text,
        study_id -> Nullable<Integer>,
        consented_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::joinable!(assignments -> study_items (item_id));
diesel::joinable!(job_log -> jobs (job_id));
diesel::joinable!(jobs -> runs (run_id));
diesel::joinable!(judgements -> study_items (item_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(study_items -> studies (study_id));

diesel::allow_tables_to_appear_in_same_query!(
    assignments,
    invites,
    job_log,
    job_templates,
    jobs,
    judgements,
    runs,
    sessions,
    studies,
    study_items,
    users,
);
