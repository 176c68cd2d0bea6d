//! What can go wrong while starting or driving test control planes.
//!
//! Every variant says in a tester's words what failed; a start failure names the component and
//! carries the tail of its log, so a red test explains itself without digging in temp dirs.

use std::{fmt, path::PathBuf, time::Duration};

/// A control-plane process the harness runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Etcd,
    KubeApiserver,
    KubeControllerManager,
    /// Meridian's auth-server, as a process of its own (see `auth_server`).
    AuthServer,
    /// A throwaway PostgreSQL server (see `postgres`).
    Postgres,
    /// Debian's HAProxy: the issuer's front door or the API gateway (see `haproxy`).
    HaProxy,
    KubeScheduler,
    /// A node's container runtime (Debian's containerd, see `node`).
    Containerd,
    Kubelet,
    KubeProxy,
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Component::Etcd => "etcd",
            Component::KubeApiserver => "kube-apiserver",
            Component::KubeControllerManager => "kube-controller-manager",
            Component::AuthServer => "meridian-auth-server",
            Component::Postgres => "postgres",
            Component::HaProxy => "haproxy",
            Component::KubeScheduler => "kube-scheduler",
            Component::Containerd => "containerd",
            Component::Kubelet => "kubelet",
            Component::KubeProxy => "kube-proxy",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("control-plane binaries unavailable: {0}")]
    Binaries(String),

    #[error(
        "{component} of cluster {cluster} failed: {reason}\n--- last lines of {} ---\n{log_tail}",
        log.display()
    )]
    ComponentFailed {
        cluster: String,
        component: Component,
        reason: String,
        log: PathBuf,
        log_tail: String,
    },

    #[error("could not {action}: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },

    #[error("could not generate certificates: {0}")]
    Certificate(#[from] rcgen::Error),

    #[error("kubeconfig rejected by kube: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),

    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kube::Error),

    #[error("audit log {} is unreadable: {reason}", path.display())]
    Audit { path: PathBuf, reason: String },

    #[error("gave up after {waited:?} waiting for {what}")]
    Timeout { what: String, waited: Duration },

    #[error("cluster {0} is not part of this test")]
    UnknownCluster(String),

    #[error("TokenRequest for service account {0} answered without a token")]
    NoToken(String),

    #[error("PostgreSQL: could not {action}: {reason}")]
    Postgres { action: String, reason: String },

    #[error("node {node}: {step} failed: {reason}")]
    Node {
        node: String,
        step: String,
        reason: String,
    },
}

impl Error {
    /// A short machine reason, stable for logs and assertions.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Binaries(_) => "BinariesUnavailable",
            Error::ComponentFailed { .. } => "ComponentFailed",
            Error::Io { .. } => "Io",
            Error::Certificate(_) => "Certificate",
            Error::Kubeconfig(_) => "Kubeconfig",
            Error::Kube(_) => "KubeApi",
            Error::Audit { .. } => "AuditLog",
            Error::Timeout { .. } => "Timeout",
            Error::UnknownCluster(_) => "UnknownCluster",
            Error::NoToken(_) => "NoToken",
            Error::Postgres { .. } => "Postgres",
            Error::Node { .. } => "Node",
        }
    }

    pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let action = action.into();
        move |source| Error::Io { action, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
