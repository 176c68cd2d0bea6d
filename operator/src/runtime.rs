//! Runs the operator against a hub: caches of the hub's objects, then both controllers with
//! bounded concurrency, until shutdown. Used by the binary and, in-process, by the tests.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::channel::mpsc;
use futures::{FutureExt, Stream, StreamExt, stream};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::runtime::controller::Config as ControllerConfig;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::api::{AuthRegion, Tenant};
use crate::controller::{
    Context, error_policy, provision_key_rings, reconcile_region, reconcile_tenant,
};
use crate::duration::growing_with_tenants;
use crate::metrics::Metrics;
use crate::settings::Settings;

/// Regions reconciling at once: enough to keep regions independent, few enough to bound
/// memory (each holds what Meridian wrote in its region while it runs).
const REGION_CONCURRENCY: u16 = 8;
/// Tenants reconciling at once. A tenant's reconcile mostly waits (on its regions' JWKS, on
/// the hub), so more run at once than there are cores: in a cold start of 10,000 Tenants, 16
/// were busy all the time with the operator at 10-15% of one core, and a new Tenant's key ring
/// waited behind reconciles that only looked at what regions serve.
const TENANT_CONCURRENCY: u16 = 32;
/// kubectl's copy of what was last applied, kept in an annotation: a second copy of the
/// object, a Secret's data included.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The longest a region's reconcile waits behind a burst of hub changes, and so at most one
/// pass over its tenants per window while the burst lasts. Each pass may rewrite the region's
/// shards (and its pods reload them): at one second a cold start of 1,000 Tenants in 3
/// regions made 14,187 writes, at five 12,939, in the same time. A pass costs what the region
/// holds, so the window grows with the Tenants, by [`REGION_TRIGGER_WINDOW_PER_1000`]: at
/// 10,000 a 5 s window rewrote every shard of every region every pass, for minutes.
const REGION_TRIGGER_WINDOW: Duration = Duration::from_secs(5);
const REGION_TRIGGER_WINDOW_PER_1000: Duration = Duration::from_secs(1);
const REGION_TRIGGER_WINDOW_LONGEST: Duration = Duration::from_secs(20);

fn region_window(tenants: usize) -> Duration {
    growing_with_tenants(
        REGION_TRIGGER_WINDOW,
        REGION_TRIGGER_WINDOW_PER_1000,
        tenants,
        REGION_TRIGGER_WINDOW_LONGEST,
    )
}

/// Runs both controllers until `shutdown` resolves (for example on SIGTERM), then finishes
/// the reconciles in flight.
pub async fn run(
    hub: Client,
    settings: Settings,
    metrics: Metrics,
    ready: Arc<AtomicBool>,
    shutdown: watch::Receiver<bool>,
) {
    let (trigger_regions, region_triggers) = mpsc::unbounded::<()>();
    let (tenant_trigger, tenant_triggers) = mpsc::unbounded();
    let regions_on_tenants = trigger_regions.clone();
    let tenants_on_tenants = tenant_trigger.clone();
    let tenants = cache(
        Api::<Tenant>::all(hub.clone()),
        |tenant: &Tenant| reconcile_inputs(tenant),
        move |tenant: &Tenant| {
            let _ = regions_on_tenants.unbounded_send(());
            let _ = tenants_on_tenants.unbounded_send(ObjectRef::from_obj(tenant));
        },
        shutdown.clone(),
    );
    let regions_on_regions = trigger_regions.clone();
    let regions = cache(
        Api::<AuthRegion>::all(hub.clone()),
        |region: &AuthRegion| reconcile_inputs(region),
        move |_: &AuthRegion| {
            let _ = regions_on_regions.unbounded_send(());
        },
        shutdown.clone(),
    );
    let secrets = cache(
        Api::<Secret>::namespaced(hub.clone(), &settings.namespace),
        |secret: &Secret| hash(&secret.metadata.resource_version),
        move |_: &Secret| {
            let _ = trigger_regions.unbounded_send(());
        },
        shutdown.clone(),
    );
    // Never reconcile from an empty cache: a region rendered before its tenants are known
    // would be swept bare.
    let caches_ready = futures::try_join!(
        tenants.wait_until_ready(),
        regions.wait_until_ready(),
        secrets.wait_until_ready()
    );
    if caches_ready.is_err() {
        return;
    }
    let reporter = Reporter {
        controller: "meridian-operator".into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let ctx = Arc::new(Context::new(
        hub.clone(),
        settings,
        tenants.clone(),
        regions.clone(),
        secrets,
        Recorder::new(hub.clone(), reporter),
        metrics,
        tenant_trigger,
    ));
    ready.store(true, Ordering::Relaxed);
    let provisioning = tokio::select! {
        provisioned = provision_key_rings(&ctx) => Some(provisioned),
        () = stopped(shutdown.clone()) => None,
    };
    match provisioning {
        None => return,
        Some(0) => {}
        Some(provisioned) => tracing::info!(provisioned, "key rings provisioned"),
    }
    let config = ControllerConfig::default().debounce(Duration::from_millis(200));
    // Both controllers reconcile from the caches above, triggered by what changes in them:
    // one watch per kind, one copy of each object.
    let tenant_count = tenants.clone();
    let region_controller = Controller::for_stream(stream::pending(), regions)
        .with_config(config.clone().concurrency(REGION_CONCURRENCY))
        .reconcile_all_on(throttle(region_triggers, move || {
            region_window(tenant_count.len())
        }))
        .graceful_shutdown_on(stopped(shutdown.clone()))
        .run(reconcile_region, error_policy::<AuthRegion>, ctx.clone())
        .for_each(|_| async {});
    let tenant_controller = Controller::for_stream(stream::pending(), tenants)
        .with_config(config.concurrency(TENANT_CONCURRENCY))
        .reconcile_on(tenant_triggers)
        .graceful_shutdown_on(stopped(shutdown))
        .run(reconcile_tenant, error_policy::<Tenant>, ctx)
        .for_each(|_| async {});
    futures::join!(region_controller, tenant_controller);
}

/// What a Tenant's or AuthRegion's reconcile depends on apart from its status and finalizers: a
/// status write (every reconcile of a cold start makes one) changes none of it, so it triggers
/// nothing. At 10,000 Tenants each status write asked every region for a pass over all of them.
/// The reconcile that adds the finalizer applies at once, so the finalizer need not trigger one.
fn reconcile_inputs<K: Resource>(object: &K) -> u64 {
    let meta = object.meta();
    hash(&(
        &meta.uid,
        meta.generation,
        &meta.labels,
        &meta.annotations,
        &meta.deletion_timestamp.as_ref().map(|t| t.0.as_second()),
    ))
}

fn hash(value: &impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// A reflector of `api` that calls `on_change` for every object whose `version` changed
/// (deletions included). Managed fields and kubectl's last-applied copy are dropped before
/// caching: the operator reads neither, and at 10,000 Tenants they were most of its memory.
fn cache<K>(
    api: Api<K>,
    version: impl Fn(&K) -> u64 + Send + 'static,
    on_change: impl Fn(&K) + Send + 'static,
    shutdown: watch::Receiver<bool>,
) -> Store<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let objects = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(|object: &mut K| {
            object.managed_fields_mut().clear();
            object.annotations_mut().remove(LAST_APPLIED);
        });
    let events = reflector::reflector(writer, objects);
    // The watch ends with the operator, not with the process: tests start and stop operators.
    tokio::spawn(async move {
        tokio::select! {
            () = forward(events, version, on_change) => {}
            () = stopped(shutdown) => {}
        }
    });
    reader
}

async fn forward<K: Resource<DynamicType = ()>>(
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
    version: impl Fn(&K) -> u64,
    on_change: impl Fn(&K),
) {
    let mut seen = HashMap::<ObjectRef<K>, u64>::new();
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                let current = version(&object);
                if seen.insert(ObjectRef::from_obj(&object), current) != Some(current) {
                    on_change(&object);
                }
            }
            Ok(watcher::Event::Delete(object)) => {
                seen.remove(&ObjectRef::from_obj(&object));
                on_change(&object);
            }
            Ok(watcher::Event::Init | watcher::Event::InitDone) => {}
            Err(error) => tracing::warn!(%error, "watch of the hub interrupted; retrying"),
        }
    }
}

/// Passes the first trigger at once and then at most one per `window`: triggers that arrive
/// within it are folded into one at its end. The controller's debounce alone keeps delaying a
/// reconcile for as long as triggers keep coming, and on a hub where thousands of Tenants get
/// their key rings and statuses at once they come for minutes: every region would wait for
/// the whole burst to end before serving any of them.
fn throttle<S>(
    mut triggers: S,
    window: impl Fn() -> Duration + Send + 'static,
) -> mpsc::UnboundedReceiver<()>
where
    S: Stream<Item = ()> + Send + Unpin + 'static,
{
    let (send, throttled) = mpsc::unbounded();
    tokio::spawn(async move {
        let mut open_at = tokio::time::Instant::now();
        while triggers.next().await.is_some() {
            tokio::time::sleep_until(open_at).await;
            while let Some(Some(())) = triggers.next().now_or_never() {}
            if send.unbounded_send(()).is_err() {
                return;
            }
            open_at = tokio::time::Instant::now() + window();
        }
    });
    throttled
}

/// Resolves once `shutdown` turns true (or its sender is gone).
pub async fn stopped(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_waits_longer_between_passes_the_more_tenants_it_has() {
        assert_eq!(region_window(0), Duration::from_secs(5));
        assert_eq!(region_window(1_000), Duration::from_secs(6));
        assert_eq!(region_window(10_000), Duration::from_secs(15));
        assert_eq!(region_window(100_000), Duration::from_secs(20));
    }

    /// Triggers passed on so far, without waiting for more.
    fn passed(throttled: &mut mpsc::UnboundedReceiver<()>) -> usize {
        std::iter::from_fn(|| throttled.next().now_or_never().flatten()).count()
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_triggers_reaches_the_regions_once_per_window_not_after_it_ends() {
        let (send, triggers) = mpsc::unbounded();
        let mut throttled = throttle(triggers, || Duration::from_secs(1));
        send.unbounded_send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(
            passed(&mut throttled),
            1,
            "the first trigger passes at once"
        );

        // A trigger every 100 ms for 3 s: a debounce would pass none until it stops.
        for _ in 0..30 {
            send.unbounded_send(()).unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            passed(&mut throttled),
            3,
            "one per second while the burst lasts"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            passed(&mut throttled),
            0,
            "nothing is left over once it is quiet"
        );

        drop(send);
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(throttled.next().await, None, "ends with its triggers");
    }
}
