//! The HTTP edge: probes at fixed paths and every tenant endpoint under its issuer's path on
//! the public listener; metrics and probes on the admin listener.
//!
//! Handlers translate between HTTP and the pure rules in [`crate::oauth`]; they hold no
//! policy of their own and never log request bodies, tokens or credentials.

mod authenticate;
mod authorize;
mod cookies;
mod cors;
mod discovery;
mod dpop;
mod login;
mod login_page;
mod logout;
mod par;
mod probes;
mod token;
mod token_exchange;
mod token_info;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::from_fn;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use meridian_contract::REVISION_HEADER;
use tower::ServiceExt;

use self::cors::NamedClient;
use crate::backchannel::Backchannel;
use crate::client_address::TrustedProxies;
use crate::clock::Clock;
use crate::config::{ConfigHandle, Route};
use crate::metrics::Metrics;
use crate::oauth::ErrorCode;
use crate::password::PasswordPool;
use crate::store::Store;
use crate::tenant::Tenant;
use crate::throttle::LoginThrottle;

/// Everything a handler may use.
#[derive(Clone)]
pub struct AppState {
    pub config: ConfigHandle,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub throttle: LoginThrottle,
    /// Every login's password check, within the memory budget.
    pub passwords: Arc<PasswordPool>,
    /// Whose forwarding headers name the client, for the throttle.
    pub trusted_proxies: Arc<TrustedProxies>,
    /// Tells relying parties that a session ended.
    pub backchannel: Backchannel,
}

/// The tenant a request was routed to.
#[derive(Clone)]
pub struct CurrentTenant(pub Arc<Tenant>);

/// The TCP peer address; the login handler asks [`TrustedProxies`] whom it forwards for.
#[derive(Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// The JWKS `max-age` of the region, carried to the JWKS handler.
#[derive(Clone, Copy)]
pub struct JwksMaxAge(pub u32);

pub fn router(state: AppState) -> Router {
    let tenant_routes: Router = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::server_metadata),
        )
        .route("/jwks.json", get(discovery::jwks))
        .route(
            "/authorize",
            get(authorize::authorize).post(authorize::authorize),
        )
        .route("/login", post(login::login))
        .route(
            "/logout",
            get(logout::end_session).post(logout::end_session),
        )
        .route(
            "/token",
            post(token::token).layer(from_fn(NamedClient::layer)),
        )
        .route("/par", post(par::push).layer(from_fn(NamedClient::layer)))
        .route(
            "/introspect",
            post(token_info::introspect).layer(from_fn(NamedClient::layer)),
        )
        .route(
            "/revoke",
            post(token_info::revoke).layer(from_fn(NamedClient::layer)),
        )
        .route(
            "/userinfo",
            get(token_info::userinfo).post(token_info::userinfo),
        )
        .with_state(state.clone());
    Router::new()
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/readyz/store", get(probes::store_ready))
        .fallback(dispatch)
        .with_state((state, tenant_routes))
        .layer(axum::middleware::map_response(security_headers))
}

/// On every public response: no MIME sniffing of a JSON or HTML body, and no `Referer` that
/// would carry a login page's or a redirect's URL (with its code or state) to another site.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The admin listener: metrics (tenant ids are labels, so never on the public listener) and
/// the probes again, for a scraper or a sidecar that reaches only this port.
pub fn admin_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(probes::metrics))
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/readyz/store", get(probes::store_ready))
        .with_state((state, Router::new()))
}

/// Routes a request to its tenant by issuer path, then to the endpoint under it.
async fn dispatch(
    State((app, routes)): State<(AppState, Router)>,
    mut request: Request,
) -> Response {
    let Some(snapshot) = app.config.current() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no configuration loaded").into_response();
    };
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let path = request.uri().path();
    let (tenant, rest) = match snapshot.route(host, path) {
        Some(Route::Tenant(tenant, rest)) => (tenant.clone(), rest.to_owned()),
        Some(Route::Metadata(tenant)) => (
            tenant.clone(),
            "/.well-known/oauth-authorization-server".to_owned(),
        ),
        None => return StatusCode::NOT_FOUND.into_response(),
    };
    let endpoint = endpoint_label(&rest);
    let cors = cors::Surface::of(endpoint);
    if let Some(surface) = cors
        && let Some(answer) = cors::preflight(&tenant, surface, request.method(), request.headers())
    {
        return answer;
    }
    let origin = request.headers().get(header::ORIGIN).cloned();
    // Only discovery and JWKS say which revision they serve: nothing on the token path.
    let revision = matches!(endpoint, "discovery" | "jwks")
        .then(|| HeaderValue::from_str(tenant.revision.as_str()).ok())
        .flatten();
    let rewritten = match request.uri().query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest,
    };
    *request.uri_mut() = rewritten
        .parse::<Uri>()
        .unwrap_or_else(|_| Uri::from_static("/"));
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip());
    request
        .extensions_mut()
        .insert(ClientIp(ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))));
    request
        .extensions_mut()
        .insert(CurrentTenant(tenant.clone()));
    request
        .extensions_mut()
        .insert(JwksMaxAge(snapshot.region.jwks_max_age_seconds));
    let started = Instant::now();
    let mut response = routes.oneshot(request.map(Body::new)).await.into_response();
    if cors.is_some() {
        cors::decorate(&mut response, &tenant, origin.as_ref());
    }
    // The public surface the operator reads to learn which configuration this region serves.
    if let Some(revision) = revision {
        response.headers_mut().insert(REVISION_HEADER, revision);
    }
    app.metrics.observe(endpoint, started.elapsed());
    if let Some(ErrorCode(code)) = response.extensions().get::<ErrorCode>() {
        app.metrics.error(code);
    }
    response
}

fn endpoint_label(rest: &str) -> &'static str {
    match rest {
        "/token" => "token",
        "/par" => "par",
        "/authorize" => "authorize",
        "/login" => "login",
        "/logout" => "logout",
        "/introspect" => "introspect",
        "/revoke" => "revoke",
        "/userinfo" => "userinfo",
        "/jwks.json" => "jwks",
        path if path.starts_with("/.well-known/") => "discovery",
        _ => "other",
    }
}
