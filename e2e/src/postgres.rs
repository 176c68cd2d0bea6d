//! A real PostgreSQL for tests and the demo: Debian's server binaries run as a throwaway
//! cluster in a temporary directory, or an external server named by
//! `MERIDIAN_TEST_POSTGRES_URL` in which tests create their own databases.
//!
//! The throwaway cluster runs with PostgreSQL's default settings (fsync on: store benchmarks
//! measure what production pays), listens on a free loopback port and a unix socket in its
//! own directory, and trusts loopback connections as the superuser `meridian`. As root it
//! runs as Debian's `postgres` system user, since `initdb` and `postgres` refuse to run as
//! root.
//!
//! Must never touch what it did not create: not the system's cluster (Debian's `main` on port
//! 5432), not an external server's other databases. Must never leave a server or its files
//! behind: `Drop` shuts the server down and removes its directory, and the parent-death signal
//! of `process` ends it if the test binary is killed outright.

mod tools;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use reqwest::Url;
use tempfile::TempDir;

use crate::{
    error::{Component, Error, Result},
    leftovers,
    ports::free_loopback_ports,
    process::{Process, ProcessSpec},
    wait::eventually,
};

use tools::{Password, ServerTools, SystemUser, psql_tool, run_psql, run_psql_blocking};

/// Names an external server to use instead of starting one: a libpq URI of a role allowed to
/// create databases, e.g. `postgres://postgres:secret@db.internal:5432/postgres`.
pub const URL_ENV: &str = "MERIDIAN_TEST_POSTGRES_URL";

/// The superuser of a throwaway cluster, named in every URI it hands out.
const ROLE: &str = "meridian";
/// initdb plus start-up on a busy two-core machine takes seconds, rarely more.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// A fast shutdown ends sessions at once but writes a checkpoint, which fsync makes slow.
const FAST_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// Dropping discards the data, so an immediate shutdown (no checkpoint) is enough.
const DROP_GRACE: Duration = Duration::from_secs(10);
/// What a caller may ask for: with the unique suffix of an external server, a name stays
/// within PostgreSQL's 63-byte limit on identifiers.
const NAME_LIMIT: usize = 32;

/// A PostgreSQL server for one test. Dropping it stops a server it started and removes its
/// files, or drops the databases it created in an external server.
///
/// Every method takes `&self` (the running process sits behind a lock), so a test can share
/// one server with spawned tasks and stop it while they use it.
#[derive(Debug)]
pub struct Postgres {
    server: Server,
}

#[derive(Debug)]
enum Server {
    Local(Box<LocalServer>),
    External(ExternalServer),
}

/// Field order is drop order: the process is stopped by `Drop for Postgres`, then the
/// directory goes.
#[derive(Debug)]
struct LocalServer {
    /// Where clients are told to connect: 127.0.0.1, or the node network's host address.
    host: std::net::Ipv4Addr,
    port: u16,
    tools: ServerTools,
    spec: ProcessSpec,
    owner: Option<SystemUser>,
    /// `None` while stopped; the lock also serialises stop and restart.
    process: tokio::sync::Mutex<Option<Process>>,
    dir: TempDir,
}

#[derive(Debug)]
struct ExternalServer {
    /// The administrative URI, without its password.
    url: Url,
    password: Option<Password>,
    psql: PathBuf,
    created: std::sync::Mutex<Vec<String>>,
}

impl Postgres {
    /// A throwaway cluster: `initdb` in a temporary directory, then the server on
    /// `127.0.0.1:<free port>` (and a unix socket in that directory); returns once it accepts
    /// connections.
    pub async fn start() -> Result<Postgres> {
        Self::start_listening(false).await
    }

    /// As [`Postgres::start`], reachable from the pods of the harness's real nodes too: it
    /// also listens on the node network's host address ([`crate::node::HOST_ADDRESS`]), trusts
    /// connections from the node network (10.250.0.0/16, veth pairs on this machine only,
    /// routed nowhere else), and its URIs name that address.
    pub async fn start_for_nodes() -> Result<Postgres> {
        Self::start_listening(true).await
    }

    async fn start_listening(for_nodes: bool) -> Result<Postgres> {
        let tools = tokio::task::spawn_blocking(ServerTools::locate)
            .await
            .expect("locating PostgreSQL does not panic")?;
        let owner = SystemUser::server_owner()?;
        let dir = create_directory(owner)?;
        tools.initdb(dir.path(), ROLE, owner).await?;
        let (host, listen) = if for_nodes {
            let hba = data_dir(dir.path()).join("pg_hba.conf");
            let mut rules = std::fs::read_to_string(&hba)
                .map_err(Error::io(format!("read {}", hba.display())))?;
            rules.push_str("host all all 10.250.0.0/16 trust\n");
            std::fs::write(&hba, rules).map_err(Error::io(format!("write {}", hba.display())))?;
            let host = crate::node::HOST_ADDRESS;
            (host, format!("127.0.0.1,{host}"))
        } else {
            (std::net::Ipv4Addr::LOCALHOST, "127.0.0.1".to_owned())
        };
        let port = free_loopback_ports(1)?[0];
        let spec = ProcessSpec {
            cluster: "(shared)".into(),
            component: Component::Postgres,
            program: tools.postgres.clone(),
            args: vec![
                "-D".into(),
                data_dir(dir.path()).display().to_string(),
                "-p".into(),
                port.to_string(),
                // Loopback (and the node network) only: trust authentication must not reach
                // the network.
                "-c".into(),
                format!("listen_addresses={listen}"),
                "-c".into(),
                format!(
                    "unix_socket_directories={}",
                    socket_dir(dir.path()).display()
                ),
            ],
            log: dir.path().join("postgres.log"),
        };
        let local = LocalServer {
            host,
            port,
            tools,
            spec,
            owner,
            process: tokio::sync::Mutex::new(None),
            dir,
        };
        let postgres = Postgres {
            server: Server::Local(Box::new(local)),
        };
        postgres.restart().await?;
        Ok(postgres)
    }

    /// The server named by [`URL_ENV`] when it is set, else [`Postgres::start`].
    pub async fn from_env_or_start() -> Result<Postgres> {
        match std::env::var(URL_ENV) {
            Ok(url) if !url.trim().is_empty() => Postgres::external(url.trim()),
            _ => Postgres::start().await,
        }
    }

    /// An external server reached as `url` (a libpq URI of a role that may create databases).
    /// [`Postgres::create_database`] then gives each database a unique name, since the server
    /// outlives this test.
    pub fn external(url: &str) -> Result<Postgres> {
        let invalid = |reason: String| Error::Postgres {
            action: format!("use the server named by {URL_ENV}"),
            reason,
        };
        let mut url = Url::parse(url).map_err(|e| invalid(format!("not a URI: {e}")))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") || url.host_str().is_none() {
            return Err(invalid(
                "expected postgres://user@host[:port]/database".into(),
            ));
        }
        let password = url.password().map(Password::from_uri_part);
        url.set_password(None)
            .expect("a URI with a host takes a password");
        let psql = psql_tool()?;
        Ok(Postgres {
            server: Server::External(ExternalServer {
                url,
                password,
                psql,
                created: std::sync::Mutex::new(Vec::new()),
            }),
        })
    }

    /// Creates a fresh, empty database and returns its libpq URI, e.g.
    /// `postgres://meridian@127.0.0.1:PORT/NAME`. `name` is letters, digits, `_` and `-`;
    /// in an external server the database gets a unique suffix (the URI names it).
    pub async fn create_database(&self, name: &str) -> Result<String> {
        check_name(name)?;
        let (database, admin, password) = match &self.server {
            Server::Local(local) => (name.to_owned(), local.uri("postgres"), None),
            Server::External(external) => {
                let database = unique_name(name);
                external
                    .created
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(database.clone());
                (
                    database,
                    external.url.to_string(),
                    external.password.as_ref(),
                )
            }
        };
        let sql = format!("CREATE DATABASE \"{database}\"");
        run_psql(self.psql_path(), &admin, password, &sql)
            .await
            .map_err(|reason| Error::Postgres {
                action: format!("create database {database}"),
                reason,
            })?;
        Ok(match &self.server {
            Server::Local(local) => local.uri(&database),
            Server::External(external) => external.database_uri(&database),
        })
    }

    /// Runs `sql` with `psql` against `uri` (one from [`Postgres::create_database`]) and
    /// returns its output, unaligned and without headers: for tests asserting what a store
    /// wrote.
    pub async fn psql(&self, uri: &str, sql: &str) -> Result<String> {
        run_psql(self.psql_path(), uri, None, sql)
            .await
            .map_err(|reason| Error::Postgres {
                action: "run a query with psql".into(),
                reason,
            })
    }

    /// A fast shutdown (sessions are ended, data is kept), as an outage; `Ok` if it is already
    /// stopped. `Err` for an external server, which is not ours to stop.
    pub async fn stop(&self) -> Result<()> {
        let local = self.local("stop")?;
        let mut process = local.process.lock().await;
        if let Some(running) = process.take() {
            running.stop_with(libc::SIGINT, FAST_SHUTDOWN_GRACE).await?;
            tracing::info!(port = local.port, "postgres stopped");
        }
        Ok(())
    }

    /// Starts the server again on the same port and data directory (stopping it first if it
    /// runs) and waits until it accepts connections.
    pub async fn restart(&self) -> Result<()> {
        let local = self.local("restart")?;
        let mut process = local.process.lock().await;
        if let Some(running) = process.take() {
            running.stop_with(libc::SIGINT, FAST_SHUTDOWN_GRACE).await?;
        }
        let started = tokio::time::Instant::now();
        let owner = local.owner;
        let dir = local.dir.path().to_owned();
        let mut running = local.spec.spawn_with(|command| {
            // The server chdirs to its data directory, but whatever it does before must not
            // trip over a working directory its user cannot enter (root's home).
            command.current_dir(&dir);
            if let Some(user) = owner {
                command.uid(user.uid).gid(user.gid);
            }
        })?;
        local.wait_accepting(&mut running).await?;
        *process = Some(running);
        let elapsed_ms = started.elapsed().as_millis() as u64;
        tracing::info!(port = local.port, elapsed_ms, dir = %local.dir.path().display(), "postgres accepts connections");
        Ok(())
    }

    /// The TCP port the server listens on (loopback for a throwaway cluster).
    pub fn port(&self) -> u16 {
        match &self.server {
            Server::Local(local) => local.port,
            Server::External(external) => external.url.port().unwrap_or(5432),
        }
    }

    /// The server's log, for a throwaway cluster.
    pub fn log_path(&self) -> Option<&Path> {
        match &self.server {
            Server::Local(local) => Some(&local.spec.log),
            Server::External(_) => None,
        }
    }

    fn psql_path(&self) -> &Path {
        match &self.server {
            Server::Local(local) => &local.tools.psql,
            Server::External(external) => &external.psql,
        }
    }

    fn local(&self, action: &str) -> Result<&LocalServer> {
        match &self.server {
            Server::Local(local) => Ok(local),
            Server::External(_) => Err(Error::Postgres {
                action: format!("{action} the server"),
                reason: format!("{URL_ENV} names a server this harness did not start"),
            }),
        }
    }
}

impl LocalServer {
    fn uri(&self, database: &str) -> String {
        format!("postgres://{ROLE}@{}:{}/{database}", self.host, self.port)
    }

    /// Polls `pg_isready` while watching the process, so a server that cannot start (port
    /// taken, bad data directory) fails at once with its log tail.
    async fn wait_accepting(&self, process: &mut Process) -> Result<()> {
        let outcome = eventually(
            "postgres to accept connections",
            READY_TIMEOUT,
            async || {
                process.check_running()?;
                Ok(self.tools.accepting(self.port, ROLE).await.then_some(()))
            },
        )
        .await;
        match outcome {
            Err(Error::Timeout { waited, .. }) => Err(self.spec.failure(format!(
                "not accepting connections on 127.0.0.1:{} after {waited:.1?}",
                self.port
            ))),
            other => other,
        }
    }
}

impl ExternalServer {
    fn database_uri(&self, database: &str) -> String {
        let mut url = self.url.clone();
        url.set_path(&format!("/{database}"));
        if let Some(password) = &self.password {
            url.set_password(Some(password.uri_part()))
                .expect("a URI with a host takes a password");
        }
        url.to_string()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        match &mut self.server {
            Server::Local(local) => {
                if let Some(running) = local.process.get_mut().take() {
                    running.stop_blocking(libc::SIGQUIT, DROP_GRACE);
                }
            }
            Server::External(external) => {
                let created = std::mem::take(
                    external
                        .created
                        .get_mut()
                        .unwrap_or_else(|p| p.into_inner()),
                );
                for database in created {
                    // FORCE ends sessions a test left open (PostgreSQL 13 and later).
                    let sql = format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)");
                    let url = external.url.as_str();
                    if let Err(reason) =
                        run_psql_blocking(&external.psql, url, external.password.as_ref(), &sql)
                    {
                        tracing::warn!(%database, %reason, "could not drop a test database");
                    }
                }
            }
        }
    }
}

/// The cluster's directory, claimed as ours. As root, the server's user must be able to reach
/// its data and socket directories inside it.
fn create_directory(owner: Option<SystemUser>) -> Result<TempDir> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    leftovers::remove_abandoned(&std::env::temp_dir());
    let dir = tempfile::Builder::new()
        .prefix(&format!("{}postgres-", leftovers::directory_prefix()))
        .tempdir()
        .map_err(Error::io("create the PostgreSQL temporary directory"))?;
    leftovers::claim(dir.path()).map_err(Error::io("mark the temporary directory as ours"))?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(Error::io("open the PostgreSQL directory to its server"))?;
    for private in [data_dir(dir.path()), socket_dir(dir.path())] {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&private)
            .map_err(Error::io(format!("create {}", private.display())))?;
        if let Some(user) = owner {
            std::os::unix::fs::chown(&private, Some(user.uid), Some(user.gid))
                .map_err(Error::io(format!("hand {} to postgres", private.display())))?;
        }
    }
    Ok(dir)
}

fn data_dir(dir: &Path) -> PathBuf {
    dir.join("data")
}

fn socket_dir(dir: &Path) -> PathBuf {
    dir.join("socket")
}

/// Database names go into SQL (quoted) and URIs (unescaped), so only characters safe in both.
fn check_name(name: &str) -> Result<()> {
    let safe = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if name.is_empty() || name.len() > NAME_LIMIT || !name.chars().all(safe) {
        return Err(Error::Postgres {
            action: format!("create database {name:?}"),
            reason: format!("a name is 1 to {NAME_LIMIT} letters, digits, '_' or '-'"),
        });
    }
    Ok(())
}

/// A name no other test run uses: this process's id, a per-process counter and the time.
fn unique_name(name: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() % 1_000_000);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{name}_{}_{n}_{millis}", std::process::id())
}

/// Shared with spawned tasks (a store under test, an outage injector).
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Postgres>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_unsafe_in_sql_or_a_uri_are_refused() {
        for bad in ["", "a\"b", "a b", "a/b", "é", &"x".repeat(NAME_LIMIT + 1)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in ["eu-west", "store_tests", "A1"] {
            check_name(good).unwrap();
        }
    }

    #[test]
    fn unique_names_stay_within_the_identifier_limit() {
        // pid_max is at most 2^22, the counter a u32, the time below 10^6 ms.
        let longest_suffix = "_4194304_4294967295_999999".len();
        assert!(NAME_LIMIT + longest_suffix <= 63);
        let name = unique_name("eu-west");
        assert!(name.starts_with("eu-west_"), "{name}");
        assert_ne!(unique_name("a"), unique_name("a"));
    }

    #[test]
    fn an_external_database_uri_keeps_the_password_out_of_debug_output() {
        let postgres = Postgres::external("postgres://tester:s%40cret@db.internal:6543/postgres");
        let Ok(postgres) = postgres else {
            // No psql on this machine: nothing to check.
            return;
        };
        assert_eq!(postgres.port(), 6543);
        let Server::External(external) = &postgres.server else {
            unreachable!()
        };
        assert_eq!(
            external.database_uri("eu-west_1"),
            "postgres://tester:s%40cret@db.internal:6543/eu-west_1"
        );
        assert!(!format!("{postgres:?}").contains("cret"));
        // Nothing was created, so dropping it reaches no server.
        drop(postgres);
    }
}
