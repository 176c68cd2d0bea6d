//! Throttling of login attempts per tenant: per user and address, per user, and per address,
//! in fixed windows.
//!
//! Atomic: an attempt is counted (reserved) in the [`Store`] *before* its password is
//! checked, so parallel attempts cannot all pass a check made before any of them was
//! recorded; a successful attempt gives its reservation back. A user who keeps typing the
//! right password is never slowed down.
//!
//! Every key includes the tenant, so one tenant's failures never throttle another's users.
//! The lockout a stranger can cause is bounded: the tight per-user limit is keyed on the
//! user *and the client address*, so a stranger guessing at alice locks out only their own
//! address, never alice's; a looser limit per user across every address still bounds a
//! distributed guess. We chose this over exponential delays per user because any per-user
//! delay (exponential or not) is renewed by whoever keeps guessing, which is exactly the
//! indefinite lockout to avoid. The address is the one [`crate::client_address`] trusts.
//!
//! The counts live in the store, so every replica of a region sees the same ones; this
//! module only decides the keys and the limits. Time comes from the caller's clock. It never
//! sees a password.

use std::net::IpAddr;

use meridian_contract::UnixSeconds;

use crate::store::{Store, StoreResult};

#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub window_seconds: i64,
    /// Failed attempts for one user from one address.
    pub failures_per_user: u32,
    /// Failed attempts for one user from every address together.
    pub failures_per_user_everywhere: u32,
    /// Failed attempts from one address at one tenant, whatever the username.
    pub failures_per_ip: u32,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            window_seconds: 300,
            failures_per_user: 5,
            failures_per_user_everywhere: 50,
            failures_per_ip: 20,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
}

/// Who is trying: the tenant, the username typed and the client address.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub tenant: &'a str,
    pub username: &'a str,
    pub ip: IpAddr,
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self { policy }
    }

    /// Counts this attempt against every limit and says whether it may go on. Counted
    /// before the password is checked: see the module doc.
    pub async fn reserve(
        &self,
        store: &dyn Store,
        attempt: Attempt<'_>,
        now: UnixSeconds,
    ) -> StoreResult<bool> {
        let window = self.policy.window_seconds;
        // Address first, and no further once a limit is reached: a flood from one address
        // with ever new usernames then adds no per-user counts the store would have to hold.
        for (key, limit) in self.limits(attempt) {
            if store.count_failure(&key, window, now).await? > limit {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The attempt succeeded: its reservation is given back, and the user's failures are
    /// forgotten. The address keeps its earlier failures.
    pub async fn succeeded(&self, store: &dyn Store, attempt: Attempt<'_>) -> StoreResult<()> {
        let [address, user, pair] = self.limits(attempt).map(|(key, _)| key);
        store.clear_failures(&pair).await?;
        store.clear_failures(&user).await?;
        store.forgive_failure(&address).await
    }

    /// The attempt was never checked (no capacity): the user's counts are given back, so
    /// a flood does not use up a user's attempts; the address keeps its count, so an address
    /// that floods is throttled all the same.
    pub async fn release(&self, store: &dyn Store, attempt: Attempt<'_>) -> StoreResult<()> {
        let [_, user, pair] = self.limits(attempt).map(|(key, _)| key);
        store.forgive_failure(&user).await?;
        store.forgive_failure(&pair).await
    }

    fn limits(&self, attempt: Attempt<'_>) -> [(String, u32); 3] {
        let Attempt {
            tenant,
            username,
            ip,
        } = attempt;
        let policy = &self.policy;
        [
            (ip_key(tenant, ip), policy.failures_per_ip),
            (
                user_key(tenant, username),
                policy.failures_per_user_everywhere,
            ),
            (pair_key(tenant, username, ip), policy.failures_per_user),
        ]
    }
}

/// Tenant and username are length-prefixed so no pair can spell another pair's key.
fn user_key(tenant: &str, username: &str) -> String {
    format!("user:{}:{tenant}:{username}", tenant.len())
}

fn pair_key(tenant: &str, username: &str, ip: IpAddr) -> String {
    format!("user-ip:{ip}:{}:{tenant}:{username}", tenant.len())
}

fn ip_key(tenant: &str, ip: IpAddr) -> String {
    format!("ip:{ip}:{tenant}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 9));

    fn who(tenant: &'static str, username: &'static str, ip: IpAddr) -> Attempt<'static> {
        Attempt {
            tenant,
            username,
            ip,
        }
    }

    #[tokio::test]
    async fn a_user_is_locked_at_one_address_until_the_window_ends() {
        let (store, throttle) = (MemoryStore::default(), LoginThrottle::default());
        let alice = who("t", "alice", IP);
        for _ in 0..5 {
            assert!(throttle.reserve(&store, alice, 0).await.unwrap());
        }
        assert!(!throttle.reserve(&store, alice, 299).await.unwrap());
        assert!(
            throttle
                .reserve(&store, who("t", "alice", OTHER_IP), 299)
                .await
                .unwrap(),
            "a stranger's guesses do not lock alice out at her own address"
        );
        assert!(
            throttle
                .reserve(&store, who("t", "bob", IP), 299)
                .await
                .unwrap()
        );
        assert!(throttle.reserve(&store, alice, 300).await.unwrap());
    }

    #[tokio::test]
    async fn one_address_is_limited_across_usernames_of_one_tenant_only() {
        let (store, throttle) = (MemoryStore::default(), LoginThrottle::default());
        for n in 0..20 {
            let user = format!("user{n}");
            let attempt = Attempt {
                tenant: "t",
                username: &user,
                ip: IP,
            };
            assert!(throttle.reserve(&store, attempt, 0).await.unwrap());
        }
        assert!(
            !throttle
                .reserve(&store, who("t", "fresh", IP), 1)
                .await
                .unwrap()
        );
        assert!(
            throttle
                .reserve(&store, who("u", "fresh", IP), 1)
                .await
                .unwrap(),
            "another tenant's users are not throttled"
        );
    }

    #[tokio::test]
    async fn a_throttled_address_adds_no_counts_for_new_usernames() {
        let (store, throttle) = (MemoryStore::default(), LoginThrottle::default());
        for n in 0..25 {
            let user = format!("user{n}");
            let attempt = Attempt {
                tenant: "t",
                username: &user,
                ip: IP,
            };
            throttle.reserve(&store, attempt, 0).await.unwrap();
        }
        assert_eq!(
            store.failures(&user_key("t", "user24"), 1).await.unwrap(),
            0
        );
        assert_eq!(
            store.failures(&user_key("t", "user19"), 1).await.unwrap(),
            1
        );
    }

    #[tokio::test]
    async fn a_success_gives_its_reservation_back() {
        let (store, throttle) = (MemoryStore::default(), LoginThrottle::default());
        for _ in 0..30 {
            let alice = who("t", "alice", IP);
            assert!(throttle.reserve(&store, alice, 0).await.unwrap());
            throttle.succeeded(&store, alice).await.unwrap();
        }
    }

    #[test]
    fn keys_of_different_pairs_never_collide() {
        assert_ne!(user_key("a:b", "c"), user_key("a", "b:c"));
        assert_ne!(pair_key("a:b", "c", IP), pair_key("a", "b:c", IP));
    }
}
