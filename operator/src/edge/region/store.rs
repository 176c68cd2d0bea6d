//! Whether the Secret an AuthRegion's Postgres store names exists in the region, next to the
//! auth-servers, and holds its key: pods started without it cannot run, so the region is not
//! changed until it does. Only the Secret's key names (and whether a value is empty) are looked
//! at; the URI is never logged, put in an Event or status, or kept after the check.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use super::error::{RegionError, classify};
use crate::api::{RegionSecretKeyRef, STORE_URI_DEFAULT_KEY, StoreKind, StoreSpec};

/// Reads the store's URI Secret from the region's `namespace` (Postgres only; the memory store
/// needs nothing) and says whether pods could start with it.
pub async fn check_store(
    client: &Client,
    namespace: &str,
    store: &StoreSpec,
) -> Result<(), RegionError> {
    if store.kind == StoreKind::Memory {
        return Ok(());
    }
    // Admission requires the reference; a CRD older than the operator might not have.
    let uri = store
        .uri_secret_ref
        .as_ref()
        .ok_or(RegionError::StoreSecretRefMissing)?;
    // A GET returns the data too: there is no way to list a Secret's keys without it. It is
    // dropped as soon as its keys are checked.
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(&uri.name)
        .await
        .map_err(|e| {
            classify(e, |message| RegionError::Read {
                kind: "Secret",
                message,
            })
        })?;
    store_secret_usable(secret.as_ref(), namespace, uri)
}

/// An empty value counts as missing: the auth-server would start with no URI and fail.
fn store_secret_usable(
    secret: Option<&Secret>,
    namespace: &str,
    uri: &RegionSecretKeyRef,
) -> Result<(), RegionError> {
    let key = uri.key_or(STORE_URI_DEFAULT_KEY);
    let names = || (namespace.to_owned(), uri.name.clone(), key.to_owned());
    let Some(secret) = secret else {
        let (namespace, name, key) = names();
        return Err(RegionError::StoreSecretMissing {
            namespace,
            name,
            key,
        });
    };
    let has_value = secret
        .data
        .as_ref()
        .and_then(|data| data.get(key))
        .is_some_and(|value| !value.0.is_empty());
    if has_value {
        return Ok(());
    }
    let (namespace, name, key) = names();
    Err(RegionError::StoreSecretKeyMissing {
        namespace,
        name,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(entries: &[(&str, &str)]) -> Secret {
        Secret {
            data: Some(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Secret::default()
        }
    }

    fn reference(key: Option<&str>) -> RegionSecretKeyRef {
        RegionSecretKeyRef {
            name: "pg-app".into(),
            key: key.map(str::to_owned),
        }
    }

    #[test]
    fn a_secret_holding_the_default_key_is_usable() {
        let found = secret(&[("uri", "postgres://u:p@db/app"), ("password", "p")]);
        assert!(store_secret_usable(Some(&found), "auth", &reference(None)).is_ok());
    }

    #[test]
    fn a_missing_secret_names_namespace_name_and_key() {
        let error = store_secret_usable(None, "auth", &reference(None)).unwrap_err();
        assert_eq!(error.reason(), "StoreSecretMissing");
        let message = error.to_string();
        assert!(message.contains("auth/pg-app"), "{message}");
        assert!(message.contains("\"uri\""), "{message}");
    }

    #[test]
    fn a_missing_or_empty_key_is_refused_without_quoting_any_value() {
        let found = secret(&[("uri", "postgres://u:hunter2@db/app"), ("dsn", "")]);
        for key in ["jdbc-uri", "dsn"] {
            let error =
                store_secret_usable(Some(&found), "auth", &reference(Some(key))).unwrap_err();
            assert_eq!(error.reason(), "StoreSecretKeyMissing");
            let message = error.to_string();
            assert!(message.contains(&format!("{key:?}")), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }
}
