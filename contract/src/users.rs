//! A tenant's user directory.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::TenantConfig;

/// `<tenant>.users.json`. The same format is what a Tenant's `users.secretRef` points at in the
/// hub, so the operator copies it (to regions where residency allows) without translation.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserDirectory {
    pub users: Vec<User>,
}

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct User {
    /// Login name, unique within the tenant; the `sub` claim.
    pub username: String,
    /// Argon2id PHC string (`$argon2id$v=19$...`). Never logged.
    pub password_hash: String,
    /// Claims for the ID token and userinfo (`email`, `name`, ...).
    #[serde(default)]
    pub claims: BTreeMap<String, serde_json::Value>,
    /// Where this user's data lives; the `region` claim. The tenant's home region when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_region: Option<String>,
}

impl UserDirectory {
    /// A user named like one of the tenant's clients, if any. A client-credentials token's
    /// `sub` is the client id and a user's is the username, so such a pair would make two
    /// principals one to every resource server: both sides refuse the directory.
    pub fn user_named_like_a_client<'a>(&'a self, tenant: &TenantConfig) -> Option<&'a str> {
        self.users
            .iter()
            .map(|user| user.username.as_str())
            .find(|name| tenant.clients.iter().any(|c| c.client_id == *name))
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("password_hash", &"<redacted>")
            .field("home_region", &self.home_region)
            .finish_non_exhaustive()
    }
}
