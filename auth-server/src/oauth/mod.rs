//! The pure rules of OAuth 2.0 and OpenID Connect: errors and their RFC codes, PKCE, client
//! authentication, claims, JWS and DPoP proofs. Nothing here touches the network, the store or the clock.

mod authorize;
mod claims;
pub mod client_assertion;
mod client_auth;
pub mod client_key;
pub mod dpop;
mod error;
mod id_token_hint;
pub mod jwt;
mod logout;
mod origin;
mod params;
mod pkce;
mod prompt;
mod redirect;
mod resource;
mod scope;

pub use authorize::{AuthorizeFailure, AuthorizeRequest, SignInDemands};
pub use claims::{
    AccessClaims, Actor, BACKCHANNEL_LOGOUT_EVENT, Confirmation, IdClaims, LogoutClaims,
    RESERVED_CLAIMS, SCOPE_CLAIMS, at_hash, merged_claims, released_claims, scope_of_claim,
};
pub use client_auth::{Credentials, authorization};
pub use error::{ErrorCode, OAuthError};
pub use id_token_hint::IdTokenHint;
pub use logout::LogoutRequest;
pub use origin::{client_origins, origin_of};
pub use params::Params;
pub use pkce::CodeChallenge;
pub use prompt::{Answer, HONOURED_PROMPTS, Prompt, SessionView, answer};
pub use redirect::redirect_matches;
pub use resource::{allowed_resource, token_audience};
pub use scope::granted_scope;
