//! The hub goes down: the regions keep serving tokens with their last configuration, even
//! an auth-server restarted meanwhile; when the hub is back, changes flow again.

use std::time::Duration;

use meridian_e2e::eventually;
use meridian_e2e::local::REGIONS;
use tokio::time::Instant;

use crate::common::{
    BACKEND, WAIT, add_client, backend_secret, start, token_verified, tokens_verify_everywhere,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_keep_serving_their_last_config_while_the_hub_is_down() -> anyhow::Result<()> {
    let meridian = start().await?;
    let secret = backend_secret(&meridian).await?;
    let backend = (BACKEND, secret.as_str());
    let hub = meridian.clusters().hub();

    hub.stop_apiserver().await?;
    // Served throughout an outage spanning several of the operator's resyncs (2 s in tests).
    let outage = Instant::now();
    while outage.elapsed() < Duration::from_secs(6) {
        tokens_verify_everywhere(&meridian, backend, &REGIONS).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // A restarted auth-server comes back with the region's objects; the hub is not needed.
    meridian.crash_auth_servers("us-east").await?;
    tokens_verify_everywhere(&meridian, backend, &REGIONS).await?;

    // Back: the operator picks up a change again.
    hub.start_apiserver().await?;
    add_client(
        &meridian.hub(),
        "after-hub-outage",
        "after-hub-outage-secret",
    )
    .await?;
    eventually(
        "a change after the outage reaches us-east",
        WAIT,
        async || {
            let client = ("after-hub-outage", "after-hub-outage-secret");
            Ok(token_verified(&meridian, client, "us-east", "eu-west")
                .await
                .ok())
        },
    )
    .await?;
    Ok(())
}
