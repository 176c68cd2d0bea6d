//! Token exchange (RFC 8693) at the token endpoint: a current access token of this tenant
//! (the subject token) exchanged for one for another audience, within the client's policy.
//!
//! A client exchanges only tokens it may see (issued to it, or for it as audience), gets only
//! an audience its policy lists and only scopes both its policy and the subject token hold: an
//! exchange never widens what the subject granted. With an actor token the new token names
//! its actor in `act`, nesting any actor the subject token already had (§4.1). A DPoP-bound
//! subject token is exchanged only with a proof by its key. No refresh token is issued.

use super::AppState;
use super::token::{TokenRequest, TokenResponse};
use super::token_info::{may_see, verify_access};
use crate::issue::{self, Grant, Subject};
use crate::oauth::{AccessClaims, Actor, OAuthError, Params};
use crate::tenant::{Client, Tenant};

/// The only token type exchanged and issued (RFC 8693 §3).
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

pub(super) async fn exchange(
    app: &AppState,
    tenant: &Tenant,
    request: TokenRequest<'_>,
) -> Result<TokenResponse, OAuthError> {
    let TokenRequest {
        client,
        params,
        jkt,
        ..
    } = request;
    let policy = client
        .config
        .token_exchange
        .as_ref()
        .ok_or(OAuthError::UnauthorizedClient("no token exchange policy"))?;
    if params
        .get("requested_token_type")
        .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
    {
        return Err(OAuthError::InvalidRequest(
            "only access tokens can be requested",
        ));
    }
    let subject = presented(
        app,
        tenant,
        (client, params),
        ("subject_token", "subject_token_type"),
    )
    .await?;
    let subject = subject.ok_or(OAuthError::InvalidRequest("subject_token is required"))?;
    if subject
        .cnf
        .as_ref()
        .is_some_and(|cnf| Some(cnf.jkt.as_str()) != jkt)
    {
        return Err(OAuthError::InvalidRequest(
            "subject_token is bound to a DPoP key this request does not prove",
        ));
    }
    let actor = presented(
        app,
        tenant,
        (client, params),
        ("actor_token", "actor_token_type"),
    )
    .await?;
    let act = match actor {
        Some(actor) => Some(Actor {
            sub: actor.sub,
            act: subject.act.clone().map(Box::new),
        }),
        None => subject.act.clone(),
    };
    let audience = exchanged_audience(&policy.audiences, params)?;
    let scope = exchanged_scope(&policy.scopes, &subject, params.get("scope"))?;
    let now = app.clock.now();
    let signer = tenant
        .signer(now)
        .ok_or(OAuthError::TemporarilyUnavailable)?;
    let subject_of_token = Subject {
        id: &subject.sub,
        user: tenant.user(&subject.sub),
    };
    let grant = Grant {
        scope: &scope,
        audience,
        jkt,
        actor: act.as_ref(),
        not_after: Some(subject.exp),
    };
    let access = issue::access_token(tenant, signer, client, subject_of_token, grant, now);
    Ok(TokenResponse {
        access_token: access.token,
        token_type: request.token_type(),
        expires_in: access.expires_in,
        scope,
        refresh_token: None,
        id_token: None,
        issued_token_type: Some(ACCESS_TOKEN_TYPE),
    })
}

/// The claims of the token named by the `(token, token_type)` parameters, if given: it must
/// be a current access token of this tenant that `client` may see.
async fn presented(
    app: &AppState,
    tenant: &Tenant,
    (client, params): (&Client, &Params),
    (token, token_type): (&str, &str),
) -> Result<Option<AccessClaims>, OAuthError> {
    let Some(token) = params.get(token) else {
        return match params.get(token_type) {
            Some(_) => Err(OAuthError::InvalidRequest("a token type without its token")),
            None => Ok(None),
        };
    };
    if params.get(token_type) != Some(ACCESS_TOKEN_TYPE) {
        return Err(OAuthError::InvalidRequest(
            "only access tokens can be exchanged",
        ));
    }
    match verify_access(app, tenant, token).await? {
        Some(claims) if may_see(client, &claims) => Ok(Some(claims)),
        Some(_) => Err(OAuthError::InvalidRequest(
            "the token was not issued to or for this client",
        )),
        None => Err(OAuthError::InvalidRequest(
            "not a current access token of this tenant",
        )),
    }
}

/// The requested audience (`audience` or `resource`, RFC 8693 §2.1) if the policy lists it;
/// the policy's one audience when none is asked for.
fn exchanged_audience<'p>(
    allowed: &'p [String],
    params: &'p Params,
) -> Result<&'p str, OAuthError> {
    let audience = match (params.get("audience"), params.get("resource")) {
        (Some(a), Some(r)) if a != r => {
            return Err(OAuthError::InvalidRequest("audience and resource differ"));
        }
        (Some(target), _) | (None, Some(target)) => target,
        (None, None) => match allowed {
            [only] => only.as_str(),
            _ => return Err(OAuthError::InvalidRequest("audience is required")),
        },
    };
    if allowed.iter().any(|a| a == audience) {
        Ok(audience)
    } else {
        Err(OAuthError::InvalidTarget)
    }
}

/// The requested scopes if the policy and the subject token hold every one, else what both
/// hold; never empty.
fn exchanged_scope(
    allowed: &[String],
    subject: &AccessClaims,
    requested: Option<&str>,
) -> Result<String, OAuthError> {
    let permitted = |scope: &str| {
        allowed.iter().any(|a| a == scope) && subject.scopes().any(|held| held == scope)
    };
    let scopes: Vec<&str> = match requested {
        Some(requested) => {
            let requested: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
            if !requested.iter().all(|scope| permitted(scope)) {
                return Err(OAuthError::InvalidScope);
            }
            requested
        }
        None => subject.scopes().filter(|scope| permitted(scope)).collect(),
    };
    if scopes.is_empty() {
        return Err(OAuthError::InvalidScope);
    }
    Ok(scopes.join(" "))
}
