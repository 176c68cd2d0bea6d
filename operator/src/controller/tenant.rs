//! The Tenant controller: keeps the tenant's key ring in the hub (created once) and turns what
//! the regions report, and what each serves at its public URL, into Tenant status. It never
//! writes to a region: the region controller does, so a tenant can never block a region or
//! another tenant.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::DeleteParams;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};

use super::publish::publish_status;
use super::retry::retry_key;
use super::{Context, FINALIZER, ReconcileError, finalizer_to_add, now, unix_now};
use crate::api::{Tenant, TenantRegionStatus, TenantStatus};
use crate::edge::hub::{ensure_key_ring, key_ring_secret_name};
use crate::edge::jwks::{ServedJwks, jwks_url};
use crate::render::{Placement, issuer, placement};
use crate::rotation::drive::rotate;
use crate::status::serving::{NOT_SERVED, is_served, overdue_events};
use crate::status::tenant::{
    RegionFact, TenantFacts, first_status_due, first_status_hold, tenant_status,
};

/// How soon a tenant not yet served where it was written looks again, so Ready follows within
/// seconds; [`recheck_in`] stretches it, up to the longest, while the wait goes on.
const NOT_SERVED_RECHECK: Duration = Duration::from_secs(3);
const NOT_SERVED_RECHECK_LONGEST: Duration = Duration::from_secs(15);

pub async fn reconcile(tenant: Arc<Tenant>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let key = retry_key(tenant.as_ref());
    let timer = ctx.metrics.start("tenant", "");
    let api = Api::<Tenant>::all(ctx.hub.clone());
    let with_finalizer = finalizer_to_add(tenant.as_ref());
    let result = finalizer(&api, FINALIZER, tenant, |event| async {
        match event {
            FinalizerEvent::Apply(tenant) => apply(&tenant, &ctx, false).await,
            FinalizerEvent::Cleanup(tenant) => cleanup(&tenant, &ctx).await,
        }
    })
    .await
    .map_err(ReconcileError::from);
    let result = match (result, with_finalizer) {
        // The patch that added it found the Tenant live: no need to ask again.
        (Ok(_), Some(tenant)) => apply(&tenant, &ctx, true).await,
        (other, _) => other,
    };
    timer.finish(result.as_ref().err().map(ReconcileError::reason));
    if result.is_ok() {
        ctx.retries.succeeded(&key);
    }
    result
}

/// Key rings made at once by [`provision_key_rings`]: each is a finalizer patch and a Secret
/// create on the hub, so this bounds the hub writes in flight rather than the operator's work.
const PROVISION_CONCURRENCY: usize = 32;

/// Gives every live Tenant that has no key ring yet its finalizer and key ring, before either
/// controller starts. A cold start of 10,000 Tenants otherwise created them in the tenant
/// controller's turn, among reconciles that looked at what regions serve: key rings came in
/// over minutes, and every region pass rewrote every shard for the few hundred new ones. Made
/// first, the regions' first pass holds every tenant. An operator restart finds them all and
/// waits for nothing. Returns how many Tenants it reconciled.
pub async fn provision_key_rings(ctx: &Arc<Context>) -> usize {
    let missing: Vec<Arc<Tenant>> = ctx
        .tenants
        .state()
        .into_iter()
        .filter(|tenant| tenant.meta().deletion_timestamp.is_none())
        .filter(|tenant| cached_key_ring(ctx, &tenant.name_any()).is_none())
        .collect();
    let count = missing.len();
    futures::stream::iter(missing)
        .for_each_concurrent(PROVISION_CONCURRENCY, |tenant| async move {
            let name = tenant.name_any();
            // A failure is the tenant controller's to retry, with its backoff and its status.
            if let Err(error) = reconcile(tenant, ctx.clone()).await {
                tracing::warn!(tenant = %name, %error, "key ring not provisioned; the tenant controller retries");
            }
        })
        .await;
    count
}

/// The tenant's key ring Secret as the operator's cache holds it.
fn cached_key_ring(ctx: &Context, tenant: &str) -> Option<Arc<Secret>> {
    let name = key_ring_secret_name(tenant);
    ctx.secrets
        .get(&ObjectRef::new(&name).within(&ctx.settings.namespace))
}

/// `live`: the API server just showed the Tenant live, so a missing key ring cannot be a stale
/// cache entry's.
async fn apply(tenant: &Tenant, ctx: &Context, live: bool) -> Result<Action, ReconcileError> {
    let name = tenant.name_any();
    let alg = tenant.spec.signing.algorithm;
    let cached = cached_key_ring(ctx, &name);
    if cached.is_none() && !live && !still_live(tenant, ctx).await? {
        // A stale cache entry of a Tenant already deleted: creating keys now would leak them.
        return Ok(Action::await_change());
    }
    let issuer = issuer(&name, &tenant.spec, &ctx.settings);
    let regions = region_facts(tenant, &name, ctx);
    // No region can serve a tenant before its first key ring: nothing to read there yet.
    let observed = match cached {
        Some(_) => observe(&regions, &issuer, ctx).await,
        None => BTreeMap::new(),
    };
    // Read after the JWKS, never before: a key seen everywhere counts as published from
    // `now`, and a resource server may have cached a JWKS without it until the moment it was
    // seen. A clock read before the fetches dated it up to their duration too early, and the
    // key could sign while such a cache was still fresh.
    let now = unix_now();
    let keys = ensure_key_ring(
        &ctx.hub,
        &ctx.settings.namespace,
        &name,
        alg,
        now,
        cached.as_deref(),
    )
    .await;
    let rotated = match &keys {
        Ok(stored) => {
            let kids = observed
                .iter()
                .map(|(region, seen)| (region.clone(), seen.kids.clone()))
                .collect();
            Ok(rotate(tenant, &name, stored, &kids, ctx, now).await?)
        }
        Err(error) => Err(error),
    };
    let facts = TenantFacts {
        issuer,
        keys: rotated.as_ref().map(|r| &r.ring).map_err(|error| *error),
        regions,
        lagging: rotated
            .as_ref()
            .map(|r| r.lagging.clone())
            .unwrap_or_default(),
        observed,
        served_within: ctx.settings.served_within,
        now,
    };
    let (status, published) = update_status(tenant, ctx, &facts).await?;
    let wake_in = rotated.as_ref().map_or(ctx.settings.resync, |r| r.wake_in);
    let placed = facts.regions.iter().zip(&status.regions);
    let placed = placed.filter(|((_, fact), _)| fact.is_placed());
    let recheck = recheck_in(placed.map(|(_, region)| region), now);
    // A first status held back has no notServedSince to count from: its wait counts from the
    // Tenant's creation, and it is looked at again even if no region reports meanwhile.
    let recheck = if published {
        recheck
    } else {
        Some(recheck_after(
            tenant.metadata.creation_timestamp.as_ref(),
            now,
        ))
    };
    Ok(Action::requeue(recheck.map_or(wake_in, |r| r.min(wake_in))))
}

/// How soon to look again at the regions that were given the tenant's files but do not serve
/// them yet: after 3 s, then after as long as the longest of them has waited so far, at most
/// 15 s. An idle region serves within seconds; in a cold start of thousands of Tenants a
/// region reloads for minutes, and looking at each waiting tenant every 3 s was most of what
/// the operator did. A region that has not been given them yet says so when it has: the
/// region controller triggers the tenant then, so it needs no looking at.
fn recheck_in<'a>(
    placed: impl Iterator<Item = &'a TenantRegionStatus>,
    now: i64,
) -> Option<Duration> {
    placed
        .filter(|region| region.revision.is_some() && !is_served(region))
        .map(|region| recheck_after(region.not_served_since.as_ref(), now))
        .max()
}

/// As long as the wait that began at `since` has lasted (none if it has not begun), within
/// [`NOT_SERVED_RECHECK`] and [`NOT_SERVED_RECHECK_LONGEST`].
fn recheck_after(since: Option<&Time>, now: i64) -> Duration {
    let waited = now - since.map_or(now, |t| t.0.as_second());
    Duration::from_secs(u64::try_from(waited).unwrap_or(0))
        .clamp(NOT_SERVED_RECHECK, NOT_SERVED_RECHECK_LONGEST)
}

/// Reads the tenant's JWKS at the public URL of every region it is placed in, concurrently and
/// once per reconcile: the kids the rotation needs and the revision each region serves.
async fn observe(
    regions: &[(String, RegionFact)],
    issuer: &str,
    ctx: &Context,
) -> BTreeMap<String, ServedJwks> {
    let placed = regions.iter().filter(|(_, fact)| fact.is_placed());
    let fetches = placed.filter_map(|(name, _)| {
        let region = ctx.regions.get(&ObjectRef::new(name))?;
        let url = jwks_url(&region.spec.public_url, issuer);
        Some(async move { (name.clone(), ctx.jwks.fetch(&url).await) })
    });
    futures::future::join_all(fetches)
        .await
        .into_iter()
        .collect()
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
                    _ => match ctx.sync.tenant(region_name, name) {
                        None => RegionFact::Pending,
                        Some(report) => match (report.error, report.entry) {
                            (Some(error), entry) => RegionFact::Failing {
                                error,
                                written: entry.and_then(|e| e.revision),
                            },
                            (None, Some(entry)) => RegionFact::Reported(entry),
                            (None, None) => RegionFact::Pending,
                        },
                    },
                },
            };
            (region_name.clone(), fact)
        })
        .collect()
}

/// Publishes the status, then a Warning Event for each region that became overdue; returns it
/// and whether it was published.
async fn update_status(
    tenant: &Tenant,
    ctx: &Context,
    facts: &TenantFacts<'_>,
) -> Result<(TenantStatus, bool), ReconcileError> {
    let previous = tenant.status.clone().unwrap_or_default();
    let now = now();
    let status = tenant_status(tenant, facts, &now);
    let hold = first_status_hold(ctx.tenants.len(), facts.served_within);
    if !first_status_due(tenant, &status, hold, ctx.started_at, &now) {
        return Ok((status, false));
    }
    publish_status(ctx, tenant, &previous, &status, |s| &s.conditions).await?;
    for note in overdue_events(&previous, &status) {
        ctx.event(&tenant.object_ref(&()), true, NOT_SERVED, note)
            .await;
    }
    Ok((status, true))
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
        .filter_map(|region| match ctx.sync.tenant(&region, &name) {
            None => Some(format!("{region} (not yet reconciled)")),
            Some(report) => match (report.entry, report.error) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_tenant_is_looked_at_again_as_late_as_it_has_waited_within_bounds() {
        let at = |second| Time(k8s_openapi::jiff::Timestamp::from_second(second).unwrap());
        assert_eq!(recheck_after(None, 100), NOT_SERVED_RECHECK);
        assert_eq!(recheck_after(Some(&at(99)), 100), NOT_SERVED_RECHECK);
        assert_eq!(recheck_after(Some(&at(93)), 100), Duration::from_secs(7));
        assert_eq!(recheck_after(Some(&at(0)), 100), NOT_SERVED_RECHECK_LONGEST);
        assert_eq!(
            recheck_after(Some(&at(200)), 100),
            NOT_SERVED_RECHECK,
            "a clock behind the timestamp"
        );
    }
}
