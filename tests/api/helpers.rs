//! `spawn_app()` starts the real application on port 0 in the test's runtime and returns a
//! `TestApp` with one method per endpoint, so tests read as requests and assertions only.

use std::path::PathBuf;
use tempfile::TempDir;
use valuelab_server::configuration::Settings;
use valuelab_server::startup::Application;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// Kept alive for the app's lifetime: the static folder the server reads from.
    _static_dir: TempDir,
}

/// Server with an empty static folder (no web app installed).
pub async fn spawn_app() -> TestApp {
    spawn_app_with_static_files(&[]).await
}

/// Server whose static folder holds `files` (relative path, content).
pub async fn spawn_app_with_static_files(files: &[(&str, &str)]) -> TestApp {
    let static_dir = tempfile::tempdir().expect("temporary static folder");
    for (path, content) in files {
        let path: PathBuf = static_dir.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("static sub-folder");
        }
        std::fs::write(&path, content).expect("static file");
    }
    let settings = Settings {
        host: "127.0.0.1".to_string(),
        port: 0,
        static_dir: static_dir.path().to_path_buf(),
        data_dir: None,
        // one worker per test server: many tests run in parallel on few cores
        workers: Some(1),
    };
    let app = Application::build(settings).expect("application builds on a free port");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        _static_dir: static_dir,
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
}
