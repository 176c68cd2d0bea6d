//! Resource indicators (RFC 8707): which audience an access token is for. Pure.
//!
//! A client registers the resources it may name; `resource` at authorize fixes the grant to
//! one of them, and `resource` at the token endpoint picks one within what the grant allows.
//! One `aud` per token: a request naming a resource the client did not register, or one its
//! grant was not for, is `invalid_target` (§2). Without any `resource` the client's default
//! audience (its `audience`, else the issuer) stays, as before resource indicators.

use super::OAuthError;
use crate::tenant::Client;

/// RFC 8707 §2: an absolute URI without a fragment.
fn is_resource(value: &str) -> bool {
    !value.contains('#') && url::Url::parse(value).is_ok()
}

/// The resource `requested` names, if the client may ask for it.
pub fn allowed_resource(client: &Client, requested: &str) -> Result<String, OAuthError> {
    let registered = client.config.resources.iter().any(|r| r == requested)
        || client.config.audience.as_deref() == Some(requested);
    if is_resource(requested) && registered {
        Ok(requested.to_owned())
    } else {
        Err(OAuthError::InvalidTarget)
    }
}

/// The `aud` of an access token: what the request names, within what the grant was for
/// (`granted`, fixed at authorize), else the grant's resource, else the client's default.
pub fn token_audience(
    client: &Client,
    issuer: &str,
    granted: Option<&str>,
    requested: Option<&str>,
) -> Result<String, OAuthError> {
    match (granted, requested) {
        (Some(granted), Some(requested)) if granted != requested => Err(OAuthError::InvalidTarget),
        (Some(granted), _) => Ok(granted.to_owned()),
        (None, Some(requested)) => allowed_resource(client, requested),
        (None, None) => Ok(client.audience(issuer).to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use meridian_contract::{ClientConfig, ClientKind, GrantType};

    use super::*;

    const ISSUER: &str = "https://auth.example/t/acme";
    const ORDERS: &str = "https://orders.example/";

    fn client(audience: Option<&str>) -> Client {
        Client {
            config: ClientConfig {
                client_id: "svc".into(),
                display_name: String::new(),
                kind: ClientKind::Confidential,
                grant_types: vec![GrantType::ClientCredentials],
                redirect_uris: vec![],
                scopes: vec![],
                audience: audience.map(str::to_owned),
                resources: vec![ORDERS.into(), "urn:example:billing".into()],
                allowed_origins: None,
                post_logout_redirect_uris: vec![],
                backchannel_logout_uri: None,
                require_pushed_authorization_requests: false,
                dpop_bound_access_tokens: false,
                require_dpop_nonce: false,
                token_endpoint_auth_method: None,
                jwks: None,
                jwks_uri: None,
                token_exchange: None,
            },
            secret_digest: None,
            origins: Default::default(),
            jwks: vec![],
            remote_jwks: None,
        }
    }

    #[test]
    fn the_audience_is_the_request_within_the_grant_else_the_default() {
        let svc = client(None);
        let audience = |granted, requested| token_audience(&svc, ISSUER, granted, requested);
        assert_eq!(audience(None, None).unwrap(), ISSUER);
        assert_eq!(audience(None, Some(ORDERS)).unwrap(), ORDERS);
        assert_eq!(
            audience(None, Some("urn:example:billing")).unwrap(),
            "urn:example:billing"
        );
        assert_eq!(audience(Some(ORDERS), None).unwrap(), ORDERS);
        assert_eq!(audience(Some(ORDERS), Some(ORDERS)).unwrap(), ORDERS);
        for (granted, requested) in [
            (Some(ORDERS), Some("urn:example:billing")),
            (None, Some("https://evil.example/")),
            (None, Some("orders")),
            (None, Some("https://orders.example/#x")),
        ] {
            assert_eq!(
                audience(granted, requested),
                Err(OAuthError::InvalidTarget),
                "{granted:?} {requested:?}"
            );
        }
    }

    #[test]
    fn the_registered_audience_may_be_named_too() {
        let api = client(Some("https://api.example/"));
        assert_eq!(
            token_audience(&api, ISSUER, None, None).unwrap(),
            "https://api.example/"
        );
        assert_eq!(
            allowed_resource(&api, "https://api.example/").unwrap(),
            "https://api.example/"
        );
    }
}
