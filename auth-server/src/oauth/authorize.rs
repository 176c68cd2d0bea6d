//! Validation of an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636).
//!
//! Pure. The order matters: until client and redirect URI are known good, an error must be
//! shown to the user and never sent to the (possibly attacker-chosen) redirect URI.

use meridian_contract::GrantType;
use serde::{Deserialize, Serialize};

use super::{CodeChallenge, OAuthError, Params, granted_scope};
use crate::tenant::{Client, Tenant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Prompt {
    /// Use a live session, else show the login page.
    Default,
    /// Never show a page: `login_required` without a session.
    None,
    /// Always re-authenticate.
    Login,
}

/// A validated authorization request. Serialized only into the grant store, so a code or a
/// pending login can be completed at another replica.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub challenge: Option<CodeChallenge>,
    pub prompt: Prompt,
}

/// Where an invalid request's error goes.
#[derive(Debug)]
pub enum AuthorizeFailure {
    /// Shown on an error page: the client or redirect URI cannot be trusted.
    Page(&'static str),
    /// Sent back to the validated redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
}

impl AuthorizeRequest {
    pub fn validate(tenant: &Tenant, params: &Params) -> Result<Self, AuthorizeFailure> {
        let client_id = params
            .get("client_id")
            .ok_or(AuthorizeFailure::Page("client_id is missing"))?;
        let client = tenant
            .client(client_id)
            .ok_or(AuthorizeFailure::Page("unknown client"))?;
        let redirect_uri = params
            .get("redirect_uri")
            .ok_or(AuthorizeFailure::Page("redirect_uri is missing"))?;
        // RFC 9700 §4.1.3: exact string comparison, nothing looser.
        if !client
            .config
            .redirect_uris
            .iter()
            .any(|uri| uri == redirect_uri)
        {
            return Err(AuthorizeFailure::Page(
                "redirect_uri is not registered for this client",
            ));
        }
        let state = params.get("state").map(str::to_owned);
        let fail = |error| AuthorizeFailure::Redirect {
            redirect_uri: redirect_uri.to_owned(),
            state: state.clone(),
            error,
        };
        match params.get("response_type") {
            Some("code") => {}
            None => return Err(fail(OAuthError::InvalidRequest("response_type is missing"))),
            Some(_) => return Err(fail(OAuthError::UnsupportedResponseType)),
        }
        if !client.may_use(GrantType::AuthorizationCode) {
            return Err(fail(OAuthError::UnauthorizedClient(
                "authorization_code not allowed",
            )));
        }
        let scope = granted_scope(client, params.get("scope")).map_err(fail)?;
        let challenge = parse_challenge(client, params).map_err(fail)?;
        let prompt = parse_prompt(params.get("prompt")).map_err(fail)?;
        Ok(Self {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            scope,
            state,
            nonce: params.get("nonce").map(str::to_owned),
            challenge,
            prompt,
        })
    }
}

/// RFC 7636 §4.4.1 and RFC 9700 §2.1.1: S256 only, and mandatory for public clients.
fn parse_challenge(client: &Client, params: &Params) -> Result<Option<CodeChallenge>, OAuthError> {
    match params.get("code_challenge") {
        Some(challenge) => {
            CodeChallenge::parse(challenge, params.get("code_challenge_method")).map(Some)
        }
        None if client.is_public() => Err(OAuthError::InvalidRequest(
            "PKCE is required for public clients",
        )),
        None => Ok(None),
    }
}

fn parse_prompt(prompt: Option<&str>) -> Result<Prompt, OAuthError> {
    let values: Vec<&str> = prompt
        .unwrap_or_default()
        .split(' ')
        .filter(|p| !p.is_empty())
        .collect();
    if values.contains(&"none") {
        // OIDC Core §3.1.2.1: `none` with any other value is an error.
        return if values.len() == 1 {
            Ok(Prompt::None)
        } else {
            Err(OAuthError::InvalidRequest("prompt=none cannot be combined"))
        };
    }
    Ok(if values.contains(&"login") {
        Prompt::Login
    } else {
        Prompt::Default
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_none_alone_only() {
        assert_eq!(parse_prompt(Some("none")).unwrap(), Prompt::None);
        assert!(parse_prompt(Some("none login")).is_err());
        assert_eq!(parse_prompt(Some("login consent")).unwrap(), Prompt::Login);
        assert_eq!(parse_prompt(None).unwrap(), Prompt::Default);
    }
}
