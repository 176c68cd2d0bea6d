//! Two operator replicas never both lead: the Lease is a compare-and-swap on the real API
//! server, and a standby takes over only after the leader's lease expires.

use std::time::Duration;

use meridian_e2e::{ClusterOptions, Clusters};
use meridian_operator::leader::{Leadership, LeaseSettings};
use tokio::time::Instant;

fn candidate(hub: kube::Client, identity: &str) -> Leadership {
    Leadership::new(
        hub,
        LeaseSettings {
            namespace: "default".into(),
            name: "meridian-operator".into(),
            identity: identity.into(),
            duration: Duration::from_secs(3),
            renew_every: Duration::from_millis(500),
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_leads_only_after_the_leader_stops_renewing() -> anyhow::Result<()> {
    let clusters = Clusters::start(1, ClusterOptions::default()).await?;
    let hub = clusters.hub().client();
    let first = candidate(hub.clone(), "replica-a");
    let second = candidate(hub.clone(), "replica-b");

    first.acquire().await?;
    let leader = tokio::spawn(async move { first.hold().await });
    // While the leader renews, the standby must not get the lease, for several lease lifetimes.
    let standby = tokio::time::timeout(Duration::from_secs(8), second.acquire()).await;
    assert!(
        standby.is_err(),
        "standby took a lease that was being renewed"
    );

    // The leader stops (crash): the standby leads once the lease has expired, not before.
    leader.abort();
    let stopped = Instant::now();
    tokio::time::timeout(Duration::from_secs(15), second.acquire()).await??;
    assert!(
        stopped.elapsed() >= Duration::from_secs(2),
        "took over after {:?}, before expiry",
        stopped.elapsed()
    );
    Ok(())
}
