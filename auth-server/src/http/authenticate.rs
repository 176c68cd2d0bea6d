//! Who is calling the token, PAR, introspection and revocation endpoints: a client secret or
//! none (checked by [`Credentials::authenticate`]), or a `private_key_jwt` assertion (RFC 7523),
//! checked against the client's inline keys or those its `jwks_uri` serves, and used once
//! through the store. Its audience may be the tenant's issuer, its public token endpoint URL
//! or the public URL of the endpoint it was sent to (RFC 9126 §2 for PAR; FAPI 2.0 Security
//! Profile §5.3.2.1 and its note), never a URL built from the request's `Host`.

use std::sync::Arc;

use axum::http::HeaderMap;

use super::AppState;
use crate::oauth::client_assertion::{asserted_kid, check_assertion};
use crate::oauth::client_key::client_signing_algs;
use crate::oauth::{Credentials, OAuthError, Params};
use crate::store::UseOnce;
use crate::tenant::{Client, Tenant};

/// The registered client the request to `endpoint` (a path under the issuer) proves it is, or
/// `invalid_client`.
pub async fn client<'t>(
    app: &AppState,
    tenant: &'t Tenant,
    (headers, endpoint): (&HeaderMap, &str),
    params: &Params,
) -> Result<&'t Client, OAuthError> {
    let credentials = Credentials::from_request(headers, params)?;
    let Some(assertion) = credentials.assertion() else {
        return credentials.authenticate(tenant);
    };
    let failed = OAuthError::InvalidClient { basic: false };
    let client_id = credentials.client_id.as_str();
    let client = tenant
        .client(client_id)
        .filter(|client| client.config.uses_private_key_jwt())
        .ok_or(failed)?;
    let now = app.clock.now();
    let keys = match &client.remote_jwks {
        Some(remote) => {
            let kid = asserted_kid(assertion);
            let fetched = remote.keys(now, kid.as_deref(), (tenant.id(), client_id));
            fetched.await
        }
        None => Arc::new(client.jwks.clone()),
    };
    let audiences = [
        tenant.issuer(),
        &tenant.endpoint("/token"),
        &tenant.endpoint(endpoint),
    ];
    let expected = (&audiences[..], client_signing_algs(tenant.fapi2()));
    let asserted = check_assertion(assertion, client_id, &keys, expected, now).map_err(|why| {
        tracing::debug!(tenant = tenant.id(), client_id, %why, "client authentication failed");
        failed
    })?;
    // RFC 7523 §3 item 7: an assertion is good once.
    let once = format!("client-assertion\n{client_id}\n{}", asserted.jti);
    match app
        .store
        .use_once(&once, tenant.id(), asserted.expires_at, now)
        .await?
    {
        UseOnce::First => Ok(client),
        UseOnce::Seen => {
            tracing::debug!(tenant = tenant.id(), client_id, "client assertion replayed");
            Err(failed)
        }
        UseOnce::Full => Err(super::dpop::replay_cache_full(tenant)),
    }
}
