//! Pushed authorization requests (RFC 9126): a client posts its authorization request here,
//! authenticated as at the token endpoint, and gets a `request_uri` to send the browser to
//! authorize with instead of the parameters.
//!
//! The request is validated as authorize would validate it, so a bad one is refused to the
//! client, never shown to a user. It is kept in the grant store under the digest of its
//! handle, for a minute, and consumed by the first authorize that uses it. The client secret
//! is never kept.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::authenticate;
use super::dpop::{self, Refusal};
use super::{AppState, CurrentTenant};
use crate::issue::random_token;
use crate::oauth::{AuthorizeFailure, AuthorizeRequest, OAuthError, Params};
use crate::store::{MAX_STORED_REQUEST, PushedRequest};
use crate::tenant::Tenant;

/// RFC 9126 §2.2: the `request_uri` is a URN of this form.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// §2.2: short-lived; a minute covers a redirect to authorize.
const PUSHED_SECONDS: i64 = 60;

pub async fn push(
    State(app): State<AppState>,
    Extension(CurrentTenant(tenant)): Extension<CurrentTenant>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let (app, tenant, headers, body) = (&app, &*tenant, &headers, &body[..]);
    let params = Params::from_form(body)?;
    let client = authenticate::client(app, tenant, (headers, "/par"), &params).await?;
    if params.get("request_uri").is_some() {
        return Err(OAuthError::InvalidRequest("request_uri cannot be pushed").into());
    }
    // RFC 9449 §10.1: a proof at the push binds the code to its key, as dpop_jkt would.
    let proof = dpop::client_proof(app, tenant, headers, "/par", client).await?;
    let proved = proof.as_ref().map(|proof| proof.jkt.clone());
    if let (Some(proved), Some(named)) = (&proved, params.get("dpop_jkt"))
        && proved != named
    {
        return Err(OAuthError::InvalidDpopProof("dpop_jkt is not the proof's key").into());
    }
    // What authorize will see: the pushed parameters, named for the authenticated client,
    // without the credentials that authenticated it.
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(name, _)| !matches!(*name, "client_id" | "client_secret"))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    pairs.push(("client_id".to_owned(), client.config.client_id.clone()));
    if let Some(jkt) = proved.filter(|_| params.get("dpop_jkt").is_none()) {
        pairs.push(("dpop_jkt".to_owned(), jkt));
    }
    let now = app.clock.now();
    let request = Params::from_pairs(pairs.clone())?;
    AuthorizeRequest::validate(tenant, &request, now, true).map_err(|failure| match failure {
        AuthorizeFailure::Page(why) => OAuthError::InvalidRequest(why),
        AuthorizeFailure::Redirect { error, .. } => error,
    })?;
    if let Some(proof) = &proof {
        dpop::spend(app, tenant, proof, dpop::Surface::Token).await?;
    }
    let pushed = PushedRequest {
        tenant: tenant.id().to_owned(),
        client_id: client.config.client_id.clone(),
        params: pairs,
        expires_at: now + PUSHED_SECONDS,
    };
    if serde_json::to_vec(&pushed).map_or(usize::MAX, |json| json.len()) > MAX_STORED_REQUEST {
        return Err(OAuthError::InvalidRequest("the authorization request is too large").into());
    }
    let handle = random_token();
    app.store
        .save_pushed(&handle, &pushed)
        .await
        .map_err(OAuthError::from)?;
    let body = json!({
        "request_uri": format!("{REQUEST_URI_PREFIX}{handle}"),
        "expires_in": PUSHED_SECONDS,
    });
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The parameters pushed under `handle` (the `request_uri` after [`REQUEST_URI_PREFIX`]),
/// consumed (§4: they replace every other parameter but `client_id`, which must name the
/// pushing client); or what the error page says.
pub async fn take(
    app: &AppState,
    tenant: &Tenant,
    params: &Params,
    handle: &str,
) -> Result<Result<Params, &'static str>, crate::store::StoreUnavailable> {
    let Some(pushed) = app.store.take_pushed(handle, app.clock.now()).await? else {
        return Ok(Err("request_uri is unknown, expired or already used"));
    };
    if pushed.tenant != tenant.id() || params.get("client_id") != Some(pushed.client_id.as_str()) {
        return Ok(Err("request_uri was pushed by another client"));
    }
    Ok(Params::from_pairs(pushed.params).map_err(|_| "the pushed request is malformed"))
}
