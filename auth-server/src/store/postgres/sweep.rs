//! Deleting expired rows in bounded batches, so the tables plateau under steady load and no
//! sweep holds locks long enough to stall a token request.
//!
//! Every replica sweeps; `SKIP LOCKED` lets two sweeps (or a sweep and a request) pass each
//! other instead of queueing. A sweep never deletes a row whose expiry is still ahead.

use meridian_contract::UnixSeconds;

use super::PgStore;
use crate::store::{StoreResult, Swept};

/// Rows per DELETE: small enough to keep each statement in the milliseconds.
const BATCH: i64 = 1_000;
/// Batches per table per sweep; what is left waits for the next sweep.
const MAX_BATCHES: usize = 100;

/// Each table with the column after which its rows are useless.
const EXPIRING: &[(&str, &str)] = &[
    ("authorization_codes", "keep_until"),
    ("refresh_tokens", "expires_at"),
    ("refresh_families", "expires_at"),
    ("family_access_tokens", "expires_at"),
    ("revoked_access_tokens", "expires_at"),
    ("sessions", "expires_at"),
    ("pending_logins", "expires_at"),
    ("pushed_requests", "expires_at"),
    ("used_once", "expires_at"),
    ("login_failures", "window_ends"),
];

fn delete_batch(table: &str, column: &str) -> String {
    format!(
        "DELETE FROM {table} WHERE ctid = ANY(ARRAY( \
             SELECT ctid FROM {table} WHERE {column} <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))"
    )
}

pub(super) async fn expired(store: &PgStore, now: UnixSeconds) -> StoreResult<Swept> {
    let mut swept = Swept::default();
    for (table, column) in EXPIRING {
        let owned = delete_batch(table, column);
        let sql = owned.as_str();
        for _ in 0..MAX_BATCHES {
            let deleted = store
                .with_client(|c| async move {
                    let statement = c.prepare_cached(sql).await?;
                    c.execute(&statement, &[&now, &BATCH]).await
                })
                .await?;
            swept.rows += deleted;
            if deleted < BATCH as u64 {
                break;
            }
        }
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_of_the_schema_is_swept() {
        let schema = super::super::MIGRATIONS
            .iter()
            .map(|m| m.sql)
            .collect::<String>();
        let created = schema
            .lines()
            .filter_map(|line| line.strip_prefix("CREATE TABLE "))
            .map(|rest| rest.split_whitespace().next().unwrap_or_default())
            .collect::<std::collections::BTreeSet<_>>();
        let swept = EXPIRING.iter().map(|(t, _)| *t).collect();
        assert_eq!(
            created, swept,
            "a table without a sweep grows without bound"
        );
    }
}
