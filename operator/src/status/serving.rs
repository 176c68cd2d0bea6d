//! Whether each region serves a tenant as the operator wrote it: the revision written there
//! against the revision read from the region's public URL, since when they differ, and whether
//! that has lasted longer than the operator allows. Pure: the caller reads the regions and the
//! clock; nothing here may touch either.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use meridian_contract::Revision;

use crate::api::{ConditionType, TenantRegionStatus, TenantStatus};
use crate::status::conditions::transitions;

/// The reason of `Ready=False` and `Degraded=True`, and of the Warning Event, when a region
/// does not serve what was written there.
pub const NOT_SERVED: &str = "NotServed";

/// How one placed region serves the tenant, as its status records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Serving {
    pub revision: Option<String>,
    pub served_revision: Option<String>,
    pub not_served_since: Option<Time>,
    pub overdue: bool,
}

/// A placed region's serving from the revision `written` there (`None` before the region
/// reported one) and the revision `served` at its public URL (`None` when unreadable).
/// `notServedSince` is set once, when the region stops serving what was written, and kept
/// through later revisions, so a region that never catches up does become overdue.
pub fn serving(
    written: Option<&Revision>,
    served: Option<&Revision>,
    before: Option<&TenantRegionStatus>,
    bound: Duration,
    now: &Time,
) -> Serving {
    let is_served = written.is_some() && written == served;
    let not_served_since = (!is_served).then(|| {
        before
            .and_then(|b| b.not_served_since.clone())
            .unwrap_or_else(|| whole_seconds(now))
    });
    let overdue = not_served_since
        .as_ref()
        .is_some_and(|since| now.0.as_second() - since.0.as_second() >= bound.as_secs() as i64);
    Serving {
        revision: written.map(ToString::to_string),
        served_revision: served.map(ToString::to_string),
        not_served_since,
        overdue,
    }
}

/// `now` as status stores it (whole seconds), so what is computed equals what is read back
/// and the steady state writes nothing.
fn whole_seconds(now: &Time) -> Time {
    k8s_openapi::jiff::Timestamp::from_second(now.0.as_second())
        .map(Time)
        .unwrap_or_else(|_| now.clone())
}

/// Whether the placed region serves what was written there.
pub fn is_served(region: &TenantRegionStatus) -> bool {
    region.revision.is_some() && region.not_served_since.is_none()
}

/// What the region serves instead of its written revision, for messages.
fn serves_instead(region: &TenantRegionStatus) -> String {
    let wanted = region.revision.as_deref().unwrap_or("(none written yet)");
    match &region.served_revision {
        Some(served) => format!("serves revision {served}, not {wanted}"),
        None => format!("no revision read at its public URL, wants {wanted}"),
    }
}

/// `Ready`'s message when some placed regions do not serve what was written; `None` when
/// every one does.
pub fn not_served_message(placed: &[&TenantRegionStatus]) -> Option<String> {
    let regions: Vec<String> = placed
        .iter()
        .filter(|r| !is_served(r))
        .map(|r| format!("{} ({})", r.name, serves_instead(r)))
        .collect();
    (!regions.is_empty()).then(|| format!("not served as written by {}", regions.join("; ")))
}

/// `Degraded`'s problems: regions that went without serving what was written for too long.
pub fn overdue_problems(regions: &[TenantRegionStatus]) -> Vec<String> {
    regions
        .iter()
        .filter(|r| r.overdue)
        .map(|r| format!("{}: {}", r.name, overdue_note(r)))
        .collect()
}

fn overdue_note(region: &TenantRegionStatus) -> String {
    let since = region
        .not_served_since
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_default();
    format!(
        "not serving its current configuration since {since} ({})",
        serves_instead(region)
    )
}

/// The notes of the Warning Events to raise for `status` over `previous`: one per region that
/// became overdue. None when `Degraded` itself turns `NotServed`, because publishing that
/// transition raises one Warning Event whose message names every overdue region already.
pub fn overdue_events(previous: &TenantStatus, status: &TenantStatus) -> Vec<String> {
    let degraded_turns_not_served = transitions(&previous.conditions, &status.conditions)
        .iter()
        .any(|c| {
            c.type_ == ConditionType::Degraded.as_str()
                && c.status == "True"
                && c.reason == NOT_SERVED
        });
    if degraded_turns_not_served {
        return Vec::new();
    }
    status
        .regions
        .iter()
        .filter(|r| r.overdue)
        .filter(|r| {
            !previous
                .regions
                .iter()
                .any(|p| p.name == r.name && p.overdue)
        })
        .map(|r| format!("region {}: {}", r.name, overdue_note(r)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;
    use meridian_contract::TenantFile;

    fn at(second: i64) -> Time {
        Time(Timestamp::from_second(second).unwrap())
    }

    fn revision(content: &str) -> Revision {
        Revision::of([(TenantFile::Config, content.as_bytes())])
    }

    const BOUND: Duration = Duration::from_secs(120);

    #[test]
    fn not_served_since_is_set_once_and_cleared_when_served() {
        let (old, new) = (revision("old"), revision("new"));
        let now = Time(
            Timestamp::from_second(100).unwrap()
                + k8s_openapi::jiff::SignedDuration::from_millis(700),
        );
        let first = serving(Some(&new), Some(&old), None, BOUND, &now);
        assert_eq!(
            first.not_served_since,
            Some(at(100)),
            "whole seconds, as stored"
        );
        let before = TenantRegionStatus {
            not_served_since: first.not_served_since.clone(),
            ..TenantRegionStatus::default()
        };
        // A newer revision meanwhile does not restart the clock.
        let newer = revision("newer");
        let later = serving(Some(&newer), Some(&old), Some(&before), BOUND, &at(150));
        assert_eq!(later.not_served_since, Some(at(100)));
        assert!(!later.overdue);
        let served = serving(Some(&newer), Some(&newer), Some(&before), BOUND, &at(160));
        assert_eq!(served.not_served_since, None);
    }

    #[test]
    fn overdue_from_the_bound_on() {
        let before = TenantRegionStatus {
            not_served_since: Some(at(100)),
            ..TenantRegionStatus::default()
        };
        let written = revision("new");
        let just_before = serving(Some(&written), None, Some(&before), BOUND, &at(219));
        assert!(!just_before.overdue);
        let at_bound = serving(Some(&written), None, Some(&before), BOUND, &at(220));
        assert!(at_bound.overdue);
    }
}
