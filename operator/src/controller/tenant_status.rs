//! Tenant status from the facts the tenant controller gathered: a pure function.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use meridian_contract::{KeyRing, UnixSeconds};

use super::conditions::{Conclusion, merge};
use super::sync_state::TenantInRegion;
use crate::api::{ConditionType, SigningStatus, Tenant, TenantRegionStatus, TenantStatus};

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
    /// The region could not be synced; it keeps serving what it had.
    Failing(String),
    Reported(TenantInRegion),
}

pub struct TenantFacts<'a> {
    pub issuer: String,
    pub keys: Result<&'a KeyRing, String>,
    pub regions: Vec<(String, RegionFact)>,
    /// Regions holding back the staged key by not publishing it.
    pub lagging: Vec<String>,
    /// Key ids each region's JWKS was seen publishing, where fetched this time.
    pub published: BTreeMap<String, Vec<String>>,
    pub now: UnixSeconds,
}

pub fn tenant_status(tenant: &Tenant, facts: &TenantFacts<'_>, now: &Time) -> TenantStatus {
    let previous = tenant.status.clone().unwrap_or_default();
    let generation = tenant.metadata.generation;
    // Published kids are observed only while a key is staged; between rotations the last
    // observation stands.
    let published_kids = |name: &str| match facts.published.get(name) {
        Some(kids) => kids.clone(),
        None => previous
            .regions
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.published_kids.clone())
            .unwrap_or_default(),
    };
    let regions: Vec<TenantRegionStatus> = facts
        .regions
        .iter()
        .map(|(name, fact)| TenantRegionStatus {
            published_kids: published_kids(name),
            ..region_status(name, fact, generation)
        })
        .collect();
    let conclusions = conclusions(facts, &regions);
    TenantStatus {
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
        RegionFact::Failing(error) => (
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
        published_kids: Vec::new(),
        message,
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
        .filter(|(_, (_, fact))| !matches!(fact, RegionFact::Excluded { .. } | RegionFact::Missing))
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
        .collect();
    let rotation_reason = (!facts.lagging.is_empty()).then_some("RotationPostponed");
    let degraded_reason = rotation_reason.or_else(|| {
        facts.regions.iter().find_map(|(_, fact)| match fact {
            RegionFact::Missing => Some("UnknownRegion"),
            RegionFact::Excluded { .. } => Some("ResidencyExcluded"),
            RegionFact::Failing(_) => Some("RegionFailing"),
            RegionFact::Reported(entry) if entry.problem.is_some() => Some("TenantInputsInvalid"),
            _ => None,
        })
    });
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
    let ready = if keys.status && replicated.status {
        Conclusion::new(
            Ready,
            true,
            "Ready",
            "keys are ready and every region is synced",
        )
    } else {
        let why = if keys.status { &replicated } else { &keys };
        Conclusion::new(Ready, false, why.reason.clone(), why.message.clone())
    };
    vec![ready, keys, replicated, degraded]
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;
    use meridian_contract::{Algorithm, SigningKey};

    fn tenant() -> Tenant {
        serde_yaml::from_str(
            "apiVersion: meridian.dev/v1alpha1\nkind: Tenant\nmetadata: {name: acme, generation: 2}\nspec: {regions: [eu, us], homeRegion: eu}",
        )
        .unwrap()
    }

    fn ring() -> KeyRing {
        let key = |generation, activate_at| SigningKey {
            kid: format!("kid-{generation}"),
            alg: Algorithm::ES256,
            generation,
            private_key_pem: "PEM".into(),
            publish_at: 0,
            activate_at,
            retire_at: None,
            remove_at: None,
        };
        KeyRing {
            keys: vec![key(1, 0), key(2, 500)],
        }
    }

    fn served(generation: i64) -> RegionFact {
        RegionFact::Reported(TenantInRegion {
            generation: Some(generation),
            problem: None,
            serving: true,
            revision: None,
        })
    }

    fn status(regions: Vec<(&str, RegionFact)>) -> TenantStatus {
        let ring = ring();
        let facts = TenantFacts {
            issuer: "https://auth.example.com/t/acme".into(),
            keys: Ok(&ring),
            regions: regions
                .into_iter()
                .map(|(n, f)| (n.to_owned(), f))
                .collect(),
            lagging: Vec::new(),
            published: BTreeMap::new(),
            now: 100,
        };
        tenant_status(
            &tenant(),
            &facts,
            &Time(Timestamp::from_second(100).unwrap()),
        )
    }

    fn condition<'a>(
        status: &'a TenantStatus,
        type_: &str,
    ) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        status.conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    #[test]
    fn synced_everywhere_is_ready_with_its_signing_schedule() {
        let status = status(vec![("eu", served(2)), ("us", served(2))]);
        assert_eq!(condition(&status, "Ready").status, "True");
        assert_eq!(condition(&status, "Degraded").status, "False");
        let signing = status.signing.unwrap();
        assert_eq!(signing.active_kid.as_deref(), Some("kid-1"));
        assert_eq!(signing.next_kid.as_deref(), Some("kid-2"));
        assert_eq!(
            signing.next_activation_at.as_deref(),
            Some("1970-01-01T00:08:20Z")
        );
    }

    #[test]
    fn an_older_generation_is_not_synced() {
        let status = status(vec![("eu", served(2)), ("us", served(1))]);
        assert_eq!(condition(&status, "Replicated").status, "False");
        assert!(
            condition(&status, "Replicated")
                .message
                .contains("us: waiting")
        );
        assert!(!status.regions[1].synced);
    }

    #[test]
    fn residency_exclusion_names_the_region_and_degrades() {
        let status = status(vec![
            ("eu", served(2)),
            (
                "us",
                RegionFact::Excluded {
                    jurisdiction: Some("US".into()),
                },
            ),
        ]);
        let degraded = condition(&status, "Degraded");
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", "ResidencyExcluded")
        );
        assert!(
            degraded.message.contains("us: not placed: jurisdiction US"),
            "{}",
            degraded.message
        );
        // The tenant is still fully served where it is placed.
        assert_eq!(condition(&status, "Replicated").status, "True");
    }

    #[test]
    fn an_unknown_region_names_it() {
        let status = status(vec![("eu", served(2)), ("us", RegionFact::Missing)]);
        let degraded = condition(&status, "Degraded");
        assert_eq!(degraded.reason, "UnknownRegion");
        assert!(degraded.message.contains("AuthRegion us not found"));
    }
}
