//! Draining before a stop, so no request is lost when a pod goes away.
//!
//! By the time the process is told to stop (Kubernetes' SIGTERM, after the pre-stop sleep)
//! the pod has left its Service, but clients still hold keep-alive connections to it: the
//! connection tracking of kube-proxy or a load balancer keeps routing an established
//! connection where it went. Closing such an idle connection races with the client's next
//! request on it, which is then lost (HTTP/1.1 gives the client no way to know whether the
//! server read it, so a POST is not retried). While draining, the server keeps accepting and
//! answering, but every response says `Connection: close`: each client's next request is
//! answered on its old connection and the one after opens a new connection, to a pod that is
//! staying. Readiness answers 503 meanwhile, for load balancers that route by health checks
//! rather than by Kubernetes endpoints. Only then does the graceful shutdown close what is
//! left idle.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Whether the server is draining; cheap to clone, shared by every connection.
#[derive(Clone, Default)]
pub struct Drain(Arc<AtomicBool>);

impl Drain {
    pub fn start(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Middleware: while draining, readiness fails and every response closes its connection.
    pub async fn layer(self, request: Request<Body>, next: Next) -> Response {
        if !self.is_draining() {
            return next.run(request).await;
        }
        let mut response = if request.uri().path() == "/readyz" {
            (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response()
        } else {
            next.run(request).await
        };
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    }
}
