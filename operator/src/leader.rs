//! Leader election through a coordination.k8s.io Lease, so two operator replicas never both
//! write. Whoever holds an unexpired lease leads; the leader renews it and stops (the process
//! exits, and restarts as a candidate) the moment it cannot prove it still holds it.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::PostParams;
use kube::{Api, Client};

#[derive(Debug, Clone)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    pub duration: Duration,
    pub renew_every: Duration,
}

pub struct Leadership {
    api: Api<Lease>,
    settings: LeaseSettings,
}

impl Leadership {
    pub fn new(hub: Client, settings: LeaseSettings) -> Self {
        Self {
            api: Api::namespaced(hub, &settings.namespace),
            settings,
        }
    }

    /// Waits until this process holds the lease.
    pub async fn acquire(&self) -> Result<(), kube::Error> {
        loop {
            if self.try_hold().await? {
                tracing::info!(identity = %self.settings.identity, lease = %self.settings.name, "became leader");
                return Ok(());
            }
            tokio::time::sleep(self.settings.renew_every).await;
        }
    }

    /// Renews the lease until it is lost or cannot be renewed within its duration; returns
    /// then, and the caller must stop writing.
    pub async fn hold(&self) {
        let mut last_renewed = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.settings.renew_every).await;
            match self.try_hold().await {
                Ok(true) => last_renewed = tokio::time::Instant::now(),
                Ok(false) => {
                    tracing::error!("lease taken by another replica");
                    return;
                }
                Err(error) if last_renewed.elapsed() < self.settings.duration => {
                    tracing::warn!(%error, "could not renew the lease; retrying");
                }
                Err(error) => {
                    tracing::error!(%error, "lease expired before it could be renewed");
                    return;
                }
            }
        }
    }

    /// One attempt to take or renew the lease; `Ok(false)` when another holder's lease is live.
    async fn try_hold(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let existing = self.api.get_opt(&self.settings.name).await?;
        let mine = |lease: &Lease| {
            lease
                .spec
                .as_ref()
                .and_then(|s| s.holder_identity.as_deref())
                == Some(self.settings.identity.as_str())
        };
        let spec = |acquired: Option<MicroTime>| LeaseSpec {
            holder_identity: Some(self.settings.identity.clone()),
            lease_duration_seconds: Some(self.settings.duration.as_secs() as i32),
            acquire_time: acquired.or(Some(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        };
        let result = match existing {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.settings.name.clone()),
                        ..ObjectMeta::default()
                    },
                    spec: Some(spec(None)),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            Some(lease) if mine(&lease) || expired(&lease, now) => {
                let acquired = if mine(&lease) {
                    lease.spec.as_ref().and_then(|s| s.acquire_time.clone())
                } else {
                    None
                };
                // The resourceVersion in `lease` makes this a compare-and-swap: of two
                // candidates replacing an expired lease, exactly one succeeds.
                let replacement = Lease {
                    metadata: lease.metadata.clone(),
                    spec: Some(spec(acquired)),
                };
                self.api
                    .replace(&self.settings.name, &PostParams::default(), &replacement)
                    .await
            }
            Some(_) => return Ok(false),
        };
        match result {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        }
    }
}

fn expired(lease: &Lease, now: Timestamp) -> bool {
    let Some(spec) = &lease.spec else { return true };
    let (Some(renewed), Some(seconds)) = (&spec.renew_time, spec.lease_duration_seconds) else {
        return true;
    };
    renewed.0 + SignedDuration::from_secs(i64::from(seconds)) < now
}
