//! Which scopes a client gets (RFC 6749 §3.3). Pure; it must never grant a scope the client
//! was not registered for.

use super::OAuthError;
use crate::tenant::Client;

/// The scope granted for a request: the requested scopes if the client may have every one of
/// them, all of the client's scopes when none were requested.
pub fn granted_scope(client: &Client, requested: Option<&str>) -> Result<String, OAuthError> {
    let allowed = &client.config.scopes;
    let Some(requested) = requested else {
        return Ok(allowed.join(" "));
    };
    let mut granted: Vec<&str> = Vec::new();
    for scope in requested.split(' ').filter(|s| !s.is_empty()) {
        if !allowed.iter().any(|a| a == scope) {
            return Err(OAuthError::InvalidScope);
        }
        if !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    Ok(granted.join(" "))
}
