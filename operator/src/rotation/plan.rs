//! The key rotation schedule of one tenant, as a pure function of the key ring, what each region
//! was seen publishing, the policy and the time. The tenant controller persists its answer in the
//! hub's key ring Secret; regions then switch keys by their own clocks at the same instant.
//!
//! Invariants, whatever reconcile runs or restarts in between:
//! - at most one key is staged (activates in the future), and generations only grow;
//! - a staged key's `activate_at` and its predecessor's `retire_at` are one instant, so exactly
//!   one key may sign at any time;
//! - a staged key never activates before every region publishes it and resource servers'
//!   caches (JWKS max-age) have had time to pick it up: otherwise it is postponed;
//! - a retired key stays published for the longest token lifetime plus the JWKS max-age.
//!
//! This module must never do I/O or read a clock.

use std::collections::BTreeSet;

use meridian_contract::{Algorithm, KeyRing, SigningKey, UnixSeconds};
use serde::{Deserialize, Serialize};

/// What the operator remembers between reconciles, next to the key ring in the hub Secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationState {
    /// The staged key every region was seen publishing, and since when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed: Option<(String, UnixSeconds)>,
    /// The last `meridian.dev/rotate` annotation value acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled_rotate_request: Option<String>,
    /// The highest generation ever issued, so numbers keep growing after a key is revoked.
    #[serde(default)]
    pub highest_generation: u64,
    /// Regions whose missing publication postponed the staged key, until they publish it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lagging: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub algorithm: Algorithm,
    pub rotation_interval: i64,
    pub publish_ahead: i64,
    pub jwks_max_age: i64,
    /// How long a retired key stays published: the longest token it signed must still verify.
    pub longest_token_lifetime: i64,
    /// How close to activation a missing confirmation postpones the staged key
    /// ([`Cadence::decision_margin`]); reconciles must run well within it while a key is staged.
    pub decision_margin: i64,
    pub revoked_kids: BTreeSet<String>,
    pub rotate_request: Option<String>,
}

/// How the operator runs, as far as the schedule depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// The longest a ring written now takes to be served by every healthy region.
    pub propagation: i64,
    /// The longest between two reconciles of a tenant with a staged key.
    pub resync: i64,
}

impl Cadence {
    /// How close to activation a missing confirmation postpones the staged key. The
    /// postponement must be written early enough to reach every region before the key would
    /// sign (propagation), and a missed reconcile must not let that moment pass (two resyncs).
    /// A region that never gets it would sign with a key the lagging region does not publish.
    pub fn decision_margin(&self) -> i64 {
        self.propagation + 2 * self.resync + 1
    }

    /// The shortest publishAhead that lets a staged key activate on time: every healthy region
    /// serves it and is seen doing so (propagation and a resync) before the decision, and
    /// resource servers' caches have picked it up before it signs.
    pub fn least_publish_ahead(&self, jwks_max_age: i64) -> i64 {
        let seen_everywhere = self.propagation + self.resync;
        (seen_everywhere + self.decision_margin()).max(seen_everywhere + jwks_max_age + 1)
    }
}

/// Key ids each region's JWKS was seen publishing; `None` when it could not be fetched.
pub type Observations = Vec<(String, Option<BTreeSet<String>>)>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    Staged {
        kid: String,
        activate_at: UnixSeconds,
        why: &'static str,
    },
    Confirmed {
        kid: String,
    },
    Postponed {
        kid: String,
        activate_at: UnixSeconds,
        lagging: Vec<String>,
    },
    Removed {
        kid: String,
    },
    Revoked {
        kid: String,
    },
    EmergencyKey {
        kid: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub ring: KeyRing,
    pub state: RotationState,
    pub notes: Vec<Note>,
}

impl Plan {
    pub fn changed(&self, ring: &KeyRing, state: &RotationState) -> bool {
        self.ring != *ring || self.state != *state
    }
}

/// The next schedule. `generate(alg, generation)` makes a new key published now.
pub fn plan(
    ring: &KeyRing,
    state: &RotationState,
    policy: &Policy,
    observed: &Observations,
    now: UnixSeconds,
    mut generate: impl FnMut(Algorithm, u64) -> SigningKey,
) -> Plan {
    let mut plan = Plan {
        ring: ring.clone(),
        state: state.clone(),
        notes: Vec::new(),
    };
    // Before revocation drops keys: their generations stay taken even if the state was lost.
    let highest_in_ring = ring
        .keys
        .iter()
        .map(|key| key.generation)
        .max()
        .unwrap_or(0);
    plan.state.highest_generation = plan.state.highest_generation.max(highest_in_ring);
    revoke(&mut plan, policy);
    remove_expired(&mut plan, now);
    if plan.ring.signing_key(now).is_none() && staged(&plan.ring, now).is_none() {
        // Nothing may sign (a first key, or the signing key was revoked): an emergency key signs
        // at once. Tokens of a revoked key stop verifying anyway.
        let key = schedule_new(
            generate(policy.algorithm, next_generation(&mut plan)),
            now,
            now,
        );
        plan.notes.push(Note::EmergencyKey {
            kid: key.kid.clone(),
        });
        plan.ring.keys.push(key);
        return plan;
    }
    match staged(&plan.ring, now) {
        None => stage_if_due(&mut plan, policy, now, &mut generate),
        Some(kid) => confirm_or_postpone(&mut plan, &kid, policy, observed, now),
    }
    plan
}

fn revoke(plan: &mut Plan, policy: &Policy) {
    plan.ring.keys.retain(|key| {
        let revoked = policy.revoked_kids.contains(&key.kid);
        if revoked {
            plan.notes.push(Note::Revoked {
                kid: key.kid.clone(),
            });
        }
        !revoked
    });
}

fn remove_expired(plan: &mut Plan, now: UnixSeconds) {
    plan.ring.keys.retain(|key| {
        let expired = key.remove_at.is_some_and(|remove| remove <= now);
        if expired {
            plan.notes.push(Note::Removed {
                kid: key.kid.clone(),
            });
        }
        !expired
    });
}

/// The key that activates in the future, if any.
fn staged(ring: &KeyRing, now: UnixSeconds) -> Option<String> {
    ring.keys
        .iter()
        .filter(|key| key.activate_at > now)
        .max_by_key(|key| key.generation)
        .map(|key| key.kid.clone())
}

/// The generation of a new key: above every key in the ring and every key ever issued.
fn next_generation(plan: &mut Plan) -> u64 {
    let highest = plan
        .ring
        .keys
        .iter()
        .map(|key| key.generation)
        .max()
        .unwrap_or(0);
    plan.state.highest_generation = highest.max(plan.state.highest_generation) + 1;
    plan.state.highest_generation
}

fn schedule_new(
    mut key: SigningKey,
    publish_at: UnixSeconds,
    activate_at: UnixSeconds,
) -> SigningKey {
    key.publish_at = publish_at;
    key.activate_at = activate_at;
    key.retire_at = None;
    key.remove_at = None;
    key
}

fn stage_if_due(
    plan: &mut Plan,
    policy: &Policy,
    now: UnixSeconds,
    generate: &mut impl FnMut(Algorithm, u64) -> SigningKey,
) {
    let Some(active) = plan.ring.signing_key(now).cloned() else {
        return;
    };
    let scheduled_switch = active.activate_at + policy.rotation_interval;
    let requested = policy.rotate_request.is_some()
        && policy.rotate_request != plan.state.handled_rotate_request;
    let (why, activate_at) = if requested {
        (
            "rotation requested by annotation",
            now + policy.publish_ahead,
        )
    } else if active.alg != policy.algorithm {
        ("signing algorithm changed", now + policy.publish_ahead)
    } else if now >= scheduled_switch - policy.publish_ahead {
        (
            "rotation interval elapsed",
            scheduled_switch.max(now + policy.publish_ahead),
        )
    } else {
        return;
    };
    let key = schedule_new(
        generate(policy.algorithm, next_generation(plan)),
        now,
        activate_at,
    );
    plan.notes.push(Note::Staged {
        kid: key.kid.clone(),
        activate_at,
        why,
    });
    hand_over(&mut plan.ring, &active.kid, activate_at, policy);
    plan.ring.keys.push(key);
    plan.state
        .handled_rotate_request
        .clone_from(&policy.rotate_request);
    plan.state.confirmed = None;
    plan.state.lagging.clear();
}

/// Schedules `predecessor` to retire exactly when its successor activates, and to leave the
/// JWKS once every token it signed has expired and caches have moved on.
fn hand_over(ring: &mut KeyRing, predecessor: &str, at: UnixSeconds, policy: &Policy) {
    if let Some(key) = ring.keys.iter_mut().find(|key| key.kid == predecessor) {
        key.retire_at = Some(at);
        key.remove_at = Some(at + policy.longest_token_lifetime + policy.jwks_max_age);
    }
}

fn confirm_or_postpone(
    plan: &mut Plan,
    kid: &str,
    policy: &Policy,
    observed: &Observations,
    now: UnixSeconds,
) {
    let lagging: Vec<String> = observed
        .iter()
        .filter(|(_, kids)| !kids.as_ref().is_some_and(|kids| kids.contains(kid)))
        .map(|(region, _)| region.clone())
        .collect();
    if lagging.is_empty() {
        plan.state.lagging.clear();
        if plan
            .state
            .confirmed
            .as_ref()
            .is_none_or(|(confirmed, _)| confirmed != kid)
        {
            plan.state.confirmed = Some((kid.to_owned(), now));
            plan.notes.push(Note::Confirmed {
                kid: kid.to_owned(),
            });
        }
    } else {
        plan.state.confirmed = None;
    }
    let activate_at = plan
        .ring
        .keys
        .iter()
        .find(|key| key.kid == kid)
        .map(|key| key.activate_at)
        .unwrap_or(now);
    // Resource servers cache a JWKS for up to max-age: the key may sign only once that long has
    // passed since every region was seen publishing it.
    let safe_from = plan
        .state
        .confirmed
        .as_ref()
        // One second more than the max-age: `at` is whole seconds, cut down from the moment
        // the key was seen, and a cache fetched just before that moment lives a max-age on.
        .map(|(_, at)| at + policy.jwks_max_age + 1);
    let safe = safe_from.is_some_and(|safe_from| safe_from <= activate_at);
    if safe || activate_at - now > policy.decision_margin {
        return;
    }
    // Seen everywhere but too late: wait out the caches. Not seen everywhere: a full
    // publishAhead from now, so the lagging region has the same head start as a fresh stage.
    let postponed_to = safe_from.unwrap_or(now + policy.publish_ahead);
    let predecessor = plan
        .ring
        .keys
        .iter()
        .filter(|key| key.retire_at == Some(activate_at))
        .map(|key| key.kid.clone())
        .collect::<Vec<_>>();
    for key in plan.ring.keys.iter_mut().filter(|key| key.kid == kid) {
        key.activate_at = postponed_to;
    }
    for predecessor in predecessor {
        hand_over(&mut plan.ring, &predecessor, postponed_to, policy);
    }
    plan.state.lagging.clone_from(&lagging);
    plan.notes.push(Note::Postponed {
        kid: kid.to_owned(),
        activate_at: postponed_to,
        lagging,
    });
}

#[cfg(test)]
mod tests;
