//! What the verbs say about one certificate, and whether one certificate issued another.
//! A thin layer over [`crate::pki`], shaped for reports (strings, serialisable).
use std::time::SystemTime;

use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::pki::{self, CertInfo};

use super::output::{days_until, fmt_time};

/// One certificate, as a report shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CertSummary {
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: String,
    pub not_after: String,
    /// Whole days until notAfter; negative once expired.
    pub days_left: i64,
    /// DNS names, IPs, URIs and e-mails, as `DNS:x`, `IP:y`, ...
    pub sans: Vec<String>,
    pub key: String,
    pub is_ca: bool,
    pub self_signed: bool,
    pub sha256_fingerprint: String,
}

impl CertSummary {
    pub fn new(info: &CertInfo, der: &[u8], now: SystemTime) -> Self {
        let s = &info.sans;
        let sans = s
            .dns_names
            .iter()
            .map(|d| format!("DNS:{d}"))
            .chain(s.ip_addresses.iter().map(|i| format!("IP:{i}")))
            .chain(s.uris.iter().map(|u| format!("URI:{u}")))
            .chain(s.email_addresses.iter().map(|e| format!("email:{e}")))
            .collect();
        CertSummary {
            subject: info.subject.clone(),
            issuer: info.issuer.clone(),
            serial: info.serial.clone(),
            not_before: fmt_time(info.not_before),
            not_after: fmt_time(info.not_after),
            days_left: days_until(info.not_after, now),
            sans,
            key: info.key.to_string(),
            is_ca: info.is_ca,
            self_signed: issued_by(der, der),
            sha256_fingerprint: info.sha256_fingerprint.clone(),
        }
    }
}

/// Parses and summarises each DER certificate; `what` names the input in errors.
pub fn summarise(ders: &[Vec<u8>], now: SystemTime) -> Result<Vec<CertSummary>, pki::Error> {
    ders.iter()
        .map(|d| pki::inspect_der(d).map(|i| CertSummary::new(&i, d, now)))
        .collect()
}

/// The DER certificates of a PEM bundle, in the order given. Non-certificate blocks are an
/// error: a `tls.crt` holding a key is exactly the kind of mistake to report.
pub fn pem_certificates(input: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let blocks = ::pem::parse_many(input).map_err(|e| e.to_string())?;
    if blocks.is_empty() {
        return Err("no PEM block found".into());
    }
    blocks
        .into_iter()
        .map(|b| {
            if b.tag() == "CERTIFICATE" {
                Ok(b.into_contents())
            } else {
                Err(format!("unexpected PEM block {:?}", b.tag()))
            }
        })
        .collect()
}

/// Whether `parent` issued `child`: the issuer name equals the parent's subject byte for byte
/// and the signature verifies with the parent's key (names alone prove nothing). Either input
/// failing to parse is "no".
pub fn issued_by(child: &[u8], parent: &[u8]) -> bool {
    let (Ok((_, c)), Ok((_, p))) = (
        X509Certificate::from_der(child),
        X509Certificate::from_der(parent),
    ) else {
        return false;
    };
    if c.issuer().as_raw() != p.subject().as_raw() {
        return false;
    }
    let Ok(key) = pki::KeySpec::from_spki(p.public_key(), "issuer") else {
        return false;
    };
    pki::alg::verify_signature(
        &c.signature_algorithm.algorithm.to_id_string(),
        key,
        &p.public_key().subject_public_key.data,
        c.tbs_certificate.as_ref(),
        &c.signature_value.data,
    )
}

/// Fingerprint of a DER certificate, as [`CertInfo::sha256_fingerprint`] spells it.
pub fn fingerprint(der: &[u8]) -> String {
    pki::inspect::fingerprint(der)
}
