//! The single-replica [`Store`]: plain maps behind one mutex, keyed by SHA-256 digests of
//! codes, refresh tokens and session ids so the process never holds a usable credential at
//! rest. It must never be shared across replicas; a region running it runs one.

use std::collections::HashMap;
use std::sync::Mutex;

use meridian_contract::UnixSeconds;

use super::{
    CodeGrant, CodeRedemption, IssuedTokens, PendingLogin, RefreshGrant, RefreshRedemption,
    Session, Store,
};

type Digest = [u8; 32];

fn digest(secret: &str) -> Digest {
    let mut out = [0; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, secret.as_bytes()).as_ref());
    out
}

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
    sessions: HashMap<Digest, Session>,
    logins: HashMap<String, PendingLogin>,
}

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

impl Store for MemoryStore {
    fn save_code(&self, code: &str, grant: CodeGrant) {
        let stored = StoredCode {
            grant,
            redeemed: false,
            issued: None,
        };
        self.with(|m| m.codes.insert(digest(code), stored));
    }

    fn redeem_code(&self, code: &str, now: UnixSeconds) -> CodeRedemption {
        self.with(|m| match m.codes.get_mut(&digest(code)) {
            Some(stored) if stored.redeemed => CodeRedemption::Replayed(stored.issued.clone()),
            Some(stored) if now < stored.grant.expires_at => {
                stored.redeemed = true;
                CodeRedemption::Fresh(stored.grant.clone())
            }
            _ => CodeRedemption::Unknown,
        })
    }

    fn record_code_tokens(&self, code: &str, issued: IssuedTokens) {
        self.with(|m| {
            m.codes
                .get_mut(&digest(code))
                .map(|stored| stored.issued = Some(issued))
        });
    }

    fn save_refresh(&self, token: &str, grant: RefreshGrant) {
        self.with(|m| {
            m.families.entry(grant.family.clone()).or_default();
            m.refresh.insert(
                digest(token),
                StoredRefresh {
                    grant,
                    rotated: false,
                },
            )
        });
    }

    fn redeem_refresh(
        &self,
        token: &str,
        (tenant, client_id): (&str, &str),
        now: UnixSeconds,
    ) -> RefreshRedemption {
        self.with(|m| {
            let Some(stored) = m.refresh.get_mut(&digest(token)) else {
                return RefreshRedemption::Unknown;
            };
            if stored.grant.tenant != tenant || stored.grant.client_id != client_id {
                return RefreshRedemption::Unknown;
            }
            let revoked = m
                .families
                .get(&stored.grant.family)
                .is_none_or(|f| f.revoked);
            if revoked || now >= stored.grant.expires_at {
                RefreshRedemption::Unknown
            } else if stored.rotated {
                RefreshRedemption::Replayed(stored.grant.clone())
            } else {
                stored.rotated = true;
                RefreshRedemption::Fresh(stored.grant.clone())
            }
        })
    }

    fn find_refresh(&self, token: &str, now: UnixSeconds) -> Option<RefreshGrant> {
        self.with(|m| {
            let stored = m.refresh.get(&digest(token))?;
            let revoked = m
                .families
                .get(&stored.grant.family)
                .is_none_or(|f| f.revoked);
            let live = !revoked && !stored.rotated && now < stored.grant.expires_at;
            live.then(|| stored.grant.clone())
        })
    }

    fn record_family_access(&self, family: &str, jti: &str, expires_at: UnixSeconds) {
        self.with(|m| {
            let family = m.families.entry(family.to_owned()).or_default();
            family.access.push((jti.to_owned(), expires_at));
        });
    }

    fn revoke_family(&self, family: &str) {
        self.with(|m| {
            let family = m.families.entry(family.to_owned()).or_default();
            family.revoked = true;
            let access = std::mem::take(&mut family.access);
            m.revoked_access.extend(access);
        });
    }

    fn revoke_access(&self, jti: &str, expires_at: UnixSeconds) {
        self.with(|m| m.revoked_access.insert(jti.to_owned(), expires_at));
    }

    fn is_access_revoked(&self, jti: &str) -> bool {
        self.with(|m| m.revoked_access.contains_key(jti))
    }

    fn save_session(&self, id: &str, session: Session) {
        self.with(|m| m.sessions.insert(digest(id), session));
    }

    fn session(&self, id: &str, now: UnixSeconds) -> Option<Session> {
        self.with(|m| {
            m.sessions
                .get(&digest(id))
                .filter(|s| now < s.expires_at)
                .cloned()
        })
    }

    fn save_login(&self, id: &str, login: PendingLogin) {
        self.with(|m| m.logins.insert(id.to_owned(), login));
    }

    fn login(&self, id: &str, now: UnixSeconds) -> Option<PendingLogin> {
        self.with(|m| m.logins.get(id).filter(|l| now < l.expires_at).cloned())
    }

    fn remove_login(&self, id: &str) {
        self.with(|m| m.logins.remove(id));
    }

    fn sweep(&self, now: UnixSeconds) {
        self.with(|m| {
            // A redeemed code stays while what it issued lives, so a late replay still revokes.
            m.codes.retain(|_, c| {
                now < c.grant.expires_at
                    || c.issued.as_ref().is_some_and(|i| now < i.access_expires_at)
            });
            m.refresh.retain(|_, r| now < r.grant.expires_at);
            let live: std::collections::HashSet<&String> =
                m.refresh.values().map(|r| &r.grant.family).collect();
            m.families.retain(|id, _| live.contains(id));
            m.revoked_access.retain(|_, expires_at| now < *expires_at);
            m.sessions.retain(|_, s| now < s.expires_at);
            m.logins.retain(|_, l| now < l.expires_at);
        });
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
        };
        CodeGrant {
            tenant: "acme".into(),
            request,
            username: "alice".into(),
            auth_time: 0,
            expires_at,
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
        }
    }

    #[test]
    fn a_code_redeems_once_and_then_reports_what_it_issued() {
        let store = MemoryStore::default();
        store.save_code("c", grant(60));
        assert!(matches!(
            store.redeem_code("c", 10),
            CodeRedemption::Fresh(_)
        ));
        let issued = IssuedTokens {
            access_jti: "j".into(),
            access_expires_at: 300,
            family: None,
        };
        store.record_code_tokens("c", issued);
        match store.redeem_code("c", 20) {
            CodeRedemption::Replayed(Some(issued)) => assert_eq!(issued.access_jti, "j"),
            _ => panic!("a second redemption is a replay"),
        }
        store.sweep(100);
        assert!(
            matches!(store.redeem_code("c", 100), CodeRedemption::Replayed(_)),
            "kept while its token lives"
        );
    }

    #[test]
    fn revoking_a_family_ends_its_refresh_and_access_tokens() {
        let store = MemoryStore::default();
        store.save_refresh("r1", refresh("f"));
        store.record_family_access("f", "j1", 50);
        assert!(matches!(
            store.redeem_refresh("r1", ("acme", "spa"), 0),
            RefreshRedemption::Fresh(_)
        ));
        assert!(matches!(
            store.redeem_refresh("r1", ("acme", "spa"), 0),
            RefreshRedemption::Replayed(_)
        ));
        store.save_refresh("r2", refresh("f"));
        store.revoke_family("f");
        assert!(store.is_access_revoked("j1"));
        assert!(store.find_refresh("r2", 0).is_none());
        assert!(matches!(
            store.redeem_refresh("r2", ("acme", "spa"), 0),
            RefreshRedemption::Unknown
        ));
    }

    #[test]
    fn a_refresh_token_is_untouched_by_another_client() {
        let store = MemoryStore::default();
        store.save_refresh("r", refresh("f"));
        assert!(matches!(
            store.redeem_refresh("r", ("acme", "web"), 0),
            RefreshRedemption::Unknown
        ));
        assert!(matches!(
            store.redeem_refresh("r", ("acme", "spa"), 0),
            RefreshRedemption::Fresh(_)
        ));
    }
}
