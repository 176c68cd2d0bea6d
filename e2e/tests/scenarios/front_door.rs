//! The issuer's front door (HAProxy, rendered from the hub): clients configured with only the
//! issuer URL work through it — panva's `openid-client` on Node and the Rust `openidconnect`
//! crate discover the provider and get client_credentials tokens (the code flow at the issuer
//! URL is browser_code_flow's, in Chromium, with each of them) — and
//! when the tenant's home region dies, a steady stream of token requests at the issuer URL is
//! served by the other region within seconds, then by the home region again once it is back.
//! New sign-ins work at the other region meanwhile; SSO sessions and refresh tokens are
//! region-bound: the eu-west session is unknown at us-east, the eu-west refresh token is
//! refused (`invalid_grant`, saying why) there and good again once eu-west is back, and the one
//! us-east issued meanwhile is refused at eu-west (each region on its own PostgreSQL database,
//! which outlives the region's auth-servers). A second front door in the shape used at scale
//! (tenants tracking their region's `/readyz` check) fails over and back as well. A tenant added under load is routed after a
//! reload that drops no request, and one whose data may live only in the EU is refused (503)
//! while its EU region is down, never served by us-east.

use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use kube::Api;
use kube::api::PostParams;
use meridian_e2e::eventually;
use meridian_e2e::frontdoor::{IssuerFrontDoor, served_by};
use meridian_e2e::local::{
    LocalMeridian, LocalOptions, LocalStore, REGIONS, Steps, wait_tenant_ready,
};
use meridian_e2e::meridian::{free_loopback_urls, init_test_logging, repo_root};
use meridian_e2e::tokens::http_client;
use meridian_operator::api::Tenant;
use meridian_routing::{FrontDoor, HealthCheck};
use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, OAuth2TokenResponse, Scope};
use tokio::time::Instant;

use crate::common::{
    AUDIENCE, BACKEND, SignedIn, WAIT, backend_secret, browser, install_node_clients, sign_in,
    start,
};
use crate::load::{Outcome, SteadyLoad, longest_gap, percentile};

/// The acceptance bound: within this long after the home region dies, every request succeeds.
const FAILOVER_WITHIN: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_region_dies_and_the_issuer_keeps_answering_from_the_other_then_takes_it_back()
-> anyhow::Result<()> {
    // Each region on its own PostgreSQL database, as in production: what a region stored
    // (refresh tokens) outlives its auth-servers.
    init_test_logging();
    let options = LocalOptions::test().with_store(LocalStore::Postgres);
    let mut meridian = LocalMeridian::start(options, &Steps::stderr()).await?;
    let secret = backend_secret(&meridian).await?;
    let issuer = meridian.through_front_door();
    let (status, region) = served_by(&issuer.discovery_url()).await?;
    assert_eq!((status, region.as_deref()), (200, Some("eu-west")));

    let alice = browser()?;
    let (how, refresh_token) = alice_signs_in(&alice, meridian.issuer()).await?;
    assert_eq!(how, SignedIn::WithTheForm);
    let (how, _) = alice_signs_in(&alice, meridian.issuer()).await?;
    assert_eq!(how, SignedIn::BySession, "her SSO session at eu-west");

    let load = SteadyLoad::start(issuer.token_url(), BACKEND, &secret);
    eventually("the loop's first token", WAIT, async || {
        Ok(load.served().await.then_some(()))
    })
    .await?;

    // A tenant whose data may live only in the EU arrives while the loop runs; the front door
    // is re-rendered and reloaded under load, dropping no request.
    let hub = meridian.hub();
    add_eu_only(&hub).await?;
    wait_tenant_ready(&hub, EU_ONLY, WAIT).await?;
    let reloaded = Instant::now();
    meridian.refresh_front_door().await?;
    let eu_only = format!(
        "{}/t/{EU_ONLY}/.well-known/openid-configuration",
        meridian.issuer_base()
    );
    eventually("eu-only through the front door", WAIT, async || {
        let answer = served_by(&eu_only).await.ok();
        Ok((answer == Some((200, Some("eu-west".into())))).then_some(()))
    })
    .await?;
    let routed = meridian.front_door()?.inputs();
    let tenant = routed.tenants.iter().find(|t| t.name == EU_ONLY);
    assert_eq!(
        tenant.map(|t| t.regions.clone()),
        Some(vec!["eu-west".to_owned()]),
        "residency keeps eu-only out of us-east"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let around_reload = load.since(reloaded).await;
    assert!(around_reload.len() > 10, "the loop ran through the reload");
    assert!(
        around_reload.iter().all(Outcome::ok),
        "a reload drops no request: {} of {} failed",
        around_reload.iter().filter(|r| !r.ok()).count(),
        around_reload.len()
    );

    // A second front door in the shape used beyond HealthCheck::per_tenant_up_to tenants: no
    // per-tenant checks, every tenant's servers tracking their region's /readyz check. It must
    // fail over just as well.
    let tracking = {
        let url = free_loopback_urls(1)?.remove(0);
        let door = FrontDoor {
            bind: url.trim_start_matches("http://").to_owned(),
            check: HealthCheck {
                per_tenant_up_to: 0,
                ..HealthCheck::default()
            },
            ..meridian.front_door()?.inputs().clone()
        };
        let dir = meridian.clusters().dir().join("frontdoor-tracking");
        std::fs::create_dir_all(&dir)?;
        IssuerFrontDoor::start(&dir, &url, door).await?
    };
    let tracked_token_url = format!("{}/t/acme/token", tracking.url());
    let tracked = SteadyLoad::start(tracked_token_url, BACKEND, &secret);
    eventually("the tracking front door's first token", WAIT, async || {
        Ok(tracked.served().await.then_some(()))
    })
    .await?;

    // Never round-robin: while its home region is up, every answer came from it.
    for (what, load) in [("front door", &load), ("tracking front door", &tracked)] {
        let before = load.all().await;
        let elsewhere = before
            .iter()
            .filter(|r| r.region.as_deref() != Some("eu-west"))
            .count();
        assert_eq!(
            elsewhere,
            0,
            "{what}: {elsewhere} of {} answers not from eu-west",
            before.len()
        );
    }

    // eu-west's nodes go away: every auth-server process there is killed.
    let killed = Instant::now();
    meridian.stop_kubelet("eu-west");
    let window_end = killed + FAILOVER_WITHIN;
    tokio::time::sleep_until(window_end).await;
    let during = load.since(killed).await;
    let first_us = during
        .iter()
        .position(|r| r.region.as_deref() == Some("us-east"))
        .expect("us-east answered within the window");
    let failover = during[first_us].at - killed;
    let failed_after_failover = during[first_us..].iter().filter(|r| !r.ok()).count();
    let failed = during.iter().filter(|r| !r.ok()).count();
    let slowest = during.iter().max_by_key(|r| r.took).expect("requests");
    eprintln!(
        "front door, eu-west killed: slowest request {:.0} ms, sent {:.0} ms after the kill, {:?} from {:?}",
        slowest.took.as_secs_f64() * 1e3,
        slowest.at.saturating_duration_since(killed).as_secs_f64() * 1e3,
        slowest.status,
        slowest.region,
    );
    let gap = longest_gap(&load.all().await, killed);
    let tracked_during = tracked.since(killed).await;
    let tracked_first_us = tracked_during
        .iter()
        .position(|r| r.region.as_deref() == Some("us-east"))
        .expect("us-east answered the tracking front door within the window");
    let tracked_gap = longest_gap(&tracked.all().await, killed);
    let tracked_failed = tracked_during.iter().filter(|r| !r.ok()).count();
    eprintln!(
        "front door tracking /readyz, eu-west killed: {} requests, {tracked_failed} failed, first \
         us-east answer {:.0} ms after the kill, longest gap between successes {:.0} ms",
        tracked_during.len(),
        (tracked_during[tracked_first_us].at - killed).as_secs_f64() * 1e3,
        tracked_gap.as_secs_f64() * 1e3,
    );
    assert!(
        tracked_gap < Duration::from_secs(2),
        "tracking: {tracked_gap:?}"
    );
    assert!(
        tracked_during[tracked_first_us..].iter().all(Outcome::ok),
        "tracking: every request after the failover succeeds"
    );
    assert!(tracked_failed <= 1, "tracking: {tracked_failed} failed");
    eprintln!(
        "front door, eu-west killed: {} requests in {:?}, {failed} failed, first us-east answer \
         {:.0} ms after the kill, longest gap between successes {:.0} ms, p50/p99 latency \
         {:.1}/{:.1} ms",
        during.len(),
        FAILOVER_WITHIN,
        failover.as_secs_f64() * 1e3,
        gap.as_secs_f64() * 1e3,
        percentile(&during, 0.5),
        percentile(&during, 0.99),
    );
    // A refused connection is retried on the next region at once; the worst case is one
    // connect timeout (250 ms) plus the health check marking the region down (2 × 500 ms).
    assert!(
        gap < Duration::from_secs(2),
        "no success for {gap:?} around the failover"
    );
    assert_eq!(
        failed_after_failover, 0,
        "every request after the failover succeeds"
    );
    // Before it: at most the one request in flight when the region died (a token request is
    // not idempotent, so HAProxy retries only connections that never reached the region).
    assert!(failed <= 1, "{failed} requests failed around the kill");
    assert!(
        during.len() > 100,
        "the loop kept running: {}",
        during.len()
    );

    // Meanwhile at us-east: alice's eu-west refresh token is region-bound and refused, saying
    // so; she signs in again there.
    let (status, body) = refresh(&issuer.token_url(), &refresh_token).await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "refused at us-east (a token answer is not printed: it would hold tokens)"
    );
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains("valid only in the region that issued them"),
        "{description}"
    );
    let (how, at_us_east) = alice_signs_in(&alice, meridian.issuer()).await?;
    assert_eq!(
        how,
        SignedIn::WithTheForm,
        "her eu-west session is unknown at us-east: she signs in again"
    );
    assert_ne!(at_us_east, refresh_token, "a new sign-in, at us-east");
    // eu-only's data may not leave the EU: with its only EU region down it is refused, and
    // never served by us-east.
    for _ in 0..10 {
        assert_eq!(
            served_by(&eu_only).await?,
            (503, None),
            "eu-only is never failed over outside the EU"
        );
    }

    // Back: once eu-west serves again, the home region takes the traffic back.
    let restarted = Instant::now();
    meridian.start_kubelet("eu-west").await?;
    for (what, load) in [("front door", &load), ("tracking front door", &tracked)] {
        eventually(
            &format!("the {what} answered by eu-west again"),
            WAIT,
            async || {
                Ok(load
                    .last_answered_by(restarted, "eu-west")
                    .await
                    .then_some(()))
            },
        )
        .await?;
    }
    let tracked_back = tracked.stop().await;
    assert!(
        tracked_back
            .iter()
            .filter(|r| r.at >= restarted)
            .all(Outcome::ok),
        "tracking: a region coming back drops nothing"
    );
    let back = load.since(restarted).await;
    let returned = back
        .iter()
        .find(|r| r.region.as_deref() == Some("eu-west"))
        .map(|r| r.at - restarted)
        .expect("eu-west answered");
    let failed_on_return = back.iter().filter(|r| !r.ok()).count();
    eprintln!(
        "front door, eu-west back: traffic returned {:.0} ms after its auth-server was started, \
         {failed_on_return} of {} requests failed meanwhile",
        returned.as_secs_f64() * 1e3,
        back.len()
    );
    assert_eq!(failed_on_return, 0, "a region coming back drops nothing");
    let (status, body) = refresh(&issuer.token_url(), &refresh_token).await?;
    assert_eq!(
        status, 200,
        "eu-west's refresh token works at eu-west again: {body}"
    );
    let (status, body) = refresh(&issuer.token_url(), &at_us_east).await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "the refresh token us-east issued meanwhile is bound to us-east"
    );
    eventually("eu-only served by eu-west again", WAIT, async || {
        let answer = served_by(&eu_only).await.ok();
        Ok((answer == Some((200, Some("eu-west".into())))).then_some(()))
    })
    .await?;
    let all = load.stop().await;
    let token = issuer
        .client_credentials(BACKEND, &secret, &["orders:read"])
        .await?;
    meridian
        .region_issuer("us-east")
        .verify(&token, AUDIENCE)
        .await?;
    assert!(all.len() > 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_given_only_the_issuer_url_discover_and_get_tokens_through_the_front_door()
-> anyhow::Result<()> {
    tokio::task::spawn_blocking(install_node_clients).await??;
    let meridian = start().await?;
    let secret = backend_secret(&meridian).await?;
    let issuer = meridian.issuer().to_owned();

    // Rust: the openidconnect crate discovers the provider from the issuer alone.
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone())?, &http_client())
            .await
            .map_err(|e| anyhow::anyhow!("discovery through the front door: {e:?}"))?;
    assert_eq!(metadata.issuer().as_str(), issuer);
    assert!(
        !metadata.jwks().keys().is_empty(),
        "JWKS through the front door"
    );
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(BACKEND.into()),
        Some(ClientSecret::new(secret.clone())),
    );
    let token = client
        .exchange_client_credentials()?
        .add_scope(Scope::new("orders:read".into()))
        .request_async(&http_client())
        .await
        .map_err(|e| anyhow::anyhow!("client_credentials through the front door: {e:?}"))?;
    let verified = meridian
        .through_front_door()
        .verify(token.access_token().secret(), AUDIENCE)
        .await?;
    assert_eq!(verified.claims.iss, issuer);

    // Node: openid-client, also from the issuer alone.
    let output = tokio::task::spawn_blocking({
        let (issuer, secret) = (issuer.clone(), secret.clone());
        move || {
            Command::new("node")
                .arg(repo_root().join("e2e/frontdoor/openid-client.mjs"))
                .env("ISSUER", issuer)
                .env("CLIENT_ID", BACKEND)
                .env("CLIENT_SECRET", secret)
                .output()
        }
    })
    .await??;
    anyhow::ensure!(
        output.status.success(),
        "openid-client failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    println!("openid-client: {seen}");
    assert_eq!(seen["issuer"], issuer.as_str());
    assert_eq!(seen["tokenEndpoint"], format!("{issuer}/token"));
    assert_eq!(seen["clientCredentials"]["claims"]["tenant_id"], "acme");
    assert_eq!(seen["clientCredentials"]["claims"]["iss"], issuer.as_str());

    // What a pipeline runs to re-render the front door: the same config as the running one.
    let door = meridian.front_door()?;
    let output = Command::new(env!("CARGO_BIN_EXE_meridian-frontdoor"))
        .env("KUBECONFIG", meridian.clusters().hub().kubeconfig_path())
        .args(["--bind", &door.inputs().bind, "--order", &REGIONS.join(",")])
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "meridian-frontdoor failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8(output.stdout)?,
        door.inputs().render()?,
        "meridian-frontdoor renders the running front door's config"
    );
    Ok(())
}

/// alice signs in for a refresh token: how, and the token.
async fn alice_signs_in(
    browser: &reqwest::Client,
    issuer: &str,
) -> anyhow::Result<(SignedIn, String)> {
    let signed_in = sign_in(browser, issuer, "alice", "offline_access").await?;
    let refresh_token = signed_in
        .refresh_token
        .context("a refresh token for offline_access")?;
    Ok((signed_in.how, refresh_token))
}

/// A tenant whose data may live only in the EU, listed in both regions.
const EU_ONLY: &str = "eu-only";

async fn add_eu_only(hub: &kube::Client) -> anyhow::Result<()> {
    let tenant: Tenant = serde_json::from_value(serde_json::json!({
        "apiVersion": "meridian.dev/v1alpha1", "kind": "Tenant",
        "metadata": {"name": EU_ONLY},
        "spec": {
            "regions": ["eu-west", "us-east"], "homeRegion": "eu-west", "isolation": "Shared",
            "dataResidency": ["EU"],
            "scopes": [{"name": "orders:read"}]
        }
    }))?;
    Api::<Tenant>::all(hub.clone())
        .create(&PostParams::default(), &tenant)
        .await?;
    Ok(())
}

/// A refresh_token grant by the public client: the status and the JSON answer.
async fn refresh(token_url: &str, refresh_token: &str) -> anyhow::Result<(u16, serde_json::Value)> {
    let response = http_client()
        .post(token_url)
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "web"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await?;
    Ok((response.status().as_u16(), response.json().await?))
}
