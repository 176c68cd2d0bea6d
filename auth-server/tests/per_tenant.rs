//! Each tenant loads on its own, watched by the real server: a tenant whose files are refused
//! keeps serving its last good state and never holds back another tenant's change, and every
//! tenant's discovery and JWKS say which revision of its files is served.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use meridian_auth_server::clock::SystemClock;
use meridian_auth_server::server::{RunningServer, ServerOptions, start};
use meridian_contract::{
    Algorithm, REVISION_HEADER, Revision, Scope, TenantConfig, TenantFile, UserDirectory,
};
use serde_json::Value;

struct Served {
    status: u16,
    revision: Option<String>,
    body: Value,
}

async fn get(url: &str) -> Served {
    let response = http().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let revision = response
        .headers()
        .get(REVISION_HEADER)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.json().await.unwrap_or(Value::Null);
    Served {
        status,
        revision,
        body,
    }
}

async fn discovery(issuer: &str) -> Served {
    get(&format!("{issuer}/.well-known/openid-configuration")).await
}

fn scopes(served: &Served) -> Vec<String> {
    served.body["scopes_supported"]
        .as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// The revision of a tenant's files as they are on disk, computed as the operator does.
fn revision_on_disk(dir: &std::path::Path, id: &str) -> String {
    let files: Vec<(TenantFile, Vec<u8>)> = TenantFile::ALL
        .into_iter()
        .filter_map(|kind| Some((kind, std::fs::read(dir.join(kind.file_name(id))).ok()?)))
        .collect();
    Revision::of(files.iter().map(|(k, b)| (*k, b.as_slice()))).to_string()
}

async fn watched_server(dir: &std::path::Path, tenants: &[&str]) -> (RunningServer, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let base = format!("http://{addr}");
    write_region(dir, &base);
    for id in tenants {
        write_tenant(
            dir,
            &issuer(&base, id),
            id,
            vec![key_for(Algorithm::ES256, 0)],
        );
    }
    let mut options = ServerOptions::new(dir, addr);
    options.clock = Arc::new(SystemClock);
    options.poll_interval = Duration::from_millis(50);
    (start(options).await.unwrap(), base)
}

fn edit_config(dir: &std::path::Path, base: &str, id: &str, edit: impl FnOnce(&mut TenantConfig)) {
    let mut config = tenant_config(id, &issuer(base, id));
    edit(&mut config);
    write_json(dir, &TenantFile::Config.file_name(id), &config);
}

/// Polls `check` until it holds; fails after `within`. The watcher's own latency is what is
/// measured, so a deadline rather than a guessed sleep.
async fn within(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_refused_tenant_keeps_its_last_good_state_and_never_freezes_another() {
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = watched_server(dir.path(), &["acme", "globex"]).await;
    let (acme, globex) = (issuer(&base, "acme"), issuer(&base, "globex"));
    let globex_good = discovery(&globex).await;
    assert_eq!(globex_good.status, 200);
    let good_revision = revision_on_disk(dir.path(), "globex");
    assert_eq!(
        globex_good.revision.as_deref(),
        Some(good_revision.as_str())
    );

    // The case that froze a whole group: a reserved claim in one tenant, a change in another.
    edit_config(dir.path(), &base, "globex", |c| {
        c.claims.insert("typ".into(), "evil".into());
    });
    edit_config(dir.path(), &base, "acme", |c| {
        c.scopes.push(Scope {
            name: "orders:read".into(),
            description: String::new(),
        });
    });
    let acme_revision = revision_on_disk(dir.path(), "acme");
    within(
        "acme's new scope is served",
        Duration::from_secs(3),
        async || {
            let served = discovery(&acme).await;
            served.revision.as_deref() == Some(acme_revision.as_str())
                && scopes(&served).contains(&"orders:read".to_owned())
        },
    )
    .await;
    let globex_now = discovery(&globex).await;
    assert_eq!(globex_now.status, 200, "globex keeps serving");
    assert_eq!(
        globex_now.revision,
        Some(good_revision),
        "at its last good revision"
    );
    let jwks = get(&format!("{globex}/jwks.json")).await;
    assert_eq!(jwks.revision, globex_now.revision, "JWKS says the same");
    assert_eq!(server.config.refused_tenants(), ["globex"]);
    assert!(
        server.config.is_ready(),
        "one tenant's files never take the region down"
    );

    // Repaired, it is served at its new revision and nothing is refused.
    edit_config(dir.path(), &base, "globex", |c| {
        c.display_name = "Globex".into()
    });
    let repaired = revision_on_disk(dir.path(), "globex");
    within("globex repaired", Duration::from_secs(3), async || {
        discovery(&globex).await.revision.as_deref() == Some(repaired.as_str())
    })
    .await;
    assert!(server.config.refused_tenants().is_empty());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_tenant_that_never_loaded_is_absent_and_the_others_serve() {
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = watched_server(dir.path(), &["acme"]).await;
    let initech = issuer(&base, "initech");
    write_tenant(
        dir.path(),
        &initech,
        "initech",
        vec![key_for(Algorithm::EdDSA, 0)],
    );
    // A hash the operator's users Secret might carry from another system: not argon2id.
    let users: UserDirectory = serde_json::from_value(serde_json::json!({
        "users": [{"username": "carol", "passwordHash": "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"}]
    }))
    .unwrap();
    write_json(dir.path(), &TenantFile::Users.file_name("initech"), &users);
    within("initech refused", Duration::from_secs(3), async || {
        server.config.refused_tenants() == ["initech"]
    })
    .await;
    assert_eq!(discovery(&initech).await.status, 404, "never served");
    assert_eq!(discovery(&issuer(&base, "acme")).await.status, 200);
    assert!(server.config.is_ready());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_server_that_refuses_every_tenant_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = watched_server(dir.path(), &[]).await;
    edit_config(dir.path(), &base, "acme", |c| {
        c.claims.insert("sub".into(), "root".into());
    });
    write_tenant_keys(dir.path(), "acme");
    within("acme refused", Duration::from_secs(3), async || {
        server.config.refused_tenants() == ["acme"]
    })
    .await;
    let readyz = http().get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(
        readyz.status(),
        503,
        "kept out of its Service, so a rollout stops here"
    );
    server.shutdown().await.unwrap();
}

fn write_tenant_keys(dir: &std::path::Path, id: &str) {
    let ring = meridian_contract::KeyRing {
        keys: vec![key_for(Algorithm::ES256, 0)],
    };
    write_json(dir, &TenantFile::Keys.file_name(id), &ring);
}
