//! Liveness, readiness and metrics. Readiness means a valid configuration is being served;
//! liveness must never depend on the configuration, or a bad file would restart healthy pods.
//! Neither depends on the grant store: client_credentials, discovery and JWKS are served
//! without it, so a database outage must not pull every pod out of its Service. The store's
//! own health is `/readyz/store`, for dashboards and alerts.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::AppState;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State((app, _)): State<(AppState, Router)>) -> impl IntoResponse {
    if app.config.is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "no valid configuration loaded",
        )
    }
}

/// Within the probe's default one-second timeout, even when the database hangs.
const STORE_CHECK_TIMEOUT: Duration = Duration::from_millis(800);

pub async fn store_ready(State((app, _)): State<(AppState, Router)>) -> impl IntoResponse {
    let answered = tokio::time::timeout(STORE_CHECK_TIMEOUT, app.store.ping()).await;
    match answered {
        Ok(Ok(())) => (StatusCode::OK, "store ready"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable"),
    }
}

pub async fn metrics(State((app, _)): State<(AppState, Router)>) -> impl IntoResponse {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], app.metrics.encode())
}
