//! Why a region's auth-servers do not serve, in a tester's words, with the log tail of the
//! one that failed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    #[error("the auth-server binary is unavailable: {0}")]
    Binary(String),

    #[error("public URL {0} is not http://<loopback ip>:<port>")]
    PublicUrl(String),

    #[error("could not {action}: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    PodFailed(Box<PodFailure>),

    #[error("auth-servers of region {region} not ready after {waited:?}: {detail}")]
    NotReady {
        region: String,
        waited: Duration,
        detail: String,
    },

    #[error("region {region} runs no auth-server {deployment}")]
    UnknownDeployment { region: String, deployment: String },

    #[error("region {region} runs no auth-server pod {pod}")]
    UnknownPod { region: String, pod: String },
}

/// An auth-server that exited: where it ran, what it died of, and its last log lines.
#[derive(Debug)]
pub struct PodFailure {
    pub region: String,
    pub deployment: String,
    /// `<deployment>-<ordinal>`.
    pub pod: String,
    pub listen: SocketAddr,
    pub reason: String,
    pub log: PathBuf,
    pub log_tail: String,
}

impl std::fmt::Display for PodFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "auth-server {} of region {} (on {}) failed: {}\n--- last lines of {} ---\n{}",
            self.pod,
            self.region,
            self.listen,
            self.reason,
            self.log.display(),
            self.log_tail
        )
    }
}

impl KubeletError {
    /// A short machine reason, stable for logs and assertions.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Binary(_) => "BinaryUnavailable",
            Self::PublicUrl(_) => "PublicUrl",
            Self::Io { .. } => "Io",
            Self::PodFailed(_) => "PodFailed",
            Self::NotReady { .. } => "NotReady",
            Self::UnknownDeployment { .. } => "UnknownDeployment",
            Self::UnknownPod { .. } => "UnknownPod",
        }
    }
}
