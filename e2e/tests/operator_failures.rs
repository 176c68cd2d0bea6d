//! What can go wrong around the operator, against real API servers: a region's API server
//! stops and comes back; an unknown region, a missing kubeconfig Secret, a kubeconfig Secret
//! holding garbage and a deleted client Secret. Each surfaces as a condition and an Event
//! naming the problem, and nothing already serving is torn down. Both regions are served by real
//! auth-server pods on their nodes, so Ready means what it says.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use meridian_contract::TenantConfig;
use meridian_e2e::meridian::{
    OPERATOR_NAMESPACE, Operator, clusters_with_examples, free_public_urls, init_test_logging,
    put_secret,
};
use meridian_e2e::region_pods::{RegionPods, serve_regions};
use meridian_e2e::{ClusterOptions, Clusters, eventually};
use meridian_operator::api::{AuthRegion, Tenant};

const WAIT: Duration = Duration::from_secs(60);

fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

async fn served_clients(region: &Client, tenant: &str) -> meridian_e2e::Result<Vec<String>> {
    let maps = Api::<ConfigMap>::namespaced(region.clone(), "meridian-auth")
        .list(&ListParams::default())
        .await?;
    let file = format!("{tenant}.tenant.json");
    let config: Option<TenantConfig> = maps
        .items
        .iter()
        .filter_map(|cm| cm.data.as_ref()?.get(&file))
        .find_map(|j| serde_json::from_str(j).ok());
    Ok(config
        .map(|c| c.clients.into_iter().map(|c| c.client_id).collect())
        .unwrap_or_default())
}

/// Waits for a condition of an AuthRegion matching `status` and `reason`.
async fn region_condition(
    hub: &Client,
    region: &str,
    type_: &str,
    status: &str,
    reason: &str,
) -> anyhow::Result<Condition> {
    let api = Api::<AuthRegion>::all(hub.clone());
    Ok(eventually(
        &format!("{region} {type_}={status} ({reason})"),
        WAIT,
        async || {
            let conditions = api.get(region).await?.status.unwrap_or_default().conditions;
            Ok(find(&conditions, type_)
                .filter(|c| c.status == status && c.reason == reason)
                .cloned())
        },
    )
    .await?)
}

async fn tenant_condition(
    hub: &Client,
    tenant: &str,
    type_: &str,
    status: &str,
    reason: &str,
) -> anyhow::Result<Condition> {
    tenant_condition_saying(hub, tenant, type_, status, reason, "").await
}

/// Waits for a Tenant condition whose message contains `saying`.
async fn tenant_condition_saying(
    hub: &Client,
    tenant: &str,
    type_: &str,
    status: &str,
    reason: &str,
    saying: &str,
) -> anyhow::Result<Condition> {
    let api = Api::<Tenant>::all(hub.clone());
    Ok(eventually(
        &format!("{tenant} {type_}={status} ({reason}) saying {saying:?}"),
        WAIT,
        async || {
            let conditions = api.get(tenant).await?.status.unwrap_or_default().conditions;
            Ok(find(&conditions, type_)
                .filter(|c| c.status == status && c.reason == reason && c.message.contains(saying))
                .cloned())
        },
    )
    .await?)
}

/// Waits for an Event about `kind/name` with `reason`; returns its note.
async fn event(hub: &Client, kind: &str, name: &str, reason: &str) -> anyhow::Result<String> {
    let api = Api::<Event>::all(hub.clone());
    Ok(eventually(
        &format!("Event {reason} on {kind}/{name}"),
        WAIT,
        async || {
            let events = api.list(&ListParams::default()).await?;
            Ok(events.items.into_iter().find_map(|e| {
                let regarding = e.regarding.as_ref()?;
                (regarding.kind.as_deref() == Some(kind)
                    && regarding.name.as_deref() == Some(name)
                    && e.reason.as_deref() == Some(reason))
                .then(|| e.note.unwrap_or_default())
            }))
        },
    )
    .await?)
}

/// examples/ reconciled by the operator and served in both regions. Field order is drop order.
struct Running {
    served: BTreeMap<String, RegionPods>,
    operator: Operator,
    clusters: Clusters,
}

async fn start() -> anyhow::Result<Running> {
    init_test_logging();
    let clusters = clusters_with_examples(ClusterOptions::default().with_nodes()).await?;
    let urls = free_public_urls(&clusters).await?;
    let operator = Operator::start(
        clusters.hub().client(),
        Operator::test_settings(Duration::from_secs(2)),
    );
    operator.ready().await?;
    let served = serve_regions(&clusters, &urls).await?;
    Ok(Running {
        served,
        operator,
        clusters,
    })
}

fn add_client(client_id: &str) -> serde_json::Value {
    serde_json::json!({"op": "add", "path": "/spec/clients/-", "value": {
        "clientId": client_id, "type": "public", "grantTypes": ["authorization_code"],
        "redirectUris": ["https://app.example/cb"], "scopes": ["openid"]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_region_never_blocks_the_other_and_converges_when_back() -> anyhow::Result<()> {
    let Running {
        served,
        operator,
        clusters,
    } = start().await?;
    let hub = clusters.hub().client();
    tenant_condition(&hub, "acme", "Ready", "True", "Ready").await?;

    clusters["us-east"].stop_apiserver().await?;
    let patch = Patch::<()>::Json(serde_json::from_value(serde_json::json!([add_client(
        "late"
    )]))?);
    Api::<Tenant>::all(hub.clone())
        .patch("acme", &PatchParams::default(), &patch)
        .await?;

    let eu = clusters["eu-west"].client();
    eventually("eu-west serves the new client", WAIT, async || {
        Ok(served_clients(&eu, "acme")
            .await?
            .contains(&"late".to_string())
            .then_some(()))
    })
    .await?;
    let unreachable =
        region_condition(&hub, "us-east", "Reachable", "False", "Unreachable").await?;
    assert!(!unreachable.message.is_empty());
    let replicated =
        tenant_condition(&hub, "acme", "Replicated", "False", "RegionsNotSynced").await?;
    assert!(
        replicated.message.contains("us-east"),
        "{}",
        replicated.message
    );
    event(&hub, "AuthRegion", "us-east", "Unreachable").await?;
    // Each failed attempt is a reconcile error of that region, by reason, on /metrics.
    let unreachable_errors = r#"meridian_operator_reconcile_errors_total{controller="region",region="us-east",reason="Unreachable"}"#;
    eventually("/metrics counts us-east as unreachable", WAIT, async || {
        // An admin server that never answers fails here too, when the wait gives up.
        let Ok(text) = operator.scrape_metrics().await else {
            return Ok(None);
        };
        Ok(metric(&text, unreachable_errors).filter(|count| *count >= 1.0))
    })
    .await?;
    let scraped = operator.scrape_metrics().await?;
    assert_eq!(
        metric(
            &scraped,
            r#"meridian_operator_reconcile_errors_total{controller="region",region="eu-west",reason="Unreachable"}"#
        ),
        None,
        "the region that answers has no such errors"
    );

    // Back again: converges without restarting the operator.
    clusters["us-east"].start_apiserver().await?;
    let us = clusters["us-east"].client();
    eventually("us-east serves the new client", WAIT, async || {
        Ok(served_clients(&us, "acme")
            .await?
            .contains(&"late".to_string())
            .then_some(()))
    })
    .await?;
    region_condition(&hub, "us-east", "Reachable", "True", "Reachable").await?;
    tenant_condition(&hub, "acme", "Ready", "True", "Ready").await?;
    drop(served);
    operator.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_references_become_conditions_and_events_and_nothing_is_torn_down() -> anyhow::Result<()>
{
    let Running {
        served,
        operator,
        clusters,
    } = start().await?;
    let hub = clusters.hub().client();
    tenant_condition(&hub, "acme", "Ready", "True", "Ready").await?;

    // An AuthRegion whose kubeconfig Secret does not exist, and one whose Secret holds garbage.
    let regions = Api::<AuthRegion>::all(hub.clone());
    let region = |name: &str| -> anyhow::Result<AuthRegion> {
        Ok(serde_json::from_value(serde_json::json!({
            "apiVersion": "meridian.dev/v1alpha1", "kind": "AuthRegion", "metadata": {"name": name},
            "spec": {"publicUrl": format!("https://{name}.auth.example.com"), "namespace": format!("meridian-{name}"),
                     "cluster": {"kubeconfigSecretRef": {"name": format!("{name}-kubeconfig")}}}
        }))?)
    };
    regions
        .create(&PostParams::default(), &region("ap-south")?)
        .await?;
    put_secret(
        &hub,
        "sa-east-kubeconfig",
        "value",
        "this is not a kubeconfig: [",
    )
    .await?;
    regions
        .create(&PostParams::default(), &region("sa-east")?)
        .await?;

    let missing = region_condition(
        &hub,
        "ap-south",
        "Reachable",
        "False",
        "KubeconfigSecretMissing",
    )
    .await?;
    assert!(
        missing
            .message
            .contains("meridian-system/ap-south-kubeconfig"),
        "{}",
        missing.message
    );
    event(&hub, "AuthRegion", "ap-south", "KubeconfigSecretMissing").await?;
    let garbage =
        region_condition(&hub, "sa-east", "Reachable", "False", "KubeconfigInvalid").await?;
    assert!(
        garbage.message.contains("sa-east-kubeconfig"),
        "{}",
        garbage.message
    );
    assert!(
        !garbage.message.contains("not a kubeconfig: ["),
        "Secret content leaked: {}",
        garbage.message
    );
    event(&hub, "AuthRegion", "sa-east", "KubeconfigInvalid").await?;
    // Fixing the Secret is enough: the region's client is rebuilt from its new content.
    put_secret(
        &hub,
        "sa-east-kubeconfig",
        "value",
        clusters["us-east"].kubeconfig(),
    )
    .await?;
    region_condition(&hub, "sa-east", "Reachable", "True", "Reachable").await?;

    // A Tenant naming an AuthRegion that does not exist.
    let unknown = serde_json::json!({"op": "add", "path": "/spec/regions/-", "value": "mars-1"});
    let patch = Patch::<()>::Json(serde_json::from_value(serde_json::json!([unknown]))?);
    Api::<Tenant>::all(hub.clone())
        .patch("acme", &PatchParams::default(), &patch)
        .await?;
    tenant_condition_saying(
        &hub,
        "acme",
        "Degraded",
        "True",
        "UnknownRegion",
        "AuthRegion mars-1 not found",
    )
    .await?;
    event(&hub, "Tenant", "acme", "UnknownRegion").await?;

    // A client Secret deleted from the hub: regions keep serving acme's last good state.
    Api::<Secret>::namespaced(hub.clone(), OPERATOR_NAMESPACE)
        .delete("acme-backend-client", &DeleteParams::default())
        .await?;
    let missing_secret =
        "serving the last good configuration: Secret acme-backend-client not found";
    tenant_condition_saying(
        &hub,
        "acme",
        "Replicated",
        "False",
        "RegionsNotSynced",
        missing_secret,
    )
    .await?;
    for region in clusters.regions() {
        let clients = served_clients(&region.client(), "acme").await?;
        assert!(
            clients.contains(&"backend".to_string()),
            "{} stopped serving acme: {clients:?}",
            region.name()
        );
        region_condition(
            &hub,
            region.name(),
            "Degraded",
            "True",
            "TenantInputsInvalid",
        )
        .await?;
    }

    // The operator kept running through all of it: a fixed Secret converges again.
    put_secret(
        &hub,
        "acme-backend-client",
        "clientSecret",
        "demo-backend-secret-change-me",
    )
    .await?;
    let patch = Patch::<()>::Json(serde_json::from_value(
        serde_json::json!([{"op": "remove", "path": "/spec/regions/2"}]),
    )?);
    Api::<Tenant>::all(hub.clone())
        .patch("acme", &PatchParams::default(), &patch)
        .await?;
    tenant_condition(&hub, "acme", "Ready", "True", "Ready").await?;
    drop(served);
    operator.stop().await;
    Ok(())
}

/// The value of one exported series, when it is exported.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}
