//! A region goes down — its auth-server process killed and its API server stopped: the other
//! region keeps serving and takes changes, conditions in the hub say so, and when the region
//! is back it converges and serves the change too. A crashed auth-server is restarted from
//! the region's objects.

use meridian_e2e::eventually;

use crate::common::{
    BACKEND, WAIT, add_client, backend_secret, region_condition, start, tenant_condition,
    token_verified, tokens_verify_everywhere,
};

const NEW_CLIENT: &str = "added-during-outage";
const NEW_SECRET: &str = "added-during-outage-secret";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_down_never_stops_the_other_and_converges_when_back() -> anyhow::Result<()> {
    let mut meridian = start().await?;
    let secret = backend_secret(&meridian).await?;
    let backend = (BACKEND, secret.as_str());
    let hub = meridian.hub();

    // A crashed auth-server is started again, from the objects in its region.
    meridian.crash_auth_servers("eu-west").await?;
    token_verified(&meridian, backend, "eu-west", "eu-west").await?;

    // us-east goes away entirely.
    meridian.stop_kubelet("us-east");
    meridian.clusters()["us-east"].stop_apiserver().await?;
    assert!(
        token_verified(&meridian, backend, "us-east", "us-east")
            .await
            .is_err(),
        "us-east no longer serves"
    );
    let message = region_condition(&hub, "us-east", ("Reachable", "False", "Unreachable")).await?;
    println!("us-east while down: {message}");
    let message = tenant_condition(&hub, ("Replicated", "False", "RegionsNotSynced")).await?;
    assert!(message.contains("us-east"), "{message}");
    token_verified(&meridian, backend, "eu-west", "eu-west").await?;

    // A change made meanwhile reaches the live region.
    add_client(&hub, NEW_CLIENT, NEW_SECRET).await?;
    eventually("the new client served in eu-west", WAIT, async || {
        Ok(
            token_verified(&meridian, (NEW_CLIENT, NEW_SECRET), "eu-west", "eu-west")
                .await
                .ok(),
        )
    })
    .await?;

    // Back: the region converges, and serves the change it missed.
    meridian.clusters()["us-east"].start_apiserver().await?;
    region_condition(&hub, "us-east", ("Reachable", "True", "Reachable")).await?;
    meridian.start_kubelet("us-east").await?;
    eventually("the new client served in us-east", WAIT, async || {
        Ok(
            token_verified(&meridian, (NEW_CLIENT, NEW_SECRET), "us-east", "eu-west")
                .await
                .ok(),
        )
    })
    .await?;
    region_condition(&hub, "us-east", ("Ready", "True", "Synced")).await?;
    tenant_condition(&hub, ("Ready", "True", "Ready")).await?;
    tokens_verify_everywhere(&meridian, backend, &["eu-west", "us-east"]).await?;
    Ok(())
}
