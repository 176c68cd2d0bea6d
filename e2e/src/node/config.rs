//! The configuration files of one node's components, rendered from its directory and
//! addresses. Pure: unit-tested without a node.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use super::network::NodeAddresses;

/// The sandbox image every pod starts with (built here: e2e/tools/pause).
pub const SANDBOX_IMAGE: &str = "registry.k8s.io/pause:3.10";
/// Where Debian's containernetworking-plugins live.
pub const CNI_BIN_DIR: &str = "/usr/lib/cni";

/// How often the kubelet re-reads everything, and with it how soon a changed ConfigMap or
/// Secret reaches a projected volume: kubelet's default is 1 min (plus its cache TTL); the
/// harness's nodes resync every few seconds by default so that a tenant change reaches pods
/// quickly (see [`crate::ClusterOptions::with_kubelet_sync`]).
pub const KUBELET_SYNC_FREQUENCY: Duration = Duration::from_secs(5);
/// The kubelet's own default sync period, as on a production node.
pub const KUBELET_DEFAULT_SYNC_FREQUENCY: Duration = Duration::from_secs(60);

/// The paths of one node under its directory.
#[derive(Clone, Debug)]
pub struct NodeDirs {
    pub root: PathBuf,
}

impl NodeDirs {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn at(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn containerd_config(&self) -> PathBuf {
        self.at("containerd.toml")
    }
    pub fn containerd_root(&self) -> PathBuf {
        self.at("containerd/root")
    }
    pub fn containerd_state(&self) -> PathBuf {
        self.at("containerd/state")
    }
    pub fn containerd_socket(&self) -> PathBuf {
        self.at("containerd/containerd.sock")
    }
    pub fn containerd_log(&self) -> PathBuf {
        self.at("containerd.log")
    }
    pub fn cni_conf_dir(&self) -> PathBuf {
        self.at("cni/net.d")
    }
    pub fn cni_ipam_dir(&self) -> PathBuf {
        self.at("cni/ipam")
    }
    pub fn kubelet_config(&self) -> PathBuf {
        self.at("kubelet.yaml")
    }
    pub fn kubelet_root(&self) -> PathBuf {
        self.at("kubelet")
    }
    pub fn kubelet_kubeconfig(&self) -> PathBuf {
        self.at("kubelet.kubeconfig")
    }
    pub fn kubelet_log(&self) -> PathBuf {
        self.at("kubelet.log")
    }
    pub fn pod_logs(&self) -> PathBuf {
        self.at("pods")
    }
    pub fn kube_proxy_config(&self) -> PathBuf {
        self.at("kube-proxy.yaml")
    }
    pub fn kube_proxy_kubeconfig(&self) -> PathBuf {
        self.at("kube-proxy.kubeconfig")
    }
    pub fn kube_proxy_log(&self) -> PathBuf {
        self.at("kube-proxy.log")
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// containerd with its own root, state and socket; the CRI plugin with the local sandbox
/// image and this node's CNI configuration. `restrict_oom_score_adj`: root on CI's machines
/// lacks CAP_SYS_RESOURCE, so the kubelet's negative OOM score for sandboxes would make runc
/// fail (`can't get final child's PID from pipe: EOF`).
pub fn containerd_config(dirs: &NodeDirs) -> String {
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"

[grpc]
  address = "{socket}"

[ttrpc]
  address = "{socket}.ttrpc"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{SANDBOX_IMAGE}"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{cni}"
"#,
        root = path(&dirs.containerd_root()),
        state = path(&dirs.containerd_state()),
        socket = path(&dirs.containerd_socket()),
        cni = path(&dirs.cni_conf_dir()),
    )
}

/// A bridge in the node's namespace, addresses from the node's pod range, masquerade for
/// traffic leaving it, and port mappings (`hostPort`).
pub fn cni_config(dirs: &NodeDirs, a: &NodeAddresses) -> String {
    let document = json!({
        "cniVersion": "1.0.0",
        "name": "meridian-node",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": true,
                "ipMasq": true,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "dataDir": path(&dirs.cni_ipam_dir()),
                    "ranges": [[{"subnet": a.pod_cidr()}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": true}},
        ],
    });
    serde_json::to_string_pretty(&document).expect("JSON always serialises")
}

/// The kubelet: this machine's cgroup layout (v1 with a v2 hierarchy beside it, so
/// `failCgroupV1: false` and the cgroupfs driver), the node's own cgroup root, no swap or
/// node-allocatable enforcement (the machine is shared with the tests), webhook
/// authentication off (nothing but the API server's health checks would call it), and the
/// given sync period (how soon ConfigMap and Secret changes reach pods).
pub fn kubelet_config(dirs: &NodeDirs, a: &NodeAddresses, sync: Duration) -> String {
    let document = json!({
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": false,
        "cgroupDriver": "cgroupfs",
        "cgroupsPerQOS": true,
        "cgroupRoot": format!("/{}", a.cgroup()),
        "enforceNodeAllocatable": [],
        "failSwapOn": false,
        "address": a.node_ip().to_string(),
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "readOnlyPort": 0,
        "authentication": {"anonymous": {"enabled": false}, "webhook": {"enabled": false},
                           "x509": {}},
        "authorization": {"mode": "AlwaysAllow"},
        "containerRuntimeEndpoint": format!("unix://{}", path(&dirs.containerd_socket())),
        "podLogsDir": path(&dirs.pod_logs()),
        "syncFrequency": format!("{}s", sync.as_secs().max(1)),
        "nodeStatusUpdateFrequency": "5s",
        "configMapAndSecretChangeDetectionStrategy": "Watch",
        "serializeImagePulls": false,
        "rotateCertificates": false,
        "serverTLSBootstrap": false,
        "registerNode": true,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                         "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100,
        "shutdownGracePeriod": "0s",
    });
    serde_yaml::to_string(&document).expect("JSON always serialises to YAML")
}

/// kube-proxy in iptables mode in the node's namespace. It touches no sysctl it cannot set
/// there: conntrack sizes and timeouts are left as they are, and NodePorts are not served on
/// localhost (which needs `route_localnet`).
pub fn kube_proxy_config(dirs: &NodeDirs, a: &NodeAddresses, node: &str) -> String {
    let document = json!({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": path(&dirs.kube_proxy_kubeconfig())},
        "mode": "iptables",
        "clusterCIDR": a.pod_cidr(),
        "hostnameOverride": node,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        "iptables": {"localhostNodePorts": false, "syncPeriod": "10s", "minSyncPeriod": "0s"},
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s",
                      "tcpCloseWaitTimeout": "0s"},
    });
    serde_yaml::to_string(&document).expect("JSON always serialises to YAML")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> (NodeDirs, NodeAddresses) {
        (
            NodeDirs::new(PathBuf::from("/tmp/x/eu-west/node")),
            NodeAddresses::for_slot(3),
        )
    }

    #[test]
    fn the_kubelet_keeps_its_pods_in_its_own_cgroup_and_talks_to_its_own_containerd() {
        let (dirs, a) = node();
        let config: serde_yaml::Value =
            serde_yaml::from_str(&kubelet_config(&dirs, &a, KUBELET_SYNC_FREQUENCY)).unwrap();
        assert_eq!(config["cgroupRoot"], "/meridian-node-3");
        assert_eq!(
            config["containerRuntimeEndpoint"],
            "unix:///tmp/x/eu-west/node/containerd/containerd.sock"
        );
        assert_eq!(config["address"], "10.250.3.2");
        assert_eq!(config["podLogsDir"], "/tmp/x/eu-west/node/pods");
        assert_eq!(config["authentication"]["anonymous"]["enabled"], false);
    }

    #[test]
    fn pods_get_addresses_from_the_nodes_range() {
        let (dirs, a) = node();
        let config: serde_json::Value = serde_json::from_str(&cni_config(&dirs, &a)).unwrap();
        let bridge = &config["plugins"][0];
        assert_eq!(bridge["ipam"]["ranges"][0][0]["subnet"], "10.251.3.0/24");
        assert_eq!(bridge["ipam"]["dataDir"], "/tmp/x/eu-west/node/cni/ipam");
    }

    #[test]
    fn containerd_has_its_own_root_and_this_nodes_cni_configuration() {
        let (dirs, _) = node();
        let config = containerd_config(&dirs);
        assert!(config.contains(r#"root = "/tmp/x/eu-west/node/containerd/root""#));
        assert!(config.contains(r#"conf_dir = "/tmp/x/eu-west/node/cni/net.d""#));
        assert!(config.contains("restrict_oom_score_adj = true"));
        assert!(config.contains(SANDBOX_IMAGE));
    }

    #[test]
    fn kube_proxy_treats_the_nodes_pod_range_as_the_cluster() {
        let (dirs, a) = node();
        let config: serde_yaml::Value =
            serde_yaml::from_str(&kube_proxy_config(&dirs, &a, "eu-west-node")).unwrap();
        assert_eq!(config["clusterCIDR"], "10.251.3.0/24");
        assert_eq!(config["hostnameOverride"], "eu-west-node");
        assert_eq!(config["mode"], "iptables");
    }
}
