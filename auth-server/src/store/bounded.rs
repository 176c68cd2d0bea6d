//! A map of per-tenant entries with a cap per tenant and a global cap, evicting oldest first
//! ([`Bounded::insert`]), or refusing while every entry is live ([`Bounded::insert_unless_full`]).
//!
//! Used by the memory store for pending logins and sessions, which anyone can create (a
//! pending login needs no credentials at all). Eviction rather than refusal: a flood at one
//! tenant then costs only that tenant's slowest users their sign-in form (they reload it),
//! while refusing would deny every new sign-in of the tenant for as long as the flood lasts.
//! At the global cap the oldest entry of the tenant holding the most goes, so a flood at
//! one tenant never evicts another tenant's entries while it holds more than they do.

use std::collections::{HashMap, VecDeque};

use super::digest::Digest;

/// How many entries may live at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub per_tenant: usize,
    pub global: usize,
}

pub struct Bounded<V> {
    caps: Caps,
    entries: HashMap<Digest, (String, V)>,
    /// Each tenant's digests, oldest first.
    order: HashMap<String, VecDeque<Digest>>,
}

impl<V> Bounded<V> {
    pub fn new(caps: Caps) -> Self {
        Self {
            caps,
            entries: HashMap::new(),
            order: HashMap::new(),
        }
    }

    pub fn insert(&mut self, key: Digest, tenant: &str, value: V) {
        self.remove(&key);
        let held = self.order.get(tenant).map_or(0, VecDeque::len);
        if held >= self.caps.per_tenant.max(1) {
            self.evict_oldest(tenant);
        }
        if self.entries.len() >= self.caps.global.max(1) {
            let largest = self.order.iter().max_by_key(|(_, keys)| keys.len());
            if let Some(largest) = largest.map(|(tenant, _)| tenant.clone()) {
                self.evict_oldest(&largest);
            }
        }
        self.push(key, tenant, value);
    }

    /// Inserts unless a cap is held by entries `live` says must stay: expired ones make room
    /// first, a live one never does. False when the entry was refused.
    pub fn insert_unless_full(
        &mut self,
        key: Digest,
        tenant: &str,
        value: V,
        live: impl Fn(&V) -> bool,
    ) -> bool {
        self.remove(&key);
        let held = |map: &Self| map.order.get(tenant).map_or(0, VecDeque::len);
        if held(self) >= self.caps.per_tenant.max(1) {
            self.retain_tenant(tenant, &live);
            if held(self) >= self.caps.per_tenant.max(1) {
                return false;
            }
        }
        if self.entries.len() >= self.caps.global.max(1) {
            self.retain(&live);
            if self.entries.len() >= self.caps.global.max(1) {
                return false;
            }
        }
        self.push(key, tenant, value);
        true
    }

    /// Appends an entry as its tenant's newest; the caller has made room.
    fn push(&mut self, key: Digest, tenant: &str, value: V) {
        self.order
            .entry(tenant.to_owned())
            .or_default()
            .push_back(key);
        self.entries.insert(key, (tenant.to_owned(), value));
    }

    fn retain_tenant(&mut self, tenant: &str, live: impl Fn(&V) -> bool) {
        let Some(keys) = self.order.get_mut(tenant) else {
            return;
        };
        let entries = &mut self.entries;
        keys.retain(|key| {
            let keep = entries.get(key).is_some_and(|(_, value)| live(value));
            if !keep {
                entries.remove(key);
            }
            keep
        });
        if keys.is_empty() {
            self.order.remove(tenant);
        }
    }

    pub fn get(&self, key: &Digest) -> Option<&V> {
        self.entries.get(key).map(|(_, value)| value)
    }

    pub fn get_mut(&mut self, key: &Digest) -> Option<&mut V> {
        self.entries.get_mut(key).map(|(_, value)| value)
    }

    pub fn remove(&mut self, key: &Digest) -> Option<V> {
        let (tenant, value) = self.entries.remove(key)?;
        if let Some(keys) = self.order.get_mut(&tenant) {
            keys.retain(|k| k != key);
            if keys.is_empty() {
                self.order.remove(&tenant);
            }
        }
        Some(value)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&V) -> bool) {
        self.entries.retain(|_, (_, value)| keep(value));
        let entries = &self.entries;
        self.order.retain(|_, keys| {
            keys.retain(|k| entries.contains_key(k));
            !keys.is_empty()
        });
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn evict_oldest(&mut self, tenant: &str) {
        let oldest = self.order.get_mut(tenant).and_then(VecDeque::pop_front);
        if let Some(oldest) = oldest {
            self.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::digest::digest;

    fn fill(map: &mut Bounded<u32>, tenant: &str, n: u32) {
        for i in 0..n {
            map.insert(digest(&format!("{tenant}{i}")), tenant, i);
        }
    }

    #[test]
    fn a_tenant_over_its_cap_loses_its_oldest_entries_only() {
        let mut map = Bounded::new(Caps {
            per_tenant: 3,
            global: 100,
        });
        fill(&mut map, "b", 2);
        fill(&mut map, "a", 10);
        assert_eq!(map.len(), 5);
        assert!(map.get(&digest("a6")).is_none(), "oldest evicted");
        assert_eq!(map.get(&digest("a9")), Some(&9));
        assert_eq!(map.get(&digest("b0")), Some(&0), "another tenant untouched");
    }

    #[test]
    fn a_refusing_map_drops_only_expired_entries_and_refuses_while_all_are_live() {
        let mut map = Bounded::new(Caps {
            per_tenant: 3,
            global: 5,
        });
        let live = |v: &u32| *v >= 10;
        for (i, v) in [1, 10, 11].into_iter().enumerate() {
            assert!(map.insert_unless_full(digest(&format!("a{i}")), "a", v, live));
        }
        // a0 (1) has expired: it makes room; then a's three are live and a fourth is refused.
        assert!(map.insert_unless_full(digest("a3"), "a", 12, live));
        assert!(map.get(&digest("a0")).is_none());
        assert!(!map.insert_unless_full(digest("a4"), "a", 13, live));
        assert_eq!(map.get(&digest("a1")), Some(&10), "no live entry evicted");
        // The global cap: b fits twice, then everything held is live.
        assert!(map.insert_unless_full(digest("b0"), "b", 10, live));
        assert!(map.insert_unless_full(digest("b1"), "b", 10, live));
        assert!(!map.insert_unless_full(digest("c0"), "c", 10, live));
        assert_eq!(map.len(), 5);
    }

    #[test]
    fn at_the_global_cap_the_largest_tenant_gives_way() {
        let mut map = Bounded::new(Caps {
            per_tenant: 100,
            global: 6,
        });
        fill(&mut map, "b", 2);
        fill(&mut map, "a", 10);
        assert_eq!(map.len(), 6);
        assert!(map.get(&digest("b0")).is_some() && map.get(&digest("b1")).is_some());
        map.remove(&digest("a9"));
        map.retain(|&v| v != 8);
        assert_eq!(map.len(), 4);
    }
}
