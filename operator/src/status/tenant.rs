//! Tenant status from the facts the tenant controller gathered: a pure function.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use meridian_contract::{KeyRing, Revision, UnixSeconds};

use super::conditions::{Conclusion, merge};
use super::serving::{NOT_SERVED, Serving, not_served_message, overdue_problems, serving};
use super::sync_state::TenantInRegion;
use crate::api::{ConditionType, SigningStatus, Tenant, TenantRegionStatus, TenantStatus};
use crate::jwks::ServedJwks;

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
        error: String,
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
    pub keys: Result<&'a KeyRing, String>,
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
                ..region_status(name, fact, generation)
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

fn region_status(name: &str, fact: &RegionFact, generation: Option<i64>) -> TenantRegionStatus {
    let (synced, message) = match fact {
        RegionFact::Missing => (false, Some(format!("AuthRegion {name} not found"))),
        RegionFact::Excluded { jurisdiction } => (
            false,
            Some(format!(
                "not placed: jurisdiction {} is outside spec.dataResidency",
                jurisdiction.as_deref().unwrap_or("(none)")
            )),
        ),
        RegionFact::Pending => (false, Some("waiting for the region to sync".into())),
        RegionFact::Failing { error, .. } => (
            false,
            Some(format!(
                "region not synced, serving its last state: {error}"
            )),
        ),
        RegionFact::Reported(entry) => {
            let current = entry.generation.is_some()
                && entry.generation == generation
                && entry.problem.is_none();
            (
                current,
                entry
                    .problem
                    .clone()
                    .or_else(|| (!current).then(|| "waiting for the region to sync".into())),
            )
        }
    };
    TenantRegionStatus {
        name: name.to_owned(),
        synced,
        message,
        ..TenantRegionStatus::default()
    }
}

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
    use ConditionType::*;
    let keys = match &facts.keys {
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
        Err(error) => Conclusion::new(KeysReady, false, "KeyRingUnavailable", error.clone()),
    };
    let placed: Vec<&TenantRegionStatus> = regions
        .iter()
        .zip(&facts.regions)
        .filter(|(_, (_, fact))| fact.is_placed())
        .map(|(status, _)| status)
        .collect();
    let lagging: Vec<String> = placed
        .iter()
        .filter(|r| !r.synced)
        .map(|r| {
            format!(
                "{}: {}",
                r.name,
                r.message.as_deref().unwrap_or("not synced")
            )
        })
        .collect();
    let replicated = if placed.is_empty() {
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
    };
    let problems: Vec<String> = regions
        .iter()
        .zip(&facts.regions)
        .filter(|(_, (_, fact))| !matches!(fact, RegionFact::Pending))
        .filter(|(status, _)| !status.synced)
        .map(|(status, _)| {
            format!(
                "{}: {}",
                status.name,
                status.message.as_deref().unwrap_or("not synced")
            )
        })
        .chain(facts.keys.as_ref().err().cloned())
        .chain((!facts.lagging.is_empty()).then(|| {
            format!(
                "key rotation postponed: not yet published by {}",
                facts.lagging.join(", ")
            )
        }))
        .chain(overdue_problems(regions))
        .collect();
    let rotation_reason = (!facts.lagging.is_empty()).then_some("RotationPostponed");
    let degraded_reason = rotation_reason
        .or_else(|| {
            facts.regions.iter().find_map(|(_, fact)| match fact {
                RegionFact::Missing => Some("UnknownRegion"),
                RegionFact::Excluded { .. } => Some("ResidencyExcluded"),
                RegionFact::Failing { .. } => Some("RegionFailing"),
                RegionFact::Reported(entry) if entry.problem.is_some() => {
                    Some("TenantInputsInvalid")
                }
                _ => None,
            })
        })
        .or_else(|| regions.iter().any(|r| r.overdue).then_some(NOT_SERVED));
    let degraded = match (problems.is_empty(), degraded_reason) {
        (true, _) => Conclusion::new(
            Degraded,
            false,
            "AsExpected",
            "every region serves the tenant as specified",
        ),
        (false, reason) => Conclusion::new(
            Degraded,
            true,
            reason.unwrap_or("KeyRingUnavailable"),
            problems.join("; "),
        ),
    };
    let ready = match (keys.status, replicated.status, not_served_message(&placed)) {
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
    };
    vec![ready, keys, replicated, degraded]
}

#[cfg(test)]
#[path = "tenant_status_tests.rs"]
mod tests;
