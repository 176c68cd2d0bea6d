//! CORS (WHATWG Fetch §3.2) for the endpoints a browser app calls: token, pushed
//! authorization requests, userinfo, revocation, introspection, discovery and JWKS. Never on authorize or login: those are
//! navigations, and a page of another origin must not read a login form or its answer.
//!
//! An answer is readable from an origin only if the client the request named registered it
//! (see [`crate::oauth::client_origins`]); answers that name no client (discovery, JWKS, a
//! preflight, which carries no body) from any origin some client of the tenant registered.
//! Credentials (cookies) are never allowed across origins: these endpoints use none.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::oauth::{Credentials, Params};
use crate::tenant::Tenant;

/// The largest request body read to find the client named (axum's own default limit).
const MAX_BODY: usize = 2 * 1024 * 1024;
/// How long a browser may cache a preflight's answer.
const PREFLIGHT_MAX_AGE: &str = "600";
const ALLOWED_HEADERS: &str = "authorization, content-type, dpop";
/// What a page may read beyond the CORS-safelisted headers: the bearer or DPoP challenge and
/// the DPoP nonce to use next (RFC 9449 §8).
const EXPOSED_HEADERS: &str = "www-authenticate, dpop-nonce";

/// The endpoints that answer browsers of other origins, by their metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// Discovery and JWKS: public documents, read with GET.
    Metadata,
    /// Token, pushed authorization requests, revocation and introspection: POST only.
    ClientPost,
    /// Userinfo: GET or POST (OIDC Core §5.3.1).
    Userinfo,
}

impl Surface {
    pub fn of(endpoint: &str) -> Option<Self> {
        match endpoint {
            "discovery" | "jwks" => Some(Self::Metadata),
            "token" | "par" | "revoke" | "introspect" => Some(Self::ClientPost),
            "userinfo" => Some(Self::Userinfo),
            _ => None,
        }
    }

    fn methods(self) -> &'static str {
        match self {
            Self::Metadata => "GET",
            Self::ClientPost => "POST",
            Self::Userinfo => "GET, POST",
        }
    }
}

/// Set on a response by a handler: the client whose registered origins decide who may read it.
#[derive(Debug, Clone)]
pub struct NamedClient(pub String);

impl NamedClient {
    /// The client a token, revocation or introspection request names (Basic user or
    /// `client_id`), authenticated or not: a failed attempt's error is that client's to read.
    pub fn of_request(headers: &HeaderMap, body: &[u8]) -> Option<Self> {
        let params = Params::from_form(body).ok()?;
        let credentials = Credentials::from_request(headers, &params).ok()?;
        Some(Self(credentials.client_id))
    }

    /// Middleware for the endpoints where clients authenticate (token, PAR, revocation,
    /// introspection): marks each answer with the client its request names.
    pub async fn layer(request: Request, next: Next) -> Response {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
            return StatusCode::PAYLOAD_TOO_LARGE.into_response();
        };
        let named = Self::of_request(&parts.headers, &bytes);
        let response = next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
        Self::mark(named, response)
    }

    /// Marks `response` as answering this client, if one was named.
    pub fn mark(named: Option<Self>, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        if let Some(named) = named {
            response.extensions_mut().insert(named);
        }
        response
    }
}

/// The answer to a CORS preflight (an OPTIONS with `Origin` and
/// `Access-Control-Request-Method`), or `None` when the request is not one.
pub fn preflight(
    tenant: &Tenant,
    surface: Surface,
    method: &Method,
    headers: &HeaderMap,
) -> Option<Response> {
    if method != Method::OPTIONS || !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        return None;
    }
    let origin = headers.get(header::ORIGIN)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let out = response.headers_mut();
    out.insert(header::VARY, HeaderValue::from_static("origin"));
    if origin.to_str().is_ok_and(|o| tenant.knows_origin(o)) {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        out.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(surface.methods()),
        );
        out.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOWED_HEADERS),
        );
        out.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(PREFLIGHT_MAX_AGE),
        );
    }
    Some(response)
}

/// Adds the CORS headers an answer of a CORS endpoint earns for the request's `Origin`.
/// Always `Vary: Origin`, so a shared cache never hands one origin's answer to another.
pub fn decorate(response: &mut Response, tenant: &Tenant, origin: Option<&HeaderValue>) {
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("origin"));
    let Some(origin) = origin else { return };
    let Ok(value) = origin.to_str() else { return };
    let allowed = match response.extensions().get::<NamedClient>() {
        Some(NamedClient(id)) => tenant.client(id).is_some_and(|c| c.allows_origin(value)),
        None => tenant.knows_origin(value),
    };
    if allowed {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED_HEADERS),
        );
    }
}
