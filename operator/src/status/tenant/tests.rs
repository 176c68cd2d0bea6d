//! Tenant status from facts: YAML tenants, hand-made region facts and observations.

use super::*;
use k8s_openapi::jiff::Timestamp;
use meridian_contract::{Algorithm, SigningKey, TenantFile};

use crate::status::serving::overdue_events;

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

/// The revision a region holding the files of `generation` was given.
fn written(generation: i64) -> Revision {
    let content = format!("files of generation {generation}");
    Revision::of([(TenantFile::Config, content.as_bytes())])
}

fn served(generation: i64) -> RegionFact {
    RegionFact::Reported(TenantInRegion {
        generation: Some(generation),
        problem: None,
        serving: true,
        revision: Some(written(generation)),
    })
}

/// What each region's JWKS showed: the revision it serves, `None` when it could not be read.
fn seen(serving: &[(&str, Option<Revision>)]) -> BTreeMap<String, ServedJwks> {
    serving
        .iter()
        .map(|(region, revision)| {
            let seen = ServedJwks {
                kids: revision.as_ref().map(|_| ["kid-1".to_owned()].into()),
                revision: revision.clone(),
            };
            (region.to_string(), seen)
        })
        .collect()
}

/// The status computed at `now` over the tenant's `previous` status.
fn status_at(
    previous: Option<&TenantStatus>,
    regions: &[(&str, RegionFact)],
    observed: BTreeMap<String, ServedJwks>,
    now: i64,
) -> TenantStatus {
    let ring = ring();
    let facts = TenantFacts {
        issuer: "https://auth.example.com/t/acme".into(),
        keys: Ok(&ring),
        regions: regions
            .iter()
            .map(|(n, f)| (n.to_string(), f.clone()))
            .collect(),
        lagging: Vec::new(),
        observed,
        served_within: Duration::from_secs(120),
        now,
    };
    let mut tenant = tenant();
    tenant.status = previous.cloned();
    tenant_status(&tenant, &facts, &Time(Timestamp::from_second(now).unwrap()))
}

/// The status when every region that was written to serves what it was given.
fn status(regions: Vec<(&str, RegionFact)>) -> TenantStatus {
    let observed = regions
        .iter()
        .filter_map(|(name, fact)| Some((*name, Some(fact.written()?.clone()))))
        .collect::<Vec<_>>();
    status_at(None, &regions, seen(&observed), 100)
}

fn condition<'a>(
    status: &'a TenantStatus,
    type_: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    status.conditions.iter().find(|c| c.type_ == type_).unwrap()
}

/// Ready's message, which must be False for NotServed.
fn not_served_message(status: &TenantStatus) -> &str {
    let ready = condition(status, "Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "NotServed"),
        "{}",
        ready.message
    );
    &ready.message
}

#[test]
fn served_everywhere_is_ready_with_its_signing_schedule() {
    let status = status(vec![("eu", served(2)), ("us", served(2))]);
    assert_eq!(condition(&status, "Ready").status, "True");
    assert_eq!(condition(&status, "Degraded").status, "False");
    assert_eq!(status.served.as_deref(), Some("2/2"));
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
fn each_region_not_synced_says_why_in_one_word_taken_from_the_typed_problem() {
    use crate::edge::region::RegionError;
    use crate::render::RenderError;
    use meridian_contract::Problem;

    let invalid = RenderError::Invalid {
        field: "spec.claims[\"typ\"]".into(),
        problem: Problem::ReservedClaim,
    };
    let on_last_good = RegionFact::Reported(TenantInRegion {
        problem: Some(invalid.into()),
        serving: true,
        revision: Some(written(1)),
        ..TenantInRegion::default()
    });
    let failing = RegionFact::Failing {
        error: RegionError::Unreachable("connection refused".into()),
        written: Some(written(1)),
    };
    let mixed = status(vec![("eu", on_last_good), ("us", failing)]);
    let reasons: Vec<_> = mixed.regions.iter().map(|r| r.reason.as_deref()).collect();
    assert_eq!(reasons, [Some("ReservedClaim"), Some("Unreachable")]);
    let eu = mixed.regions[0].message.as_deref().unwrap();
    assert!(
        eu.starts_with("serving the last good configuration: spec.claims[\"typ\"]"),
        "{eu}"
    );
    assert_eq!(condition(&mixed, "Degraded").reason, "TenantInputsInvalid");

    let synced = status(vec![("eu", served(2)), ("us", served(2))]);
    assert_eq!(
        synced.regions[0].reason, None,
        "a synced region has no reason"
    );
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

#[test]
fn a_region_serving_an_older_revision_is_not_served_and_named() {
    let regions = [("eu", served(2)), ("us", served(2))];
    let observed = seen(&[("eu", Some(written(2))), ("us", Some(written(1)))]);
    let status = status_at(None, &regions, observed, 100);
    let message = not_served_message(&status);
    assert_eq!(status.served.as_deref(), Some("1/2"), "the SERVED column");
    let stale = format!("us (serves revision {}", written(1));
    assert!(message.contains(&stale), "{message}");
    assert!(!message.contains("eu"), "{message}");
    // Written everywhere, and nothing is wrong yet: it is only being rolled out.
    assert_eq!(condition(&status, "Replicated").status, "True");
    assert_eq!(condition(&status, "Degraded").status, "False");
    let us = &status.regions[1];
    assert_eq!(us.revision, Some(written(2).to_string()));
    assert_eq!(us.served_revision, Some(written(1).to_string()));
    assert_eq!(
        us.not_served_since,
        Some(Time(Timestamp::from_second(100).unwrap()))
    );
    assert_eq!(status.regions[0].not_served_since, None);
}

#[test]
fn an_unreachable_region_is_not_served() {
    let regions = [("eu", served(2)), ("us", served(2))];
    for observed in [
        seen(&[("eu", Some(written(2))), ("us", None)]),
        seen(&[("eu", Some(written(2)))]),
    ] {
        let status = status_at(None, &regions, observed, 100);
        let message = not_served_message(&status);
        assert!(
            message.contains("us (no revision read at its public URL"),
            "{message}"
        );
        assert_eq!(status.regions[1].served_revision, None);
    }
}

#[test]
fn past_the_bound_a_region_degrades_the_tenant_once_and_recovers_when_served() {
    let regions = [("eu", served(2)), ("us", served(2))];
    let stale = || seen(&[("eu", Some(written(2))), ("us", Some(written(1)))]);
    let first = status_at(None, &regions, stale(), 100);
    // Until the bound passes, nothing changes: the steady state writes nothing.
    let waiting = status_at(Some(&first), &regions, stale(), 219);
    assert_eq!(waiting, first);
    assert!(overdue_events(&first, &waiting).is_empty());

    let overdue = status_at(Some(&waiting), &regions, stale(), 220);
    let degraded = condition(&overdue, "Degraded");
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "NotServed")
    );
    assert!(
        degraded
            .message
            .starts_with("us: not serving its current configuration since 1970-01-01T00:01:40Z"),
        "{}",
        degraded.message
    );
    assert!(overdue.regions[1].overdue && !overdue.regions[0].overdue);
    // Degraded turning NotServed is itself the one Warning Event naming the region.
    assert!(overdue_events(&waiting, &overdue).is_empty());
    let later = status_at(Some(&overdue), &regions, stale(), 300);
    assert_eq!(later, overdue);

    let back = status_at(
        Some(&later),
        &regions,
        seen(&[("eu", Some(written(2))), ("us", Some(written(2)))]),
        310,
    );
    assert_eq!(condition(&back, "Ready").status, "True");
    assert_eq!(condition(&back, "Degraded").status, "False");
    assert!(
        back.regions
            .iter()
            .all(|r| r.not_served_since.is_none() && !r.overdue)
    );
}

#[test]
fn a_region_overdue_while_already_degraded_gets_an_event_of_its_own() {
    let regions = [
        ("eu", served(2)),
        ("us", served(2)),
        ("mars", RegionFact::Missing),
    ];
    let stale = || seen(&[("eu", Some(written(2))), ("us", None)]);
    let first = status_at(None, &regions, stale(), 100);
    assert_eq!(condition(&first, "Degraded").reason, "UnknownRegion");
    let overdue = status_at(Some(&first), &regions, stale(), 250);
    assert_eq!(condition(&overdue, "Degraded").reason, "UnknownRegion");
    assert!(
        condition(&overdue, "Degraded")
            .message
            .contains("us: not serving")
    );
    let events = overdue_events(&first, &overdue);
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].starts_with("region us: not serving its current configuration since"),
        "{}",
        events[0]
    );
    assert!(
        overdue_events(&overdue, &status_at(Some(&overdue), &regions, stale(), 260)).is_empty()
    );
}

#[test]
fn a_new_tenants_first_status_waits_while_it_is_only_on_its_way() {
    let at = |second| Time(Timestamp::from_second(second).unwrap());
    let hold = FIRST_STATUS_HOLD;
    let started = 0;
    let mut young = tenant();
    young.metadata.creation_timestamp = Some(at(95));
    let pending = status_at(None, &[("eu", RegionFact::Pending)], BTreeMap::new(), 100);
    assert!(!first_status_due(&young, &pending, hold, started, &at(100)));
    assert!(
        first_status_due(&young, &pending, hold, started, &at(105)),
        "written once the Tenant is older than the hold"
    );
    assert!(
        !first_status_due(&young, &pending, hold, 104, &at(105)),
        "a Tenant older than the operator waits from the operator's start"
    );
    assert!(first_status_due(&young, &pending, hold, 104, &at(114)));

    let ready = status(vec![("eu", served(2)), ("us", served(2))]);
    assert_eq!(condition(&ready, "Ready").status, "True");
    assert!(first_status_due(&young, &ready, hold, started, &at(100)));
    let missing = status_at(None, &[("eu", RegionFact::Missing)], BTreeMap::new(), 100);
    assert_eq!(condition(&missing, "Degraded").status, "True");
    assert!(
        first_status_due(&young, &missing, hold, started, &at(100)),
        "a problem at once"
    );

    young.status = Some(pending.clone());
    assert!(
        first_status_due(&young, &pending, hold, started, &at(100)),
        "only the first status waits"
    );
}

#[test]
fn the_first_status_waits_longer_the_more_tenants_there_are_within_served_within() {
    let within = Duration::from_secs(120);
    assert_eq!(first_status_hold(1, within), Duration::from_secs(10));
    assert_eq!(first_status_hold(1_000, within), Duration::from_secs(20));
    assert_eq!(first_status_hold(10_000, within), Duration::from_secs(110));
    assert_eq!(first_status_hold(100_000, within), within);
    assert_eq!(
        first_status_hold(1, Duration::from_secs(3)),
        Duration::from_secs(3),
        "never past the point where the tenant is overdue"
    );
}
