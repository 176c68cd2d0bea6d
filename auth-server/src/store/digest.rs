//! The one way a credential becomes a store key: its SHA-256 digest. Random tokens of 256 bits
//! need no salt or slow hash; a digest can be looked up but never presented.

pub type Digest = [u8; 32];

pub fn digest(secret: &str) -> Digest {
    let mut out = [0; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, secret.as_bytes()).as_ref());
    out
}
