//! The AuthRegion controller: converges one region cluster on the desired state of every
//! Tenant placed there. Regions reconcile independently, so an unreachable or failing region
//! never blocks another; a failure keeps whatever the region already serves.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};

use super::publish::publish_status;
use super::renders::Rendered;
use super::retry::retry_key;
use super::select::{Selection, select};
use super::{Context, FINALIZER, ReconcileError, finalizer_to_add, now};
use crate::api::{AuthRegion, Tenant};
use crate::edge::hub::{hub_inputs, inputs_version};
use crate::edge::region::{
    RegionError, apply_region, check_store, delete_region, observe_region, observe_region_files,
    probe,
};
use crate::render::{TenantFiles, TenantInputs, desired_region_sized, tenant_files};
use crate::status::region::{Converged, region_status};
use crate::status::report::{RegionSync, TenantProblem};

/// How long after writing a region its tenants look at what it serves. Files just written are
/// not served yet (the kubelet has to project them, the auth-server to reload them): looking at
/// once cost every tenant a reconcile and a status write that only said "not yet".
const SERVING_DELAY: Duration = Duration::from_secs(3);

pub async fn reconcile(
    region: Arc<AuthRegion>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let name = region.name_any();
    let key = retry_key(region.as_ref());
    let timer = ctx.metrics.start("region", &name);
    let api = Api::<AuthRegion>::all(ctx.hub.clone());
    let with_finalizer = finalizer_to_add(region.as_ref());
    let result = finalizer(&api, FINALIZER, region, |event| async {
        match event {
            FinalizerEvent::Apply(region) => apply(&region, &ctx).await,
            FinalizerEvent::Cleanup(region) => cleanup(&region, &ctx).await,
        }
    })
    .await
    .map_err(ReconcileError::from);
    let result = match (result, with_finalizer) {
        (Ok(_), Some(region)) => apply(&region, &ctx).await,
        (other, _) => other,
    };
    timer.finish(result.as_ref().err().map(ReconcileError::reason));
    if result.is_ok() {
        ctx.retries.succeeded(&key);
    }
    result
}

async fn apply(region: &AuthRegion, ctx: &Context) -> Result<Action, ReconcileError> {
    let name = region.name_any();
    let outcome = converge(region, ctx).await;
    match &outcome {
        Ok(converged) => {
            let changed = ctx.sync.record(&name, converged.sync.clone());
            if converged.wrote {
                ctx.trigger_tenants_after(changed, SERVING_DELAY);
            } else {
                ctx.trigger_tenants(&changed);
            }
        }
        Err(error) => ctx.trigger_tenants(&ctx.sync.record_error(&name, error.clone())),
    }
    update_status(region, ctx, &outcome).await?;
    // A failure goes to the error policy, which retries with backoff and counts it by reason.
    outcome?;
    Ok(Action::requeue(ctx.settings.resync))
}

/// Reads, renders and applies. Every early return leaves the region as it was.
async fn converge(region: &AuthRegion, ctx: &Context) -> Result<Converged, RegionError> {
    let name = region.name_any();
    let client = ctx.region_clients.client(region, &ctx.secrets).await?;
    probe(&client).await?;
    let namespace = region.spec.namespace.as_str();
    let tenants = ctx.tenants.state();
    if region.spec.paused {
        return Ok(Converged::paused(region_sync_unchanged(ctx, &name)));
    }
    // Pods rolled out without their store's Secret could not start: keep what runs instead.
    check_store(&client, namespace, &region.spec.auth_server.store).await?;
    let observed = observe_region(&client, &name, namespace).await?;
    let choose = |last_good: &dyn Fn(&str) -> TenantFiles| {
        select(
            &name,
            &region.spec,
            tenants.iter().map(AsRef::as_ref),
            last_good,
            |tenant, tenant_name| render_tenant(tenant, tenant_name, ctx),
        )
    };
    // The region's files are read only when a tenant has to fall back on them; renders are
    // remembered, so choosing again costs little.
    let needs_last_good = Cell::new(false);
    let mut selection = choose(&|_| {
        needs_last_good.set(true);
        TenantFiles::default()
    });
    if needs_last_good.get() {
        let files = observe_region_files(&client, &name, namespace).await?;
        selection = choose(&|tenant| files.last_good(tenant));
    }
    let Selection {
        placed,
        sync,
        shared_expected,
    } = selection;
    ctx.renders
        .retain(|tenant| ctx.tenants.get(&ObjectRef::new(tenant)).is_some());
    let jwks_max_age = u32::try_from(ctx.settings.jwks_max_age.as_secs()).unwrap_or(u32::MAX);
    let desired = desired_region_sized(&name, &region.spec, &placed, jwks_max_age, shared_expected);
    let report = apply_region(&client, &name, &desired, &observed, &ctx.apply_cache).await?;
    let (ready, wanted) = observed.replicas(&desired);
    Ok(Converged {
        sync,
        placed: placed.len(),
        wrote: report.wrote(),
        ready_replicas: ready,
        desired_replicas: wanted,
        paused: false,
    })
}

fn region_sync_unchanged(ctx: &Context, region: &str) -> RegionSync {
    ctx.sync
        .region(region)
        .map(|mut sync| {
            sync.error = None;
            sync
        })
        .unwrap_or_default()
}

/// A tenant's files from the hub's current inputs, or why they cannot be made; rendered again
/// only when those inputs changed.
fn render_tenant(tenant: &Tenant, name: &str, ctx: &Context) -> Rendered {
    let namespace = &ctx.settings.namespace;
    let version = inputs_version(tenant, name, &ctx.secrets, namespace);
    ctx.renders.get_or_render(name, version, || {
        render_afresh(tenant, name, ctx).map(Arc::new)
    })
}

fn render_afresh(tenant: &Tenant, name: &str, ctx: &Context) -> Result<TenantFiles, TenantProblem> {
    let inputs = hub_inputs(tenant, name, &ctx.secrets, &ctx.settings.namespace)?;
    let inputs = TenantInputs {
        tenant,
        name,
        key_ring: &inputs.key_ring,
        client_secrets: &inputs.client_secrets,
        users: inputs.users.as_ref(),
    };
    Ok(tenant_files(inputs, &ctx.settings)?)
}

async fn update_status(
    region: &AuthRegion,
    ctx: &Context,
    outcome: &Result<Converged, RegionError>,
) -> Result<(), ReconcileError> {
    let previous = region.status.clone().unwrap_or_default();
    let status = region_status(region, outcome, &now());
    publish_status(ctx, region, &previous, &status, |s| &s.conditions).await
}

/// The region is being deleted: remove everything Meridian wrote there, then let it go.
async fn cleanup(region: &AuthRegion, ctx: &Context) -> Result<Action, ReconcileError> {
    let name = region.name_any();
    let removed = match ctx.region_clients.client(region, &ctx.secrets).await {
        Ok(client) => delete_region(&client, &name, &region.spec.namespace).await,
        Err(error) => Err(error),
    };
    match removed {
        Ok(true) => {
            ctx.region_clients.forget(&name);
            let served = ctx.sync.remove(&name);
            ctx.trigger_tenants(&served);
            ctx.event(
                &region.object_ref(&()),
                false,
                "CleanedUp",
                format!("removed every object Meridian wrote in region {name}"),
            )
            .await;
            Ok(Action::await_change())
        }
        // Objects are going (a namespace terminating); look again shortly.
        Ok(false) => Err(ReconcileError::CleanupPending(format!(
            "objects of region {name} are still being deleted"
        ))),
        Err(error) => {
            let message =
                format!("cannot remove objects from region {name} yet, will retry: {error}");
            let outcome: Result<Converged, RegionError> =
                Err(RegionError::Unreachable(message.clone()));
            update_status(region, ctx, &outcome).await?;
            ctx.event(
                &region.object_ref(&()),
                true,
                "CleanupBlocked",
                message.clone(),
            )
            .await;
            Err(ReconcileError::CleanupPending(message))
        }
    }
}
