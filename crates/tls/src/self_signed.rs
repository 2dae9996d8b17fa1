//! A private CA and certificates it signs, for `hush tls self-signed` (a
//! quick private setup) and for tests. rcgen does the ASN.1 and signing
//! (ECDSA P-256 with ring).

use std::fmt;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints,
};
use zeroize::Zeroizing;

use crate::TlsError;

/// How far back certificates start, for clocks slightly behind ours.
const CLOCK_SKEW: Duration = Duration::from_secs(3600);

const DAY: Duration = Duration::from_secs(86_400);

/// What a client will check a certificate against: an IP address or a DNS
/// name (without a trailing dot, which webpki refuses in certificates and
/// Go refuses in name constraints).
fn check_host(host: &str) -> Result<(), TlsError> {
    if host.ends_with('.') {
        return Err(TlsError::Settings(format!("{host:?}: give the name without its trailing dot")));
    }
    if host.parse::<std::net::IpAddr>().is_err() && rustls::pki_types::DnsName::try_from(host).is_err() {
        return Err(TlsError::Settings(format!("{host:?} is neither a DNS name nor an IP address")));
    }
    Ok(())
}

fn generate_error(e: rcgen::Error) -> TlsError {
    TlsError::Generate(e.to_string())
}

/// What to make: a CA, a server certificate for `hosts`, and one client
/// certificate per name in `clients`.
#[derive(Debug, Clone)]
pub struct SelfSignedRequest {
    /// DNS names and IP addresses the server certificate is valid for; the first is its common name.
    pub hosts: Vec<String>,
    /// Common names of client certificates (for mutual TLS).
    pub clients: Vec<String>,
    /// Start of validity of every certificate.
    pub not_before: SystemTime,
    /// End of validity of every certificate.
    pub not_after: SystemTime,
}

impl SelfSignedRequest {
    /// A server certificate for `hosts`, valid for a year from now.
    pub fn for_hosts(hosts: &[&str]) -> Self {
        SelfSignedRequest {
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            clients: Vec::new(),
            not_before: SystemTime::now() - CLOCK_SKEW,
            not_after: SystemTime::now() + 365 * DAY,
        }
    }

    /// Valid for `days` from now.
    pub fn valid_for_days(mut self, days: u32) -> Self {
        self.not_before = SystemTime::now() - CLOCK_SKEW;
        self.not_after = SystemTime::now() + DAY * days;
        self
    }
}

/// A certificate and its private key, both PEM.
pub struct IssuedCertificate {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key (wiped on drop).
    pub key_pem: Zeroizing<String>,
    der: Vec<u8>,
}

impl fmt::Debug for IssuedCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCertificate").field("key_pem", &"[REDACTED]").finish_non_exhaustive()
    }
}

impl IssuedCertificate {
    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }
}

/// A CA that can sign server and client certificates while it is held.
pub struct CertificateAuthority {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority").field("key", &"[REDACTED]").finish_non_exhaustive()
    }
}

fn validity(params: &mut CertificateParams, not_before: SystemTime, not_after: SystemTime) {
    params.not_before = not_before.into();
    params.not_after = not_after.into();
}

impl CertificateAuthority {
    /// A new CA named `common_name`.
    pub fn new(common_name: &str, not_before: SystemTime, not_after: SystemTime) -> Result<Self, TlsError> {
        let key = KeyPair::generate().map_err(generate_error)?;
        Self::with_key(common_name, key, None, not_before, not_after)
    }

    /// A new CA named `prefix` and the start of its key's identifier, so
    /// that two CAs made this way never share a name: a verifier that finds
    /// an issuer by name would otherwise try the wrong CA's key.
    pub fn new_unique(prefix: &str, not_before: SystemTime, not_after: SystemTime) -> Result<Self, TlsError> {
        Self::new_unique_for(prefix, None, not_before, not_after)
    }

    /// As [`CertificateAuthority::new_unique`]; with `hosts`, the CA may
    /// only vouch for those names and addresses (X.509 name constraints),
    /// so trusting it system-wide trusts it for nothing else.
    pub fn new_unique_for(
        prefix: &str,
        hosts: Option<&[String]>,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<Self, TlsError> {
        let key = KeyPair::generate().map_err(generate_error)?;
        let id: String =
            CertificateParams::default().key_identifier(&key).iter().take(6).map(|b| format!("{b:02x}")).collect();
        Self::with_key(&format!("{prefix} {id}"), key, hosts, not_before, not_after)
    }

    fn with_key(
        common_name: &str,
        key: KeyPair,
        hosts: Option<&[String]>,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<Self, TlsError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        if let Some(hosts) = hosts {
            let mut permitted: Vec<GeneralSubtree> = hosts
                .iter()
                .map(|host| match host.parse::<std::net::IpAddr>() {
                    Ok(ip) => {
                        GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(ip, if ip.is_ipv4() { 32 } else { 128 }))
                    }
                    Err(_) => GeneralSubtree::DnsName(host.clone()),
                })
                .collect();
            // A kind of name with no permitted subtree would be unconstrained
            // (RFC 5280): no IP address at all, or only the DNS name
            // `invalid` (reserved, RFC 6761), instead.
            let mut excluded = Vec::new();
            if !hosts.iter().any(|h| h.parse::<std::net::IpAddr>().is_ok()) {
                excluded.push(GeneralSubtree::IpAddress(CidrSubnet::from_v4_prefix([0; 4], 0)));
                excluded.push(GeneralSubtree::IpAddress(CidrSubnet::from_v6_prefix([0; 16], 0)));
            }
            if hosts.iter().all(|h| h.parse::<std::net::IpAddr>().is_ok()) {
                permitted.push(GeneralSubtree::DnsName("invalid".to_owned()));
            }
            params.name_constraints =
                Some(NameConstraints { permitted_subtrees: permitted, excluded_subtrees: excluded });
        }
        validity(&mut params, not_before, not_after);
        let cert = params.self_signed(&key).map_err(generate_error)?;
        Ok(CertificateAuthority { issuer: Issuer::new(params, key), cert_pem: cert.pem() })
    }

    /// The CA certificate (what clients trust), PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    fn issue(&self, mut params: CertificateParams) -> Result<IssuedCertificate, TlsError> {
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().map_err(generate_error)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(generate_error)?;
        Ok(IssuedCertificate {
            cert_pem: cert.pem(),
            key_pem: Zeroizing::new(key.serialize_pem()),
            der: cert.der().to_vec(),
        })
    }

    /// A server certificate for `hosts` (DNS names or IP addresses).
    pub fn issue_server(
        &self,
        hosts: &[String],
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<IssuedCertificate, TlsError> {
        let Some(first) = hosts.first() else {
            return Err(TlsError::Settings("a server certificate needs at least one host name or IP address".into()));
        };
        for host in hosts {
            check_host(host)?;
        }
        let mut params = CertificateParams::new(hosts.to_vec())
            .map_err(|e| TlsError::Settings(format!("not a usable host name or IP address: {e}")))?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, first.as_str());
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut params, not_before, not_after);
        self.issue(params)
    }

    /// A client certificate whose subject is `CN=name,O=hush client`.
    pub fn issue_client(
        &self,
        name: &str,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<IssuedCertificate, TlsError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        // Most significant first, as certificates usually are; shown (RFC 4514) as CN=…,O=….
        params.distinguished_name.push(DnType::OrganizationName, "hush client");
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        validity(&mut params, not_before, not_after);
        self.issue(params)
    }
}

/// A CA, a server certificate and client certificates, made together. The
/// CA's key is not kept: to renew, make a new set.
#[derive(Debug)]
pub struct SelfSigned {
    /// The CA certificate, PEM: what clients trust.
    pub ca_pem: String,
    /// The server's certificate and key.
    pub server: IssuedCertificate,
    /// One per requested client name, in order.
    pub clients: Vec<IssuedCertificate>,
}

impl SelfSigned {
    /// Makes the set.
    pub fn generate(request: &SelfSignedRequest) -> Result<SelfSigned, TlsError> {
        let (from, until) = (request.not_before, request.not_after);
        if until <= from {
            return Err(TlsError::Settings("the certificates would end before they start".into()));
        }
        for host in &request.hosts {
            check_host(host)?;
        }
        let ca = CertificateAuthority::new_unique_for("hush private CA", Some(&request.hosts), from, until)?;
        let server = ca.issue_server(&request.hosts, from, until)?;
        let clients =
            request.clients.iter().map(|name| ca.issue_client(name, from, until)).collect::<Result<_, _>>()?;
        Ok(SelfSigned { ca_pem: ca.cert_pem().to_owned(), server, clients })
    }
}
