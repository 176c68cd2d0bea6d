//! Every OAuth error this server can answer, mapped to its RFC error code, HTTP status and
//! headers in exactly one place.
//!
//! Descriptions are fixed strings chosen here: they must never echo a secret, a token or
//! anything else a caller sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error of the token, introspection, revocation, userinfo or authorize endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// RFC 6749 §5.2.
    #[error("invalid_request: {0}")]
    InvalidRequest(&'static str),
    /// Client authentication failed; `basic` when the client tried HTTP Basic (§5.2: 401 and
    /// a `WWW-Authenticate` challenge).
    #[error("invalid_client")]
    InvalidClient { basic: bool },
    #[error("invalid_grant: {0}")]
    InvalidGrant(&'static str),
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(&'static str),
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    #[error("invalid_scope")]
    InvalidScope,
    /// RFC 8707 §2: a `resource` the client may not ask for, or its grant was not for.
    #[error("invalid_target")]
    InvalidTarget,
    /// RFC 7009 §2.2.1.
    #[error("unsupported_token_type")]
    UnsupportedTokenType,
    /// RFC 6750 §3.1: a bearer token that is missing, expired, revoked or not ours.
    #[error("invalid_token")]
    InvalidToken,
    /// RFC 6750 §3.1: a valid token without the scope the resource needs.
    #[error("insufficient_scope")]
    InsufficientScope,
    /// RFC 6749 §4.1.2.1 / OIDC Core §3.1.2.6, sent to the client's redirect URI.
    #[error("unsupported_response_type")]
    UnsupportedResponseType,
    #[error("login_required")]
    LoginRequired,
    /// OIDC Core §3.1.2.6: consent was asked for and this server has no consent screen.
    #[error("consent_required")]
    ConsentRequired,
    /// OIDC Core §3.1.2.6: request objects (§6) are not supported.
    #[error("request_not_supported")]
    RequestNotSupported,
    #[error("request_uri_not_supported")]
    RequestUriNotSupported,
    #[error("registration_not_supported")]
    RegistrationNotSupported,
    #[error("access_denied")]
    AccessDenied,
    /// RFC 9449 §5: the token request's DPoP proof is missing where required, or invalid.
    #[error("invalid_dpop_proof: {0}")]
    InvalidDpopProof(&'static str),
    /// RFC 9449 §8: the proof must carry the nonce the `DPoP-Nonce` header provides.
    #[error("use_dpop_nonce")]
    UseDpopNonce,
    /// RFC 9449 §7.1: at a resource, a DPoP-bound token presented without its key's proof,
    /// or an unbound one presented as DPoP.
    #[error("invalid_token")]
    InvalidDpopToken,
    /// RFC 9449 §7.1: at a resource, the DPoP proof is invalid.
    #[error("invalid_dpop_proof")]
    InvalidResourceDpopProof(&'static str),
    /// RFC 9449 §9: at a resource, the proof must carry the nonce provided.
    #[error("use_dpop_nonce")]
    UseResourceDpopNonce,
    #[error("temporarily_unavailable")]
    TemporarilyUnavailable,
}

impl OAuthError {
    /// The RFC error code; also the `code` label of the errors metric.
    pub const fn code(self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient { .. } => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::RegistrationNotSupported => "registration_not_supported",
            Self::AccessDenied => "access_denied",
            Self::InvalidDpopProof(_) | Self::InvalidResourceDpopProof(_) => "invalid_dpop_proof",
            Self::UseDpopNonce | Self::UseResourceDpopNonce => "use_dpop_nonce",
            Self::InvalidDpopToken => "invalid_token",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    pub const fn description(self) -> Option<&'static str> {
        match self {
            Self::InvalidRequest(why)
            | Self::InvalidGrant(why)
            | Self::UnauthorizedClient(why)
            | Self::InvalidDpopProof(why)
            | Self::InvalidResourceDpopProof(why) => Some(why),
            _ => None,
        }
    }

    pub const fn status(self) -> StatusCode {
        match self {
            Self::InvalidClient { basic: true }
            | Self::InvalidToken
            | Self::InvalidDpopToken
            | Self::InvalidResourceDpopProof(_)
            | Self::UseResourceDpopNonce => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The `WWW-Authenticate` challenge, where the RFCs require one.
    fn challenge(self) -> Option<String> {
        match self {
            Self::InvalidClient { basic: true } => Some(r#"Basic realm="token""#.to_owned()),
            Self::InvalidToken => Some(r#"Bearer error="invalid_token""#.to_owned()),
            Self::InsufficientScope => Some(r#"Bearer error="insufficient_scope""#.to_owned()),
            // RFC 9449 §7.1: the DPoP scheme, with the algorithms a proof may use.
            Self::InvalidDpopToken
            | Self::InvalidResourceDpopProof(_)
            | Self::UseResourceDpopNonce => {
                let algs = super::client_key::CLIENT_SIGNING_ALGS.join(" ");
                Some(format!(r#"DPoP error="{}", algs="{algs}""#, self.code()))
            }
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<&'static str>,
}

/// Marks a response with the RFC code it carries, for the metrics layer.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code(),
            error_description: self.description(),
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(challenge) = self.challenge().and_then(|c| HeaderValue::try_from(c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response.extensions_mut().insert(ErrorCode(self.code()));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_basic_auth_is_a_401_with_a_challenge() {
        let response = OAuthError::InvalidClient { basic: true }.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn failed_post_auth_is_a_400_without_a_challenge() {
        let response = OAuthError::InvalidClient { basic: false }.into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(!response.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}
