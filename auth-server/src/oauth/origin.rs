//! Which browser origins may read a client's answers (CORS, WHATWG Fetch §3.2): the explicit
//! list the client registered, or else the origins of its redirect URIs.
//!
//! Pure. An origin here is the ASCII serialization browsers send in `Origin` (lowercase scheme
//! and host, default port left out), so a registered origin is compared with it exactly; an
//! opaque origin (`null`, a custom scheme of a native app) never matches anything.

use std::collections::BTreeSet;

use meridian_contract::ClientConfig;

/// The serialized origin of an absolute http(s) URL, if it has one.
pub fn origin_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    match url.origin() {
        origin @ url::Origin::Tuple(..) => Some(origin.ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

/// The origins a client's answers may be read from.
pub fn client_origins(config: &ClientConfig) -> BTreeSet<String> {
    match &config.allowed_origins {
        Some(explicit) => explicit.iter().filter_map(|o| origin_of(o)).collect(),
        None => config
            .redirect_uris
            .iter()
            .filter_map(|uri| origin_of(uri))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use meridian_contract::{ClientKind, GrantType};

    use super::*;

    fn client(redirects: &[&str], explicit: Option<&[&str]>) -> ClientConfig {
        ClientConfig {
            client_id: "spa".into(),
            display_name: String::new(),
            kind: ClientKind::Public,
            grant_types: vec![GrantType::AuthorizationCode],
            redirect_uris: redirects.iter().map(|u| u.to_string()).collect(),
            scopes: vec![],
            audience: None,
            resources: vec![],
            allowed_origins: explicit.map(|list| list.iter().map(|o| o.to_string()).collect()),
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            require_pushed_authorization_requests: false,
            dpop_bound_access_tokens: false,
            require_dpop_nonce: false,
            token_endpoint_auth_method: None,
            jwks: None,
            jwks_uri: None,
            token_exchange: None,
        }
    }

    #[test]
    fn origins_come_from_redirect_uris_in_their_serialized_form() {
        let spa = client(
            &[
                "https://App.Example:443/cb?x=1",
                "http://127.0.0.1:8080/cb",
                "com.example.app:/oauth",
            ],
            None,
        );
        let origins: Vec<String> = client_origins(&spa).into_iter().collect();
        assert_eq!(origins, ["http://127.0.0.1:8080", "https://app.example"]);
    }

    #[test]
    fn an_explicit_list_replaces_the_derived_origins() {
        let spa = client(&["https://app.example/cb"], Some(&["https://spa.example"]));
        assert_eq!(
            client_origins(&spa).into_iter().collect::<Vec<_>>(),
            ["https://spa.example"]
        );
        let none = client(&["https://app.example/cb"], Some(&[]));
        assert!(
            client_origins(&none).is_empty(),
            "an empty list allows none"
        );
    }
}
