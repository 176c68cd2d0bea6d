//! The auth-server's store, on real API servers (a hub and one region): the API server refuses
//! more than one replica on the memory store; an AuthRegion switched to Postgres while its URI
//! Secret is missing keeps its region as it runs, with a condition and an Event naming the
//! Secret; once the Secret exists, the region runs two auth-server pods that read the URI from
//! it by reference, rolled and drained one at a time, and the URI appears in no object the
//! operator writes, in the region or the hub.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use meridian_e2e::meridian::{
    Operator, apply_examples, init_test_logging, install_crds, register_regions,
};
use meridian_e2e::{ClusterOptions, Clusters, eventually};
use meridian_operator::api::{AuthRegion, Tenant};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);
const NS: &str = "meridian-auth";
const REGION: &str = "eu-west";
const DEPLOYMENT: &str = "auth-shared";
const DB_SECRET: &str = "eu-west-db-app";
/// Stands for the database password: it must never be found outside the region's Secret.
const PASSWORD: &str = "pw-never-copied-5d1e";

fn uri() -> String {
    format!("postgres://meridian:{PASSWORD}@eu-west-db-rw.{NS}:5432/meridian")
}

fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Waits for the AuthRegion's `type_` condition to have `status` and `reason` for its current
/// generation.
async fn region_condition(
    hub: &Client,
    type_: &str,
    status: &str,
    reason: &str,
) -> anyhow::Result<Condition> {
    let api = Api::<AuthRegion>::all(hub.clone());
    Ok(eventually(
        &format!("{REGION} {type_}={status} ({reason})"),
        WAIT,
        async || {
            let region = api.get(REGION).await?;
            let generation = region.metadata.generation;
            let conditions = region.status.unwrap_or_default().conditions;
            Ok(find(&conditions, type_)
                .filter(|c| c.status == status && c.reason == reason)
                .filter(|c| c.observed_generation == generation)
                .cloned())
        },
    )
    .await?)
}

/// Waits for an Event about the AuthRegion with `reason`; returns its note.
async fn region_event(hub: &Client, reason: &str) -> anyhow::Result<String> {
    let api = Api::<Event>::all(hub.clone());
    Ok(eventually(
        &format!("Event {reason} on AuthRegion/{REGION}"),
        WAIT,
        async || {
            let events = api.list(&ListParams::default()).await?;
            Ok(events.items.into_iter().find_map(|e| {
                let regarding = e.regarding.as_ref()?;
                (regarding.kind.as_deref() == Some("AuthRegion")
                    && regarding.name.as_deref() == Some(REGION)
                    && e.reason.as_deref() == Some(reason))
                .then(|| e.note.unwrap_or_default())
            }))
        },
    )
    .await?)
}

fn checksum(deployment: &Deployment) -> Option<String> {
    let template = deployment.spec.as_ref()?.template.metadata.as_ref()?;
    template
        .annotations
        .as_ref()?
        .get("meridian.dev/config-checksum")
        .cloned()
}

/// The hub serves only eu-west here: acme moves there and us-east goes before the operator
/// starts, so nothing waits on a cluster this test does not run.
async fn serve_from_eu_west_only(hub: &Client) -> anyhow::Result<()> {
    let only_eu = json!({"spec": {"regions": [REGION], "homeRegion": REGION}});
    Api::<Tenant>::all(hub.clone())
        .patch("acme", &PatchParams::default(), &Patch::Merge(&only_eu))
        .await?;
    Api::<AuthRegion>::all(hub.clone())
        .delete("us-east", &DeleteParams::default())
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_store_is_read_by_reference_and_waits_for_its_secret() -> anyhow::Result<()> {
    init_test_logging();
    let clusters = Clusters::start(2, ClusterOptions::default()).await?;
    let hub = clusters.hub().client();
    let region = clusters[REGION].client();
    install_crds(clusters.hub())?;
    register_regions(&clusters).await?;
    apply_examples(clusters.hub())?;
    serve_from_eu_west_only(&hub).await?;
    let regions = Api::<AuthRegion>::all(hub.clone());

    // The API server refuses a second replica on the memory store, naming the field.
    let three = json!({"spec": {"authServer": {"replicas": 3}}});
    let refused = regions
        .patch(REGION, &PatchParams::default(), &Patch::Merge(&three))
        .await
        .expect_err("replicas: 3 on the memory store is refused");
    let message = match refused {
        kube::Error::Api(status) => status.message,
        other => anyhow::bail!("expected an admission error, got {other}"),
    };
    assert!(
        message.contains("spec.authServer.replicas must be at most 1 with the memory store"),
        "{message}"
    );

    let operator = Operator::start(hub.clone(), Operator::test_settings(Duration::from_secs(2)));
    operator.ready().await?;
    // Synced: acme is served, so the Deployment read next is the one the region keeps.
    region_condition(&hub, "Ready", "True", "Synced").await?;
    let deployments = Api::<Deployment>::namespaced(region.clone(), NS);
    let on_memory = deployments.get(DEPLOYMENT).await?;
    let memory_spec = on_memory.spec.clone().unwrap_or_default();
    assert_eq!(memory_spec.replicas, Some(1));

    // Postgres before its Secret exists: the region keeps the Deployment it runs, and says why.
    let postgres = json!({"spec": {"authServer": {"replicas": null,
        "store": {"kind": "Postgres", "uriSecretRef": {"name": DB_SECRET}}}}});
    regions
        .patch(REGION, &PatchParams::default(), &Patch::Merge(&postgres))
        .await?;
    let degraded = region_condition(&hub, "Degraded", "True", "StoreSecretMissing").await?;
    let secret_named = format!("{NS}/{DB_SECRET}");
    assert!(
        degraded.message.contains(&secret_named) && degraded.message.contains("\"uri\""),
        "{}",
        degraded.message
    );
    region_condition(&hub, "Ready", "False", "StoreSecretMissing").await?;
    let note = region_event(&hub, "StoreSecretMissing").await?;
    assert!(note.contains(&secret_named), "{note}");
    let held = deployments.get(DEPLOYMENT).await?;
    assert_eq!(held.metadata.generation, on_memory.metadata.generation);
    assert_eq!(held.spec, on_memory.spec);

    // The Secret appears (as CloudNativePG would write it): the condition clears and the region
    // rolls to the Postgres store.
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(DB_SECRET.into()),
            ..ObjectMeta::default()
        },
        string_data: Some(
            [
                ("uri".to_owned(), uri()),
                ("password".to_owned(), PASSWORD.into()),
            ]
            .into(),
        ),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(region.clone(), NS)
        .create(&PostParams::default(), &secret)
        .await?;
    region_condition(&hub, "Degraded", "False", "AsExpected").await?;
    region_condition(&hub, "Ready", "True", "Synced").await?;

    let on_postgres = eventually("auth-server on Postgres", WAIT, async || {
        let d = deployments.get(DEPLOYMENT).await?;
        Ok((checksum(&d) != checksum(&on_memory)).then_some(d))
    })
    .await?;
    let spec = on_postgres.spec.clone().unwrap_or_default();
    assert_eq!(spec.replicas, Some(2));
    let strategy = spec.strategy.clone().unwrap_or_default();
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy.rolling_update.unwrap_or_default();
    assert_eq!(rolling.max_unavailable, Some(IntOrString::Int(0)));
    assert_eq!(rolling.max_surge, Some(IntOrString::Int(1)));
    let container = &spec.template.spec.unwrap_or_default().containers[0];
    let store_env: Vec<_> = container
        .env
        .iter()
        .flatten()
        .filter(|e| e.name == "MERIDIAN_STORE")
        .collect();
    assert_eq!(store_env.len(), 1, "{:?}", container.env);
    assert_eq!(store_env[0].value, None);
    let selector = store_env[0]
        .value_from
        .as_ref()
        .and_then(|v| v.secret_key_ref.as_ref())
        .expect("MERIDIAN_STORE comes from a Secret");
    assert_eq!(
        (selector.name.as_str(), selector.key.as_str()),
        (DB_SECRET, "uri")
    );

    let pdb = Api::<PodDisruptionBudget>::namespaced(region.clone(), NS)
        .get(DEPLOYMENT)
        .await?
        .spec
        .unwrap_or_default();
    // One of the two pods may be evicted at a time, so one keeps serving through a drain.
    assert_eq!(pdb.max_unavailable, Some(IntOrString::Int(1)));
    assert_eq!(pdb.min_available, None);

    // The URI is in no Deployment of the region, nor in the AuthRegion or any Event of the hub.
    let written = [
        serde_json::to_string(&deployments.list(&ListParams::default()).await?)?,
        serde_json::to_string(&regions.get(REGION).await?)?,
        serde_json::to_string(
            &Api::<Event>::all(hub.clone())
                .list(&ListParams::default())
                .await?,
        )?,
    ];
    for text in written {
        assert!(!text.contains(PASSWORD), "the store URI leaked: {text}");
    }
    operator.stop().await;
    Ok(())
}
