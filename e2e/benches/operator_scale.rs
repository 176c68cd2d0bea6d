//! Benchmark (not a test): N tenants × R regions (`MERIDIAN_BENCH_TENANTS`, default 10,000;
//! `MERIDIAN_BENCH_REGIONS`, default 3), operator cold start to every Tenant Ready, which means
//! served: each region's auth-server runs as a pod on the region's real node from the objects
//! the operator wrote, and the operator reads every tenant's JWKS from it.
//!
//! Reports wall time, API requests the clusters served during the run (from each
//! kube-apiserver's own `apiserver_request_total`, minus this benchmark's watch; the nodes'
//! own requests — kubelet, kube-proxy, scheduler, controller-manager — are counted too), the
//! operator's writes from the audit logs, the operator's peak RSS (VmHWM of its process) and each region's auth-server
//! peak RSS, and the CPU time each program on the machine spent meanwhile. The hub's Tenants and client Secrets are created before the operator starts, and
//! so outside the timed window. Run with `e2e/bench/operator-scale.sh`, which builds the
//! release operator and auth-server first.
//!
//! `MERIDIAN_BENCH_PROFILE=<dir>`: the API servers run with profiling on, and the hub's is
//! CPU-profiled in consecutive 20 s windows into `<dir>/hub-<start>s.pb.gz` (read them with
//! `go tool pprof -top`).

use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, future, stream};
use kube::api::PostParams;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client};
use meridian_e2e::cpu_time::CpuSnapshot;
use meridian_e2e::meridian::{
    OPERATOR_NAMESPACE, free_loopback_urls, install_crds, put_secret, register_regions,
};
use meridian_e2e::region_pods::RegionPods;
use meridian_e2e::{ADMIN_USER, ClusterOptions, Clusters, WriteFilter};
use meridian_operator::api::{AuthRegion, Tenant};

const DEFAULT_TENANTS: usize = 10_000;
const DEFAULT_REGIONS: usize = 3;
/// How often the benchmark counts the Ready Tenants (in its own cache) and samples RSS.
const POLL: Duration = Duration::from_millis(500);
const TIMEOUT: Duration = Duration::from_secs(900);
const PROFILE_WINDOW: Duration = Duration::from_secs(20);

fn is_ready(tenant: &Tenant) -> bool {
    let status = tenant.status.clone().unwrap_or_default();
    status.observed_generation == tenant.metadata.generation
        && status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
}

fn count_from_env(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(value) => Ok(value.parse()?),
        Err(_) => Ok(default),
    }
}

fn tenant(i: usize, regions: &[&str]) -> anyhow::Result<Tenant> {
    Ok(serde_json::from_value(serde_json::json!({
        "apiVersion": "meridian.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": format!("tenant-{i:05}")},
        "spec": {
            "regions": regions, "homeRegion": regions[0],
            "scopes": [{"name": "api:read"}],
            "clients": [
                {"clientId": "svc", "type": "confidential", "grantTypes": ["client_credentials"], "scopes": ["api:read"],
                 "secretRef": {"name": format!("tenant-{i:05}-svc")}},
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
    status_mib(pid, "VmHWM:")
}

/// A field of `/proc/<pid>/status` given in kB, in MiB.
fn status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

fn top_programs(cpu: &[(String, f64)], count: usize) -> String {
    let top: Vec<String> = cpu
        .iter()
        .take(count)
        .map(|(program, seconds)| format!("{program} {seconds:.1}"))
        .collect();
    top.join(", ")
}

/// CPU profiles of the hub's API server, one per [`PROFILE_WINDOW`], until aborted.
async fn profile_hub(hub: Client, dir: std::path::PathBuf, started: Instant) -> anyhow::Result<()> {
    std::fs::create_dir_all(&dir)?;
    let seconds = PROFILE_WINDOW.as_secs();
    loop {
        let at = started.elapsed().as_secs();
        let request = http::Request::get(format!("/debug/pprof/profile?seconds={seconds}"))
            .body(kube::client::Body::empty())?;
        let response = hub.send(request).await?;
        let body = response.into_body().collect_bytes().await?;
        std::fs::write(dir.join(format!("hub-{at:03}s.pb.gz")), body)?;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let operator_bin = std::env::var("MERIDIAN_OPERATOR_BIN")
        .expect("MERIDIAN_OPERATOR_BIN: path to a release meridian-operator");
    let tenant_count = count_from_env("MERIDIAN_BENCH_TENANTS", DEFAULT_TENANTS)?;
    let region_count = count_from_env("MERIDIAN_BENCH_REGIONS", DEFAULT_REGIONS)?;
    let profile_dir = std::env::var_os("MERIDIAN_BENCH_PROFILE").map(std::path::PathBuf::from);
    // The kubelets resync at their own default (1 min), not the tests' 5 s: every sync
    // re-reads each pod's projected volumes, which at 10,000 tenants is ~40,000 files a node,
    // and a production node pays what this benchmark should measure.
    let mut options = ClusterOptions::default()
        .with_nodes()
        .with_kubelet_sync(meridian_e2e::node::KUBELET_DEFAULT_SYNC_FREQUENCY);
    if profile_dir.is_some() {
        options = options.with_apiserver_arg("--profiling=true");
    }
    let clusters = Clusters::start(1 + region_count, options).await?;
    let region_names: Vec<&str> = clusters.regions().iter().map(|r| r.name()).collect();
    let hub = clusters.hub().client();
    install_crds(clusters.hub())?;
    register_regions(&clusters).await?;
    let urls = free_loopback_urls(clusters.regions().len())?;
    for (region, url) in clusters.regions().iter().zip(&urls) {
        let ar: AuthRegion = serde_json::from_value(serde_json::json!({
            "apiVersion": "meridian.dev/v1alpha1", "kind": "AuthRegion", "metadata": {"name": region.name()},
            "spec": {"publicUrl": url,
                     "cluster": {"kubeconfigSecretRef": {"name": format!("{}-kubeconfig", region.name())}}}
        }))?;
        Api::<AuthRegion>::all(hub.clone())
            .create(&PostParams::default(), &ar)
            .await?;
    }
    let tenants = Api::<Tenant>::all(hub.clone());
    stream::iter(0..tenant_count)
        .map(|i| {
            let (hub, tenants) = (hub.clone(), tenants.clone());
            let tenant = tenant(i, &region_names);
            async move {
                put_secret(
                    &hub,
                    &format!("tenant-{i:05}-svc"),
                    "clientSecret",
                    &format!("secret-{i}-0123456789abcdef"),
                )
                .await?;
                tenants.create(&PostParams::default(), &tenant?).await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await?;
    eprintln!("created {tenant_count} tenants; starting the operator");

    let marks: Vec<_> = clusters
        .iter()
        .map(|c| c.audit().mark())
        .collect::<Result<_, _>>()?;
    let mut before = Vec::new();
    for cluster in clusters.iter() {
        before.push(requests_served(&cluster.client()).await?);
    }
    // MERIDIAN_BENCH_LOG=<file>: the operator's info log goes there, to see where time goes.
    let log = std::env::var_os("MERIDIAN_BENCH_LOG");
    let started = Instant::now();
    let cpu_before = CpuSnapshot::take();
    let profiling = profile_dir.map(|dir| tokio::spawn(profile_hub(hub.clone(), dir, started)));
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
        .env("RUST_LOG", if log.is_some() { "info" } else { "warn" })
        .stdout(match &log {
            Some(path) => Stdio::from(std::fs::File::create(path)?),
            None => Stdio::null(),
        })
        .kill_on_drop(true)
        .spawn()?;
    let pid = operator.id().expect("operator running");
    // When the operator's memory peaks tells which of its phases to look at.
    let rss_peak_at = tokio::spawn(async move {
        let mut highest = (0.0f64, 0.0f64);
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            match status_mib(pid, "VmRSS:") {
                Some(rss) if rss > highest.0 => highest = (rss, started.elapsed().as_secs_f64()),
                Some(_) => {}
                None => return highest,
            }
        }
    });
    // Each region's public URL opens once its Deployment's pods are Ready.
    let hub_client = &hub;
    let regions = future::try_join_all(clusters.regions().iter().zip(&urls).map(
        |(region, url)| async move {
            let pods = RegionPods::serve_within(hub_client, region, url, TIMEOUT).await?;
            let at = started.elapsed().as_secs_f64();
            eprintln!("{at:>6.1} s: {}'s pods Ready, its URL open", region.name());
            anyhow::Ok(pods)
        },
    ))
    .await?;

    // Ready is counted from a watch of the Tenants: listing 10,000 Tenants with their status
    // every second would weigh on the very hub being measured.
    let (store, writer) = reflector::store();
    let watch = reflector::reflector(writer, watcher(tenants.clone(), watcher::Config::default()))
        .applied_objects()
        .for_each(|_| async {});
    let watch = tokio::spawn(watch);
    store.wait_until_ready().await?;
    let mut peak = 0.0f64;
    let mut reported = Instant::now();
    let mut cpu_reported = CpuSnapshot::take();
    loop {
        tokio::time::sleep(POLL).await;
        peak = peak.max(peak_rss_mib(pid).unwrap_or(0.0));
        let ready = store.state().iter().filter(|t| is_ready(t)).count();
        if ready == tenant_count {
            break;
        }
        if reported.elapsed() > Duration::from_secs(10) {
            let cpu = CpuSnapshot::take();
            eprintln!(
                "{:>6.1} s: {ready} Ready, operator RSS {:.0} MiB; CPU seconds in the last {:.0} s: {}",
                started.elapsed().as_secs_f64(),
                status_mib(pid, "VmRSS:").unwrap_or(f64::NAN),
                reported.elapsed().as_secs_f64(),
                top_programs(&cpu.seconds_since(&cpu_reported), 6)
            );
            cpu_reported = cpu;
            reported = Instant::now();
        }
        if started.elapsed() > TIMEOUT {
            anyhow::bail!("only {ready} of {tenant_count} tenants Ready after {TIMEOUT:?}");
        }
    }
    let wall = started.elapsed();
    let cpu_after = CpuSnapshot::take();
    let steal = cpu_after.steal_since(&cpu_before);
    let cpu = cpu_after.seconds_since(&cpu_before);
    if let Some(profiling) = profiling {
        profiling.abort();
    }
    peak = peak.max(peak_rss_mib(pid).unwrap_or(0.0));
    let mut served = 0.0;
    for (cluster, before) in clusters.iter().zip(&before) {
        served += requests_served(&cluster.client()).await? - before - 1.0;
    }
    watch.abort();
    // This benchmark's own requests: the watch's list and the watch itself.
    let served = served - 2.0;
    // Writes by verb and resource, so a regression shows where it writes more.
    let mut writes = std::collections::BTreeMap::<(String, String), usize>::new();
    let ours = WriteFilter::any().user(ADMIN_USER);
    for (cluster, mark) in clusters.iter().zip(marks) {
        for write in cluster.audit().writes_since(mark)? {
            if ours.matches(&write) {
                *writes.entry((write.verb, write.resource)).or_default() += 1;
            }
        }
    }
    let by_kind: Vec<String> = writes
        .iter()
        .map(|((verb, resource), count)| format!("{count} {verb} {resource}"))
        .collect();
    let writes: usize = writes.values().sum();
    let mut servers = Vec::new();
    for (region, pods) in clusters.regions().iter().zip(&regions) {
        for server in pods.auth_servers(region).await? {
            let rss = server.pid.and_then(peak_rss_mib).unwrap_or(f64::NAN);
            servers.push(format!(
                "{} {rss:.1} MiB ({} restarts)",
                region.name(),
                server.restarts
            ));
        }
    }
    drop(regions);
    operator.kill().await?;

    println!("operator cold start, {tenant_count} tenants x {region_count} regions:");
    println!("  all Tenants Ready in  {:.1} s", wall.as_secs_f64());
    println!("  API requests served   {served:.0} (all verbs, hub + {region_count} regions)");
    println!("  of which writes       {writes}: {}", by_kind.join(", "));
    let highest_at = match rss_peak_at.await {
        Ok((_, at)) => format!(" (highest sample at {at:.1} s)"),
        Err(_) => String::new(),
    };
    println!("  operator peak RSS     {peak:.1} MiB{highest_at}");
    println!("  auth-server peak RSS  {}", servers.join(", "));
    let cpu_total: f64 = cpu.iter().map(|(_, seconds)| seconds).sum();
    println!(
        "  CPU seconds           {cpu_total:.1} in all ({:.2} cores, {steal:.1} s stolen by the hypervisor): {}",
        cpu_total / wall.as_secs_f64(),
        top_programs(&cpu, 12)
    );
    Ok(())
}
