//! Benchmark (not a test) of the grant store on a real PostgreSQL (fsync on, default
//! settings): refresh_token grants/s and authorization_code redemptions/s with p50/p99,
//! client_credentials tokens/s with the postgres store next to the memory store, and the row
//! count of every table through a soak at a steady rate (they must plateau).
//!
//! Run with `auth-server/bench/grant-store.sh`: it builds the release server and pins this
//! process (the load and PostgreSQL, which inherits it) to one CPU; the server gets the other.
//! Env: DURATION_SECONDS (10), CONNECTIONS (32), SOAK_SECONDS (300), SOAK_RATE (400 refresh/s),
//! SERVER_CPU (0).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use meridian_auth_server::dev::{CLIENT_ID, DevConfig, DevSetup, USERNAME, write_dev_config};
use meridian_contract::{TenantConfig, TenantFile};
use meridian_e2e::Postgres;
use meridian_e2e::auth_server::Replica;
use reqwest::{Client, StatusCode};
use serde_json::Value;

const REDIRECT_URI: &str = "http://127.0.0.1:9999/callback";
const TABLES: &[&str] = &[
    "authorization_codes",
    "refresh_tokens",
    "refresh_families",
    "family_access_tokens",
    "revoked_access_tokens",
    "sessions",
    "pending_logins",
    "login_failures",
];

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Load {
    http: Client,
    base: String,
    setup: Arc<DevSetup>,
}

impl Load {
    fn url(&self, path: &str) -> String {
        format!("{}/t/demo{path}", self.base)
    }

    async fn token(&self, form: &[(&str, &str)]) -> anyhow::Result<(StatusCode, Value)> {
        let response = self
            .http
            .post(self.url("/token"))
            .basic_auth(CLIENT_ID, Some(&self.setup.client_secret))
            .form(form)
            .send()
            .await?;
        let status = response.status();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// A browser signed in once: every later authorize is a redirect with a code.
    async fn signed_in_browser(&self) -> anyhow::Result<Client> {
        let browser = Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let html = browser
            .get(self.authorize_url())
            .send()
            .await?
            .text()
            .await?;
        let field = |name: &str| {
            let marker = format!(r#"name="{name}" value=""#);
            let start = html.find(&marker).map(|i| i + marker.len()).unwrap_or(0);
            html[start..]
                .split('"')
                .next()
                .unwrap_or_default()
                .to_owned()
        };
        let form = [
            ("login_id", field("login_id")),
            ("csrf", field("csrf")),
            ("username", USERNAME.to_owned()),
            ("password", self.setup.password.clone()),
        ];
        let signed_in = browser.post(self.url("/login")).form(&form).send().await?;
        anyhow::ensure!(signed_in.status() == StatusCode::SEE_OTHER, "signed in");
        Ok(browser)
    }

    fn authorize_url(&self) -> String {
        let params = [
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid api"),
        ];
        reqwest::Url::parse_with_params(&self.url("/authorize"), params)
            .map(String::from)
            .unwrap_or_default()
    }

    async fn code(&self, browser: &Client) -> anyhow::Result<String> {
        let response = browser.get(self.authorize_url()).send().await?;
        let location = response.headers()["location"].to_str()?.to_owned();
        let url = reqwest::Url::parse(&location)?;
        let code = url.query_pairs().find(|(k, _)| k == "code");
        code.map(|(_, v)| v.into_owned())
            .ok_or_else(|| anyhow::anyhow!("no code in the redirect"))
    }

    async fn redeem(&self, code: &str) -> anyhow::Result<(StatusCode, Value)> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
        ];
        self.token(&form).await
    }

    async fn refresh(&self, token: &str) -> anyhow::Result<(StatusCode, Value)> {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", token)])
            .await
    }
}

/// CPU time of a process and busy time of one CPU, to say which side was the bottleneck.
struct CpuMeter {
    server_pid: String,
    load_cpu: String,
    started: Instant,
    server_ticks: f64,
    load_busy: f64,
    load_total: f64,
}

impl CpuMeter {
    fn start(server: &Replica, load_cpu: u64) -> Self {
        let pattern = format!("--listen {}", server.addr);
        let pid = std::process::Command::new("pgrep")
            .args(["-f", "--", &pattern])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
            .unwrap_or_default();
        let mut meter = Self {
            server_pid: pid,
            load_cpu: format!("cpu{load_cpu} "),
            started: Instant::now(),
            server_ticks: 0.0,
            load_busy: 0.0,
            load_total: 0.0,
        };
        (meter.server_ticks, meter.load_busy, meter.load_total) = meter.read();
        meter
    }

    fn read(&self) -> (f64, f64, f64) {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.server_pid)).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
        let server = ticks(11) + ticks(12);
        let all = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let line = all
            .lines()
            .find(|l| l.starts_with(&self.load_cpu))
            .unwrap_or("");
        let values: Vec<f64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        let total: f64 = values.iter().sum();
        let idle = values.get(3).copied().unwrap_or(0.0) + values.get(4).copied().unwrap_or(0.0);
        (server, total - idle, total)
    }

    /// "server 98% of its core, load+database 64% of theirs".
    fn report(&self) -> String {
        let (server, busy, total) = self.read();
        let hz = 100.0; // USER_HZ on Linux
        let wall = self.started.elapsed().as_secs_f64();
        let server_share = (server - self.server_ticks) / hz / wall * 100.0;
        let load_share = (busy - self.load_busy) / (total - self.load_total).max(1.0) * 100.0;
        format!(
            "server {server_share:.0}% of its core, load + PostgreSQL {load_share:.0}% of theirs"
        )
    }
}

/// Latencies of successful requests and the count of failed ones.
#[derive(Default)]
struct Sample {
    ok: Vec<Duration>,
    failed: u64,
}

impl Sample {
    fn merge(mut samples: Vec<Sample>) -> Sample {
        let mut all = samples.pop().unwrap_or_default();
        for sample in samples {
            all.ok.extend(sample.ok);
            all.failed += sample.failed;
        }
        all.ok.sort();
        all
    }

    fn report(&self, what: &str, elapsed: Duration) {
        let percentile = |p: f64| {
            let index = ((self.ok.len() as f64 - 1.0) * p).round() as usize;
            self.ok.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        println!(
            "{what:<44} {:>8.0}/s   p50 {:>6.2} ms   p99 {:>6.2} ms   ({} ok, {} failed)",
            self.ok.len() as f64 / elapsed.as_secs_f64(),
            percentile(0.50),
            percentile(0.99),
            self.ok.len(),
            self.failed
        );
    }
}

async fn client_credentials(load: Arc<Load>, connections: u64, duration: Duration) -> Sample {
    let form = [("grant_type", "client_credentials"), ("scope", "api")];
    let deadline = Instant::now() + duration;
    let workers = (0..connections).map(|_| {
        let load = load.clone();
        tokio::spawn(async move {
            let mut sample = Sample::default();
            while Instant::now() < deadline {
                let started = Instant::now();
                match load.token(&form).await {
                    Ok((StatusCode::OK, _)) => sample.ok.push(started.elapsed()),
                    _ => sample.failed += 1,
                }
            }
            sample
        })
    });
    collect(workers).await
}

async fn collect(workers: impl Iterator<Item = tokio::task::JoinHandle<Sample>>) -> Sample {
    let mut samples = Vec::new();
    for worker in workers.collect::<Vec<_>>() {
        samples.push(worker.await.unwrap_or_default());
    }
    Sample::merge(samples)
}

/// One refresh chain per connection, each rotating its own token as fast as it can.
async fn refresh_chains(
    load: Arc<Load>,
    browser: Client,
    connections: u64,
    run: Duration,
) -> Sample {
    let mut starts = Vec::new();
    for _ in 0..connections {
        let code = load.code(&browser).await.expect("code");
        let (_, tokens) = load.redeem(&code).await.expect("redeem");
        starts.push(
            tokens["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let deadline = Instant::now() + run;
    let workers = starts.into_iter().map(|mut token| {
        let load = load.clone();
        tokio::spawn(async move {
            let mut sample = Sample::default();
            while Instant::now() < deadline {
                let started = Instant::now();
                match load.refresh(&token).await {
                    Ok((StatusCode::OK, body)) => {
                        sample.ok.push(started.elapsed());
                        token = body["refresh_token"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                    }
                    _ => sample.failed += 1,
                }
            }
            sample
        })
    });
    collect(workers).await
}

/// Codes made first (each a store write of its own), then redeemed as fast as possible.
async fn code_redemptions(
    load: Arc<Load>,
    browser: Client,
    connections: u64,
    count: u64,
) -> (Sample, Duration) {
    let per_worker = count / connections;
    let makers = (0..connections).map(|_| {
        let (load, browser) = (load.clone(), browser.clone());
        tokio::spawn(async move {
            let mut codes = Vec::new();
            for _ in 0..per_worker {
                codes.extend(load.code(&browser).await.ok());
            }
            codes
        })
    });
    let mut batches = Vec::new();
    for maker in makers.collect::<Vec<_>>() {
        batches.push(maker.await.unwrap_or_default());
    }
    let started = Instant::now();
    let workers = batches.into_iter().map(|codes| {
        let load = load.clone();
        tokio::spawn(async move {
            let mut sample = Sample::default();
            for code in codes {
                let begun = Instant::now();
                match load.redeem(&code).await {
                    Ok((StatusCode::OK, _)) => sample.ok.push(begun.elapsed()),
                    _ => sample.failed += 1,
                }
            }
            sample
        })
    });
    let sample = collect(workers).await;
    (sample, started.elapsed())
}

/// A steady rate of refreshes (and one code flow per chain) for `run`, printing row counts.
async fn soak(
    load: Arc<Load>,
    browser: Client,
    db: &Postgres,
    uri: &str,
    rate: u64,
    run: Duration,
) {
    let chains = 20u64;
    let interval = Duration::from_secs_f64(chains as f64 / rate as f64);
    let deadline = Instant::now() + run;
    let workers: Vec<_> = (0..chains)
        .map(|_| {
            let (load, browser) = (load.clone(), browser.clone());
            tokio::spawn(async move {
                let mut ticker = tokio::time::interval(interval);
                let mut token = String::new();
                let mut done = 0u64;
                while Instant::now() < deadline {
                    ticker.tick().await;
                    // A new code flow every 100 rotations: codes and families keep coming too.
                    if token.is_empty() || done.is_multiple_of(100) {
                        let Ok(code) = load.code(&browser).await else {
                            continue;
                        };
                        if let Ok((StatusCode::OK, body)) = load.redeem(&code).await {
                            token = body["refresh_token"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned();
                        }
                    }
                    if let Ok((StatusCode::OK, body)) = load.refresh(&token).await {
                        token = body["refresh_token"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned();
                        done += 1;
                    }
                }
                done
            })
        })
        .collect();
    let started = Instant::now();
    println!(
        "\nsoak: {rate} refresh/s for {} s; rows per table",
        run.as_secs()
    );
    println!("{:>6}  {}", "t (s)", TABLES.join("  "));
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(30).min(deadline - Instant::now())).await;
        let mut counts = Vec::new();
        for table in TABLES {
            let sql = format!("SELECT count(*) FROM {table}");
            let count = db.psql(uri, &sql).await.map(|s| s.trim().to_owned());
            counts.push(format!(
                "{:>width$}",
                count.unwrap_or_default(),
                width = table.len()
            ));
        }
        println!("{:>6}  {}", started.elapsed().as_secs(), counts.join("  "));
    }
    let mut rotations = 0;
    for worker in workers {
        rotations += worker.await.unwrap_or(0);
    }
    println!(
        "soak: {rotations} refreshes in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

/// The demo tenant with short lifetimes, so a five-minute soak sees rows expire.
fn bench_tenant(dir: &Path) -> anyhow::Result<DevSetup> {
    let DevConfig::Written(setup) = write_dev_config(dir, "127.0.0.1:1".parse()?)? else {
        anyhow::bail!("a fresh directory holds no tenant");
    };
    let file = dir.join(TenantFile::Config.file_name("demo"));
    let mut tenant: TenantConfig = serde_json::from_slice(&std::fs::read(&file)?)?;
    tenant.tokens.access_token_seconds = 30;
    tenant.tokens.refresh_token_seconds = 120;
    std::fs::write(&file, serde_json::to_vec(&tenant)?)?;
    Ok(setup)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let duration = Duration::from_secs(env_number("DURATION_SECONDS", 10));
    let connections = env_number("CONNECTIONS", 32);
    let soak_run = Duration::from_secs(env_number("SOAK_SECONDS", 300));
    let soak_rate = env_number("SOAK_RATE", 400);
    let cpu = Some(env_number("SERVER_CPU", 0) as usize);
    let load_cpu = env_number("LOAD_CPU", 1);
    let db = Postgres::start().await?;
    let uri = db.create_database("bench").await?;
    let work = tempfile::tempdir()?;
    let setup = Arc::new(bench_tenant(work.path())?);
    let http = Client::builder()
        .pool_max_idle_per_host(connections as usize)
        .build()?;
    println!(
        "grant store benchmark: server on CPU {cpu:?}, load and PostgreSQL (fsync on) on the other; {connections} connections\n"
    );

    for (store, name) in [("memory", "memory"), (uri.as_str(), "postgres")] {
        let server = Replica::spawn_on(name, work.path(), store, work.path(), cpu).await?;
        server.wait_ready().await?;
        let load = Arc::new(Load {
            http: http.clone(),
            base: server.base(),
            setup: setup.clone(),
        });
        client_credentials(load.clone(), connections, Duration::from_secs(2)).await;
        let meter = CpuMeter::start(&server, load_cpu);
        let sample = client_credentials(load, connections, duration).await;
        sample.report(&format!("client_credentials, {name} store"), duration);
        println!("{:>44} {}", "", meter.report());
    }

    let server = Replica::spawn_on("postgres", work.path(), &uri, work.path(), cpu).await?;
    server.wait_ready().await?;
    let load = Arc::new(Load {
        http: http.clone(),
        base: server.base(),
        setup: setup.clone(),
    });
    let browser = load.signed_in_browser().await?;
    let meter = CpuMeter::start(&server, load_cpu);
    let sample = refresh_chains(load.clone(), browser.clone(), connections, duration).await;
    sample.report("refresh_token, postgres store", duration);
    println!("{:>44} {}", "", meter.report());
    let (sample, took) = code_redemptions(load.clone(), browser.clone(), connections, 8_000).await;
    sample.report("authorization_code redemption, postgres store", took);
    if !soak_run.is_zero() {
        soak(load, browser, &db, &uri, soak_rate, soak_run).await;
    }
    Ok(())
}
