//! Meridian's multi-tenant OAuth 2.0 / OpenID Connect authorization server.
//!
//! It is configured only by the files of [`meridian_contract`], which the operator writes.
//! Where to look:
//!
//! - pure rules: [`oauth`] (errors and their RFC codes, PKCE, claims, JWS, client
//!   authentication), [`keys`] (key schedule over parsed keys), [`tenant`], [`throttle`],
//!   [`client_address`], [`password`] (the bounded pool of password checks);
//! - I/O edges: [`http`] (handlers), [`backchannel`] (logout tokens to relying parties),
//!   [`client_jwks`] (the keys `private_key_jwt` clients serve),
//!   [`config`] (reading and watching the directory), [`store`] (codes, refresh tokens, sessions: in memory or PostgreSQL), [`store_health`]
//!   (late migration, up/down, sweeping), [`server`] (wiring), [`drain`] (losing no request when stopped).
//!
//! Time always comes from a [`clock::Clock`]. No secret, token or key material is ever logged.

pub mod backchannel;
pub mod client_address;
pub mod client_jwks;
pub mod clock;
pub mod config;
pub mod dev;
pub mod drain;
pub mod http;
pub mod issue;
pub mod keys;
pub mod metrics;
pub mod oauth;
pub mod password;
pub mod server;
pub mod store;
pub mod store_health;
pub mod tenant;
pub mod throttle;
