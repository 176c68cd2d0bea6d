//! Spreading tenants over a bounded number of ConfigMaps and Secrets.
//!
//! Every Kubernetes object is capped near 1 MiB and a pod should not mount hundreds of
//! volumes, so tenants are hashed into a power-of-two number of shards sized for about
//! [`TENANTS_PER_SHARD`] tenants each. The hash is stable, so adding a tenant rewrites one
//! shard; the shard count (and so the pod spec) only changes when the tenant count crosses a
//! power of two.

/// Target tenants per shard: a few KiB of keys and config per tenant keeps a shard well below
/// the object size limit.
pub const TENANTS_PER_SHARD: usize = 64;

/// Number of shards for `tenants` tenants: a power of two, at least one.
pub fn shard_count(tenants: usize) -> usize {
    tenants
        .div_ceil(TENANTS_PER_SHARD)
        .max(1)
        .next_power_of_two()
}

/// The shard of `tenant` among `count` shards (FNV-1a: stable across builds and platforms,
/// unlike std's hasher).
pub fn shard_of(tenant: &str, count: usize) -> usize {
    let hash = tenant
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    (hash % count as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_count_grows_in_powers_of_two() {
        assert_eq!(shard_count(0), 1);
        assert_eq!(shard_count(64), 1);
        assert_eq!(shard_count(65), 2);
        assert_eq!(shard_count(500), 8);
    }

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(shard_of("acme", 8), shard_of("acme", 8));
        let mut counts = [0usize; 8];
        for i in 0..500 {
            counts[shard_of(&format!("tenant-{i}"), 8)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (30..=100).contains(&c)),
            "{counts:?}"
        );
    }
}
