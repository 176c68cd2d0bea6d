//! Names of the files in the auth-server's configuration directory.

/// The region's own identity and server-wide settings.
pub const REGION_FILE: &str = "region.json";

/// The per-tenant files, named `<tenant>.<suffix>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TenantFile {
    /// [`crate::TenantConfig`]: public configuration.
    Config,
    /// [`crate::KeyRing`]: signing keys with their schedule.
    Keys,
    /// [`crate::ClientSecrets`]: digests of confidential clients' secrets.
    Clients,
    /// [`crate::UserDirectory`]: users who may log in.
    Users,
}

impl TenantFile {
    pub const ALL: [TenantFile; 4] = [Self::Config, Self::Keys, Self::Clients, Self::Users];

    /// Suffix after the tenant id, including the leading dot.
    pub const fn suffix(self) -> &'static str {
        match self {
            Self::Config => ".tenant.json",
            Self::Keys => ".keys.json",
            Self::Clients => ".clients.json",
            Self::Users => ".users.json",
        }
    }

    /// Whether the file holds material that must live in a Secret rather than a ConfigMap.
    pub const fn is_secret(self) -> bool {
        !matches!(self, Self::Config)
    }

    /// The file name for a tenant, e.g. `acme.keys.json`.
    pub fn file_name(self, tenant: &str) -> String {
        format!("{tenant}{}", self.suffix())
    }

    /// Splits a file name into its tenant id and kind; `None` for files that are not
    /// per-tenant (such as [`REGION_FILE`] or Kubernetes' own `..data` entries).
    pub fn parse(file_name: &str) -> Option<(&str, TenantFile)> {
        Self::ALL.into_iter().find_map(|kind| {
            let tenant = file_name.strip_suffix(kind.suffix())?;
            (!tenant.is_empty() && !tenant.starts_with('.')).then_some((tenant, kind))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip() {
        for kind in TenantFile::ALL {
            let name = kind.file_name("acme");
            assert_eq!(TenantFile::parse(&name), Some(("acme", kind)));
        }
    }

    #[test]
    fn non_tenant_files_are_not_parsed() {
        assert_eq!(TenantFile::parse(REGION_FILE), None);
        assert_eq!(TenantFile::parse("..data"), None);
        assert_eq!(TenantFile::parse(".keys.json"), None);
        assert_eq!(TenantFile::parse("acme.txt"), None);
    }
}
