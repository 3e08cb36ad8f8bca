//! Load and crash test of an annotation study (issue 8, "Reliability"): many anonymous
//! annotators join a study through its public link at once and judge items as fast as the server
//! lets them; optionally the server is killed with SIGKILL mid-way and restarted on the same
//! database. Then the stored judgements are checked against what the clients were told: every
//! judgement answered 201 is stored, nothing is stored twice, and no item has more than k.
//! Used by `load-annotators` (the measured run in docs/annotation.md) and a small CI test.

use crate::fixtures::write_args_runs;
use hdrhistogram::Histogram;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PASSWORD: &str = "load test admin password";
/// How long a client waits between tries while the server is down or every item is leased.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// A client gives up on a request after this long (the server should answer in milliseconds).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The `valuelab` binary to serve with.
    pub valuelab: PathBuf,
    /// Folder for the database, fixture runs and server log.
    pub dir: PathBuf,
    pub annotators: usize,
    pub judgements_each: usize,
    pub annotators_per_item: usize,
    /// SIGKILL the server after this many acknowledged judgements, then restart it.
    pub kill_after: Option<usize>,
    /// Mean time an annotator reads a pair before judging it, in ms (each wait drawn from
    /// 0.5–1.5 × this). 0: a closed loop as fast as the server answers, far harsher than people.
    pub think_ms: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadReport {
    pub annotators: usize,
    pub judgements_each: usize,
    pub items: usize,
    /// Judgements the server answered 201.
    pub acknowledged: usize,
    pub stored: usize,
    /// Acknowledged judgements missing from the database.
    pub lost: usize,
    /// (item, annotator) pairs stored more than once.
    pub duplicated: usize,
    /// Items with more than k judgements.
    pub over_k: usize,
    pub restarts: usize,
    pub next: Latency,
    pub judge: Latency,
    pub wall_s: f64,
}

/// A `valuelab serve` child process on a fixed port, restartable on the same database.
struct Server {
    valuelab: PathBuf,
    database: String,
    port: u16,
    log: PathBuf,
    child: Option<Child>,
}

impl Server {
    fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(&self.valuelab)
            .args([
                "serve",
                "--port",
                &self.port.to_string(),
                "--database-url",
                &self.database,
            ])
            .args(["--static-dir", "/nonexistent"])
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill(); // SIGKILL on Unix
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("http client")
}

async fn wait_until_up(base: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if let Ok(r) = client().get(format!("{base}/api/health")).send().await {
            if r.status().is_success() {
                return Ok(());
            }
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    anyhow::bail!("the server at {base} did not come up within 60 s")
}

/// Creates the admin, the fixture runs and the study; returns (study id, public token, items).
async fn set_up(
    config: &LoadConfig,
    server: &mut Server,
    base: &str,
) -> anyhow::Result<(i64, String, usize)> {
    let mut add = Command::new(&config.valuelab)
        .args([
            "user",
            "add",
            "--role",
            "admin",
            "--username",
            "admin",
            "--database-url",
            &server.database,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    use std::io::Write;
    writeln!(add.stdin.take().expect("piped stdin"), "{PASSWORD}")?;
    anyhow::ensure!(add.wait()?.success(), "valuelab user add failed");
    // Items enough for everyone: annotators × judgements / k, over groups of six conclusions.
    let needed =
        (config.annotators * config.judgements_each).div_ceil(config.annotators_per_item) + 6;
    let groups: Vec<String> = (1..=needed.div_ceil(6))
        .map(|g| format!("Group_{g}"))
        .collect();
    let names: Vec<&str> = groups.iter().map(String::as_str).collect();
    let runs = write_args_runs(&config.dir.join("runs"), &names, 6, |_, _, _| {});
    server.start()?;
    wait_until_up(base).await?;
    let admin = client();
    let login = admin
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await?;
    anyhow::ensure!(
        login.status() == StatusCode::OK,
        "admin login: {}",
        login.status()
    );
    let created: Value = admin
        .post(format!("{base}/api/studies"))
        .json(&json!({
            "name": "load", "run_a": runs.run_a, "run_b": runs.run_b,
            "annotators_per_item": config.annotators_per_item,
        }))
        .send()
        .await?
        .json()
        .await?;
    let id = created["id"]
        .as_i64()
        .ok_or_else(|| anyhow::anyhow!("study not created: {created}"))?;
    let token = created["public_url"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches("/join/")
        .to_string();
    Ok((id, token, created["items"].as_u64().unwrap_or(0) as usize))
}

struct Shared {
    next: Mutex<Histogram<u64>>,
    judge: Mutex<Histogram<u64>>,
    acknowledged: Mutex<Vec<(i64, String)>>,
    acked_count: AtomicUsize,
}

fn record(histogram: &Mutex<Histogram<u64>>, started: Instant) {
    let micros = started.elapsed().as_micros() as u64;
    if let Ok(mut h) = histogram.lock() {
        let _ = h.record(micros.max(1));
    }
}

/// One annotator: join, consent, then judge until `judgements_each` are acknowledged or the
/// study has nothing left for them; connection errors (a killed server) are retried.
async fn annotator(
    base: String,
    study: i64,
    token: String,
    who: String,
    target: usize,
    think_ms: u64,
    shared: Arc<Shared>,
) {
    let http = client();
    let join = format!("{base}/api/join/{token}?participant={who}");
    loop {
        let joined = http.get(&join).send().await;
        let consented = match joined {
            Ok(r) if r.status().is_success() => http
                .post(format!("{base}/api/studies/{study}/consent"))
                .json(&json!({}))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success()),
            _ => false,
        };
        if consented {
            break;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
    let mut done = 0;
    while done < target {
        let started = Instant::now();
        let Ok(response) = http
            .get(format!("{base}/api/studies/{study}/next"))
            .send()
            .await
        else {
            tokio::time::sleep(RETRY_PAUSE).await;
            continue;
        };
        record(&shared.next, started);
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NO_CONTENT => return,
            _ => {
                tokio::time::sleep(RETRY_PAUSE).await;
                continue;
            }
        }
        let Ok(item) = response.json::<Value>().await else {
            continue;
        };
        let item_id = item["item_id"].as_i64().unwrap_or_default();
        let choice = ["left", "right", "tie"][(item_id as usize + done) % 3];
        if think_ms > 0 {
            // A spread of reading times without a random generator: a hash of the item and the
            // annotator's progress picks 0.5–1.5 × the mean.
            let spread = (item_id as u64)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(done as u64 * 40_503)
                % 1000;
            tokio::time::sleep(Duration::from_millis(think_ms * (500 + spread) / 1000)).await;
        }
        let started = Instant::now();
        let judged = http
            .post(format!("{base}/api/studies/{study}/judgements"))
            .json(&json!({"item_id": item_id, "choice": choice}))
            .send()
            .await;
        if let Ok(r) = judged {
            record(&shared.judge, started);
            if r.status() == StatusCode::CREATED {
                done += 1;
                shared.acked_count.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut acked) = shared.acknowledged.lock() {
                    acked.push((item_id, who.clone()));
                }
            }
        }
    }
}

fn latency(h: &Histogram<u64>) -> Latency {
    Latency {
        count: h.len(),
        p50_ms: h.value_at_quantile(0.5) as f64 / 1000.0,
        p99_ms: h.value_at_quantile(0.99) as f64 / 1000.0,
        max_ms: h.max() as f64 / 1000.0,
    }
}

pub async fn run(config: LoadConfig) -> anyhow::Result<LoadReport> {
    std::fs::create_dir_all(&config.dir)?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Server {
        valuelab: config.valuelab.clone(),
        database: format!("sqlite://{}", config.dir.join("valuelab.db").display()),
        port,
        log: config.dir.join("server.log"),
        child: None,
    };
    let (study, token, items) = set_up(&config, &mut server, &base).await?;
    let shared = Arc::new(Shared {
        next: Mutex::new(Histogram::new(3)?),
        judge: Mutex::new(Histogram::new(3)?),
        acknowledged: Mutex::new(Vec::new()),
        acked_count: AtomicUsize::new(0),
    });
    let started = Instant::now();
    let tasks: Vec<_> = (0..config.annotators)
        .map(|i| {
            tokio::spawn(annotator(
                base.clone(),
                study,
                token.clone(),
                format!("P{i:04}"),
                config.judgements_each,
                config.think_ms,
                shared.clone(),
            ))
        })
        .collect();
    let mut restarts = 0;
    if let Some(after) = config.kill_after {
        while shared.acked_count.load(Ordering::SeqCst) < after
            && !tasks.iter().all(|t| t.is_finished())
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.kill();
        tokio::time::sleep(Duration::from_millis(500)).await;
        server.start()?;
        restarts += 1;
    }
    for task in tasks {
        task.await?;
    }
    let wall_s = started.elapsed().as_secs_f64();
    let stored = stored_judgements(&base, study).await?;
    let acknowledged = shared
        .acknowledged
        .lock()
        .map(|a| a.clone())
        .unwrap_or_default();
    let stored_set: HashSet<(i64, String)> = stored.iter().cloned().collect();
    let mut per_item: HashMap<i64, usize> = HashMap::new();
    for (item, _) in &stored {
        *per_item.entry(*item).or_default() += 1;
    }
    let next = shared
        .next
        .lock()
        .map(|h| latency(&h))
        .map_err(|_| anyhow::anyhow!("poisoned"))?;
    let judge = shared
        .judge
        .lock()
        .map(|h| latency(&h))
        .map_err(|_| anyhow::anyhow!("poisoned"))?;
    Ok(LoadReport {
        annotators: config.annotators,
        judgements_each: config.judgements_each,
        items,
        lost: acknowledged
            .iter()
            .filter(|a| !stored_set.contains(a))
            .count(),
        acknowledged: acknowledged.len(),
        duplicated: stored.len() - stored_set.len(),
        over_k: per_item
            .values()
            .filter(|n| **n > config.annotators_per_item)
            .count(),
        stored: stored.len(),
        restarts,
        next,
        judge,
        wall_s,
    })
}

/// Every stored judgement as (item, participant id), read back through the admin's export.
async fn stored_judgements(base: &str, study: i64) -> anyhow::Result<Vec<(i64, String)>> {
    let admin = client();
    admin
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": "admin", "password": PASSWORD}))
        .send()
        .await?;
    let text = admin
        .get(format!("{base}/api/studies/{study}/judgements.jsonl"))
        .send()
        .await?
        .text()
        .await?;
    text.lines()
        .map(|line| {
            let row: Value = serde_json::from_str(line)?;
            let annotator = row["annotator"].as_str().unwrap_or_default();
            // anonymous participants are stored as s{study}-{id}
            let who = annotator
                .split_once('-')
                .map_or(annotator, |(_, id)| id)
                .to_string();
            Ok((row["item_id"].as_i64().unwrap_or_default(), who))
        })
        .collect()
}

/// `target/<profile>/valuelab` next to the running test or tool binary.
pub fn built_valuelab() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir: &Path = exe
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no exe folder"))?;
    if dir.ends_with("deps") {
        dir = dir.parent().unwrap_or(dir);
    }
    let valuelab = dir.join("valuelab");
    anyhow::ensure!(
        valuelab.is_file(),
        "{} is not built (cargo build -p valuelab-server)",
        valuelab.display()
    );
    Ok(valuelab)
}
