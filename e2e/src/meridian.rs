//! Meridian on the harness's clusters: the CRDs installed in the hub, regions registered
//! through kubeconfig Secrets, examples/ applied at fresh public URLs, and the operator running
//! in-process (the regions' pods: [`crate::region_pods`]). Shared by the end-to-end tests and
//! the local demo, so both set things up one way.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{ObjectMeta, Patch, PatchParams};
use kube::{Api, Client};
use meridian_operator::admin::AdminState;
use meridian_operator::api::{AuthRegion, Tenant};
use meridian_operator::metrics::Metrics;
use meridian_operator::settings::Settings;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Cluster, Clusters, eventually};

/// The operator's namespace in the hub, as examples/ uses it.
pub const OPERATOR_NAMESPACE: &str = "meridian-system";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ sits in the repository")
        .to_path_buf()
}

/// Runs `kubectl` against `cluster`, failing with its stderr.
pub fn kubectl(cluster: &Cluster, args: &[&str]) -> anyhow::Result<String> {
    let output = cluster
        .kubectl()
        .args(args)
        .output()
        .context("running kubectl")?;
    if !output.status.success() {
        bail!(
            "kubectl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Installs the generated CRDs and waits until the API server serves them.
pub fn install_crds(hub: &Cluster) -> anyhow::Result<()> {
    let crds = repo_root().join("crds");
    kubectl(
        hub,
        &[
            "apply",
            "--server-side",
            "-f",
            crds.to_str().expect("utf-8 path"),
        ],
    )?;
    wait_for_crds(hub)
}

/// Waits until the API server serves both Meridian kinds, however the CRDs were installed.
pub fn wait_for_crds(hub: &Cluster) -> anyhow::Result<()> {
    let args = [
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/tenants.meridian.dev",
        "crd/authregions.meridian.dev",
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match kubectl(hub, &args) {
            // kubectl refuses to wait on a CRD whose status the API server has not written yet
            // (`.status.conditions accessor error`) instead of waiting: a loaded machine can
            // get there first, so that one answer means "not yet".
            Err(error)
                if error
                    .to_string()
                    .contains(".status.conditions accessor error")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            other => return other.map(drop),
        }
    }
}

/// Creates the operator namespace and one kubeconfig Secret per region (`<region>-kubeconfig`,
/// key `value`, as examples/ refers to them).
pub async fn register_regions(clusters: &Clusters) -> anyhow::Result<()> {
    let hub = clusters.hub().client();
    ensure_namespace(&hub, OPERATOR_NAMESPACE).await?;
    for region in clusters.regions() {
        put_secret(
            &hub,
            &format!("{}-kubeconfig", region.name()),
            "value",
            region.kubeconfig(),
        )
        .await?;
    }
    Ok(())
}

pub async fn ensure_namespace(client: &Client, name: &str) -> anyhow::Result<()> {
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .patch(
            name,
            &PatchParams::apply("meridian-e2e"),
            &Patch::Apply(&namespace),
        )
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    Ok(())
}

/// Creates or replaces a Secret in the operator namespace.
pub async fn put_secret(hub: &Client, name: &str, key: &str, value: &str) -> anyhow::Result<()> {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(OPERATOR_NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        string_data: Some([(key.to_owned(), value.to_owned())].into()),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(hub.clone(), OPERATOR_NAMESPACE)
        .patch(
            name,
            &PatchParams::apply("meridian-e2e").force(),
            &Patch::Apply(&secret),
        )
        .await
        .with_context(|| format!("writing Secret {name}"))?;
    Ok(())
}

/// `kubectl apply -f examples/` against the hub.
pub fn apply_examples(hub: &Cluster) -> anyhow::Result<()> {
    let examples = repo_root().join("examples");
    kubectl(
        hub,
        &["apply", "-f", examples.to_str().expect("utf-8 path")],
    )?;
    Ok(())
}

/// A hub and two regions with the CRDs installed, the regions registered and examples/ applied:
/// where most end-to-end tests start.
pub async fn clusters_with_examples(options: crate::ClusterOptions) -> anyhow::Result<Clusters> {
    let clusters = Clusters::start(3, options).await?;
    install_crds(clusters.hub())?;
    register_regions(&clusters).await?;
    apply_examples(clusters.hub())?;
    Ok(clusters)
}

/// Points every region's AuthRegion at a fresh loopback public URL, so tests running side by
/// side never share examples/'s fixed ports; returns the URLs by region.
pub async fn free_public_urls(clusters: &Clusters) -> anyhow::Result<BTreeMap<String, String>> {
    let regions = Api::<AuthRegion>::all(clusters.hub().client());
    let mut urls = BTreeMap::new();
    for (region, url) in clusters
        .regions()
        .iter()
        .zip(free_loopback_urls(clusters.regions().len())?)
    {
        let patch = serde_json::json!({"spec": {"publicUrl": url}});
        regions
            .patch(
                region.name(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
            .with_context(|| format!("setting the public URL of AuthRegion {}", region.name()))?;
        urls.insert(region.name().to_owned(), url);
    }
    Ok(urls)
}

/// `count` distinct `http://127.0.0.1:<free port>` URLs, for public URLs of regions.
pub fn free_loopback_urls(count: usize) -> crate::Result<Vec<String>> {
    Ok(crate::ports::free_loopback_ports(count)?
        .into_iter()
        .map(|port| format!("http://127.0.0.1:{port}"))
        .collect())
}

/// The Tenant, once its `Ready` condition is `True` for its current generation.
pub async fn tenant_ready(hub: &Client, name: &str) -> crate::Result<Option<Tenant>> {
    let tenant = Api::<Tenant>::all(hub.clone()).get(name).await?;
    let status = tenant.status.clone().unwrap_or_default();
    let ready = status
        .conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True")
        && status.observed_generation == tenant.metadata.generation;
    Ok(ready.then_some(tenant))
}

/// The operator, running in this process against the hub until stopped or dropped.
pub struct Operator {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    ready: Arc<AtomicBool>,
    pub metrics: Metrics,
    admin: SocketAddr,
}

impl Operator {
    pub fn start(hub: Client, settings: Settings) -> Self {
        let (stop, shutdown) = watch::channel(false);
        let metrics = Metrics::default();
        let ready = Arc::new(AtomicBool::new(false));
        // The admin server as the binary runs it, on a port of its own, so tests read
        // `/metrics` over HTTP the way Prometheus does.
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .and_then(tokio::net::TcpListener::from_std)
            .expect("a loopback port for the admin server");
        let admin = listener.local_addr().expect("the admin server's address");
        let state = AdminState {
            ready: ready.clone(),
            metrics: metrics.clone(),
        };
        tokio::spawn(meridian_operator::admin::serve(
            listener,
            state,
            meridian_operator::runtime::stopped(shutdown.clone()),
        ));
        let task = tokio::spawn(meridian_operator::runtime::run(
            hub,
            settings,
            metrics.clone(),
            ready.clone(),
            shutdown,
        ));
        Self {
            stop,
            task: Some(task),
            ready,
            metrics,
            admin,
        }
    }

    /// The operator's `/metrics`, read over HTTP from its admin server.
    pub async fn scrape_metrics(&self) -> anyhow::Result<String> {
        let url = format!("http://{}/metrics", self.admin);
        let response = reqwest::get(&url).await?.error_for_status()?;
        Ok(response.text().await?)
    }

    /// Settings for tests: the example issuer base, a short resync so drift is repaired
    /// within seconds, and the propagation of the test nodes, whose kubelets sync every
    /// [`crate::node::KUBELET_SYNC_FREQUENCY`] (plus up to half of it) rather than every minute.
    pub fn test_settings(resync: Duration) -> Settings {
        Settings {
            resync,
            issuer_base_url: "http://127.0.0.1:18440".into(),
            propagation: crate::node::KUBELET_SYNC_FREQUENCY * 2,
            ..Settings::default()
        }
    }

    /// Waits until the operator's caches are synced and its controllers run.
    pub async fn ready(&self) -> anyhow::Result<()> {
        let ready = &self.ready;
        eventually("operator ready", Duration::from_secs(30), async || {
            Ok(ready.load(Ordering::Relaxed).then_some(()))
        })
        .await?;
        Ok(())
    }

    /// Stops the controllers after the reconciles in flight.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Operator logs on the test's output (`RUST_LOG` filters; quiet by default).
pub fn init_test_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
