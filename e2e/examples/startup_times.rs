//! Measures how long the harness takes to bring clusters up with cached binaries:
//! `cargo run -p meridian-e2e --example startup_times [rounds]`.

use std::time::Instant;

use meridian_e2e::{Binaries, ClusterOptions, Clusters};

#[tokio::main]
async fn main() -> Result<(), meridian_e2e::Error> {
    // Per-component readiness lines: RUST_LOG=meridian_e2e=debug.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let located = Instant::now();
    let binaries = tokio::task::spawn_blocking(Binaries::locate)
        .await
        .expect("no panic")?;
    println!(
        "binaries in {} (located in {:.1?})",
        binaries.dir().display(),
        located.elapsed()
    );
    let cases = [
        ("1 cluster", 1, ClusterOptions::default()),
        ("hub + 2 regions", 3, ClusterOptions::default()),
        (
            "hub + 2 regions with controller-manager",
            3,
            ClusterOptions::default().with_controller_manager(),
        ),
    ];
    for round in 1..=rounds {
        for (label, count, options) in &cases {
            let clusters = Clusters::start(*count, options.clone()).await?;
            let startup = clusters.startup_time();
            let restarting = Instant::now();
            let last = clusters.iter().last().expect("at least one cluster");
            last.stop_apiserver().await?;
            last.start_apiserver().await?;
            let restart = restarting.elapsed();
            let stopping = Instant::now();
            drop(clusters);
            println!(
                "round {round}: {label}: ready in {startup:.1?}; one API server stopped and \
                 ready again in {restart:.1?}; all stopped in {:.1?}",
                stopping.elapsed()
            );
        }
    }
    Ok(())
}
