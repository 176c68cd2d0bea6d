//! The shared [`Store`]: PostgreSQL, one database per region, every replica of the region on it.
//!
//! Single-use codes and rotate-once refresh tokens are one conditional `UPDATE … RETURNING`
//! each: PostgreSQL's row lock decides which of two replicas wins, so no replica ever needs to
//! know of another. Every operation has a deadline, so a database that hangs costs a request
//! at most [`OPERATION_TIMEOUT`]; the pool reconnects by itself when the database comes back.
//! The connection URI is never logged, and errors carry only what the driver says went wrong.

mod migrate;
mod queries;
mod sweep;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

pub use migrate::{MIGRATIONS, Migrated, Migration, MigrationError, SCHEMA_VERSION, migrate};

use super::StoreUnavailable;

/// The longest any one store operation may take, waiting for a connection included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);
/// How long connecting may take before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Connections per replica: enough to keep one core busy, far below PostgreSQL's default
/// `max_connections` (100) even with a dozen replicas.
const POOL_SIZE: usize = 8;

/// The PostgreSQL store; cheap to share behind an `Arc`.
pub struct PgStore {
    pool: Pool,
    /// Set once the schema is known to be compatible and up to date.
    migrated: AtomicBool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Deliberately without the configuration: it holds the password.
        f.debug_struct("PgStore")
            .field("migrated", &self.migrated.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The URI is not a libpq URI PostgreSQL's client understands. Says which part is wrong,
/// never echoes it.
#[derive(Debug, thiserror::Error)]
#[error("the store URI is not a valid PostgreSQL connection URI ({reason})")]
pub struct InvalidUri {
    reason: String,
}

impl PgStore {
    /// A store on `uri`; connects lazily, so it can be built while the database is down.
    pub fn new(uri: &str) -> Result<Self, InvalidUri> {
        let mut config: tokio_postgres::Config =
            uri.parse().map_err(|e: tokio_postgres::Error| InvalidUri {
                reason: e.to_string(),
            })?;
        config.connect_timeout(CONNECT_TIMEOUT);
        if config.get_application_name().is_none() {
            config.application_name("meridian-auth-server");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection the server closed is noticed on checkout and replaced.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(OPERATION_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| InvalidUri {
                reason: e.to_string(),
            })?;
        Ok(Self {
            pool,
            migrated: AtomicBool::new(false),
        })
    }

    /// Applies `migrations` (normally [`MIGRATIONS`]) under the advisory lock.
    pub async fn migrate(&self, migrations: &[Migration]) -> Result<Migrated, MigrationError> {
        let mut client = self.pool.get().await.map_err(pool_unavailable)?;
        let migrated = migrate(&mut client, migrations).await?;
        self.migrated.store(true, Ordering::Release);
        Ok(migrated)
    }

    pub fn is_migrated(&self) -> bool {
        self.migrated.load(Ordering::Acquire)
    }

    /// Runs one operation on a pooled connection, within [`OPERATION_TIMEOUT`].
    async fn with_client<T, F, Fut>(&self, operation: F) -> Result<T, StoreUnavailable>
    where
        F: FnOnce(Object) -> Fut,
        Fut: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let attempt = async {
            let client = self.pool.get().await.map_err(pool_unavailable)?;
            operation(client).await.map_err(query_unavailable)
        };
        tokio::time::timeout(OPERATION_TIMEOUT, attempt)
            .await
            .unwrap_or_else(|_| Err(StoreUnavailable::new("operation timed out")))
    }
}

fn pool_unavailable(error: deadpool_postgres::PoolError) -> StoreUnavailable {
    match error {
        deadpool_postgres::PoolError::Backend(e) => query_unavailable(e),
        deadpool_postgres::PoolError::Timeout(_) => {
            StoreUnavailable::new("no database connection within the deadline")
        }
        other => StoreUnavailable::new(other.to_string()),
    }
}

fn query_unavailable(error: tokio_postgres::Error) -> StoreUnavailable {
    // A database error's SQLSTATE says what failed without repeating row values (a unique
    // violation's detail would quote the key).
    match error.as_db_error() {
        Some(db) => StoreUnavailable::new(format!("database error {}", db.code().code())),
        None => StoreUnavailable::new(error.to_string()),
    }
}
