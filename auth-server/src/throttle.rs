//! Throttling of failed logins, per user and per client IP, in fixed windows.
//!
//! Counts only failures: a user who keeps typing the right password is never slowed down.
//! Time comes from the caller's clock. This module never sees a password.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use meridian_contract::UnixSeconds;

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

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User { tenant: String, username: String },
    Ip(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: UnixSeconds,
    failures: u32,
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    windows: Mutex<HashMap<Key, Window>>,
}

impl LoginThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            windows: Mutex::default(),
        }
    }

    /// Whether another attempt is allowed now for this user from this address.
    pub fn allows(&self, tenant: &str, username: &str, ip: IpAddr, now: UnixSeconds) -> bool {
        let windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let over = |key: &Key, limit: u32| {
            windows.get(key).is_some_and(|w| {
                now < w.started + self.policy.window_seconds && w.failures >= limit
            })
        };
        !over(&user_key(tenant, username), self.policy.failures_per_user)
            && !over(&Key::Ip(ip), self.policy.failures_per_ip)
    }

    pub fn record_failure(&self, tenant: &str, username: &str, ip: IpAddr, now: UnixSeconds) {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let window_seconds = self.policy.window_seconds;
        // Bound memory under a flood of distinct usernames: expired windows go first.
        if windows.len() > 100_000 {
            windows.retain(|_, w| now < w.started + window_seconds);
        }
        for key in [user_key(tenant, username), Key::Ip(ip)] {
            let window = windows.entry(key).or_insert(Window {
                started: now,
                failures: 0,
            });
            if now >= window.started + window_seconds {
                *window = Window {
                    started: now,
                    failures: 0,
                };
            }
            window.failures += 1;
        }
    }

    pub fn record_success(&self, tenant: &str, username: &str) {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        windows.remove(&user_key(tenant, username));
    }
}

fn user_key(tenant: &str, username: &str) -> Key {
    Key::User {
        tenant: tenant.to_owned(),
        username: username.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn a_user_is_locked_after_repeated_failures_until_the_window_ends() {
        let throttle = LoginThrottle::new(ThrottlePolicy::default());
        for _ in 0..5 {
            assert!(throttle.allows("t", "alice", IP, 0));
            throttle.record_failure("t", "alice", IP, 0);
        }
        assert!(!throttle.allows("t", "alice", IP, 299));
        assert!(throttle.allows("t", "bob", IP, 299));
        assert!(throttle.allows("t", "alice", IP, 300));
    }

    #[test]
    fn one_address_is_limited_across_usernames() {
        let throttle = LoginThrottle::new(ThrottlePolicy::default());
        for n in 0..20 {
            throttle.record_failure("t", &format!("user{n}"), IP, 0);
        }
        assert!(!throttle.allows("t", "fresh", IP, 1));
    }
}
