//! Certificates and keys of one cluster, generated at start and never written to git.
//!
//! Each cluster has its own CA, so a client of one cluster cannot authenticate to another
//! (the clusters are as independent as real ones). Keys are ECDSA P-256, which both Go and
//! rustls accept for TLS and which kube-apiserver accepts for service-account tokens (ES256).

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

use crate::error::Result;

/// A private key and the certificate for it, both PEM.
#[derive(Clone, Debug)]
pub struct KeyAndCert {
    pub cert_pem: String,
    pub key_pem: String,
}

/// One cluster's certificate authority: it signs the serving certificates and every client
/// certificate the API server trusts (`--client-ca-file`).
pub struct CertificateAuthority {
    cert_pem: String,
    cert_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    pub fn generate(cluster: &str) -> Result<Self> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name(&format!("meridian-e2e-ca-{cluster}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key)?;
        Ok(Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// A serving certificate for the given DNS names and IP addresses.
    pub fn serving(&self, hosts: &[&str]) -> Result<KeyAndCert> {
        let mut params =
            CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name = common_name(hosts.first().copied().unwrap_or("localhost"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    /// A client certificate; kube-apiserver maps CN to the user name and O to a group.
    /// (rcgen writes at most one O; use impersonation for several groups.)
    pub fn client(&self, user: &str, group: Option<&str>) -> Result<KeyAndCert> {
        let mut params = CertificateParams::default();
        params.distinguished_name = common_name(user);
        if let Some(group) = group {
            params
                .distinguished_name
                .push(DnType::OrganizationName, group);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    fn sign(&self, mut params: CertificateParams) -> Result<KeyAndCert> {
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(KeyAndCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// The key kube-apiserver signs service-account tokens with (TokenRequest): private PEM and
/// public PEM.
pub(crate) fn service_account_signing_key() -> Result<(String, String)> {
    let key = KeyPair::generate()?;
    Ok((key.serialize_pem(), key.public_key_pem()))
}

fn common_name(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn
}
