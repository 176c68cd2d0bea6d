//! The endpoint HAProxy sends requests with an unknown kid to. It refetches the JWKS — at most
//! once per [`REFETCH_AT_MOST_EVERY`](super::REFETCH_AT_MOST_EVERY) and one fetch at a time,
//! so a flood of made-up kids costs the issuer one request per window — and answers:
//! 503 with `Retry-After: 1` when the kid is now loaded (HAProxy is taking the new config; the
//! retry verifies), else 401 `invalid_token` as any other unverifiable token.
//!
//! It never verifies or forwards a request: HAProxy does all verification.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::{Keys, REALM, REFETCH_AT_MOST_EVERY};

/// A loopback listener for the endpoint, and its URL for the gateway's config.
pub(super) async fn listen() -> anyhow::Result<(String, TcpListener)> {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    Ok((format!("http://{}", listener.local_addr()?), listener))
}

pub(super) async fn serve(listener: TcpListener, keys: Arc<Keys>) {
    let app = Router::new().fallback(unknown_kid).with_state(keys);
    let _ = axum::serve(listener, app).await;
}

async fn unknown_kid(State(keys): State<Arc<Keys>>, headers: HeaderMap) -> Response {
    let Some(kid) = bearer_kid(&headers) else {
        return refused();
    };
    if keys.knows(&kid) {
        return retry();
    }
    let mut last = keys.last_refetch.lock().await;
    if last.is_some_and(|at| at.elapsed() < REFETCH_AT_MOST_EVERY) {
        drop(last);
        return if keys.knows(&kid) { retry() } else { refused() };
    }
    *last = Some(Instant::now());
    if let Err(error) = keys.fetch_and_load().await {
        tracing::warn!(error = %format!("{error:#}"), "gateway: JWKS refetch for an unknown kid failed");
    }
    drop(last);
    if keys.knows(&kid) {
        tracing::info!(%kid, "gateway: an unknown kid was published meanwhile, now loaded");
        retry()
    } else {
        refused()
    }
}

fn bearer_kid(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?;
    jsonwebtoken::decode_header(token).ok()?.kid
}

fn retry() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::RETRY_AFTER, "1"),
            (header::CONTENT_TYPE, "application/json"),
        ],
        r#"{"error":"temporarily_unavailable","error_description":"the token's key was just loaded; retry"}"#,
    )
        .into_response()
}

fn refused() -> Response {
    let challenge = format!(
        r#"Bearer realm="{REALM}", error="invalid_token", error_description="unknown key""#
    );
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::WWW_AUTHENTICATE, challenge),
            (header::CONTENT_TYPE, "application/json".to_owned()),
        ],
        r#"{"error":"invalid_token","error_description":"unknown key"}"#,
    )
        .into_response()
}
