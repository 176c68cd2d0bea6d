//! The operator's Deployments on real nodes: each region cluster has a kubelet, containerd,
//! runc and kube-proxy of its own; the auth-server image built here runs as pods that pass
//! their probes behind their Service, and clients reach that Service at the region's public
//! URL. What only a real kubelet shows is checked here: the image's entrypoint and the
//! rendered args, the locked-down container as the kernel sees it, the memory limit against
//! real RSS, a tenant change through the kubelet's own projected-volume update, a rolling
//! update and a deleted pod under a steady token loop, and a drain against the
//! PodDisruptionBudget.

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use meridian_e2e::eventually;
use meridian_e2e::local::{
    LocalMeridian, LocalOptions, LocalStore, REGIONS, Steps, TENANT, wait_deployment_ready,
};
use meridian_e2e::meridian::{init_test_logging, kubectl};
use meridian_e2e::node::{Node, process_facts};
use meridian_e2e::region_pods::SHARED_GROUP;
use meridian_e2e::tokens::RegionIssuer;
use meridian_operator::api::{AuthRegion, Tenant};
use tokio::time::Instant;

use crate::common::{BACKEND, backend_secret, tokens_verify_everywhere};
use crate::load::{SteadyLoad, longest_gap, percentile};

const NAMESPACE: &str = "meridian-auth";
const SELECTOR: &str = "app.kubernetes.io/instance=auth-shared";
const IMAGE: &str = "ghcr.io/meridian-dev/meridian-auth-server";
/// The examples' memory limit for the auth-server container.
const MEMORY_LIMIT_BYTES: u64 = 128 * 1024 * 1024;
const ROLLOUT: Duration = Duration::from_secs(120);
/// The kernel's name for the auth-server process (comm is cut at 15 bytes).
const AUTH_SERVER_COMM: &str = meridian_e2e::local::AUTH_SERVER_COMM;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_deployments_run_as_real_pods() -> anyhow::Result<()> {
    init_test_logging();
    let options = LocalOptions::test().with_store(LocalStore::Postgres);
    let meridian = LocalMeridian::start(options, &Steps::stderr()).await?;
    let secret = backend_secret(&meridian).await?;

    // A token issued in one region verifies with the other's JWKS, each reached through its
    // Service at the region's public URL.
    tokens_verify_everywhere(&meridian, (BACKEND, &secret), &REGIONS).await?;

    for region in REGIONS {
        let cluster = &meridian.clusters()[region];
        let node = cluster.node().context("the region has a node")?;
        let pods = ready_pods(&cluster.client()).await?;
        assert_eq!(pods.len(), 2, "{region}: two replicas on the store");
        for pod in &pods {
            assert_eq!(pod_node(pod), Some(node.name()), "{region}");
            let image = pod_image(pod).unwrap_or_default();
            assert!(image.starts_with(IMAGE), "{region} runs {image}");
            check_locked_down(node, pod)?;
        }
    }

    // A tenant change reaches every pod of both regions through the kubelet's update of the
    // projected volume (no restart: the pods stay the same).
    let before = pod_names(&meridian).await?;
    let took = add_scope_and_wait(&meridian, "orders:audit").await?;
    eprintln!(
        "tenant change served by every pod {:.1} s after the apply",
        took.as_secs_f64()
    );
    assert!(
        took < Duration::from_secs(30),
        "a tenant change took {took:?}"
    );
    assert_eq!(
        pod_names(&meridian).await?,
        before,
        "no pod restarted for a tenant change"
    );

    let eu_west = meridian.clusters()["eu-west"].client();
    let load = SteadyLoad::start(
        meridian.region_issuer("eu-west").token_url(),
        BACKEND,
        &secret,
    );
    eventually(
        "the loop's first token",
        Duration::from_secs(10),
        async || Ok(load.served().await.then_some(())),
    )
    .await?;

    // A rolling update (a changed pod template) under the loop.
    let rolled_from = Instant::now();
    let old = names(&ready_pods(&eu_west).await?);
    roll(&meridian.hub(), "eu-west").await?;
    eventually("new pods rolled out", ROLLOUT, async || {
        let now = names(&ready_pods(&eu_west).await?);
        Ok((now.len() == 2 && now.iter().all(|n| !old.contains(n))).then_some(()))
    })
    .await?;
    wait_deployment_ready(&eu_west, NAMESPACE, SHARED_GROUP, ROLLOUT).await?;
    // The old pods keep serving through their pre-stop sleep, then exit: the window ends
    // once they are gone.
    pods_gone(&eu_west, &old).await?;
    let rollout = load.since(rolled_from).await;
    report("rolling update", &rollout, rolled_from);

    // A deleted pod is replaced by the Deployment.
    let deleted_from = Instant::now();
    let victim = names(&ready_pods(&eu_west).await?).remove(0);
    Api::<Pod>::namespaced(eu_west.clone(), NAMESPACE)
        .delete(&victim, &DeleteParams::default())
        .await?;
    eventually("the deleted pod replaced", ROLLOUT, async || {
        let now = names(&ready_pods(&eu_west).await?);
        Ok((now.len() == 2 && !now.contains(&victim)).then_some(()))
    })
    .await?;
    pods_gone(&eu_west, std::slice::from_ref(&victim)).await?;
    let healed = load.since(deleted_from).await;
    report("deleted pod", &healed, deleted_from);

    // A drain evicts what the PodDisruptionBudget allows and no more: with one node, the
    // evicted pod's replacement has nowhere to go, so the last pod stays and serves.
    let drained_from = Instant::now();
    let node = meridian.clusters()["eu-west"]
        .node()
        .context("a node")?
        .name()
        .to_owned();
    let drain = meridian.clusters()["eu-west"]
        .kubectl()
        .args(["drain", &node, "--ignore-daemonsets", "--timeout=20s"])
        .output()?;
    let said = String::from_utf8_lossy(&drain.stderr).into_owned();
    assert!(!drain.status.success(), "the drain cannot complete: {said}");
    assert!(
        said.contains("disruption budget"),
        "the drain was held by the PodDisruptionBudget: {said}"
    );
    let left = ready_pods(&eu_west).await?;
    assert_eq!(left.len(), 1, "the budget keeps one pod serving");
    let drained = load.since(drained_from).await;
    report("drain", &drained, drained_from);
    kubectl(&meridian.clusters()["eu-west"], &["uncordon", &node])?;
    wait_deployment_ready(&eu_west, NAMESPACE, SHARED_GROUP, ROLLOUT).await?;

    let all = load.stop().await;
    let failed: Vec<_> = all.iter().filter(|o| !o.ok()).collect();
    assert!(
        failed.is_empty(),
        "{} of {} token requests failed through the rollout, the deleted pod and the drain: {:?}",
        failed.len(),
        all.len(),
        failed.iter().map(|o| o.status).collect::<Vec<_>>()
    );
    Ok(())
}

fn report(what: &str, outcomes: &[crate::load::Outcome], from: Instant) {
    let failed = outcomes.iter().filter(|o| !o.ok()).count();
    eprintln!(
        "{what}: {failed} of {} token requests failed, longest gap {} ms, p50 {:.1} ms, p99 {:.1} ms",
        outcomes.len(),
        longest_gap(outcomes, from).as_millis(),
        percentile(outcomes, 0.5),
        percentile(outcomes, 0.99),
    );
}

/// The shared group's pods that are Running and Ready (not terminating).
async fn ready_pods(region: &Client) -> meridian_e2e::Result<Vec<Pod>> {
    let pods = Api::<Pod>::namespaced(region.clone(), NAMESPACE)
        .list(&ListParams::default().labels(SELECTOR))
        .await?;
    Ok(pods
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            let status = p.status.as_ref();
            status.and_then(|s| s.phase.as_deref()) == Some("Running")
                && status
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .collect())
}

/// Waits until none of these pods exists any more (terminated and removed).
async fn pods_gone(region: &Client, gone: &[String]) -> anyhow::Result<()> {
    let pods = Api::<Pod>::namespaced(region.clone(), NAMESPACE);
    eventually("the old pods gone", ROLLOUT, async || {
        let left = pods.list(&ListParams::default().labels(SELECTOR)).await?;
        let any = left
            .items
            .iter()
            .any(|p| p.metadata.name.as_ref().is_some_and(|n| gone.contains(n)));
        Ok((!any).then_some(()))
    })
    .await?;
    Ok(())
}

fn names(pods: &[Pod]) -> Vec<String> {
    let mut names: Vec<String> = pods
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    names.sort();
    names
}

async fn pod_names(meridian: &LocalMeridian) -> anyhow::Result<Vec<Vec<String>>> {
    let mut all = Vec::new();
    for region in REGIONS {
        all.push(names(
            &ready_pods(&meridian.clusters()[region].client()).await?,
        ));
    }
    Ok(all)
}

fn pod_node(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.node_name.as_deref()
}

fn pod_image(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()
        .map(|c| c.image.clone())
}

fn pod_ip(pod: &Pod) -> Option<String> {
    pod.status.as_ref()?.pod_ip.clone()
}

/// The auth-server process of the pod as the kernel on the node sees it: UID/GID 65532, no
/// capability in any set, no privilege escalation, seccomp filtering, a read-only root, and
/// resident memory under the container's limit.
fn check_locked_down(node: &Node, pod: &Pod) -> anyhow::Result<()> {
    let uid = pod.metadata.uid.as_deref().context("a pod has a uid")?;
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let facts: Vec<_> = node
        .pod_processes(uid)
        .into_iter()
        .filter_map(process_facts)
        .collect();
    let server = facts
        .iter()
        .find(|f| f.command == AUTH_SERVER_COMM)
        .with_context(|| format!("no auth-server process in pod {name}: {facts:?}"))?;
    assert_eq!(server.uids, [65532; 4], "{name}");
    assert_eq!(server.gids, [65532; 4], "{name}");
    assert_eq!(server.cap_effective, 0, "{name}");
    assert_eq!(server.cap_permitted, 0, "{name}");
    assert_eq!(server.cap_bounding, 0, "{name}");
    assert!(server.no_new_privs, "{name}");
    assert_eq!(server.seccomp, 2, "{name}: seccomp filter (RuntimeDefault)");
    assert!(
        server.root_mount_read_only,
        "{name}: read-only root filesystem"
    );
    let limit = memory_limit(pod).unwrap_or(MEMORY_LIMIT_BYTES);
    assert!(
        server.rss_bytes < limit,
        "{name}: RSS {} over the limit {limit}",
        server.rss_bytes
    );
    eprintln!(
        "{name}: pid {} uid 65532, no capabilities, read-only root, RSS {:.1} MiB of {} MiB",
        server.pid,
        server.rss_bytes as f64 / 1048576.0,
        limit / 1048576
    );
    Ok(())
}

fn memory_limit(pod: &Pod) -> Option<u64> {
    let container = pod.spec.as_ref()?.containers.first()?;
    let Quantity(limit) = container
        .resources
        .as_ref()?
        .limits
        .as_ref()?
        .get("memory")?;
    let mib: u64 = limit.strip_suffix("Mi")?.parse().ok()?;
    Some(mib * 1024 * 1024)
}

/// Adds a scope to acme and waits until every pod of every region (asked directly on its pod
/// IP, which the host routes to the node) lists it in discovery; returns how long that took.
async fn add_scope_and_wait(meridian: &LocalMeridian, scope: &str) -> anyhow::Result<Duration> {
    let tenants = Api::<Tenant>::all(meridian.hub());
    let tenant = tenants.get(TENANT).await?;
    let mut scopes: Vec<serde_json::Value> = tenant
        .spec
        .scopes
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    scopes.push(serde_json::json!({"name": scope, "description": "Audit orders"}));
    let applied = Instant::now();
    tenants
        .patch(
            TENANT,
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"spec": {"scopes": scopes}})),
        )
        .await?;
    let mut pods = Vec::new();
    for region in REGIONS {
        for pod in ready_pods(&meridian.clusters()[region].client()).await? {
            let ip = pod_ip(&pod).context("a running pod has an IP")?;
            pods.push(RegionIssuer::new(
                region,
                &format!("http://{ip}:8080"),
                meridian.issuer(),
            ));
        }
    }
    eventually(
        "the new scope in every pod's discovery",
        Duration::from_secs(60),
        async || {
            for pod in &pods {
                let discovery = pod.discovery().await.ok();
                let listed = discovery
                    .as_ref()
                    .and_then(|d| d["scopes_supported"].as_array())
                    .is_some_and(|s| s.iter().any(|s| s == scope));
                if !listed {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        },
    )
    .await?;
    Ok(applied.elapsed())
}

/// Changes the region's pod template (an annotation, as a config-checksum change does), so
/// its Deployment rolls.
async fn roll(hub: &Client, region: &str) -> anyhow::Result<()> {
    let patch = serde_json::json!({"spec": {"authServer": {"podAnnotations": {
        "e2e.meridian.dev/rolled": format!("{:?}", std::time::SystemTime::now()),
    }}}});
    Api::<AuthRegion>::all(hub.clone())
        .patch(region, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}
