//! `valuelab serve [--host H] [--port P] [--static-dir DIR]`: serves the JSON API and the built
//! web app until Ctrl-C. Settings come from `configuration` (defaults, then `VALUELAB_*`
//! variables); the flags here override both.

use super::GlobalArgs;
use crate::configuration::Settings;
use crate::startup::Application;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (default 127.0.0.1, or VALUELAB_HOST); 0.0.0.0 serves every interface.
    #[arg(long)]
    pub host: Option<String>,
    /// Port to listen on (default 8080, or VALUELAB_PORT); 0 picks a free one.
    #[arg(long)]
    pub port: Option<u16>,
    /// Folder with index.html and the wasm bundle in pkg/ (default ./static, or VALUELAB_STATIC_DIR).
    #[arg(long)]
    pub static_dir: Option<PathBuf>,
    /// Database: sqlite://PATH or postgres://USER:PASSWORD@HOST/DATABASE (default:
    /// valuelab/valuelab.db under the user's data directory, or VALUELAB_DATABASE_URL); created
    /// (SQLite) and migrated on start.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Jobs run at once from the queue (default 1, or VALUELAB_JOB_WORKERS); 0 only queues
    /// them, for another server on the same database to run.
    #[arg(long, value_name = "N")]
    pub job_workers: Option<usize>,
    /// CPU threads of each job's model work (default all cores but one, or VALUELAB_JOB_THREADS).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub job_threads: Option<u16>,
    /// Folder that relative paths of submitted job specs are resolved against (default
    /// valuelab/jobs under the user's data directory, or VALUELAB_JOBS_DIR).
    #[arg(long, value_name = "DIR")]
    pub jobs_dir: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: Args) -> anyhow::Result<()> {
    let settings = settings(global, args, Settings::from_env()?);
    valuelab_engine::jobs::configure_candle_pool(settings.jobs.threads);
    let host = display_host(&settings.host).to_string();
    let static_dir = settings.static_dir.clone();
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)?;
        println!("valuelab serving http://{host}:{}/ (Ctrl-C stops)", app.port());
        println!("  API: http://{host}:{}/api/ (docs/api.md)", app.port());
        if !app.serves_frontend() {
            println!(
                "  no web app: {} has no index.html (see README, 'web app'); the API works without it",
                static_dir.display()
            );
        }
        app.run_until_stopped().await?;
        Ok(())
    })
}

/// Command-line flags win over the environment-derived settings.
fn settings(global: &GlobalArgs, args: Args, mut settings: Settings) -> Settings {
    if let Some(host) = args.host {
        settings.host = host;
    }
    if let Some(port) = args.port {
        settings.port = port;
    }
    if let Some(dir) = args.static_dir {
        settings.static_dir = dir;
    }
    if let Some(url) = args.database_url {
        settings.database_url = Some(url);
    }
    if let Some(dir) = &global.data_dir {
        settings.data_dir = Some(dir.clone());
    }
    if let Some(n) = args.job_workers {
        settings.jobs.workers = n;
    }
    if let Some(n) = args.job_threads {
        settings.jobs.threads = Some(n as usize);
    }
    if let Some(dir) = args.jobs_dir {
        settings.jobs.dir = Some(dir);
    }
    // Jobs posted with "backend": "slurm" are submitted with these resources, where sbatch runs.
    if crate::slurm::available() {
        settings.jobs.slurm = Some(global.slurm.clone());
    }
    settings
}

/// A wildcard address is not something a browser can open: print localhost instead.
fn display_host(host: &str) -> &str {
    match host {
        "0.0.0.0" | "::" | "[::]" => "localhost",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_environment_settings() {
        let global = GlobalArgs {
            data_dir: Some(PathBuf::from("/data")),
            threads: None,
            print_spec: false,
            backend: super::super::Backend::Local,
            slurm: Default::default(),
        };
        let args = Args {
            host: Some("0.0.0.0".to_string()),
            port: Some(0),
            static_dir: None,
            database_url: Some("sqlite:///tmp/v.db".to_string()),
            job_workers: Some(0),
            job_threads: None,
            jobs_dir: Some(PathBuf::from("/srv/jobs")),
        };
        let from_env = Settings {
            port: 9000,
            static_dir: PathBuf::from("/srv/static"),
            ..Settings::default()
        };
        let settings = settings(&global, args, from_env);
        assert_eq!(settings.address(), "0.0.0.0:0");
        assert_eq!(settings.static_dir, PathBuf::from("/srv/static"));
        assert_eq!(settings.data_dir, Some(PathBuf::from("/data")));
        assert_eq!(settings.database_url.as_deref(), Some("sqlite:///tmp/v.db"));
        assert_eq!(settings.jobs.workers, 0);
        assert_eq!(settings.jobs.dir, Some(PathBuf::from("/srv/jobs")));
    }

    #[test]
    fn wildcard_hosts_print_as_localhost() {
        assert_eq!(display_host("0.0.0.0"), "localhost");
        assert_eq!(display_host("127.0.0.1"), "127.0.0.1");
    }
}
