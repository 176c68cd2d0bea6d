//! What can go wrong with a region, in words for conditions and Events. Messages never quote
//! a Secret's content.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegionError {
    #[error("kubeconfig Secret {namespace}/{name} not found")]
    KubeconfigSecretMissing { namespace: String, name: String },
    #[error("kubeconfig Secret {namespace}/{name} has no key {key:?}")]
    KubeconfigKeyMissing {
        namespace: String,
        name: String,
        key: String,
    },
    #[error("kubeconfig Secret {namespace}/{name} key {key:?} does not hold a usable kubeconfig")]
    KubeconfigInvalid {
        namespace: String,
        name: String,
        key: String,
    },
    #[error(
        "store Secret {namespace}/{name} (key {key:?}) not found in the region; the region keeps its last applied state until it exists"
    )]
    StoreSecretMissing {
        namespace: String,
        name: String,
        key: String,
    },
    #[error(
        "store Secret {namespace}/{name} has no key {key:?} (or its value is empty); the region keeps its last applied state until it does"
    )]
    StoreSecretKeyMissing {
        namespace: String,
        name: String,
        key: String,
    },
    #[error("spec.authServer.store.uriSecretRef is required when kind is Postgres")]
    StoreSecretRefMissing,
    #[error("region API server unreachable: {0}")]
    Unreachable(String),
    #[error("region API server refused {verb} {kind} {name}: {message}")]
    Write {
        verb: &'static str,
        kind: &'static str,
        name: String,
        message: String,
    },
    #[error("reading {kind} from the region failed: {message}")]
    Read { kind: &'static str, message: String },
}

impl RegionError {
    /// Short machine reason, for condition reasons and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::KubeconfigSecretMissing { .. } => "KubeconfigSecretMissing",
            Self::KubeconfigKeyMissing { .. } => "KubeconfigKeyMissing",
            Self::KubeconfigInvalid { .. } => "KubeconfigInvalid",
            Self::StoreSecretMissing { .. } => "StoreSecretMissing",
            Self::StoreSecretKeyMissing { .. } => "StoreSecretKeyMissing",
            Self::StoreSecretRefMissing => "StoreSecretRefMissing",
            Self::Unreachable(_) => "Unreachable",
            Self::Write { .. } => "WriteFailed",
            Self::Read { .. } => "ReadFailed",
        }
    }

    /// Whether the region's API server was reached: not when it is unreachable or the
    /// kubeconfig to reach it is missing or broken.
    pub fn reached_api_server(&self) -> bool {
        !matches!(
            self,
            Self::Unreachable(_)
                | Self::KubeconfigSecretMissing { .. }
                | Self::KubeconfigKeyMissing { .. }
                | Self::KubeconfigInvalid { .. }
        )
    }
}

/// Sorts a kube error into unreachable (transport, timeouts) or a refusal with its message.
pub fn classify(error: kube::Error, on_refusal: impl FnOnce(String) -> RegionError) -> RegionError {
    match error {
        kube::Error::Api(status) => on_refusal(status.message.clone()),
        other => RegionError::Unreachable(other.to_string()),
    }
}
