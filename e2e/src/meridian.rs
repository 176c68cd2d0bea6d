//! Meridian on the harness's clusters: the CRDs installed in the hub, regions registered
//! through kubeconfig Secrets, examples/ applied, and the operator running in-process.
//! Shared by the end-to-end tests and the local demo, so both set things up one way.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{ObjectMeta, Patch, PatchParams};
use kube::{Api, Client};
use meridian_operator::api::Tenant;
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
    kubectl(
        hub,
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/tenants.meridian.dev",
            "crd/authregions.meridian.dev",
        ],
    )?;
    Ok(())
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
}

impl Operator {
    pub fn start(hub: Client, settings: Settings) -> Self {
        let (stop, shutdown) = watch::channel(false);
        let metrics = Metrics::default();
        let ready = Arc::new(AtomicBool::new(false));
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
        }
    }

    /// Settings for tests: the example issuer base and a short resync so drift is repaired
    /// within seconds.
    pub fn test_settings(resync: Duration) -> Settings {
        Settings {
            resync,
            issuer_base_url: "http://127.0.0.1:18440".into(),
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
