//! `meridian-operator`: wires the operator together.
//!
//! `meridian-operator run` reconciles; `meridian-operator crd` prints the CRDs (`--out-dir DIR`
//! writes one file per CRD).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use meridian_operator::admin::{self, AdminState};
use meridian_operator::leader::{Leadership, LeaseSettings};
use meridian_operator::metrics::Metrics;
use meridian_operator::runtime::{run, stopped};
use meridian_operator::settings::Settings;
use tokio::sync::watch;

/// See `Cargo.toml`: memory freed after a region's pass goes back to be reused (and to the
/// system), instead of staying with the thread that freed it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    version,
    about = "Reconciles Meridian Tenants and AuthRegions from a hub into region clusters"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinitions.
    Crd {
        /// Write one file per CRD into this directory instead of printing.
        #[arg(long)]
        out_dir: Option<std::path::PathBuf>,
    },
    /// Run the controllers against the hub cluster of the ambient kubeconfig or service account.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The operator's namespace: Secrets are read and key rings kept only here.
    #[arg(long, env = "MERIDIAN_NAMESPACE", default_value = "meridian-system")]
    namespace: String,
    /// Base URL of derived issuers (`<base>/t/<tenant>`).
    #[arg(
        long,
        env = "MERIDIAN_ISSUER_BASE_URL",
        default_value = "https://auth.example.com"
    )]
    issuer_base_url: String,
    /// How often every region is re-read and repaired, e.g. 60s.
    #[arg(long, env = "MERIDIAN_RESYNC", default_value = "60s", value_parser = duration)]
    resync: Duration,
    /// Cache-Control max-age of the auth-servers' JWKS.
    #[arg(long, env = "MERIDIAN_JWKS_MAX_AGE", default_value = "5m", value_parser = duration)]
    jwks_max_age: Duration,
    /// How long a region may go without serving a tenant's current configuration before the
    /// Tenant is Degraded (NotServed).
    #[arg(long, env = "MERIDIAN_SERVED_WITHIN", default_value = "2m", value_parser = duration)]
    served_within: Duration,
    /// The longest a change written to a region takes to reach its auth-servers: the nodes'
    /// kubelet syncFrequency plus half of it (its jitter). Key activation is decided this long
    /// ahead, so a postponement reaches every region before the key would sign.
    #[arg(long, env = "MERIDIAN_PROPAGATION", default_value = "90s", value_parser = duration)]
    propagation: Duration,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "MERIDIAN_ADMIN_ADDR", default_value = "0.0.0.0:8080")]
    admin_addr: SocketAddr,
    /// Take a Lease before writing, so only one replica reconciles.
    #[arg(long, env = "MERIDIAN_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    leader_elect: bool,
    /// Name of the leader election Lease in the operator's namespace.
    #[arg(long, env = "MERIDIAN_LEASE_NAME", default_value = "meridian-operator")]
    lease_name: String,
    #[arg(long, env = "MERIDIAN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

fn duration(value: &str) -> Result<Duration, String> {
    meridian_operator::duration::parse("duration", value).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Crd { out_dir: None } => print!(
            "{}",
            meridian_operator::api::crds_yaml().context("rendering the CRDs")?
        ),
        Command::Crd { out_dir: Some(dir) } => {
            for (name, yaml) in meridian_operator::api::crd_files().context("rendering the CRDs")? {
                let path = dir.join(name);
                std::fs::write(&path, yaml)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
        }
        Command::Run(args) => run_operator(args).await?,
    }
    Ok(())
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,kube=warn".into());
    // Colour codes only for a person at a terminal, never into a log file or a collector.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

async fn run_operator(args: RunArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let hub = kube::Client::try_default()
        .await
        .context("connecting to the hub cluster")?;
    let settings = Settings {
        namespace: args.namespace.clone(),
        issuer_base_url: args.issuer_base_url,
        resync: args.resync,
        jwks_max_age: args.jwks_max_age,
        served_within: args.served_within,
        propagation: args.propagation,
    };
    let (stop, shutdown) = watch::channel(false);
    let metrics = Metrics::default();
    let ready = Arc::new(AtomicBool::new(false));
    let admin_state = AdminState {
        ready: ready.clone(),
        metrics: metrics.clone(),
    };
    let listener = tokio::net::TcpListener::bind(args.admin_addr)
        .await
        .with_context(|| format!("binding the admin server to {}", args.admin_addr))?;
    let admin = tokio::spawn(admin::serve(
        listener,
        admin_state,
        stopped(shutdown.clone()),
    ));
    tokio::spawn(signal_stop(stop.clone()));

    if args.leader_elect {
        // A standby waiting for the Lease is healthy and ready for its role; the leader turns
        // ready again only once its caches are synced.
        ready.store(true, std::sync::atomic::Ordering::Relaxed);
        let identity = std::env::var("POD_NAME")
            .unwrap_or_else(|_| format!("meridian-operator-{}", std::process::id()));
        let lease = LeaseSettings {
            namespace: args.namespace,
            name: args.lease_name,
            identity,
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        };
        let leadership = Leadership::new(hub.clone(), lease);
        tokio::select! {
            acquired = leadership.acquire() => acquired.context("acquiring the leader Lease")?,
            () = stopped(shutdown.clone()) => return Ok(()),
        }
        ready.store(false, std::sync::atomic::Ordering::Relaxed);
        // Losing the lease stops every write: the process exits and restarts as a candidate.
        let stop_on_loss = stop.clone();
        tokio::spawn(async move {
            leadership.hold().await;
            let _ = stop_on_loss.send(true);
        });
    }
    run(hub, settings, metrics, ready, shutdown).await;
    let _ = stop.send(true);
    admin
        .await
        .context("admin server task")?
        .context("admin server")?;
    tracing::info!("stopped");
    Ok(())
}

async fn signal_stop(stop: watch::Sender<bool>) {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
    let _ = stop.send(true);
}
