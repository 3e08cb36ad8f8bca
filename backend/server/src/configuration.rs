//! Typed settings of the web server: defaults first, then `VALUELAB_*` environment variables, then
//! whatever the command line sets (`valuelab serve --host --port`), in the zero2prod manner.
//! Nothing here touches the network; `startup` turns a `Settings` into a running server.

use anyhow::Context;
use std::path::PathBuf;

/// Environment variables read by [`Settings::from_env`].
pub const ENV_HOST: &str = "VALUELAB_HOST";
pub const ENV_PORT: &str = "VALUELAB_PORT";
pub const ENV_STATIC_DIR: &str = "VALUELAB_STATIC_DIR";
pub const ENV_DATA_DIR: &str = "VALUELAB_DATA_DIR";
pub const ENV_WORKERS: &str = "VALUELAB_WORKERS";
pub const ENV_DATABASE_URL: &str = crate::db::ENV_DATABASE_URL;
/// Job worker threads of the server (0: the server only queues; another server runs the jobs).
pub const ENV_JOB_WORKERS: &str = "VALUELAB_JOB_WORKERS";
/// CPU threads each job's model work uses.
pub const ENV_JOB_THREADS: &str = "VALUELAB_JOB_THREADS";
/// The folder relative paths of submitted specs are resolved against (run folders, adapters).
pub const ENV_JOBS_DIR: &str = "VALUELAB_JOBS_DIR";
/// "1"/"true": session cookies carry `Secure` (set it when serving behind HTTPS).
pub const ENV_SECURE_COOKIES: &str = "VALUELAB_SECURE_COOKIES";

/// Loopback by default: serving on every interface is an explicit choice (`--host 0.0.0.0`).
pub const DEFAULT_HOST: &str = "127.0.0.1";
pub const DEFAULT_PORT: u16 = 8080;
/// Relative to the working directory, which is the repository root for `cargo run` and the
/// README's commands; set `VALUELAB_STATIC_DIR` when running from elsewhere.
pub const DEFAULT_STATIC_DIR: &str = "static";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub host: String,
    /// 0 asks the OS for a free port (tests); `Application::port` tells which one it got.
    pub port: u16,
    /// Folder with `index.html` and the wasm bundle under `pkg/`; the API works without it.
    pub static_dir: PathBuf,
    /// Research data folder (`vim/`, `ess/`, `instruments/`), for routes that will read it.
    pub data_dir: Option<PathBuf>,
    /// actix worker threads; `None` lets actix use one per core.
    pub workers: Option<usize>,
    /// `sqlite://PATH` or `postgres://...`; `None`: the default file under the user's data
    /// directory.
    pub database_url: Option<String>,
    /// Mark session cookies `Secure` (only sent over HTTPS).
    pub secure_cookies: bool,
    /// The job queue's worker.
    pub jobs: JobSettings,
}

/// How the server runs the jobs admins submit (`POST /api/jobs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSettings {
    /// Jobs run at once, each on a thread of its own (1 by default: a model job uses every core
    /// it is given, and two would only share them).
    pub workers: usize,
    /// CPU threads for each job's model work; `None`: all cores but one, left to the web.
    pub threads: Option<usize>,
    /// Relative paths in a spec are taken from here; `None`: `valuelab/jobs` under the user's
    /// data directory.
    pub dir: Option<PathBuf>,
    /// How often a running job's worker writes its heartbeat (and reads a Cancel).
    pub heartbeat_ms: u64,
    /// A running job whose heartbeat is older than this is marked interrupted: its worker died.
    pub stale_ms: u64,
    /// Submitting to Slurm (`"backend": "slurm"`): its resources, when `sbatch` runs here.
    pub slurm: Option<crate::slurm::SlurmOptions>,
    /// The `valuelab` binary Slurm tasks run (`None`: this server's own).
    pub slurm_exe: Option<PathBuf>,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            workers: 1,
            threads: None,
            dir: None,
            heartbeat_ms: 2_000,
            stale_ms: 15_000,
            slurm: None,
            slurm_exe: None,
        }
    }
}

impl JobSettings {
    /// The jobs folder in effect.
    pub fn dir(&self) -> anyhow::Result<PathBuf> {
        match &self.dir {
            Some(dir) => Ok(dir.clone()),
            None => Ok(dirs::data_dir()
                .context("no user data directory (HOME unset?); set VALUELAB_JOBS_DIR")?
                .join("valuelab")
                .join("jobs")),
        }
    }

    /// Threads per job in effect: the setting, else all cores but one.
    pub fn threads(&self) -> usize {
        self.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get().saturating_sub(1).max(1))
                .unwrap_or(1)
        })
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            static_dir: PathBuf::from(DEFAULT_STATIC_DIR),
            data_dir: None,
            workers: None,
            database_url: None,
            secure_cookies: false,
            jobs: JobSettings::default(),
        }
    }
}

impl Settings {
    /// Defaults overridden by the process environment.
    pub fn from_env() -> anyhow::Result<Settings> {
        Settings::from_lookup(|key| std::env::var(key).ok())
    }

    /// Defaults overridden by `lookup(name)` for each `VALUELAB_*` variable; empty values count
    /// as unset. Taking a function keeps tests away from the shared process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Settings> {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let mut settings = Settings::default();
        if let Some(host) = get(ENV_HOST) {
            settings.host = host.trim().to_string();
        }
        if let Some(port) = get(ENV_PORT) {
            settings.port = port.trim().parse().with_context(|| {
                format!("{ENV_PORT}='{port}' is not a port number (expected 0..65535)")
            })?;
        }
        if let Some(dir) = get(ENV_STATIC_DIR) {
            settings.static_dir = PathBuf::from(dir);
        }
        if let Some(dir) = get(ENV_DATA_DIR) {
            settings.data_dir = Some(PathBuf::from(dir));
        }
        let count = |key: &str, min: usize| -> anyhow::Result<Option<usize>> {
            get(key)
                .map(|v| {
                    v.trim()
                        .parse()
                        .ok()
                        .filter(|n| *n >= min)
                        .with_context(|| {
                            format!("{key}='{v}' is not a whole number of at least {min}")
                        })
                })
                .transpose()
        };
        settings.workers = count(ENV_WORKERS, 1)?;
        if let Some(n) = count(ENV_JOB_WORKERS, 0)? {
            settings.jobs.workers = n;
        }
        settings.jobs.threads = count(ENV_JOB_THREADS, 1)?;
        if let Some(dir) = get(ENV_JOBS_DIR) {
            settings.jobs.dir = Some(PathBuf::from(dir));
        }
        if let Some(url) = get(ENV_DATABASE_URL) {
            settings.database_url = Some(url.trim().to_string());
        }
        if let Some(secure) = get(ENV_SECURE_COOKIES) {
            settings.secure_cookies = match secure.trim() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" => false,
                other => anyhow::bail!("{ENV_SECURE_COOKIES}='{other}' is not true or false"),
            };
        }
        Ok(settings)
    }

    /// The database URL in effect: the configured one, else the default file.
    pub fn database_url(&self) -> anyhow::Result<String> {
        match &self.database_url {
            Some(url) => Ok(url.clone()),
            None => crate::db::DatabaseUrl::default_url(),
        }
    }

    /// `host:port` as given to the socket bind (IPv6 hosts get their brackets).
    pub fn address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from_pairs(pairs: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let env: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|key| env.get(key).cloned())
    }

    #[test]
    fn without_environment_the_defaults_apply() {
        assert_eq!(from_pairs(&[]).expect("defaults"), Settings::default());
        assert_eq!(Settings::default().address(), "127.0.0.1:8080");
        let ipv6 = Settings {
            host: "::1".to_string(),
            ..Settings::default()
        };
        assert_eq!(ipv6.address(), "[::1]:8080");
    }

    #[test]
    fn environment_variables_override_every_setting() {
        let settings = from_pairs(&[
            (ENV_HOST, "0.0.0.0"),
            (ENV_PORT, "0"),
            (ENV_STATIC_DIR, "/srv/valuelab/static"),
            (ENV_DATA_DIR, "/data"),
            (ENV_WORKERS, "2"),
            (ENV_JOB_WORKERS, "0"),
            (ENV_JOB_THREADS, "3"),
            (ENV_JOBS_DIR, "/srv/jobs"),
        ])
        .expect("valid environment");
        assert_eq!(settings.address(), "0.0.0.0:0");
        assert_eq!(settings.static_dir, PathBuf::from("/srv/valuelab/static"));
        assert_eq!(settings.data_dir, Some(PathBuf::from("/data")));
        assert_eq!(settings.workers, Some(2));
        assert_eq!((settings.jobs.workers, settings.jobs.threads), (0, Some(3)));
        assert_eq!(settings.jobs.dir().unwrap(), PathBuf::from("/srv/jobs"));
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let settings = from_pairs(&[(ENV_PORT, ""), (ENV_DATA_DIR, " ")]).expect("empty is unset");
        assert_eq!(settings, Settings::default());
    }

    #[test]
    fn a_bad_port_is_an_error_naming_the_variable_and_the_value() {
        let err = from_pairs(&[(ENV_PORT, "80a")]).expect_err("not a number");
        let message = format!("{err:#}");
        assert!(message.contains("VALUELAB_PORT='80a'"), "{message}");
        let err = from_pairs(&[(ENV_PORT, "70000")]).expect_err("out of range");
        assert!(format!("{err:#}").contains("70000"));
    }

    #[test]
    fn zero_workers_is_rejected() {
        let err = from_pairs(&[(ENV_WORKERS, "0")]).expect_err("zero threads");
        assert!(format!("{err:#}").contains("VALUELAB_WORKERS='0'"));
        let err = from_pairs(&[(ENV_JOB_THREADS, "0")]).expect_err("zero threads");
        assert!(format!("{err:#}").contains("VALUELAB_JOB_THREADS='0'"));
    }
}
