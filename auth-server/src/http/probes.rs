//! Liveness, readiness and metrics. Readiness means a valid configuration is being served;
//! liveness must never depend on the configuration, or a bad file would restart healthy pods.

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

pub async fn metrics(State((app, _)): State<(AppState, Router)>) -> impl IntoResponse {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], app.metrics.encode())
}
