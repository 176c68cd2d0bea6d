//! Configuration reload, readiness and the key schedule, with time moved by hand.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use meridian_auth_server::clock::{Clock, ManualClock, SystemClock};
use meridian_auth_server::server::{ServerOptions, start};
use meridian_contract::{Algorithm, TenantFile};
use serde_json::Value;

async fn readyz(base: &str) -> u16 {
    http()
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn client_credentials(issuer: &str) -> (u16, Value) {
    let form = [("grant_type", "client_credentials")];
    let (status, _, body) = post_form(issuer, "/token", Some(("svc", SVC_SECRET)), &form).await;
    (status.as_u16(), body)
}

fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn published_kids(issuer: &str) -> Vec<String> {
    let jwks: Value = http()
        .get(format!("{issuer}/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn readyz_is_false_until_a_valid_configuration_loads() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_on(dir.path(), Arc::new(SystemClock)).await;
    let base = format!("http://{}", server.addr);
    assert_eq!(readyz(&base).await, 503);
    assert_eq!(
        http()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    write_region(dir.path(), &base);
    write_tenant(
        dir.path(),
        &issuer(&base, "acme"),
        "acme",
        vec![key_for(Algorithm::ES256, 0)],
    );
    std::fs::write(
        dir.path().join(TenantFile::Users.file_name("acme")),
        "{ not json",
    )
    .unwrap();
    assert!(
        !server.config.reload(dir.path()),
        "a malformed users file is refused"
    );
    assert_eq!(readyz(&base).await, 503);
    write_tenant(
        dir.path(),
        &issuer(&base, "acme"),
        "acme",
        vec![key_for(Algorithm::ES256, 0)],
    );
    assert!(server.config.reload(dir.path()));
    assert_eq!(readyz(&base).await, 200);
}

#[tokio::test]
async fn a_malformed_file_is_refused_and_the_last_good_state_keeps_serving() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let keys = server.dir.path().join(TenantFile::Keys.file_name("acme"));
    std::fs::write(&keys, r#"{"keys":[{"kid":"x"}]}"#).unwrap();
    assert!(!server.server.config.reload(server.dir.path()));
    assert_eq!(
        client_credentials(&issuer).await.0,
        200,
        "the previous configuration serves"
    );
    assert_eq!(readyz(&server.base()).await, 200);
}

#[tokio::test]
async fn the_key_schedule_follows_the_injected_clock() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let now = server.clock.now();
    let mut old = key_for(Algorithm::ES256, now - 1000);
    old.retire_at = Some(now + 200);
    old.remove_at = Some(now + 500);
    let mut new = key_for(Algorithm::EdDSA, now + 100);
    new.generation = 2;
    new.activate_at = now + 200;
    let (old_kid, new_kid) = (old.kid.clone(), new.kid.clone());
    write_tenant(server.dir.path(), &issuer, "acme", vec![old, new]);
    assert!(server.server.config.reload(server.dir.path()));

    assert_eq!(
        published_kids(&issuer).await,
        std::slice::from_ref(&old_kid)
    );
    server.clock.advance(100);
    assert_eq!(
        published_kids(&issuer).await,
        [old_kid.clone(), new_kid.clone()],
        "staged before it signs"
    );
    assert_eq!(
        kid_of(
            client_credentials(&issuer).await.1["access_token"]
                .as_str()
                .unwrap()
        ),
        old_kid
    );
    server.clock.advance(100);
    assert_eq!(
        kid_of(
            client_credentials(&issuer).await.1["access_token"]
                .as_str()
                .unwrap()
        ),
        new_kid
    );
    server.clock.advance(300);
    assert_eq!(
        published_kids(&issuer).await,
        [new_kid],
        "removed at remove_at"
    );
}

/// Lays out `dir` as Kubernetes does: files are links through `..data` to a versioned folder.
fn project(dir: &std::path::Path, version: &str, write: impl FnOnce(&std::path::Path)) {
    let versioned = dir.join(format!("..{version}"));
    std::fs::create_dir_all(&versioned).unwrap();
    write(&versioned);
    let tmp = dir.join("..data_tmp");
    std::os::unix::fs::symlink(format!("..{version}"), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    for entry in std::fs::read_dir(&versioned).unwrap() {
        let name = entry.unwrap().file_name();
        let link = dir.join(&name);
        if !link.exists() {
            std::os::unix::fs::symlink(std::path::Path::new("..data").join(&name), link).unwrap();
        }
    }
}

#[tokio::test]
async fn a_kubernetes_symlink_swap_is_picked_up_by_the_watcher() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(SystemClock.now());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let base = format!("http://{addr}");
    project(dir.path(), "v1", |v| {
        write_region(v, &base);
        write_tenant(
            v,
            &issuer(&base, "acme"),
            "acme",
            vec![key_for(Algorithm::ES256, 0)],
        );
    });
    let mut options = ServerOptions::new(dir.path(), addr);
    options.clock = Arc::new(clock);
    options.poll_interval = Duration::from_millis(20);
    let server = start(options).await.unwrap();
    assert_eq!(client_credentials(&issuer(&base, "acme")).await.0, 200);
    let mut installed = server.config.subscribe();

    project(dir.path(), "v2", |v| {
        write_region(v, &base);
        write_tenant(
            v,
            &issuer(&base, "acme"),
            "acme",
            vec![key_for(Algorithm::ES256, 0)],
        );
        write_tenant(
            v,
            &issuer(&base, "globex"),
            "globex",
            vec![key_for(Algorithm::EdDSA, 0)],
        );
    });
    // Wait for the watcher to install a snapshot with the new tenant: events, not a guessed
    // delay. Kubernetes links new files only after the swap, so that may take two loads.
    let has_globex = |server: &meridian_auth_server::server::RunningServer| {
        let snapshot = server.config.current().unwrap();
        snapshot
            .tenants()
            .iter()
            .any(|tenant| tenant.id() == "globex")
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        while !has_globex(&server) {
            installed.changed().await.unwrap();
        }
    })
    .await
    .expect("the watcher sees the swap");
    assert_eq!(client_credentials(&issuer(&base, "globex")).await.0, 200);
    server.shutdown().await.unwrap();
}
