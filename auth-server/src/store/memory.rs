//! The single-replica [`Store`]: plain maps behind one mutex, keyed by SHA-256 digests of
//! codes, refresh tokens, session and login ids so the process never holds a usable credential
//! at rest. It must never be shared across replicas; a region running it runs one.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use meridian_contract::UnixSeconds;

use super::bounded::Bounded;
use super::digest::{Digest, digest};
use super::{
    CodeGrant, CodePeek, CodeRedemption, FamilyAccess, IssuedTokens, PendingLogin, PushedRequest,
    RefreshGrant, RefreshPeek, RefreshRedemption, Session, Store, StoreResult, Swept, UseOnce,
};

struct StoredCode {
    grant: CodeGrant,
    redeemed: bool,
    issued: Option<IssuedTokens>,
}

struct StoredRefresh {
    grant: RefreshGrant,
    rotated: bool,
}

#[derive(Default)]
struct Family {
    revoked: bool,
    access: Vec<(String, UnixSeconds)>,
}

#[derive(Default)]
struct Memory {
    codes: HashMap<Digest, StoredCode>,
    refresh: HashMap<Digest, StoredRefresh>,
    families: HashMap<String, Family>,
    revoked_access: HashMap<String, UnixSeconds>,
    sessions: Bounded<Session>,
    logins: Bounded<PendingLogin>,
    pushed: Bounded<PushedRequest>,
    /// One-time values, with when each may be forgotten.
    used_once: Bounded<UnixSeconds>,
    failures: HashMap<String, FailureWindow>,
}

#[derive(Debug, Clone, Copy)]
struct FailureWindow {
    ends: UnixSeconds,
    failures: u32,
}

impl Default for Bounded<Session> {
    fn default() -> Self {
        Bounded::new(super::SESSION_CAPS)
    }
}

impl Default for Bounded<PushedRequest> {
    fn default() -> Self {
        Bounded::new(super::PUSHED_CAPS)
    }
}

impl Default for Bounded<UnixSeconds> {
    fn default() -> Self {
        Bounded::new(super::ONCE_CAPS)
    }
}

impl Default for Bounded<PendingLogin> {
    fn default() -> Self {
        Bounded::new(super::LOGIN_CAPS)
    }
}

/// Throttle keys held at once (~150 bytes each). Past it an arbitrary count is forgotten:
/// one address adds at most `1 + 2 × failures_per_ip` keys per window (the throttle stops
/// counting at the first limit), so reaching the cap takes thousands of addresses, and whoever
/// has that many guesses as fast without resetting anything. Refusing instead would let that
/// flood lock every tenant's users out.
const MAX_FAILURE_KEYS: usize = 100_000;

/// The single-replica store.
#[derive(Default)]
pub struct MemoryStore(Mutex<Memory>);

impl MemoryStore {
    fn with<T>(&self, f: impl FnOnce(&mut Memory) -> T) -> T {
        // A panic while holding the lock leaves plain maps behind; keep serving with them.
        let mut memory = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut memory)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn save_code(&self, code: &str, grant: &CodeGrant) -> StoreResult<()> {
        let stored = StoredCode {
            grant: grant.clone(),
            redeemed: false,
            issued: None,
        };
        self.with(|m| m.codes.insert(digest(code), stored));
        Ok(())
    }

    async fn peek_code(&self, code: &str, now: UnixSeconds) -> StoreResult<CodePeek> {
        Ok(self.with(|m| m.code_state(&digest(code), now)))
    }

    async fn redeem_code(&self, code: &str, now: UnixSeconds) -> StoreResult<CodeRedemption> {
        let key = digest(code);
        Ok(self.with(|m| match m.code_state(&key, now) {
            CodePeek::Live(grant) => {
                if let Some(stored) = m.codes.get_mut(&key) {
                    stored.redeemed = true;
                }
                CodeRedemption::Fresh(Box::new(grant))
            }
            CodePeek::Redeemed { issued, .. } => CodeRedemption::Replayed(issued),
            CodePeek::Unknown => CodeRedemption::Unknown,
        }))
    }

    async fn record_code_tokens(&self, code: &str, issued: &IssuedTokens) -> StoreResult<()> {
        self.with(|m| {
            m.codes
                .get_mut(&digest(code))
                .map(|stored| stored.issued = Some(issued.clone()))
        });
        Ok(())
    }

    async fn save_refresh(
        &self,
        token: &str,
        grant: &RefreshGrant,
        access: FamilyAccess<'_>,
    ) -> StoreResult<()> {
        self.with(|m| {
            let family = m.families.entry(grant.family.clone()).or_default();
            if family.revoked {
                m.revoked_access
                    .insert(access.jti.to_owned(), access.expires_at);
            } else {
                family
                    .access
                    .push((access.jti.to_owned(), access.expires_at));
            }
            let stored = StoredRefresh {
                grant: grant.clone(),
                rotated: false,
            };
            m.refresh.insert(digest(token), stored);
        });
        Ok(())
    }

    async fn redeem_refresh(
        &self,
        token: &str,
        binding: (&str, &str),
        now: UnixSeconds,
    ) -> StoreResult<RefreshRedemption> {
        let key = digest(token);
        Ok(self.with(|m| match m.refresh_state(&key, binding, now) {
            RefreshPeek::Live(grant) => {
                if let Some(stored) = m.refresh.get_mut(&key) {
                    stored.rotated = true;
                }
                RefreshRedemption::Fresh(grant)
            }
            RefreshPeek::Rotated(grant) => RefreshRedemption::Replayed(grant),
            RefreshPeek::Unknown => RefreshRedemption::Unknown,
        }))
    }

    async fn peek_refresh(
        &self,
        token: &str,
        binding: (&str, &str),
        now: UnixSeconds,
    ) -> StoreResult<RefreshPeek> {
        Ok(self.with(|m| m.refresh_state(&digest(token), binding, now)))
    }

    async fn find_refresh(
        &self,
        token: &str,
        now: UnixSeconds,
    ) -> StoreResult<Option<RefreshGrant>> {
        Ok(self.with(|m| {
            let stored = m.refresh.get(&digest(token))?;
            let revoked = m
                .families
                .get(&stored.grant.family)
                .is_none_or(|f| f.revoked);
            let live = !revoked && !stored.rotated && now < stored.grant.expires_at;
            live.then(|| stored.grant.clone())
        }))
    }

    async fn revoke_family(&self, family: &str) -> StoreResult<()> {
        self.with(|m| {
            let family = m.families.entry(family.to_owned()).or_default();
            family.revoked = true;
            let access = std::mem::take(&mut family.access);
            m.revoked_access.extend(access);
        });
        Ok(())
    }

    async fn revoke_access(&self, jti: &str, expires_at: UnixSeconds) -> StoreResult<()> {
        self.with(|m| m.revoked_access.insert(jti.to_owned(), expires_at));
        Ok(())
    }

    async fn is_access_revoked(&self, jti: &str) -> StoreResult<bool> {
        Ok(self.with(|m| m.revoked_access.contains_key(jti)))
    }

    async fn save_session(&self, id: &str, session: &Session) -> StoreResult<()> {
        self.with(|m| {
            m.sessions
                .insert(digest(id), &session.tenant, session.clone())
        });
        Ok(())
    }

    async fn session(&self, id: &str, now: UnixSeconds) -> StoreResult<Option<Session>> {
        Ok(self.with(|m| {
            m.sessions
                .get(&digest(id))
                .filter(|s| now < s.expires_at)
                .cloned()
        }))
    }

    async fn add_session_client(&self, id: &str, client_id: &str) -> StoreResult<()> {
        self.with(|m| {
            if let Some(session) = m.sessions.get_mut(&digest(id))
                && !session.clients.iter().any(|c| c == client_id)
            {
                session.clients.push(client_id.to_owned());
            }
        });
        Ok(())
    }

    async fn end_session(&self, id: &str, now: UnixSeconds) -> StoreResult<Option<Session>> {
        Ok(self.with(|m| {
            m.sessions
                .remove(&digest(id))
                .filter(|s| now < s.expires_at)
        }))
    }

    async fn save_login(&self, id: &str, login: &PendingLogin) -> StoreResult<()> {
        self.with(|m| m.logins.insert(digest(id), &login.tenant, login.clone()));
        Ok(())
    }

    async fn login(&self, id: &str, now: UnixSeconds) -> StoreResult<Option<PendingLogin>> {
        Ok(self.with(|m| {
            m.logins
                .get(&digest(id))
                .filter(|l| now < l.expires_at)
                .cloned()
        }))
    }

    async fn remove_login(&self, id: &str) -> StoreResult<()> {
        self.with(|m| m.logins.remove(&digest(id)));
        Ok(())
    }

    async fn save_pushed(&self, handle: &str, pushed: &PushedRequest) -> StoreResult<()> {
        self.with(|m| {
            m.pushed
                .insert(digest(handle), &pushed.tenant, pushed.clone())
        });
        Ok(())
    }

    async fn take_pushed(
        &self,
        handle: &str,
        now: UnixSeconds,
    ) -> StoreResult<Option<PushedRequest>> {
        Ok(self.with(|m| {
            m.pushed
                .remove(&digest(handle))
                .filter(|p| now < p.expires_at)
        }))
    }

    async fn use_once(
        &self,
        value: &str,
        tenant: &str,
        expires_at: UnixSeconds,
        now: UnixSeconds,
    ) -> StoreResult<UseOnce> {
        let key = digest(value);
        let live = |until: &UnixSeconds| now < *until;
        Ok(self.with(|m| {
            if m.used_once.get(&key).is_some_and(live) {
                return UseOnce::Seen;
            }
            if m.used_once
                .insert_unless_full(key, tenant, expires_at, live)
            {
                UseOnce::First
            } else {
                UseOnce::Full
            }
        }))
    }

    async fn count_failure(&self, key: &str, window: i64, now: UnixSeconds) -> StoreResult<u32> {
        Ok(self.with(|m| {
            if m.failures.len() >= MAX_FAILURE_KEYS && !m.failures.contains_key(key) {
                let arbitrary = m.failures.keys().next().cloned();
                arbitrary.map(|k| m.failures.remove(&k));
            }
            let entry = m.failures.entry(key.to_owned()).or_insert(FailureWindow {
                ends: now + window,
                failures: 0,
            });
            if now >= entry.ends {
                *entry = FailureWindow {
                    ends: now + window,
                    failures: 0,
                };
            }
            entry.failures += 1;
            entry.failures
        }))
    }

    async fn failures(&self, key: &str, now: UnixSeconds) -> StoreResult<u32> {
        Ok(self.with(|m| {
            m.failures
                .get(key)
                .filter(|w| now < w.ends)
                .map_or(0, |w| w.failures)
        }))
    }

    async fn clear_failures(&self, key: &str) -> StoreResult<()> {
        self.with(|m| m.failures.remove(key));
        Ok(())
    }

    async fn forgive_failure(&self, key: &str) -> StoreResult<()> {
        self.with(|m| {
            if let Some(window) = m.failures.get_mut(key) {
                window.failures = window.failures.saturating_sub(1);
                if window.failures == 0 {
                    m.failures.remove(key);
                }
            }
        });
        Ok(())
    }

    async fn sweep(&self, now: UnixSeconds) -> StoreResult<Swept> {
        Ok(self.with(|m| {
            let before = m.len();
            // A redeemed code stays while what it issued lives, so a late replay still revokes.
            m.codes.retain(|_, c| {
                now < c.grant.expires_at
                    || c.issued
                        .as_ref()
                        .is_some_and(|i| now < i.remembered_until())
            });
            m.refresh.retain(|_, r| now < r.grant.expires_at);
            let live: std::collections::HashSet<&String> =
                m.refresh.values().map(|r| &r.grant.family).collect();
            m.families.retain(|id, _| live.contains(id));
            m.revoked_access.retain(|_, expires_at| now < *expires_at);
            m.sessions.retain(|s| now < s.expires_at);
            m.logins.retain(|l| now < l.expires_at);
            m.pushed.retain(|p| now < p.expires_at);
            m.used_once.retain(|until| now < *until);
            m.failures.retain(|_, w| now < w.ends);
            Swept {
                rows: (before - m.len()) as u64,
            }
        }))
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}

impl Memory {
    /// What a code is now; redeeming is this plus marking it, under the same lock.
    fn code_state(&self, key: &Digest, now: UnixSeconds) -> CodePeek {
        match self.codes.get(key) {
            Some(stored) if stored.redeemed => CodePeek::Redeemed {
                grant: stored.grant.clone(),
                issued: stored.issued.clone(),
            },
            Some(stored) if now < stored.grant.expires_at => CodePeek::Live(stored.grant.clone()),
            _ => CodePeek::Unknown,
        }
    }

    /// What a refresh token is now for this tenant and client; rotating is this plus marking
    /// it, under the same lock. One of another tenant or client is `Unknown`.
    fn refresh_state(
        &self,
        key: &Digest,
        (tenant, client_id): (&str, &str),
        now: UnixSeconds,
    ) -> RefreshPeek {
        let Some(stored) = self.refresh.get(key) else {
            return RefreshPeek::Unknown;
        };
        let grant = &stored.grant;
        let revoked = self.families.get(&grant.family).is_none_or(|f| f.revoked);
        let bound = grant.tenant == tenant && grant.client_id == client_id;
        if !bound || revoked || now >= grant.expires_at {
            RefreshPeek::Unknown
        } else if stored.rotated {
            RefreshPeek::Rotated(grant.clone())
        } else {
            RefreshPeek::Live(grant.clone())
        }
    }

    fn len(&self) -> usize {
        self.codes.len()
            + self.refresh.len()
            + self.families.len()
            + self.revoked_access.len()
            + self.sessions.len()
            + self.logins.len()
            + self.pushed.len()
            + self.used_once.len()
            + self.failures.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::{AuthorizeRequest, Prompt};

    fn grant(expires_at: UnixSeconds) -> CodeGrant {
        let request = AuthorizeRequest {
            client_id: "web".into(),
            redirect_uri: "https://app/cb".into(),
            scope: "openid".into(),
            state: None,
            nonce: None,
            challenge: None,
            prompt: Prompt::Default,
            login_hint: None,
            resource: None,
            dpop_jkt: None,
        };
        CodeGrant {
            tenant: "acme".into(),
            request,
            username: "alice".into(),
            auth_time: 0,
            expires_at,
            sid: None,
        }
    }

    fn refresh(family: &str) -> RefreshGrant {
        RefreshGrant {
            tenant: "acme".into(),
            client_id: "spa".into(),
            username: "alice".into(),
            scope: "openid".into(),
            auth_time: 0,
            family: family.into(),
            expires_at: 100,
            resource: None,
            jkt: None,
        }
    }

    #[tokio::test]
    async fn a_one_time_value_is_used_once_until_it_may_be_forgotten() {
        let store = MemoryStore::default();
        let once = async |value, expires_at, now| {
            store
                .use_once(value, "acme", expires_at, now)
                .await
                .unwrap()
        };
        assert_eq!(once("jti-1", 100, 10).await, UseOnce::First);
        assert_eq!(once("jti-1", 100, 99).await, UseOnce::Seen);
        assert_eq!(once("jti-2", 100, 10).await, UseOnce::First);
        assert_eq!(once("jti-1", 200, 100).await, UseOnce::First, "forgotten");
    }

    #[tokio::test]
    async fn a_full_replay_cache_refuses_new_values_and_never_forgets_a_live_one() {
        let store = MemoryStore::default();
        let cap = crate::store::ONCE_CAPS.per_tenant;
        for i in 0..cap {
            let value = format!("jti-{i}");
            assert_eq!(
                store.use_once(&value, "acme", 100, 10).await.unwrap(),
                UseOnce::First
            );
        }
        let flood = store.use_once("one-more", "acme", 100, 10).await.unwrap();
        assert_eq!(flood, UseOnce::Full);
        let replayed = store.use_once("jti-0", "acme", 100, 10).await.unwrap();
        assert_eq!(
            replayed,
            UseOnce::Seen,
            "the oldest live value is still remembered"
        );
        let other = store
            .use_once("globex-jti", "globex", 100, 10)
            .await
            .unwrap();
        assert_eq!(
            other,
            UseOnce::First,
            "another tenant is not held up by acme's cap"
        );
        let later = store.use_once("one-more", "acme", 200, 100).await.unwrap();
        assert_eq!(later, UseOnce::First, "room again once values expire");
    }

    const ACCESS: FamilyAccess<'static> = FamilyAccess {
        jti: "j1",
        expires_at: 50,
    };

    #[tokio::test]
    async fn a_session_remembers_each_client_once_and_ends_once() {
        let store = MemoryStore::default();
        let session = Session {
            tenant: "acme".into(),
            username: "alice".into(),
            auth_time: 0,
            expires_at: 100,
            clients: Vec::new(),
        };
        store.save_session("s", &session).await.unwrap();
        for client in ["web", "spa", "web"] {
            store.add_session_client("s", client).await.unwrap();
        }
        let ended = store.end_session("s", 10).await.unwrap().expect("live");
        assert_eq!(ended.clients, ["web", "spa"]);
        assert!(
            store.end_session("s", 10).await.unwrap().is_none(),
            "ends once"
        );
        assert!(store.session("s", 10).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_code_redeems_once_and_then_reports_what_it_issued() {
        let store = MemoryStore::default();
        store.save_code("c", &grant(60)).await.unwrap();
        assert!(matches!(
            store.redeem_code("c", 10).await.unwrap(),
            CodeRedemption::Fresh(_)
        ));
        let issued = IssuedTokens {
            access_jti: "j".into(),
            access_expires_at: 300,
            family: Some("f".into()),
            family_expires_at: Some(900),
        };
        store.record_code_tokens("c", &issued).await.unwrap();
        match store.redeem_code("c", 20).await.unwrap() {
            CodeRedemption::Replayed(Some(issued)) => assert_eq!(issued.access_jti, "j"),
            _ => panic!("a second redemption is a replay"),
        }
        store.sweep(600).await.unwrap();
        assert!(
            matches!(
                store.redeem_code("c", 600).await.unwrap(),
                CodeRedemption::Replayed(_)
            ),
            "kept while the refresh family it started lives"
        );
        store.sweep(900).await.unwrap();
        assert!(matches!(
            store.peek_code("c", 900).await.unwrap(),
            CodePeek::Unknown
        ));
    }

    #[tokio::test]
    async fn revoking_a_family_ends_its_refresh_and_access_tokens() {
        let store = MemoryStore::default();
        store
            .save_refresh("r1", &refresh("f"), ACCESS)
            .await
            .unwrap();
        let binding = ("acme", "spa");
        assert!(matches!(
            store.redeem_refresh("r1", binding, 0).await.unwrap(),
            RefreshRedemption::Fresh(_)
        ));
        assert!(matches!(
            store.redeem_refresh("r1", binding, 0).await.unwrap(),
            RefreshRedemption::Replayed(_)
        ));
        store
            .save_refresh("r2", &refresh("f"), ACCESS)
            .await
            .unwrap();
        store.revoke_family("f").await.unwrap();
        assert!(store.is_access_revoked("j1").await.unwrap());
        assert!(store.find_refresh("r2", 0).await.unwrap().is_none());
        assert!(matches!(
            store.redeem_refresh("r2", binding, 0).await.unwrap(),
            RefreshRedemption::Unknown
        ));
        let late = FamilyAccess {
            jti: "j-late",
            expires_at: 50,
        };
        store.save_refresh("r3", &refresh("f"), late).await.unwrap();
        assert!(
            store.is_access_revoked("j-late").await.unwrap(),
            "a token issued into a revoked family is revoked at once"
        );
    }

    #[tokio::test]
    async fn a_refresh_token_is_untouched_by_another_client() {
        let store = MemoryStore::default();
        store
            .save_refresh("r", &refresh("f"), ACCESS)
            .await
            .unwrap();
        assert!(matches!(
            store.redeem_refresh("r", ("acme", "web"), 0).await.unwrap(),
            RefreshRedemption::Unknown
        ));
        assert!(matches!(
            store.redeem_refresh("r", ("acme", "spa"), 0).await.unwrap(),
            RefreshRedemption::Fresh(_)
        ));
    }

    #[tokio::test]
    async fn failures_count_in_fixed_windows() {
        let store = MemoryStore::default();
        assert_eq!(store.count_failure("k", 300, 0).await.unwrap(), 1);
        assert_eq!(store.count_failure("k", 300, 299).await.unwrap(), 2);
        assert_eq!(store.failures("k", 299).await.unwrap(), 2);
        assert_eq!(store.failures("k", 300).await.unwrap(), 0);
        assert_eq!(store.count_failure("k", 300, 300).await.unwrap(), 1);
        store.clear_failures("k").await.unwrap();
        assert_eq!(store.failures("k", 301).await.unwrap(), 0);
    }
}
