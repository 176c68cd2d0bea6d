//! OIDC Discovery 1.0 / RFC 8414 metadata and the JWKS (RFC 7517).
//!
//! The JWKS lists exactly the keys whose publish window is open now, public members only;
//! its `max-age` is what the operator's rotation schedule counts on. A private key member must
//! never appear here.

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{AppState, CurrentTenant, JwksMaxAge};

fn metadata(tenant: &CurrentTenant) -> Value {
    let tenant = &tenant.0;
    let scopes: Vec<&str> = tenant.scope_names().collect();
    let client_auth = ["client_secret_basic", "client_secret_post", "none"];
    json!({
        "issuer": tenant.issuer(),
        "authorization_endpoint": tenant.endpoint("/authorize"),
        "token_endpoint": tenant.endpoint("/token"),
        "jwks_uri": tenant.endpoint("/jwks.json"),
        "userinfo_endpoint": tenant.endpoint("/userinfo"),
        "introspection_endpoint": tenant.endpoint("/introspect"),
        "revocation_endpoint": tenant.endpoint("/revoke"),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": tenant.keys().algorithms(),
        "token_endpoint_auth_methods_supported": client_auth,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": client_auth,
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "tenant_id", "region"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    })
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
