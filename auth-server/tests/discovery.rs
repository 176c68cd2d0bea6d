//! Discovery says what the server does (OIDC Discovery §3): the claims it can return, the
//! prompts it honours, the request features it refuses, the algorithms its ring signs with.

mod common;

use common::*;
use meridian_contract::Algorithm;
use serde_json::Value;

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
