//! `private_key_jwt` (RFC 7523) against the real server: an assertion signed by a key the
//! client registered (inline, or served at its `jwks_uri`, fetched once and cached) proves the
//! client, once, for this issuer only, while unexpired; a client registered for it may use no
//! secret, and a secret client no assertion.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::jose::TestKey;
use common::*;
use meridian_auth_server::clock::Clock;
use meridian_contract::{
    Algorithm, ClientAuthMethod, ClientConfig, ClientJwks, ClientKind, GrantType,
};
use serde_json::{Value, json};
use tokio::sync::Mutex;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn jwks(key: &TestKey, kid: &str) -> ClientJwks {
    let mut jwk = key.jwk();
    jwk["kid"] = json!(kid);
    serde_json::from_value(json!({ "keys": [jwk] })).unwrap()
}

/// A client `id` that authenticates with `private_key_jwt`.
fn keyed_client(id: &str) -> ClientConfig {
    let grants = [GrantType::ClientCredentials];
    let mut keyed = client(id, ClientKind::Confidential, &grants, &["api"]);
    keyed.token_endpoint_auth_method = Some(ClientAuthMethod::PrivateKeyJwt);
    keyed
}

/// A server whose tenant has the client `keyed`, with `key`'s public JWK inline as `k1`.
async fn server(key: &TestKey) -> TestServer {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let jwks = jwks(key, "k1");
    server.edit_tenant("acme", move |config| {
        let mut keyed = keyed_client("keyed");
        keyed.jwks = Some(jwks);
        config.clients.push(keyed);
    });
    server
}

struct Assertion<'a> {
    key: &'a TestKey,
    kid: &'a str,
    client: &'a str,
    aud: Value,
    exp: i64,
    jti: String,
}

impl<'a> Assertion<'a> {
    fn new(server: &TestServer, key: &'a TestKey) -> Self {
        Self {
            key,
            kid: "k1",
            client: "keyed",
            aud: json!(server.issuer("acme")),
            exp: server.clock.now() + 60,
            jti: meridian_auth_server::issue::random_token(),
        }
    }

    fn sign(&self) -> String {
        let header = json!({"alg": "ES256", "kid": self.kid});
        let claims = json!({
            "iss": self.client, "sub": self.client, "aud": self.aud, "exp": self.exp,
            "iat": self.exp - 60, "jti": self.jti,
        });
        self.key.sign(&header, &claims)
    }
}

/// A PKCE authorization request pushed by `client` with `assertion`.
async fn push_with(issuer: &str, client: &str, assertion: &str) -> (u16, Value) {
    let form = [
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    let (status, _, body) = post_form(issuer, "/par", None, &form).await;
    (status.as_u16(), body)
}

async fn token_with(issuer: &str, assertion: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion),
    ];
    let (status, _, body) = post_form(issuer, "/token", None, &form).await;
    (status.as_u16(), body)
}

fn refused(answer: &(u16, Value)) {
    assert_eq!(answer.0, 400, "{}", answer.1);
    assert_eq!(answer.1["error"], "invalid_client");
}

#[tokio::test]
async fn an_assertion_by_a_registered_key_authenticates_once() {
    let key = TestKey::generate();
    let server = server(&key).await;
    let issuer = server.issuer("acme");
    let metadata = discovery(&issuer).await;
    let methods = metadata["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.contains(&json!("private_key_jwt")));
    let algs = metadata["token_endpoint_auth_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.contains(&json!("ES256")) && !algs.contains(&json!("HS256")));
    let assertion = Assertion::new(&server, &key).sign();
    let (status, body) = token_with(&issuer, &assertion).await;
    assert_eq!(status, 200, "{body}");
    refused(&token_with(&issuer, &assertion).await);
    let to_token_endpoint = Assertion {
        aud: json!([format!("{issuer}/token")]),
        ..Assertion::new(&server, &key)
    };
    assert_eq!(token_with(&issuer, &to_token_endpoint.sign()).await.0, 200);
}

#[tokio::test]
async fn an_assertion_for_another_audience_is_refused() {
    let key = TestKey::generate();
    let server = server(&key).await;
    let issuer = server.issuer("acme");
    for aud in [
        json!("http://attacker.example/t/acme/token"),
        json!(format!("{issuer}/userinfo")),
        json!(server.issuer("other")),
        json!([]),
    ] {
        let assertion = Assertion {
            aud,
            ..Assertion::new(&server, &key)
        };
        refused(&token_with(&issuer, &assertion.sign()).await);
    }
}

#[tokio::test]
async fn an_assertion_may_name_the_endpoint_it_is_sent_to_and_only_that_one() {
    let key = TestKey::generate();
    let server = server(&key).await;
    let jwks = jwks(&key, "k1");
    server.edit_tenant("acme", move |config| {
        let grants = [GrantType::AuthorizationCode];
        let mut pusher = client("keyed-web", ClientKind::Confidential, &grants, &["openid"]);
        pusher.token_endpoint_auth_method = Some(ClientAuthMethod::PrivateKeyJwt);
        pusher.jwks = Some(jwks);
        config.clients.push(pusher);
    });
    let issuer = server.issuer("acme");
    let par = format!("{issuer}/par");
    let for_audience = |aud: &str| {
        Assertion {
            client: "keyed-web",
            aud: json!(aud),
            ..Assertion::new(&server, &key)
        }
        .sign()
    };
    // RFC 9126 §2: the issuer, the token endpoint or the PAR endpoint, at the PAR endpoint.
    for aud in [issuer.clone(), format!("{issuer}/token"), par.clone()] {
        let (status, body) = push_with(&issuer, "keyed-web", &for_audience(&aud)).await;
        assert_eq!(status, 201, "aud {aud}: {body}");
    }
    let elsewhere = format!("{issuer}/introspect");
    refused(&push_with(&issuer, "keyed-web", &for_audience(&elsewhere)).await);
    // The PAR endpoint is no audience for the token endpoint.
    let to_par = Assertion {
        aud: json!(par),
        ..Assertion::new(&server, &key)
    };
    refused(&token_with(&issuer, &to_par.sign()).await);
}

#[tokio::test]
async fn an_expired_or_long_lived_assertion_is_refused() {
    let key = TestKey::generate();
    let server = server(&key).await;
    let issuer = server.issuer("acme");
    let now = server.clock.now();
    for exp in [now, now + 2 * 3600] {
        let assertion = Assertion {
            exp,
            ..Assertion::new(&server, &key)
        };
        refused(&token_with(&issuer, &assertion.sign()).await);
    }
}

#[tokio::test]
async fn an_unknown_kid_or_another_key_is_refused() {
    let key = TestKey::generate();
    let server = server(&key).await;
    let issuer = server.issuer("acme");
    let unknown_kid = Assertion {
        kid: "k2",
        ..Assertion::new(&server, &key)
    };
    refused(&token_with(&issuer, &unknown_kid.sign()).await);
    let other = TestKey::generate();
    refused(&token_with(&issuer, &Assertion::new(&server, &other).sign()).await);
    let as_svc = Assertion {
        client: "svc",
        ..Assertion::new(&server, &key)
    };
    refused(&token_with(&issuer, &as_svc.sign()).await);
}

#[tokio::test]
async fn each_client_uses_only_its_own_method() {
    let key = TestKey::generate();
    let server = server(&key).await;
    let issuer = server.issuer("acme");
    let form = [("grant_type", "client_credentials")];
    let (status, _, _) = post_form(&issuer, "/token", Some(("keyed", "guess")), &form).await;
    assert_eq!(status, 401, "no secret for a private_key_jwt client");
    // A secret client (svc) cannot switch to an assertion, even signed by a registered key.
    let as_svc = Assertion {
        client: "svc",
        ..Assertion::new(&server, &key)
    };
    refused(&token_with(&issuer, &as_svc.sign()).await);
    let assertion = Assertion::new(&server, &key).sign();
    let both = [
        ("grant_type", "client_credentials"),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion.as_str()),
    ];
    let (status, _, body) = post_form(&issuer, "/token", Some(("svc", SVC_SECRET)), &both).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

/// Serves a JWKS that the test may change, counting the requests.
struct JwksServer {
    url: String,
    served: Arc<Mutex<Value>>,
    hits: Arc<AtomicUsize>,
}

async fn jwks_server(initial: Value) -> JwksServer {
    let served = Arc::new(Mutex::new(initial));
    let hits = Arc::new(AtomicUsize::new(0));
    let (jwks, count) = (served.clone(), hits.clone());
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let (jwks, count) = (jwks.clone(), count.clone());
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                axum::Json(jwks.lock().await.clone())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    JwksServer { url, served, hits }
}

#[tokio::test]
async fn keys_at_a_jwks_uri_are_fetched_once_and_again_for_a_new_kid_at_most_every_30_s() {
    let key = TestKey::generate();
    let remote = jwks_server(serde_json::to_value(jwks(&key, "k1")).unwrap()).await;
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let uri = remote.url.clone();
    server.edit_tenant("acme", move |config| {
        let mut keyed = keyed_client("keyed");
        keyed.jwks_uri = Some(uri);
        config.clients.push(keyed);
    });
    let issuer = server.issuer("acme");
    for _ in 0..2 {
        let (status, body) = token_with(&issuer, &Assertion::new(&server, &key).sign()).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(remote.hits.load(Ordering::SeqCst), 1, "cached");
    // The client rotates to a new key.
    let rotated = TestKey::generate();
    *remote.served.lock().await = serde_json::to_value(jwks(&rotated, "k2")).unwrap();
    let with_new_kid = |server: &TestServer| {
        Assertion {
            kid: "k2",
            ..Assertion::new(server, &rotated)
        }
        .sign()
    };
    refused(&token_with(&issuer, &with_new_kid(&server)).await);
    assert_eq!(
        remote.hits.load(Ordering::SeqCst),
        1,
        "not again within 30 s"
    );
    server.clock.advance(31);
    let (status, body) = token_with(&issuer, &with_new_kid(&server)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(remote.hits.load(Ordering::SeqCst), 2);
}

/// A client's key server that misbehaves as told: answers with a redirect, a body over the
/// 64 KiB limit, or an error, counting every request.
struct UnrulyJwks {
    url: String,
    mode: Arc<Mutex<&'static str>>,
    hits: Arc<AtomicUsize>,
    redirected_to: Arc<AtomicUsize>,
}

async fn unruly_jwks(good: Value) -> UnrulyJwks {
    use axum::response::{IntoResponse, Redirect};
    let mode = Arc::new(Mutex::new("good"));
    let (hits, redirected_to) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (served_mode, count, followed) = (mode.clone(), hits.clone(), redirected_to.clone());
    let target = good.clone();
    let app = axum::Router::new()
        .route(
            "/jwks",
            axum::routing::get(move || {
                let (mode, count, good) = (served_mode.clone(), count.clone(), good.clone());
                async move {
                    count.fetch_add(1, Ordering::SeqCst);
                    match *mode.lock().await {
                        "redirect" => Redirect::temporary("/elsewhere").into_response(),
                        "big" => {
                            let mut big = good.clone();
                            big["padding"] = json!("x".repeat(70 * 1024));
                            axum::Json(big).into_response()
                        }
                        "down" => axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
                        _ => axum::Json(good).into_response(),
                    }
                }
            }),
        )
        .route(
            "/elsewhere",
            axum::routing::get(move || {
                let (followed, target) = (followed.clone(), target.clone());
                async move {
                    followed.fetch_add(1, Ordering::SeqCst);
                    axum::Json(target)
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    UnrulyJwks {
        url,
        mode,
        hits,
        redirected_to,
    }
}

async fn server_with_jwks_uri(uri: String) -> TestServer {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    server.edit_tenant("acme", move |config| {
        let mut keyed = keyed_client("keyed");
        keyed.jwks_uri = Some(uri);
        config.clients.push(keyed);
    });
    server
}

#[tokio::test]
async fn a_jwks_uri_that_redirects_or_serves_too_much_gives_no_keys_and_the_last_good_ones_stay() {
    let key = TestKey::generate();
    let remote = unruly_jwks(serde_json::to_value(jwks(&key, "k1")).unwrap()).await;
    for bad in ["redirect", "big"] {
        *remote.mode.lock().await = bad;
        let server = server_with_jwks_uri(remote.url.clone()).await;
        let issuer = server.issuer("acme");
        refused(&token_with(&issuer, &Assertion::new(&server, &key).sign()).await);
    }
    assert_eq!(
        remote.redirected_to.load(Ordering::SeqCst),
        0,
        "redirect not followed"
    );
    // Fetched once while good; when the set is stale and the server misbehaves, the last good
    // set keeps authenticating the client.
    *remote.mode.lock().await = "good";
    let server = server_with_jwks_uri(remote.url.clone()).await;
    let issuer = server.issuer("acme");
    let (status, body) = token_with(&issuer, &Assertion::new(&server, &key).sign()).await;
    assert_eq!(status, 200, "{body}");
    for bad in ["big", "down"] {
        *remote.mode.lock().await = bad;
        server.clock.advance(301);
        let before = remote.hits.load(Ordering::SeqCst);
        let (status, body) = token_with(&issuer, &Assertion::new(&server, &key).sign()).await;
        assert_eq!(status, 200, "last good set, server {bad}: {body}");
        assert_eq!(
            remote.hits.load(Ordering::SeqCst),
            before + 1,
            "asked again"
        );
    }
}

#[tokio::test]
async fn a_jwks_uri_that_never_answered_is_asked_again_at_most_every_30_s() {
    let key = TestKey::generate();
    let remote = unruly_jwks(serde_json::to_value(jwks(&key, "k1")).unwrap()).await;
    *remote.mode.lock().await = "down";
    let server = server_with_jwks_uri(remote.url.clone()).await;
    let issuer = server.issuer("acme");
    for _ in 0..5 {
        refused(&token_with(&issuer, &Assertion::new(&server, &key).sign()).await);
    }
    assert_eq!(
        remote.hits.load(Ordering::SeqCst),
        1,
        "one fetch for five assertions"
    );
    *remote.mode.lock().await = "good";
    refused(&token_with(&issuer, &Assertion::new(&server, &key).sign()).await);
    server.clock.advance(31);
    let (status, body) = token_with(&issuer, &Assertion::new(&server, &key).sign()).await;
    assert_eq!(status, 200, "asked again after 30 s: {body}");
    assert_eq!(remote.hits.load(Ordering::SeqCst), 2);
}
