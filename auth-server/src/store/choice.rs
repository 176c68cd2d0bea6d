//! Which store a server runs with, as `--store` / `MERIDIAN_STORE` say it, and how that store
//! is opened. The PostgreSQL URI carries a password: it is never printed, not even by `Debug`.

use std::str::FromStr;
use std::sync::Arc;

use super::{MemoryStore, PgStore, Store};

#[derive(Clone, PartialEq, Eq, Default)]
pub enum StoreChoice {
    /// One process remembers everything; one replica per region.
    #[default]
    Memory,
    /// A libpq URI (`postgres://…` or `postgresql://…`), shared by every replica.
    Postgres(String),
}

impl std::fmt::Debug for StoreChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreChoiceError {
    #[error("--store must be `memory` or a postgres:// URI")]
    Unknown,
    #[error(transparent)]
    InvalidUri(#[from] super::InvalidUri),
}

impl FromStr for StoreChoice {
    type Err = StoreChoiceError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        if value == "memory" {
            Ok(Self::Memory)
        } else if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            // Parsed now so a malformed URI fails at start, not at the first login.
            PgStore::new(value)?;
            Ok(Self::Postgres(value.to_owned()))
        } else {
            Err(StoreChoiceError::Unknown)
        }
    }
}

/// The store a server was opened with; the PostgreSQL one is kept typed for migrations.
pub enum OpenedStore {
    Memory(Arc<MemoryStore>),
    Postgres(Arc<PgStore>),
}

impl StoreChoice {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Opens the store without touching the database: it may be down at start.
    pub fn open(&self) -> Result<OpenedStore, super::InvalidUri> {
        Ok(match self {
            Self::Memory => OpenedStore::Memory(Arc::default()),
            Self::Postgres(uri) => OpenedStore::Postgres(Arc::new(PgStore::new(uri)?)),
        })
    }
}

impl OpenedStore {
    pub fn shared(&self) -> Arc<dyn Store> {
        match self {
            Self::Memory(store) => store.clone(),
            Self::Postgres(store) => store.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_uri_is_accepted_and_never_shown() {
        let choice: StoreChoice = "postgres://app:s3cret@db:5432/app".parse().unwrap();
        assert_eq!(format!("{choice:?}"), "postgres");
        assert_eq!(
            "memory".parse::<StoreChoice>().unwrap(),
            StoreChoice::Memory
        );
    }

    #[test]
    fn anything_else_is_refused_without_echoing_it() {
        let error = "mysql://root:s3cret@db/app"
            .parse::<StoreChoice>()
            .unwrap_err();
        assert!(!error.to_string().contains("s3cret"));
        let error = "postgres://app:s3cret@db:notaport/app"
            .parse::<StoreChoice>()
            .unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }
}
