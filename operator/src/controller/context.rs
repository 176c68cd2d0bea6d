//! What every reconcile shares: the hub client, caches of the hub's objects, region clients,
//! the sync state between the two controllers, Events and metrics.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::api::core::v1::{ObjectReference, Secret};
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::reflector::{ObjectRef, Store};
use meridian_contract::UnixSeconds;

use super::SyncState;
use super::renders::TenantRenders;
use super::retry::Retries;
use crate::api::{AuthRegion, Tenant};
use crate::edge::jwks::JwksFetcher;
use crate::edge::region::{ApplyCache, RegionClients};
use crate::metrics::Metrics;
use crate::settings::Settings;

pub struct Context {
    pub hub: Client,
    pub settings: Settings,
    pub tenants: Store<Tenant>,
    pub regions: Store<AuthRegion>,
    /// Secrets of the operator's namespace only.
    pub secrets: Store<Secret>,
    pub region_clients: RegionClients,
    pub apply_cache: ApplyCache,
    /// Each tenant's files as last rendered, shared by the regions.
    pub renders: TenantRenders,
    pub sync: SyncState,
    pub recorder: Recorder,
    pub metrics: Metrics,
    pub jwks: JwksFetcher,
    /// Asks the tenant controller to recompute a Tenant's status.
    pub tenant_trigger: UnboundedSender<ObjectRef<Tenant>>,
    pub retries: Retries,
    /// When this operator started: a Tenant older than that has waited for no one yet.
    pub started_at: UnixSeconds,
}

impl Context {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        hub: Client,
        settings: Settings,
        tenants: Store<Tenant>,
        regions: Store<AuthRegion>,
        secrets: Store<Secret>,
        recorder: Recorder,
        metrics: Metrics,
        tenant_trigger: UnboundedSender<ObjectRef<Tenant>>,
    ) -> Self {
        let region_clients = RegionClients::new(hub.clone(), &settings.namespace);
        Self {
            hub,
            settings,
            tenants,
            regions,
            secrets,
            region_clients,
            apply_cache: ApplyCache::default(),
            renders: TenantRenders::default(),
            sync: SyncState::default(),
            recorder,
            metrics,
            jwks: JwksFetcher::default(),
            tenant_trigger,
            retries: Retries::default(),
            started_at: super::unix_now(),
        }
    }

    pub fn trigger_tenants<'a>(&self, names: impl IntoIterator<Item = &'a String>) {
        for name in names {
            // A closed channel means the operator is shutting down; nothing to recompute then.
            let _ = self.tenant_trigger.unbounded_send(ObjectRef::new(name));
        }
    }

    /// [`Self::trigger_tenants`] once `delay` has passed.
    pub fn trigger_tenants_after(&self, names: BTreeSet<String>, delay: Duration) {
        let trigger = self.tenant_trigger.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            for name in names {
                let _ = trigger.unbounded_send(ObjectRef::new(&name));
            }
        });
    }

    /// Publishes an Event; a failure to publish is logged, never fatal to a reconcile.
    pub async fn event(&self, object: &ObjectReference, warning: bool, reason: &str, note: String) {
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.to_owned(),
            note: Some(within_note_limit(note)),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(error) = self.recorder.publish(&event, object).await {
            tracing::warn!(%error, reason, "could not publish Event");
        }
    }
}

/// The API server refuses an Event whose note is longer than 1024 characters; a longer one is
/// cut there, marked by an ellipsis, rather than lost.
fn within_note_limit(mut note: String) -> String {
    const LIMIT: usize = 1024;
    if note.chars().count() > LIMIT {
        note = note.chars().take(LIMIT - 1).collect();
        note.push('…');
    }
    note
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_note_is_cut_to_what_the_api_server_accepts() {
        assert_eq!(within_note_limit("short".into()), "short");
        let cut = within_note_limit("é".repeat(2000));
        assert_eq!(cut.chars().count(), 1024);
        assert!(cut.ends_with('…'));
    }
}
