//! The rotation schedule with an injected clock: stage, confirm, postpone, activate, retire,
//! remove; a lagging region; an operator restarting in every phase.

use super::*;

fn policy() -> Policy {
    Policy {
        algorithm: Algorithm::ES256,
        rotation_interval: 100,
        publish_ahead: 20,
        jwks_max_age: 5,
        longest_token_lifetime: 10,
        decision_margin: 4,
        revoked_kids: BTreeSet::new(),
        rotate_request: None,
    }
}

fn key(alg: Algorithm, generation: u64) -> SigningKey {
    SigningKey {
        kid: format!("k{generation}"),
        alg,
        generation,
        private_key_pem: "PEM".into(),
        publish_at: -1,
        activate_at: -1,
        retire_at: None,
        remove_at: None,
    }
}

fn step(
    ring: &KeyRing,
    state: &RotationState,
    policy: &Policy,
    observed: &Observations,
    now: i64,
) -> Plan {
    plan(ring, state, policy, observed, now, key)
}

/// Both regions publishing exactly what the ring publishes at `now`.
fn everywhere(ring: &KeyRing, now: i64) -> Observations {
    let kids: BTreeSet<String> = ring.published(now).map(|k| k.kid.clone()).collect();
    vec![("eu".into(), Some(kids.clone())), ("us".into(), Some(kids))]
}

/// A ring with its first key, and the state persisted with it.
fn started() -> (KeyRing, RotationState) {
    let first = step(
        &KeyRing::default(),
        &RotationState::default(),
        &policy(),
        &vec![],
        0,
    );
    (first.ring, first.state)
}

fn find<'a>(ring: &'a KeyRing, kid: &str) -> &'a SigningKey {
    ring.keys.iter().find(|k| k.kid == kid).unwrap()
}

#[test]
fn an_empty_ring_gets_a_key_that_signs_at_once() {
    let (ring, _) = started();
    assert_eq!(ring.keys.len(), 1);
    assert_eq!(ring.signing_key(0).unwrap().kid, "k1");
}

#[test]
fn the_next_key_is_staged_publish_ahead_of_the_interval() {
    let (ring, state) = started();
    let early = step(&ring, &state, &policy(), &everywhere(&ring, 79), 79);
    assert!(!early.changed(&ring, &state));
    let staged = step(&ring, &state, &policy(), &everywhere(&ring, 80), 80);
    let k2 = find(&staged.ring, "k2");
    assert_eq!((k2.publish_at, k2.activate_at, k2.generation), (80, 100, 2));
    let k1 = find(&staged.ring, "k1");
    assert_eq!((k1.retire_at, k1.remove_at), (Some(100), Some(115)));
    assert!(
        matches!(staged.notes[..], [Note::Staged { ref kid, activate_at: 100, .. }] if kid == "k2")
    );
}

#[test]
fn a_key_published_everywhere_activates_on_time_and_the_old_one_is_removed_later() {
    let (ring, state) = started();
    let staged = step(&ring, &state, &policy(), &everywhere(&ring, 80), 80);
    let confirmed = step(
        &staged.ring,
        &staged.state,
        &policy(),
        &everywhere(&staged.ring, 85),
        85,
    );
    assert_eq!(confirmed.state.confirmed, Some(("k2".into(), 85)));
    let near = step(
        &confirmed.ring,
        &confirmed.state,
        &policy(),
        &everywhere(&confirmed.ring, 97),
        97,
    );
    assert!(
        !near.changed(&confirmed.ring, &confirmed.state),
        "{:?}",
        near.notes
    );
    assert_eq!(near.ring.signing_key(99).unwrap().kid, "k1");
    assert_eq!(near.ring.signing_key(100).unwrap().kid, "k2");
    assert!(
        near.ring.published(114).any(|k| k.kid == "k1"),
        "old key still verifies its tokens"
    );
    let later = step(
        &near.ring,
        &near.state,
        &policy(),
        &everywhere(&near.ring, 115),
        115,
    );
    assert_eq!(later.notes, [Note::Removed { kid: "k1".into() }]);
}

#[test]
fn a_lagging_region_postpones_activation_and_is_named() {
    let (ring, state) = started();
    let staged = step(&ring, &state, &policy(), &everywhere(&ring, 80), 80);
    let mut observed = everywhere(&staged.ring, 90);
    observed[1].1 = None; // us unreachable
    let before_margin = step(&staged.ring, &staged.state, &policy(), &observed, 90);
    assert!(
        !before_margin.changed(&staged.ring, &staged.state),
        "postponed too early"
    );
    let postponed = step(&staged.ring, &staged.state, &policy(), &observed, 97);
    assert_eq!(
        postponed.notes,
        [Note::Postponed {
            kid: "k2".into(),
            activate_at: 117,
            lagging: vec!["us".into()]
        }]
    );
    assert_eq!(find(&postponed.ring, "k1").retire_at, Some(117));
    assert_eq!(postponed.ring.signing_key(100).unwrap().kid, "k1");
    // Back and publishing: activation proceeds at the postponed time.
    let back = step(
        &postponed.ring,
        &postponed.state,
        &policy(),
        &everywhere(&postponed.ring, 100),
        100,
    );
    let steady = step(
        &back.ring,
        &back.state,
        &policy(),
        &everywhere(&back.ring, 114),
        114,
    );
    assert!(!steady.changed(&back.ring, &back.state));
    assert_eq!(steady.ring.signing_key(117).unwrap().kid, "k2");
}

#[test]
fn a_late_confirmation_waits_out_the_jwks_cache() {
    let (ring, state) = started();
    let staged = step(&ring, &state, &policy(), &everywhere(&ring, 80), 80);
    let late = step(
        &staged.ring,
        &staged.state,
        &policy(),
        &everywhere(&staged.ring, 98),
        98,
    );
    // Seen during second 98: a JWKS cached just before lives until 99 + max-age.
    assert_eq!(find(&late.ring, "k2").activate_at, 104);
    assert_eq!(find(&late.ring, "k1").retire_at, Some(104));
}

#[test]
fn a_rotate_annotation_stages_once() {
    let policy = Policy {
        rotate_request: Some("2026-11-29".into()),
        ..policy()
    };
    let (ring, state) = started();
    let first = step(&ring, &state, &policy, &everywhere(&ring, 10), 10);
    assert_eq!(find(&first.ring, "k2").activate_at, 30);
    let again = step(
        &first.ring,
        &first.state,
        &policy,
        &everywhere(&first.ring, 40),
        40,
    );
    assert!(
        again.ring.keys.iter().all(|k| k.generation <= 2),
        "{:?}",
        again.notes
    );
}

#[test]
fn changing_the_algorithm_is_a_rotation_not_a_swap() {
    let (ring, state) = started();
    let policy = Policy {
        algorithm: Algorithm::EdDSA,
        ..policy()
    };
    let staged = step(&ring, &state, &policy, &everywhere(&ring, 10), 10);
    assert_eq!(staged.ring.signing_key(10).unwrap().alg, Algorithm::ES256);
    let k2 = find(&staged.ring, "k2");
    assert_eq!((k2.alg, k2.activate_at), (Algorithm::EdDSA, 30));
}

#[test]
fn revoking_the_signing_key_replaces_it_at_once() {
    let (ring, state) = started();
    let policy = Policy {
        revoked_kids: BTreeSet::from(["k1".to_owned()]),
        ..policy()
    };
    let revoked = step(&ring, &state, &policy, &everywhere(&ring, 10), 10);
    assert!(revoked.ring.keys.iter().all(|k| k.kid != "k1"));
    assert_eq!(revoked.ring.signing_key(10).unwrap().kid, "k2");
    assert!(revoked.notes.contains(&Note::Revoked { kid: "k1".into() }));
}

/// Runs the schedule second by second through several rotations with one region down for a
/// while, restarting the operator (planning again from the persisted ring and state, with no
/// memory) at every step, and checks the invariants at every instant.
#[test]
fn exactly_one_key_signs_and_only_after_every_region_published_it_across_restarts() {
    let policy = policy();
    let (mut ring, mut state) = started();
    let mut seen_everywhere: std::collections::BTreeMap<String, i64> =
        [("k1".to_owned(), 0)].into();
    let mut generations = Vec::new();
    for now in 0..600 {
        let mut observed = everywhere(&ring, now);
        if (180..260).contains(&now) {
            observed[1].1 = None;
        }
        if observed.iter().all(|(_, kids)| kids.is_some()) {
            for kid in ring.published(now).map(|k| k.kid.clone()) {
                seen_everywhere.entry(kid).or_insert(now);
            }
        }
        let next = step(&ring, &state, &policy, &observed, now);
        // A restart plans again from what was persisted: the answer is the same.
        assert_eq!(
            step(&ring, &state, &policy, &observed, now),
            next,
            "t={now}"
        );
        // Planning twice in a row changes nothing more.
        let twice = step(&next.ring, &next.state, &policy, &observed, now);
        assert!(
            !twice.changed(&next.ring, &next.state),
            "t={now}: {:?}",
            twice.notes
        );
        (ring, state) = (next.ring, next.state);

        let signing: Vec<_> = ring.keys.iter().filter(|k| k.may_sign(now)).collect();
        assert_eq!(signing.len(), 1, "t={now}: {signing:?}");
        let kid = &signing[0].kid;
        let since = seen_everywhere
            .get(kid)
            .unwrap_or_else(|| panic!("t={now}: {kid} signs unseen"));
        assert!(
            // Seen during second `since`: a cache fetched just before lives until
            // `since + 1 + max-age`.
            kid == "k1" || since + 1 + policy.jwks_max_age <= now,
            "t={now}: {kid} seen everywhere only at {since}"
        );
        generations.push(signing[0].generation);
    }
    assert!(
        generations.windows(2).all(|w| w[0] <= w[1]),
        "generations only grow"
    );
    assert!(
        *generations.last().unwrap() >= 5,
        "several rotations happened: {:?}",
        generations.last()
    );
}

/// A region's view of the schedule: every ring written reaches it some time within the
/// propagation after it was written (the kubelet's jittered sync), and it serves the newest one
/// that has arrived. While its deliveries stall (a stopped kubelet) it keeps serving what it has.
struct Delivered<'a> {
    writes: &'a [(i64, KeyRing)],
    cadence: Cadence,
    region: usize,
    stalled: std::ops::Range<i64>,
}

impl Delivered<'_> {
    fn arrival(&self, written_at: i64) -> i64 {
        // Spread over 1..=propagation, differently per region and per write.
        let spread = (written_at * 7 + self.region as i64 * 5).rem_euclid(self.cadence.propagation);
        let arrival = written_at + spread + 1;
        if self.stalled.contains(&arrival) {
            self.stalled.end
        } else {
            arrival
        }
    }

    fn ring_at(&self, now: i64) -> Option<&KeyRing> {
        self.writes
            .iter()
            .filter(|(written_at, _)| self.arrival(*written_at) <= now)
            .max_by_key(|(written_at, _)| *written_at)
            .map(|(_, ring)| ring)
    }

    fn publishes(&self, kid: &str, now: i64) -> bool {
        self.ring_at(now)
            .is_some_and(|ring| ring.published(now).any(|k| k.kid == kid))
    }
}

/// The schedule as regions really get it: each ring written reaches each region within the
/// propagation, reconciles run once per resync, and one region's deliveries stall for a while
/// (it goes on serving, unpostponed, the schedule it has). Whatever key any region signs with,
/// every region has been publishing it for longer than a JWKS max-age: a postponement is decided
/// early enough to reach every region before the schedule it replaces would have activated.
#[test]
fn with_delivery_delays_every_region_publishes_a_key_before_any_region_signs_with_it() {
    let cadence = Cadence {
        propagation: 10,
        resync: 3,
    };
    let jwks_max_age = 5;
    let policy = Policy {
        rotation_interval: 80,
        publish_ahead: cadence.least_publish_ahead(jwks_max_age),
        jwks_max_age,
        decision_margin: cadence.decision_margin(),
        ..policy()
    };
    let (first, mut state) = started();
    let mut writes = vec![(0, first)];
    let stalled = 200..290;
    let mut postponed = 0;
    let mut signed_by_each = [BTreeSet::new(), BTreeSet::new()];
    for now in 1..700 {
        let regions = [0, 1].map(|region| Delivered {
            writes: &writes,
            cadence,
            region,
            stalled: if region == 1 { stalled.clone() } else { 0..0 },
        });
        for (region, view) in regions.iter().enumerate() {
            let Some(kid) = view.ring_at(now).and_then(|r| r.signing_key(now)) else {
                continue;
            };
            signed_by_each[region].insert(kid.kid.clone());
            if kid.kid == "k1" {
                continue;
            }
            for other in &regions {
                for at in (now - jwks_max_age - 1).max(0)..=now {
                    assert!(
                        other.publishes(&kid.kid, at),
                        "t={now}: region {region} signs with {} which region {} did not publish \
                         at {at}",
                        kid.kid,
                        other.region
                    );
                }
            }
        }
        if now % cadence.resync != 0 {
            continue;
        }
        let observed: Observations = regions
            .iter()
            .map(|view| {
                let kids = view
                    .ring_at(now)
                    .map(|ring| ring.published(now).map(|k| k.kid.clone()).collect());
                (format!("r{}", view.region), kids)
            })
            .collect();
        let ring = writes.last().expect("written").1.clone();
        let next = step(&ring, &state, &policy, &observed, now);
        postponed += next
            .notes
            .iter()
            .filter(|note| matches!(note, Note::Postponed { .. }))
            .count();
        if next.changed(&ring, &state) {
            writes.push((now, next.ring));
        }
        state = next.state;
    }
    assert!(postponed > 0, "the stall postponed a rotation");
    for signed in &signed_by_each {
        assert!(signed.len() >= 6, "rotations went on: {signed:?}");
    }
}

#[test]
fn a_healthy_region_confirms_before_the_decision_so_the_least_publish_ahead_never_postpones() {
    for (propagation, resync, jwks_max_age) in [(90, 60, 300), (10, 2, 2), (10, 3, 5), (1, 1, 0)] {
        let cadence = Cadence {
            propagation,
            resync,
        };
        let least = cadence.least_publish_ahead(jwks_max_age);
        // Staged at 0, served everywhere by `propagation`, seen at the next reconcile.
        let seen = propagation + resync;
        assert!(
            seen <= least - cadence.decision_margin(),
            "{cadence:?}: seen at {seen}, decided at {}",
            least - cadence.decision_margin()
        );
        assert!(
            seen + jwks_max_age < least,
            "{cadence:?}: caches not yet refreshed"
        );
        assert!(cadence.decision_margin() > propagation + resync);
    }
}
