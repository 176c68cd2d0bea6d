//! Why a contract key is unusable. These errors reach logs, conditions and metrics, so each
//! names its key by `kid` and none quotes the key's PEM.

/// A key that cannot be used, with the `kid` the key ring gave it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("key {kid}: private key is not PEM")]
    MalformedPem { kid: String },
    /// `reason` is ring's label for the refusal (such as `InvalidEncoding`), not key content.
    #[error("key {kid}: private key refused: {reason}")]
    Rejected { kid: String, reason: String },
    #[error("key {kid}: kid is not the key's RFC 7638 thumbprint ({thumbprint})")]
    KidMismatch { kid: String, thumbprint: String },
}

impl KeyError {
    /// A short machine label, for condition reasons, log fields and metrics.
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::MalformedPem { .. } => "MalformedKey",
            Self::Rejected { .. } => "KeyRejected",
            Self::KidMismatch { .. } => "KidMismatch",
        }
    }
}
