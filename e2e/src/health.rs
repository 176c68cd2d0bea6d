//! Waiting for a freshly started component to answer its health endpoint.
//!
//! Polls the endpoint and the process together: a component that exits while we wait fails
//! at once with its log tail instead of running out the clock.

use std::time::Duration;

use http::{Request, StatusCode};
use hyper_util::{
    client::legacy::{Client as HttpClient, connect::HttpConnector},
    rt::TokioExecutor,
};
use kube::client::{Body, ConfigExt};
use tower::ServiceBuilder;

use crate::{
    error::{Error, Result},
    process::Process,
    wait::eventually,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// A client for probes, with the TLS and credentials of `config` but none of kube's retries or
/// request tracing: each poll is one request, and a refused poll is "not yet", not an error
/// line in the test's log.
pub(crate) fn probe_client(config: kube::Config) -> Result<kube::Client> {
    let mut connector = HttpConnector::new();
    connector.enforce_http(false);
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let https = config.rustls_https_connector_with_connector(connector)?;
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(config.auth_layer()?)
        .map_err(|e: hyper_util::client::legacy::Error| -> BoxError { Box::new(e) })
        .service(HttpClient::builder(TokioExecutor::new()).build(https));
    Ok(kube::Client::new(service, config.default_namespace))
}

/// Waits until `GET path` answers 200 while `process` keeps running.
pub(crate) async fn wait_healthy(
    process: &mut Process,
    probe: &kube::Client,
    path: &str,
    timeout: Duration,
) -> Result<()> {
    let started = tokio::time::Instant::now();
    let mut last_answer = String::from("no answer yet");
    let what = format!("{} {path}", process.spec().component);
    let outcome = eventually(&what, timeout, async || {
        process.check_running()?;
        match get(probe, path).await {
            Ok((StatusCode::OK, _)) => Ok(Some(())),
            Ok((status, body)) => {
                last_answer = format!("{status}: {body}");
                Ok(None)
            }
            Err(e) => {
                last_answer = e.to_string();
                Ok(None)
            }
        }
    })
    .await;
    let spec = process.spec();
    match outcome {
        Ok(()) => {
            let elapsed_ms = started.elapsed().as_millis() as u64;
            tracing::debug!(cluster = %spec.cluster, component = %spec.component, elapsed_ms, "healthy");
            Ok(())
        }
        Err(Error::Timeout { waited, .. }) => Err(spec.failure(format!(
            "not healthy after {waited:.1?}; last answer to {path}: {last_answer}"
        ))),
        Err(other) => Err(other),
    }
}

async fn get(client: &kube::Client, path: &str) -> Result<(StatusCode, String)> {
    let request = Request::get(path)
        .body(Body::empty())
        .expect("a GET of a fixed path is a valid request");
    let response = tokio::time::timeout(ANSWER_TIMEOUT, client.send(request))
        .await
        .map_err(|_| Error::Timeout {
            what: format!("an answer to {path}"),
            waited: ANSWER_TIMEOUT,
        })??;
    let status = response.status();
    let body = response.into_body().collect_bytes().await?;
    Ok((status, String::from_utf8_lossy(&body).trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::tests::shell;

    #[tokio::test]
    async fn a_component_that_exits_is_named_with_its_log_tail() {
        let dir = tempfile::tempdir().unwrap();
        let script = "echo 'listen tcp 127.0.0.1:6443: bind: address already in use' >&2; exit 3";
        let mut process = shell(script, dir.path()).spawn().unwrap();
        // Nothing listens on port 1: the probe is refused until the process is seen to exit.
        let probe = probe_client(kube::Config::new("http://127.0.0.1:1".parse().unwrap())).unwrap();
        let error = wait_healthy(&mut process, &probe, "/readyz", Duration::from_secs(30))
            .await
            .unwrap_err();
        let message = error.to_string();
        assert_eq!(error.reason(), "ComponentFailed");
        assert!(
            message.starts_with("kube-apiserver of cluster hub failed: exited with exit status: 3"),
            "{message}"
        );
        assert!(
            message.contains("bind: address already in use"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_component_that_never_answers_fails_at_the_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let mut process = shell("echo starting; sleep 300", dir.path())
            .spawn()
            .unwrap();
        let probe = probe_client(kube::Config::new("http://127.0.0.1:1".parse().unwrap())).unwrap();
        let error = wait_healthy(&mut process, &probe, "/readyz", Duration::from_millis(500))
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("not healthy after"), "{message}");
        assert!(message.contains("starting"), "{message}");
    }
}
