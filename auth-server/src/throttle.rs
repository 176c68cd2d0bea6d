//! Throttling of failed logins, per user and per client IP, in fixed windows.
//!
//! Counts only failures: a user who keeps typing the right password is never slowed down.
//! The counts live in the [`Store`], so every replica of a region sees the same ones; this
//! module only decides the keys and the limits. Time comes from the caller's clock. It never
//! sees a password.

use std::net::IpAddr;

use meridian_contract::UnixSeconds;

use crate::store::{Store, StoreResult};

#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub window_seconds: i64,
    pub failures_per_user: u32,
    pub failures_per_ip: u32,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            window_seconds: 300,
            failures_per_user: 5,
            failures_per_ip: 20,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self { policy }
    }

    /// Whether another attempt is allowed now for this user from this address.
    pub async fn allows(
        &self,
        store: &dyn Store,
        (tenant, username): (&str, &str),
        ip: IpAddr,
        now: UnixSeconds,
    ) -> StoreResult<bool> {
        let user = store.failures(&user_key(tenant, username), now).await?;
        if user >= self.policy.failures_per_user {
            return Ok(false);
        }
        let address = store.failures(&ip_key(ip), now).await?;
        Ok(address < self.policy.failures_per_ip)
    }

    pub async fn record_failure(
        &self,
        store: &dyn Store,
        (tenant, username): (&str, &str),
        ip: IpAddr,
        now: UnixSeconds,
    ) -> StoreResult<()> {
        let window = self.policy.window_seconds;
        for key in [user_key(tenant, username), ip_key(ip)] {
            store.count_failure(&key, window, now).await?;
        }
        Ok(())
    }

    pub async fn record_success(
        &self,
        store: &dyn Store,
        (tenant, username): (&str, &str),
    ) -> StoreResult<()> {
        store.clear_failures(&user_key(tenant, username)).await
    }
}

/// Tenant and username are length-prefixed so no pair can spell another pair's key.
fn user_key(tenant: &str, username: &str) -> String {
    format!("user:{}:{tenant}:{username}", tenant.len())
}

fn ip_key(ip: IpAddr) -> String {
    format!("ip:{ip}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[tokio::test]
    async fn a_user_is_locked_after_repeated_failures_until_the_window_ends() {
        let (store, throttle) = (MemoryStore::default(), LoginThrottle::default());
        for _ in 0..5 {
            assert!(
                throttle
                    .allows(&store, ("t", "alice"), IP, 0)
                    .await
                    .unwrap()
            );
            throttle
                .record_failure(&store, ("t", "alice"), IP, 0)
                .await
                .unwrap();
        }
        assert!(
            !throttle
                .allows(&store, ("t", "alice"), IP, 299)
                .await
                .unwrap()
        );
        assert!(
            throttle
                .allows(&store, ("t", "bob"), IP, 299)
                .await
                .unwrap()
        );
        assert!(
            throttle
                .allows(&store, ("t", "alice"), IP, 300)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn one_address_is_limited_across_usernames() {
        let (store, throttle) = (MemoryStore::default(), LoginThrottle::default());
        for n in 0..20 {
            let user = format!("user{n}");
            throttle
                .record_failure(&store, ("t", &user), IP, 0)
                .await
                .unwrap();
        }
        assert!(
            !throttle
                .allows(&store, ("t", "fresh"), IP, 1)
                .await
                .unwrap()
        );
    }

    #[test]
    fn keys_of_different_pairs_never_collide() {
        assert_ne!(user_key("a:b", "c"), user_key("a", "b:c"));
    }
}
