//! Matching a presented `redirect_uri` against a client's registered ones.
//!
//! Exact string comparison (RFC 9700 §4.1.3), with the one exception RFC 8252 §7.3 makes a
//! MUST: a loopback IP redirect URI registered without a port matches the same URI with any
//! port, because a native app listens on whatever ephemeral port it gets. Only the literal IPs
//! `127.0.0.1` and `[::1]` over http get that: `localhost` is NOT RECOMMENDED by RFC 8252 §8.3
//! (it may resolve elsewhere, or be claimed by another listener) and is compared exactly.
//! Comparison is on the strings themselves, never on a normalized parse, so nothing that
//! differs in any other byte can match.

/// Registered loopback prefixes that admit a port.
const LOOPBACK_PREFIXES: [&str; 2] = ["http://127.0.0.1", "http://[::1]"];

/// Whether `presented` is `registered`, or `registered` with a port, when it may take one.
pub fn redirect_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let Some(prefix) = LOOPBACK_PREFIXES
        .into_iter()
        .find(|prefix| registered.starts_with(prefix))
    else {
        return false;
    };
    let registered_rest = &registered[prefix.len()..];
    if !(registered_rest.is_empty() || registered_rest.starts_with(['/', '?'])) {
        // Registered with a port (or not a loopback authority at all): exact only.
        return false;
    }
    let Some(after_colon) = presented
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix(':'))
    else {
        return false;
    };
    let digits = after_colon.bytes().take_while(u8::is_ascii_digit).count();
    let (port, rest) = after_colon.split_at(digits);
    is_port(port) && rest == registered_rest
}

/// A TCP port as a URL writes it: 1 to 65535, no sign, no leading zero.
fn is_port(port: &str) -> bool {
    !port.is_empty()
        && !port.starts_with('0')
        && port.len() <= 5
        && port.parse::<u32>().is_ok_and(|p| (1..=65_535).contains(&p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loopback_ip_registered_without_a_port_matches_any_port() {
        assert!(redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:53412/cb"
        ));
        assert!(redirect_matches("http://[::1]/cb", "http://[::1]:8080/cb"));
        assert!(redirect_matches(
            "http://127.0.0.1/cb?a=1",
            "http://127.0.0.1:1/cb?a=1"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1",
            "http://127.0.0.1:65535"
        ));
        assert!(redirect_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1/cb"
        ));
    }

    #[test]
    fn everything_else_is_compared_exactly() {
        let refused = [
            ("http://127.0.0.1/cb", "http://127.0.0.1:5000/other"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:5000/cb/"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:5000/cb?x=1"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:0/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:065/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:65536/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.1:80@evil.example/cb"),
            ("http://127.0.0.1/cb", "https://127.0.0.1:5000/cb"),
            ("http://127.0.0.1/cb", "http://127.0.0.10:5000/cb"),
            ("http://127.0.0.1:9/cb", "http://127.0.0.1:10/cb"),
            ("http://localhost/cb", "http://localhost:5000/cb"),
            (
                "http://127.0.0.1.evil.example/cb",
                "http://127.0.0.1.evil.example:5/cb",
            ),
            ("https://app.example/cb", "https://app.example:444/cb"),
        ];
        for (registered, presented) in refused {
            assert!(
                !redirect_matches(registered, presented),
                "{presented} for {registered}"
            );
        }
    }
}
