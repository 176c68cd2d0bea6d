//! The token endpoint (RFC 6749 §3.2): `client_credentials`, `authorization_code` with PKCE,
//! and `refresh_token` with rotation. A request with a DPoP proof (RFC 9449 §5) gets access
//! tokens bound to the proof's key, and a public client's refresh tokens are bound to it too.
//!
//! Every answer carries `Cache-Control: no-store` (§5.1). Replays of codes and refresh tokens
//! are logged with tenant and client only, never with the token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use meridian_contract::GrantType;
use serde::Serialize;

use super::dpop::{self, Refusal, Surface};
use super::{AppState, CurrentTenant};
use super::{authenticate, token_exchange};
use crate::issue::{self, AccessToken, Authentication, Grant, Subject};
use crate::oauth::dpop::Proof;
use crate::oauth::{OAuthError, Params, granted_scope, token_audience};
use crate::store::{
    CodeGrant, CodePeek, CodeRedemption, FamilyAccess, IssuedTokens, RefreshGrant, RefreshPeek,
    RefreshRedemption,
};
use crate::tenant::{Client, Tenant};

/// Deliberately not `Debug`: it holds the tokens.
#[derive(Serialize)]
pub struct TokenResponse {
    pub(super) access_token: String,
    pub(super) token_type: &'static str,
    pub(super) expires_in: u64,
    pub(super) scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) id_token: Option<String>,
    /// RFC 8693 §2.2.1, for an exchanged token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) issued_token_type: Option<&'static str>,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut response = Json(self).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}

pub async fn token(
    State(app): State<AppState>,
    Extension(CurrentTenant(tenant)): Extension<CurrentTenant>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<TokenResponse, Refusal> {
    let (app, tenant, headers, body) = (&app, &*tenant, &headers, &body[..]);
    let params = Params::from_form(body)?;
    let client = authenticate::client(app, tenant, (headers, "/token"), &params).await?;
    let proof = dpop::client_proof(app, tenant, headers, "/token", client).await?;
    // FAPI 2.0 Security Profile §5.3.2.1: sender-constrained tokens; DPoP is the one here.
    if proof.is_none() && (client.config.dpop_bound_access_tokens || tenant.fapi2()) {
        return Err(OAuthError::InvalidDpopProof("this client must send a DPoP proof").into());
    }
    let jkt = proof.as_ref().map(|proof| proof.jkt.as_str());
    let grant = match params.require("grant_type")? {
        "client_credentials" => GrantType::ClientCredentials,
        "authorization_code" => GrantType::AuthorizationCode,
        "refresh_token" => GrantType::RefreshToken,
        exchange if exchange == GrantType::TokenExchange.as_str() => GrantType::TokenExchange,
        _ => return Err(OAuthError::UnsupportedGrantType.into()),
    };
    if !client.may_use(grant) {
        return Err(
            OAuthError::UnauthorizedClient("grant_type not allowed for this client").into(),
        );
    }
    // A public client proves nothing by itself, so its proof is recorded only once its code
    // or refresh token has passed every check (see `http/dpop.rs`); any other is recorded now.
    let grant_first = client.is_public()
        && matches!(
            grant,
            GrantType::AuthorizationCode | GrantType::RefreshToken
        );
    if let Some(proof) = proof.as_ref().filter(|_| !grant_first) {
        dpop::spend(app, tenant, proof, Surface::Token).await?;
    }
    let request = TokenRequest {
        client,
        params: &params,
        jkt,
        unspent: proof.as_ref().filter(|_| grant_first),
    };
    let response = match grant {
        GrantType::ClientCredentials => client_credentials(app, tenant, request),
        GrantType::AuthorizationCode => authorization_code(app, tenant, request).await,
        GrantType::RefreshToken => refresh_token(app, tenant, request).await,
        GrantType::TokenExchange => token_exchange::exchange(app, tenant, request).await,
    }?;
    app.metrics.token_issued(tenant.id(), grant.as_str());
    Ok(response)
}

/// An authenticated token request: its client, its parameters, and the DPoP key it proved.
#[derive(Clone, Copy)]
pub(super) struct TokenRequest<'r> {
    pub(super) client: &'r Client,
    pub(super) params: &'r Params,
    pub(super) jkt: Option<&'r str>,
    /// The proof still to be recorded, once the grant has passed its checks.
    unspent: Option<&'r Proof>,
}

impl TokenRequest<'_> {
    /// Records the proof left unspent, just before the grant is consumed.
    async fn spend_proof(&self, app: &AppState, tenant: &Tenant) -> Result<(), OAuthError> {
        match self.unspent {
            Some(proof) => dpop::spend(app, tenant, proof, Surface::Token).await,
            None => Ok(()),
        }
    }

    /// RFC 9449 §5.1: `DPoP` for a token bound to a key, `Bearer` otherwise.
    pub(super) fn token_type(&self) -> &'static str {
        if self.jkt.is_some() { "DPoP" } else { "Bearer" }
    }
}

/// Never touches the store (but for a DPoP proof's replay check): signing keys and client
/// digests come from the files, so machine clients keep getting tokens while the database is
/// down.
fn client_credentials(
    app: &AppState,
    tenant: &Tenant,
    request: TokenRequest<'_>,
) -> Result<TokenResponse, OAuthError> {
    let TokenRequest { client, params, .. } = request;
    // `openid` asks about an end-user, and a client acting for itself has none: such a token
    // must never open userinfo, even for a user whose name equals the client id.
    let requested = params.get("scope");
    if requested.is_some_and(has_openid) {
        return Err(OAuthError::InvalidScope);
    }
    let scope = granted_scope(client, requested)?;
    let scope = scope
        .split(' ')
        .filter(|s| *s != "openid")
        .collect::<Vec<_>>()
        .join(" ");
    let now = app.clock.now();
    let signer = tenant
        .signer(now)
        .ok_or(OAuthError::TemporarilyUnavailable)?;
    let subject = Subject {
        id: &client.config.client_id,
        user: None,
    };
    let audience = token_audience(client, tenant.issuer(), None, params.get("resource"))?;
    let grant = Grant {
        scope: &scope,
        audience: &audience,
        jkt: request.jkt,
        actor: None,
        not_after: None,
    };
    let access = issue::access_token(tenant, signer, client, subject, grant, now);
    Ok(TokenResponse {
        access_token: access.token,
        token_type: request.token_type(),
        expires_in: access.expires_in,
        scope,
        refresh_token: None,
        id_token: None,
        issued_token_type: None,
    })
}

async fn authorization_code(
    app: &AppState,
    tenant: &Tenant,
    request: TokenRequest<'_>,
) -> Result<TokenResponse, OAuthError> {
    let TokenRequest { client, params, .. } = request;
    let token_type = request.token_type();
    let jkt = request.jkt;
    let code = params.require("code")?;
    let now = app.clock.now();
    let grant = redeem_code(app, tenant, request, code).await?;
    let request = &grant.request;
    let (subject, signer) = user_subject(tenant, &grant.username, now)?;
    let granted = request.resource.as_deref();
    let audience = token_audience(client, tenant.issuer(), granted, params.get("resource"))?;
    let access_grant = Grant {
        scope: &request.scope,
        audience: &audience,
        jkt,
        actor: None,
        not_after: None,
    };
    let access = issue::access_token(tenant, signer, client, subject, access_grant, now);
    let id_token = has_openid(&request.scope).then(|| {
        let authentication = Authentication {
            auth_time: grant.auth_time,
            sid: grant.sid.as_deref(),
            nonce: request.nonce.as_deref(),
            scope: &request.scope,
        };
        issue::id_token(
            tenant,
            signer,
            client,
            subject,
            authentication,
            &access.token,
            now,
        )
    });
    let refresh = if client.may_use(GrantType::RefreshToken) {
        // RFC 9449 §5: a public client's refresh tokens are bound to the key it proved.
        let bound = jkt.filter(|_| client.is_public());
        Some(start_family(app, tenant, client, (&grant, bound), &access).await?)
    } else {
        None
    };
    let issued = IssuedTokens {
        access_jti: access.jti.clone(),
        access_expires_at: access.expires_at,
        family: refresh.as_ref().map(|started| started.family.clone()),
        family_expires_at: refresh.as_ref().map(|started| started.expires_at),
    };
    app.store.record_code_tokens(code, &issued).await?;
    Ok(TokenResponse {
        access_token: access.token,
        token_type,
        expires_in: access.expires_in,
        scope: request.scope.clone(),
        refresh_token: refresh.map(|started| started.token),
        id_token,
        issued_token_type: None,
    })
}

/// Checks a code's binding, and only then consumes it: a request that fails a check burns
/// nothing. A replay by the code's own client revokes what the first redemption issued
/// (RFC 6749 §4.1.2); a stranger presenting someone else's code revokes nothing.
async fn redeem_code(
    app: &AppState,
    tenant: &Tenant,
    request: TokenRequest<'_>,
    code: &str,
) -> Result<CodeGrant, OAuthError> {
    let client = request.client;
    let now = app.clock.now();
    let grant = match app.store.peek_code(code, now).await? {
        CodePeek::Live(grant) => grant,
        CodePeek::Redeemed { grant, issued } => {
            if is_own_code(&grant, tenant, client) {
                code_replayed(app, tenant, client, issued).await?;
            }
            return Err(OAuthError::InvalidGrant("code already used"));
        }
        CodePeek::Unknown => return Err(OAuthError::InvalidGrant("unknown or expired code")),
    };
    check_code_binding(&grant, tenant, request)?;
    request.spend_proof(app, tenant).await?;
    match app.store.redeem_code(code, now).await? {
        CodeRedemption::Fresh(grant) => Ok(*grant),
        // Another request redeemed it between the look and the redemption.
        CodeRedemption::Replayed(issued) => {
            code_replayed(app, tenant, client, issued).await?;
            Err(OAuthError::InvalidGrant("code already used"))
        }
        CodeRedemption::Unknown => Err(OAuthError::InvalidGrant("unknown or expired code")),
    }
}

fn is_own_code(grant: &CodeGrant, tenant: &Tenant, client: &Client) -> bool {
    grant.tenant == tenant.id() && grant.request.client_id == client.config.client_id
}

async fn code_replayed(
    app: &AppState,
    tenant: &Tenant,
    client: &Client,
    issued: Option<IssuedTokens>,
) -> Result<(), OAuthError> {
    revoke_issued(app, issued).await?;
    tracing::warn!(
        tenant = tenant.id(),
        client_id = %client.config.client_id,
        "authorization code presented twice; tokens issued from it revoked"
    );
    Ok(())
}

/// A code is good only for its client, its redirect URI, its PKCE verifier and the DPoP key
/// it was bound to (RFC 9449 §10).
fn check_code_binding(
    grant: &CodeGrant,
    tenant: &Tenant,
    token_request: TokenRequest<'_>,
) -> Result<(), OAuthError> {
    let TokenRequest {
        client,
        params,
        jkt,
        ..
    } = token_request;
    let request = &grant.request;
    if request.dpop_jkt.is_some() && request.dpop_jkt.as_deref() != jkt {
        return Err(OAuthError::InvalidDpopProof(
            "the code is bound to another DPoP key",
        ));
    }
    if !is_own_code(grant, tenant, client) {
        return Err(OAuthError::InvalidGrant(
            "code was issued to another client",
        ));
    }
    if params.get("redirect_uri") != Some(request.redirect_uri.as_str()) {
        return Err(OAuthError::InvalidGrant(
            "redirect_uri differs from the authorization request",
        ));
    }
    // RFC 8707 §2.2: a resource outside the grant is refused before the code is spent.
    token_audience(
        client,
        tenant.issuer(),
        request.resource.as_deref(),
        params.get("resource"),
    )?;
    match (&request.challenge, params.get("code_verifier")) {
        (Some(challenge), Some(verifier)) if challenge.is_met_by(verifier) => Ok(()),
        (Some(_), _) => Err(OAuthError::InvalidGrant("code_verifier does not match")),
        // RFC 9700 §4.8.2: a verifier for a code issued without a challenge is a downgrade.
        (None, Some(_)) => Err(OAuthError::InvalidGrant("no code_challenge was sent")),
        (None, None) => Ok(()),
    }
}

async fn refresh_token(
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
    let presented = params.require("refresh_token")?;
    let now = app.clock.now();
    let binding = (tenant.id(), client.config.client_id.as_str());
    // Every check first, so that a request that fails one (a wider scope, a deleted user)
    // leaves the token as it was: the honest retry must not look like reuse.
    let grant = match app.store.peek_refresh(presented, binding, now).await? {
        RefreshPeek::Live(grant) => grant,
        RefreshPeek::Rotated(grant) => {
            return Err(refresh_reused(app, tenant, client, &grant).await);
        }
        RefreshPeek::Unknown => return Err(unknown_refresh()),
    };
    if tenant.fapi2() && client.is_public() && grant.jkt.is_none() {
        return Err(OAuthError::InvalidGrant(
            "a public client's refresh token must be DPoP-bound under FAPI 2.0",
        ));
    }
    if grant.jkt.is_some() && grant.jkt.as_deref() != jkt {
        return Err(OAuthError::InvalidDpopProof(
            "the refresh token is bound to another DPoP key",
        ));
    }
    let scope = narrowed_scope(&grant.scope, params.get("scope"))?;
    let granted = grant.resource.as_deref();
    let audience = token_audience(client, tenant.issuer(), granted, params.get("resource"))?;
    let (subject, signer) = user_subject(tenant, &grant.username, now)?;
    request.spend_proof(app, tenant).await?;
    let mut grant = match app.store.redeem_refresh(presented, binding, now).await? {
        RefreshRedemption::Fresh(grant) => grant,
        RefreshRedemption::Replayed(grant) => {
            return Err(refresh_reused(app, tenant, client, &grant).await);
        }
        RefreshRedemption::Unknown => return Err(unknown_refresh()),
    };
    if grant.jkt.is_none() && client.is_public() {
        // A family started without DPoP is bound from its first refresh with a proof on.
        grant.jkt = jkt.map(str::to_owned);
    }
    let access_grant = Grant {
        scope: &scope,
        audience: &audience,
        jkt,
        actor: None,
        not_after: None,
    };
    let access = issue::access_token(tenant, signer, client, subject, access_grant, now);
    // RFC 6749 §6: the new refresh token carries the original grant's scope, whatever this
    // request narrowed its access token to; and the family keeps its original expiry.
    let started = new_refresh_token(app, grant, &access).await?;
    let refresh = started.token;
    Ok(TokenResponse {
        access_token: access.token,
        token_type: request.token_type(),
        expires_in: access.expires_in,
        scope,
        refresh_token: Some(refresh),
        id_token: None,
        issued_token_type: None,
    })
}

/// RFC 9700 §4.14.2: a rotated-away token coming back means one copy leaked. There is no grace
/// window, so a client's own retry is reuse too: that is the price of never letting a stolen
/// token win a race.
async fn refresh_reused(
    app: &AppState,
    tenant: &Tenant,
    client: &Client,
    grant: &RefreshGrant,
) -> OAuthError {
    if let Err(unavailable) = app.store.revoke_family(&grant.family).await {
        return unavailable.into();
    }
    tracing::warn!(
        tenant = tenant.id(),
        client_id = %client.config.client_id,
        "refresh token reused; its whole family revoked"
    );
    OAuthError::InvalidGrant("refresh token already used")
}

/// Also the answer to a refresh token of another region (the front door failed over): grants
/// live in one region's store, so the description says so and the client signs in again.
const UNKNOWN_REFRESH: &str = "unknown, expired or revoked refresh token (refresh tokens are valid only in the region that issued them)";

fn unknown_refresh() -> OAuthError {
    OAuthError::InvalidGrant(UNKNOWN_REFRESH)
}

/// A refresh token just saved, with its family and the family's end.
struct StartedRefresh {
    token: String,
    family: String,
    expires_at: meridian_contract::UnixSeconds,
}

/// The first refresh token of a new family, expiring a fixed time after the authorization,
/// bound to a DPoP key if one is given.
async fn start_family(
    app: &AppState,
    tenant: &Tenant,
    client: &Client,
    (grant, jkt): (&CodeGrant, Option<&str>),
    access: &AccessToken,
) -> Result<StartedRefresh, OAuthError> {
    let refresh_grant = RefreshGrant {
        tenant: tenant.id().to_owned(),
        client_id: client.config.client_id.clone(),
        username: grant.username.clone(),
        scope: grant.request.scope.clone(),
        auth_time: grant.auth_time,
        family: issue::random_token(),
        expires_at: app.clock.now() + tenant.config.tokens.refresh_token_seconds as i64,
        resource: grant.request.resource.clone(),
        jkt: jkt.map(str::to_owned),
    };
    new_refresh_token(app, refresh_grant, access).await
}

async fn new_refresh_token(
    app: &AppState,
    grant: RefreshGrant,
    access: &AccessToken,
) -> Result<StartedRefresh, OAuthError> {
    let token = issue::random_token();
    let beside = FamilyAccess {
        jti: &access.jti,
        expires_at: access.expires_at,
    };
    app.store.save_refresh(&token, &grant, beside).await?;
    Ok(StartedRefresh {
        token,
        family: grant.family,
        expires_at: grant.expires_at,
    })
}

async fn revoke_issued(app: &AppState, issued: Option<IssuedTokens>) -> Result<(), OAuthError> {
    let Some(issued) = issued else { return Ok(()) };
    app.store
        .revoke_access(&issued.access_jti, issued.access_expires_at)
        .await?;
    if let Some(family) = issued.family {
        app.store.revoke_family(&family).await?;
    }
    Ok(())
}

/// RFC 6749 §6: a refresh may ask for fewer scopes, never more.
fn narrowed_scope(granted: &str, requested: Option<&str>) -> Result<String, OAuthError> {
    let Some(requested) = requested else {
        return Ok(granted.to_owned());
    };
    let granted: Vec<&str> = granted.split(' ').collect();
    let requested: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
    if requested.iter().all(|scope| granted.contains(scope)) {
        Ok(requested.join(" "))
    } else {
        Err(OAuthError::InvalidScope)
    }
}

pub fn has_openid(scope: &str) -> bool {
    scope.split(' ').any(|s| s == "openid")
}

/// The user a grant was issued to, as the subject of new tokens, and the key that signs now.
fn user_subject<'t>(
    tenant: &'t Tenant,
    username: &str,
    now: meridian_contract::UnixSeconds,
) -> Result<(Subject<'t>, &'t crate::keys::Signer), OAuthError> {
    let user = tenant
        .user(username)
        .ok_or(OAuthError::InvalidGrant("user no longer exists"))?;
    let signer = tenant
        .signer(now)
        .ok_or(OAuthError::TemporarilyUnavailable)?;
    Ok((
        Subject {
            id: &user.username,
            user: Some(user),
        },
        signer,
    ))
}
