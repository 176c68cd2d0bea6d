//! Password verification within a memory budget, shared fairly between tenants.
//!
//! One argon2 verification holds its `m` parameter in memory (19 MiB for the defaults) for
//! tens of milliseconds. Unbounded, a login flood multiplies that until the pod is
//! OOM-killed. So every verification first reserves its `m` from a [`PasswordPool`] sized from
//! the container's memory limit; when the budget is spent the caller is refused at once
//! ([`Overloaded`], answered with 503) rather than queued: a queue would only hold memory and
//! connections for requests whose users have given up.
//!
//! Fair share: a tenant may hold at most `budget / max(2, active tenants)` (and always room
//! for one verification), so a flood at one tenant leaves at least half the budget to every
//! other tenant, and a tenant arriving during a flood finds room as soon as the flooding
//! tenant's verifications end. The argon2 memory blocks are allocated once and reused, so the
//! allocator never accumulates freed 19 MiB chunks per thread.
//!
//! It never logs or keeps a password.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

/// What the rest of the process (pending logins, sessions, keys, HTTP buffers) keeps out of
/// the hashing budget.
pub const RESERVED_BYTES: u64 = 48 << 20;
/// Assumed when neither a flag nor the cgroup names a limit: the chart's default limit.
pub const DEFAULT_MEMORY_LIMIT: u64 = 128 << 20;
const BLOCK_BYTES: u64 = 1024;

/// Every verification slot is in use, or this tenant holds its share: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("password verification is at capacity")]
pub struct Overloaded;

#[derive(Default)]
struct Usage {
    used: u64,
    by_tenant: HashMap<String, u64>,
}

/// The bounded pool every login's password check goes through.
pub struct PasswordPool {
    budget: u64,
    usage: Mutex<Usage>,
    /// Reusable argon2 memory of the default parameters, at most one per concurrent check.
    buffers: Mutex<Vec<Vec<Block>>>,
}

/// A reservation of `cost` bytes for `tenant`; released when dropped.
pub struct Permit {
    pool: Arc<PasswordPool>,
    tenant: String,
    cost: u64,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut usage = self.pool.lock_usage();
        usage.used -= self.cost;
        if let Some(held) = usage.by_tenant.get_mut(&self.tenant) {
            *held -= self.cost;
            if *held == 0 {
                usage.by_tenant.remove(&self.tenant);
            }
        }
    }
}

impl PasswordPool {
    /// A pool that may hold `budget` bytes of argon2 memory at once (at least one default
    /// verification, so logins work however small the limit).
    pub fn new(budget: u64) -> Arc<Self> {
        Arc::new(Self {
            budget: budget.max(default_cost()),
            usage: Mutex::default(),
            buffers: Mutex::default(),
        })
    }

    /// A pool for a process whose memory limit is `limit` bytes.
    pub fn for_memory_limit(limit: u64) -> Arc<Self> {
        Self::new(limit.saturating_sub(RESERVED_BYTES))
    }

    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Reserves `cost` bytes for `tenant`, or refuses at once.
    pub fn reserve(self: &Arc<Self>, tenant: &str, cost: u64) -> Result<Permit, Overloaded> {
        let mut usage = self.lock_usage();
        let held = usage.by_tenant.get(tenant).copied().unwrap_or(0);
        let active = usage.by_tenant.len() as u64 + u64::from(held == 0);
        let share = (self.budget / active.max(2)).max(cost);
        if usage.used + cost > self.budget || held + cost > share {
            return Err(Overloaded);
        }
        usage.used += cost;
        *usage.by_tenant.entry(tenant.to_owned()).or_default() += cost;
        Ok(Permit {
            pool: self.clone(),
            tenant: tenant.to_owned(),
            cost,
        })
    }

    /// Checks `password` against an argon2 PHC `hash`; an unknown user (`None`) is checked
    /// against a dummy hash so the answer costs the same and reveals nothing.
    pub async fn verify(
        self: &Arc<Self>,
        tenant: &str,
        hash: Option<String>,
        password: String,
    ) -> Result<bool, Overloaded> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| dummy_hash().to_owned());
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return Ok(false);
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return Ok(false);
        };
        let permit = self.reserve(tenant, params.block_count() as u64 * BLOCK_BYTES)?;
        let pool = self.clone();
        let matches = tokio::task::spawn_blocking(move || {
            let matches = pool.check(&hash, password.as_bytes());
            drop(permit);
            matches
        })
        .await
        .unwrap_or(false);
        Ok(matches && known)
    }

    fn check(&self, hash: &str, password: &[u8]) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        let (Ok(params), Ok(algorithm)) = (
            Params::try_from(&parsed),
            Algorithm::try_from(parsed.algorithm),
        ) else {
            return false;
        };
        let version = parsed
            .version
            .map_or(Ok(Version::default()), Version::try_from);
        let (Ok(version), Some(salt), Some(expected)) = (version, parsed.salt, parsed.hash) else {
            return false;
        };
        let mut salt_bytes = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
            return false;
        };
        let mut memory = self.take_buffer(params.block_count());
        let mut output = vec![0u8; expected.len()];
        let argon = Argon2::new(algorithm, version, params);
        let hashed = argon.hash_password_into_with_memory(password, salt, &mut output, &mut memory);
        self.return_buffer(memory);
        hashed.is_ok() && bool::from(output.as_slice().ct_eq(expected.as_bytes()))
    }

    fn take_buffer(&self, blocks: usize) -> Vec<Block> {
        let reused = self.lock_buffers().pop().filter(|b| b.len() == blocks);
        reused.unwrap_or_else(|| vec![Block::new(); blocks])
    }

    /// Keeps buffers of the default size only, and never more than the budget can use.
    fn return_buffer(&self, buffer: Vec<Block>) {
        let mut buffers = self.lock_buffers();
        let fits = (buffers.len() as u64 + 1) * default_cost() <= self.budget;
        if buffer.len() as u64 * BLOCK_BYTES == default_cost() && fits {
            buffers.push(buffer);
        }
    }

    fn lock_usage(&self) -> std::sync::MutexGuard<'_, Usage> {
        self.usage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_buffers(&self) -> std::sync::MutexGuard<'_, Vec<Vec<Block>>> {
        self.buffers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Bytes of one verification with argon2's default parameters (what `hash_password` writes).
pub fn default_cost() -> u64 {
    Params::default().block_count() as u64 * BLOCK_BYTES
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::encode_b64(b"meridian-dummy-salt").expect("static salt");
        Argon2::default()
            .hash_password(b"not a password", &salt)
            .expect("hashing")
            .to_string()
    })
}

/// The container's memory limit: cgroup v2 `memory.max`, else cgroup v1
/// `memory.limit_in_bytes`; `None` when unlimited or not in a cgroup.
pub fn cgroup_memory_limit() -> Option<u64> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let raw = read("/sys/fs/cgroup/memory.max")
        .or_else(|| read("/sys/fs/cgroup/memory/memory.limit_in_bytes"))?;
    parse_cgroup_limit(&raw)
}

/// v2 writes `max` for no limit; v1 a huge page-rounded number.
fn parse_cgroup_limit(raw: &str) -> Option<u64> {
    raw.trim()
        .parse::<u64>()
        .ok()
        .filter(|&limit| limit < 1 << 60)
}

/// Parses `134217728`, `128Mi`, `128M`, `1Gi`, `512Ki`.
pub fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "K" | "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_at_one_tenant_leaves_room_for_another() {
        let cost = default_cost();
        let pool = PasswordPool::new(4 * cost);
        let flood: Vec<_> = (0..4)
            .filter_map(|_| pool.reserve("a", cost).ok())
            .collect();
        assert_eq!(flood.len(), 2, "one tenant holds at most half the budget");
        let other = pool.reserve("b", cost);
        assert!(other.is_ok(), "another tenant finds room at once");
        drop(flood);
        assert!(pool.reserve("a", cost).is_ok(), "released when dropped");
    }

    #[test]
    fn over_capacity_is_refused_at_once() {
        let cost = default_cost();
        let pool = PasswordPool::new(2 * cost);
        let _a = pool.reserve("a", cost).unwrap();
        let _b = pool.reserve("b", cost).unwrap();
        assert_eq!(pool.reserve("c", cost).err(), Some(Overloaded));
    }

    #[test]
    fn the_budget_is_the_memory_limit_less_the_reserve() {
        let pool = PasswordPool::for_memory_limit(128 << 20);
        assert_eq!(pool.budget(), 80 << 20);
        assert_eq!(
            pool.budget() / default_cost(),
            4,
            "four verifications at once"
        );
        let tiny = PasswordPool::for_memory_limit(16 << 20);
        assert_eq!(tiny.budget(), default_cost(), "always one");
    }

    #[test]
    fn cgroup_limits_parse_and_unlimited_is_none() {
        assert_eq!(parse_cgroup_limit("134217728\n"), Some(128 << 20));
        assert_eq!(parse_cgroup_limit("max\n"), None);
        assert_eq!(parse_cgroup_limit("9223372036854771712\n"), None);
    }

    #[test]
    fn sizes_parse_like_kubernetes_quantities() {
        assert_eq!(parse_bytes("128Mi"), Some(128 << 20));
        assert_eq!(parse_bytes("1000"), Some(1000));
        assert_eq!(parse_bytes("1G"), Some(1_000_000_000));
        assert_eq!(parse_bytes("12 parsecs"), None);
    }

    #[tokio::test]
    async fn verification_matches_only_the_right_password_of_a_known_user() {
        let pool = PasswordPool::new(default_cost());
        let hash = crate::dev::hash_password("right");
        let verify = |hash: Option<&str>, password: &str| {
            pool.verify("t", hash.map(str::to_owned), password.to_owned())
        };
        assert_eq!(verify(Some(&hash), "right").await, Ok(true));
        assert_eq!(verify(Some(&hash), "wrong").await, Ok(false));
        assert_eq!(verify(None, "not a password").await, Ok(false));
        assert_eq!(verify(Some("garbage"), "right").await, Ok(false));
    }
}
