//! Builds the actix-web application from [`Settings`]: binds the socket first (so port 0 works and
//! [`Application::port`] can tell tests which port they got), then mounts the JSON API under
//! `/api` and the built frontend from the static folder. Request handlers live in `routes`.

use crate::configuration::Settings;
use crate::jobs::worker::JobWorkers;
use crate::routes;
use crate::state::AppState;
use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::Context;
use std::net::TcpListener;
use std::path::Path;

pub struct Application {
    port: u16,
    serves_frontend: bool,
    server: Server,
    workers: JobWorkers,
}

impl Application {
    /// Binds `settings.address()` and prepares the server; nothing is served until
    /// [`Application::run_until_stopped`] is awaited.
    pub fn build(settings: Settings) -> anyhow::Result<Application> {
        let address = settings.address();
        let listener = TcpListener::bind(&address).with_context(|| {
            format!("cannot listen on {address} (is another server using the port? try --port 0 for a free one)")
        })?;
        let port = listener
            .local_addr()
            .context("the bound socket has no local address")?
            .port();
        let serves_frontend = settings.static_dir.join("index.html").is_file();
        let pool = crate::db::open(&settings.database_url()?)?;
        let jobs_dir = settings.jobs.dir()?;
        std::fs::create_dir_all(&jobs_dir).with_context(|| {
            format!(
                "cannot create the jobs folder {} (choose another with VALUELAB_JOBS_DIR)",
                jobs_dir.display()
            )
        })?;
        let workers = JobWorkers::start(pool.clone(), &settings.jobs, settings.data_dir.as_deref())
            .context("cannot start the job worker threads")?;
        let state = AppState { pool, settings };
        let server = run(listener, state, serves_frontend)?;
        Ok(Application {
            port,
            serves_frontend,
            server,
            workers,
        })
    }

    /// The port actually bound (differs from the settings when they asked for 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the static folder holds an `index.html`; without it only the API is served.
    pub fn serves_frontend(&self) -> bool {
        self.serves_frontend
    }

    /// Serves until the process receives Ctrl-C / SIGTERM (actix handles the signals), then
    /// stops the job workers: running jobs stop at their next batch or step, resumable.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        let workers = self.workers;
        let _ = actix_web::rt::task::spawn_blocking(move || workers.stop()).await;
        served
    }
}

fn run(listener: TcpListener, state: AppState, serves_frontend: bool) -> anyhow::Result<Server> {
    let workers = state.settings.workers;
    let settings = web::Data::new(state.settings.clone());
    let state = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        let app = App::new()
            .app_data(settings.clone())
            .app_data(state.clone())
            .configure(routes::api);
        if serves_frontend {
            // The app's own pages are paths of one index.html (the app reads the path).
            let mut app = app;
            for page in APP_PAGES {
                app = app.route(page, web::get().to(app_page));
            }
            app.service(actix_files::Files::new("/", &settings.static_dir).index_file("index.html"))
        } else {
            app.default_service(web::to(frontend_missing))
        }
    })
    .listen(listener)
    .context("cannot start the http server on the bound socket")?;
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// Paths the web app draws itself (frontend `app.rs`); each is served `index.html`.
const APP_PAGES: [&str; 11] = [
    "/login",
    "/compare",
    "/jobs",
    "/jobs/{id}",
    "/runs",
    "/runs/{id}",
    "/studies",
    "/studies/{id}",
    "/annotate/{id}",
    "/join/{token}",
    "/invite/{token}",
];

async fn app_page(settings: web::Data<Settings>) -> actix_web::Result<actix_files::NamedFile> {
    Ok(actix_files::NamedFile::open_async(settings.static_dir.join("index.html")).await?)
}

/// Answer for non-API paths when no frontend is installed: say how to get one.
async fn frontend_missing(settings: web::Data<Settings>) -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body(frontend_missing_message(&settings.static_dir))
}

fn frontend_missing_message(static_dir: &Path) -> String {
    format!(
        "valuelab: no web app here ({} has no index.html; set VALUELAB_STATIC_DIR or build the \
         bundle as the README says). The JSON API is under /api (GET /api/health; docs/api.md).\n",
        static_dir.display()
    )
}
