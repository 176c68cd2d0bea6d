//! Benchmark (not a test): 500 tenants × 2 regions, operator cold start to every Tenant Ready.
//!
//! Reports wall time, API requests the clusters served during the run (from each
//! kube-apiserver's own `apiserver_request_total`, minus this benchmark's polls), writes from
//! the audit logs, and the operator's peak RSS (VmHWM of its process). Run with
//! `e2e/bench/operator-scale.sh`, which builds the release operator first.

use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use meridian_e2e::meridian::{OPERATOR_NAMESPACE, install_crds, put_secret, register_regions};
use meridian_e2e::{ADMIN_USER, ClusterOptions, Clusters, WriteFilter};
use meridian_operator::api::{AuthRegion, Tenant};

const TENANTS: usize = 500;

fn tenant(i: usize) -> anyhow::Result<Tenant> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "meridian.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": format!("tenant-{i:03}")},
        "spec": {
            "regions": ["eu-west", "us-east"], "homeRegion": "eu-west",
            "scopes": [{"name": "api:read"}],
            "clients": [
                {"clientId": "svc", "type": "confidential", "grantTypes": ["client_credentials"], "scopes": ["api:read"],
                 "secretRef": {"name": format!("tenant-{i:03}-svc")}},
                {"clientId": "web", "type": "public", "grantTypes": ["authorization_code", "refresh_token"],
                 "redirectUris": ["https://app.example/cb"], "scopes": ["openid"]}
            ]
        }
    }))?)
}

async fn requests_served(client: &Client) -> anyhow::Result<f64> {
    let text = client
        .request_text(http::Request::get("/metrics").body(Vec::new())?)
        .await?;
    Ok(text
        .lines()
        .filter(|line| line.starts_with("apiserver_request_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum())
}

fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let operator_bin = std::env::var("MERIDIAN_OPERATOR_BIN")
        .expect("MERIDIAN_OPERATOR_BIN: path to a release meridian-operator");
    let clusters = Clusters::start(3, ClusterOptions::default()).await?;
    let hub = clusters.hub().client();
    install_crds(clusters.hub())?;
    register_regions(&clusters).await?;
    for region in clusters.regions() {
        let ar: AuthRegion = serde_json::from_value(serde_json::json!({
            "apiVersion": "meridian.dev/v1alpha1", "kind": "AuthRegion", "metadata": {"name": region.name()},
            "spec": {"publicUrl": format!("https://{}.auth.example.com", region.name()),
                     "cluster": {"kubeconfigSecretRef": {"name": format!("{}-kubeconfig", region.name())}}}
        }))?;
        Api::<AuthRegion>::all(hub.clone())
            .create(&PostParams::default(), &ar)
            .await?;
    }
    let tenants = Api::<Tenant>::all(hub.clone());
    stream::iter(0..TENANTS)
        .map(|i| {
            let (hub, tenants) = (hub.clone(), tenants.clone());
            async move {
                put_secret(
                    &hub,
                    &format!("tenant-{i:03}-svc"),
                    "clientSecret",
                    &format!("secret-{i}-0123456789abcdef"),
                )
                .await?;
                tenants.create(&PostParams::default(), &tenant(i)?).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;
    eprintln!("created {TENANTS} tenants; starting the operator");

    let marks: Vec<_> = clusters
        .iter()
        .map(|c| c.audit().mark())
        .collect::<Result<_, _>>()?;
    let mut before = Vec::new();
    for cluster in clusters.iter() {
        before.push(requests_served(&cluster.client()).await?);
    }
    let started = Instant::now();
    let mut operator = tokio::process::Command::new(&operator_bin)
        .args([
            "run",
            "--leader-elect=false",
            "--admin-addr=127.0.0.1:0",
            "--log-format=text",
        ])
        .args([
            "--namespace",
            OPERATOR_NAMESPACE,
            "--issuer-base-url",
            "https://auth.example.com",
        ])
        .env("KUBECONFIG", clusters.hub().kubeconfig_path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = operator.id().expect("operator running");

    let mut polls = 0u32;
    let mut peak = 0.0f64;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        peak = peak.max(peak_rss_mib(pid).unwrap_or(0.0));
        polls += 1;
        let list = tenants.list(&ListParams::default()).await?;
        let ready = list
            .items
            .iter()
            .filter(|t| {
                let status = t.status.clone().unwrap_or_default();
                status.observed_generation == t.metadata.generation
                    && status
                        .conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
            })
            .count();
        if ready == TENANTS {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("only {ready} of {TENANTS} tenants Ready after 10 minutes");
        }
    }
    let wall = started.elapsed();
    peak = peak.max(peak_rss_mib(pid).unwrap_or(0.0));
    let mut served = 0.0;
    for (cluster, before) in clusters.iter().zip(&before) {
        served += requests_served(&cluster.client()).await? - before - 1.0;
    }
    let served = served - f64::from(polls); // this benchmark's own list calls
    let mut writes = 0;
    for (cluster, mark) in clusters.iter().zip(marks) {
        writes += cluster
            .audit()
            .count_writes(mark, &WriteFilter::any().user(ADMIN_USER))?;
    }
    operator.kill().await?;

    println!("operator cold start, {TENANTS} tenants x 2 regions:");
    println!("  all Tenants Ready in  {:.1} s", wall.as_secs_f64());
    println!("  API requests served   {served:.0} (all verbs, hub + 2 regions)");
    println!("  of which writes       {writes}");
    println!("  operator peak RSS     {peak:.1} MiB");
    Ok(())
}
