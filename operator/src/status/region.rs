//! AuthRegion status from a convergence's outcome: a pure function, so that what a user sees
//! is unit-tested and unchanged outcomes produce an unchanged status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions::{Conclusion, merge};
use super::report::RegionSync;
use crate::api::{AuthRegion, AuthRegionStatus, ConditionType};
use crate::edge::region::RegionError;

/// What a successful convergence found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Converged {
    pub sync: RegionSync,
    pub placed: usize,
    pub wrote: bool,
    pub ready_replicas: i32,
    pub desired_replicas: i32,
    pub paused: bool,
}

impl Converged {
    pub fn paused(sync: RegionSync) -> Self {
        Self {
            placed: sync.tenants.values().filter(|t| t.serving).count(),
            sync,
            paused: true,
            ..Self::default()
        }
    }
}

pub fn region_status(
    region: &AuthRegion,
    outcome: &Result<Converged, RegionError>,
    now: &Time,
) -> AuthRegionStatus {
    let previous = region.status.clone().unwrap_or_default();
    let generation = region.metadata.generation;
    let conclusions = conclusions(outcome);
    let mut status = AuthRegionStatus {
        observed_generation: generation,
        conditions: merge(&previous.conditions, &conclusions, generation, now),
        ..previous.clone()
    };
    if let Ok(converged) = outcome {
        status.tenants = i32::try_from(converged.placed).unwrap_or(i32::MAX);
        status.ready_replicas = converged.ready_replicas;
        if converged.wrote || previous.last_sync_time.is_none() && !converged.paused {
            status.last_sync_time = Some(now.0.to_string());
        }
    }
    status
}

fn conclusions(outcome: &Result<Converged, RegionError>) -> Vec<Conclusion> {
    match outcome {
        Err(error) => failed(error),
        Ok(converged) if converged.paused => paused(),
        Ok(converged) => synced(converged),
    }
}

fn reachable() -> Conclusion {
    Conclusion::new(
        ConditionType::Reachable,
        true,
        "Reachable",
        "the region's API server answers",
    )
}

/// The region could not be converged; it keeps what it had.
fn failed(error: &RegionError) -> Vec<Conclusion> {
    use ConditionType::*;
    let reason = error.reason();
    let reachable = if error.reached_api_server() {
        reachable()
    } else {
        Conclusion::new(Reachable, false, reason, error.to_string())
    };
    vec![
        reachable,
        Conclusion::new(Ready, false, reason, error.to_string()),
        Conclusion::new(
            Progressing,
            false,
            reason,
            "changes are retried with backoff",
        ),
        Conclusion::new(Degraded, true, reason, error.to_string()),
    ]
}

fn paused() -> Vec<Conclusion> {
    use ConditionType::*;
    vec![
        reachable(),
        Conclusion::new(
            Ready,
            false,
            "Paused",
            "spec.paused is set: nothing in the region is changed",
        ),
        Conclusion::new(Progressing, false, "Paused", "spec.paused is set"),
        Conclusion::new(Degraded, false, "Paused", "spec.paused is set"),
    ]
}

/// The region holds what was rendered for it; tenants whose inputs are broken degrade it.
fn synced(converged: &Converged) -> Vec<Conclusion> {
    use ConditionType::*;
    let problems: Vec<String> = converged
        .sync
        .tenants
        .iter()
        .filter_map(|(tenant, entry)| {
            Some(format!("tenant {tenant}: {}", entry.problem_message()?))
        })
        .collect();
    let progressing = if converged.ready_replicas < converged.desired_replicas {
        let note = format!(
            "{} of {} auth-server pods ready",
            converged.ready_replicas, converged.desired_replicas
        );
        Conclusion::new(Progressing, true, "RollingOut", note)
    } else {
        Conclusion::new(
            Progressing,
            false,
            "RolledOut",
            "every auth-server pod is ready",
        )
    };
    let (degraded, ready) = if problems.is_empty() {
        (
            Conclusion::new(
                Degraded,
                false,
                "AsExpected",
                "every placed tenant is served as specified",
            ),
            Conclusion::new(
                Ready,
                true,
                "Synced",
                format!("{} tenant(s) synced to the region", converged.placed),
            ),
        )
    } else {
        let message = name_some(&problems);
        (
            Conclusion::new(Degraded, true, TENANT_INPUTS_INVALID, message.clone()),
            Conclusion::new(Ready, false, TENANT_INPUTS_INVALID, message),
        )
    };
    vec![reachable(), ready, progressing, degraded]
}

/// The reason of a region, or a Tenant, with a tenant whose inputs cannot be rendered.
pub const TENANT_INPUTS_INVALID: &str = "TenantInputsInvalid";

/// Tenants whose problem a region's condition spells out; each Tenant's own status says why for
/// every one of them.
const PROBLEMS_NAMED: usize = 5;

/// The first few problems, then how many more: a region of thousands of new Tenants waiting for
/// their key rings would otherwise write a condition message past what the API server stores
/// (etcd refuses the whole status) and an Event note past its 1 KiB.
fn name_some(problems: &[String]) -> String {
    let named = problems[..problems.len().min(PROBLEMS_NAMED)].join("; ");
    match problems.len().saturating_sub(PROBLEMS_NAMED) {
        0 => named,
        more => format!("{named}; and {more} more tenant(s), each saying why in its status"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::hub::InputError;
    use crate::status::report::TenantInRegion;
    use k8s_openapi::jiff::Timestamp;

    fn region() -> AuthRegion {
        let mut region: AuthRegion = serde_yaml::from_str(
            "apiVersion: meridian.dev/v1alpha1\nkind: AuthRegion\nmetadata: {name: eu, generation: 3}\nspec: {publicUrl: 'https://eu.example'}",
        )
        .unwrap();
        region.status = None;
        region
    }

    fn at(s: i64) -> Time {
        Time(Timestamp::from_second(s).unwrap())
    }

    fn condition<'a>(
        status: &'a AuthRegionStatus,
        type_: &str,
    ) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        status.conditions.iter().find(|c| c.type_ == type_).unwrap()
    }

    #[test]
    fn a_converged_region_is_ready_and_a_steady_state_changes_nothing() {
        let mut region = region();
        let converged = Converged {
            placed: 2,
            wrote: true,
            ..Converged::default()
        };
        let first = region_status(&region, &Ok(converged.clone()), &at(10));
        assert_eq!(condition(&first, "Ready").status, "True");
        assert_eq!(first.observed_generation, Some(3));
        assert_eq!(first.tenants, 2);
        region.status = Some(first.clone());
        let steady = Converged {
            wrote: false,
            ..converged
        };
        assert_eq!(region_status(&region, &Ok(steady), &at(20)), first);
    }

    #[test]
    fn an_unreachable_region_says_so_and_keeps_its_last_counts() {
        let mut region = region();
        region.status = Some(region_status(
            &region,
            &Ok(Converged {
                placed: 2,
                ..Converged::default()
            }),
            &at(10),
        ));
        let status = region_status(
            &region,
            &Err(RegionError::Unreachable("connection refused".into())),
            &at(20),
        );
        assert_eq!(condition(&status, "Reachable").status, "False");
        assert_eq!(condition(&status, "Reachable").reason, "Unreachable");
        assert_eq!(condition(&status, "Degraded").status, "True");
        assert_eq!(status.tenants, 2);
    }

    #[test]
    fn a_missing_kubeconfig_names_the_secret() {
        let error = RegionError::KubeconfigSecretMissing {
            namespace: "meridian-system".into(),
            name: "eu-kubeconfig".into(),
        };
        let status = region_status(&region(), &Err(error), &at(10));
        assert_eq!(
            condition(&status, "Reachable").reason,
            "KubeconfigSecretMissing"
        );
        assert!(
            condition(&status, "Ready")
                .message
                .contains("meridian-system/eu-kubeconfig")
        );
    }

    #[test]
    fn a_missing_store_secret_degrades_a_reachable_region_and_names_the_secret() {
        let error = RegionError::StoreSecretMissing {
            namespace: "meridian-auth".into(),
            name: "eu-db-app".into(),
            key: "uri".into(),
        };
        let status = region_status(&region(), &Err(error), &at(10));
        assert_eq!(condition(&status, "Reachable").status, "True");
        let degraded = condition(&status, "Degraded");
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", "StoreSecretMissing")
        );
        assert!(degraded.message.contains("meridian-auth/eu-db-app"));
        assert!(degraded.message.contains("\"uri\""));
        assert_eq!(condition(&status, "Ready").status, "False");
    }

    #[test]
    fn a_tenant_on_its_last_good_state_degrades_the_region() {
        let mut sync = RegionSync::default();
        let problem = Some(InputError::SecretMissing { name: "s".into() }.into());
        sync.tenants.insert(
            "acme".into(),
            TenantInRegion {
                generation: None,
                problem,
                serving: true,
                revision: None,
            },
        );
        let status = region_status(
            &region(),
            &Ok(Converged {
                sync,
                placed: 1,
                ..Converged::default()
            }),
            &at(10),
        );
        assert_eq!(condition(&status, "Degraded").status, "True");
        assert!(
            condition(&status, "Degraded")
                .message
                .contains("tenant acme")
        );
    }

    #[test]
    fn a_region_with_thousands_of_unserved_tenants_names_a_few_and_counts_the_rest() {
        let mut sync = RegionSync::default();
        for i in 0..10_000 {
            sync.tenants.insert(
                format!("tenant-{i:05}"),
                TenantInRegion {
                    problem: Some(InputError::SecretMissing { name: "k".into() }.into()),
                    ..TenantInRegion::default()
                },
            );
        }
        let outcome = Ok(Converged {
            sync,
            ..Converged::default()
        });
        let status = region_status(&region(), &outcome, &at(10));
        let degraded = condition(&status, "Degraded");
        assert_eq!(degraded.reason, "TenantInputsInvalid");
        assert!(
            degraded
                .message
                .starts_with("tenant tenant-00000: not served")
        );
        assert!(degraded.message.contains("tenant tenant-00004"));
        assert!(!degraded.message.contains("tenant tenant-00005"));
        assert!(
            degraded
                .message
                .ends_with("and 9995 more tenant(s), each saying why in its status")
        );
        assert!(degraded.message.len() < 1024, "{}", degraded.message.len());
    }
}
