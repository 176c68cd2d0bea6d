//! Resolving a Tenant's references into the inputs of its contract files, from the cached
//! Secrets of the operator's namespace. Errors name the Secret and key, never their content.

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{ObjectRef, Store};
use meridian_contract::{ClientSecrets, KeyRing, SecretDigest, UserDirectory};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::key_ring::{KEY_RING_FILE, key_ring_secret_name};
use crate::api::Tenant;

const CLIENT_SECRET_DEFAULT_KEY: &str = "clientSecret";
/// The key of a users Secret when the Tenant names none.
pub const USERS_DEFAULT_KEY: &str = "users.json";

/// A tenant's resolved inputs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HubInputs {
    pub key_ring: KeyRing,
    pub client_secrets: ClientSecrets,
    pub users: Option<UserDirectory>,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum InputError {
    /// The tenant's key ring is not there yet: the Tenant controller creates it.
    #[error("key ring Secret {name} not created yet")]
    KeyRingPending { name: String },
    #[error("Secret {name} not found in the operator's namespace")]
    SecretMissing { name: String },
    #[error("Secret {name} has no key {key:?}")]
    KeyMissing { name: String, key: String },
    #[error("Secret {name} key {key:?} is not a valid {what}")]
    Malformed {
        name: String,
        key: String,
        what: &'static str,
    },
}

impl InputError {
    pub fn reason(&self) -> &'static str {
        match self {
            Self::KeyRingPending { .. } => "KeyRingPending",
            Self::SecretMissing { .. } => "SecretMissing",
            Self::KeyMissing { .. } => "SecretKeyMissing",
            Self::Malformed { .. } => "SecretMalformed",
        }
    }
}

/// The Secrets [`hub_inputs`] reads for tenant `name`, by name.
fn input_secrets<'a>(tenant: &'a Tenant, key_ring: &'a str) -> impl Iterator<Item = &'a str> {
    let clients = tenant.spec.clients.iter();
    let clients = clients.filter_map(|c| c.secret_ref.as_ref().map(|r| r.name.as_str()));
    let users = tenant.spec.users.iter().map(|u| u.secret_ref.name.as_str());
    std::iter::once(key_ring).chain(clients).chain(users)
}

/// What [`hub_inputs`] would read for tenant `name`, as a number that changes whenever its
/// result may: the Tenant's uid and generation and the resourceVersion (or absence) of every
/// Secret it reads. Costs a few cache lookups, where reading the inputs parses them.
pub fn inputs_version(
    tenant: &Tenant,
    name: &str,
    secrets: &Store<Secret>,
    namespace: &str,
) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    (&tenant.metadata.uid, tenant.metadata.generation).hash(&mut hasher);
    let key_ring = key_ring_secret_name(name);
    for secret in input_secrets(tenant, &key_ring) {
        let cached = secrets.get(&ObjectRef::new(secret).within(namespace));
        let version = cached.and_then(|s| s.metadata.resource_version.clone());
        (secret, version).hash(&mut hasher);
    }
    hasher.finish()
}

/// Reads everything tenant `name` needs from the cached Secrets of `namespace`.
pub fn hub_inputs(
    tenant: &Tenant,
    name: &str,
    secrets: &Store<Secret>,
    namespace: &str,
) -> Result<HubInputs, InputError> {
    let read = |secret: &str, key: &str| read_key(secrets, namespace, secret, key);

    let key_ring_name = key_ring_secret_name(name);
    let key_ring = match read(&key_ring_name, KEY_RING_FILE) {
        Err(InputError::SecretMissing { name }) => Err(InputError::KeyRingPending { name }),
        read => read,
    };
    let key_ring = parse(&key_ring_name, KEY_RING_FILE, &key_ring?, "key ring")?;

    let mut client_secrets = ClientSecrets::default();
    for client in &tenant.spec.clients {
        if let Some(reference) = &client.secret_ref {
            let secret = read(&reference.name, reference.key_or(CLIENT_SECRET_DEFAULT_KEY))?;
            let digest: [u8; 32] = Sha256::digest(&secret).into();
            client_secrets
                .secrets
                .insert(client.client_id.clone(), SecretDigest::from_sha256(digest));
        }
    }

    let users = match &tenant.spec.users {
        None => None,
        Some(users) => {
            let key = users.secret_ref.key_or(USERS_DEFAULT_KEY);
            Some(parse(
                &users.secret_ref.name,
                key,
                &read(&users.secret_ref.name, key)?,
                "user directory",
            )?)
        }
    };
    Ok(HubInputs {
        key_ring,
        client_secrets,
        users,
    })
}

fn read_key(
    secrets: &Store<Secret>,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<Vec<u8>, InputError> {
    let secret = secrets
        .get(&ObjectRef::new(name).within(namespace))
        .ok_or_else(|| InputError::SecretMissing {
            name: name.to_owned(),
        })?;
    secret
        .data
        .as_ref()
        .and_then(|data| data.get(key))
        .map(|bytes| bytes.0.clone())
        .ok_or_else(|| InputError::KeyMissing {
            name: name.to_owned(),
            key: key.to_owned(),
        })
}

/// Parses JSON; the parser's message is dropped because it may quote the content.
fn parse<T: serde::de::DeserializeOwned>(
    name: &str,
    key: &str,
    bytes: &[u8],
    what: &'static str,
) -> Result<T, InputError> {
    serde_json::from_slice(bytes).map_err(|_| InputError::Malformed {
        name: name.to_owned(),
        key: key.to_owned(),
        what,
    })
}
