//! [`Store`] on PostgreSQL: one statement per operation wherever atomicity allows, each
//! prepared once per connection. The comments on each say which row lock makes it safe
//! across replicas.

use std::sync::LazyLock;

use async_trait::async_trait;
use deadpool_postgres::Object;
use meridian_contract::UnixSeconds;
use tokio_postgres::types::Json;
use tokio_postgres::{Error, Row};

use super::PgStore;
use crate::store::digest::digest;
use crate::store::{Caps, LOGIN_CAPS, ONCE_CAPS, PUSHED_CAPS, SESSION_CAPS};
use crate::store::{
    CodeGrant, CodePeek, CodeRedemption, FamilyAccess, IssuedTokens, PendingLogin, PushedRequest,
    RefreshGrant, RefreshPeek, RefreshRedemption, Session, Store, StoreResult, StoreUnavailable,
    Swept, UseOnce,
};

const SAVE_CODE: &str = "INSERT INTO authorization_codes \
     (digest, tenant, grant_data, expires_at, keep_until) VALUES ($1, $2, $3, $4, $4)";

// Of two replicas redeeming at once, the second waits on the first's row lock, re-checks
// `redeemed_at IS NULL` and finds it false: exactly one gets the row back.
const REDEEM_CODE: &str = "UPDATE authorization_codes SET redeemed_at = $2 \
     WHERE digest = $1 AND redeemed_at IS NULL AND expires_at > $2 RETURNING grant_data";

const PEEK_CODE: &str = "SELECT grant_data, redeemed_at IS NOT NULL, issued \
     FROM authorization_codes WHERE digest = $1 AND (redeemed_at IS NOT NULL OR expires_at > $2)";

const RECORD_CODE_TOKENS: &str = "UPDATE authorization_codes \
     SET issued = $2, keep_until = GREATEST(keep_until, $3) WHERE digest = $1";

// The family row's lock (taken by ON CONFLICT DO UPDATE) orders this against REVOKE_FAMILY:
// either the revocation sees this access token, or this statement sees the revocation and
// revokes the token itself.
const SAVE_REFRESH: &str = "WITH family AS ( \
         INSERT INTO refresh_families (id, tenant, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (id) DO UPDATE SET expires_at = GREATEST(refresh_families.expires_at, EXCLUDED.expires_at) \
         RETURNING revoked \
     ), access AS ( \
         INSERT INTO family_access_tokens (family, jti, expires_at) VALUES ($1, $4, $5) \
         ON CONFLICT DO NOTHING \
     ), revoked AS ( \
         INSERT INTO revoked_access_tokens (jti, expires_at) \
         SELECT $4, $5 FROM family WHERE family.revoked ON CONFLICT (jti) DO NOTHING \
     ) \
     INSERT INTO refresh_tokens \
         (digest, family, tenant, client_id, username, scope, auth_time, expires_at, resource, jkt) \
     VALUES ($6, $1, $2, $7, $8, $9, $10, $3, $11, $12)";

const LIVE_FAMILY: &str =
    "NOT EXISTS (SELECT 1 FROM refresh_families f WHERE f.id = t.family AND f.revoked)";

const REFRESH_COLUMNS: &str = "t.tenant, t.client_id, t.username, t.scope, t.auth_time, t.family, t.expires_at, t.resource, t.jkt";
/// How many columns [`REFRESH_COLUMNS`] selects: what a query selects after them starts here.
const REFRESH_COLUMN_COUNT: usize = 9;

const BOUND_REFRESH: &str =
    "t.digest = $1 AND t.tenant = $3 AND t.client_id = $4 AND t.expires_at > $2";

// The row lock makes the rotation exactly-once, as for codes.
static ROTATE_REFRESH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE refresh_tokens t SET rotated_at = $2 WHERE {BOUND_REFRESH} \
         AND t.rotated_at IS NULL AND {LIVE_FAMILY} RETURNING {REFRESH_COLUMNS}"
    )
});

static PEEK_REFRESH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {REFRESH_COLUMNS}, t.rotated_at IS NOT NULL FROM refresh_tokens t \
         WHERE {BOUND_REFRESH} AND {LIVE_FAMILY}"
    )
});

static FIND_REFRESH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {REFRESH_COLUMNS} FROM refresh_tokens t WHERE t.digest = $1 \
         AND t.rotated_at IS NULL AND t.expires_at > $2 AND {LIVE_FAMILY}"
    )
});

const MARK_FAMILY_REVOKED: &str = "UPDATE refresh_families SET revoked = true WHERE id = $1";
const REVOKE_FAMILY_ACCESS: &str = "INSERT INTO revoked_access_tokens (jti, expires_at) \
     SELECT jti, expires_at FROM family_access_tokens WHERE family = $1 \
     ON CONFLICT (jti) DO NOTHING";

const REVOKE_ACCESS: &str = "INSERT INTO revoked_access_tokens (jti, expires_at) \
     VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING";
const IS_ACCESS_REVOKED: &str = "SELECT 1 FROM revoked_access_tokens WHERE jti = $1";

const SAVE_SESSION: &str = "INSERT INTO sessions (digest, tenant, username, auth_time, expires_at) \
     VALUES ($1, $2, $3, $4, $5)";
const SESSION: &str = "SELECT tenant, username, auth_time, expires_at, clients FROM sessions \
     WHERE digest = $1 AND expires_at > $2";
const ADD_SESSION_CLIENT: &str = "UPDATE sessions SET clients = array_append(clients, $2) \
     WHERE digest = $1 AND NOT ($2 = ANY (clients))";
/// One row lock: of two logouts of one session, only one deletes (and so returns) it.
const END_SESSION: &str = "DELETE FROM sessions WHERE digest = $1 AND expires_at > $2 \
     RETURNING tenant, username, auth_time, expires_at, clients";

const SAVE_LOGIN: &str =
    "INSERT INTO pending_logins (digest, tenant, login, expires_at) VALUES ($1, $2, $3, $4)";
const LOGIN: &str = "SELECT login FROM pending_logins WHERE digest = $1 AND expires_at > $2";
const REMOVE_LOGIN: &str = "DELETE FROM pending_logins WHERE digest = $1";
const SAVE_PUSHED: &str =
    "INSERT INTO pushed_requests (digest, tenant, request, expires_at) VALUES ($1, $2, $3, $4)";
/// One row lock: of two authorize requests with one `request_uri`, only one deletes it.
const TAKE_PUSHED: &str =
    "DELETE FROM pushed_requests WHERE digest = $1 AND expires_at > $2 RETURNING request";

/// The row lock of the digest's key decides: of two replicas recording one value, one inserts
/// (or takes over a forgotten row) and the other changes nothing.
// Inserted only while the tenant holds fewer than $5 live values (counting stops at $5, so
// the check costs at most that many index entries); a live row is never replaced or evicted,
// and expired ones go with the sweep. Two replicas at the cap's edge may both insert: the cap
// bounds the table, it is not a quota.
const USE_ONCE: &str = "INSERT INTO used_once (digest, tenant, expires_at) \
     SELECT $1, $2, $3 WHERE (SELECT count(*) FROM (SELECT 1 FROM used_once \
         WHERE tenant = $2 AND expires_at > $4 LIMIT $5) AS live) < $5 \
     ON CONFLICT (digest) DO UPDATE SET tenant = EXCLUDED.tenant, expires_at = EXCLUDED.expires_at \
     WHERE used_once.expires_at <= $4";
const SEEN_ONCE: &str = "SELECT 1 FROM used_once WHERE digest = $1 AND expires_at > $2";

/// After an insert: beyond the tenant's cap ($2) or the global one ($3), the oldest rows go
/// (`LOGIN_CAPS`, `SESSION_CAPS`). Unlike the memory store, the global cap evicts the oldest
/// of all tenants: finding the largest tenant would scan the table on every insert. The order
/// is total (the digest breaks ties of `expires_at`, which has one-second steps): with ties
/// left open, concurrent inserts each evicted a different row of equal age and together took
/// the table below its cap (1,998 of 2,000 under 8 concurrent clients).
fn evict_oldest(table: &str) -> String {
    format!(
        "DELETE FROM {table} WHERE digest IN (SELECT digest FROM {table} WHERE tenant = $1 \
         ORDER BY expires_at DESC, digest DESC OFFSET $2) OR digest IN (SELECT digest FROM \
         {table} ORDER BY expires_at DESC, digest DESC OFFSET $3)"
    )
}
static EVICT_LOGINS: LazyLock<String> = LazyLock::new(|| evict_oldest("pending_logins"));
static EVICT_SESSIONS: LazyLock<String> = LazyLock::new(|| evict_oldest("sessions"));
static EVICT_PUSHED: LazyLock<String> = LazyLock::new(|| evict_oldest("pushed_requests"));

async fn evict(c: &Object, statement: &str, tenant: &str, caps: Caps) -> Result<(), Error> {
    let statement = c.prepare_cached(statement).await?;
    let (per_tenant, global) = (caps.per_tenant as i64, caps.global as i64);
    c.execute(&statement, &[&tenant, &per_tenant, &global])
        .await
        .map(drop)
}

// One upsert: concurrent failures at several replicas each add one, none is lost. The casts
// fix the parameters' types, which `$2 + $3` alone leaves to guesswork.
const COUNT_FAILURE: &str = "INSERT INTO login_failures (key, failures, window_ends) \
     VALUES ($1, 1, $2::bigint + $3::bigint) \
     ON CONFLICT (key) DO UPDATE SET \
         failures = CASE WHEN login_failures.window_ends <= $2 THEN 1 \
                         ELSE login_failures.failures + 1 END, \
         window_ends = CASE WHEN login_failures.window_ends <= $2 THEN $2 + $3 \
                            ELSE login_failures.window_ends END \
     RETURNING failures";
const FAILURES: &str = "SELECT failures FROM login_failures WHERE key = $1 AND window_ends > $2";
const CLEAR_FAILURES: &str = "DELETE FROM login_failures WHERE key = $1";
const FORGIVE_FAILURE: &str =
    "UPDATE login_failures SET failures = failures - 1 WHERE key = $1 AND failures > 0";

fn refresh_grant(row: &Row) -> RefreshGrant {
    RefreshGrant {
        tenant: row.get(0),
        client_id: row.get(1),
        username: row.get(2),
        scope: row.get(3),
        auth_time: row.get(4),
        family: row.get(5),
        expires_at: row.get(6),
        resource: row.get(7),
        jkt: row.get(8),
    }
}

/// A row of PEEK_CODE.
fn code_peek(row: Option<&Row>) -> CodePeek {
    let Some(row) = row else {
        return CodePeek::Unknown;
    };
    let Json(grant): Json<CodeGrant> = row.get(0);
    if row.get::<_, bool>(1) {
        let issued: Option<Json<IssuedTokens>> = row.get(2);
        CodePeek::Redeemed {
            grant,
            issued: issued.map(|Json(issued)| issued),
        }
    } else {
        CodePeek::Live(grant)
    }
}

/// A row of PEEK_REFRESH: the grant's columns, then whether it was rotated.
fn refresh_peek(row: Option<&Row>) -> RefreshPeek {
    match row {
        Some(row) if row.get::<_, bool>(REFRESH_COLUMN_COUNT) => {
            RefreshPeek::Rotated(refresh_grant(row))
        }
        Some(row) => RefreshPeek::Live(refresh_grant(row)),
        None => RefreshPeek::Unknown,
    }
}

#[async_trait]
impl Store for PgStore {
    async fn save_code(&self, code: &str, grant: &CodeGrant) -> StoreResult<()> {
        let key = digest(code);
        self.with_client(|c| async move {
            let statement = c.prepare_cached(SAVE_CODE).await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                [&&key[..], &grant.tenant, &Json(grant), &grant.expires_at];
            c.execute(&statement, &params).await.map(drop)
        })
        .await
    }

    async fn peek_code(&self, code: &str, now: UnixSeconds) -> StoreResult<CodePeek> {
        let key = digest(code);
        self.with_client(|c| async move {
            let statement = c.prepare_cached(PEEK_CODE).await?;
            let row = c.query_opt(&statement, &[&&key[..], &now]).await?;
            Ok(code_peek(row.as_ref()))
        })
        .await
    }

    async fn redeem_code(&self, code: &str, now: UnixSeconds) -> StoreResult<CodeRedemption> {
        let key = digest(code);
        self.with_client(|c| async move {
            let redeem = c.prepare_cached(REDEEM_CODE).await?;
            if let Some(row) = c.query_opt(&redeem, &[&&key[..], &now]).await? {
                let Json(grant): Json<CodeGrant> = row.get(0);
                return Ok(CodeRedemption::Fresh(Box::new(grant)));
            }
            // Not redeemed by this statement: redeemed before (a replay), or expired.
            let peek = c.prepare_cached(PEEK_CODE).await?;
            let row = c.query_opt(&peek, &[&&key[..], &now]).await?;
            Ok(match code_peek(row.as_ref()) {
                CodePeek::Redeemed { issued, .. } => CodeRedemption::Replayed(issued),
                CodePeek::Live(_) | CodePeek::Unknown => CodeRedemption::Unknown,
            })
        })
        .await
    }

    async fn record_code_tokens(&self, code: &str, issued: &IssuedTokens) -> StoreResult<()> {
        let key = digest(code);
        self.with_client(|c| async move {
            let statement = c.prepare_cached(RECORD_CODE_TOKENS).await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
                [&&key[..], &Json(issued), &issued.remembered_until()];
            c.execute(&statement, &params).await.map(drop)
        })
        .await
    }

    async fn save_refresh(
        &self,
        token: &str,
        grant: &RefreshGrant,
        access: FamilyAccess<'_>,
    ) -> StoreResult<()> {
        let key = digest(token);
        self.with_client(|c| async move {
            let statement = c.prepare_cached(SAVE_REFRESH).await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 12] = [
                &grant.family,
                &grant.tenant,
                &grant.expires_at,
                &access.jti,
                &access.expires_at,
                &&key[..],
                &grant.client_id,
                &grant.username,
                &grant.scope,
                &grant.auth_time,
                &grant.resource,
                &grant.jkt,
            ];
            c.execute(&statement, &params).await.map(drop)
        })
        .await
    }

    async fn redeem_refresh(
        &self,
        token: &str,
        (tenant, client_id): (&str, &str),
        now: UnixSeconds,
    ) -> StoreResult<RefreshRedemption> {
        let key = digest(token);
        self.with_client(|c| async move {
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                [&&key[..], &now, &tenant, &client_id];
            let statement = c.prepare_cached(&ROTATE_REFRESH).await?;
            if let Some(row) = c.query_opt(&statement, &params).await? {
                return Ok(RefreshRedemption::Fresh(refresh_grant(&row)));
            }
            // Not rotated by this statement: rotated before (reuse), or not this client's.
            let statement = c.prepare_cached(&PEEK_REFRESH).await?;
            let row = c.query_opt(&statement, &params).await?;
            Ok(match refresh_peek(row.as_ref()) {
                RefreshPeek::Rotated(grant) => RefreshRedemption::Replayed(grant),
                RefreshPeek::Live(_) | RefreshPeek::Unknown => RefreshRedemption::Unknown,
            })
        })
        .await
    }

    async fn peek_refresh(
        &self,
        token: &str,
        (tenant, client_id): (&str, &str),
        now: UnixSeconds,
    ) -> StoreResult<RefreshPeek> {
        let key = digest(token);
        self.with_client(|c| async move {
            let statement = c.prepare_cached(&PEEK_REFRESH).await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                [&&key[..], &now, &tenant, &client_id];
            let row = c.query_opt(&statement, &params).await?;
            Ok(refresh_peek(row.as_ref()))
        })
        .await
    }

    async fn find_refresh(
        &self,
        token: &str,
        now: UnixSeconds,
    ) -> StoreResult<Option<RefreshGrant>> {
        let key = digest(token);
        self.with_client(|c| async move {
            let statement = c.prepare_cached(&FIND_REFRESH).await?;
            let row = c.query_opt(&statement, &[&&key[..], &now]).await?;
            Ok(row.as_ref().map(refresh_grant))
        })
        .await
    }

    async fn revoke_family(&self, family: &str) -> StoreResult<()> {
        self.with_client(|mut c| async move {
            let tx = c.transaction().await?;
            // The UPDATE's row lock waits for any SAVE_REFRESH in flight; the next statement
            // then sees its access token.
            let mark = tx.prepare_cached(MARK_FAMILY_REVOKED).await?;
            tx.execute(&mark, &[&family]).await?;
            let access = tx.prepare_cached(REVOKE_FAMILY_ACCESS).await?;
            tx.execute(&access, &[&family]).await?;
            tx.commit().await
        })
        .await
    }

    async fn revoke_access(&self, jti: &str, expires_at: UnixSeconds) -> StoreResult<()> {
        self.with_client(|c| async move {
            let statement = c.prepare_cached(REVOKE_ACCESS).await?;
            c.execute(&statement, &[&jti, &expires_at]).await.map(drop)
        })
        .await
    }

    async fn is_access_revoked(&self, jti: &str) -> StoreResult<bool> {
        self.with_client(|c| async move {
            let statement = c.prepare_cached(IS_ACCESS_REVOKED).await?;
            Ok(c.query_opt(&statement, &[&jti]).await?.is_some())
        })
        .await
    }

    async fn save_session(&self, id: &str, session: &Session) -> StoreResult<()> {
        let key = digest(id);
        self.with_client(|c| async move {
            let statement = c.prepare_cached(SAVE_SESSION).await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [
                &&key[..],
                &session.tenant,
                &session.username,
                &session.auth_time,
                &session.expires_at,
            ];
            c.execute(&statement, &params).await?;
            evict(&c, &EVICT_SESSIONS, &session.tenant, SESSION_CAPS).await
        })
        .await
    }

    async fn session(&self, id: &str, now: UnixSeconds) -> StoreResult<Option<Session>> {
        let key = digest(id);
        self.with_client(|c| async move {
            let statement = c.prepare_cached(SESSION).await?;
            let row = c.query_opt(&statement, &[&&key[..], &now]).await?;
            Ok(row.as_ref().map(session_of))
        })
        .await
    }

    async fn add_session_client(&self, id: &str, client_id: &str) -> StoreResult<()> {
        let key = digest(id);
        self.with_client(|c| async move {
            let statement = c.prepare_cached(ADD_SESSION_CLIENT).await?;
            c.execute(&statement, &[&&key[..], &client_id]).await?;
            Ok(())
        })
        .await
    }

    async fn end_session(&self, id: &str, now: UnixSeconds) -> StoreResult<Option<Session>> {
        let key = digest(id);
        self.with_client(|c| async move {
            let statement = c.prepare_cached(END_SESSION).await?;
            let row = c.query_opt(&statement, &[&&key[..], &now]).await?;
            Ok(row.as_ref().map(session_of))
        })
        .await
    }

    async fn save_login(&self, id: &str, login: &PendingLogin) -> StoreResult<()> {
        let key = digest(id);
        self.with_client(|c| async move {
            let statement = c.prepare_cached(SAVE_LOGIN).await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                [&&key[..], &login.tenant, &Json(login), &login.expires_at];
            c.execute(&statement, &params).await?;
            evict(&c, &EVICT_LOGINS, &login.tenant, LOGIN_CAPS).await
        })
        .await
    }

    async fn login(&self, id: &str, now: UnixSeconds) -> StoreResult<Option<PendingLogin>> {
        let key = digest(id);
        self.with_client(|c| async move {
            let statement = c.prepare_cached(LOGIN).await?;
            let row = c.query_opt(&statement, &[&&key[..], &now]).await?;
            Ok(row.map(|row| row.get::<_, Json<PendingLogin>>(0).0))
        })
        .await
    }

    async fn remove_login(&self, id: &str) -> StoreResult<()> {
        let key = digest(id);
        self.with_client(|c| async move {
            let statement = c.prepare_cached(REMOVE_LOGIN).await?;
            c.execute(&statement, &[&&key[..]]).await.map(drop)
        })
        .await
    }

    async fn save_pushed(&self, handle: &str, pushed: &PushedRequest) -> StoreResult<()> {
        let key = digest(handle);
        self.with_client(|c| async move {
            let statement = c.prepare_cached(SAVE_PUSHED).await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                [&&key[..], &pushed.tenant, &Json(pushed), &pushed.expires_at];
            c.execute(&statement, &params).await?;
            evict(&c, &EVICT_PUSHED, &pushed.tenant, PUSHED_CAPS).await
        })
        .await
    }

    async fn take_pushed(
        &self,
        handle: &str,
        now: UnixSeconds,
    ) -> StoreResult<Option<PushedRequest>> {
        let key = digest(handle);
        self.with_client(|c| async move {
            let statement = c.prepare_cached(TAKE_PUSHED).await?;
            let row = c.query_opt(&statement, &[&&key[..], &now]).await?;
            Ok(row.map(|row| row.get::<_, Json<PushedRequest>>(0).0))
        })
        .await
    }

    async fn use_once(
        &self,
        value: &str,
        tenant: &str,
        expires_at: UnixSeconds,
        now: UnixSeconds,
    ) -> StoreResult<UseOnce> {
        let key = digest(value);
        let cap = ONCE_CAPS.per_tenant as i64;
        self.with_client(|c| async move {
            let statement = c.prepare_cached(USE_ONCE).await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
                [&&key[..], &tenant, &expires_at, &now, &cap];
            if c.execute(&statement, &params).await? == 1 {
                return Ok(UseOnce::First);
            }
            let seen = c.prepare_cached(SEEN_ONCE).await?;
            match c.query_opt(&seen, &[&&key[..], &now]).await? {
                Some(_) => Ok(UseOnce::Seen),
                None => Ok(UseOnce::Full),
            }
        })
        .await
    }

    async fn count_failure(&self, key: &str, window: i64, now: UnixSeconds) -> StoreResult<u32> {
        self.with_client(|c| async move {
            let statement = c.prepare_cached(COUNT_FAILURE).await?;
            let row = c.query_one(&statement, &[&key, &now, &window]).await?;
            Ok(row.get::<_, i32>(0).max(0) as u32)
        })
        .await
    }

    async fn failures(&self, key: &str, now: UnixSeconds) -> StoreResult<u32> {
        self.with_client(|c| async move {
            let statement = c.prepare_cached(FAILURES).await?;
            let row = c.query_opt(&statement, &[&key, &now]).await?;
            Ok(row.map_or(0, |row| row.get::<_, i32>(0).max(0) as u32))
        })
        .await
    }

    async fn clear_failures(&self, key: &str) -> StoreResult<()> {
        self.with_client(|c| async move {
            let statement = c.prepare_cached(CLEAR_FAILURES).await?;
            c.execute(&statement, &[&key]).await.map(drop)
        })
        .await
    }

    async fn forgive_failure(&self, key: &str) -> StoreResult<()> {
        self.with_client(|c| async move {
            let statement = c.prepare_cached(FORGIVE_FAILURE).await?;
            c.execute(&statement, &[&key]).await.map(drop)
        })
        .await
    }

    async fn sweep(&self, now: UnixSeconds) -> StoreResult<Swept> {
        super::sweep::expired(self, now).await
    }

    async fn ping(&self) -> StoreResult<()> {
        if !self.is_migrated() {
            return Err(StoreUnavailable::new("schema not migrated yet"));
        }
        self.with_client(|c| async move { c.simple_query("SELECT 1").await.map(drop) })
            .await
    }
}

/// A row of `sessions` as selected by [`SESSION`] and [`END_SESSION`].
fn session_of(row: &tokio_postgres::Row) -> Session {
    Session {
        tenant: row.get(0),
        username: row.get(1),
        auth_time: row.get(2),
        expires_at: row.get(3),
        clients: row.get(4),
    }
}
