//! `spawn_app()` starts the real application on port 0 in the test's runtime, with a fresh
//! database (a SQLite file, not `:memory:`, which would be empty on every pooled connection; or
//! a PostgreSQL database, see `database`), and returns a `TestApp` with one method per endpoint,
//! so tests read as requests and assertions only.
//! Each person in a test is a [`Session`]: a client with its own cookie jar.

use crate::database::TestDatabase;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::path::PathBuf;
use tempfile::TempDir;
use valuelab_common::api::auth::Role;
use valuelab_server::configuration::{JobSettings, Settings};
use valuelab_server::startup::Application;
use valuelab_tests::fixtures::{write_args_runs, ArgsRuns};

pub const PASSWORD: &str = "a long enough password";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub database_url: String,
    /// Kept alive for the app's lifetime: the static folder, fixtures and a SQLite database.
    pub dir: TempDir,
    /// A PostgreSQL database is dropped with the app.
    _database: TestDatabase,
}

/// Server with an empty static folder (no web app installed) and no job worker.
pub async fn spawn_app() -> TestApp {
    spawn_app_with_static_files(&[]).await
}

/// Server whose static folder holds `files` (relative path, content), and no job worker (jobs
/// stay queued).
pub async fn spawn_app_with_static_files(files: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temporary folder");
    let database = TestDatabase::new(dir.path());
    let jobs = JobSettings {
        workers: 0,
        ..JobSettings::default()
    };
    spawn_app_in(dir, database, files, jobs).await
}

/// Server with a job worker of `jobs` (its folder under the app's, when it names none), on the
/// database of `database`: two apps given one database are one server restarted.
pub async fn spawn_app_in(
    dir: TempDir,
    database: TestDatabase,
    files: &[(&str, &str)],
    mut jobs: JobSettings,
) -> TestApp {
    jobs.dir = jobs.dir.or_else(|| Some(dir.path().join("jobs")));
    let static_dir = dir.path().join("static");
    std::fs::create_dir_all(&static_dir).expect("static folder");
    for (path, content) in files {
        let path: PathBuf = static_dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("static sub-folder");
        }
        std::fs::write(&path, content).expect("static file");
    }
    let database_url = database.url.clone();
    let settings = Settings {
        host: "127.0.0.1".to_string(),
        port: 0,
        static_dir,
        data_dir: None,
        // one worker per test server: many tests run in parallel on few cores
        workers: Some(1),
        database_url: Some(database_url.clone()),
        secure_cookies: false,
        jobs,
    };
    let app = Application::build(settings).expect("application builds on a free port");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        database_url,
        dir,
        _database: database,
    }
}

/// One person's browser: requests with their session cookie.
pub struct Session {
    pub address: String,
    pub client: reqwest::Client,
}

impl Session {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request reaches the test server")
    }

    /// The body of a GET as text (an export, a page).
    pub async fn text(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("a text body")
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request reaches the test server")
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .send()
            .await
            .expect("request reaches the test server")
    }

    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        self.post(
            "/api/auth/login",
            &json!({"username": username, "password": password}),
        )
        .await
    }

    /// The next pair (200) or `None` when done (204); anything else fails the test.
    pub async fn next(&self, study: i32) -> Option<Value> {
        let response = self.get(&format!("/api/studies/{study}/next")).await;
        match response.status() {
            StatusCode::OK => Some(response.json().await.expect("next item is JSON")),
            StatusCode::NO_CONTENT => None,
            other => panic!(
                "next: {other} {}",
                response.text().await.unwrap_or_default()
            ),
        }
    }

    pub async fn judge(&self, study: i32, item_id: i64, choice: &str) -> reqwest::Response {
        self.post(
            &format!("/api/studies/{study}/judgements"),
            &json!({"item_id": item_id, "choice": choice}),
        )
        .await
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{}", self.address, path))
            .send()
            .await
            .expect("request reaches the test server")
    }

    pub async fn get_health(&self) -> reqwest::Response {
        self.get("/api/health").await
    }

    pub async fn get_values(&self) -> reqwest::Response {
        self.get("/api/values").await
    }

    /// A browser with an empty cookie jar.
    pub fn anonymous(&self) -> Session {
        Session {
            address: self.address.clone(),
            client: reqwest::Client::builder()
                .cookie_store(true)
                .build()
                .expect("http client"),
        }
    }

    /// Creates an account the way `valuelab user add` does, straight in the database.
    pub fn add_user(&self, role: Role, username: &str) {
        let pool = valuelab_server::db::open(&self.database_url).expect("test database");
        let mut conn = pool.get().expect("connection");
        let hash = valuelab_server::auth::password::hash(PASSWORD).expect("hash");
        valuelab_server::auth::accounts::insert_user(
            &mut conn,
            username,
            Some(&hash),
            role.as_str(),
            None,
        )
        .expect("user inserted");
    }

    /// A second server on this app's database and folder, with a job worker of `jobs`: the
    /// server restarted after a crash, as far as the database can tell (this one keeps serving).
    pub async fn restarted(&self, jobs: JobSettings) -> TestApp {
        let dir = tempfile::tempdir().expect("temporary folder");
        let settings = Settings {
            host: "127.0.0.1".to_string(),
            port: 0,
            static_dir: dir.path().join("static"),
            data_dir: None,
            workers: Some(1),
            database_url: Some(self.database_url.clone()),
            secure_cookies: false,
            jobs: JobSettings {
                dir: jobs.dir.or_else(|| Some(self.dir.path().join("jobs"))),
                ..jobs
            },
        };
        let app = Application::build(settings).expect("a second server on the same database");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            client: reqwest::Client::new(),
            database_url: self.database_url.clone(),
            dir,
            _database: TestDatabase::borrowed(&self.database_url),
        }
    }

    /// A session of an account that exists already (made on another server of the database).
    pub async fn log_in(&self, username: &str) -> Session {
        let session = self.anonymous();
        let response = session.login(username, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {username}");
        session
    }

    /// A new account of `role`, logged in.
    pub async fn logged_in(&self, role: Role, username: &str) -> Session {
        self.add_user(role, username);
        let session = self.anonymous();
        let response = session.login(username, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {username}");
        session
    }

    /// Fixture runs: `groups` × `items` pairs, run B edited by `edit`.
    pub fn args_runs(
        &self,
        name: &str,
        groups: &[&str],
        items: usize,
        edit: impl Fn(&str, &str, &mut valuelab_engine::eval::result::ArgumentGeneration),
    ) -> ArgsRuns {
        let dir = self.dir.path().join(name);
        std::fs::create_dir_all(&dir).expect("fixture folder");
        write_args_runs(&dir, groups, items, edit)
    }

    /// An admin creates a study from fresh fixture runs; returns its id and the 201 body.
    pub async fn study(
        &self,
        admin: &Session,
        groups: &[&str],
        items: usize,
        extra: Value,
    ) -> (i32, Value) {
        let runs = self.args_runs(
            &format!("runs-{}", rand_suffix()),
            groups,
            items,
            |_, _, _| {},
        );
        let mut body = json!({
            "name": "uniforms",
            "run_a": runs.run_a,
            "run_b": runs.run_b,
            "guidelines": "Pick the argument closer to the **profile**.",
        });
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        let response = admin.post("/api/studies", &body).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap_or_default()
        );
        let created: Value = response.json().await.expect("study JSON");
        (created["id"].as_i64().expect("study id") as i32, created)
    }

    /// `n` annotators of `study` joined through invites, consent given.
    pub async fn invited_annotators(&self, admin: &Session, study: i32, n: usize) -> Vec<Session> {
        let response = admin
            .post(
                &format!("/api/studies/{study}/invites"),
                &json!({"role": "annotator", "count": n}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let invites: Vec<Value> = response.json().await.expect("invites JSON");
        let mut sessions = Vec::new();
        for (i, invite) in invites.iter().enumerate() {
            let session = self.anonymous();
            let token = invite["token"].as_str().expect("token");
            let response = session
                .post(
                    &format!("/api/invites/{token}/accept"),
                    &json!({"username": format!("annotator{study}x{i}"), "password": PASSWORD}),
                )
                .await;
            assert_eq!(
                response.status(),
                StatusCode::OK,
                "{}",
                response.text().await.unwrap_or_default()
            );
            let consent = session
                .post(&format!("/api/studies/{study}/consent"), &json!({}))
                .await;
            assert_eq!(consent.status(), StatusCode::NO_CONTENT);
            sessions.push(session);
        }
        sessions
    }
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}

/// Reads a JSON error body and checks it names what was wrong.
pub async fn error_text(response: reqwest::Response) -> String {
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e})"));
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{status}: no error field in {body}"))
        .to_string()
}

pub async fn json<T: DeserializeOwned>(response: reqwest::Response) -> T {
    let status = response.status();
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: {e}: {text}"))
}

/// Runs `valuelab ARGS... --database-url <the app's>` in-process, as a script would against the
/// server's database, on a blocking thread (the command line uses the database synchronously).
pub async fn valuelab_cli(app: &TestApp, args: &[&str]) {
    use clap::Parser;
    let line: Vec<String> = std::iter::once("valuelab")
        .chain(args.iter().copied())
        .chain(["--database-url", app.database_url.as_str()])
        .map(String::from)
        .collect();
    let shown = line.join(" ");
    tokio::task::spawn_blocking(move || {
        valuelab_server::cli::Cli::try_parse_from(&line)
            .expect("valid arguments")
            .run()
    })
    .await
    .expect("the command's thread")
    .unwrap_or_else(|e| panic!("{shown}: {e:#}"));
}
