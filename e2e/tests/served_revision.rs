//! Ready means served, observed from outside, with real API servers and real auth-server pods
//! on each region's node: a region whose auth-servers are stopped makes the Tenant not Ready,
//! naming the region, until it serves again; a region whose kubelet stalls (so its pods keep
//! their older files) serves an older revision, and past the operator's bound the Tenant is Degraded (NotServed)
//! with a Warning Event naming that region.

use std::time::Duration;

use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};
use meridian_e2e::meridian::{
    Operator, clusters_with_examples, free_public_urls, init_test_logging, tenant_ready,
};
use meridian_e2e::region_pods::serve_regions;
use meridian_e2e::{ClusterOptions, eventually};
use meridian_operator::api::{Tenant, TenantRegionStatus};
use meridian_operator::settings::Settings;

const WAIT: Duration = Duration::from_secs(60);
/// How long a region may go without serving before the Tenant is Degraded, small for the test.
const SERVED_WITHIN: Duration = Duration::from_secs(6);

/// Waits until acme's `type_` condition has this status and reason and `holds` of its message.
async fn condition_until(
    hub: &Client,
    (type_, status, reason): (&str, &str, &str),
    holds: impl Fn(&str) -> bool,
) -> anyhow::Result<Condition> {
    let tenants = Api::<Tenant>::all(hub.clone());
    let what = format!("acme {type_}={status} ({reason})");
    Ok(eventually(&what, WAIT, async || {
        let conditions = tenants
            .get("acme")
            .await?
            .status
            .unwrap_or_default()
            .conditions;
        Ok(conditions.into_iter().find(|c| {
            c.type_ == type_ && c.status == status && c.reason == reason && holds(&c.message)
        }))
    })
    .await?)
}

async fn region_status(hub: &Client, region: &str) -> anyhow::Result<TenantRegionStatus> {
    let status = Api::<Tenant>::all(hub.clone()).get("acme").await?.status;
    status
        .unwrap_or_default()
        .regions
        .into_iter()
        .find(|r| r.name == region)
        .ok_or_else(|| anyhow::anyhow!("acme's status has no region {region}"))
}

/// Waits until acme is Ready and every region serves the revision written there.
async fn served_everywhere(hub: &Client) -> anyhow::Result<Tenant> {
    let tenant = eventually("acme Ready", WAIT, async || tenant_ready(hub, "acme").await).await?;
    let regions = &tenant
        .status
        .as_ref()
        .expect("a Ready Tenant has status")
        .regions;
    for region in regions {
        assert!(
            region.revision.is_some() && region.served_revision == region.revision,
            "{region:?}"
        );
        assert!(
            region.not_served_since.is_none() && !region.overdue,
            "{region:?}"
        );
    }
    Ok(tenant)
}

/// A Warning Event about acme with this reason, published since `since`, whose note `holds`.
async fn warning_since(
    hub: &Client,
    reason: &str,
    since: Timestamp,
    holds: impl Fn(&str) -> bool,
) -> anyhow::Result<String> {
    let events = Api::<Event>::all(hub.clone());
    Ok(
        eventually(&format!("Warning {reason} on acme"), WAIT, async || {
            let list = events.list(&ListParams::default()).await?;
            Ok(list.items.into_iter().find_map(|e| {
                let about_acme = e.regarding.as_ref()?.name.as_deref() == Some("acme");
                let note = e.note.unwrap_or_default();
                let recent = e.event_time.as_ref().is_some_and(|t| t.0 >= since);
                (about_acme
                    && e.type_.as_deref() == Some("Warning")
                    && e.reason.as_deref() == Some(reason)
                    && recent
                    && holds(&note))
                .then_some(note)
            }))
        })
        .await?,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_follows_what_each_region_serves_and_a_region_left_behind_degrades()
-> anyhow::Result<()> {
    init_test_logging();
    let clusters = clusters_with_examples(ClusterOptions::default().with_nodes()).await?;
    let hub = clusters.hub().client();
    let urls = free_public_urls(&clusters).await?;
    let settings = Operator::test_settings(Duration::from_secs(2));
    let operator = Operator::start(hub.clone(), settings.clone());
    operator.ready().await?;
    let mut served = serve_regions(&clusters, &urls).await?;
    served_everywhere(&hub).await?;
    // The bound is made small only now, so a slow start cannot have degraded the Tenant.
    operator.stop().await;
    let operator = Operator::start(
        hub.clone(),
        Settings {
            served_within: SERVED_WITHIN,
            ..settings
        },
    );
    operator.ready().await?;

    // us-east's kubelet stalls: its auth-server keeps the files it has while acme changes.
    let before = region_status(&hub, "us-east").await?.revision;
    let us_east = clusters.get("us-east")?;
    served["us-east"].pause_kubelet(us_east)?;
    let changed = Timestamp::now();
    let scope = serde_json::json!([{"op": "add", "path": "/spec/scopes/-", "value": {"name": "reports:read"}}]);
    Api::<Tenant>::all(hub.clone())
        .patch(
            "acme",
            &PatchParams::default(),
            &Patch::<()>::Json(serde_json::from_value(scope)?),
        )
        .await?;
    let ready = condition_until(&hub, ("Ready", "False", "NotServed"), |m| {
        m.contains("us-east") && !m.contains("eu-west")
    })
    .await?;
    println!("while us-east is held back: {}", ready.message);
    let us = region_status(&hub, "us-east").await?;
    assert_eq!(us.served_revision, before, "us-east serves what it had");
    assert_ne!(us.revision, before, "the change was written to us-east");
    assert!(us.synced, "written is not served: {us:?}");

    // Past the bound it is Degraded, with a Warning Event naming the region.
    let degraded = condition_until(&hub, ("Degraded", "True", "NotServed"), |m| {
        m.contains("us-east") && !m.contains("eu-west")
    })
    .await?;
    println!("past {SERVED_WITHIN:?}: {}", degraded.message);
    assert!(region_status(&hub, "us-east").await?.overdue);
    warning_since(&hub, "NotServed", changed, |note| note.contains("us-east")).await?;

    // The kubelet catches up: Ready again, nothing Degraded.
    served["us-east"].resume_kubelet(us_east)?;
    served_everywhere(&hub).await?;
    condition_until(&hub, ("Degraded", "False", "AsExpected"), |_| true).await?;

    // us-east's auth-server stops: nothing is served there, so acme is not Ready, naming it.
    let us_pods = served.get_mut("us-east").expect("served");
    us_pods.stop(us_east);
    let ready = condition_until(&hub, ("Ready", "False", "NotServed"), |m| {
        m.contains("us-east (no revision read at its public URL") && !m.contains("eu-west")
    })
    .await?;
    println!("with us-east's auth-server stopped: {}", ready.message);
    assert_eq!(region_status(&hub, "us-east").await?.served_revision, None);

    // Served again: Ready again.
    us_pods.start(us_east).await?;
    served_everywhere(&hub).await?;
    drop(served);
    operator.stop().await;
    Ok(())
}
