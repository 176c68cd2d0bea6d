//! Back-channel logout delivery (OIDC Back-Channel Logout 1.0 §2.5): when a session ends, a
//! signed logout token is POSTed to each of its clients' registered `backchannel_logout_uri`.
//!
//! Delivery runs in background tasks, after the user's answer is sent: a slow or dead relying
//! party never delays a logout. Each delivery is tried a bounded number of times with a growing
//! pause, and only where retrying can help (no answer, or a 5xx); a 4xx is the relying
//! party's final word (§2.8). Logs name tenant and client, never the token.

use std::sync::Arc;
use std::time::Duration;

use meridian_contract::UnixSeconds;

use crate::issue;
use crate::store::Session;
use crate::tenant::Tenant;

/// How deliveries are tried.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryPolicy {
    /// Tries per logout token, the first included.
    pub attempts: u32,
    /// Pause before the second try; doubled before each further one.
    pub first_pause: Duration,
    /// How long one try may take.
    pub timeout: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            first_pause: Duration::from_millis(500),
            timeout: Duration::from_secs(5),
        }
    }
}

/// Sends logout tokens; cheap to clone.
#[derive(Clone)]
pub struct Backchannel {
    http: reqwest::Client,
    policy: DeliveryPolicy,
}

impl Backchannel {
    pub fn new(policy: DeliveryPolicy) -> Self {
        let http = reqwest::Client::builder()
            // A logout token is for the registered URI only: never follow it elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(policy.timeout)
            .build()
            .expect("HTTP client for back-channel logout");
        Self { http, policy }
    }

    /// Starts one delivery per client of the ended session that registered a URI; returns at
    /// once.
    pub fn session_ended(
        &self,
        tenant: &Arc<Tenant>,
        session: &Session,
        sid: &str,
        now: UnixSeconds,
    ) {
        let Some(signer) = tenant.signer(now) else {
            tracing::warn!(
                tenant = tenant.id(),
                "no active signing key: logout tokens not sent"
            );
            return;
        };
        for client in session.clients.iter().filter_map(|id| tenant.client(id)) {
            let Some(uri) = client.config.backchannel_logout_uri.clone() else {
                continue;
            };
            let token = issue::logout_token(tenant, signer, client, &session.username, sid, now);
            let delivery = Delivery {
                tenant: tenant.id().to_owned(),
                client_id: client.config.client_id.clone(),
                uri,
                token,
            };
            tokio::spawn(delivery.run(self.http.clone(), self.policy));
        }
    }
}

/// Deliberately not `Debug`: it holds the token.
struct Delivery {
    tenant: String,
    client_id: String,
    uri: String,
    token: String,
}

impl Delivery {
    async fn run(self, http: reqwest::Client, policy: DeliveryPolicy) {
        let mut pause = policy.first_pause;
        for attempt in 1..=policy.attempts {
            let sent = http
                .post(&self.uri)
                .form(&[("logout_token", self.token.as_str())])
                .send()
                .await;
            let status = match sent {
                Ok(response) if response.status().is_success() => {
                    tracing::info!(tenant = %self.tenant, client_id = %self.client_id, attempt, "back-channel logout delivered");
                    return;
                }
                Ok(response) if response.status().is_client_error() => {
                    tracing::warn!(tenant = %self.tenant, client_id = %self.client_id, status = response.status().as_u16(), "back-channel logout refused by the client");
                    return;
                }
                Ok(response) => response.status().as_u16().to_string(),
                Err(error) if error.is_timeout() => "timeout".to_owned(),
                Err(_) => "unreachable".to_owned(),
            };
            tracing::debug!(tenant = %self.tenant, client_id = %self.client_id, attempt, %status, "back-channel logout not delivered");
            if attempt < policy.attempts {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        tracing::warn!(tenant = %self.tenant, client_id = %self.client_id, attempts = policy.attempts, "back-channel logout given up");
    }
}
