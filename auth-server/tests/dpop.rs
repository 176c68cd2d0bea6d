//! DPoP (RFC 9449) against the real server: a proof binds the access token to its key
//! (`cnf.jkt`, `token_type: DPoP`), a proof is good once and only for its method, its URL
//! under the issuer and a minute around now; a public client's refresh tokens and every bound
//! access token need the same key's proof; a client may be required to use DPoP, and nonces.

mod common;

use common::jose::{TestKey, ath, claims};
use common::*;
use meridian_auth_server::clock::Clock;
use meridian_contract::Algorithm;
use serde_json::{Value, json};

async fn server() -> TestServer {
    TestServer::start(&[("acme", Algorithm::ES256)]).await
}

/// POSTs a form to the token endpoint with the given DPoP proof.
async fn token_with_proof(
    issuer: &str,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
    proof: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = http().post(format!("{issuer}/token")).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// A proof for the token endpoint of acme, made now.
fn token_proof(server: &TestServer, key: &TestKey) -> String {
    let htu = format!("{}/token", server.issuer("acme"));
    key.proof("POST", &htu, server.clock.now(), json!({}))
}

const CLIENT_CREDENTIALS: &[(&str, &str)] = &[("grant_type", "client_credentials")];

async fn svc_token(issuer: &str, proof: Option<&str>) -> (u16, reqwest::header::HeaderMap, Value) {
    let basic = Some(("svc", SVC_SECRET));
    token_with_proof(issuer, basic, CLIENT_CREDENTIALS, proof).await
}

fn refused_with(answer: &(u16, reqwest::header::HeaderMap, Value), code: &str) {
    assert_eq!(answer.0, 400, "{}", answer.2);
    assert_eq!(answer.2["error"], code, "{}", answer.2);
}

#[tokio::test]
async fn a_proof_binds_the_access_token_to_its_key() {
    let server = server().await;
    let issuer = server.issuer("acme");
    let metadata = discovery(&issuer).await;
    assert!(
        metadata["dpop_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("ES256"))
    );
    let key = TestKey::generate();
    let now = server.clock.now();
    let proof = key.proof("POST", &format!("{issuer}/token"), now, json!({}));
    let (status, _, body) = svc_token(&issuer, Some(&proof)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(claims(token)["cnf"]["jkt"], key.thumbprint());
    let form = [("token", token)];
    let (_, _, introspected) =
        post_form(&issuer, "/introspect", Some(("svc", SVC_SECRET)), &form).await;
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["token_type"], "DPoP");
    assert_eq!(introspected["cnf"]["jkt"], key.thumbprint());
    let (status, _, plain) = svc_token(&issuer, None).await;
    assert_eq!(
        (status, plain["token_type"].as_str()),
        (200, Some("Bearer"))
    );
    assert!(claims(plain["access_token"].as_str().unwrap())["cnf"].is_null());
}

#[tokio::test]
async fn a_proof_is_good_for_one_request() {
    let server = server().await;
    let issuer = server.issuer("acme");
    let key = TestKey::generate();
    let proof = token_proof(&server, &key);
    assert_eq!(svc_token(&issuer, Some(&proof)).await.0, 200);
    let replayed = svc_token(&issuer, Some(&proof)).await;
    refused_with(&replayed, "invalid_dpop_proof");
    assert!(
        replayed.2["error_description"]
            .as_str()
            .unwrap()
            .contains("used before")
    );
}

#[tokio::test]
async fn a_proof_for_another_url_or_method_is_refused() {
    let server = server().await;
    let issuer = server.issuer("acme");
    let key = TestKey::generate();
    let now = server.clock.now();
    let other_tenant = key.proof(
        "POST",
        &format!("{}/t/other/token", server.base()),
        now,
        json!({}),
    );
    refused_with(
        &svc_token(&issuer, Some(&other_tenant)).await,
        "invalid_dpop_proof",
    );
    let userinfo = key.proof("POST", &format!("{issuer}/userinfo"), now, json!({}));
    refused_with(
        &svc_token(&issuer, Some(&userinfo)).await,
        "invalid_dpop_proof",
    );
    let get = key.proof("GET", &format!("{issuer}/token"), now, json!({}));
    refused_with(&svc_token(&issuer, Some(&get)).await, "invalid_dpop_proof");
    // The URL is the issuer's, whatever Host the request names.
    let spoofed = key.proof(
        "POST",
        "http://attacker.example/t/acme/token",
        now,
        json!({}),
    );
    let response = http()
        .post(format!("{issuer}/token"))
        .header("host", "attacker.example")
        .basic_auth("svc", Some(SVC_SECRET))
        .header("DPoP", spoofed)
        .form(CLIENT_CREDENTIALS)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof");
}

#[tokio::test]
async fn a_stale_or_early_proof_is_refused() {
    let server = server().await;
    let issuer = server.issuer("acme");
    let key = TestKey::generate();
    let htu = format!("{issuer}/token");
    let now = server.clock.now();
    for iat in [now - 61, now + 11] {
        let proof = key.proof("POST", &htu, iat, json!({}));
        refused_with(
            &svc_token(&issuer, Some(&proof)).await,
            "invalid_dpop_proof",
        );
    }
    let proof = key.proof("POST", &htu, now - 59, json!({}));
    assert_eq!(
        svc_token(&issuer, Some(&proof)).await.0,
        200,
        "within the window"
    );
}

#[tokio::test]
async fn only_asymmetric_public_keys_may_sign_a_proof() {
    let server = server().await;
    let issuer = server.issuer("acme");
    let key = TestKey::generate();
    let claims = json!({"jti": "j", "htm": "POST", "htu": format!("{issuer}/token"), "iat": server.clock.now()});
    let mut private = key.jwk();
    private["d"] = json!("AAAA");
    for header in [
        json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": "c2VjcmV0"}}),
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": private}),
        json!({"typ": "JWT", "alg": "ES256", "jwk": key.jwk()}),
        json!({"typ": "dpop+jwt", "alg": "ES256"}),
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": TestKey::generate().jwk()}),
    ] {
        let proof = key.sign(&header, &claims);
        refused_with(
            &svc_token(&issuer, Some(&proof)).await,
            "invalid_dpop_proof",
        );
    }
}

/// The spa's code flow with a DPoP proof at the redemption; its token response.
async fn spa_tokens_bound_to(server: &TestServer, key: &TestKey) -> Value {
    let issuer = server.issuer("acme");
    let url = authorize_url(&issuer, "spa", &PKCE);
    let callback = log_in(&browser(), &url, "alice", PASSWORD).await;
    let code = query(&callback, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", "spa"),
    ];
    let proof = token_proof(server, key);
    let (status, _, body) = token_with_proof(&issuer, None, &form, Some(&proof)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    body
}

async fn refresh(
    server: &TestServer,
    refresh_token: &str,
    key: Option<&TestKey>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let issuer = server.issuer("acme");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", "spa"),
    ];
    let htu = format!("{issuer}/token");
    let proof = key.map(|key| key.proof("POST", &htu, server.clock.now(), json!({})));
    token_with_proof(&issuer, None, &form, proof.as_deref()).await
}

#[tokio::test]
async fn a_public_clients_refresh_token_needs_the_same_key() {
    let server = server().await;
    let key = TestKey::generate();
    let tokens = spa_tokens_bound_to(&server, &key).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let other = TestKey::generate();
    refused_with(
        &refresh(&server, refresh_token, Some(&other)).await,
        "invalid_dpop_proof",
    );
    refused_with(
        &refresh(&server, refresh_token, None).await,
        "invalid_dpop_proof",
    );
    // The refusals burnt nothing: the key's own proof still rotates the token.
    let (status, _, rotated) = refresh(&server, refresh_token, Some(&key)).await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(
        claims(rotated["access_token"].as_str().unwrap())["cnf"]["jkt"],
        key.thumbprint()
    );
    let next = rotated["refresh_token"].as_str().unwrap();
    refused_with(
        &refresh(&server, next, Some(&other)).await,
        "invalid_dpop_proof",
    );
}

async fn userinfo(
    server: &TestServer,
    scheme: &str,
    token: &str,
    proof: Option<String>,
) -> (u16, String) {
    let mut request = http()
        .get(format!("{}/userinfo", server.issuer("acme")))
        .header("authorization", format!("{scheme} {token}"));
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    let response = request.send().await.unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), challenge)
}

#[tokio::test]
async fn a_bound_access_token_opens_userinfo_only_with_its_keys_proof() {
    let server = server().await;
    let key = TestKey::generate();
    let tokens = spa_tokens_bound_to(&server, &key).await;
    let token = tokens["access_token"].as_str().unwrap();
    let htu = format!("{}/userinfo", server.issuer("acme"));
    let now = server.clock.now();
    let proof = |key: &TestKey, extra: Value| Some(key.proof("GET", &htu, now, extra));
    let (status, challenge) = userinfo(&server, "Bearer", token, None).await;
    assert_eq!(status, 401, "a bound token is no bearer token");
    assert!(
        challenge.starts_with("DPoP error=\"invalid_token\""),
        "{challenge}"
    );
    let other = TestKey::generate();
    let with_ath = json!({"ath": ath(token)});
    let (status, challenge) =
        userinfo(&server, "DPoP", token, proof(&other, with_ath.clone())).await;
    assert_eq!(status, 401, "another key's proof");
    assert!(challenge.contains("invalid_dpop_proof"), "{challenge}");
    let (status, _) = userinfo(&server, "DPoP", token, proof(&key, json!({}))).await;
    assert_eq!(status, 401, "a proof without ath");
    let (status, _) = userinfo(&server, "DPoP", token, None).await;
    assert_eq!(status, 401, "no proof");
    let good = proof(&key, with_ath);
    let (status, _) = userinfo(&server, "DPoP", token, good.clone()).await;
    assert_eq!(status, 200);
    let (status, _) = userinfo(&server, "DPoP", token, good).await;
    assert_eq!(status, 401, "the same proof again");
    let (_, plain) = user_tokens(&server.issuer("acme"), "spa", None, "alice").await;
    let plain = plain["access_token"].as_str().unwrap();
    let (status, _) = userinfo(
        &server,
        "DPoP",
        plain,
        proof(&key, json!({"ath": ath(plain)})),
    )
    .await;
    assert_eq!(status, 401, "an unbound token is not a DPoP token");
    assert_eq!(userinfo(&server, "Bearer", plain, None).await.0, 200);
}

#[tokio::test]
async fn a_client_that_must_use_dpop_gets_no_token_without_a_proof() {
    let server = server().await;
    server.edit_tenant("acme", |config| {
        TestServer::client_of(config, "svc").dpop_bound_access_tokens = true;
    });
    let issuer = server.issuer("acme");
    refused_with(&svc_token(&issuer, None).await, "invalid_dpop_proof");
    let key = TestKey::generate();
    let proof = token_proof(&server, &key);
    assert_eq!(svc_token(&issuer, Some(&proof)).await.0, 200);
}

#[tokio::test]
async fn a_client_that_must_use_nonces_is_given_one_and_it_expires() {
    let server = server().await;
    server.edit_tenant("acme", |config| {
        TestServer::client_of(config, "svc").require_dpop_nonce = true;
    });
    let issuer = server.issuer("acme");
    let key = TestKey::generate();
    let htu = format!("{issuer}/token");
    let first = svc_token(
        &issuer,
        Some(&key.proof("POST", &htu, server.clock.now(), json!({}))),
    )
    .await;
    refused_with(&first, "use_dpop_nonce");
    let nonce = first.1["dpop-nonce"].to_str().unwrap().to_owned();
    let with_nonce = |now| key.proof("POST", &htu, now, json!({"nonce": nonce}));
    let (status, _, body) = svc_token(&issuer, Some(&with_nonce(server.clock.now()))).await;
    assert_eq!(status, 200, "{body}");
    let forged = key.proof(
        "POST",
        &htu,
        server.clock.now(),
        json!({"nonce": format!("{nonce}x")}),
    );
    refused_with(&svc_token(&issuer, Some(&forged)).await, "use_dpop_nonce");
    server.clock.advance(601);
    let stale = svc_token(&issuer, Some(&with_nonce(server.clock.now()))).await;
    refused_with(&stale, "use_dpop_nonce");
    assert_ne!(
        stale.1["dpop-nonce"].to_str().unwrap(),
        nonce,
        "a new nonce"
    );
}

/// Redeems `code` (of `client`, with the PKCE verifier) with an optional DPoP proof.
async fn redeem_with(
    server: &TestServer,
    client: &str,
    code: &str,
    key: Option<&TestKey>,
) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let basic = match client {
        "web" => Some(("web", WEB_SECRET)),
        _ => {
            form.push(("client_id", client));
            None
        }
    };
    let proof = key.map(|key| token_proof(server, key));
    let (status, _, body) =
        token_with_proof(&server.issuer("acme"), basic, &form, proof.as_deref()).await;
    (status, body)
}

#[tokio::test]
async fn a_code_bound_at_the_push_or_by_dpop_jkt_needs_that_key() {
    let server = server().await;
    let issuer = server.issuer("acme");
    let key = TestKey::generate();
    let other = TestKey::generate();
    let pushed = http()
        .post(format!("{issuer}/par"))
        .basic_auth("web", Some(WEB_SECRET))
        .header(
            "DPoP",
            key.proof(
                "POST",
                &format!("{issuer}/par"),
                server.clock.now(),
                json!({}),
            ),
        )
        .form(&[
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 201);
    let pushed: Value = pushed.json().await.unwrap();
    let mut url = url::Url::parse(&format!("{issuer}/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "web")
        .append_pair("request_uri", pushed["request_uri"].as_str().unwrap());
    let code = query(&log_in(&browser(), &url, "alice", PASSWORD).await, "code").unwrap();
    for wrong in [Some(&other), None] {
        let (status, body) = redeem_with(&server, "web", &code, wrong).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_dpop_proof")),
            "{body}"
        );
    }
    let (status, body) = redeem_with(&server, "web", &code, Some(&key)).await;
    assert_eq!(status, 200, "the refusals burnt nothing: {body}");

    let jkt = key.thumbprint();
    let url = authorize_url(
        &issuer,
        "spa",
        &[PKCE[0], PKCE[1], ("dpop_jkt", jkt.as_str())],
    );
    let code = query(&log_in(&browser(), &url, "alice", PASSWORD).await, "code").unwrap();
    let (status, body) = redeem_with(&server, "spa", &code, Some(&other)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{body}"
    );
    assert_eq!(redeem_with(&server, "spa", &code, Some(&key)).await.0, 200);
}
