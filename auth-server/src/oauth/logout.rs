//! Validation of an end-session request (OIDC RP-Initiated Logout 1.0 §2, §3). Pure.
//!
//! Until the client and its `post_logout_redirect_uri` are known good, nothing may redirect:
//! an unregistered URI is shown an error page, never followed (§3: exact string comparison).

use meridian_contract::UnixSeconds;

use super::{IdTokenHint, Params};
use crate::tenant::Tenant;

/// A validated end-session request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    /// The client asking, from `client_id` or the hint's `aud`.
    pub client_id: Option<String>,
    /// Registered for that client; where the browser goes afterwards.
    pub post_logout_redirect_uri: Option<String>,
    /// Echoed to `post_logout_redirect_uri` (§2).
    pub state: Option<String>,
    /// The user a valid `id_token_hint` names: a session of this user ends without asking.
    pub hinted_user: Option<String>,
}

impl LogoutRequest {
    /// The request, or what the error page says.
    pub fn validate(
        tenant: &Tenant,
        params: &Params,
        now: UnixSeconds,
    ) -> Result<Self, &'static str> {
        let hint = match params.get("id_token_hint") {
            Some(hint) => Some(
                IdTokenHint::verify(tenant, hint, now)
                    .ok_or("id_token_hint is not an ID token of this issuer")?,
            ),
            None => None,
        };
        let client_id = match (params.get("client_id"), &hint) {
            (Some(id), Some(hint)) if id != hint.aud => {
                return Err("client_id differs from the audience of id_token_hint");
            }
            (Some(id), _) => Some(id.to_owned()),
            (None, Some(hint)) => Some(hint.aud.clone()),
            (None, None) => None,
        };
        let client = match &client_id {
            Some(id) => Some(tenant.client(id).ok_or("unknown client")?),
            None => None,
        };
        let post_logout_redirect_uri = match params.get("post_logout_redirect_uri") {
            Some(uri) => {
                let client =
                    client.ok_or("post_logout_redirect_uri needs client_id or id_token_hint")?;
                if !client
                    .config
                    .post_logout_redirect_uris
                    .iter()
                    .any(|r| r == uri)
                {
                    return Err("post_logout_redirect_uri is not registered for this client");
                }
                Some(uri.to_owned())
            }
            None => None,
        };
        Ok(Self {
            client_id,
            post_logout_redirect_uri,
            state: params.get("state").map(str::to_owned),
            hinted_user: hint.map(|hint| hint.sub),
        })
    }
}
