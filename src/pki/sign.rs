//! Issuing certificates from CSRs: self-signed, or signed by a CA certificate and key.
//!
//! What goes into a certificate is decided here, not copied from the request: subject, public
//! key and SANs come from the (verified) CSR byte for byte; usages and isCA are the ones the CSR
//! requests; serial, validity, key identifiers and the issuer's URLs and constraints are ours.
//! Extensions of the CSR we do not know are never copied, so a requester cannot smuggle in,
//! say, a policy extension. Name constraints a CA request asks for are copied (cert-manager's
//! `nameConstraints` travel in the CSR): they can only narrow what the new CA may sign.
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use x509_parser::prelude::X509Certificate;

use super::alg::SignatureAlgorithm;
use super::der::{self, Extension, GeneralName};
use super::error::{Error, Result};
use super::inspect::{cert_name, parse_certificate, subject_key_id};
use super::keys::{KeySpec, PrivateKey};
use super::pem;
use super::san::check_dns_name;
use super::usage::{self, Usage};
use super::{csr::CsrInfo, csr::parse_csr_pem};

/// cert-manager's default certificate lifetime.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(90 * 24 * 3600);

/// Name constraints for a CA certificate (RFC 5280 4.2.1.10), as cert-manager's
/// `nameConstraints` field spells them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameConstraints {
    /// Mark the extension critical (RFC 5280 asks CAs to; cert-manager leaves it to the user).
    pub critical: bool,
    /// Names the CA may issue for.
    pub permitted: ConstraintSet,
    /// Names the CA may never issue for, even when permitted.
    pub excluded: ConstraintSet,
}

/// One side of the name constraints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConstraintSet {
    /// DNS domains (`example.com` covers itself and every subdomain).
    pub dns_domains: Vec<String>,
    /// IP ranges in CIDR form (`10.0.0.0/8`, `fd00::/8`).
    pub ip_ranges: Vec<String>,
    /// E-mail addresses, hosts or `.domain`s.
    pub email_addresses: Vec<String>,
    /// URI hosts or `.domain`s.
    pub uri_domains: Vec<String>,
}

impl NameConstraints {
    /// The extension, or `None` when both sides are empty (an empty extension is invalid).
    pub(crate) fn extension(&self) -> Result<Option<Extension>> {
        if self.permitted.is_empty() && self.excluded.is_empty() {
            return Ok(None);
        }
        let permitted = self.permitted.general_names("nameConstraints.permitted")?;
        let excluded = self.excluded.general_names("nameConstraints.excluded")?;
        let mut ext = der::name_constraints(&permitted, &excluded);
        ext.critical = self.critical;
        Ok(Some(ext))
    }
}

impl ConstraintSet {
    fn is_empty(&self) -> bool {
        self == &ConstraintSet::default()
    }

    fn general_names(&self, side: &'static str) -> Result<Vec<GeneralName>> {
        let mut out = Vec::new();
        for d in &self.dns_domains {
            check_dns_name(side, d.trim_start_matches('.'), false)?;
            out.push(GeneralName::Dns(d.clone()));
        }
        for r in &self.ip_ranges {
            out.push(GeneralName::IpRange(parse_cidr(side, r)?));
        }
        for e in &self.email_addresses {
            check_dns_name(
                side,
                e.rsplit('@').next().unwrap_or(e).trim_start_matches('.'),
                false,
            )?;
            out.push(GeneralName::Email(e.clone()));
        }
        for u in &self.uri_domains {
            check_dns_name(side, u.trim_start_matches('.'), false)?;
            out.push(GeneralName::Uri(u.clone()));
        }
        Ok(out)
    }
}

/// Address and mask bytes of a CIDR range, the encoding RFC 5280 4.2.1.10 gives IP subtrees.
fn parse_cidr(field: &'static str, cidr: &str) -> Result<Vec<u8>> {
    let bad = || {
        Error::field(
            field,
            format!("{cidr:?} is not a CIDR range like 10.0.0.0/8"),
        )
    };
    let (addr, prefix) = cidr.split_once('/').ok_or_else(bad)?;
    let addr: IpAddr = addr.parse().map_err(|_| bad())?;
    let prefix: u32 = prefix.parse().map_err(|_| bad())?;
    let mut bytes = match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    let bits = bytes.len() as u32 * 8;
    if prefix > bits {
        return Err(bad());
    }
    let mask: Vec<u8> = (0..bytes.len() as u32)
        .map(|i| match prefix.saturating_sub(i * 8).min(8) {
            0 => 0,
            on => 0xffu8 << (8 - on),
        })
        .collect();
    for (b, m) in bytes.iter_mut().zip(&mask) {
        *b &= m;
    }
    bytes.extend(mask);
    Ok(bytes)
}

/// Everything about an issuance that is not in the CSR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOptions {
    /// The signing time: becomes notBefore. Passed in so that callers and tests own the clock.
    pub now: SystemTime,
    /// Requested lifetime; notAfter is `now + duration`, cut to the CA's own notAfter.
    pub duration: Duration,
    /// cRLDistributionPoints URLs.
    pub crl_distribution_points: Vec<String>,
    /// OCSP responder URLs (authorityInfoAccess).
    pub ocsp_servers: Vec<String>,
    /// CA-issuer URLs where the issuing certificate can be fetched (authorityInfoAccess).
    pub issuing_certificate_urls: Vec<String>,
    /// Name constraints; only allowed when the CSR requests a CA certificate.
    pub name_constraints: Option<NameConstraints>,
    /// Signature algorithm; `None` picks the default for the signing key.
    pub signature_algorithm: Option<SignatureAlgorithm>,
    /// Usages to issue instead of the CSR's, for issuers that take them from the request
    /// object (cert-manager's issuers read `CertificateRequest.spec.usages`). `None` keeps the
    /// CSR's.
    pub usages: Option<Vec<Usage>>,
}

impl SignOptions {
    /// Options with the default 90-day lifetime and no URLs or constraints.
    pub fn new(now: SystemTime) -> Self {
        SignOptions {
            now,
            duration: DEFAULT_DURATION,
            crl_distribution_points: Vec::new(),
            ocsp_servers: Vec::new(),
            issuing_certificate_urls: Vec::new(),
            name_constraints: None,
            signature_algorithm: None,
            usages: None,
        }
    }
}

/// The issuer side of an issuance.
struct Issuer<'a> {
    subject_der: &'a [u8],
    key_id: Vec<u8>,
    not_after: Option<OffsetDateTime>,
    key: &'a PrivateKey,
}

/// Signs the PEM CSR with its own key (`key` must be the CSR's key), returning the PEM
/// certificate. The issuer is the CSR's subject; AKI equals SKI.
pub fn self_sign(csr_pem: &[u8], key: &PrivateKey, opts: &SignOptions) -> Result<String> {
    let csr = parse_csr_pem(csr_pem)?;
    if csr.public_key_raw != key.public_key_raw() {
        return Err(Error::KeyMismatch {
            what: "certificate request",
        });
    }
    let issuer = Issuer {
        subject_der: &csr.subject_der,
        key_id: der::key_id(&csr.public_key_raw),
        not_after: None,
        key,
    };
    issue(&csr, &issuer, opts)
}

/// Signs the PEM CSR with a CA: `ca_cert_pem` holds the CA certificate first (a chain may
/// follow and is ignored), `ca_key` its private key.
///
/// Fails when the CA certificate is not a CA (no basicConstraints cA, or a keyUsage without
/// keyCertSign), is not valid at `opts.now`, or does not belong to `ca_key`.
pub fn ca_sign(
    csr_pem: &[u8],
    ca_cert_pem: &[u8],
    ca_key: &PrivateKey,
    opts: &SignOptions,
) -> Result<String> {
    let csr = parse_csr_pem(csr_pem)?;
    let blocks = pem::parse_all(ca_cert_pem, "CA certificate")?;
    let first = &blocks[0];
    if first.tag() != pem::CERTIFICATE {
        return Err(Error::UnexpectedPemLabel {
            what: "CA certificate",
            label: first.tag().into(),
        });
    }
    let ca = parse_certificate(first.contents())?;
    check_ca(&ca, ca_key, opts.now)?;
    let key_id = match subject_key_id(&ca) {
        Some(ski) => ski.to_vec(),
        None => der::key_id(&ca.public_key().subject_public_key.data),
    };
    let issuer = Issuer {
        subject_der: ca.subject().as_raw(),
        key_id,
        not_after: Some(ca.validity().not_after.to_datetime()),
        key: ca_key,
    };
    issue(&csr, &issuer, opts)
}

fn check_ca(ca: &X509Certificate<'_>, key: &PrivateKey, now: SystemTime) -> Result<()> {
    let name = cert_name(ca);
    KeySpec::from_spki(ca.public_key(), "CA certificate")?;
    let is_ca = ca
        .basic_constraints()
        .ok()
        .flatten()
        .is_some_and(|bc| bc.value.ca);
    if !is_ca {
        return Err(Error::NotACa {
            issuer: name,
            detail: "basicConstraints cA is not set",
        });
    }
    if let Ok(Some(ku)) = ca.key_usage()
        && !ku.value.key_cert_sign()
    {
        return Err(Error::NotACa {
            issuer: name,
            detail: "keyUsage lacks keyCertSign",
        });
    }
    if ca.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err(Error::KeyMismatch {
            what: "CA certificate",
        });
    }
    let now = OffsetDateTime::from(now);
    let validity = ca.validity();
    if now < validity.not_before.to_datetime() {
        return Err(Error::CaNotValid {
            issuer: name,
            detail: format!("not before {}", validity.not_before),
        });
    }
    if now >= validity.not_after.to_datetime() {
        return Err(Error::CaNotValid {
            issuer: name,
            detail: format!("expired at {}", validity.not_after),
        });
    }
    Ok(())
}

fn issue(csr: &CsrInfo, issuer: &Issuer<'_>, opts: &SignOptions) -> Result<String> {
    if opts.duration.is_zero() {
        return Err(Error::InvalidOptions {
            field: "duration",
            detail: "must be positive".into(),
        });
    }
    let not_before = OffsetDateTime::from(opts.now);
    let not_after = time::Duration::try_from(opts.duration)
        .ok()
        .and_then(|d| not_before.checked_add(d))
        .filter(|t| t.year() <= 9999)
        .ok_or_else(|| Error::InvalidOptions {
            field: "duration",
            detail: "ends after year 9999".into(),
        })?;
    // Never outlive the CA: a certificate valid past its issuer fails to verify after that day.
    let not_after = issuer.not_after.map_or(not_after, |ca| not_after.min(ca));

    let mut exts: Vec<Extension> = Vec::new();
    exts.push(der::subject_key_id(&der::key_id(&csr.public_key_raw)));
    exts.push(der::authority_key_id(&issuer.key_id));
    let mut usages = opts.usages.clone().unwrap_or_else(|| csr.usages.clone());
    if csr.is_ca && !usages.contains(&Usage::CertSign) {
        // A CA certificate without keyCertSign cannot sign anything (RFC 5280 4.2.1.3).
        usages.push(Usage::CertSign);
    }
    let (ku_bits, ekus) = usage::split(&usages);
    if ku_bits != 0 {
        exts.push(der::key_usage(ku_bits));
    }
    if !ekus.is_empty() {
        exts.push(der::extended_key_usage(&ekus));
    }
    exts.push(der::basic_constraints(csr.is_ca));
    if let Some(san) = &csr.san_der {
        let subject_empty = csr.subject_der == [0x30, 0x00];
        exts.push(Extension {
            oid: der::OID_SAN,
            critical: subject_empty,
            value: san.clone(),
        });
    }
    if !opts.crl_distribution_points.is_empty() {
        exts.push(der::crl_distribution_points(&opts.crl_distribution_points));
    }
    if !opts.ocsp_servers.is_empty() || !opts.issuing_certificate_urls.is_empty() {
        exts.push(der::authority_info_access(
            &opts.ocsp_servers,
            &opts.issuing_certificate_urls,
        ));
    }
    if let Some(nc) = &opts.name_constraints {
        if !csr.is_ca {
            return Err(Error::InvalidOptions {
                field: "nameConstraints",
                detail: "only CA certificates carry name constraints".into(),
            });
        }
        exts.extend(nc.extension()?);
    } else if let Some((critical, value)) = &csr.name_constraints_der {
        if !csr.is_ca {
            return Err(Error::InvalidCsr {
                detail: "the request asks for name constraints on a certificate that is not a CA"
                    .into(),
            });
        }
        exts.push(Extension {
            oid: der::OID_NAME_CONSTRAINTS,
            critical: *critical,
            value: value.clone(),
        });
    }

    let alg = opts
        .signature_algorithm
        .unwrap_or_else(|| SignatureAlgorithm::default_for(issuer.key.spec()));
    let signer = issuer.key.signer(Some(alg))?;
    let serial = random_serial()?;
    let tbs = der::tbs_certificate(&der::Tbs {
        serial: &serial,
        alg,
        issuer: issuer.subject_der,
        not_before,
        not_after,
        subject: &csr.subject_der,
        spki: &csr.spki_der,
        extensions: &exts,
    });
    let cert = der::sign(&tbs, alg, &signer)?;
    Ok(pem::encode(pem::CERTIFICATE, &cert))
}

/// 128 random bits as a positive serial (RFC 5280 4.1.2.2 allows up to 20 octets; the CA/B
/// Forum asks for at least 64 random bits).
fn random_serial() -> Result<[u8; 16]> {
    let mut serial = [0u8; 16];
    loop {
        aws_lc_rs::rand::fill(&mut serial).map_err(|e| Error::encoding("serial", e))?;
        // Zero is not a valid serial; with 2^-128 odds this loop runs once.
        if serial.iter().any(|b| *b != 0) {
            return Ok(serial);
        }
    }
}

#[cfg(test)]
mod tests;
