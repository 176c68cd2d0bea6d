//! Kubernetes-convention conditions, set so that only a real change alters them: the
//! transition time moves only when the status flips, so a steady state writes nothing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::api::ConditionType;

/// A condition as a reconcile concludes it, before it is merged into status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conclusion {
    pub type_: ConditionType,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl Conclusion {
    pub fn new(
        type_: ConditionType,
        status: bool,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// Merges `conclusions` into `existing`, keeping each condition's lastTransitionTime unless its
/// status flipped. Returns the new list, sorted by type for a stable serialization.
pub fn merge(
    existing: &[Condition],
    conclusions: &[Conclusion],
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    let mut merged: Vec<Condition> = conclusions
        .iter()
        .map(|c| {
            let status = if c.status { "True" } else { "False" }.to_owned();
            let previous = existing.iter().find(|e| e.type_ == c.type_.as_str());
            let last_transition_time = match previous {
                Some(p) if p.status == status => p.last_transition_time.clone(),
                _ => now.clone(),
            };
            Condition {
                type_: c.type_.as_str().to_owned(),
                status,
                reason: c.reason.clone(),
                message: c.message.clone(),
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect();
    merged.sort_by(|a, b| a.type_.cmp(&b.type_));
    merged
}

/// Conditions whose status or reason changed from `before` to `after`: what deserves an Event.
pub fn transitions<'a>(before: &[Condition], after: &'a [Condition]) -> Vec<&'a Condition> {
    after
        .iter()
        .filter(|a| {
            !before
                .iter()
                .any(|b| b.type_ == a.type_ && b.status == a.status && b.reason == a.reason)
        })
        .collect()
}

/// The transitions of `before` to `after` worth an Event, each with whether it is a Warning.
/// Only problems and their end are: a condition turning bad (Degraded True, any other False)
/// while `Degraded` is True is a Warning, and Degraded turning False again is a Normal Event.
/// While Degraded is False the object is only on its way (a first convergence, a change rolling
/// out): an Event per step of that, per object, was half of what a cold start of 1,000
/// Tenants wrote, and told no one anything the status does not.
pub fn notable<'a>(before: &[Condition], after: &'a [Condition]) -> Vec<(&'a Condition, bool)> {
    let degraded = |conditions: &[Condition]| {
        conditions
            .iter()
            .any(|c| c.type_ == ConditionType::Degraded.as_str() && c.status == "True")
    };
    let (was_degraded, is_degraded) = (degraded(before), degraded(after));
    transitions(before, after)
        .into_iter()
        .filter_map(|c| {
            let is_degraded_type = c.type_ == ConditionType::Degraded.as_str();
            let bad = is_degraded_type == (c.status == "True");
            if bad && is_degraded {
                Some((c, true))
            } else if is_degraded_type && !bad && was_degraded {
                Some((c, false))
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        let ready = |status| [Conclusion::new(ConditionType::Ready, status, "R", "m")];
        let first = merge(&[], &ready(true), Some(1), &at(10));
        let same = merge(&first, &ready(true), Some(1), &at(20));
        assert_eq!(first, same);
        let flipped = merge(&same, &ready(false), Some(1), &at(30));
        assert_eq!(flipped[0].last_transition_time, at(30));
        assert_eq!(transitions(&same, &flipped).len(), 1);
        assert!(transitions(&first, &same).is_empty());
    }

    fn conditions(list: &[(ConditionType, bool, &str)]) -> Vec<Condition> {
        let conclusions: Vec<Conclusion> = list
            .iter()
            .map(|(type_, status, reason)| Conclusion::new(*type_, *status, *reason, "m"))
            .collect();
        merge(&[], &conclusions, Some(1), &at(10))
    }

    #[test]
    fn a_first_convergence_is_worth_no_event_and_a_problem_and_its_end_are() {
        use ConditionType::*;
        let pending = conditions(&[
            (Ready, false, "RegionsNotSynced"),
            (Replicated, false, "RegionsNotSynced"),
            (Degraded, false, "AsExpected"),
        ]);
        let not_served = conditions(&[
            (Ready, false, "NotServed"),
            (Replicated, true, "AllRegionsSynced"),
            (Degraded, false, "AsExpected"),
        ]);
        let ready = conditions(&[
            (Ready, true, "Ready"),
            (Replicated, true, "AllRegionsSynced"),
            (Degraded, false, "AsExpected"),
        ]);
        assert!(notable(&[], &pending).is_empty());
        assert!(notable(&pending, &not_served).is_empty());
        assert!(notable(&not_served, &ready).is_empty());

        let failing = conditions(&[
            (Ready, false, "RegionsNotSynced"),
            (Replicated, false, "RegionsNotSynced"),
            (Degraded, true, "RegionFailing"),
        ]);
        let warned: Vec<(&str, bool)> = notable(&ready, &failing)
            .into_iter()
            .map(|(c, warning)| (c.type_.as_str(), warning))
            .collect();
        assert_eq!(
            warned,
            [("Degraded", true), ("Ready", true), ("Replicated", true)]
        );
        let recovered: Vec<(&str, bool)> = notable(&failing, &ready)
            .into_iter()
            .map(|(c, warning)| (c.type_.as_str(), warning))
            .collect();
        assert_eq!(recovered, [("Degraded", false)]);
    }
}
