//! The auth-server Deployment, Service and PodDisruptionBudget of one group of tenants.
//!
//! Pods run as a non-root user with a read-only root filesystem, no privilege escalation, no
//! capabilities and the runtime's default seccomp profile; they have no service account token
//! because the auth-server never talks to the Kubernetes API. The Postgres store's URI is
//! named by reference only: its value must never be copied into anything rendered here.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapProjection, Container, ContainerPort, EnvVar, EnvVarSource,
    HTTPGetAction, Lifecycle, LifecycleHandler, PodSecurityContext, PodSpec, PodTemplateSpec,
    Probe, ProjectedVolumeSource, ResourceRequirements, SeccompProfile, SecretKeySelector,
    SecretProjection, SecurityContext, Service, ServicePort, ServiceSpec, SleepAction, Volume,
    VolumeMount, VolumeProjection,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::api::{AuthServerSpec, STORE_URI_DEFAULT_KEY};

use super::Labels;
use super::shards::{TENANTS_PER_SHARD, shard_count};

/// Where the pod sees the contract files.
pub const CONFIG_DIR: &str = "/etc/meridian/config";
const HTTP_PORT: i32 = 8080;
/// How long a terminating pod keeps serving before it is sent SIGTERM. Its Service stops
/// routing to it only once the EndpointSlice change has reached every node's kube-proxy (and
/// any load balancer in front); a pod that stopped at once would have new connections sent
/// to it meanwhile, which hang or are refused. Measured on real nodes: without it, a deleted
/// pod cost a token request; with it, rollouts, deletions and drains lose none. Clients
/// that keep their connection alive past it are moved off by the auth-server's own drain
/// after SIGTERM (`--drain-seconds`, 5 s): the two together stay well within the default
/// 30 s grace period. (The `sleep` action needs no shell in the image: Kubernetes 1.30+.)
const PRE_STOP_SLEEP_SECONDS: i64 = 5;
const ADMIN_PORT: i32 = 9090;
const NON_ROOT_UID: i64 = 65532;
/// The auth-server's store setting: `memory` (its default) or a libpq URI.
pub const STORE_ENV: &str = "MERIDIAN_STORE";
pub const TRUSTED_PROXIES_ENV: &str = "MERIDIAN_TRUSTED_PROXIES";
/// Annotation whose change rolls the pods: a checksum of what the auth-server reads only at
/// start. Tenant files are reloaded live and so are not part of it.
pub const CHECKSUM_ANNOTATION: &str = "meridian.dev/config-checksum";

/// One auth-server group as the region should run it.
pub struct Workload<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub labels: &'a Labels,
    pub spec: &'a AuthServerSpec,
    pub config_maps: &'a [String],
    pub secrets: &'a [String],
    pub checksum: &'a str,
    /// How many tenants the group serves: the default memory follows it.
    pub tenants: usize,
}

fn meta(w: &Workload<'_>) -> ObjectMeta {
    ObjectMeta {
        name: Some(w.name.to_owned()),
        namespace: Some(w.namespace.to_owned()),
        labels: Some(w.labels.to_map()),
        ..ObjectMeta::default()
    }
}

fn selector(w: &Workload<'_>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(w.labels.selector()),
        ..LabelSelector::default()
    }
}

pub fn deployment(w: &Workload<'_>) -> Deployment {
    let mut annotations = w.spec.pod_annotations.clone();
    annotations.insert(CHECKSUM_ANNOTATION.to_owned(), w.checksum.to_owned());
    Deployment {
        metadata: meta(w),
        spec: Some(DeploymentSpec {
            replicas: Some(w.spec.effective_replicas()),
            strategy: strategy(w.spec),
            selector: selector(w),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(w.labels.to_map()),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(w)),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

/// With a shared store a new pod serves what the old one issued, so a rollout surges one new
/// pod and removes an old one only once it is ready: capacity never drops. The memory store
/// keeps Kubernetes' default (nothing to hand over between pods either way).
fn strategy(spec: &AuthServerSpec) -> Option<DeploymentStrategy> {
    spec.store.postgres_uri()?;
    Some(DeploymentStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(RollingUpdateDeployment {
            max_surge: Some(IntOrString::Int(1)),
            max_unavailable: Some(IntOrString::Int(0)),
        }),
    })
}

fn pod_spec(w: &Workload<'_>) -> PodSpec {
    let mut spread = w.spec.topology_spread_constraints.clone();
    for constraint in &mut spread {
        constraint.label_selector.get_or_insert_with(|| selector(w));
    }
    PodSpec {
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(NON_ROOT_UID),
            run_as_group: Some(NON_ROOT_UID),
            fs_group: Some(NON_ROOT_UID),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..SeccompProfile::default()
            }),
            ..PodSecurityContext::default()
        }),
        containers: vec![container(w)],
        volumes: Some(vec![config_volume(w)]),
        node_selector: (!w.spec.node_selector.is_empty()).then(|| w.spec.node_selector.clone()),
        tolerations: (!w.spec.tolerations.is_empty()).then(|| w.spec.tolerations.clone()),
        topology_spread_constraints: (!spread.is_empty()).then_some(spread),
        ..PodSpec::default()
    }
}

fn container_port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: port,
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    }
}

fn container(w: &Workload<'_>) -> Container {
    let probe = |path: &str, period: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("http".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        ..Probe::default()
    };
    Container {
        name: "auth-server".into(),
        image: Some(w.spec.image.clone()),
        args: Some(args(w)),
        env: env(w.spec),
        ports: Some(vec![
            container_port("http", HTTP_PORT),
            // Metrics carry tenant ids: scraped here, never exposed by the Service.
            container_port("admin", ADMIN_PORT),
        ]),
        readiness_probe: Some(probe("/readyz", 5)),
        liveness_probe: Some(probe("/healthz", 10)),
        lifecycle: Some(Lifecycle {
            pre_stop: Some(LifecycleHandler {
                sleep: Some(SleepAction {
                    seconds: PRE_STOP_SLEEP_SECONDS,
                }),
                ..LifecycleHandler::default()
            }),
            ..Lifecycle::default()
        }),
        resources: Some(
            w.spec
                .resources
                .clone()
                .unwrap_or_else(|| default_resources(w.tenants)),
        ),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Capabilities::default()
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![VolumeMount {
            name: "config".into(),
            mount_path: CONFIG_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    }
}

/// The Postgres URI reaches the pod by reference: the kubelet resolves it in the region, so the
/// value appears in no object the operator writes. Memory sets nothing (the auth-server's
/// default), so regions on it render exactly as before the store existed.
fn store_env(spec: &AuthServerSpec) -> Option<EnvVar> {
    let uri = spec.store.postgres_uri()?;
    Some(EnvVar {
        name: STORE_ENV.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: uri.name.clone(),
                key: uri.key_or(STORE_URI_DEFAULT_KEY).to_owned(),
                optional: None,
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    })
}

/// The proxies whose forwarding headers name the client, for login throttling.
fn trusted_proxies_env(spec: &AuthServerSpec) -> Option<EnvVar> {
    (!spec.trusted_proxies.is_empty()).then(|| EnvVar {
        name: TRUSTED_PROXIES_ENV.into(),
        value: Some(spec.trusted_proxies.join(",")),
        ..EnvVar::default()
    })
}

/// The container's environment; none at all when nothing is set, so regions that set nothing
/// render exactly as before these settings existed.
fn env(spec: &AuthServerSpec) -> Option<Vec<EnvVar>> {
    let env: Vec<EnvVar> = [store_env(spec), trusted_proxies_env(spec)]
        .into_iter()
        .flatten()
        .collect();
    (!env.is_empty()).then_some(env)
}

fn args(w: &Workload<'_>) -> Vec<String> {
    let mut args = vec![
        format!("--config-dir={CONFIG_DIR}"),
        format!("--listen=0.0.0.0:{HTTP_PORT}"),
        format!("--admin-listen=0.0.0.0:{ADMIN_PORT}"),
    ];
    // The auth-server sizes its concurrent password checks from its memory limit. The default
    // limit's per-tenant part holds the tenants' configuration, so the checks are sized from
    // the base alone; a limit the user sets is theirs to divide, as before.
    if w.spec.resources.is_none() {
        args.push(format!("--login-memory={}", mebibytes(BASE_MEMORY_LIMIT)));
    }
    args
}

/// The default limit for a group's first tenants: what one auth-server needs with a handful of
/// tenants, password checks included (48Mi kept for the rest, the remainder for argon2).
const BASE_MEMORY_LIMIT: u64 = 128 << 20;
const BASE_MEMORY_REQUEST: u64 = 32 << 20;
/// Resident memory one loaded tenant adds (ES256 key, two clients, three users), measured with
/// `auth-server/bench/config-scale.sh`: 17.5 MiB at 1,000 tenants, 105 MiB at 10,000, so
/// about 10 KiB each; the request reserves that.
const REQUEST_PER_TENANT: u64 = 10 << 10;
/// The limit adds 60% to it: a reload holds a second copy of the files it reads (118.6 MiB
/// peak after reloads at 10,000), and real tenants have more clients and users.
const LIMIT_PER_TENANT: u64 = 16 << 10;
/// Requests sized from the auth-server's measured footprint, which grows with the tenants it
/// serves; memory limited so a leak is contained, CPU not limited so token signing bursts are
/// not throttled. Tenants are counted as the group's shards hold them at capacity, so the
/// memory changes only when the shard count (and with it the projected volume) does: a
/// change of the pod template rolls the pods, and the memory store loses its grants with
/// them, so the memory must not roll them on its own.
fn default_resources(tenants: usize) -> ResourceRequirements {
    let counted = (shard_count(tenants) * TENANTS_PER_SHARD) as u64;
    let memory = |bytes: u64| Quantity(mebibytes(bytes));
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), Quantity("50m".into())),
            (
                "memory".to_owned(),
                memory(BASE_MEMORY_REQUEST + REQUEST_PER_TENANT * counted),
            ),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_owned(),
            memory(BASE_MEMORY_LIMIT + LIMIT_PER_TENANT * counted),
        )])),
        ..ResourceRequirements::default()
    }
}

/// `bytes` rounded up to whole mebibytes, as a quantity (`160Mi`).
fn mebibytes(bytes: u64) -> String {
    format!("{}Mi", bytes.div_ceil(1 << 20))
}

/// One projected volume, so Kubernetes swaps every file at once (one `..data` symlink).
fn config_volume(w: &Workload<'_>) -> Volume {
    let config_maps = w.config_maps.iter().map(|name| VolumeProjection {
        config_map: Some(ConfigMapProjection {
            name: name.clone(),
            ..ConfigMapProjection::default()
        }),
        ..VolumeProjection::default()
    });
    let secrets = w.secrets.iter().map(|name| VolumeProjection {
        secret: Some(SecretProjection {
            name: name.clone(),
            ..SecretProjection::default()
        }),
        ..VolumeProjection::default()
    });
    Volume {
        name: "config".into(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(config_maps.chain(secrets).collect()),
            default_mode: Some(0o440),
        }),
        ..Volume::default()
    }
}

pub fn service(w: &Workload<'_>) -> Service {
    Service {
        metadata: meta(w),
        spec: Some(ServiceSpec {
            selector: Some(w.labels.selector()),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: 80,
                target_port: Some(IntOrString::String("http".into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// `maxUnavailable: 1` for every store. With Postgres (two pods unless set otherwise) it keeps
/// at least one pod serving through any drain, like `minAvailable: 1` would, and more: scaled
/// out, all pods but one keep serving, where `minAvailable: 1` would let a drain take all but
/// one. A single pod (the memory store) stays drainable: `minAvailable: 1` would block every
/// drain of its node, and one pod cannot stay up through its own eviction anyway.
pub fn pod_disruption_budget(w: &Workload<'_>) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta(w),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(selector(w)),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: None,
    }
}
