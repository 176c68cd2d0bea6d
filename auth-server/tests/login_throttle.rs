//! The login throttle under attack: parallel guesses, forwarded addresses, several tenants.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::*;
use meridian_auth_server::clock::{Clock, ManualClock, SystemClock};
use meridian_auth_server::server::{ServerOptions, start};
use meridian_contract::Algorithm;
use url::Url;

/// Like [`TestServer::start`] with ES256 tenants, trusting `proxies` for forwarded headers.
async fn server_trusting(tenants: &[&str], proxies: &str) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(SystemClock.now());
    let mut options = ServerOptions::new(dir.path(), SocketAddr::from(([127, 0, 0, 1], 0)));
    options.clock = Arc::new(clock.clone());
    options.trusted_proxies = proxies.parse().unwrap();
    let server = start(options).await.unwrap();
    let base = format!("http://{}", server.addr);
    write_region(dir.path(), &base);
    for id in tenants {
        let key = key_for(Algorithm::ES256, clock.now());
        write_tenant(dir.path(), &issuer(&base, id), id, vec![key]);
    }
    assert!(server.config.reload(dir.path()));
    TestServer { server, clock, dir }
}

/// One sign-in form, kept open: its fields can be posted any number of times.
struct Form {
    browser: reqwest::Client,
    action: Url,
    fields: [(&'static str, String); 2],
}

impl Form {
    async fn open(issuer: &str) -> Self {
        let url = authorize_url(issuer, "web", &[]);
        let browser = browser();
        let html = browser.get(url.clone()).send().await.unwrap();
        let html = html.text().await.unwrap();
        Self {
            browser,
            action: url.join("login").unwrap(),
            fields: [
                ("login_id", hidden_field(&html, "login_id")),
                ("csrf", hidden_field(&html, "csrf")),
            ],
        }
    }

    async fn post(&self, username: &str, password: &str, forwarded_for: Option<&str>) -> u16 {
        let mut form = self.fields.to_vec();
        form.push(("username", username.to_owned()));
        form.push(("password", password.to_owned()));
        let mut request = self.browser.post(self.action.clone()).form(&form);
        if let Some(address) = forwarded_for {
            request = request.header("x-forwarded-for", address);
        }
        request.send().await.unwrap().status().as_u16()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_wrong_passwords_for_one_user_are_throttled() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let url = authorize_url(&server.issuer("acme"), "web", &[]);
    let page = http().get(url.clone()).send().await.unwrap();
    let cookies: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    let html = page.text().await.unwrap();
    let form = Arc::new([
        ("login_id", hidden_field(&html, "login_id")),
        ("csrf", hidden_field(&html, "csrf")),
        ("username", "alice".to_owned()),
        ("password", "a wrong guess".to_owned()),
    ]);
    // Forty connections open first, then every guess sent at once: a check made before
    // any failure is recorded would let them all through.
    let start = Arc::new(tokio::sync::Barrier::new(40));
    let guesses: Vec<_> = (0..40)
        .map(|_| {
            let (form, start, cookie) = (form.clone(), start.clone(), cookies.join("; "));
            let (action, health) = (
                url.join("login").unwrap(),
                format!("{}/healthz", server.base()),
            );
            tokio::spawn(async move {
                let client = http();
                client.get(health).send().await.unwrap();
                start.wait().await;
                let request = client.post(action).header("cookie", cookie).form(&*form);
                request.send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.unwrap());
    }
    let checked = statuses.iter().filter(|&&s| s == 401).count();
    let throttled = statuses.iter().filter(|&&s| s == 429).count();
    assert!(checked <= 5, "at most the limit is checked: {statuses:?}");
    // The rest are throttled, or refused at once while the tenant's share of password checks
    // is in use (which counts against the address, not the user).
    assert!(throttled > 0, "429s appear: {statuses:?}");
    assert!(
        statuses.iter().all(|s| [401, 429, 503].contains(s)),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_throttled() {
    let server = server_trusting(&["acme"], "127.0.0.1/32").await;
    let form = Form::open(&server.issuer("acme")).await;
    let attacker = Some("203.0.113.66");
    for n in 0..20 {
        let status = form.post(&format!("user{n}"), "wrong", attacker).await;
        assert_eq!(status, 401);
    }
    assert_eq!(form.post("alice", PASSWORD, attacker).await, 429);
    let honest = form.post("alice", PASSWORD, Some("198.51.100.7")).await;
    assert_eq!(honest, 303, "another client behind the same proxy signs in");
}

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let server = server_trusting(&["acme"], "10.0.0.0/8").await;
    let form = Form::open(&server.issuer("acme")).await;
    for n in 0..20 {
        let spoofed = format!("203.0.113.{n}");
        let status = form
            .post(&format!("user{n}"), "wrong", Some(&spoofed))
            .await;
        assert_eq!(status, 401);
    }
    let status = form.post("alice", PASSWORD, Some("198.51.100.7")).await;
    assert_eq!(
        status, 429,
        "the peer is throttled whatever the header says"
    );
}

#[tokio::test]
async fn one_tenants_failures_do_not_lock_another_tenants_users() {
    let server = TestServer::start(&[("acme", Algorithm::ES256), ("beta", Algorithm::ES256)]).await;
    let acme = Form::open(&server.issuer("acme")).await;
    for n in 0..20 {
        assert_eq!(acme.post(&format!("user{n}"), "wrong", None).await, 401);
    }
    for _ in 0..5 {
        assert_eq!(acme.post("alice", "wrong", None).await, 429);
    }
    assert_eq!(acme.post("alice", PASSWORD, None).await, 429);
    let beta = Form::open(&server.issuer("beta")).await;
    assert_eq!(
        beta.post("alice", PASSWORD, None).await,
        303,
        "beta's alice signs in from the same address"
    );
}
