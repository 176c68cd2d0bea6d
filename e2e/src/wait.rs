//! Polling with a deadline: the one way this crate (and tests using it) waits for something.
//!
//! Never a bare sleep that hopes the world caught up: every wait names what it waits for and
//! fails with that name when the deadline passes.

use std::time::Duration;

use tokio::time::Instant;

use crate::error::{Error, Result};

const FIRST_INTERVAL: Duration = Duration::from_millis(50);
const MAX_INTERVAL: Duration = Duration::from_millis(200);

/// Calls `probe` until it returns `Ok(Some(value))`, an error, or `timeout` passes.
///
/// `Ok(None)` means "not yet". Intervals start at 50 ms and grow to 200 ms, so a fast event is
/// seen quickly and a slow one is not hammered.
pub async fn eventually<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl AsyncFnMut() -> Result<Option<T>>,
) -> Result<T> {
    let start = Instant::now();
    let deadline = start + timeout;
    let mut interval = FIRST_INTERVAL;
    loop {
        if let Some(value) = probe().await? {
            return Ok(value);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::Timeout {
                what: what.to_string(),
                waited: now - start,
            });
        }
        tokio::time::sleep(interval.min(deadline - now)).await;
        interval = (interval * 2).min(MAX_INTERVAL);
    }
}
