//! Kubernetes-style durations (`15m`, `1h30m`) as the API writes them, and waits that grow with
//! the number of Tenants.

use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{field}: {value:?} is not a positive duration such as 15m or 1h30m")]
pub struct InvalidDuration {
    pub field: &'static str,
    pub value: String,
}

/// `base`, plus `per_1000` for every full thousand `tenants`, at most `longest`: the waits a
/// cold start stretches because its work grows with the Tenants.
pub fn growing_with_tenants(
    base: Duration,
    per_1000: Duration,
    tenants: usize,
    longest: Duration,
) -> Duration {
    let thousands = u32::try_from(tenants / 1000).unwrap_or(u32::MAX);
    (base + per_1000.saturating_mul(thousands)).min(longest)
}

/// Parses a Go/Kubernetes duration (the format the CRD admits) into a positive [`Duration`].
pub fn parse(field: &'static str, value: &str) -> Result<Duration, InvalidDuration> {
    let invalid = || InvalidDuration {
        field,
        value: value.to_owned(),
    };
    let parsed: kube::core::Duration = value.parse().map_err(|_| invalid())?;
    if parsed.is_negative() {
        return Err(invalid());
    }
    let duration = Duration::from(parsed);
    if duration.is_zero() {
        return Err(invalid());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_formats_the_crd_admits() {
        assert_eq!(parse("f", "15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse("f", "1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("f", "2160h"), Ok(Duration::from_secs(2160 * 3600)));
    }

    #[test]
    fn refuses_zero_negative_and_garbage() {
        for bad in ["0s", "-1m", "15 minutes", ""] {
            assert!(parse("spec.tokens.accessTokenTtl", bad).is_err(), "{bad}");
        }
        let err = parse("spec.tokens.accessTokenTtl", "x").unwrap_err();
        assert!(err.to_string().starts_with("spec.tokens.accessTokenTtl"));
    }
}
