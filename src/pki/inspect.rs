//! Reading a certificate: what renewal decisions and the CLI need to know about it.
use std::time::SystemTime;

use x509_parser::prelude::{FromDer, X509Certificate};

use super::alg::signature_oid_name;
use super::csr::ExtensionInfo;
use super::error::{CertName, Error, Result};
use super::keys::KeySpec;
use super::name::to_rfc4514;
use super::pem;
use super::san::SubjectAltNames;
use super::usage::{self, Usage};

/// The facts of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject in RFC 4514 form.
    pub subject: String,
    /// Issuer in RFC 4514 form.
    pub issuer: String,
    /// Serial as colon-separated upper-case hex (openssl's spelling).
    pub serial: String,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// Subject alternative names.
    pub sans: SubjectAltNames,
    /// Public key algorithm and size.
    pub key: KeySpec,
    /// Key usages and extended key usages.
    pub usages: Vec<Usage>,
    /// EKU OIDs without a name.
    pub unknown_extended_key_usages: Vec<String>,
    /// basicConstraints cA.
    pub is_ca: bool,
    /// Signature algorithm name (or OID when unknown).
    pub signature_algorithm: String,
    /// SHA-256 over the DER, colon-separated upper-case hex (as `openssl x509 -fingerprint
    /// -sha256` prints it).
    pub sha256_fingerprint: String,
    /// Every extension, known or not.
    pub extensions: Vec<ExtensionInfo>,
    /// The RFC 9773 (ACME Renewal Information) certificate identifier: base64url of the
    /// authority key identifier's keyIdentifier, `.`, base64url of the serial's DER content
    /// octets (a leading zero octet included). None without an AKI keyIdentifier, which
    /// every publicly trusted certificate carries.
    pub ari_cert_id: Option<String>,
}

/// Inspects the first certificate of a PEM input.
pub fn inspect_pem(input: &[u8]) -> Result<CertInfo> {
    let blocks = pem::parse_all(input, "certificate")?;
    let first = &blocks[0];
    if first.tag() != pem::CERTIFICATE {
        return Err(Error::UnexpectedPemLabel {
            what: "certificate",
            label: first.tag().into(),
        });
    }
    inspect_der(first.contents())
}

/// Inspects one DER certificate.
pub fn inspect_der(der: &[u8]) -> Result<CertInfo> {
    let cert = parse_certificate(der)?;
    let (mut ku, mut eku, mut san) = (None, None, SubjectAltNames::default());
    let mut extensions = Vec::new();
    let mut is_ca = false;
    let mut aki = None;
    for ext in cert.extensions() {
        use x509_parser::extensions::ParsedExtension as P;
        let known = match ext.parsed_extension() {
            P::KeyUsage(k) => {
                ku = Some(k);
                true
            }
            P::ExtendedKeyUsage(e) => {
                eku = Some(e);
                true
            }
            P::SubjectAlternativeName(s) => {
                san = SubjectAltNames::from_x509(&s.general_names);
                true
            }
            P::BasicConstraints(bc) => {
                is_ca = bc.ca;
                true
            }
            P::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|k| k.0);
                true
            }
            P::SubjectKeyIdentifier(_)
            | P::CRLDistributionPoints(_)
            | P::AuthorityInfoAccess(_)
            | P::NameConstraints(_) => true,
            _ => false,
        };
        extensions.push(ExtensionInfo {
            oid: ext.oid.to_id_string(),
            critical: ext.critical,
            known,
        });
    }
    let (usages, unknown) = usage::from_extensions(ku, eku);
    let validity = cert.validity();
    Ok(CertInfo {
        subject: to_rfc4514(cert.subject()),
        issuer: to_rfc4514(cert.issuer()),
        serial: serial_hex(cert.raw_serial()),
        not_before: validity.not_before.to_datetime().into(),
        not_after: validity.not_after.to_datetime().into(),
        sans: san,
        key: KeySpec::from_spki(cert.public_key(), "certificate")?,
        usages,
        unknown_extended_key_usages: unknown,
        is_ca,
        signature_algorithm: signature_oid_name(&cert.signature_algorithm.algorithm.to_id_string()),
        sha256_fingerprint: fingerprint(der),
        extensions,
        ari_cert_id: aki.map(|k| ari_cert_id(k, cert.raw_serial())),
    })
}

/// `base64url(key_identifier) "." base64url(serial)`, unpadded (RFC 9773 section 4.1).
/// `serial` is the INTEGER's content octets exactly as encoded, so a serial whose high bit is
/// set keeps its leading zero octet, as the RFC's example shows.
pub fn ari_cert_id(key_identifier: &[u8], serial: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!("{}.{}", b64.encode(key_identifier), b64.encode(serial))
}

/// SHA-256 fingerprint of DER bytes, `AB:CD:...`.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    colon_hex(digest.as_ref())
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Serial as openssl prints it: leading zero bytes of the DER integer dropped.
fn serial_hex(raw: &[u8]) -> String {
    let start = raw
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    colon_hex(&raw[start..])
}

/// Parses one DER certificate, refusing trailing bytes.
pub(crate) fn parse_certificate(der: &[u8]) -> Result<X509Certificate<'_>> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| Error::InvalidCertificate {
        detail: e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(Error::InvalidCertificate {
            detail: format!("{} trailing bytes", rest.len()),
        });
    }
    Ok(cert)
}

/// The subject and serial that errors use to name a certificate.
pub(crate) fn cert_name(cert: &X509Certificate<'_>) -> CertName {
    CertName {
        subject: to_rfc4514(cert.subject()),
        serial: serial_hex(cert.raw_serial()),
    }
}

/// The subjectKeyIdentifier of a certificate, if it has one.
pub(crate) fn subject_key_id<'a>(cert: &'a X509Certificate<'_>) -> Option<&'a [u8]> {
    cert.extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::KeySpec;
    use crate::pki::testutil::{leaf, root};

    #[test]
    fn ari_cert_id_matches_the_rfc_example() {
        // RFC 9773 section 4.1: keyIdentifier 69:88:5B:..:D4 and serial 00:87:65:43:21 (the
        // zero octet is part of the DER encoding because 0x87 has its high bit set).
        let aki = [
            0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0,
            0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4,
        ];
        let serial = [0x00, 0x87, 0x65, 0x43, 0x21];
        assert_eq!(
            ari_cert_id(&aki, &serial),
            "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
        );
    }

    #[test]
    fn inspected_certificates_carry_their_ari_cert_id() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let ca = root("ARI CA", KeySpec::EcdsaP256);
        let issued = leaf(&ca, "svc.example");
        let info = inspect_pem(issued.pem.as_bytes()).unwrap();
        let id = info.ari_cert_id.expect("a CA-signed leaf has an AKI");
        let (key_id, serial) = id.split_once('.').unwrap();
        // The first half is the CA's subject key identifier, the second the leaf's serial.
        let ca_der = crate::pki::pem::parse_all(ca.pem.as_bytes(), "certificate").unwrap();
        let ca_cert = parse_certificate(ca_der[0].contents()).unwrap();
        assert_eq!(
            b64.decode(key_id).unwrap(),
            subject_key_id(&ca_cert).unwrap()
        );
        let serial = b64.decode(serial).unwrap();
        assert_eq!(serial_hex(&serial), info.serial);
        assert!(!id.contains(['=', '+', '/']), "unpadded base64url: {id}");
    }
}
