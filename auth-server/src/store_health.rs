//! Keeps watch on the grant store while the server runs: finishes the schema migration once a
//! database that was down at start comes up, reports up and down in the `store_up` metric, and
//! logs each transition once (never once per failing request). Expired rows are swept here too.
//!
//! It never stops the server: a store that is down only degrades the grants that need state.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::{MIGRATIONS, MigrationError, OpenedStore, PgStore, Store};

const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Migrates at start. `Err` only for a schema this server declares incompatible: starting on
/// it would corrupt what a newer release wrote. An unreachable database is not an error here.
pub async fn migrate_at_start(opened: &OpenedStore) -> Result<(), MigrationError> {
    let OpenedStore::Postgres(store) = opened else {
        return Ok(());
    };
    match store.migrate(MIGRATIONS).await {
        Ok(done) => {
            tracing::info!(schema_version = done.schema_version, applied = ?done.applied, "grant store ready (postgres)");
            Ok(())
        }
        Err(incompatible @ MigrationError::Incompatible { .. }) => Err(incompatible),
        Err(error) => {
            tracing::warn!(%error, reason = error.reason(), "grant store unreachable at start; serving client_credentials, discovery and JWKS, and retrying");
            Ok(())
        }
    }
}

/// Runs until aborted.
pub async fn watch(
    opened: OpenedStore,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    sweep_every: Duration,
) {
    let store = opened.shared();
    let pg = match &opened {
        OpenedStore::Postgres(pg) => Some(pg.clone()),
        OpenedStore::Memory(_) => None,
    };
    let mut up = None;
    let mut refused = false;
    let mut last_sweep = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(CHECK_EVERY);
    loop {
        ticker.tick().await;
        if let Some(pg) = pg.as_deref().filter(|pg| !pg.is_migrated()) {
            migrate_late(pg, &mut refused).await;
        }
        let answering = store.ping().await;
        let now_up = answering.is_ok();
        metrics.store_up(now_up);
        match (&answering, up) {
            (Ok(()), Some(false)) => tracing::info!("grant store answering again"),
            (Err(error), Some(true) | None) => {
                tracing::warn!(%error, "grant store unavailable: grants that need state answer 503 until it is back");
            }
            _ => {}
        }
        up = Some(now_up);
        if now_up && last_sweep.elapsed() >= sweep_every {
            last_sweep = tokio::time::Instant::now();
            sweep(store.as_ref(), clock.now()).await;
        }
    }
}

/// Retried every check while the database is unreachable; a refusal is logged once, not once
/// per retry.
async fn migrate_late(store: &PgStore, refused: &mut bool) {
    match store.migrate(MIGRATIONS).await {
        Ok(done) => {
            tracing::info!(schema_version = done.schema_version, applied = ?done.applied, "grant store migrated");
        }
        Err(error @ MigrationError::Incompatible { .. }) if !*refused => {
            *refused = true;
            tracing::error!(%error, "grant store refused");
        }
        Err(_) => {}
    }
}

async fn sweep(store: &dyn Store, now: meridian_contract::UnixSeconds) {
    match store.sweep(now).await {
        Ok(swept) if swept.rows > 0 => tracing::debug!(rows = swept.rows, "expired grants swept"),
        Ok(_) => {}
        Err(error) => tracing::debug!(%error, "sweep postponed"),
    }
}
