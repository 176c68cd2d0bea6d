//! A reload of Debian's HAProxy on a config this crate renders drops no request: clients that
//! keep their connections alive between requests (as every HTTP library does) go on being
//! answered while the master swaps workers under them. The old worker would otherwise close
//! its idle connections at once, and a request sent on one as it closes is lost — a client
//! sees "connection closed" for a request HAProxy never read.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use meridian_routing::{FrontDoor, FrontDoorRegion, FrontDoorTenant, HealthCheck};

mod support;
use support::{Running, answer_ok, free_port};

/// Clients, each with its own pool of kept-alive connections.
const CLIENTS: usize = 8;
/// Reloads while they send.
const RELOADS: usize = 40;
/// What HAProxy's master logs once a new worker has loaded the config.
const LOADED: &str = "Loading success.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_under_kept_alive_clients_drop_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let region = answer_ok();
    let bind = free_port();
    let door = FrontDoor {
        bind: format!("127.0.0.1:{bind}"),
        tls_certificate: None,
        regions: vec![FrontDoorRegion {
            name: "eu-west".into(),
            public_url: format!("http://127.0.0.1:{region}"),
        }],
        tenants: vec![FrontDoorTenant {
            name: "acme".into(),
            issuer: format!("http://127.0.0.1:{bind}/t/acme"),
            home_region: "eu-west".into(),
            regions: vec!["eu-west".into()],
        }],
        check: HealthCheck::default(),
    };
    let config = dir.path().join("frontdoor.cfg");
    std::fs::write(&config, door.render().unwrap()).unwrap();
    let log = dir.path().join("haproxy.log");
    // Master-worker, as a platform team runs it: SIGUSR2 reloads.
    let haproxy = Running::start("-W", &config, Some(&log), bind);

    let url = format!("http://127.0.0.1:{bind}/t/acme/.well-known/openid-configuration");
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(send_until(url.clone(), stop.clone())))
        .collect();
    for reload in 1..=RELOADS {
        tokio::time::sleep(Duration::from_millis(150)).await;
        reload_and_wait(&haproxy, &log, reload);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut answered, mut failures) = (0, Vec::new());
    for client in clients {
        let (ok, failed) = client.await.unwrap();
        answered += ok;
        failures.extend(failed);
    }
    eprintln!(
        "{RELOADS} reloads: {answered} requests answered, {} failed",
        failures.len()
    );
    assert!(answered >= CLIENTS * RELOADS, "{answered} answered");
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Sends requests nearly back to back (1 ms apart, so a connection is idle often and briefly,
/// as a worker stops) on one client's kept-alive connections until `stop`; returns how many
/// were answered 200 and what went wrong with the others. Without `idle-close-on-response`,
/// 12-26 of ~22,000 failed in each run here (hyper's `IncompleteMessage`).
async fn send_until(url: String, stop: Arc<AtomicBool>) -> (usize, Vec<String>) {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let (mut ok, mut failed) = (0, Vec::new());
    while !stop.load(Ordering::Relaxed) {
        match http.get(&url).send().await {
            Ok(response) if response.status() == 200 => ok += 1,
            Ok(response) => failed.push(format!("HTTP {}", response.status())),
            Err(e) => failed.push(format!("{e:?}")),
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    (ok, failed)
}

/// SIGUSR2 to HAProxy's master, then waits until its `reload`-th new worker has loaded.
fn reload_and_wait(haproxy: &Running, log: &Path, reload: usize) {
    // SAFETY: kill(2) on our own child's pid, which has not been reaped.
    assert_eq!(unsafe { libc::kill(haproxy.pid(), libc::SIGUSR2) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(log)
        .unwrap()
        .matches(LOADED)
        .count()
        <= reload
    {
        assert!(Instant::now() < deadline, "reload {reload} loaded");
        std::thread::sleep(Duration::from_millis(10));
    }
}
