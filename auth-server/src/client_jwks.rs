//! The public keys a `private_key_jwt` client serves at its `jwks_uri`, fetched when first
//! needed and cached with its tenant's configuration.
//!
//! Bounded every way: one fetch at a time per client, 5 s and 64 KiB at most, no redirects;
//! a cached set is used for 5 minutes, and an assertion naming a `kid` the set lacks fetches
//! again at most every 30 s (the client rotated its keys), so a stream of forged `kid`s costs
//! the client's server one request per 30 s. A failed fetch keeps the last set that worked,
//! and counts as a fetch: a server that is down (even one that never answered) is asked again
//! at most every 30 s, however many assertions arrive meanwhile.
//! Logs name the tenant and client, never a key.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use meridian_contract::UnixSeconds;
use serde_json::Value;
use tokio::sync::Mutex;

/// How long a fetched set is used without asking again.
const FRESH_SECONDS: i64 = 300;
/// How soon an unknown `kid` may fetch again.
const REFETCH_SECONDS: i64 = 30;
const MAX_BYTES: usize = 64 * 1024;
const TIMEOUT: Duration = Duration::from_secs(5);

static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .build()
        .expect("an HTTP client with rustls")
});

/// A client's `jwks_uri` and what was last fetched from it.
#[derive(Debug)]
pub struct RemoteJwks {
    uri: String,
    cached: Mutex<Option<Fetched>>,
}

#[derive(Debug)]
struct Fetched {
    keys: Arc<Vec<Value>>,
    /// When `keys` were fetched.
    at: UnixSeconds,
    /// When the server was last asked, whatever it answered.
    asked: UnixSeconds,
}

impl RemoteJwks {
    pub fn new(uri: &str) -> Self {
        Self {
            uri: uri.to_owned(),
            cached: Mutex::new(None),
        }
    }

    /// The client's keys at `now`, fetched again if stale or lacking `kid`; empty when none
    /// could ever be fetched.
    pub async fn keys(
        &self,
        now: UnixSeconds,
        kid: Option<&str>,
        (tenant, client_id): (&str, &str),
    ) -> Arc<Vec<Value>> {
        let mut cached = self.cached.lock().await;
        if let Some(fetched) = cached.as_ref() {
            let age = now - fetched.at;
            let has_kid = kid.is_none_or(|kid| {
                fetched
                    .keys
                    .iter()
                    .any(|key| key["kid"].as_str() == Some(kid))
            });
            let asked_lately = now - fetched.asked < REFETCH_SECONDS;
            if asked_lately || (age < FRESH_SECONDS && has_kid) {
                return fetched.keys.clone();
            }
        }
        match fetch(&self.uri).await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                *cached = Some(Fetched {
                    keys: keys.clone(),
                    at: now,
                    asked: now,
                });
                keys
            }
            Err(why) => {
                tracing::warn!(tenant, client_id, reason = why, "client JWKS not fetched");
                // Counted as a fetch, so a broken server is not asked on every request; one
                // that never answered leaves an empty set, which verifies nothing.
                let fetched = cached.get_or_insert_with(|| Fetched {
                    keys: Arc::default(),
                    at: now,
                    asked: now,
                });
                fetched.asked = now;
                fetched.keys.clone()
            }
        }
    }
}

async fn fetch(uri: &str) -> Result<Vec<Value>, &'static str> {
    let mut response = HTTP.get(uri).send().await.map_err(|_| "unreachable")?;
    if !response.status().is_success() {
        return Err("not a success status");
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|_| "body unreadable")? {
        if body.len() + chunk.len() > MAX_BYTES {
            return Err("larger than 64 KiB");
        }
        body.extend_from_slice(&chunk);
    }
    let jwks: Value = serde_json::from_slice(&body).map_err(|_| "not JSON")?;
    match jwks.get("keys") {
        Some(Value::Array(keys)) => Ok(keys.clone()),
        _ => Err("no keys array"),
    }
}
