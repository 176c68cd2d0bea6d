//! A steady token request loop, the way a machine client calls an issuer: one request at a
//! time, every [`PACE`], each outcome recorded with when it was sent and how long it took.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use meridian_e2e::frontdoor::SERVED_BY_HEADER;
use meridian_e2e::tokens::http_client;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How often the loop sends a request.
pub const PACE: Duration = Duration::from_millis(20);

/// One request of the loop: when it was sent, what came back, how long it took.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub at: Instant,
    pub status: Option<u16>,
    /// The front door's served-by header, when the answer came through it.
    pub region: Option<String>,
    pub took: Duration,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.status == Some(200)
    }
}

/// A machine client asking the issuer for a token every [`PACE`], one request at a time.
pub struct SteadyLoad {
    outcomes: Arc<Mutex<Vec<Outcome>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl SteadyLoad {
    pub fn start(url: String, client_id: &str, secret: &str) -> Self {
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (id, secret) = (client_id.to_owned(), secret.to_owned());
        let task = tokio::spawn({
            let (outcomes, stop) = (outcomes.clone(), stop.clone());
            async move {
                let http = http_client();
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let at = Instant::now();
                    let response = http
                        .post(&url)
                        .basic_auth(&id, Some(&secret))
                        .form(&[
                            ("grant_type", "client_credentials"),
                            ("scope", "orders:read"),
                        ])
                        .send()
                        .await;
                    let outcome = match response {
                        Ok(r) => Outcome {
                            at,
                            status: Some(r.status().as_u16()),
                            region: r
                                .headers()
                                .get(SERVED_BY_HEADER)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned),
                            took: at.elapsed(),
                        },
                        Err(_) => Outcome {
                            at,
                            status: None,
                            region: None,
                            took: at.elapsed(),
                        },
                    };
                    outcomes.lock().await.push(outcome);
                    next += PACE;
                    tokio::time::sleep_until(next.max(Instant::now())).await;
                }
            }
        });
        Self {
            outcomes,
            stop,
            task,
        }
    }

    pub async fn served(&self) -> bool {
        self.outcomes.lock().await.iter().any(Outcome::ok)
    }

    pub async fn since(&self, from: Instant) -> Vec<Outcome> {
        let all = self.outcomes.lock().await;
        all.iter().filter(|o| o.at >= from).cloned().collect()
    }

    /// Whether the last request sent since `from` was answered by `region`.
    pub async fn last_answered_by(&self, from: Instant, region: &str) -> bool {
        let all = self.outcomes.lock().await;
        all.last()
            .is_some_and(|r| r.at >= from && r.region.as_deref() == Some(region))
    }

    pub async fn all(&self) -> Vec<Outcome> {
        self.outcomes.lock().await.clone()
    }

    pub async fn stop(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.outcomes.lock().await.clone()
    }
}

/// The longest time without a successful answer, from the last success before `from` on.
pub fn longest_gap(outcomes: &[Outcome], from: Instant) -> Duration {
    let successes: Vec<Instant> = outcomes
        .iter()
        .filter(|o| o.ok())
        .map(|o| o.at + o.took)
        .collect();
    let start = successes.iter().rposition(|t| *t < from).unwrap_or(0);
    successes[start..]
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default()
}

/// The latency of successful requests at quantile `q`, in milliseconds.
pub fn percentile(outcomes: &[Outcome], q: f64) -> f64 {
    let mut took: Vec<f64> = outcomes
        .iter()
        .filter(|o| o.ok())
        .map(|o| o.took.as_secs_f64() * 1e3)
        .collect();
    took.sort_by(f64::total_cmp);
    took.get(((took.len() as f64 - 1.0) * q).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}
