//! The example API behind the gateway (HAProxy's jwt_verify, keys kept current by the glue in
//! meridian_e2e::gateway from each tenant's JWKS at its issuer URL, through the front door):
//! no token is 401 with `WWW-Authenticate`, a token of tenant A on tenant B's route is 403, a
//! token without the route's scope is 403 `insufficient_scope`, a valid token is served by the
//! instance of its `region` claim (acme's bob to us-east, though acme is at home in eu-west)
//! with the verified identity (and never with one a caller sent), and through a key rotation no request fails verification. A second gateway that
//! never follows max-age loads the new key on its first token (503 `Retry-After`, then
//! served), and made-up kids cost at most one JWKS refetch per window.

use std::collections::BTreeSet;
use std::time::Duration;

use jsonwebtoken::decode_header;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use meridian_e2e::eventually;
use meridian_e2e::example_api::ExampleApi;
use meridian_e2e::gateway::{ApiGateway, GatewayPlan, REFETCH_AT_MOST_EVERY, TenantSource};
use meridian_e2e::local::{LocalMeridian, LocalOptions, Steps, wait_tenant_ready};
use meridian_e2e::meridian::{free_loopback_urls, init_test_logging, put_secret};
use meridian_e2e::tokens::{RegionIssuer, http_client};
use meridian_operator::api::Tenant;
use meridian_routing::{ApiInstance, ApiRoute};
use tokio::time::Instant;

use crate::common::{AUDIENCE, BACKEND, WAIT, backend_secret, browser, sign_in};

const GLOBEX_SECRET: &str = "globex-backend-secret";
const GLOBEX_AUDIENCE: &str = "https://api.globex.example";
/// The JWKS max-age the regions announce: the gateway refetches this often.
const JWKS_MAX_AGE: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_verifies_meridian_tokens_refuses_others_and_routes_by_region()
-> anyhow::Result<()> {
    init_test_logging();
    let options = LocalOptions {
        jwks_max_age: Some(JWKS_MAX_AGE),
        ..LocalOptions::test()
    };
    let mut meridian = LocalMeridian::start(options, &Steps::stderr()).await?;
    let hub = meridian.hub();
    add_globex(&hub).await?;
    wait_tenant_ready(&hub, "globex", WAIT).await?;
    meridian.refresh_front_door().await?;
    let acme = meridian.through_front_door();
    let globex = RegionIssuer::new(
        "front door",
        meridian.issuer_base(),
        &format!("{}/t/globex", meridian.issuer_base()),
    );
    eventually("globex through the front door", WAIT, async || {
        Ok(globex.discovery().await.ok())
    })
    .await?;

    let instances = [
        ExampleApi::start("eu-west").await?,
        ExampleApi::start("us-east").await?,
    ];
    let bind = free_loopback_urls(1)?.remove(0);
    let dir = meridian.clusters().dir().join("gateway");
    std::fs::create_dir_all(&dir)?;
    let gateway = ApiGateway::start(
        &dir,
        bind.trim_start_matches("http://"),
        plan(&meridian, &instances),
    )
    .await?;
    let lagging = {
        let bind = free_loopback_urls(1)?.remove(0);
        let dir = meridian.clusters().dir().join("gateway-lagging");
        std::fs::create_dir_all(&dir)?;
        let plan = GatewayPlan {
            follow_max_age: false,
            ..plan(&meridian, &instances)
        };
        ApiGateway::start(&dir, bind.trim_start_matches("http://"), plan).await?
    };
    let api = |path: &str| format!("{}{path}", gateway.url());
    let secret = backend_secret(&meridian).await?;
    let read = acme
        .client_credentials(BACKEND, &secret, &["orders:read"])
        .await?;
    let globex_read = globex
        .client_credentials(BACKEND, GLOBEX_SECRET, &["orders:read"])
        .await?;
    let http = http_client();

    let none = http.get(api("/api/acme/orders")).send().await?;
    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer realm=\"api\"");
    let forged = http
        .get(api("/api/acme/orders"))
        .bearer_auth(forge(&read))
        .send()
        .await?;
    assert_eq!(forged.status(), 401, "a payload changed after signing");
    let challenge = forged.headers()["www-authenticate"].to_str()?.to_owned();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

    let other_tenant = http
        .get(api("/api/acme/orders"))
        .bearer_auth(&globex_read)
        .send()
        .await?;
    assert_eq!(other_tenant.status(), 403, "globex's token on acme's route");
    let wrong_scope = http
        .post(api("/api/acme/orders"))
        .bearer_auth(&read)
        .send()
        .await?;
    assert_eq!(wrong_scope.status(), 403, "orders:read cannot POST");
    let challenge = wrong_scope.headers()["www-authenticate"]
        .to_str()?
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_scope\", scope=\"orders:write\""),
        "{challenge}"
    );

    let served = http
        .get(api("/api/acme/orders"))
        .bearer_auth(&read)
        .header("x-meridian-tenant", "globex")
        .send()
        .await?;
    assert_eq!(served.status(), 200);
    let body: serde_json::Value = served.json().await?;
    assert_eq!(
        body["instance"], "eu-west",
        "acme's token says region=eu-west: {body}"
    );
    assert_eq!(
        body["tenant"], "acme",
        "the verified tenant, never the caller's header"
    );
    assert_eq!(body["client"], BACKEND);
    let write = acme
        .client_credentials(BACKEND, &secret, &["orders:read", "orders:write"])
        .await?;
    let posted = http
        .post(api("/api/acme/orders"))
        .bearer_auth(&write)
        .send()
        .await?;
    assert_eq!(posted.status(), 200, "orders:write may POST");
    let body: serde_json::Value = http
        .get(api("/api/globex/orders"))
        .bearer_auth(&globex_read)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        body["instance"], "us-east",
        "globex's home is us-east: {body}"
    );
    assert_eq!(body["region"], "us-east");
    // The region claim routes, not the tenant: bob is acme's too, his data lives in us-east.
    let bob = sign_in(&browser()?, meridian.issuer(), "bob", "orders:read").await?;
    let body: serde_json::Value = http
        .get(api("/api/acme/orders"))
        .bearer_auth(&bob.access_token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        (&body["tenant"], &body["subject"], &body["instance"]),
        (&"acme".into(), &"bob".into(), &"us-east".into()),
        "bob's token says region=us-east: {body}"
    );

    made_up_kids_cost_one_refetch(&lagging, &read).await?;
    rotation_without_failures(&meridian, &gateway, &lagging, &secret).await
}

/// Twenty tokens under kids no one published: each 401, and one JWKS refetch for them all.
async fn made_up_kids_cost_one_refetch(lagging: &ApiGateway, token: &str) -> anyhow::Result<()> {
    let fetches = lagging.fetches();
    let http = http_client();
    for i in 0..20 {
        let response = http
            .get(format!("{}/api/acme/orders", lagging.url()))
            .bearer_auth(with_kid(token, &format!("made-up-{i}")))
            .send()
            .await?;
        assert_eq!(response.status(), 401, "made-up kid {i}");
        let challenge = response.headers()["www-authenticate"].to_str()?.to_owned();
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }
    let refetched = lagging.fetches() - fetches;
    eprintln!(
        "gateway: 20 made-up kids caused {refetched} JWKS refetch(es) (at most one per {REFETCH_AT_MOST_EVERY:?})"
    );
    assert!(refetched <= 1, "{refetched} refetches");
    Ok(())
}

/// acme rotates its key now; a fresh token every 100 ms through the gateway never fails.
async fn rotation_without_failures(
    meridian: &LocalMeridian,
    gateway: &ApiGateway,
    lagging: &ApiGateway,
    secret: &str,
) -> anyhow::Result<()> {
    let hub = meridian.hub();
    let issuer = meridian.through_front_door();
    let before = gateway.kids();
    let patch = serde_json::json!({
        "metadata": {"annotations": {"meridian.dev/rotate": "gateway"}},
        "spec": {"signing": {"rotationInterval": "1h", "publishAhead": "6s"}},
    });
    Api::<Tenant>::all(hub.clone())
        .patch("acme", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    let http = http_client();
    let (mut requests, mut failures, mut kids) = (0, Vec::new(), BTreeSet::new());
    let mut lagged = 0;
    let mut new_kid_since: Option<Instant> = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    let started = Instant::now();
    while Instant::now() < deadline {
        let token = issuer
            .client_credentials(BACKEND, secret, &["orders:read"])
            .await?;
        let kid = decode_header(&token)?.kid.unwrap_or_default();
        let response = http
            .get(format!("{}/api/acme/orders", gateway.url()))
            .bearer_auth(&token)
            .send()
            .await;
        requests += 1;
        match lagging_gateway(lagging, &token).await {
            Ok(Lagged::Served) => {}
            Ok(Lagged::AfterRetry) => lagged += 1,
            Err(e) => failures.push(format!("lagging gateway, kid {kid}: {e}")),
        }
        match response {
            Ok(r) if r.status() == 200 => {}
            Ok(r) => failures.push(format!(
                "kid {kid}: HTTP {} {:?}",
                r.status(),
                r.headers().get("www-authenticate")
            )),
            Err(e) => failures.push(format!("kid {kid}: {e}")),
        }
        if !before.contains(&kid) {
            let since = *new_kid_since.get_or_insert_with(Instant::now);
            if since.elapsed() > Duration::from_secs(3) {
                break;
            }
        }
        kids.insert(kid);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "gateway through a rotation: {requests} requests in {:.1} s, {} failed, kids signed {kids:?}, \
         HAProxy reloads {}; the gateway not following max-age answered 503 + Retry-After \
         {lagged} time(s), then served (its reloads {}, JWKS fetches {})",
        started.elapsed().as_secs_f64(),
        failures.len(),
        gateway.reloads(),
        lagging.reloads(),
        lagging.fetches(),
    );
    assert!(lagged >= 1, "the lagging gateway met the new kid");
    assert!(
        new_kid_since.is_some(),
        "the new key never signed:\n{}",
        gateway.log_tail()
    );
    assert!(failures.is_empty(), "{failures:#?}\n{}", gateway.log_tail());
    Ok(())
}

enum Lagged {
    Served,
    AfterRetry,
}

/// The token through the gateway that does not follow max-age: served at once, or, for a
/// kid it had not loaded, 503 with `Retry-After` and served on the retry.
async fn lagging_gateway(lagging: &ApiGateway, token: &str) -> anyhow::Result<Lagged> {
    let http = http_client();
    let url = format!("{}/api/acme/orders", lagging.url());
    let first = http.get(&url).bearer_auth(token).send().await?;
    if first.status() == 200 {
        return Ok(Lagged::Served);
    }
    anyhow::ensure!(first.status() == 503, "HTTP {}", first.status());
    let after: u64 = first.headers()["retry-after"].to_str()?.parse()?;
    tokio::time::sleep(Duration::from_secs(after)).await;
    let retry = http.get(&url).bearer_auth(token).send().await?;
    anyhow::ensure!(retry.status() == 200, "retry: HTTP {}", retry.status());
    Ok(Lagged::AfterRetry)
}

/// acme's and globex's routes, and the two regional instances.
fn plan(meridian: &LocalMeridian, instances: &[ExampleApi]) -> GatewayPlan {
    let route = |tenant: &str, method: &str, scope: &str| ApiRoute {
        tenant: tenant.into(),
        method: Some(method.into()),
        path_prefix: format!("/api/{tenant}/"),
        scope: scope.into(),
    };
    GatewayPlan {
        tenants: vec![
            TenantSource {
                name: "acme".into(),
                issuer: meridian.issuer().to_owned(),
                audience: AUDIENCE.into(),
            },
            TenantSource {
                name: "globex".into(),
                issuer: format!("{}/t/globex", meridian.issuer_base()),
                audience: GLOBEX_AUDIENCE.into(),
            },
        ],
        routes: vec![
            route("acme", "GET", "orders:read"),
            route("acme", "POST", "orders:write"),
            route("globex", "GET", "orders:read"),
        ],
        instances: instances
            .iter()
            .map(|i| ApiInstance {
                region: i.region.clone(),
                url: i.url.clone(),
            })
            .collect(),
        follow_max_age: true,
    }
}

/// The token with its header's `kid` replaced, signature kept.
fn with_kid(token: &str, kid: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = serde_json::json!({"alg": "ES256", "typ": "at+jwt", "kid": kid});
    let rest = token.split_once('.').expect("a JWS").1;
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
}

/// The token with its payload's `sub` changed and the signature kept.
fn forge(token: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url"))
            .expect("json");
    claims["sub"] = "someone-else".into();
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

/// A second tenant, homed in us-east, with one machine client.
async fn add_globex(hub: &Client) -> anyhow::Result<()> {
    put_secret(hub, "globex-backend-client", "clientSecret", GLOBEX_SECRET).await?;
    let tenant: Tenant = serde_json::from_value(serde_json::json!({
        "apiVersion": "meridian.dev/v1alpha1", "kind": "Tenant",
        "metadata": {"name": "globex"},
        "spec": {
            "regions": ["eu-west", "us-east"], "homeRegion": "us-east", "isolation": "Shared",
            "scopes": [{"name": "orders:read"}],
            "clients": [{
                "clientId": BACKEND, "type": "confidential", "grantTypes": ["client_credentials"],
                "scopes": ["orders:read"], "audience": GLOBEX_AUDIENCE,
                "secretRef": {"name": "globex-backend-client", "key": "clientSecret"}
            }]
        }
    }))?;
    Api::<Tenant>::all(hub.clone())
        .create(&PostParams::default(), &tenant)
        .await?;
    Ok(())
}
