//! The operator against real API servers — a hub and two regions, each served by real
//! auth-server pods on the region's node: examples/ become objects in both regions, edits
//! propagate, drift is repaired, a steady state writes nothing, removals and deletions leave
//! nothing behind.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use meridian_contract::TenantConfig;
use meridian_e2e::meridian::{Operator, clusters_with_examples, free_public_urls, tenant_ready};
use meridian_e2e::region_pods::serve_regions;
use meridian_e2e::{ADMIN_USER, ClusterOptions, WriteFilter, eventually};
use meridian_operator::api::{AuthRegion, Tenant};
use meridian_operator::render::managed_by_selector;

const NS: &str = "meridian-auth";
const WAIT: Duration = Duration::from_secs(60);

fn condition(
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    type_: &str,
) -> Option<String> {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status.clone())
}

/// The tenant's config as a region serves it, if the region holds it.
async fn served_config(
    region: &Client,
    tenant: &str,
) -> meridian_e2e::Result<Option<TenantConfig>> {
    let maps = Api::<ConfigMap>::namespaced(region.clone(), NS)
        .list(&ListParams::default().labels(&managed_by_selector()))
        .await?;
    let file = format!("{tenant}.tenant.json");
    Ok(maps
        .items
        .iter()
        .filter_map(|cm| cm.data.as_ref()?.get(&file))
        .find_map(|json| serde_json::from_str(json).ok()))
}

/// Names of the objects Meridian labelled that are still in `client`'s cluster.
async fn labelled_leftovers(client: &Client) -> meridian_e2e::Result<Vec<String>> {
    async fn names<K>(client: &Client) -> meridian_e2e::Result<Vec<String>>
    where
        K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let list = Api::<K>::all(client.clone())
            .list(&ListParams::default().labels(&managed_by_selector()))
            .await?;
        Ok(list
            .items
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    K::kind(&()),
                    o.meta().name.clone().unwrap_or_default()
                )
            })
            .collect())
    }
    let mut left = names::<Namespace>(client).await?;
    left.extend(names::<ConfigMap>(client).await?);
    left.extend(names::<Secret>(client).await?);
    left.extend(names::<Deployment>(client).await?);
    left.extend(names::<Service>(client).await?);
    left.extend(names::<PodDisruptionBudget>(client).await?);
    Ok(left)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_reconcile_into_both_regions_and_follow_every_change() -> anyhow::Result<()> {
    meridian_e2e::meridian::init_test_logging();
    let clusters = clusters_with_examples(ClusterOptions::default().with_nodes()).await?;
    let hub = clusters.hub().client();
    let urls = free_public_urls(&clusters).await?;
    let resync = Duration::from_secs(2);
    let operator = Operator::start(hub.clone(), Operator::test_settings(resync));
    operator.ready().await?;
    let served = serve_regions(&clusters, &urls).await?;

    // Applying examples/ creates the expected objects in both regions; statuses are Ready.
    let tenant = eventually("acme Ready", WAIT, async || {
        tenant_ready(&hub, "acme").await
    })
    .await?;
    let status = tenant.status.clone().unwrap();
    assert_eq!(
        status.issuer.as_deref(),
        Some("http://127.0.0.1:18440/t/acme")
    );
    assert!(
        status.regions.iter().all(|r| r.synced),
        "{:?}",
        status.regions
    );
    assert!(
        status
            .regions
            .iter()
            .all(|r| r.revision.is_some() && r.served_revision == r.revision),
        "{:?}",
        status.regions
    );
    assert!(
        status
            .signing
            .as_ref()
            .and_then(|s| s.active_kid.as_ref())
            .is_some()
    );
    assert_eq!(printed_column(&hub, "acme", "Served").await?, "2/2");
    for region in clusters.regions() {
        let client = region.client();
        let config = served_config(&client, "acme").await?.expect("acme served");
        assert_eq!(config.clients.len(), 2);
        Api::<Deployment>::namespaced(client.clone(), NS)
            .get("auth-shared")
            .await?;
        Api::<Service>::namespaced(client.clone(), NS)
            .get("auth-shared")
            .await?;
        Api::<PodDisruptionBudget>::namespaced(client.clone(), NS)
            .get("auth-shared")
            .await?;
        let files = Api::<Secret>::namespaced(client, NS)
            .get("auth-shared-files-0")
            .await?;
        let keys: Vec<_> = files.data.unwrap_or_default().into_keys().collect();
        assert_eq!(
            keys,
            ["acme.clients.json", "acme.keys.json", "acme.users.json"]
        );
        let ar = Api::<AuthRegion>::all(hub.clone())
            .get(region.name())
            .await?;
        let ar_status = ar.status.unwrap_or_default();
        assert_eq!(ar_status.observed_generation, ar.metadata.generation);
        assert_eq!(ar_status.tenants, 1);
        eventually("region Ready", WAIT, async || {
            let ar = Api::<AuthRegion>::all(hub.clone())
                .get(region.name())
                .await?;
            Ok(
                (condition(&ar.status.unwrap_or_default().conditions, "Ready").as_deref()
                    == Some("True"))
                .then_some(()),
            )
        })
        .await?;
    }

    // Editing the Tenant (a new scope and client) updates every region.
    let edit = serde_json::json!({"spec": {
        "scopes": [{"name": "orders:read"}, {"name": "orders:write"}, {"name": "invoices:read"}],
        "clients": tenant.spec.clients.iter().map(|c| serde_json::to_value(c).unwrap())
            .chain([serde_json::json!({"clientId": "reports", "type": "public", "grantTypes": ["authorization_code"],
                "redirectUris": ["https://reports.acme.example/cb"], "scopes": ["invoices:read"]})]).collect::<Vec<_>>()
    }});
    Api::<Tenant>::all(hub.clone())
        .patch("acme", &PatchParams::default(), &Patch::Merge(&edit))
        .await?;
    for region in clusters.regions() {
        let client = region.client();
        eventually("new client in region", WAIT, async || {
            Ok(served_config(&client, "acme")
                .await?
                .filter(|c| c.clients.iter().any(|c| c.client_id == "reports")))
        })
        .await?;
    }
    eventually("acme Ready after edit", WAIT, async || {
        tenant_ready(&hub, "acme").await
    })
    .await?;

    // Drift made by hand is repaired: an edited Deployment, a deleted ConfigMap.
    let eu = clusters["eu-west"].client();
    let us = clusters["us-east"].client();
    let scale = serde_json::json!({"spec": {"replicas": 5}});
    Api::<Deployment>::namespaced(eu.clone(), NS)
        .patch(
            "auth-shared",
            &PatchParams::default(),
            &Patch::Merge(&scale),
        )
        .await?;
    Api::<ConfigMap>::namespaced(us.clone(), NS)
        .delete("auth-shared-config-0", &DeleteParams::default())
        .await?;
    eventually("Deployment repaired", WAIT, async || {
        let d = Api::<Deployment>::namespaced(eu.clone(), NS)
            .get("auth-shared")
            .await?;
        Ok((d.spec.and_then(|s| s.replicas) == Some(1)).then_some(()))
    })
    .await?;
    eventually("ConfigMap restored", WAIT, async || {
        served_config(&us, "acme").await
    })
    .await?;
    // A shard edited in place (a file's content changed, the object kept) is put back too: a
    // pass reads shards' metadata only, and a resourceVersion the operator did not write is
    // what makes it read the shard and compare.
    let shards = Api::<ConfigMap>::namespaced(eu.clone(), NS);
    let tampered = serde_json::json!({"data": {"acme.tenant.json": "{}"}});
    shards
        .patch(
            "auth-shared-config-0",
            &PatchParams::default(),
            &Patch::Merge(&tampered),
        )
        .await?;
    eventually("edited shard restored", WAIT, async || {
        let shard = shards.get("auth-shared-config-0").await?;
        let config = shard.data.and_then(|d| d.get("acme.tenant.json").cloned());
        Ok(config.filter(|c| c != "{}").map(drop))
    })
    .await?;

    // A steady state makes no writes: several resyncs later, no cluster saw a write from the
    // operator's identity.
    eventually("acme Ready after repair", WAIT, async || {
        tenant_ready(&hub, "acme").await
    })
    .await?;
    tokio::time::sleep(resync * 2).await; // let in-flight reconciles of the repair finish
    let marks: Vec<_> = clusters
        .iter()
        .map(|c| c.audit().mark())
        .collect::<Result<_, _>>()?;
    let reconciles_before = reconcile_count(&operator);
    eventually("three resyncs of every region", WAIT, async || {
        Ok((reconcile_count(&operator) >= reconciles_before + 6).then_some(()))
    })
    .await?;
    for (cluster, mark) in clusters.iter().zip(marks) {
        let writes = cluster.audit().writes_since(mark)?;
        let ours: Vec<_> = writes
            .iter()
            .filter(|w| WriteFilter::any().user(ADMIN_USER).matches(w))
            .collect();
        assert!(
            ours.is_empty(),
            "{} received writes in a steady state: {ours:#?}",
            cluster.name()
        );
    }

    // Removing a region from the Tenant deletes its objects there.
    let move_home = serde_json::json!({"spec": {"regions": ["eu-west"], "homeRegion": "eu-west"}});
    Api::<Tenant>::all(hub.clone())
        .patch("acme", &PatchParams::default(), &Patch::Merge(&move_home))
        .await?;
    eventually("acme gone from us-east", WAIT, async || {
        let gone = served_config(&us, "acme").await?.is_none()
            && Api::<Deployment>::namespaced(us.clone(), NS)
                .get_opt("auth-shared")
                .await?
                .is_none();
        Ok(gone.then_some(()))
    })
    .await?;
    assert!(served_config(&eu, "acme").await?.is_some());

    // Deleting the Tenant and then the AuthRegions leaves nothing labelled in any cluster.
    Api::<Tenant>::all(hub.clone())
        .delete("acme", &DeleteParams::default())
        .await?;
    eventually("Tenant deleted", WAIT, async || {
        Ok(Api::<Tenant>::all(hub.clone())
            .get_opt("acme")
            .await?
            .is_none()
            .then_some(()))
    })
    .await?;
    assert!(served_config(&eu, "acme").await?.is_none());
    let regions = Api::<AuthRegion>::all(hub.clone());
    for region in clusters.regions() {
        regions
            .delete(region.name(), &DeleteParams::default())
            .await?;
    }
    eventually("AuthRegions deleted", WAIT, async || {
        Ok(regions
            .list(&ListParams::default())
            .await?
            .items
            .is_empty()
            .then_some(()))
    })
    .await?;
    for cluster in clusters.iter() {
        let client = cluster.client();
        let waited = eventually("no labelled objects", WAIT, async || {
            Ok(labelled_leftovers(&client).await?.is_empty().then_some(()))
        })
        .await;
        if let Err(error) = waited {
            panic!(
                "{} keeps {:?}: {error}",
                cluster.name(),
                labelled_leftovers(&client).await?
            );
        }
    }
    drop(served);
    operator.stop().await;
    Ok(())
}

fn reconcile_count(operator: &Operator) -> u64 {
    operator
        .metrics
        .encode()
        .lines()
        .filter(|l| l.starts_with("meridian_operator_reconciles_total{controller=\"region\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// One cell of `kubectl get tenants`, as the API server prints it (the Table API kubectl uses).
async fn printed_column(hub: &Client, tenant: &str, column: &str) -> anyhow::Result<String> {
    let request = http::Request::get(format!("/apis/meridian.dev/v1alpha1/tenants/{tenant}"))
        .header(
            "Accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .body(Vec::new())?;
    let table: serde_json::Value = serde_json::from_str(&hub.request_text(request).await?)?;
    let index = table["columnDefinitions"]
        .as_array()
        .and_then(|columns| columns.iter().position(|c| c["name"] == column))
        .ok_or_else(|| anyhow::anyhow!("no column {column}: {table}"))?;
    Ok(table["rows"][0]["cells"][index]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}
