//! The PostgreSQL harness itself: a throwaway server hands out fresh databases, survives an
//! outage with its data, and leaves nothing behind; an external server gets databases of
//! its own that go when the harness does.

use std::time::Duration;

use meridian_e2e::{Postgres, eventually};

async fn connection_refused(port: u16) -> bool {
    matches!(
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

#[tokio::test]
async fn a_throwaway_server_keeps_its_data_through_an_outage() {
    let postgres = Postgres::start().await.unwrap();
    let uri = postgres.create_database("harness").await.unwrap();
    assert_eq!(
        uri,
        format!("postgres://meridian@127.0.0.1:{}/harness", postgres.port())
    );
    // Benchmarks against this server measure what production pays for durability.
    assert_eq!(postgres.psql(&uri, "SHOW fsync").await.unwrap(), "on");
    let sql = "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('before the outage')";
    postgres.psql(&uri, sql).await.unwrap();

    postgres.stop().await.unwrap();
    assert!(connection_refused(postgres.port()).await);
    assert!(postgres.psql(&uri, "SELECT 1").await.is_err());
    // Stopping a stopped server is no error: an outage injector need not track state.
    postgres.stop().await.unwrap();

    postgres.restart().await.unwrap();
    let kept = postgres.psql(&uri, "SELECT v FROM kept").await.unwrap();
    assert_eq!(kept, "before the outage");
}

#[tokio::test]
async fn a_database_is_created_fresh_or_not_at_all() {
    let postgres = Postgres::start().await.unwrap();
    let uri = postgres.create_database("eu-west").await.unwrap();
    let tables = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'";
    assert_eq!(postgres.psql(&uri, tables).await.unwrap(), "0");
    let again = postgres.create_database("eu-west").await.unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again}");
    let unsafe_name = postgres.create_database("a\"; DROP").await.unwrap_err();
    assert_eq!(unsafe_name.reason(), "Postgres");
}

#[tokio::test]
async fn dropping_a_server_stops_it_and_removes_its_files() {
    let postgres = Postgres::start().await.unwrap();
    let port = postgres.port();
    let dir = postgres.log_path().unwrap().parent().unwrap().to_owned();
    assert!(dir.join("data").is_dir());
    drop(postgres);
    assert!(!dir.exists(), "{} is left behind", dir.display());
    // The postmaster is gone once Drop returns; its sessions' backends follow it.
    eventually("the port to close", Duration::from_secs(10), async || {
        Ok(connection_refused(port).await.then_some(()))
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn an_external_server_gets_unique_databases_that_go_with_the_harness() {
    let server = Postgres::start().await.unwrap();
    let admin = server.create_database("admin").await.unwrap();
    let external = Postgres::external(&admin).unwrap();
    assert_eq!(external.port(), server.port());
    assert!(external.stop().await.is_err(), "not ours to stop");
    assert!(external.restart().await.is_err(), "not ours to start");

    let uri = external.create_database("tenant-db").await.unwrap();
    let name = uri.rsplit('/').next().unwrap().to_owned();
    assert!(name.starts_with("tenant-db_"), "{uri}");
    assert_ne!(external.create_database("tenant-db").await.unwrap(), uri);
    assert_eq!(
        external
            .psql(&uri, "SELECT current_database()")
            .await
            .unwrap(),
        name
    );

    drop(external);
    let left = "SELECT count(*) FROM pg_database WHERE datname LIKE 'tenant-db_%'";
    assert_eq!(server.psql(&admin, left).await.unwrap(), "0");
}
