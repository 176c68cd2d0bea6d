//! Key rotation across regions with real auth-server pods on each region's node, from the
//! objects the operator wrote (their key files reach the pods through the kubelet's
//! projected-volume updates): tokens issued continuously in each region verify against the
//! other region's JWKS through two full rotations, with zero failures; a region whose
//! auth-server is down holds activation back (the condition names it) until it is back.
//!
//! The verifier is a strict resource server: it caches each region's JWKS for its max-age and
//! never refetches on an unknown `kid`, so a key that signs before caches know it fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use meridian_contract::KeyRing;
use meridian_e2e::meridian::{
    OPERATOR_NAMESPACE, Operator, apply_examples, init_test_logging, install_crds, register_regions,
};
use meridian_e2e::region_pods::serve_regions;
use meridian_e2e::tokens::RegionIssuer;
use meridian_e2e::{ClusterOptions, Clusters, eventually};
use meridian_operator::api::{AuthRegion, Tenant};
use meridian_operator::controller::ROTATE_ANNOTATION;
use meridian_operator::settings::Settings;

const ISSUER: &str = "http://127.0.0.1:18440/t/acme";
const AUDIENCE: &str = "https://api.acme.example";
const JWKS_MAX_AGE: Duration = Duration::from_secs(2);

fn free_port_url() -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(format!("http://{}", listener.local_addr()?))
}

/// A resource server's view of one region: the JWKS as last fetched, refreshed on expiry only.
struct CachedJwks {
    region: RegionIssuer,
    keys: Option<(Instant, JwkSet)>,
}

impl CachedJwks {
    async fn verify(&mut self, token: &str) -> anyhow::Result<String> {
        if self
            .keys
            .as_ref()
            .is_none_or(|(at, _)| at.elapsed() >= JWKS_MAX_AGE)
        {
            self.keys = Some((Instant::now(), self.region.jwks().await?));
        }
        let header = decode_header(token)?;
        let kid = header
            .kid
            .clone()
            .ok_or_else(|| anyhow::anyhow!("no kid"))?;
        let (_, set) = self.keys.as_ref().expect("fetched above");
        let jwk = set
            .find(&kid)
            .ok_or_else(|| anyhow::anyhow!("kid {kid} unknown to the cached JWKS"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        decode::<serde_json::Value>(token, &DecodingKey::from_jwk(jwk)?, &validation)?;
        Ok(kid)
    }
}

/// The hub's key ring as it evolves: never two keys that may sign at once, generations that
/// only grow, and no key gone from the ring before its removal time.
#[derive(Default)]
struct RingHistory {
    seen: BTreeMap<String, KeyRingEntry>,
}

struct KeyRingEntry {
    generation: u64,
    remove_at: Option<i64>,
}

impl RingHistory {
    async fn check(&mut self, hub: &Client) -> anyhow::Result<()> {
        let secret = Api::<Secret>::namespaced(hub.clone(), OPERATOR_NAMESPACE)
            .get("meridian-keys-acme")
            .await?;
        let ring: KeyRing =
            serde_json::from_slice(&secret.data.unwrap_or_default()["keys.json"].0)?;
        let now = k8s_openapi::jiff::Timestamp::now().as_second();
        let signing: Vec<_> = ring
            .keys
            .iter()
            .filter(|k| k.may_sign(now))
            .map(|k| &k.kid)
            .collect();
        anyhow::ensure!(
            signing.len() == 1,
            "at {now} these keys may sign: {signing:?}"
        );
        for key in &ring.keys {
            if let Some(known) = self.seen.get(&key.kid) {
                anyhow::ensure!(
                    known.generation == key.generation,
                    "key {} changed generation",
                    key.kid
                );
            } else if let Some(highest) = self.seen.values().map(|k| k.generation).max() {
                anyhow::ensure!(
                    key.generation > highest,
                    "new key {} reuses generation {}",
                    key.kid,
                    key.generation
                );
            }
            self.seen.insert(
                key.kid.clone(),
                KeyRingEntry {
                    generation: key.generation,
                    remove_at: key.remove_at,
                },
            );
        }
        for (kid, entry) in &self.seen {
            let present = ring.keys.iter().any(|k| &k.kid == kid);
            let due = entry.remove_at.is_some_and(|at| at <= now + 5);
            anyhow::ensure!(present || due, "key {kid} was lost before its removal time");
        }
        Ok(())
    }
}

async fn signing(hub: &Client) -> meridian_e2e::Result<(Option<String>, Option<String>)> {
    let status = Api::<Tenant>::all(hub.clone())
        .get("acme")
        .await?
        .status
        .and_then(|s| s.signing)
        .unwrap_or_default();
    Ok((status.active_kid, status.next_kid))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_verify_across_regions_through_rotations_and_a_down_region_holds_activation()
-> anyhow::Result<()> {
    init_test_logging();
    let clusters = Clusters::start(3, ClusterOptions::default().with_nodes()).await?;
    let hub = clusters.hub().client();
    install_crds(clusters.hub())?;
    register_regions(&clusters).await?;
    apply_examples(clusters.hub())?;
    let mut urls = BTreeMap::new();
    for region in clusters.regions() {
        let url = free_port_url()?;
        let patch = serde_json::json!({"spec": {"publicUrl": url}});
        Api::<AuthRegion>::all(hub.clone())
            .patch(
                region.name(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        urls.insert(region.name().to_owned(), url);
    }
    // publishAhead: the least these settings allow (`Cadence::least_publish_ahead`, 27 s)
    // with a few seconds to spare, so no rotation waits on a postponement.
    let fast = serde_json::json!({"spec": {"signing": {"rotationInterval": "40s", "publishAhead": "30s"}, "tokens": {"accessTokenTtl": "1m"}}});
    Api::<Tenant>::all(hub.clone())
        .patch("acme", &PatchParams::default(), &Patch::Merge(&fast))
        .await?;
    let settings = Settings {
        jwks_max_age: JWKS_MAX_AGE,
        ..Operator::test_settings(Duration::from_secs(2))
    };
    let operator = Operator::start(hub.clone(), settings.clone());
    operator.ready().await?;
    eventually("acme signs", Duration::from_secs(60), async || {
        Ok(signing(&hub).await?.0)
    })
    .await?;

    let mut regions = serve_regions(&clusters, &urls).await?;
    let issuer = |region: &str| RegionIssuer::new(region, &urls[region], ISSUER);
    let mut verifiers: BTreeMap<&str, CachedJwks> = ["eu-west", "us-east"]
        .into_iter()
        .map(|r| {
            (
                r,
                CachedJwks {
                    region: issuer(r),
                    keys: None,
                },
            )
        })
        .collect();

    // Two full rotations under continuous load, both directions, with the operator killed
    // (no graceful stop) and restarted every few seconds, so it dies in every phase.
    let mut kids = BTreeSet::new();
    let (mut issued, mut failures, mut restarts) = (0, Vec::new(), 0);
    let mut ring_history = RingHistory::default();
    let mut operator = Some(operator);
    let mut last_kill = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(150);
    while kids.len() < 3 && Instant::now() < deadline {
        if last_kill.elapsed() > Duration::from_secs(7) {
            drop(operator.take());
            operator = Some(Operator::start(hub.clone(), settings.clone()));
            (last_kill, restarts) = (Instant::now(), restarts + 1);
        }
        ring_history.check(&hub).await?;
        for (from, to) in [("eu-west", "us-east"), ("us-east", "eu-west")] {
            let token = issuer(from)
                .client_credentials("backend", "demo-backend-secret-change-me", &["orders:read"])
                .await?;
            issued += 1;
            match verifiers
                .get_mut(to)
                .expect("two regions")
                .verify(&token)
                .await
            {
                Ok(kid) => {
                    kids.insert(kid);
                }
                Err(error) => failures.push(format!(
                    "token from {from} at {issued} rejected by {to}: {error}"
                )),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "{issued} tokens, {} signing keys seen, {restarts} operator kills, {} failures",
        kids.len(),
        failures.len()
    );
    let operator = operator.expect("running");
    operator.ready().await?;
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        kids.len() >= 3,
        "two rotations did not complete in time: {kids:?}"
    );

    // us-east's auth-server goes down: a requested rotation is staged but cannot activate.
    let us = clusters.get("us-east")?;
    let us_pods = regions.get_mut("us-east").expect("served");
    us_pods.stop(us);
    let patch = serde_json::json!({"metadata": {"annotations": {ROTATE_ANNOTATION: "outage"}}});
    Api::<Tenant>::all(hub.clone())
        .patch("acme", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    let degraded = eventually(
        "rotation held back by us-east",
        Duration::from_secs(60),
        async || {
            let conditions = Api::<Tenant>::all(hub.clone())
                .get("acme")
                .await?
                .status
                .unwrap_or_default()
                .conditions;
            // eu-west is named too until its kubelet has delivered the staged key (one sync
            // period); us-east stays named as long as it is down.
            Ok(conditions.into_iter().find(|c| {
                c.type_ == "Degraded"
                    && c.reason == "RotationPostponed"
                    && c.message.contains("us-east")
                    && !c.message.contains("eu-west")
            }))
        },
    )
    .await?;
    println!("while us-east is down: {}", degraded.message);
    let (_, staged) = signing(&hub).await?;
    let staged = staged.expect("a staged key");
    // For longer than publishAhead (past its original activation time), it must not sign: not
    // in the hub's schedule, and not in eu-west, whose copy of each postponement must arrive
    // before the schedule it replaces would have activated the key.
    let held_until = Instant::now() + Duration::from_secs(35);
    while Instant::now() < held_until {
        let (active, _) = signing(&hub).await?;
        assert_ne!(
            active.as_deref(),
            Some(staged.as_str()),
            "activated while us-east could not publish it"
        );
        let token = issuer("eu-west")
            .client_credentials("backend", "demo-backend-secret-change-me", &["orders:read"])
            .await?;
        let kid = decode_header(&token)?.kid.unwrap_or_default();
        assert_ne!(
            kid, staged,
            "eu-west signed with a key us-east does not publish"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Back: the rotation completes.
    us_pods.start(us).await?;
    eventually(
        "the staged key signs",
        Duration::from_secs(90),
        async || Ok((signing(&hub).await?.0.as_deref() == Some(staged.as_str())).then_some(())),
    )
    .await?;
    let token = issuer("eu-west")
        .client_credentials("backend", "demo-backend-secret-change-me", &["orders:read"])
        .await?;
    assert_eq!(
        issuer("us-east").verify(&token, AUDIENCE).await?.kid,
        staged
    );
    drop(regions);
    operator.stop().await;
    Ok(())
}
