//! Discovery says what the server does (OIDC Discovery §3): the claims it can return, the
//! prompts it honours, the request features it refuses, the algorithms its ring signs with.

mod common;

use common::*;
use meridian_contract::Algorithm;
use serde_json::{Value, json};

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{value} is not a list"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn discovery_lists_the_claims_and_prompts_it_honours() {
    let server = TestServer::start(&[("acme", Algorithm::EdDSA)]).await;
    let metadata = discovery(&server.issuer("acme")).await;
    let claims = strings(&metadata["claims_supported"]);
    for claim in [
        "sub",
        "auth_time",
        "azp",
        "tenant_id",
        "region",
        "org",
        "email",
    ] {
        assert!(claims.contains(&claim), "{claim} in {claims:?}");
    }
    assert!(
        !claims.contains(&"phone_number"),
        "no user has one: {claims:?}"
    );
    assert_eq!(
        strings(&metadata["prompt_values_supported"]),
        ["none", "login", "select_account"],
        "consent is refused, not honoured"
    );
    assert_eq!(metadata["claims_parameter_supported"], false);
    assert_eq!(metadata["request_parameter_supported"], false);
    assert_eq!(metadata["request_uri_parameter_supported"], false);
    assert_eq!(
        strings(&metadata["id_token_signing_alg_values_supported"]),
        ["EdDSA"],
        "the ring's algorithm, the documented deviation from RS256"
    );
}

const ALL_CLIENT_ALGS: [&str; 6] = ["ES256", "ES384", "EdDSA", "Ed25519", "RS256", "PS256"];

/// Every member discovery has, with its value: nothing advertised that is not supported, and
/// nothing supported left unsaid (a member added or changed fails this until it is checked).
fn whole_document(issuer: &str, auth_methods: &[&str], client_algs: &[&str], fapi2: bool) -> Value {
    let at = |path: &str| format!("{issuer}{path}");
    let introspection_methods: Vec<&str> = auth_methods
        .iter()
        .copied()
        .filter(|m| *m != "none")
        .collect();
    json!({
        "issuer": issuer,
        "authorization_endpoint": at("/authorize"),
        "token_endpoint": at("/token"),
        "jwks_uri": at("/jwks.json"),
        "userinfo_endpoint": at("/userinfo"),
        "introspection_endpoint": at("/introspect"),
        "revocation_endpoint": at("/revoke"),
        "end_session_endpoint": at("/logout"),
        "pushed_authorization_request_endpoint": at("/par"),
        "require_pushed_authorization_requests": fapi2,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "scopes_supported": ["openid", "profile", "email", "api"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "client_credentials",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": client_algs,
        "introspection_endpoint_auth_methods_supported": introspection_methods,
        "introspection_endpoint_auth_signing_alg_values_supported": client_algs,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": client_algs,
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": client_algs,
        "prompt_values_supported": ["none", "login", "select_account"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "azp", "sid",
            "tenant_id", "region", "email", "org",
        ],
        "claims_parameter_supported": false,
        "claim_types_supported": ["normal"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    })
}

#[tokio::test]
async fn discovery_is_exactly_what_a_default_and_a_fapi2_tenant_support() {
    let server = TestServer::start(&[("acme", Algorithm::ES256)]).await;
    let issuer = server.issuer("acme");
    let methods = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    ];
    let expected = whole_document(&issuer, &methods, &ALL_CLIENT_ALGS, false);
    assert_eq!(discovery(&issuer).await, expected);
    let oauth = format!("{issuer}/.well-known/oauth-authorization-server");
    let metadata = get_json(&oauth).await;
    assert_eq!(metadata, expected, "RFC 8414 metadata is the same document");

    // FAPI 2.0: PAR for everyone, private_key_jwt only, and PS256, ES256 or EdDSA only.
    server.edit_tenant("acme", |config| {
        config.fapi2 = true;
        config.clients.retain(|client| client.client_id != "svc");
        let web = TestServer::client_of(config, "web");
        web.token_endpoint_auth_method = Some(meridian_contract::ClientAuthMethod::PrivateKeyJwt);
        web.jwks = Some(common::jose::TestKey::generate().jwks("k1"));
    });
    let fapi2_algs = ["ES256", "EdDSA", "Ed25519", "PS256"];
    let expected = whole_document(&issuer, &["private_key_jwt", "none"], &fapi2_algs, true);
    assert_eq!(discovery(&issuer).await, expected);
}
