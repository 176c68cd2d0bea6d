//! Tenant status from the facts the tenant controller gathered: a pure function.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use meridian_contract::{KeyRing, Revision, UnixSeconds};

use super::conditions::{Conclusion, merge};
use super::region::TENANT_INPUTS_INVALID;
use super::report::TenantInRegion;
use super::serving::{NOT_SERVED, Serving, not_served_message, overdue_problems, serving};
use crate::api::{ConditionType, SigningStatus, Tenant, TenantRegionStatus, TenantStatus};
use crate::duration::growing_with_tenants;
use crate::edge::hub::KeyRingError;
use crate::edge::jwks::ServedJwks;
use crate::edge::region::RegionError;

/// What is known of the tenant in one of the regions it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionFact {
    /// No AuthRegion of that name exists.
    Missing,
    /// The region's jurisdiction is outside the tenant's dataResidency.
    Excluded {
        jurisdiction: Option<String>,
    },
    /// The region has not reported on this tenant yet.
    Pending,
    /// The region could not be synced; it keeps serving what it had, last written as
    /// `written`.
    Failing {
        error: RegionError,
        written: Option<Revision>,
    },
    Reported(TenantInRegion),
}

impl RegionFact {
    /// Whether the tenant belongs in the region: it exists and residency allows it.
    pub fn is_placed(&self) -> bool {
        !matches!(self, Self::Missing | Self::Excluded { .. })
    }

    /// The revision of the tenant's files last written in the region.
    fn written(&self) -> Option<&Revision> {
        match self {
            Self::Failing { written, .. } => written.as_ref(),
            Self::Reported(entry) => entry.revision.as_ref(),
            _ => None,
        }
    }
}

pub struct TenantFacts<'a> {
    pub issuer: String,
    pub keys: Result<&'a KeyRing, &'a KeyRingError>,
    pub regions: Vec<(String, RegionFact)>,
    /// Regions holding back the staged key by not publishing it.
    pub lagging: Vec<String>,
    /// What each placed region's JWKS showed this time, read from its public URL.
    pub observed: BTreeMap<String, ServedJwks>,
    /// How long a region may go without serving what was written there.
    pub served_within: Duration,
    pub now: UnixSeconds,
}

pub fn tenant_status(tenant: &Tenant, facts: &TenantFacts<'_>, now: &Time) -> TenantStatus {
    let previous = tenant.status.clone().unwrap_or_default();
    let generation = tenant.metadata.generation;
    let regions: Vec<TenantRegionStatus> = facts
        .regions
        .iter()
        .map(|(name, fact)| {
            let before = previous.regions.iter().find(|r| r.name == *name);
            let observed = facts.observed.get(name);
            // A JWKS that could not be read leaves the last observation of its kids standing.
            let published_kids = match observed.and_then(|o| o.kids.as_ref()) {
                Some(kids) => kids.iter().cloned().collect(),
                None => before.map(|b| b.published_kids.clone()).unwrap_or_default(),
            };
            let served = observed.and_then(|o| o.revision.as_ref());
            let Serving {
                revision,
                served_revision,
                not_served_since,
                overdue,
            } = if fact.is_placed() {
                serving(fact.written(), served, before, facts.served_within, now)
            } else {
                Serving::default()
            };
            TenantRegionStatus {
                published_kids,
                revision,
                served_revision,
                not_served_since,
                overdue,
                ..region_entry(name, fact, generation)
            }
        })
        .collect();
    let conclusions = conclusions(facts, &regions);
    let serving = regions
        .iter()
        .filter(|r| r.revision.is_some() && r.served_revision == r.revision)
        .count();
    TenantStatus {
        served: Some(format!("{serving}/{}", regions.len())),
        observed_generation: generation,
        conditions: merge(&previous.conditions, &conclusions, generation, now),
        issuer: Some(facts.issuer.clone()),
        signing: facts
            .keys
            .as_ref()
            .ok()
            .map(|ring| signing_status(ring, facts.now)),
        regions,
    }
}

/// How long a new Tenant may go without any status: long enough for most to be Ready in one
/// write, short enough that `kubectl get tenants` soon shows the issuer, the signing key and
/// what each region is waiting for, even when no region ever serves it.
pub const FIRST_STATUS_HOLD: Duration = Duration::from_secs(10);
/// What the hold grows by per 1,000 Tenants: a cold start takes time in proportion to them,
/// and one of 10,000 wrote most of them a status that said "pending" before the one that said
/// Ready, a third of the hub writes the cold start made.
pub const FIRST_STATUS_HOLD_PER_1000: Duration = Duration::from_secs(10);

/// How long a first status may be held back while the operator holds `tenants` Tenants: within
/// `served_within`, past which the tenant is overdue and has something to say anyway.
pub fn first_status_hold(tenants: usize, served_within: Duration) -> Duration {
    growing_with_tenants(
        FIRST_STATUS_HOLD,
        FIRST_STATUS_HOLD_PER_1000,
        tenants,
        served_within,
    )
}

/// Whether a new Tenant's first `status` is worth writing yet. One that is only on its way
/// (not Ready, not Degraded) is not, for `hold` from its creation or from `operator_start`,
/// whichever is later: it will be Ready or in trouble soon, and a Tenant created before the
/// operator started (an install, an upgrade) has been waiting for no one. Past that it is
/// written, pending or not.
pub fn first_status_due(
    tenant: &Tenant,
    status: &TenantStatus,
    hold: Duration,
    operator_start: UnixSeconds,
    now: &Time,
) -> bool {
    let on_its_way = !status.conditions.iter().any(|c| {
        let is = |type_: ConditionType| c.type_ == type_.as_str();
        c.status == "True" && (is(ConditionType::Ready) || is(ConditionType::Degraded))
    });
    let created = tenant
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(operator_start, |created| created.0.as_second());
    let young = now.0.as_second() - created.max(operator_start) < hold.as_secs() as i64;
    tenant.status.is_some() || !on_its_way || !young
}

/// Whether the region holds the tenant's current generation and, when not, why.
fn region_entry(name: &str, fact: &RegionFact, generation: Option<i64>) -> TenantRegionStatus {
    let not_synced = |reason: &str, message: String| TenantRegionStatus {
        name: name.to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message),
        ..TenantRegionStatus::default()
    };
    let waiting = || not_synced(PENDING, "waiting for the region to sync".into());
    match fact {
        RegionFact::Missing => not_synced("UnknownRegion", format!("AuthRegion {name} not found")),
        RegionFact::Excluded { jurisdiction } => not_synced(
            "ResidencyExcluded",
            format!(
                "not placed: jurisdiction {} is outside spec.dataResidency",
                jurisdiction.as_deref().unwrap_or("(none)")
            ),
        ),
        RegionFact::Pending => waiting(),
        RegionFact::Failing { error, .. } => not_synced(
            error.reason(),
            format!("region not synced, serving its last state: {error}"),
        ),
        RegionFact::Reported(entry) => match (&entry.problem, entry.problem_message()) {
            (Some(problem), Some(message)) => not_synced(problem.reason(), message),
            _ if entry.generation.is_some() && entry.generation == generation => {
                TenantRegionStatus {
                    name: name.to_owned(),
                    synced: true,
                    ..TenantRegionStatus::default()
                }
            }
            _ => waiting(),
        },
    }
}

/// The reason of a region that has not reported the tenant's current generation yet.
const PENDING: &str = "Pending";

fn signing_status(ring: &KeyRing, now: UnixSeconds) -> SigningStatus {
    let active = ring.signing_key(now);
    let next = ring
        .keys
        .iter()
        .filter(|k| k.activate_at > now && k.retire_at.is_none())
        .max_by_key(|k| k.generation);
    SigningStatus {
        active_kid: active.map(|k| k.kid.clone()),
        next_kid: next.map(|k| k.kid.clone()),
        next_activation_at: next
            .and_then(|k| k8s_openapi::jiff::Timestamp::from_second(k.activate_at).ok())
            .map(|t| t.to_string()),
    }
}

fn conclusions(facts: &TenantFacts<'_>, regions: &[TenantRegionStatus]) -> Vec<Conclusion> {
    let placed: Vec<&TenantRegionStatus> = regions
        .iter()
        .zip(&facts.regions)
        .filter(|(_, (_, fact))| fact.is_placed())
        .map(|(status, _)| status)
        .collect();
    let keys = keys_ready(facts);
    let replicated = replicated(&placed);
    let degraded = degraded(facts, regions, &keys);
    let ready = ready(&keys, &replicated, &placed);
    vec![ready, keys, replicated, degraded]
}

fn keys_ready(facts: &TenantFacts<'_>) -> Conclusion {
    use ConditionType::KeysReady;
    match &facts.keys {
        Ok(ring) => match ring.signing_key(facts.now) {
            Some(key) => Conclusion::new(
                KeysReady,
                true,
                "KeyActive",
                format!("key {} ({}) signs", key.kid, key.alg),
            ),
            None => Conclusion::new(
                KeysReady,
                false,
                "NoActiveKey",
                "no key of the key ring may sign now",
            ),
        },
        Err(error) => Conclusion::new(KeysReady, false, error.reason(), error.to_string()),
    }
}

/// `region: why`, for a region that is not synced.
fn not_synced(region: &TenantRegionStatus) -> String {
    format!(
        "{}: {}",
        region.name,
        region.message.as_deref().unwrap_or("not synced")
    )
}

fn replicated(placed: &[&TenantRegionStatus]) -> Conclusion {
    use ConditionType::Replicated;
    let lagging: Vec<String> = placed
        .iter()
        .filter(|r| !r.synced)
        .map(|r| not_synced(r))
        .collect();
    if placed.is_empty() {
        Conclusion::new(
            Replicated,
            false,
            "NoRegion",
            "the tenant is placed in no region",
        )
    } else if lagging.is_empty() {
        Conclusion::new(
            Replicated,
            true,
            "AllRegionsSynced",
            format!("synced to {} region(s)", placed.len()),
        )
    } else {
        Conclusion::new(Replicated, false, "RegionsNotSynced", lagging.join("; "))
    }
}

/// Degraded names everything that keeps the tenant from being served as specified; its reason
/// is the first of: a postponed rotation, a region problem, a region not serving in time, keys.
fn degraded(
    facts: &TenantFacts<'_>,
    regions: &[TenantRegionStatus],
    keys: &Conclusion,
) -> Conclusion {
    use ConditionType::Degraded;
    let problems: Vec<String> = regions
        .iter()
        .zip(&facts.regions)
        .filter(|(status, (_, fact))| !matches!(fact, RegionFact::Pending) && !status.synced)
        .map(|(status, _)| not_synced(status))
        .chain(facts.keys.as_ref().err().map(ToString::to_string))
        .chain((!facts.lagging.is_empty()).then(|| {
            format!(
                "key rotation postponed: not yet published by {}",
                facts.lagging.join(", ")
            )
        }))
        .chain(overdue_problems(regions))
        .collect();
    if problems.is_empty() {
        return Conclusion::new(
            Degraded,
            false,
            "AsExpected",
            "every region serves the tenant as specified",
        );
    }
    let region_reason = |(_, fact): &(String, RegionFact)| match fact {
        RegionFact::Missing => Some("UnknownRegion"),
        RegionFact::Excluded { .. } => Some("ResidencyExcluded"),
        RegionFact::Failing { .. } => Some("RegionFailing"),
        RegionFact::Reported(entry) if entry.problem.is_some() => Some(TENANT_INPUTS_INVALID),
        _ => None,
    };
    let reason = (!facts.lagging.is_empty())
        .then_some("RotationPostponed")
        .or_else(|| facts.regions.iter().find_map(region_reason))
        .or_else(|| regions.iter().any(|r| r.overdue).then_some(NOT_SERVED))
        .unwrap_or(keys.reason.as_str());
    Conclusion::new(Degraded, true, reason, problems.join("; "))
}

/// Ready when keys can sign, every placed region holds the current generation and serves it.
fn ready(keys: &Conclusion, replicated: &Conclusion, placed: &[&TenantRegionStatus]) -> Conclusion {
    use ConditionType::Ready;
    match (keys.status, replicated.status, not_served_message(placed)) {
        (false, _, _) => Conclusion::new(Ready, false, keys.reason.clone(), keys.message.clone()),
        (true, false, _) => Conclusion::new(
            Ready,
            false,
            replicated.reason.clone(),
            replicated.message.clone(),
        ),
        (true, true, Some(not_served)) => Conclusion::new(Ready, false, NOT_SERVED, not_served),
        (true, true, None) => Conclusion::new(
            Ready,
            true,
            "Ready",
            "keys are ready and every region serves the current configuration",
        ),
    }
}

#[cfg(test)]
mod tests;
