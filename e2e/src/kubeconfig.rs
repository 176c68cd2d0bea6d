//! Kubeconfig documents for the clusters and the `kube::Client`s built from them.
//!
//! Credentials are embedded (`*-data` fields), never file paths, so a kubeconfig can be put in
//! a Secret as-is: the operator reads region kubeconfigs from Secrets in the hub.

use base64::{Engine, engine::general_purpose::STANDARD};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;

use crate::{error::Result, pki::KeyAndCert};

/// How a kubeconfig user proves who it is.
pub(crate) enum Credentials<'a> {
    ClientCertificate(&'a KeyAndCert),
    BearerToken(&'a str),
}

/// A single-context kubeconfig for `server`, trusting `ca_pem`.
pub(crate) fn render(
    cluster: &str,
    server: &str,
    ca_pem: &str,
    user: &str,
    credentials: Credentials<'_>,
) -> String {
    let user_fields = match credentials {
        Credentials::ClientCertificate(pair) => json!({
            "client-certificate-data": STANDARD.encode(&pair.cert_pem),
            "client-key-data": STANDARD.encode(&pair.key_pem),
        }),
        Credentials::BearerToken(token) => json!({ "token": token }),
    };
    let document = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{
            "name": cluster,
            "cluster": {
                "server": server,
                "certificate-authority-data": STANDARD.encode(ca_pem),
            },
        }],
        "users": [{ "name": user, "user": user_fields }],
        "contexts": [{ "name": cluster, "context": { "cluster": cluster, "user": user } }],
        "current-context": cluster,
    });
    serde_yaml::to_string(&document).expect("a JSON value always serialises to YAML")
}

/// The `kube::Config` a kubeconfig document describes.
pub(crate) async fn config(yaml: &str) -> Result<kube::Config> {
    let kubeconfig = Kubeconfig::from_yaml(yaml)?;
    Ok(kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?)
}

/// A client from a config. Needs a running tokio runtime (kube spawns its request buffer).
pub(crate) fn client(config: kube::Config) -> Result<kube::Client> {
    Ok(kube::Client::try_from(config)?)
}
