//! The admin server over real HTTP: probes answer, and metrics are in the Prometheus text
//! format that a scraper reads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use meridian_operator::admin::{AdminState, serve};
use meridian_operator::metrics::Metrics;

#[tokio::test]
async fn probes_follow_readiness_and_metrics_are_scrapeable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let ready = Arc::new(AtomicBool::new(false));
    let metrics = Metrics::default();
    metrics.start("region", "eu-west").finish(None);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        AdminState {
            ready: ready.clone(),
            metrics,
        },
        async {
            let _ = stopped.await;
        },
    ));

    let get = |path: &str| reqwest::get(format!("{base}{path}"));
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 503);
    ready.store(true, Ordering::Relaxed);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    let body = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        body.contains(
            r#"meridian_operator_reconciles_total{controller="region",region="eu-west"} 1"#
        ),
        "{body}"
    );
    assert!(
        body.trim_end().ends_with("# EOF"),
        "OpenMetrics exposition ends with # EOF"
    );

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
