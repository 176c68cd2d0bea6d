//! The Tenant controller: keeps the tenant's key ring in the hub (created once) and turns what
//! the regions report into Tenant status. It never writes to a region: the region controller
//! does, so a tenant can never block a region or another tenant.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::api::DeleteParams;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};

use super::publish::publish_status;
use super::rotate::rotate;
use super::tenant_status::{RegionFact, TenantFacts, tenant_status};
use super::{Context, FINALIZER, ReconcileError, now, unix_now};
use crate::api::Tenant;
use crate::hub::{ensure_key_ring, key_ring_secret_name};
use crate::render::{Placement, issuer, placement};

pub async fn reconcile(tenant: Arc<Tenant>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let timer = ctx.metrics.start("tenant", "");
    let api = Api::<Tenant>::all(ctx.hub.clone());
    let result = finalizer(&api, FINALIZER, tenant, |event| async {
        match event {
            FinalizerEvent::Apply(tenant) => apply(&tenant, &ctx).await,
            FinalizerEvent::Cleanup(tenant) => cleanup(&tenant, &ctx).await,
        }
    })
    .await
    .map_err(ReconcileError::from);
    timer.finish(result.as_ref().err().map(ReconcileError::reason));
    result
}

async fn apply(tenant: &Tenant, ctx: &Context) -> Result<Action, ReconcileError> {
    let name = tenant.name_any();
    let alg = tenant.spec.signing.algorithm;
    let cached = ctx
        .secrets
        .get(&ObjectRef::new(&key_ring_secret_name(&name)).within(&ctx.settings.namespace));
    if cached.is_none() && !still_live(tenant, ctx).await? {
        // A stale cache entry of a Tenant already deleted: creating keys now would leak them.
        return Ok(Action::await_change());
    }
    let now = unix_now();
    let issuer = issuer(&name, &tenant.spec, &ctx.settings);
    let regions = region_facts(tenant, &name, ctx);
    let keys = ensure_key_ring(
        &ctx.hub,
        &ctx.settings.namespace,
        &name,
        alg,
        now,
        cached.as_deref(),
    )
    .await;
    let (rotated, key_error) = match &keys {
        Ok((stored, created)) => {
            if *created {
                let kid = &stored.ring.keys[0].kid;
                ctx.event(
                    &tenant.object_ref(&()),
                    false,
                    "KeyRingCreated",
                    format!("created signing key {kid} ({alg:?})"),
                )
                .await;
            }
            (
                Some(rotate(tenant, &name, &issuer, stored, &regions, ctx, now).await?),
                None,
            )
        }
        Err(error) => (None, Some(error.to_string())),
    };
    let facts = TenantFacts {
        issuer,
        keys: rotated
            .as_ref()
            .map(|r| &r.ring)
            .ok_or(key_error.unwrap_or_default()),
        regions,
        lagging: rotated
            .as_ref()
            .map(|r| r.lagging.clone())
            .unwrap_or_default(),
        published: rotated
            .as_ref()
            .map(|r| r.published.clone())
            .unwrap_or_default(),
        now,
    };
    update_status(tenant, ctx, &facts).await?;
    Ok(Action::requeue(
        rotated.map_or(ctx.settings.resync, |r| r.wake_in),
    ))
}

/// Whether the API server still has this Tenant (same uid) and it is not being deleted.
async fn still_live(tenant: &Tenant, ctx: &Context) -> Result<bool, ReconcileError> {
    let current = Api::<Tenant>::all(ctx.hub.clone())
        .get_opt(&tenant.name_any())
        .await
        .map_err(ReconcileError::Hub)?;
    Ok(current.is_some_and(|t| {
        t.metadata.uid == tenant.metadata.uid && t.metadata.deletion_timestamp.is_none()
    }))
}

/// What each listed region says about the tenant.
fn region_facts(tenant: &Tenant, name: &str, ctx: &Context) -> Vec<(String, RegionFact)> {
    tenant
        .spec
        .regions
        .iter()
        .map(|region_name| {
            let fact = match ctx.regions.get(&ObjectRef::new(region_name)) {
                None => RegionFact::Missing,
                Some(region) => match placement(&tenant.spec, region_name, &region.spec) {
                    Placement::ResidencyExcluded { jurisdiction } => {
                        RegionFact::Excluded { jurisdiction }
                    }
                    _ => match ctx.sync.region(region_name) {
                        None => RegionFact::Pending,
                        Some(sync) => match (sync.error, sync.tenants.get(name)) {
                            (Some(error), _) => RegionFact::Failing(error),
                            (None, Some(entry)) => RegionFact::Reported(entry.clone()),
                            (None, None) => RegionFact::Pending,
                        },
                    },
                },
            };
            (region_name.clone(), fact)
        })
        .collect()
}

async fn update_status(
    tenant: &Tenant,
    ctx: &Context,
    facts: &TenantFacts<'_>,
) -> Result<(), ReconcileError> {
    let previous = tenant.status.clone().unwrap_or_default();
    let status = tenant_status(tenant, facts, &now());
    publish_status(ctx, tenant, &previous, &status, |s| &s.conditions).await
}

/// The tenant is being deleted: wait until no region serves it any more, then drop its keys.
/// A region that has not reported since the operator started counts as still serving it.
async fn cleanup(tenant: &Tenant, ctx: &Context) -> Result<Action, ReconcileError> {
    let name = tenant.name_any();
    let waiting: Vec<String> = ctx
        .regions
        .state()
        .iter()
        .map(|region| region.name_any())
        .filter_map(|region| match ctx.sync.region(&region) {
            None => Some(format!("{region} (not yet reconciled)")),
            Some(sync) => match (sync.tenants.get(&name), sync.error) {
                (Some(entry), error) if entry.serving => Some(match error {
                    Some(error) => format!("{region} (unreachable, retrying: {error})"),
                    None => region,
                }),
                _ => None,
            },
        })
        .collect();
    if !waiting.is_empty() {
        return Err(ReconcileError::CleanupPending(format!(
            "tenant {name} is still served by {}",
            waiting.join(", ")
        )));
    }
    let secrets = Api::<Secret>::namespaced(ctx.hub.clone(), &ctx.settings.namespace);
    match secrets
        .delete(&key_ring_secret_name(&name), &DeleteParams::default())
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(error) => return Err(ReconcileError::Hub(error)),
    }
    tracing::info!(tenant = %name, "removed from every region; key ring deleted");
    Ok(Action::await_change())
}
