//! Why a tenant could not be rendered.

use meridian_contract::{Invalid, Problem};
use thiserror::Error;

use crate::api::Tenant;
use crate::duration::InvalidDuration;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum RenderError {
    #[error(transparent)]
    Duration(#[from] InvalidDuration),
    #[error("client {client_id}: no secret digest, so it could not authenticate")]
    MissingClientSecret { client_id: String },
    /// Refused by the validation the auth-server runs too; `field` is where the Tenant's owner
    /// fixes it (a spec field, or the Secret the Tenant references).
    #[error("{field}: {}", problem.describe())]
    Invalid { field: String, problem: Problem },
    /// A key the auth-server could not load (its kid is not its thumbprint, its PEM does not
    /// parse); the key ring Secret in the hub is the operator's own, so this means tampering.
    #[error("the key ring Secret: {0}")]
    Key(#[from] meridian_keys::KeyError),
}

impl RenderError {
    /// Short machine reason, for condition reasons and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Duration(_) => "InvalidDuration",
            Self::MissingClientSecret { .. } => "MissingClientSecret",
            Self::Invalid { problem, .. } => problem.reason(),
            Self::Key(error) => error.reason(),
        }
    }

    /// The contract's finding, with its field translated from the files' terms to the
    /// Tenant's: `claims["typ"]` is `spec.claims["typ"]`, a user's field is in the users Secret.
    pub fn invalid(invalid: Invalid, tenant: &Tenant) -> Self {
        let Invalid { field, problem } = invalid;
        let field = if field.starts_with("users[") {
            match &tenant.spec.users {
                Some(users) => format!(
                    "Secret {} key {:?}: {field}",
                    users.secret_ref.name,
                    users.secret_ref.key_or(crate::edge::hub::USERS_DEFAULT_KEY)
                ),
                None => field,
            }
        } else if field.starts_with("keys") {
            format!("the key ring Secret: {field}")
        } else if let Some(lifetime) = field.strip_prefix("tokens.") {
            let ttl = lifetime.replace("Seconds", "Ttl");
            format!("spec.tokens.{ttl}")
        } else {
            format!("spec.{field}")
        };
        Self::Invalid { field, problem }
    }
}
