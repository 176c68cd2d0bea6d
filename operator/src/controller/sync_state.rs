//! What each region last reported about the tenants it serves, shared between the region
//! controller (the writer) and the tenant controller (which turns it into Tenant status).
//!
//! In memory only: after a restart every region reconciles before any tenant can conclude
//! anything from it, so nothing is lost that the next resync does not rebuild.

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;

use crate::edge::region::RegionError;
use crate::status::report::{RegionSync, TenantReport};

#[derive(Debug, Default)]
pub struct SyncState(RwLock<HashMap<String, RegionSync>>);

impl SyncState {
    /// Records a region's outcome; returns the tenants whose entry changed (including those
    /// that left), so their status can be recomputed.
    pub fn record(&self, region: &str, outcome: RegionSync) -> BTreeSet<String> {
        let mut regions = self.0.write().expect("sync state lock");
        // Compared in place, then moved in: a region's report holds every tenant it serves,
        // and a copy of it per pass was megabytes at 10,000 tenants.
        let none = RegionSync::default();
        let previous = regions.get(region).unwrap_or(&none);
        let error_changed = previous.error != outcome.error;
        let names: BTreeSet<&String> = previous
            .tenants
            .keys()
            .chain(outcome.tenants.keys())
            .collect();
        let changed = names
            .into_iter()
            .filter(|name| {
                error_changed || previous.tenants.get(*name) != outcome.tenants.get(*name)
            })
            .cloned()
            .collect();
        regions.insert(region.to_owned(), outcome);
        changed
    }

    /// Marks a region unreachable (or otherwise failed) while keeping what it last served.
    pub fn record_error(&self, region: &str, error: RegionError) -> BTreeSet<String> {
        let tenants = self.region(region).map(|r| r.tenants).unwrap_or_default();
        self.record(
            region,
            RegionSync {
                error: Some(error),
                tenants,
            },
        )
    }

    pub fn region(&self, region: &str) -> Option<RegionSync> {
        self.0.read().expect("sync state lock").get(region).cloned()
    }

    /// What `region` last reported about one tenant: its error when the last sync failed, and
    /// the tenant's entry; `None` before the region reported at all. One lookup, where
    /// [`Self::region`] copies every tenant's entry: each tenant reconcile asks this of each of
    /// its regions, so a copy would make a pass over N tenants cost N².
    pub fn tenant(&self, region: &str, tenant: &str) -> Option<TenantReport> {
        let regions = self.0.read().expect("sync state lock");
        let sync = regions.get(region)?;
        Some(TenantReport {
            error: sync.error.clone(),
            entry: sync.tenants.get(tenant).cloned(),
        })
    }

    /// Forgets a deleted region; returns the tenants it served.
    pub fn remove(&self, region: &str) -> BTreeSet<String> {
        let removed = self.0.write().expect("sync state lock").remove(region);
        removed
            .map(|r| r.tenants.into_keys().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::report::TenantInRegion;

    fn serving(tenants: &[(&str, i64)]) -> RegionSync {
        RegionSync {
            error: None,
            tenants: tenants
                .iter()
                .map(|(n, g)| {
                    (
                        n.to_string(),
                        TenantInRegion {
                            generation: Some(*g),
                            problem: None,
                            serving: true,
                            revision: None,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn reports_only_tenants_that_changed() {
        let state = SyncState::default();
        assert_eq!(state.record("eu", serving(&[("a", 1), ("b", 1)])).len(), 2);
        assert!(
            state
                .record("eu", serving(&[("a", 1), ("b", 1)]))
                .is_empty()
        );
        let changed = state.record("eu", serving(&[("a", 2)]));
        assert_eq!(changed, BTreeSet::from(["a".to_string(), "b".to_string()]));
    }

    #[test]
    fn an_error_keeps_what_the_region_served_and_touches_its_tenants() {
        let state = SyncState::default();
        state.record("eu", serving(&[("a", 1)]));
        assert_eq!(
            state.record_error("eu", RegionError::Unreachable("down".into())),
            BTreeSet::from(["a".to_string()])
        );
        assert!(state.region("eu").unwrap().tenants.contains_key("a"));
        let report = state.tenant("eu", "a").unwrap();
        assert_eq!(report.error, Some(RegionError::Unreachable("down".into())));
        assert!(report.entry.is_some());
    }

    #[test]
    fn one_tenants_report_is_its_entry_or_none_and_nothing_before_the_region_reported() {
        let state = SyncState::default();
        assert_eq!(state.tenant("eu", "a"), None);
        state.record("eu", serving(&[("a", 3)]));
        let report = state.tenant("eu", "a").unwrap();
        assert_eq!(report.error, None);
        assert_eq!(report.entry.and_then(|e| e.generation), Some(3));
        assert_eq!(state.tenant("eu", "b").unwrap().entry, None);
    }
}
