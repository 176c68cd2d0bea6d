//! Meridian's signing keys as the contract carries them: generating them (the operator in the
//! hub; the auth-server's `--dev` mode and tests), turning a key's PKCS#8 PEM into the public
//! JWK a JWKS serves (RFC 7517), and the contract's rule that every `kid` is its key's RFC 7638
//! thumbprint, so that every region publishes the same `kid` for the same key.
//!
//! The key ring's shape (non-empty, unique kids, schedule order) is the contract's
//! `validate_tenant`, and signing is the auth-server's; neither is here. Nothing here logs,
//! formats or returns private key material: errors name the `kid`, never the PEM.

mod error;
mod generate;
mod jwk;
mod private;

pub use error::KeyError;
pub use generate::generate_key;
pub use jwk::PublicJwk;
pub use private::{PrivateKey, check_key, check_key_ring, public_jwk};
