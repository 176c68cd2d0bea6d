//! Introspection (RFC 7662), revocation (RFC 7009) and userinfo (OIDC Core §5.3).
//!
//! A caller learns about a token only if it is this tenant's and the caller's own (its client
//! or its audience); anything else is `{"active":false}`, indistinguishable from garbage.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::authenticate;
use super::cors::NamedClient;
use super::dpop::{self, Presented};
use super::token::has_openid;
use super::{AppState, CurrentTenant};
use crate::oauth::jwt::{self, TokenType};
use crate::oauth::{AccessClaims, OAuthError, Params, merged_claims, released_claims};
use crate::tenant::{Client, Tenant};

/// A current access token of this tenant: signed by a published key, right `typ` and issuer,
/// unexpired, and not revoked. The revocation list is in the store, so while the store is down
/// this answers 503 rather than vouch for a token that may have been revoked.
pub(super) async fn verify_access(
    app: &AppState,
    tenant: &Tenant,
    token: &str,
) -> Result<Option<AccessClaims>, OAuthError> {
    let now = app.clock.now();
    let verified = jwt::verify(token, TokenType::Access, |kid| {
        tenant.keys().verifier(kid, now)
    });
    let Ok(claims) = verified else {
        return Ok(None);
    };
    let claims: AccessClaims = claims;
    if !claims.is_current(tenant.issuer(), now) || claims.tenant_id != tenant.id() {
        return Ok(None);
    }
    let revoked = app.store.is_access_revoked(&claims.jti).await?;
    Ok((!revoked).then_some(claims))
}

fn no_store(value: Value) -> Response {
    let mut response = Json(value).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Whether `client` may learn about (or exchange) a token: its own, or one for it.
pub(super) fn may_see(client: &Client, claims: &AccessClaims) -> bool {
    claims.client_id == client.config.client_id || claims.aud == client.config.client_id
}

pub async fn introspect(
    State(app): State<AppState>,
    Extension(CurrentTenant(tenant)): Extension<CurrentTenant>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let (app, tenant, headers, body) = (&app, &*tenant, &headers, &body[..]);
    let params = Params::from_form(body)?;
    // RFC 7662 §2.1: the caller must be authorized, and one that is not is told so with a 401
    // and a challenge (RFC 6749 §5.2), whichever way it tried; a public client proves nothing.
    let unauthorized = OAuthError::InvalidClient { basic: true };
    let client = authenticate::client(app, tenant, (headers, "/introspect"), &params)
        .await
        .map_err(|e| match e {
            OAuthError::InvalidClient { .. } => unauthorized,
            other => other,
        })?;
    if client.is_public() {
        return Err(unauthorized);
    }
    let token = params.require("token")?;
    let access = verify_access(app, tenant, token).await?;
    if let Some(claims) = access.filter(|c| may_see(client, c)) {
        let mut body = serde_json::to_value(&claims).unwrap_or_default();
        body["active"] = Value::Bool(true);
        let token_type = if claims.cnf.is_some() {
            "DPoP"
        } else {
            "Bearer"
        };
        body["token_type"] = Value::from(token_type);
        return Ok(no_store(body));
    }
    let now = app.clock.now();
    let refresh =
        app.store.find_refresh(token, now).await?.filter(|grant| {
            grant.tenant == tenant.id() && grant.client_id == client.config.client_id
        });
    Ok(no_store(match refresh {
        Some(grant) => json!({
            "active": true,
            "token_type": "refresh_token",
            "client_id": grant.client_id,
            "sub": grant.username,
            "scope": grant.scope,
            "exp": grant.expires_at,
            "iss": tenant.issuer(),
        }),
        None => json!({ "active": false }),
    }))
}

pub async fn revoke(
    State(app): State<AppState>,
    Extension(CurrentTenant(tenant)): Extension<CurrentTenant>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let (app, tenant, headers, body) = (&app, &*tenant, &headers, &body[..]);
    let params = Params::from_form(body)?;
    let client = authenticate::client(app, tenant, (headers, "/revoke"), &params).await?;
    let token = params.require("token")?;
    let now = app.clock.now();
    let refresh = app.store.find_refresh(token, now).await?;
    if let Some(grant) =
        refresh.filter(|g| g.tenant == tenant.id() && g.client_id == client.config.client_id)
    {
        // RFC 7009 §2.1: revoking a refresh token also ends the access tokens of its grant.
        app.store.revoke_family(&grant.family).await?;
    } else if let Some(claims) = verify_access(app, tenant, token).await?
        && claims.client_id == client.config.client_id
    {
        app.store.revoke_access(&claims.jti, claims.exp).await?;
    }
    // §2.2: the answer is the same whether or not the token was valid.
    Ok(no_store(json!({})))
}

/// Readable by the origins of the client the token was issued to; an error, which names no
/// client, by those of the tenant's clients. A DPoP-bound token needs its key's proof.
pub async fn userinfo(
    State(app): State<AppState>,
    Extension(CurrentTenant(tenant)): Extension<CurrentTenant>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let Some(presented) = Presented::of(&headers) else {
        return OAuthError::InvalidToken.into_response();
    };
    let claims = match verify_access(&app, &tenant, presented.token()).await {
        Ok(Some(claims)) => claims,
        Ok(None) if matches!(presented, Presented::Dpop(_)) => {
            return OAuthError::InvalidDpopToken.into_response();
        }
        Ok(None) => return OAuthError::InvalidToken.into_response(),
        Err(error) => return error.into_response(),
    };
    let named = Some(NamedClient(claims.client_id.clone()));
    let target = (method.as_str(), "/userinfo");
    let presentation =
        dpop::check_presentation(&app, &tenant, &headers, target, presented, &claims).await;
    if let Err(refusal) = presentation {
        return NamedClient::mark(named, refusal);
    }
    NamedClient::mark(named, user_claims(&tenant, &claims))
}

fn user_claims(tenant: &Tenant, claims: &AccessClaims) -> Result<Response, OAuthError> {
    if !has_openid(&claims.scope) {
        return Err(OAuthError::InsufficientScope);
    }
    let user = tenant.user(&claims.sub).ok_or(OAuthError::InvalidToken)?;
    // OIDC Core §5.4: only the claims the token's scope released.
    let released = released_claims(&user.claims, &claims.scope);
    let mut body = serde_json::to_value(merged_claims(&tenant.config.claims, Some(&released)))
        .unwrap_or_default();
    body["sub"] = Value::from(user.username.as_str());
    body["tenant_id"] = Value::from(tenant.id());
    body["region"] = Value::from(tenant.region_of(Some(user)));
    Ok(no_store(body))
}
