//! Floods against the real binary, on loopback, bounded in count and time: the process's
//! peak resident memory (`VmHWM`) must stay under the default pod limit of 128 MiB, and
//! another tenant's users must still sign in. Prints the numbers it measured.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use meridian_auth_server::clock::{Clock, SystemClock};
use meridian_contract::Algorithm;
use url::Url;

const LIMIT_BYTES: u64 = 128 << 20;

/// The auth-server binary serving `acme` and `beta`, trusting loopback as its proxy so a
/// flood can claim many client addresses (the worst case for the throttle).
struct Binary {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Binary {
    async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = SocketAddr::from(([127, 0, 0, 1], port));
        let base = format!("http://{listen}");
        let dir = tempfile::tempdir().unwrap();
        write_region(dir.path(), &base);
        for id in ["acme", "beta"] {
            let key = key_for(Algorithm::ES256, SystemClock.now());
            write_tenant(dir.path(), &issuer(&base, id), id, vec![key]);
        }
        let child = Command::new(env!("CARGO_BIN_EXE_meridian-auth-server"))
            .arg("--config-dir")
            .arg(dir.path())
            .arg("--listen")
            .arg(listen.to_string())
            .env("MERIDIAN_ADMIN_LISTEN", "127.0.0.1:0")
            .env("MERIDIAN_LOGIN_MEMORY", "128Mi")
            .env("MERIDIAN_TRUSTED_PROXIES", "127.0.0.1")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let binary = Self {
            child,
            base,
            _dir: dir,
        };
        let ready = format!("{}/readyz", binary.base);
        for _ in 0..200 {
            if let Ok(response) = http().get(&ready).send().await
                && response.status() == 200
            {
                return binary;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the auth-server did not become ready");
    }

    fn issuer(&self, tenant: &str) -> String {
        issuer(&self.base, tenant)
    }

    /// Peak resident set so far, from `/proc/PID/status`.
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }
}

/// One form of `tenant`'s sign-in page, posted from `address` (via the trusted proxy).
async fn post_login(
    client: &reqwest::Client,
    form_url: &Url,
    html: &str,
    (username, password): (&str, &str),
    address: &str,
) -> reqwest::StatusCode {
    let form = [
        ("login_id", hidden_field(html, "login_id")),
        ("csrf", hidden_field(html, "csrf")),
        ("username", username.to_owned()),
        ("password", password.to_owned()),
    ];
    let request = client
        .post(form_url.join("login").unwrap())
        .header("x-forwarded-for", address)
        .form(&form);
    match request.send().await {
        Ok(response) => response.status(),
        Err(_) => reqwest::StatusCode::REQUEST_TIMEOUT,
    }
}

#[derive(Default)]
struct Tally {
    unauthorized: AtomicUsize,
    throttled: AtomicUsize,
    busy: AtomicUsize,
    other: AtomicUsize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_stays_in_memory_and_leaves_other_tenants_signing_in() {
    let seconds: u64 = std::env::var("MERIDIAN_FLOOD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let binary = Binary::start().await;
    let flood_url = authorize_url(&binary.issuer("acme"), "web", &[]);
    let client = browser();
    let html = client.get(flood_url.clone()).send().await.unwrap();
    let html = Arc::new(html.text().await.unwrap());
    let (tally, sent) = (Arc::new(Tally::default()), Arc::new(AtomicUsize::new(0)));
    let until = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..200)
        .map(|worker| {
            let (client, url, html) = (client.clone(), flood_url.clone(), html.clone());
            let (tally, sent) = (tally.clone(), sent.clone());
            tokio::spawn(async move {
                while Instant::now() < until {
                    let n = sent.fetch_add(1, Ordering::Relaxed);
                    // Most guesses claim a fresh address and username; a tenth guess at
                    // alice from one address, to be throttled.
                    let (address, user) = if worker % 10 == 0 {
                        ("198.18.0.1".to_owned(), "alice".to_owned())
                    } else {
                        let address = format!("10.{}.{}.{}", n >> 16 & 255, n >> 8 & 255, n & 255);
                        (address, format!("user{}", n % 5000))
                    };
                    let status = post_login(&client, &url, &html, (&user, "wrong"), &address).await;
                    let counter = match status.as_u16() {
                        401 => &tally.unauthorized,
                        429 => &tally.throttled,
                        503 => &tally.busy,
                        _ => &tally.other,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let honest_url = authorize_url(&binary.issuer("beta"), "web", &[]);
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    while Instant::now() + Duration::from_secs(1) < until {
        let browser = browser();
        let started = Instant::now();
        let page = browser.get(honest_url.clone()).send().await.unwrap();
        let html = page.text().await.unwrap();
        let status = post_login(
            &browser,
            &honest_url,
            &html,
            ("alice", PASSWORD),
            "192.0.2.10",
        )
        .await;
        latencies.push(started.elapsed());
        if !status.is_redirection() {
            failures.push(status);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let peak = binary.peak_rss();
    latencies.sort();
    let load = |c: &AtomicUsize| c.load(Ordering::Relaxed);
    eprintln!(
        "login flood {seconds}s, 200 concurrent: peak RSS {:.1} MiB; flood answers 401 {} / \
         429 {} / 503 {} / other {}; honest sign-ins {} (failed {:?}), latency p50 {:?} max {:?}",
        peak as f64 / (1 << 20) as f64,
        load(&tally.unauthorized),
        load(&tally.throttled),
        load(&tally.busy),
        load(&tally.other),
        latencies.len(),
        failures,
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1],
    );
    assert!(peak < LIMIT_BYTES, "peak RSS {peak} bytes");
    assert!(load(&tally.throttled) > 0, "429s appear");
    assert!(load(&tally.busy) > 0, "503s appear instead of queueing");
    assert_eq!(load(&tally.other), 0, "no other answer, no timeout");
    assert!(!latencies.is_empty() && failures.is_empty(), "{failures:?}");
}

/// An authorize URL whose `state` and `nonce` are these (each given once).
fn with_state(issuer: &str, state: &str, nonce: &str) -> Url {
    let mut url = authorize_url(issuer, "web", &[]);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "state" && k != "nonce")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("state", state)
        .append_pair("nonce", nonce);
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_pending_logins_with_maximal_state_stay_in_memory() {
    let binary = Binary::start().await;
    let issuer = binary.issuer("acme");
    let client = http();
    // The largest accepted state and nonce, and a far larger one (refused at once).
    let (accepted, oversized) = ("s".repeat(1024), "s".repeat(60 * 1024));
    let refused = with_state(&issuer, &oversized, &accepted);
    assert_eq!(client.get(refused).send().await.unwrap().status(), 400);
    let kept = with_state(&issuer, &accepted, &accepted);
    assert_eq!(client.get(kept).send().await.unwrap().status(), 200);
    let started = Instant::now();
    let sent = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..50)
        .map(|_| {
            let (client, sent, issuer) = (client.clone(), sent.clone(), issuer.clone());
            let (accepted, oversized) = (accepted.clone(), oversized.clone());
            tokio::spawn(async move {
                loop {
                    let n = sent.fetch_add(1, Ordering::Relaxed);
                    if n >= 10_000 {
                        break;
                    }
                    // Half at the largest state kept, half far beyond it (refused at once).
                    let (state, expected) = if n % 2 == 0 {
                        (&accepted, 200)
                    } else {
                        (&oversized, 400)
                    };
                    let url = with_state(&issuer, state, &accepted);
                    let status = client.get(url).send().await.unwrap().status();
                    assert_eq!(status.as_u16(), expected);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let peak = binary.peak_rss();
    eprintln!(
        "10,000 /authorize with 1 KiB and 60 KiB state in {:?}: peak RSS {:.1} MiB",
        started.elapsed(),
        peak as f64 / (1 << 20) as f64
    );
    assert!(peak < LIMIT_BYTES, "peak RSS {peak} bytes");
}
