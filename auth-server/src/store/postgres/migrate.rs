//! Embedded schema migrations, applied at start under a PostgreSQL advisory lock so any number
//! of replicas can start at the same instant.
//!
//! Migrations are expand/contract: a migration only adds (tables, nullable columns, indexes)
//! unless it says otherwise through [`Migration::readable_from`], the oldest schema version
//! whose servers still work once it is applied. An expanding migration keeps `readable_from`
//! where it was, so during a rollout (and after a rollback) the previous release keeps running
//! on the new schema. A contracting one (dropping what an older release still reads) ships a
//! release after the last one that read it, and raises `readable_from`: only then does an
//! older server refuse to start, saying why. Never edit a migration once released.

use tokio_postgres::Client;

/// One schema change, in the order of `version`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
    /// Servers that know at least this schema version still work after this migration.
    pub readable_from: i32,
}

/// Every migration this server knows.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "grant state",
        sql: include_str!("schema/0001_grant_state.sql"),
        readable_from: 1,
    },
    Migration {
        version: 2,
        name: "bounded pending logins and sessions",
        sql: include_str!("schema/0002_bounded_logins_and_sessions.sql"),
        readable_from: 1,
    },
    Migration {
        version: 3,
        name: "the clients of a session",
        sql: include_str!("schema/0003_session_clients.sql"),
        readable_from: 1,
    },
    Migration {
        version: 4,
        name: "the resource of a refresh token",
        sql: include_str!("schema/0004_refresh_resource.sql"),
        readable_from: 1,
    },
    Migration {
        version: 5,
        name: "pushed authorization requests",
        sql: include_str!("schema/0005_pushed_requests.sql"),
        readable_from: 1,
    },
    Migration {
        version: 6,
        name: "DPoP-bound refresh tokens and one-time values",
        sql: include_str!("schema/0006_dpop.sql"),
        readable_from: 1,
    },
];

/// The schema version this server is written for.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// Held for the whole migration transaction; any constant works if every release uses it.
const ADVISORY_LOCK_KEY: i64 = 0x6d65_7269_6469_616e; // "meridian"

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error(
        "the database schema is at version {found} and needs a server that knows schema \
         version {required} or later; this server knows up to version {known}. Upgrade the \
         auth-server, or restore the database from before the newer release migrated it"
    )]
    Incompatible {
        found: i32,
        required: i32,
        known: i32,
    },
    #[error("database error while migrating: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("database unavailable while migrating: {0}")]
    Unavailable(#[from] super::StoreUnavailable),
}

impl MigrationError {
    /// A short machine reason, for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Incompatible { .. } => "SchemaIncompatible",
            Self::Database(_) | Self::Unavailable(_) => "DatabaseUnavailable",
        }
    }
}

/// What a migration run found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// The highest schema version in the database afterwards.
    pub schema_version: i32,
    /// Versions this run applied.
    pub applied: Vec<i32>,
}

/// Brings the database up to `migrations`, or refuses a schema they declare incompatible.
pub async fn migrate(
    client: &mut Client,
    migrations: &[Migration],
) -> Result<Migrated, MigrationError> {
    let known = migrations.last().map_or(0, |m| m.version);
    let tx = client.transaction().await?;
    // Transaction-scoped: released by COMMIT or ROLLBACK, even if this process dies.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ADVISORY_LOCK_KEY])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS meridian_schema_migrations (
             version       integer PRIMARY KEY,
             name          text NOT NULL,
             readable_from integer NOT NULL,
             applied_at    timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let rows = tx
        .query(
            "SELECT version, readable_from FROM meridian_schema_migrations",
            &[],
        )
        .await?;
    let applied: Vec<(i32, i32)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let found = applied.iter().map(|(v, _)| *v).max().unwrap_or(0);
    let required = applied.iter().map(|(_, r)| *r).max().unwrap_or(0);
    if known < required {
        return Err(MigrationError::Incompatible {
            found,
            required,
            known,
        });
    }
    let mut ran = Vec::new();
    for migration in migrations {
        if applied.iter().any(|(v, _)| *v == migration.version) {
            continue;
        }
        tx.batch_execute(migration.sql).await?;
        tx.execute(
            "INSERT INTO meridian_schema_migrations (version, name, readable_from) \
             VALUES ($1, $2, $3)",
            &[
                &migration.version,
                &migration.name,
                &migration.readable_from,
            ],
        )
        .await?;
        ran.push(migration.version);
    }
    tx.commit().await?;
    Ok(Migrated {
        schema_version: found.max(known),
        applied: ran,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_and_never_demand_a_newer_reader_than_themselves() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i32 + 1, "{}", migration.name);
            assert!(migration.readable_from <= migration.version);
        }
        assert_eq!(SCHEMA_VERSION, MIGRATIONS.len() as i32);
    }
}
