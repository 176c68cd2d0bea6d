//! Schema migrations: safe when replicas race to apply them, and expand/contract so the
//! previous release runs on the next one's schema, while a schema declared incompatible is
//! refused with a message that says what to do.

use std::time::Duration;

use meridian_auth_server::store::{MIGRATIONS, Migration, PgStore, SCHEMA_VERSION};
use meridian_e2e::auth_server::Replica;
use meridian_e2e::{Postgres, eventually};

use crate::support::*;

/// What the next release might add: a column older servers never read, and a table.
const NEXT_EXPANDS: &str = "ALTER TABLE refresh_tokens ADD COLUMN confirmation text;
     CREATE TABLE consent_grants (tenant text NOT NULL, username text NOT NULL,
                                  client_id text NOT NULL, expires_at bigint NOT NULL)";

async fn migrated_by_next_release(uri: &str, readable_from: i32) {
    let next = Migration {
        version: SCHEMA_VERSION + 1,
        name: "next release",
        sql: NEXT_EXPANDS,
        readable_from,
    };
    let migrations: Vec<Migration> = MIGRATIONS.iter().copied().chain([next]).collect();
    let store = PgStore::new(uri).expect("a valid URI");
    let done = store
        .migrate(&migrations)
        .await
        .expect("next release migrates");
    assert_eq!(done.schema_version, SCHEMA_VERSION + 1);
}

#[tokio::test]
async fn replicas_starting_at_the_same_instant_on_an_empty_database_both_come_up() {
    let db = Postgres::from_env_or_start().await.expect("postgres");
    let uri = db.create_database("race").await.expect("database");
    let (dir, setup) = demo_tenant();
    let (a, b) = tokio::join!(
        Replica::spawn("a", dir.path(), &uri, dir.path()),
        Replica::spawn("b", dir.path(), &uri, dir.path())
    );
    let (a, b) = (a.expect("a spawned"), b.expect("b spawned"));
    let (ready_a, ready_b) = tokio::join!(a.wait_ready(), b.wait_ready());
    ready_a.expect("a ready");
    ready_b.expect("b ready");
    let applied = db
        .psql(&uri, "SELECT count(*) FROM meridian_schema_migrations")
        .await
        .expect("query");
    assert_eq!(
        applied.trim(),
        SCHEMA_VERSION.to_string(),
        "each migration ran once"
    );
    let code = sign_in(&browser(), &a.base(), &setup).await;
    tokens(redeem(&b.base(), &setup, &code).await).await;
}

#[tokio::test]
async fn the_previous_release_keeps_working_on_the_next_releases_schema() {
    let db = Postgres::from_env_or_start().await.expect("postgres");
    let uri = db.create_database("expand").await.expect("database");
    migrated_by_next_release(&uri, SCHEMA_VERSION).await;
    // This binary is now "release N-1": it must start and serve every grant.
    let (dir, setup) = demo_tenant();
    let old = Replica::start("previous", dir.path(), &uri, dir.path())
        .await
        .expect("the previous release starts on the newer schema");
    let code = sign_in(&browser(), &old.base(), &setup).await;
    let issued = tokens(redeem(&old.base(), &setup, &code).await).await;
    tokens(refresh(&old.base(), &setup, &field(&issued, "refresh_token")).await).await;
}

#[tokio::test]
async fn a_schema_declared_incompatible_is_refused_with_a_message_that_says_so() {
    let db = Postgres::from_env_or_start().await.expect("postgres");
    let uri = db.create_database("contract").await.expect("database");
    migrated_by_next_release(&uri, SCHEMA_VERSION + 1).await;
    let (dir, _setup) = demo_tenant();
    let mut old = Replica::spawn("previous", dir.path(), &uri, dir.path())
        .await
        .expect("spawned");
    let exited = eventually(
        "the server to refuse",
        Duration::from_secs(30),
        async || Ok(old.check_running().is_err().then_some(())),
    )
    .await;
    exited.expect("it exits instead of serving");
    let log = std::fs::read_to_string(old.log_path()).expect("log");
    let expected = format!(
        "needs a server that knows schema version {} or later; this server knows up to version {}",
        SCHEMA_VERSION + 1,
        SCHEMA_VERSION
    );
    assert!(log.contains(&expected), "{log}");
    assert!(!log.contains(&uri), "the URI is never logged");
}
