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
