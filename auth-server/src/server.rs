//! Starting the server: load the configuration, open and migrate the store, watch both, serve HTTP until
//! told to stop. Used by the binary and by integration tests alike, so it must never read
//! flags, environment or the wall clock itself: all of that arrives in [`ServerOptions`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::middleware::from_fn;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::backchannel::{Backchannel, DeliveryPolicy};
use crate::client_address::TrustedProxies;
use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigHandle, DirWatch};
use crate::drain::Drain;
use crate::http::{AppState, router};
use crate::metrics::Metrics;
use crate::password::{DEFAULT_MEMORY_LIMIT, PasswordPool};
use crate::store::StoreChoice;
use crate::store_health;
use crate::throttle::{LoginThrottle, ThrottlePolicy};

pub struct ServerOptions {
    pub config_dir: PathBuf,
    pub listen: SocketAddr,
    /// How often the configuration directory is checked for a swap.
    pub poll_interval: Duration,
    pub clock: Arc<dyn Clock>,
    pub throttle: ThrottlePolicy,
    pub store: StoreChoice,
    /// The process's memory limit in bytes; password checks get what the rest leaves.
    pub memory_limit: u64,
    /// Peers whose `Forwarded` / `X-Forwarded-For` headers name the client.
    pub trusted_proxies: TrustedProxies,
    /// Where `/metrics` is served (with the probes again); `None` serves no metrics.
    pub admin_listen: Option<SocketAddr>,
    /// How often expired grants are deleted.
    pub sweep_interval: Duration,
    /// How back-channel logout tokens are delivered.
    pub backchannel: DeliveryPolicy,
    /// How long SIGTERM's drain answers with `Connection: close` before the server stops.
    pub drain_period: Duration,
}

/// Envoy's default drain time for an HTTP connection manager: long enough for every client
/// that is active at all to send one more request; with the pre-stop sleep the operator
/// renders, well inside Kubernetes' default 30 s termination grace period.
pub const DEFAULT_DRAIN_PERIOD: Duration = Duration::from_secs(5);

impl ServerOptions {
    pub fn new(config_dir: impl Into<PathBuf>, listen: SocketAddr) -> Self {
        Self {
            config_dir: config_dir.into(),
            listen,
            poll_interval: Duration::from_secs(1),
            clock: Arc::new(SystemClock),
            throttle: ThrottlePolicy::default(),
            store: StoreChoice::Memory,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            trusted_proxies: TrustedProxies::default(),
            admin_listen: None,
            sweep_interval: Duration::from_secs(60),
            backchannel: DeliveryPolicy::default(),
            drain_period: DEFAULT_DRAIN_PERIOD,
        }
    }
}

/// A server accepting connections; dropping it does not stop it, [`Self::shutdown`] does.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// The admin listener's address, when one was asked for.
    pub admin_addr: Option<SocketAddr>,
    pub config: ConfigHandle,
    drain: Drain,
    drain_period: Duration,
    stop: oneshot::Sender<()>,
    serve: JoinHandle<std::io::Result<()>>,
    background: Vec<JoinHandle<()>>,
}

impl RunningServer {
    /// Stops accepting, lets in-flight requests finish, and ends the background tasks.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        let served = self.serve.await.unwrap_or(Ok(()));
        self.background.iter().for_each(JoinHandle::abort);
        served
    }

    /// From now on every response closes its connection and readiness fails; see
    /// [`crate::drain`]. The server still accepts and answers until [`Self::shutdown`].
    pub fn begin_drain(&self) {
        self.drain.start();
    }

    /// Serves until the process receives SIGTERM, then drains for the drain period (a second
    /// signal cuts it short) and stops; Ctrl-C, a person at a terminal, stops at once.
    pub async fn run_until_signal(self) -> std::io::Result<()> {
        if stop_signal().await == StopSignal::Terminate && !self.drain_period.is_zero() {
            tracing::info!(period = ?self.drain_period, "draining: closing connections after their next response");
            self.begin_drain();
            tokio::select! {
                () = tokio::time::sleep(self.drain_period) => {},
                _ = stop_signal() => {},
            }
        }
        tracing::info!("shutting down");
        self.shutdown().await
    }
}

pub async fn start(options: ServerOptions) -> std::io::Result<RunningServer> {
    let config = ConfigHandle::default();
    // Load once before accepting so a valid directory is ready on the first request.
    let (first, dir) = (config.clone(), options.config_dir.clone());
    let watch = tokio::task::spawn_blocking(move || DirWatch::load(first, dir))
        .await
        .map_err(std::io::Error::other)?;
    let opened = options.store.open().map_err(std::io::Error::other)?;
    store_health::migrate_at_start(&opened)
        .await
        .map_err(std::io::Error::other)?;
    let metrics = Arc::new(Metrics::default());
    let state = AppState {
        config: config.clone(),
        store: opened.shared(),
        clock: options.clock.clone(),
        metrics: metrics.clone(),
        throttle: LoginThrottle::new(options.throttle),
        passwords: PasswordPool::for_memory_limit(options.memory_limit),
        trusted_proxies: Arc::new(options.trusted_proxies.clone()),
        backchannel: Backchannel::new(options.backchannel),
    };
    let listener = TcpListener::bind(options.listen).await?;
    let addr = listener.local_addr()?;
    let admin = match options.admin_listen {
        Some(listen) => Some(TcpListener::bind(listen).await?),
        None => None,
    };
    let admin_addr = admin.as_ref().map(TcpListener::local_addr).transpose()?;
    let admin_router = crate::http::admin_router(state.clone());
    let watcher = tokio::spawn(watch.run(options.poll_interval));
    let health = tokio::spawn(store_health::watch(
        opened,
        metrics,
        options.clock,
        options.sweep_interval,
    ));
    let (stop, stopped) = oneshot::channel::<()>();
    let (admin_stop, admin_stopped) = tokio::sync::watch::channel(false);
    let drain = Drain::default();
    let draining = drain.clone();
    let app = router(state)
        .layer(from_fn(move |request, next| {
            draining.clone().layer(request, next)
        }))
        .into_make_service_with_connect_info::<SocketAddr>();
    let draining = drain.clone();
    let admin_router = admin_router.layer(from_fn(move |request, next| {
        draining.clone().layer(request, next)
    }));
    // Small responses on keep-alive connections: Nagle's algorithm would only add delay.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let serve = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await;
        let _ = admin_stop.send(true);
        served
    });
    let mut background = vec![watcher, health];
    if let Some(admin) = admin {
        let mut stopped = admin_stopped;
        background.push(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            let served = axum::serve(admin, admin_router).with_graceful_shutdown(shutdown);
            if let Err(error) = served.await {
                tracing::warn!(%error, "admin listener stopped");
            }
        }));
    }
    tracing::info!(%addr, admin = ?admin_addr, store = ?options.store, "listening");
    Ok(RunningServer {
        addr,
        admin_addr,
        config,
        drain,
        drain_period: options.drain_period,
        stop,
        serve,
        background,
    })
}

#[derive(PartialEq, Eq)]
enum StopSignal {
    Interrupt,
    Terminate,
}

async fn stop_signal() -> StopSignal {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => StopSignal::Interrupt,
        () = terminate => StopSignal::Terminate,
    }
}
