//! Who a test acts as in a cluster: users with their own client certificates, impersonated
//! users, service accounts with TokenRequest tokens; and the real CLI tools (`kubectl`, `helm`)
//! pointed at the cluster.
//!
//! The admin identity is for setting up; a component under test should run as the identity
//! it has in production, so that RBAC and the audit log see it as what it is.

use std::{process::Command, time::Duration};

use k8s_openapi::api::{
    authentication::v1::{TokenRequest, TokenRequestSpec},
    core::v1::ServiceAccount,
};
use kube::api::{Api, PostParams};

use crate::{
    cluster::Cluster,
    error::{Error, Result},
    kubeconfig::{self, Credentials},
};

impl Cluster {
    /// A kubeconfig (credentials embedded) for `user`, authenticated by a client certificate
    /// from this cluster's CA, in `group` if given. The user has no permissions until RBAC
    /// grants them.
    pub fn kubeconfig_for_user(&self, user: &str, group: Option<&str>) -> Result<String> {
        let pair = self.ca.client(user, group)?;
        Ok(kubeconfig::render(
            &self.name,
            &self.server_url(),
            self.ca_pem(),
            user,
            Credentials::ClientCertificate(&pair),
        ))
    }

    /// A client authenticated as `user` by a client certificate (see [`Self::kubeconfig_for_user`]).
    pub async fn client_for_user(&self, user: &str, group: Option<&str>) -> Result<kube::Client> {
        let config = kubeconfig::config(&self.kubeconfig_for_user(user, group)?).await?;
        kubeconfig::client(config)
    }

    /// A client of the admin that impersonates `user` in `groups`: requests are authorised (and
    /// audited) as that user. Any number of groups, e.g. a service account's
    /// `system:serviceaccounts` and `system:serviceaccounts:<namespace>`.
    pub fn client_impersonating(&self, user: &str, groups: &[&str]) -> Result<kube::Client> {
        let mut config = self.admin_config.clone();
        config.auth_info.impersonate = Some(user.to_string());
        config.auth_info.impersonate_groups = Some(groups.iter().map(|g| g.to_string()).collect());
        kubeconfig::client(config)
    }

    /// A token for ServiceAccount `namespace/name` from the TokenRequest API, as a projected
    /// token volume would hold. `audiences` empty means the API server's own audience.
    pub async fn service_account_token(
        &self,
        namespace: &str,
        name: &str,
        audiences: &[&str],
        lifetime: Duration,
    ) -> Result<String> {
        let request = TokenRequest {
            spec: TokenRequestSpec {
                audiences: audiences.iter().map(|a| a.to_string()).collect(),
                expiration_seconds: Some(lifetime.as_secs() as i64),
                ..Default::default()
            },
            ..Default::default()
        };
        let api: Api<ServiceAccount> = Api::namespaced(self.client(), namespace);
        let issued: TokenRequest = api
            .create_subresource("token", name, &PostParams::default(), &request)
            .await?;
        issued
            .status
            .map(|status| status.token)
            .ok_or_else(|| Error::NoToken(format!("{namespace}/{name}")))
    }

    /// A kubeconfig (token embedded) that authenticates with a bearer `token`.
    pub fn kubeconfig_with_token(&self, user: &str, token: &str) -> String {
        kubeconfig::render(
            &self.name,
            &self.server_url(),
            self.ca_pem(),
            user,
            Credentials::BearerToken(token),
        )
    }

    /// A client that authenticates with a bearer `token` (e.g. from [`Self::service_account_token`]).
    pub async fn client_with_token(&self, token: &str) -> Result<kube::Client> {
        let config = kubeconfig::config(&self.kubeconfig_with_token("token-user", token)).await?;
        kubeconfig::client(config)
    }

    /// `kubectl --kubeconfig <admin kubeconfig>`, with a discovery cache private to this cluster
    /// (ports are reused across test runs, so a shared cache could describe another cluster).
    pub fn kubectl(&self) -> Command {
        let mut command = Command::new("kubectl");
        command
            .arg("--kubeconfig")
            .arg(self.kubeconfig_path())
            .arg("--cache-dir")
            .arg(self.dir().join("kubectl-cache"));
        command
    }

    /// The built `helm` with `--kubeconfig <admin kubeconfig>`, its cache, config and data kept
    /// in the cluster's directory rather than the user's home.
    pub fn helm(&self) -> Result<Command> {
        let mut command = Command::new(self.binaries.helm()?);
        command
            .arg("--kubeconfig")
            .arg(self.kubeconfig_path())
            .env("HELM_CACHE_HOME", self.dir().join("helm/cache"))
            .env("HELM_CONFIG_HOME", self.dir().join("helm/config"))
            .env("HELM_DATA_HOME", self.dir().join("helm/data"));
        Ok(command)
    }
}
