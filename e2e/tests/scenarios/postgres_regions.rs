//! The demo's shape, proven: each region on a PostgreSQL database of its own with two
//! auth-server replicas, rendered by the operator from the AuthRegion's store and run from
//! exactly those objects. Tokens verify across regions, a killed replica costs no token, each
//! replica migrated its region's database, and the URI stays in the region's Secret.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::ListParams;
use meridian_e2e::eventually;
use meridian_e2e::local::{LocalMeridian, LocalOptions, LocalStore, REGIONS, REPLICAS, Steps};
use meridian_e2e::meridian::init_test_logging;
use meridian_operator::api::AuthRegion;

use crate::common::{BACKEND, WAIT, backend_secret, token_verified, tokens_verify_everywhere};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_on_their_own_databases_run_two_replicas_each() -> anyhow::Result<()> {
    init_test_logging();
    let options = LocalOptions::test().with_store(LocalStore::Postgres);
    let meridian = LocalMeridian::start(options, &Steps::stderr()).await?;
    let secret = backend_secret(&meridian).await?;
    tokens_verify_everywhere(&meridian, (BACKEND, &secret), &REGIONS).await?;

    for region in REGIONS {
        let pods = meridian.serving_pods(region).await?;
        assert_eq!(pods.len(), REPLICAS as usize, "{region}: {pods:?}");
        assert!(pods.iter().all(|p| p.ready), "{region}: {pods:?}");
        let migrated = "SELECT count(*) > 0 FROM meridian_schema_migrations";
        let answer = meridian.stores().query(region, migrated).await?;
        assert_eq!(answer, "t", "{region}");
    }

    // One replica of eu-west crashes: the region keeps issuing tokens, from the other replica
    // and the restarted one (on real nodes a connection sent to the crashed pod before its
    // readiness probe fails is refused, so the first answers may take a retry).
    meridian.crash_one_replica("eu-west").await?;
    let mut in_a_row = 0;
    eventually("five tokens in a row from eu-west", WAIT, async || {
        match token_verified(&meridian, (BACKEND, &secret), "eu-west", "us-east").await {
            Ok(_) => in_a_row += 1,
            Err(_) => in_a_row = 0,
        }
        Ok((in_a_row >= 5).then_some(()))
    })
    .await?;

    // The URI is read by reference: no object in the hub and no Deployment carries it.
    let hub = meridian.hub();
    let mut hub_objects = serde_json::to_string(
        &Api::<Secret>::all(hub.clone())
            .list(&ListParams::default())
            .await?,
    )?;
    hub_objects += &serde_json::to_string(
        &Api::<AuthRegion>::all(hub)
            .list(&ListParams::default())
            .await?,
    )?;
    assert!(!hub_objects.contains("postgres://"), "a URI in the hub");
    for region in REGIONS {
        let client = meridian.clusters()[region].client();
        let deployments = Api::<Deployment>::all(client)
            .list(&ListParams::default())
            .await?;
        let rendered = serde_json::to_string(&deployments)?;
        assert!(!rendered.contains("postgres://"), "a URI in {region}");
        assert!(rendered.contains("secretKeyRef"), "{region}");
    }
    Ok(())
}
