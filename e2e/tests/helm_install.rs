//! The charts installed with the built helm into real API servers, and the operator running
//! as the chart's ServiceAccount (a TokenRequest token) in the hub, reaching both regions
//! through kubeconfigs that carry tokens of the region chart's ServiceAccount.
//!
//! examples/ reconciles to Ready (served by real auth-server pods on each region's node), a rotation
//! rewrites the key ring, the Lease is taken and
//! cleanup finishes without one refused write in any cluster: the RBAC is sufficient. The same
//! identity is refused Secrets outside its namespace: the RBAC is narrow. `helm uninstall`
//! leaves only the CRDs. With `hubRegion.enabled`, the hub serves as a region on the same
//! narrow rules.

mod chart;

use std::time::Duration;

use chart::install::{
    OPERATOR_SA, REGION_NAMESPACE, TOKEN_LIFETIME, WAIT, assert_no_refused_writes, helm,
    install_operator_chart, install_region, is_forbidden, operator_identity, operator_user,
    release_objects, still_there,
};
use chart::{object_id, path_str};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use meridian_e2e::meridian::{
    OPERATOR_NAMESPACE, Operator, apply_examples, free_loopback_urls, free_public_urls,
    init_test_logging, kubectl, put_secret, tenant_ready,
};
use meridian_e2e::region_pods::{RegionPods, serve_regions};
use meridian_e2e::{ClusterOptions, Clusters, eventually};
use meridian_operator::api::{AuthRegion, Tenant};
use meridian_operator::leader::{Leadership, LeaseSettings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_charts_identity_reconciles_examples_and_uninstall_keeps_only_crds()
-> anyhow::Result<()> {
    init_test_logging();
    let clusters = Clusters::start(3, ClusterOptions::default().with_nodes()).await?;
    eprintln!("three clusters ready in {:.1?}", clusters.startup_time());
    let hub = clusters.hub();
    let admin = hub.client();

    let installed = std::time::Instant::now();
    install_operator_chart(hub, &[])?;
    for region in clusters.regions() {
        let kubeconfig = install_region(region).await?;
        let secret = format!("{}-kubeconfig", region.name());
        put_secret(&admin, &secret, "value", &kubeconfig).await?;
    }
    eprintln!("charts installed in {:.1?}", installed.elapsed());
    apply_examples(hub)?;
    let urls = free_public_urls(&clusters).await?;

    // From here on the operator is the chart's ServiceAccount, nothing more.
    let identity = operator_identity(hub).await?;

    // It may take its Lease, by the name the chart grants.
    let lease = LeaseSettings {
        namespace: OPERATOR_NAMESPACE.into(),
        name: "meridian-operator".into(),
        identity: "helm-install-test".into(),
        duration: Duration::from_secs(15),
        renew_every: Duration::from_secs(1),
    };
    tokio::time::timeout(WAIT, Leadership::new(identity.clone(), lease).acquire()).await??;

    // ...and can read no Secret outside its namespace, in the hub or in a region.
    put_secret(&admin, "probe", "value", "x").await?;
    let elsewhere = Api::<Secret>::namespaced(admin.clone(), "default");
    elsewhere
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "metadata": {"name": "not-for-meridian"}, "stringData": {"value": "x"}
            }))?,
        )
        .await?;
    let own = Api::<Secret>::namespaced(identity.clone(), OPERATOR_NAMESPACE);
    assert!(
        own.get("probe").await.is_ok(),
        "its own namespace is readable"
    );
    let secrets_in = |ns: &str| Api::<Secret>::namespaced(identity.clone(), ns);
    assert!(is_forbidden(
        secrets_in("default").get("not-for-meridian").await
    ));
    assert!(is_forbidden(
        secrets_in("default").list(&ListParams::default()).await
    ));
    assert!(is_forbidden(
        secrets_in("kube-system").list(&ListParams::default()).await
    ));
    assert!(is_forbidden(
        Api::<Secret>::all(identity.clone())
            .list(&ListParams::default())
            .await
    ));
    let region_identity = clusters["eu-west"]
        .client_with_token(
            &clusters["eu-west"]
                .service_account_token(OPERATOR_NAMESPACE, OPERATOR_SA, &[], TOKEN_LIFETIME)
                .await?,
        )
        .await?;
    assert!(is_forbidden(
        Api::<Secret>::namespaced(region_identity.clone(), OPERATOR_NAMESPACE)
            .list(&ListParams::default())
            .await
    ));
    assert!(is_forbidden(
        Api::<Namespace>::all(region_identity.clone())
            .list(&ListParams::default())
            .await
    ));
    // It writes only into the auth-servers' namespace.
    let stray: ConfigMap =
        serde_json::from_value(serde_json::json!({"metadata": {"name": "stray"}}))?;
    assert!(is_forbidden(
        Api::<ConfigMap>::namespaced(region_identity, "default")
            .create(&PostParams::default(), &stray)
            .await
    ));

    // The refusals above were the test's own probes; from here on every write is the operator's.
    let marks: Vec<_> = clusters
        .iter()
        .map(|c| c.audit().mark())
        .collect::<Result<_, _>>()?;
    let reconciled = std::time::Instant::now();
    let operator = Operator::start(
        identity.clone(),
        Operator::test_settings(Duration::from_secs(2)),
    );
    operator.ready().await?;
    let served = serve_regions(&clusters, &urls).await?;
    eventually("acme Ready", WAIT, async || {
        tenant_ready(&admin, "acme").await
    })
    .await?;
    eprintln!("acme Ready in {:.1?}", reconciled.elapsed());
    for region in clusters.regions() {
        Api::<Deployment>::namespaced(region.client(), REGION_NAMESPACE)
            .get("auth-shared")
            .await?;
    }

    // A rotation rewrites the key ring under compare-and-swap: the Secret update rule.
    let key_rings = Api::<Secret>::namespaced(admin.clone(), OPERATOR_NAMESPACE);
    let before = key_rings
        .get("meridian-keys-acme")
        .await?
        .metadata
        .resource_version;
    let rotate =
        serde_json::json!({"metadata": {"annotations": {"meridian.dev/rotate": "helm-test"}}});
    Api::<Tenant>::all(admin.clone())
        .patch("acme", &PatchParams::default(), &Patch::Merge(&rotate))
        .await?;
    eventually("rotation staged", WAIT, async || {
        let now = key_rings
            .get("meridian-keys-acme")
            .await?
            .metadata
            .resource_version;
        Ok((now != before).then_some(()))
    })
    .await?;

    // Cleanup needs the delete rules: the Tenant's regions and key ring, then the regions.
    Api::<Tenant>::all(admin.clone())
        .delete("acme", &DeleteParams::default())
        .await?;
    let regions = Api::<AuthRegion>::all(admin.clone());
    for region in clusters.regions() {
        regions
            .delete(region.name(), &DeleteParams::default())
            .await?;
    }
    eventually("Tenant and AuthRegions gone", WAIT, async || {
        let tenants = Api::<Tenant>::all(admin.clone())
            .list(&ListParams::default())
            .await?;
        let left = regions.list(&ListParams::default()).await?;
        Ok((tenants.items.is_empty() && left.items.is_empty()).then_some(()))
    })
    .await?;
    for region in clusters.regions() {
        let deployments = Api::<Deployment>::namespaced(region.client(), REGION_NAMESPACE)
            .list(&ListParams::default())
            .await?;
        assert!(
            deployments.items.is_empty(),
            "{} keeps auth-servers",
            region.name()
        );
    }
    assert!(
        Api::<Secret>::namespaced(admin.clone(), OPERATOR_NAMESPACE)
            .get_opt("meridian-keys-acme")
            .await?
            .is_none()
    );
    drop(served);
    operator.stop().await;

    // Not one write of the operator's identity was refused, in any cluster.
    let user = operator_user();
    for (cluster, mark) in clusters.iter().zip(marks.iter().copied()) {
        assert_no_refused_writes(cluster, mark)?;
    }

    // Events of the cluster-scoped Tenants and AuthRegions land in `default`, where the chart
    // grants them.
    let hub_writes = hub.audit().writes_since(marks[0])?;
    assert!(
        hub_writes.iter().any(|w| w.user == user
            && w.resource == "events"
            && w.namespace.as_deref() == Some("default")
            && w.code == Some(201)),
        "the operator published no Event"
    );
    assert!(
        hub_writes.iter().any(|w| w.user == user
            && w.resource == "secrets"
            && w.verb == "update"
            && w.code == Some(200)),
        "the key ring was not rewritten by its rotation"
    );

    // helm uninstall removes every object of the release but the CRDs.
    let objects = release_objects(hub, "meridian")?;
    helm(
        hub,
        &[
            "uninstall",
            "meridian",
            "--namespace",
            OPERATOR_NAMESPACE,
            "--wait",
        ],
    )?;
    // Without a controller-manager nothing holds a finalizer on these kinds, so once helm
    // returns they are gone or they stay.
    for object in &objects {
        let (kind, _, name) = object_id(object);
        let keep = kind == "CustomResourceDefinition";
        assert_eq!(
            still_there(hub, object)?,
            keep,
            "{kind}/{name} after uninstall"
        );
    }
    assert!(
        objects
            .iter()
            .any(|o| object_id(o).0 == "CustomResourceDefinition")
    );
    Ok(())
}

/// An AuthRegion without `spec.cluster` (its public URL filled in) and a Tenant served only
/// there.
const HUB_REGION: &str = r#"
apiVersion: meridian.dev/v1alpha1
kind: AuthRegion
metadata:
  name: hub
spec:
  namespace: meridian-auth
  publicUrl: PUBLIC_URL
---
apiVersion: meridian.dev/v1alpha1
kind: Tenant
metadata:
  name: solo
spec:
  regions: [hub]
  homeRegion: hub
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_as_a_region_needs_only_the_region_rules() -> anyhow::Result<()> {
    init_test_logging();
    let clusters = Clusters::start(1, ClusterOptions::default().with_nodes_everywhere()).await?;
    let hub = clusters.hub();
    let admin = hub.client();
    let mark = hub.audit().mark()?;
    install_operator_chart(hub, &["--set", "hubRegion.enabled=true"])?;
    let manifest = hub.dir().join("hub-region.yaml");
    let public_url = free_loopback_urls(1)?.remove(0);
    std::fs::write(&manifest, HUB_REGION.replace("PUBLIC_URL", &public_url))?;
    kubectl(hub, &["apply", "-f", path_str(&manifest)])?;

    let identity = operator_identity(hub).await?;
    let operator = Operator::start(identity, Operator::test_settings(Duration::from_secs(2)));
    operator.ready().await?;
    let served = RegionPods::serve(&admin, hub, &public_url).await?;
    eventually("solo Ready", WAIT, async || {
        tenant_ready(&admin, "solo").await
    })
    .await?;
    Api::<Deployment>::namespaced(admin.clone(), REGION_NAMESPACE)
        .get("auth-shared")
        .await?;

    Api::<Tenant>::all(admin.clone())
        .delete("solo", &DeleteParams::default())
        .await?;
    let regions = Api::<AuthRegion>::all(admin.clone());
    regions.delete("hub", &DeleteParams::default()).await?;
    eventually("hub region gone", WAIT, async || {
        Ok(regions
            .list(&ListParams::default())
            .await?
            .items
            .is_empty()
            .then_some(()))
    })
    .await?;
    let left = Api::<Deployment>::namespaced(admin.clone(), REGION_NAMESPACE)
        .list(&ListParams::default())
        .await?;
    assert!(left.items.is_empty(), "auth-servers left in the hub");
    drop(served);
    operator.stop().await;
    assert_no_refused_writes(hub, mark)
}
