//! `private_key_jwt` on the shared store: a client assertion used at one replica is refused
//! at the other.

use meridian_auth_server::clock::{Clock, SystemClock};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::dpop::ClientKey;
use crate::support::*;

#[tokio::test]
async fn an_assertion_used_at_one_replica_is_refused_at_the_other() {
    let key = ClientKey::generate();
    let jwk = key.jwk();
    let region = Region::start_with_tenant(2, |tenant| {
        tenant["clients"]
            .as_array_mut()
            .expect("clients")
            .push(json!({
                "clientId": "keyed",
                "kind": "confidential",
                "grantTypes": ["client_credentials"],
                "scopes": ["api"],
                "tokenEndpointAuthMethod": "private_key_jwt",
                "jwks": {"keys": [jwk]},
            }));
    })
    .await;
    let now = SystemClock.now();
    let claims = json!({
        "iss": "keyed", "sub": "keyed", "aud": region.setup.issuer, "exp": now + 60,
        "jti": meridian_auth_server::issue::random_token(),
    });
    let assertion = key.sign(&json!({"alg": "ES256"}), &claims);
    let form = [
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    let post = |replica: usize| {
        http()
            .post(tenant_url(&region.base(replica), "/token"))
            .form(&form)
            .send()
    };
    let first = post(0).await.expect("token request");
    assert_eq!(first.status(), StatusCode::OK);
    let again = post(1).await.expect("token request");
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let body: Value = again.json().await.expect("JSON");
    assert_eq!(
        body["error"], "invalid_client",
        "replayed at the other replica"
    );
}
