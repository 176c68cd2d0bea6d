//! The revision of one tenant's configuration as a region holds it: a digest of the tenant's
//! files, byte for byte.
//!
//! The operator computes it from the files it renders for a region; the auth-server computes it
//! from the files it reads and serves it in the [`REVISION_HEADER`] of the tenant's discovery and
//! JWKS responses. Equal revisions mean the region serves exactly what the operator wrote. A
//! digest rather than the Tenant's generation, because a key rotation or a change to a
//! referenced Secret changes the files without changing the Tenant.
//!
//! The revision is public: it is a truncated SHA-256 over files whose secret parts (private
//! keys, digests of high-entropy client secrets, argon2id hashes) cannot be recovered from it.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::TenantFile;

/// The response header carrying the served [`Revision`] of the tenant a request was routed to.
pub const REVISION_HEADER: &str = "meridian-revision";

/// A tenant configuration's revision, 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Revision(String);

impl Revision {
    /// The revision of one tenant's files, in any order. A missing optional file (no clients,
    /// no users in this region) is simply absent, which differs from an empty one.
    pub fn of<'a>(files: impl IntoIterator<Item = (TenantFile, &'a [u8])>) -> Self {
        let mut files: Vec<(TenantFile, &[u8])> = files.into_iter().collect();
        files.sort_by_key(|(kind, _)| kind.suffix());
        let mut hasher = Sha256::new();
        for (kind, bytes) in files {
            // Framed (name, length, bytes) so no two different sets of files hash alike.
            hasher.update(kind.suffix().as_bytes());
            hasher.update((bytes.len() as u64).to_be_bytes());
            hasher.update(bytes);
        }
        let digest = hasher.finalize();
        Self(digest[..16].iter().map(|b| format!("{b:02x}")).collect())
    }

    /// A revision as read back from a response header; `None` unless it has the exact shape.
    pub fn parse(value: &str) -> Option<Self> {
        let well_formed = value.len() == 32
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        well_formed.then(|| Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_does_not_matter_but_every_byte_does() {
        let a = Revision::of([(TenantFile::Config, &b"{}"[..]), (TenantFile::Keys, b"k")]);
        let b = Revision::of([(TenantFile::Keys, &b"k"[..]), (TenantFile::Config, b"{}")]);
        assert_eq!(a, b);
        let c = Revision::of([(TenantFile::Keys, &b"k "[..]), (TenantFile::Config, b"{}")]);
        assert_ne!(a, c);
    }

    #[test]
    fn an_absent_file_differs_from_an_empty_one() {
        let absent = Revision::of([(TenantFile::Config, &b"{}"[..])]);
        let empty = Revision::of([(TenantFile::Config, &b"{}"[..]), (TenantFile::Users, b"")]);
        assert_ne!(absent, empty);
    }

    #[test]
    fn bytes_cannot_move_between_files_unnoticed() {
        let a = Revision::of([(TenantFile::Config, &b"ab"[..]), (TenantFile::Keys, b"c")]);
        let b = Revision::of([(TenantFile::Config, &b"a"[..]), (TenantFile::Keys, b"bc")]);
        assert_ne!(a, b);
    }

    #[test]
    fn parse_accepts_only_what_of_produces() {
        let revision = Revision::of([(TenantFile::Config, &b"{}"[..])]);
        assert_eq!(Revision::parse(revision.as_str()), Some(revision));
        for bad in ["", "xyz", &"A".repeat(32), &"0".repeat(31), &"0".repeat(33)] {
            assert_eq!(Revision::parse(bad), None, "{bad}");
        }
    }
}
