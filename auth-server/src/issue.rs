//! Minting tokens: signed access and ID tokens, and the random values behind codes, refresh
//! tokens, sessions and CSRF tokens.
//!
//! The signer passed in was built at load; nothing here parses keys. Token values are returned
//! to the caller and never logged.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use meridian_contract::{UnixSeconds, User};
use ring::rand::{SecureRandom, SystemRandom};

use crate::keys::Signer;
use crate::oauth::jwt::{self, TokenType};
use crate::oauth::{
    AccessClaims, Actor, BACKCHANNEL_LOGOUT_EVENT, Confirmation, IdClaims, LogoutClaims, at_hash,
    merged_claims, released_claims,
};
use crate::tenant::{Client, Tenant};

/// 256 bits from the system CSPRNG, base64url: unguessable codes and refresh tokens
/// (RFC 6749 §10.10).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("system random number generator");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("system random number generator");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Who a token is about: a user, or the client itself (client_credentials).
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub id: &'a str,
    pub user: Option<&'a User>,
}

/// Deliberately not `Debug`: it holds the token.
pub struct AccessToken {
    pub token: String,
    pub jti: String,
    pub expires_at: UnixSeconds,
    pub expires_in: u64,
}

/// What an access token grants: its scope, the audience it is for, and the key it is bound to.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    pub scope: &'a str,
    pub audience: &'a str,
    /// The thumbprint of the DPoP key presenting it must prove (RFC 9449 §6.1).
    pub jkt: Option<&'a str>,
    /// Who acts for the subject (RFC 8693 §4.1).
    pub actor: Option<&'a Actor>,
    /// The latest the token may expire: an exchanged token never outlives its subject token.
    pub not_after: Option<UnixSeconds>,
}

pub fn access_token(
    tenant: &Tenant,
    signer: &Signer,
    client: &Client,
    subject: Subject<'_>,
    grant: Grant<'_>,
    now: UnixSeconds,
) -> AccessToken {
    let exp = now + tenant.config.tokens.access_token_seconds as i64;
    let exp = grant.not_after.map_or(exp, |latest| exp.min(latest));
    let claims = AccessClaims {
        iss: tenant.issuer().to_owned(),
        sub: subject.id.to_owned(),
        aud: grant.audience.to_owned(),
        exp,
        iat: now,
        jti: random_id(),
        client_id: client.config.client_id.clone(),
        scope: grant.scope.to_owned(),
        tenant_id: tenant.id().to_owned(),
        region: tenant.region_of(subject.user).to_owned(),
        cnf: grant.jkt.map(|jkt| Confirmation {
            jkt: jkt.to_owned(),
        }),
        act: grant.actor.cloned(),
        extra: merged_claims(&tenant.config.claims, None),
    };
    let token = jwt::encode(signer, TokenType::Access, &claims);
    AccessToken {
        token,
        jti: claims.jti,
        expires_at: claims.exp,
        expires_in: (exp - now).max(0) as u64,
    }
}

/// What an ID token needs from the authentication event and its grant.
#[derive(Debug, Clone, Copy)]
pub struct Authentication<'a> {
    pub auth_time: UnixSeconds,
    /// The session's public id (`sid`), when the user signed in with one.
    pub sid: Option<&'a str>,
    pub nonce: Option<&'a str>,
    /// The granted scope: it decides which of the user's claims the token carries.
    pub scope: &'a str,
}

pub fn id_token(
    tenant: &Tenant,
    signer: &Signer,
    client: &Client,
    subject: Subject<'_>,
    authentication: Authentication<'_>,
    access_token: &str,
    now: UnixSeconds,
) -> String {
    let user_claims = subject
        .user
        .map(|user| released_claims(&user.claims, authentication.scope));
    let claims = IdClaims {
        iss: tenant.issuer().to_owned(),
        sub: subject.id.to_owned(),
        aud: client.config.client_id.clone(),
        azp: client.config.client_id.clone(),
        exp: now + tenant.config.tokens.id_token_seconds as i64,
        iat: now,
        auth_time: authentication.auth_time,
        nonce: authentication.nonce.map(str::to_owned),
        at_hash: at_hash(access_token, signer.alg()),
        sid: authentication.sid.map(str::to_owned),
        tenant_id: tenant.id().to_owned(),
        region: tenant.region_of(subject.user).to_owned(),
        extra: merged_claims(&tenant.config.claims, user_claims.as_ref()),
    };
    jwt::encode(signer, TokenType::Id, &claims)
}

/// How long a logout token is good for: it is delivered at once, and only retried briefly.
const LOGOUT_TOKEN_SECONDS: i64 = 120;

/// A session's `sid` (OIDC Front-/Back-Channel Logout): derived from the session id by a
/// one-way hash, so it names the session to relying parties without ever being a credential
/// for it (the session id is the cookie's value).
pub fn session_sid(session_id: &str) -> String {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(b"meridian sid\n");
    context.update(session_id.as_bytes());
    URL_SAFE_NO_PAD.encode(&context.finish().as_ref()[..16])
}

/// A signed logout token for `client` about `sub`'s session `sid` (Back-Channel Logout §2.4).
pub fn logout_token(
    tenant: &Tenant,
    signer: &Signer,
    client: &Client,
    sub: &str,
    sid: &str,
    now: UnixSeconds,
) -> String {
    let claims = LogoutClaims {
        iss: tenant.issuer().to_owned(),
        sub: sub.to_owned(),
        aud: client.config.client_id.clone(),
        iat: now,
        exp: now + LOGOUT_TOKEN_SECONDS,
        jti: random_id(),
        sid: sid.to_owned(),
        events: [(BACKCHANNEL_LOGOUT_EVENT.to_owned(), serde_json::json!({}))].into(),
    };
    jwt::encode(signer, TokenType::Logout, &claims)
}
