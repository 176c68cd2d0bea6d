//! The example API behind the gateway: one instance per region, each answering every request
//! with which instance it is and the identity the gateway verified (the `x-meridian-*`
//! headers), so a test sees where a token's `region` claim sent it.
//!
//! It trusts those headers because only the gateway can reach it and the gateway strips them
//! from every incoming request; it must never be exposed without the gateway in front.

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::extract::Request;
use meridian_routing::gateway::IDENTITY_HEADERS;
use tokio::task::JoinHandle;

/// One regional instance, serving until dropped.
pub struct ExampleApi {
    pub region: String,
    pub url: String,
    task: JoinHandle<()>,
}

impl ExampleApi {
    pub async fn start(region: &str) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let instance = region.to_owned();
        let app = Router::new().fallback(move |request: Request| {
            let instance = instance.clone();
            async move { Json(describe(&instance, &request)) }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            region: region.to_owned(),
            url,
            task,
        })
    }
}

impl Drop for ExampleApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `{"instance": ..., "method": ..., "path": ..., "tenant": ..., "subject": ..., ...}`.
fn describe(instance: &str, request: &Request) -> serde_json::Value {
    let mut body = serde_json::json!({
        "instance": instance,
        "method": request.method().as_str(),
        "path": request.uri().path(),
    });
    for (header, _) in IDENTITY_HEADERS {
        let value = request
            .headers()
            .get(header)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        body[header.trim_start_matches("x-meridian-")] = value.into();
    }
    body
}
