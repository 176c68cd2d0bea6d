//! Runs the rotation schedule for one tenant: plans from the kids each region's JWKS was seen
//! publishing (read by the caller, from outside), persists the new schedule in the hub, and
//! reports what happened.

use std::collections::BTreeSet;
use std::time::Duration;

use kube::Resource;
use meridian_contract::{KeyRing, UnixSeconds};
use meridian_keys::generate_key;

use super::plan::{Cadence, Note, Observations, Policy, plan};
use crate::api::Tenant;
use crate::controller::{Context, ReconcileError};
use crate::duration;
use crate::edge::hub::{StoredKeyRing, algorithm, save_key_ring};
use crate::render::token_lifetimes;

/// Asks for a new rotation: any new value of this annotation on a Tenant stages a key now.
pub const ROTATE_ANNOTATION: &str = "meridian.dev/rotate";

pub struct Rotated {
    pub ring: KeyRing,
    /// Regions whose missing publication holds the staged key back.
    pub lagging: Vec<String>,
    /// When the schedule next needs a decision.
    pub wake_in: Duration,
}

/// `observed`: the kids each placed region's JWKS listed this reconcile (`None` where it could
/// not be read); they decide only while a key is staged.
pub async fn rotate(
    tenant: &Tenant,
    name: &str,
    stored: &StoredKeyRing,
    observed: &Observations,
    ctx: &Context,
    now: UnixSeconds,
) -> Result<Rotated, ReconcileError> {
    let (policy, raised) = policy(tenant, ctx)?;
    let next = plan(
        &stored.ring,
        &stored.state,
        &policy,
        observed,
        now,
        |alg, generation| generate_key(alg, generation, now),
    );
    if next.changed(&stored.ring, &stored.state) {
        let saved = save_key_ring(
            &ctx.hub,
            &ctx.settings.namespace,
            name,
            stored,
            &next.ring,
            &next.state,
        )
        .await;
        if !saved? {
            return Err(ReconcileError::KeyRingChanged(name.to_owned()));
        }
        for note in &next.notes {
            announce(tenant, note, raised, ctx).await;
        }
    }
    let wake_in = wake_in(&next.ring, &policy, now).min(ctx.settings.resync);
    Ok(Rotated {
        ring: next.ring,
        lagging: next.state.lagging,
        wake_in,
    })
}

/// A tenant's publishAhead, raised to the least this operator can keep safe.
#[derive(Debug, Clone, Copy)]
struct RaisedPublishAhead {
    asked: i64,
    used: i64,
}

/// The tenant's policy, and whether its publishAhead had to be raised.
fn policy(
    tenant: &Tenant,
    ctx: &Context,
) -> Result<(Policy, Option<RaisedPublishAhead>), duration::InvalidDuration> {
    let spec = &tenant.spec;
    let seconds = |field, value: &str| duration::parse(field, value).map(|d| d.as_secs() as i64);
    let lifetimes = token_lifetimes(spec)?;
    let jwks_max_age = ctx.settings.jwks_max_age.as_secs() as i64;
    let cadence = Cadence {
        propagation: ctx.settings.propagation.as_secs() as i64,
        resync: ctx.settings.resync.as_secs() as i64,
    };
    let asked = seconds("spec.signing.publishAhead", &spec.signing.publish_ahead)?;
    let used = asked.max(cadence.least_publish_ahead(jwks_max_age));
    let policy = Policy {
        algorithm: algorithm(spec.signing.algorithm),
        rotation_interval: seconds(
            "spec.signing.rotationInterval",
            &spec.signing.rotation_interval,
        )?,
        publish_ahead: used,
        jwks_max_age,
        longest_token_lifetime: lifetimes
            .access_token_seconds
            .max(lifetimes.id_token_seconds) as i64,
        decision_margin: cadence.decision_margin(),
        revoked_kids: spec.signing.revoked_kids.iter().cloned().collect(),
        rotate_request: tenant
            .meta()
            .annotations
            .as_ref()
            .and_then(|a| a.get(ROTATE_ANNOTATION))
            .cloned(),
    };
    let raised = (used > asked).then_some(RaisedPublishAhead { asked, used });
    Ok((policy, raised))
}

/// Seconds until the next instant the schedule must be looked at: a decision before the staged
/// key activates, a key leaving the JWKS, or the next stage.
fn wake_in(ring: &KeyRing, policy: &Policy, now: UnixSeconds) -> Duration {
    let staged_decision = ring
        .keys
        .iter()
        .filter(|k| k.activate_at > now)
        .map(|k| k.activate_at - policy.decision_margin);
    let removals = ring.keys.iter().filter_map(|k| k.remove_at);
    let next_stage = ring
        .signing_key(now)
        .map(|k| k.activate_at + policy.rotation_interval - policy.publish_ahead);
    let next = staged_decision
        .chain(removals)
        .chain(next_stage)
        .filter(|at| *at > now)
        .min();
    Duration::from_secs(next.map_or(u64::MAX, |at| (at - now) as u64)).max(Duration::from_secs(1))
}

async fn announce(tenant: &Tenant, note: &Note, raised: Option<RaisedPublishAhead>, ctx: &Context) {
    let (warning, reason, message) = match note {
        Note::Staged {
            kid,
            activate_at,
            why,
        } => (
            false,
            "KeyStaged",
            format!(
                "staged key {kid} ({why}); it signs from {}{}",
                at(*activate_at),
                raised.map_or(String::new(), |r| format!(
                    " (spec.signing.publishAhead {}s raised to {}s, the least the operator's \
                     propagation, resync and JWKS max-age allow)",
                    r.asked, r.used
                ))
            ),
        ),
        Note::Confirmed { kid } => (
            false,
            "KeyPublished",
            format!("every region publishes key {kid}"),
        ),
        Note::Postponed {
            kid,
            activate_at,
            lagging,
        } => {
            let regions: BTreeSet<&String> = lagging.iter().collect();
            (
                true,
                "RotationPostponed",
                format!(
                    "activation of key {kid} postponed to {}: not yet published by {regions:?}",
                    at(*activate_at)
                ),
            )
        }
        Note::Removed { kid } => (
            false,
            "KeyRemoved",
            format!("key {kid} left the JWKS after its last tokens expired"),
        ),
        Note::Revoked { kid } => (
            true,
            "KeyRevoked",
            format!("key {kid} revoked: removed everywhere; tokens it signed no longer verify"),
        ),
        Note::EmergencyKey { kid } => (
            true,
            "EmergencyKey",
            format!("key {kid} signs at once: no other key could"),
        ),
    };
    tracing::info!(tenant = %tenant.metadata.name.as_deref().unwrap_or_default(), reason, "{message}");
    ctx.event(&tenant.object_ref(&()), warning, reason, message)
        .await;
}

fn at(seconds: UnixSeconds) -> String {
    k8s_openapi::jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| seconds.to_string())
}
