//! Validation of an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636).
//!
//! Pure. The order matters: until client and redirect URI are known good, an error must be
//! shown to the user and never sent to the (possibly attacker-chosen) redirect URI.

use meridian_contract::{GrantType, UnixSeconds};
use serde::{Deserialize, Serialize};

use super::{
    CodeChallenge, IdTokenHint, OAuthError, Params, Prompt, allowed_resource, granted_scope,
    redirect_matches,
};
use crate::tenant::{Client, Tenant};

/// A hint longer than any username is not a hint; it is dropped rather than echoed.
const MAX_LOGIN_HINT: usize = 256;

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
    /// What the sign-in form pre-fills: `login_hint`, else the user of `id_token_hint`.
    /// Defaulted so logins pending before an upgrade still load from the store.
    #[serde(default)]
    pub login_hint: Option<String>,
    /// The resource (RFC 8707) the grant is for; the client's default audience when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The DPoP key the code is bound to (RFC 9449 §10): only a proof by it redeems the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
}

/// What a request demands of the session that would answer it (OIDC Core §3.1.2.1). Needed
/// only while the request is first served, so never stored with it.
#[derive(Debug, Clone, Default)]
pub struct SignInDemands {
    /// `max_age` in seconds: an older session must sign in again.
    pub max_age: Option<u64>,
    /// The user named by a verified `id_token_hint`: a session of anyone else does not answer.
    pub hinted_user: Option<String>,
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
    /// `pushed`: the parameters came from a pushed authorization request (RFC 9126).
    pub fn validate(
        tenant: &Tenant,
        params: &Params,
        now: UnixSeconds,
        pushed: bool,
    ) -> Result<(Self, SignInDemands), AuthorizeFailure> {
        let client_id = params
            .get("client_id")
            .ok_or(AuthorizeFailure::Page("client_id is missing"))?;
        let client = tenant
            .client(client_id)
            .ok_or(AuthorizeFailure::Page("unknown client"))?;
        let redirect_uri = params
            .get("redirect_uri")
            .ok_or(AuthorizeFailure::Page("redirect_uri is missing"))?;
        // RFC 9700 §4.1.3: exact string comparison, loosened only as RFC 8252 §7.3 requires.
        if !client
            .config
            .redirect_uris
            .iter()
            .any(|uri| redirect_matches(uri, redirect_uri))
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
        // FAPI 2.0 Security Profile §5.3.2.2: every request is pushed.
        let must_push = client.config.require_pushed_authorization_requests || tenant.fapi2();
        if must_push && !pushed {
            return Err(fail(OAuthError::InvalidRequest(
                "this client must push its authorization requests (RFC 9126)",
            )));
        }
        refuse_unsupported(params).map_err(fail)?;
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
        let resource = params
            .get("resource")
            .map(|requested| allowed_resource(client, requested))
            .transpose()
            .map_err(fail)?;
        let challenge = parse_challenge(client, tenant.fapi2(), params).map_err(fail)?;
        let dpop_jkt = parse_dpop_jkt(params.get("dpop_jkt")).map_err(fail)?;
        let prompt = Prompt::parse(params.get("prompt")).map_err(fail)?;
        let max_age = parse_max_age(params.get("max_age")).map_err(fail)?;
        let hinted_user = match params.get("id_token_hint") {
            Some(hint) => Some(hinted_user(tenant, client, hint, now).map_err(fail)?),
            None => None,
        };
        let login_hint = params
            .get("login_hint")
            .filter(|hint| hint.len() <= MAX_LOGIN_HINT)
            .map(str::to_owned)
            .or_else(|| hinted_user.clone());
        let request = Self {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            scope,
            state,
            nonce: params.get("nonce").map(str::to_owned),
            challenge,
            prompt,
            login_hint,
            resource,
            dpop_jkt,
        };
        Ok((
            request,
            SignInDemands {
                max_age,
                hinted_user,
            },
        ))
    }
}

/// RFC 7636 §4.4.1 and RFC 9700 §2.1.1: S256 only, and mandatory for public clients (and
/// for every client under FAPI 2.0, Security Profile §5.3.2.2).
fn parse_challenge(
    client: &Client,
    fapi2: bool,
    params: &Params,
) -> Result<Option<CodeChallenge>, OAuthError> {
    match params.get("code_challenge") {
        Some(challenge) => {
            CodeChallenge::parse(challenge, params.get("code_challenge_method")).map(Some)
        }
        None if client.is_public() => Err(OAuthError::InvalidRequest(
            "PKCE is required for public clients",
        )),
        None if fapi2 => Err(OAuthError::InvalidRequest(
            "PKCE is required by this tenant's FAPI 2.0 profile",
        )),
        None => Ok(None),
    }
}

/// RFC 9449 §10: a JWK SHA-256 thumbprint, base64url (43 characters).
fn parse_dpop_jkt(jkt: Option<&str>) -> Result<Option<String>, OAuthError> {
    let Some(jkt) = jkt else { return Ok(None) };
    let well_formed = jkt.len() == 43
        && jkt
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match well_formed {
        true => Ok(Some(jkt.to_owned())),
        false => Err(OAuthError::InvalidRequest(
            "dpop_jkt is not a JWK thumbprint",
        )),
    }
}

/// Parameters this server refuses rather than ignore (OIDC Core §3.1.2.6, §6). `claims`,
/// `acr_values`, `display`, `ui_locales` and `claims_locales` are requests the server may
/// decline to satisfy (§5.5, §3.1.2.1), and discovery says it does not.
fn refuse_unsupported(params: &Params) -> Result<(), OAuthError> {
    if params.get("request").is_some() {
        return Err(OAuthError::RequestNotSupported);
    }
    if params.get("request_uri").is_some() {
        return Err(OAuthError::RequestUriNotSupported);
    }
    if params.get("registration").is_some() {
        return Err(OAuthError::RegistrationNotSupported);
    }
    match params.get("response_mode") {
        None | Some("query") => Ok(()),
        Some(_) => Err(OAuthError::InvalidRequest("response_mode must be query")),
    }
}

/// OIDC Core §3.1.2.1: a non-negative number of seconds.
fn parse_max_age(max_age: Option<&str>) -> Result<Option<u64>, OAuthError> {
    let Some(max_age) = max_age else {
        return Ok(None);
    };
    let digits =
        !max_age.is_empty() && max_age.len() <= 12 && max_age.bytes().all(|b| b.is_ascii_digit());
    match digits.then(|| max_age.parse::<u64>().ok()).flatten() {
        Some(seconds) => Ok(Some(seconds)),
        None => Err(OAuthError::InvalidRequest(
            "max_age is not a number of seconds",
        )),
    }
}

/// OIDC Core §3.1.2.1: the hint must be an ID token this tenant issued to this client.
fn hinted_user(
    tenant: &Tenant,
    client: &Client,
    hint: &str,
    now: UnixSeconds,
) -> Result<String, OAuthError> {
    let claims = IdTokenHint::verify(tenant, hint, now).ok_or(OAuthError::InvalidRequest(
        "id_token_hint is not a valid ID token",
    ))?;
    if claims.aud != client.config.client_id {
        return Err(OAuthError::InvalidRequest(
            "id_token_hint was not issued to this client",
        ));
    }
    Ok(claims.sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_a_non_negative_number() {
        assert_eq!(parse_max_age(Some("0")).unwrap(), Some(0));
        assert_eq!(parse_max_age(Some("3600")).unwrap(), Some(3600));
        assert_eq!(parse_max_age(None).unwrap(), None);
        for bad in ["-1", "1.5", "+3", "1e3", "99999999999999999999"] {
            assert!(parse_max_age(Some(bad)).is_err(), "{bad}");
        }
    }
}
