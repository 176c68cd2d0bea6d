//! OIDC Discovery 1.0 / RFC 8414 metadata and the JWKS (RFC 7517).
//!
//! The metadata says only what the server does: `claims_supported` is every claim a token
//! or userinfo of this tenant can carry, `prompt_values_supported` the prompts it honours.
//! One deviation, on purpose: OIDC Discovery §3 makes RS256 for ID tokens a MUST, but a
//! tenant's ring holds the algorithm its signing policy chose (ES256 by default, EdDSA or
//! RS256), and `id_token_signing_alg_values_supported` lists exactly that. A tenant whose
//! relying parties need RS256 chooses RS256.
//!
//! The JWKS lists exactly the keys whose publish window is open now, public members only;
//! its `max-age` is what the operator's rotation schedule counts on. A private key member must
//! never appear here.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{AppState, CurrentTenant, JwksMaxAge};
use crate::oauth::client_key::client_signing_algs;
use crate::oauth::{HONOURED_PROMPTS, scope_of_claim};
use crate::tenant::Tenant;

fn metadata(tenant: &CurrentTenant) -> Value {
    let tenant = &tenant.0;
    let scopes: Vec<&str> = tenant.scope_names().collect();
    // FAPI 2.0 Security Profile §5.3.3: confidential clients use private_key_jwt only.
    let client_auth: &[&str] = if tenant.fapi2() {
        &["private_key_jwt", "none"]
    } else {
        &[
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
            "none",
        ]
    };
    let introspection_auth = &client_auth[..client_auth.len() - 1];
    let client_algs = client_signing_algs(tenant.fapi2());
    json!({
        "issuer": tenant.issuer(),
        "authorization_endpoint": tenant.endpoint("/authorize"),
        "token_endpoint": tenant.endpoint("/token"),
        "jwks_uri": tenant.endpoint("/jwks.json"),
        "userinfo_endpoint": tenant.endpoint("/userinfo"),
        "introspection_endpoint": tenant.endpoint("/introspect"),
        "revocation_endpoint": tenant.endpoint("/revoke"),
        "end_session_endpoint": tenant.endpoint("/logout"),
        "pushed_authorization_request_endpoint": tenant.endpoint("/par"),
        // For every client under FAPI 2.0; otherwise per client (requirePushedAuthorizationRequests).
        "require_pushed_authorization_requests": tenant.fapi2(),
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code",
            "client_credentials",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": tenant.keys().algorithms(),
        "token_endpoint_auth_methods_supported": client_auth,
        "token_endpoint_auth_signing_alg_values_supported": client_algs,
        "introspection_endpoint_auth_methods_supported": introspection_auth,
        "introspection_endpoint_auth_signing_alg_values_supported": client_algs,
        "revocation_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_signing_alg_values_supported": client_algs,
        "code_challenge_methods_supported": ["S256"],
        "dpop_signing_alg_values_supported": client_algs,
        "prompt_values_supported": HONOURED_PROMPTS,
        "claims_supported": claims_supported(tenant),
        "claims_parameter_supported": false,
        "claim_types_supported": ["normal"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        // OIDC Core §6.2 request objects by reference stay unsupported; a `request_uri` of
        // the pushed authorization request endpoint is RFC 9126's, advertised above.
        "request_uri_parameter_supported": false,
    })
}

/// Meridian's own claims, the tenant's static ones, and the user claims its users have under
/// a scope the tenant offers (OIDC Core §5.4).
fn claims_supported(tenant: &Tenant) -> Vec<&str> {
    let registered = [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "at_hash",
        "azp",
        "sid",
        "tenant_id",
        "region",
    ];
    let offered: BTreeSet<&str> = tenant.scope_names().collect();
    let users = tenant
        .user_claim_names()
        .filter(|claim| offered.contains(scope_of_claim(claim)));
    let statics = tenant.config.claims.keys().map(String::as_str);
    let others: BTreeSet<&str> = statics.chain(users).collect();
    registered.into_iter().chain(others).collect()
}

pub async fn openid_configuration(Extension(tenant): Extension<CurrentTenant>) -> Json<Value> {
    Json(metadata(&tenant))
}

pub async fn server_metadata(Extension(tenant): Extension<CurrentTenant>) -> Json<Value> {
    Json(metadata(&tenant))
}

pub async fn jwks(
    State(app): State<AppState>,
    Extension(tenant): Extension<CurrentTenant>,
    Extension(JwksMaxAge(max_age)): Extension<JwksMaxAge>,
) -> Response {
    let jwks = tenant.0.keys().jwks(app.clock.now());
    let cache = format!("public, max-age={max_age}");
    ([(header::CACHE_CONTROL, cache)], Json(jwks)).into_response()
}
