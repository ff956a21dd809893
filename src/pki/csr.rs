//! PKCS#10 certificate signing requests: building one from a request description, and parsing
//! and verifying one, reporting every extension it carries (known or not).
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::cri_attributes::ParsedCriAttribute;
use x509_parser::extensions::{ParsedExtension, X509Extension};
use x509_parser::prelude::FromDer;

use super::alg::{SignatureAlgorithm, is_weak_signature_oid, signature_oid_name, verify_signature};
use super::der;
use super::error::{Error, Result};
use super::keys::{KeySpec, PrivateKey};
use super::name::{Subject, to_rfc4514};
use super::pem;
use super::san::SubjectAltNames;
use super::sign::NameConstraints;
use super::usage::{self, Usage};

/// What to request: the fields of a cert-manager Certificate that end up in the CSR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsrSpec {
    /// Subject fields (with commonName) or a literal RFC 4514 subject.
    pub subject: Subject,
    /// Subject alternative names.
    pub sans: SubjectAltNames,
    /// Key usages and extended key usages; empty means no such extensions are requested.
    pub usages: Vec<Usage>,
    /// Request a CA certificate (basicConstraints cA=TRUE).
    pub is_ca: bool,
    /// Signature algorithm of the request; `None` picks [`SignatureAlgorithm::default_for`]
    /// the key.
    pub signature_algorithm: Option<SignatureAlgorithm>,
    /// Name constraints the requested CA certificate should carry (only with `is_ca`).
    pub name_constraints: Option<NameConstraints>,
}

/// Builds and signs a CSR with `key`, returned as PEM (`CERTIFICATE REQUEST`).
///
/// Fails, naming the field, when the request has no identity at all (no subject and no SAN),
/// a name is malformed, or the signature algorithm does not fit the key.
pub fn build_csr(spec: &CsrSpec, key: &PrivateKey) -> Result<String> {
    Ok(pem::encode(
        pem::CERTIFICATE_REQUEST[0],
        &build_csr_der(spec, key)?,
    ))
}

/// [`build_csr`] without the PEM armour.
pub fn build_csr_der(spec: &CsrSpec, key: &PrivateKey) -> Result<Vec<u8>> {
    if spec.subject.is_empty() && spec.sans.is_empty() {
        return Err(Error::field(
            "commonName",
            "the request names nothing: set a common name, a literal subject or a SAN",
        ));
    }
    let subject = spec.subject.to_der()?;
    let names = spec.sans.to_general_names()?;
    let mut exts = Vec::new();
    if !names.is_empty() {
        exts.push(der::san(&names, spec.subject.is_empty()));
    }
    let (ku_bits, ekus) = usage::split(&spec.usages);
    if ku_bits != 0 {
        exts.push(der::key_usage(ku_bits));
    }
    if !ekus.is_empty() {
        exts.push(der::extended_key_usage(&ekus));
    }
    exts.push(der::basic_constraints(spec.is_ca));
    if let Some(nc) = &spec.name_constraints {
        if !spec.is_ca {
            return Err(Error::field(
                "nameConstraints",
                "name constraints need a CA certificate (isCA: true)",
            ));
        }
        exts.extend(nc.extension()?);
    }

    let alg = spec
        .signature_algorithm
        .unwrap_or_else(|| SignatureAlgorithm::default_for(key.spec()));
    let signer = key.signer(Some(alg))?;
    let info = der::certification_request_info(&subject, &key.spki_der(), &exts);
    der::sign(&info, alg, &signer)
}

/// One extension found in a CSR or certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionInfo {
    /// Dotted OID.
    pub oid: String,
    /// The critical flag.
    pub critical: bool,
    /// Whether this crate understands (and acts on) the extension.
    pub known: bool,
}

/// A parsed CSR whose signature has been verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrInfo {
    /// Subject in RFC 4514 form.
    pub subject: String,
    /// The requested public key's algorithm and size.
    pub key: KeySpec,
    /// Name of the CSR's signature algorithm.
    pub signature_algorithm: String,
    /// Requested SANs.
    pub sans: SubjectAltNames,
    /// Requested key usages and extended key usages.
    pub usages: Vec<Usage>,
    /// Requested EKU OIDs we have no name for.
    pub unknown_extended_key_usages: Vec<String>,
    /// Whether basicConstraints cA=TRUE is requested.
    pub is_ca: bool,
    /// Every requested extension, in order, including ones we do not know.
    pub extensions: Vec<ExtensionInfo>,
    pub(crate) subject_der: Vec<u8>,
    pub(crate) spki_der: Vec<u8>,
    pub(crate) public_key_raw: Vec<u8>,
    /// Raw extnValue of the subjectAltName extension, copied verbatim into certificates.
    pub(crate) san_der: Option<Vec<u8>>,
    /// The requested nameConstraints extension (critical flag, raw extnValue), when it parses.
    pub(crate) name_constraints_der: Option<(bool, Vec<u8>)>,
}

impl CsrInfo {
    /// OIDs of the requested extensions we do not understand. A CA signs without them (we never
    /// copy extensions blindly), and callers can show them to the user.
    pub fn unknown_extensions(&self) -> Vec<&str> {
        self.extensions
            .iter()
            .filter(|e| !e.known)
            .map(|e| e.oid.as_str())
            .collect()
    }
}

/// Parses a PEM CSR and verifies its self-signature.
pub fn parse_csr_pem(input: &[u8]) -> Result<CsrInfo> {
    let block = pem::parse_one(input, "certificate request", pem::CERTIFICATE_REQUEST, &[])?;
    parse_csr_der(block.contents())
}

/// Parses a DER CSR and verifies its self-signature.
///
/// Refuses SHA-1/MD5 signatures, RSA keys under 2048 bits, keys of unsupported algorithms and
/// trailing bytes. Extensions we do not know are reported in [`CsrInfo::extensions`], not
/// rejected.
pub fn parse_csr_der(input: &[u8]) -> Result<CsrInfo> {
    let invalid = |detail: String| Error::InvalidCsr { detail };
    let (rest, csr) =
        X509CertificationRequest::from_der(input).map_err(|e| invalid(e.to_string()))?;
    if !rest.is_empty() {
        return Err(invalid(format!("{} trailing bytes", rest.len())));
    }
    let cri = &csr.certification_request_info;
    let subject = to_rfc4514(&cri.subject);
    let sig_oid = csr.signature_algorithm.algorithm.to_id_string();
    if is_weak_signature_oid(&sig_oid) {
        return Err(Error::WeakSignatureAlgorithm {
            what: format!("certificate request {subject:?}"),
            algorithm: signature_oid_name(&sig_oid),
        });
    }
    let key = KeySpec::from_spki(&cri.subject_pki, "certificate request")?;
    let verified = verify_signature(
        &sig_oid,
        key,
        &cri.subject_pki.subject_public_key.data,
        cri.raw,
        &csr.signature_value.data,
    );
    if !verified {
        return Err(Error::CsrSignature { subject });
    }

    let mut info = CsrInfo {
        subject,
        key,
        signature_algorithm: signature_oid_name(&sig_oid),
        sans: SubjectAltNames::default(),
        usages: Vec::new(),
        unknown_extended_key_usages: Vec::new(),
        is_ca: false,
        extensions: Vec::new(),
        subject_der: cri.subject.as_raw().to_vec(),
        spki_der: cri.subject_pki.raw.to_vec(),
        public_key_raw: cri.subject_pki.subject_public_key.data.to_vec(),
        san_der: None,
        name_constraints_der: None,
    };
    let requested: Vec<&X509Extension<'_>> = cri
        .iter_attributes()
        .filter_map(|a| match a.parsed_attribute() {
            ParsedCriAttribute::ExtensionRequest(r) => Some(r.extensions.iter()),
            _ => None,
        })
        .flatten()
        .collect();
    let (mut ku, mut eku) = (None, None);
    for ext in requested {
        let known = match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                info.sans = SubjectAltNames::from_x509(&san.general_names);
                info.san_der = Some(ext.value.to_vec());
                true
            }
            ParsedExtension::KeyUsage(k) => {
                ku = Some(k);
                true
            }
            ParsedExtension::ExtendedKeyUsage(e) => {
                eku = Some(e);
                true
            }
            ParsedExtension::BasicConstraints(bc) => {
                info.is_ca = bc.ca;
                true
            }
            ParsedExtension::NameConstraints(_) => {
                info.name_constraints_der = Some((ext.critical, ext.value.to_vec()));
                true
            }
            _ => false,
        };
        info.extensions.push(ExtensionInfo {
            oid: ext.oid.to_id_string(),
            critical: ext.critical,
            known,
        });
    }
    let (usages, unknown) = usage::from_extensions(ku, eku);
    info.usages = usages;
    info.unknown_extended_key_usages = unknown;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::name::SubjectFields;
    use crate::pki::san::OtherName;

    fn spec() -> CsrSpec {
        CsrSpec {
            subject: Subject::Fields(SubjectFields {
                common_name: Some("web".into()),
                organizations: vec!["Example".into()],
                ..Default::default()
            }),
            sans: SubjectAltNames {
                dns_names: vec!["web.example.com".into(), "*.example.com".into()],
                ip_addresses: vec!["10.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
                uris: vec!["spiffe://example/web".into()],
                email_addresses: vec!["ops@example.com".into()],
                other_names: vec![OtherName {
                    oid: "1.3.6.1.4.1.311.20.2.3".into(),
                    utf8_value: "web@example.com".into(),
                }],
                unsupported: vec![],
            },
            usages: vec![
                Usage::DigitalSignature,
                Usage::KeyEncipherment,
                Usage::ServerAuth,
            ],
            is_ca: false,
            signature_algorithm: None,
            name_constraints: None,
        }
    }

    #[test]
    fn built_csr_parses_back_to_the_request() {
        let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
        let pem = build_csr(&spec(), &key).unwrap();
        let info = parse_csr_pem(pem.as_bytes()).unwrap();
        assert_eq!(info.subject, "CN=web,O=Example");
        assert_eq!(info.key, KeySpec::EcdsaP256);
        assert_eq!(info.sans, spec().sans);
        assert_eq!(info.usages, spec().usages);
        assert!(!info.is_ca);
        assert!(info.unknown_extensions().is_empty());
        assert!(key.matches_csr_pem(pem.as_bytes()).unwrap());
        let other = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
        assert!(!other.matches_csr_pem(pem.as_bytes()).unwrap());
    }

    #[test]
    fn tampered_csr_fails_signature_check() {
        let key = PrivateKey::generate(KeySpec::Ed25519).unwrap();
        let mut der = build_csr_der(&spec(), &key).unwrap();
        let pos = der.windows(3).position(|w| w == b"web").unwrap();
        der[pos] = b'x';
        assert_eq!(
            parse_csr_der(&der).unwrap_err().reason(),
            "InvalidCSRSignature"
        );
    }

    #[test]
    fn request_without_identity_is_refused() {
        let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
        let err = build_csr(&CsrSpec::default(), &key).unwrap_err();
        assert_eq!(err.reason(), "InvalidField");
    }

    #[test]
    fn unknown_extensions_are_reported_not_dropped() {
        // rcgen writes an arbitrary extension into a request; we must accept and list it.
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["a.example".to_string()]).unwrap();
        let mut ext = rcgen::CustomExtension::from_oid_content(&[1, 2, 3, 4], vec![0x05, 0x00]);
        ext.set_criticality(true);
        params.custom_extensions.push(ext);
        let csr = params.serialize_request(&key).unwrap();
        let info = parse_csr_der(csr.der()).unwrap();
        assert_eq!(info.unknown_extensions(), vec!["1.2.3.4"]);
        assert!(
            info.extensions
                .iter()
                .any(|e| e.oid == "1.2.3.4" && e.critical)
        );
        assert_eq!(info.sans.dns_names, vec!["a.example"]);
    }

    #[test]
    fn garbage_and_trailing_bytes_are_invalid() {
        assert_eq!(
            parse_csr_der(b"\x30\x03\x02\x01\x00").unwrap_err().reason(),
            "InvalidCSR"
        );
        let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
        let mut der = build_csr_der(&spec(), &key).unwrap();
        der.push(0);
        assert_eq!(parse_csr_der(&der).unwrap_err().reason(), "InvalidCSR");
    }
}
