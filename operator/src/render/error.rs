//! Why a tenant could not be rendered.

use thiserror::Error;

use crate::duration::InvalidDuration;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RenderError {
    #[error(transparent)]
    Duration(#[from] InvalidDuration),
    #[error("client {client_id}: no secret digest, so it could not authenticate")]
    MissingClientSecret { client_id: String },
    #[error("tenant has no signing key yet")]
    NoSigningKeys,
}

impl RenderError {
    /// Short machine reason, for condition reasons and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Duration(_) => "InvalidDuration",
            Self::MissingClientSecret { .. } => "MissingClientSecret",
            Self::NoSigningKeys => "NoSigningKeys",
        }
    }
}
