//! Installing the charts into the harness's clusters and acting as the identities they create.

use std::time::Duration;

use kube::Client;
use meridian_e2e::meridian::{OPERATOR_NAMESPACE, kubectl, wait_for_crds};
use meridian_e2e::{AuditMark, Cluster};

use super::{documents, object_id, operator_chart, path_str, region_chart, succeed};

pub const WAIT: Duration = Duration::from_secs(60);
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// The ServiceAccount both charts create (release `meridian` of the operator chart).
pub const OPERATOR_SA: &str = "meridian-operator";
pub const REGION_NAMESPACE: &str = "meridian-auth";

pub fn operator_user() -> String {
    format!("system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_SA}")
}

pub fn helm(cluster: &Cluster, args: &[&str]) -> anyhow::Result<String> {
    let mut command = cluster.helm()?;
    command.args(args);
    succeed(command)
}

pub fn is_forbidden<T>(result: Result<T, kube::Error>) -> bool {
    matches!(result, Err(kube::Error::Api(status)) if status.code == 403)
}

/// Installs the region chart and returns a kubeconfig carrying a token of its ServiceAccount.
pub async fn install_region(region: &Cluster) -> anyhow::Result<String> {
    helm(
        region,
        &[
            "install",
            "meridian-region",
            path_str(&region_chart()),
            "--namespace",
            OPERATOR_NAMESPACE,
            "--create-namespace",
        ],
    )?;
    let token = region
        .service_account_token(OPERATOR_NAMESPACE, OPERATOR_SA, &[], TOKEN_LIFETIME)
        .await?;
    Ok(region.kubeconfig_with_token(OPERATOR_SA, &token))
}

/// The objects a release installed, as `helm get manifest` lists them.
pub fn release_objects(cluster: &Cluster, release: &str) -> anyhow::Result<Vec<serde_json::Value>> {
    documents(&helm(
        cluster,
        &[
            "get",
            "manifest",
            release,
            "--namespace",
            OPERATOR_NAMESPACE,
        ],
    )?)
}

pub fn still_there(cluster: &Cluster, object: &serde_json::Value) -> anyhow::Result<bool> {
    let (kind, namespace, name) = object_id(object);
    let mut args = vec![
        "get",
        kind.as_str(),
        name.as_str(),
        "--ignore-not-found",
        "-o",
        "name",
    ];
    if let Some(namespace) = namespace.as_deref() {
        args.extend(["--namespace", namespace]);
    }
    Ok(!kubectl(cluster, &args)?.trim().is_empty())
}

/// `helm install meridian charts/meridian` into the hub, waiting until its CRDs are served.
pub fn install_operator_chart(hub: &Cluster, extra: &[&str]) -> anyhow::Result<()> {
    let chart = operator_chart();
    let mut args = vec![
        "install",
        "meridian",
        path_str(&chart),
        "--namespace",
        OPERATOR_NAMESPACE,
        "--create-namespace",
        "--set",
        "operator.issuerBaseUrl=http://127.0.0.1:18440",
    ];
    args.extend(extra);
    helm(hub, &args)?;
    wait_for_crds(hub)
}

/// A hub client that is the chart's ServiceAccount (a TokenRequest token), nothing more.
pub async fn operator_identity(hub: &Cluster) -> anyhow::Result<Client> {
    let token = hub
        .service_account_token(OPERATOR_NAMESPACE, OPERATOR_SA, &[], TOKEN_LIFETIME)
        .await?;
    Ok(hub.client_with_token(&token).await?)
}

/// Fails when `cluster` saw no write of the operator's identity since `mark`, or refused one.
pub fn assert_no_refused_writes(cluster: &Cluster, mark: AuditMark) -> anyhow::Result<()> {
    let user = operator_user();
    let writes = cluster.audit().writes_since(mark)?;
    let ours: Vec<_> = writes.iter().filter(|w| w.user == user).collect();
    assert!(
        !ours.is_empty(),
        "{} saw no write from {user}",
        cluster.name()
    );
    let refused: Vec<_> = ours.iter().filter(|w| w.code == Some(403)).collect();
    assert!(
        refused.is_empty(),
        "{} refused {refused:#?}",
        cluster.name()
    );
    Ok(())
}
