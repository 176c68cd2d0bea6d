//! A tenant's contract files: what one region needs to serve it.

use std::collections::BTreeMap;

use meridian_contract::{
    ClientKind, ClientSecrets, KeyRing, Revision, TenantFile, TenantFilesRef, UserDirectory,
    validate_tenant,
};

use crate::api::Tenant;
use crate::settings::Settings;

use super::{RenderError, tenant_config};

/// Everything about one tenant that a region's desired state depends on, already read and
/// resolved from the hub (key ring, client secret digests, user directory).
#[derive(Debug, Clone, Copy)]
pub struct TenantInputs<'a> {
    pub tenant: &'a Tenant,
    pub name: &'a str,
    pub key_ring: &'a KeyRing,
    pub client_secrets: &'a ClientSecrets,
    pub users: Option<&'a UserDirectory>,
}

/// One tenant's files: public ones for a ConfigMap, sensitive ones for a Secret. File names
/// follow [`TenantFile`]; contents are the serialized contract types.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TenantFiles {
    pub public: BTreeMap<String, String>,
    pub sensitive: BTreeMap<String, String>,
}

impl TenantFiles {
    /// Sorts loose files (as read back from a region's objects) into each tenant's files;
    /// files that are not per-tenant are ignored. The tests' reader of rendered regions: the
    /// operator itself reads a region's files per tenant, and only when it needs them
    /// (`ObservedRegion::last_good`).
    #[cfg(test)]
    pub fn by_tenant<'a>(
        files: impl IntoIterator<Item = (&'a str, String)>,
    ) -> std::collections::HashMap<String, TenantFiles> {
        let mut tenants = std::collections::HashMap::<String, TenantFiles>::new();
        for (name, content) in files {
            if let Some((tenant, kind)) = TenantFile::parse(name) {
                let files = tenants.entry(tenant.to_owned()).or_default();
                let target = if kind.is_secret() {
                    &mut files.sensitive
                } else {
                    &mut files.public
                };
                target.insert(name.to_owned(), content);
            }
        }
        tenants
    }

    pub fn is_empty(&self) -> bool {
        self.public.is_empty() && self.sensitive.is_empty()
    }

    /// The [`Revision`] a region holding exactly these files serves: the auth-server digests
    /// the same bytes, so equal revisions mean the region serves what was written.
    pub fn revision(&self) -> Revision {
        let files = self.public.iter().chain(&self.sensitive);
        Revision::of(files.filter_map(|(name, content)| {
            let (_, kind) = TenantFile::parse(name)?;
            Some((kind, content.as_bytes()))
        }))
    }
}

/// Renders one tenant's files. Fails when the inputs cannot make a serving tenant (a key ring
/// with no key, a confidential client without a secret digest, anything the contract's
/// validation refuses), so the caller can keep the tenant's last good files instead.
pub fn tenant_files(
    inputs: TenantInputs<'_>,
    settings: &Settings,
) -> Result<TenantFiles, RenderError> {
    let config = tenant_config(inputs.name, &inputs.tenant.spec, settings)?;
    // Only the digests of this tenant's confidential clients travel, never stale extras.
    let mut secrets = ClientSecrets::default();
    for client in config
        .clients
        .iter()
        .filter(|c| c.kind == ClientKind::Confidential)
    {
        let digest = inputs
            .client_secrets
            .secrets
            .get(&client.client_id)
            .ok_or_else(|| RenderError::MissingClientSecret {
                client_id: client.client_id.clone(),
            })?;
        secrets
            .secrets
            .insert(client.client_id.clone(), digest.clone());
    }

    // Exactly the checks the auth-server makes before it serves a tenant: what passes here,
    // loads there, so a mistake surfaces on the Tenant instead of in a region's logs.
    validate_tenant(TenantFilesRef {
        config: &config,
        keys: inputs.key_ring,
        clients: &secrets,
        users: inputs.users,
    })
    .map_err(|invalid| RenderError::invalid(invalid, inputs.tenant))?;
    meridian_keys::check_key_ring(inputs.key_ring)?;

    let mut files = TenantFiles::default();
    files
        .public
        .insert(TenantFile::Config.file_name(inputs.name), json(&config));
    files.sensitive.insert(
        TenantFile::Keys.file_name(inputs.name),
        json(inputs.key_ring),
    );
    files
        .sensitive
        .insert(TenantFile::Clients.file_name(inputs.name), json(&secrets));
    if let Some(users) = inputs.users {
        files
            .sensitive
            .insert(TenantFile::Users.file_name(inputs.name), json(users));
    }
    Ok(files)
}

/// Serializing contract types cannot fail: string keys only, no non-finite floats.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("contract types always serialize")
}
