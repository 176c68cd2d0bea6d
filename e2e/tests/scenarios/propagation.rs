//! A client added to the Tenant in the hub gets tokens in every region; the time from the
//! apply to usable everywhere is measured and printed.

use std::time::Duration;

use futures::future::try_join_all;
use meridian_e2e::eventually;
use meridian_e2e::local::REGIONS;
use tokio::time::Instant;

use crate::common::{WAIT, add_client, start, token_verified, tokens_verify_everywhere};

const CLIENT: &str = "reports-job";
const SECRET: &str = "reports-job-secret-for-tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_added_to_the_tenant_gets_tokens_in_every_region() -> anyhow::Result<()> {
    let meridian = start().await?;
    for region in REGIONS {
        let refused = token_verified(&meridian, (CLIENT, SECRET), region, region).await;
        let error = refused
            .expect_err("an unknown client gets no token")
            .to_string();
        assert!(error.contains("invalid_client"), "{error}");
    }

    let applied = Instant::now();
    add_client(&meridian.hub(), CLIENT, SECRET).await?;
    // Every region watched at once: a token from it that another region verifies is one any
    // API can use.
    let usable = try_join_all(REGIONS.map(|region| {
        let meridian = &meridian;
        async move {
            let other = REGIONS.iter().find(|r| **r != region).unwrap();
            let what = format!("{CLIENT} gets tokens in {region}");
            eventually(&what, WAIT, async || {
                Ok(token_verified(meridian, (CLIENT, SECRET), region, other)
                    .await
                    .ok()
                    .map(|_| ()))
            })
            .await?;
            anyhow::Ok((region, applied.elapsed()))
        }
    }))
    .await?;
    let everywhere = applied.elapsed();
    let per_region: Vec<String> = usable
        .iter()
        .map(|(region, at)| format!("{region} {:.2} s", at.as_secs_f64()))
        .collect();
    println!(
        "propagation: Tenant apply → client usable in every region in {:.2} s ({})",
        everywhere.as_secs_f64(),
        per_region.join(", ")
    );
    tokens_verify_everywhere(&meridian, (CLIENT, SECRET), &REGIONS).await?;
    assert!(everywhere < Duration::from_secs(30), "{everywhere:?}");
    Ok(())
}
