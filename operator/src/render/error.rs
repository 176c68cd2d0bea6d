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
    #[error("user {username}: named like a client, so both would carry the same sub; rename one")]
    SubjectShared { username: String },
}

impl RenderError {
    /// Short machine reason, for condition reasons and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Duration(_) => "InvalidDuration",
            Self::MissingClientSecret { .. } => "MissingClientSecret",
            Self::NoSigningKeys => "NoSigningKeys",
            Self::SubjectShared { .. } => "SubjectShared",
        }
    }
}
