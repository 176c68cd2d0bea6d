//! DPoP (RFC 9449) at the HTTP edge: the one `DPoP` header of a request, checked against the
//! endpoint's public URL under the tenant's issuer (never a URL built from the `Host` the
//! request came in on), with the server nonce where the client must use one, and its `jti`
//! recorded once through the store, so a proof replayed at another replica fails as well.
//!
//! The `jti` is recorded only once the rest of the request holds (the access token at a
//! resource, the client's credentials or its grant at the token endpoint): the replay cache is
//! bounded and never forgets a proof that is still acceptable, so only requests that could
//! succeed anyway may fill it.
//!
//! Refusals carry RFC 9449's codes: `invalid_dpop_proof` / `use_dpop_nonce` at the token
//! endpoint (§5, §8), a `DPoP` challenge at a resource (§7.1, §9). A proof never reaches a
//! log line.

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::oauth::client_key::client_signing_algs;
use crate::oauth::dpop::{self, Proof, ProofTarget};
use crate::oauth::{AccessClaims, OAuthError, authorization};
use crate::store::UseOnce;
use crate::tenant::{Client, Tenant};

const DPOP: &str = "dpop";
const DPOP_NONCE: &str = "dpop-nonce";

/// Where a proof is presented: the codes of a refusal differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Token,
    Resource,
}

impl Surface {
    fn invalid(self, why: &'static str) -> OAuthError {
        match self {
            Self::Token => OAuthError::InvalidDpopProof(why),
            Self::Resource => OAuthError::InvalidResourceDpopProof(why),
        }
    }

    fn use_nonce(self) -> OAuthError {
        match self {
            Self::Token => OAuthError::UseDpopNonce,
            Self::Resource => OAuthError::UseResourceDpopNonce,
        }
    }
}

/// An OAuth error, with the nonce to use next when the refusal asks for one.
#[derive(Debug)]
pub struct Refusal {
    error: OAuthError,
    nonce: Option<HeaderValue>,
}

impl From<OAuthError> for Refusal {
    fn from(error: OAuthError) -> Self {
        Self { error, nonce: None }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = self.error.into_response();
        if let Some(nonce) = self.nonce {
            response.headers_mut().insert(DPOP_NONCE, nonce);
        }
        response
    }
}

/// The request's DPoP proof for `endpoint` (a path under the issuer), checked and used up;
/// `None` when the request carries none.
pub async fn proof(
    app: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    target: (&str, &str),
    access_token: Option<&str>,
    nonce_required: bool,
    surface: Surface,
) -> Result<Option<Proof>, Refusal> {
    let proof = checked_proof(
        app,
        tenant,
        headers,
        target,
        access_token,
        nonce_required,
        surface,
    )
    .await?;
    if let Some(proof) = &proof {
        spend(app, tenant, proof, surface).await?;
    }
    Ok(proof)
}

/// Records a checked proof's `jti`: refused if it was seen before (§11.1: a proof is good for
/// one request; its jti is unique per key), or `temporarily_unavailable` while the tenant's
/// replay cache is full of proofs still acceptable.
pub async fn spend(
    app: &AppState,
    tenant: &Tenant,
    proof: &Proof,
    surface: Surface,
) -> Result<(), OAuthError> {
    let once = format!("dpop\n{}\n{}", proof.jkt, proof.jti);
    let now = app.clock.now();
    match app
        .store
        .use_once(&once, tenant.id(), proof.replayable_until, now)
        .await?
    {
        UseOnce::First => Ok(()),
        UseOnce::Seen => Err(surface.invalid("the proof was used before")),
        UseOnce::Full => Err(replay_cache_full(tenant)),
    }
}

/// Refusing a new one-time value is the price of never forgetting a live one: forgetting
/// would make a captured proof or assertion replayable.
pub fn replay_cache_full(tenant: &Tenant) -> OAuthError {
    tracing::warn!(
        tenant = tenant.id(),
        "replay cache full of live proofs and assertions; refusing new ones until some expire"
    );
    OAuthError::TemporarilyUnavailable
}

/// The request's DPoP proof, checked but not yet recorded: the caller [`spend`]s it once the
/// rest of the request holds.
async fn checked_proof(
    app: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    (method, endpoint): (&str, &str),
    access_token: Option<&str>,
    nonce_required: bool,
    surface: Surface,
) -> Result<Option<Proof>, Refusal> {
    let mut values = headers.get_all(DPOP).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return match headers.contains_key(DPOP) {
            true => Err(surface.invalid("more than one DPoP header").into()),
            false => Ok(None),
        };
    };
    let value = value
        .to_str()
        .map_err(|_| surface.invalid("not a signed JWT"))?;
    let now = app.clock.now();
    let uri = tenant.endpoint(endpoint);
    let target = ProofTarget {
        method,
        uri: &uri,
        now,
        access_token,
        algs: client_signing_algs(tenant.fapi2()),
    };
    let proof = dpop::check_proof(value, target).map_err(|refused| surface.invalid(refused.0))?;
    if nonce_required {
        let current = proof
            .nonce
            .as_deref()
            .is_some_and(|nonce| dpop::nonce_is_current(nonce, tenant.keys(), tenant.id(), now));
        if !current {
            let signer = tenant
                .signer(now)
                .ok_or(OAuthError::TemporarilyUnavailable)?;
            let nonce = dpop::nonce(signer, tenant.id(), now);
            return Err(Refusal {
                error: surface.use_nonce(),
                nonce: HeaderValue::from_str(&nonce).ok(),
            });
        }
    }
    Ok(Some(proof))
}

/// The DPoP proof of a client's POST to `endpoint` (token or PAR), with the nonce the client
/// must use if it must; checked, not yet spent.
pub async fn client_proof(
    app: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    endpoint: &str,
    client: &Client,
) -> Result<Option<Proof>, Refusal> {
    let nonce_required = client.config.require_dpop_nonce;
    let target = ("POST", endpoint);
    checked_proof(
        app,
        tenant,
        headers,
        target,
        None,
        nonce_required,
        Surface::Token,
    )
    .await
}

/// How an access token was presented (RFC 6750 §2.1, RFC 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'h> {
    Bearer(&'h str),
    Dpop(&'h str),
}

impl<'h> Presented<'h> {
    pub fn of(headers: &'h HeaderMap) -> Option<Self> {
        authorization(headers, "DPoP")
            .map(Self::Dpop)
            .or_else(|| authorization(headers, "Bearer").map(Self::Bearer))
    }

    pub fn token(self) -> &'h str {
        match self {
            Self::Bearer(token) | Self::Dpop(token) => token,
        }
    }
}

/// RFC 9449 §7: a bound token is good only with the DPoP scheme and a proof by its key (with
/// `ath`); an unbound one only as a bearer token.
pub async fn check_presentation(
    app: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    (method, endpoint): (&str, &str),
    presented: Presented<'_>,
    claims: &AccessClaims,
) -> Result<(), Refusal> {
    let bound = claims.cnf.as_ref().map(|cnf| cnf.jkt.as_str());
    let token = match (presented, bound) {
        (Presented::Bearer(_), None) => return Ok(()),
        (Presented::Dpop(token), Some(_)) => token,
        _ => return Err(OAuthError::InvalidDpopToken.into()),
    };
    let nonce_required = tenant
        .client(&claims.client_id)
        .is_some_and(|client| client.config.require_dpop_nonce);
    let target = (method, endpoint);
    let surface = Surface::Resource;
    let proof = proof(
        app,
        tenant,
        headers,
        target,
        Some(token),
        nonce_required,
        surface,
    )
    .await?;
    match proof {
        Some(proof) if Some(proof.jkt.as_str()) == bound => Ok(()),
        Some(_) => Err(surface.invalid("the proof's key is not the token's").into()),
        None => Err(surface.invalid("no DPoP proof").into()),
    }
}
