//! The operator's admin server: `/healthz` (the process is alive), `/readyz` (caches are
//! synced and this replica either leads or waits as a standby) and `/metrics`.
//!
//! Plain hyper over HTTP/1.1, as kubelet probes and Prometheus speak it: three fixed routes do
//! not need a web framework compiled into the operator. It serves these and nothing else, and
//! never anything a Tenant holds.

use std::convert::Infallible;
use std::io::ErrorKind;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;

use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AdminState {
    pub ready: Arc<AtomicBool>,
    pub metrics: Metrics,
}

const TEXT: &str = "text/plain; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The answer to one admin request. Only GET (and HEAD, whose body hyper leaves out) reach a
/// route; an unknown path is a 404 with no body.
fn respond(state: &AdminState, method: &Method, path: &str) -> Response<String> {
    if !matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return empty(StatusCode::NOT_FOUND);
    }
    if !matches!(*method, Method::GET | Method::HEAD) {
        let mut response = empty(StatusCode::METHOD_NOT_ALLOWED);
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET,HEAD"));
        return response;
    }
    let (status, content_type, body) = match path {
        "/healthz" => (StatusCode::OK, TEXT, "ok".to_owned()),
        "/readyz" if state.ready.load(Ordering::Relaxed) => (StatusCode::OK, TEXT, "ready".into()),
        "/readyz" => (StatusCode::SERVICE_UNAVAILABLE, TEXT, "not ready".into()),
        _ => (StatusCode::OK, OPENMETRICS, state.metrics.encode()),
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn empty(status: StatusCode) -> Response<String> {
    let mut response = Response::new(String::new());
    *response.status_mut() = status;
    response
}

/// Serves the admin endpoints on `listener` until `shutdown` resolves, then lets the requests
/// in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AdminState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(addr = ?listener.local_addr().ok(), "admin server listening");
    let connections = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    wait_after_accept_error(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let state = state.clone();
        let service = service_fn(move |request: Request<hyper::body::Incoming>| {
            let response = respond(&state, request.method(), request.uri().path());
            async move { Ok::<_, Infallible>(response) }
        });
        let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "admin connection ended with an error");
            }
        });
    }
    connections.shutdown().await;
    Ok(())
}

/// A client that hung up before its connection was accepted is its own business; anything
/// else (out of file descriptors, say) is logged and retried after a pause rather than spun on.
async fn wait_after_accept_error(error: std::io::Error) {
    let per_connection = matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    );
    if !per_connection {
        tracing::error!(%error, "admin server cannot accept connections");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> AdminState {
        AdminState {
            ready: Arc::new(AtomicBool::new(true)),
            metrics: Metrics::default(),
        }
    }

    #[test]
    fn probes_answer_get_and_head_in_plain_text() {
        for method in [Method::GET, Method::HEAD] {
            let response = respond(&state(), &method, "/healthz");
            assert_eq!(response.status(), StatusCode::OK, "{method}");
            assert_eq!(response.headers()[CONTENT_TYPE], TEXT);
            assert_eq!(response.body(), "ok");
        }
    }

    #[test]
    fn other_methods_are_refused_with_the_allowed_ones() {
        let response = respond(&state(), &Method::POST, "/readyz");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[ALLOW], "GET,HEAD");
        assert!(response.body().is_empty());
    }

    #[test]
    fn an_unknown_path_is_not_found() {
        let response = respond(&state(), &Method::GET, "/metrics/extra");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(response.body().is_empty());
    }
}
