//! What a Certificate asks for, translated into the PKI core's terms: the key to generate, the
//! CSR to send, and a check of whether an issued certificate still answers the spec.
use std::net::IpAddr;
use std::str::FromStr;

use crate::api::{Certificate, CertificateSpec, PrivateKeyAlgorithm, PrivateKeyEncoding};
use crate::pki::{
    self, CertInfo, CsrSpec, KeyAlgorithm, KeyEncoding, KeySpec, OtherName, Subject,
    SubjectAltNames, SubjectFields, Usage,
};

/// The key the spec asks for. Errors name the field (`privateKey.size`).
pub fn key_spec(spec: &CertificateSpec) -> pki::Result<KeySpec> {
    let pk = spec.private_key.as_ref();
    let algorithm = match pk.and_then(|p| p.algorithm) {
        None | Some(PrivateKeyAlgorithm::Rsa) => KeyAlgorithm::Rsa,
        Some(PrivateKeyAlgorithm::Ecdsa) => KeyAlgorithm::Ecdsa,
        Some(PrivateKeyAlgorithm::Ed25519) => KeyAlgorithm::Ed25519,
    };
    // cert-manager treats size 0 as "the default for the algorithm".
    let size = pk.and_then(|p| p.size).filter(|s| *s > 0).map(|s| s as u32);
    KeySpec::new(algorithm, size)
}

/// The encoding of `tls.key`.
pub fn key_encoding(spec: &CertificateSpec) -> KeyEncoding {
    match spec.private_key.as_ref().and_then(|p| p.encoding) {
        Some(PrivateKeyEncoding::Pkcs8) => KeyEncoding::Pkcs8,
        _ => KeyEncoding::Pkcs1,
    }
}

/// The usages the spec asks for (cert-manager's defaults when none are listed).
pub fn usages(spec: &CertificateSpec) -> pki::Result<Vec<Usage>> {
    let Some(list) = spec.usages.as_ref().filter(|u| !u.is_empty()) else {
        let mut d = Usage::defaults();
        if spec.is_ca.unwrap_or(false) {
            d.push(Usage::CertSign);
        }
        return Ok(d);
    };
    let mut out = Vec::new();
    for u in list {
        // The API enum serialises to cert-manager's spelling, which the PKI core parses.
        let name = serde_json::to_value(u)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let usage = Usage::from_str(&name)?;
        if !out.contains(&usage) {
            out.push(usage);
        }
    }
    if spec.is_ca.unwrap_or(false) && !out.contains(&Usage::CertSign) {
        out.push(Usage::CertSign);
    }
    Ok(out)
}

/// The subject the spec asks for.
pub fn subject(spec: &CertificateSpec) -> Subject {
    if let Some(lit) = spec.literal_subject.as_ref().filter(|s| !s.is_empty()) {
        return Subject::Literal(lit.clone());
    }
    let s = spec.subject.clone().unwrap_or_default();
    Subject::Fields(SubjectFields {
        common_name: spec.common_name.clone().filter(|c| !c.is_empty()),
        organizations: s.organizations.unwrap_or_default(),
        organizational_units: s.organizational_units.unwrap_or_default(),
        countries: s.countries.unwrap_or_default(),
        localities: s.localities.unwrap_or_default(),
        provinces: s.provinces.unwrap_or_default(),
        street_addresses: s.street_addresses.unwrap_or_default(),
        postal_codes: s.postal_codes.unwrap_or_default(),
        serial_number: s.serial_number,
    })
}

/// The SANs the spec asks for. IP syntax is checked by the CRD; a bad one here is an error
/// naming the field.
pub fn sans(spec: &CertificateSpec) -> pki::Result<SubjectAltNames> {
    let mut ips = Vec::new();
    for ip in spec.ip_addresses.iter().flatten() {
        ips.push(IpAddr::from_str(ip).map_err(|_| {
            pki::Error::field("spec.ipAddresses", format!("{ip:?} is not an IP address"))
        })?);
    }
    Ok(SubjectAltNames {
        dns_names: spec.dns_names.clone().unwrap_or_default(),
        ip_addresses: ips,
        uris: spec.uris.clone().unwrap_or_default(),
        email_addresses: spec.email_addresses.clone().unwrap_or_default(),
        other_names: spec
            .other_names
            .iter()
            .flatten()
            .map(|o| OtherName {
                oid: o.oid.clone(),
                utf8_value: o.utf8_value.clone(),
            })
            .collect(),
        unsupported: Vec::new(),
    })
}

/// The CSR description for a Certificate.
pub fn csr_spec(cert: &Certificate) -> pki::Result<CsrSpec> {
    let spec = &cert.spec;
    let signature_algorithm = match spec.signature_algorithm {
        None => None,
        Some(a) => {
            let name = serde_json::to_value(a)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            Some(pki::SignatureAlgorithm::from_str(&name)?)
        }
    };
    Ok(CsrSpec {
        subject: subject(spec),
        sans: sans(spec)?,
        // cert-manager leaves usages out of the CSR unless asked to, and puts them in the
        // CertificateRequest's spec instead; issuers read them from there.
        usages: if spec.encode_usages_in_request.unwrap_or(true) {
            usages(spec)?
        } else {
            vec![]
        },
        is_ca: spec.is_ca.unwrap_or(false),
        signature_algorithm,
        name_constraints: spec.name_constraints.as_ref().map(name_constraints),
    })
}

/// The spec's name constraints in the PKI core's terms (they travel to the issuer in the CSR).
fn name_constraints(nc: &crate::api::certificate::NameConstraints) -> pki::NameConstraints {
    let set = |item: Option<&crate::api::certificate::NameConstraintItem>| {
        let item = item.cloned().unwrap_or_default();
        pki::ConstraintSet {
            dns_domains: item.dns_domains.unwrap_or_default(),
            ip_ranges: item.ip_ranges.unwrap_or_default(),
            email_addresses: item.email_addresses.unwrap_or_default(),
            uri_domains: item.uri_domains.unwrap_or_default(),
        }
    };
    pki::NameConstraints {
        critical: nc.critical.unwrap_or(false),
        permitted: set(nc.permitted.as_ref()),
        excluded: set(nc.excluded.as_ref()),
    }
}

/// Why an issued certificate no longer answers the spec, or `None` when it does. Compares
/// what a user can change and see: names, CA-ness and the key type.
pub fn mismatch(spec: &CertificateSpec, cert: &CertInfo) -> Option<String> {
    let want_sans = match sans(spec) {
        Ok(s) => s,
        Err(e) => return Some(e.to_string()),
    };
    let sorted = |v: &[String]| {
        let mut v = v.to_vec();
        v.sort();
        v.dedup();
        v
    };
    if sorted(&want_sans.dns_names) != sorted(&cert.sans.dns_names) {
        return Some(format!(
            "DNS names changed: issued for {:?}, spec asks for {:?}",
            cert.sans.dns_names, want_sans.dns_names
        ));
    }
    let mut want_ips = want_sans.ip_addresses.clone();
    let mut have_ips = cert.sans.ip_addresses.clone();
    want_ips.sort();
    have_ips.sort();
    if want_ips != have_ips {
        return Some("IP addresses changed".into());
    }
    if sorted(&want_sans.uris) != sorted(&cert.sans.uris) {
        return Some("URIs changed".into());
    }
    if sorted(&want_sans.email_addresses) != sorted(&cert.sans.email_addresses) {
        return Some("e-mail addresses changed".into());
    }
    if spec.is_ca.unwrap_or(false) != cert.is_ca {
        return Some("isCA changed".into());
    }
    // Presence only: the subtrees themselves are compared through the request's spec hash
    // while an issuance is in flight, which covers an edit made before the CA is issued.
    let want_nc = spec.is_ca.unwrap_or(false)
        && spec
            .name_constraints
            .as_ref()
            .map(name_constraints)
            .is_some_and(|nc| {
                nc != pki::NameConstraints {
                    critical: nc.critical,
                    ..Default::default()
                }
            });
    let have_nc = cert.extensions.iter().any(|e| e.oid == "2.5.29.30");
    if want_nc != have_nc {
        return Some(if want_nc {
            "nameConstraints were added".into()
        } else {
            "nameConstraints were removed".into()
        });
    }
    match key_spec(spec) {
        Ok(k) if k != cert.key => {
            return Some(format!(
                "private key changed: issued with {}, spec asks for {k}",
                cert.key
            ));
        }
        Err(e) => return Some(e.to_string()),
        Ok(_) => {}
    }
    if let Some(cn) = spec.common_name.as_ref().filter(|c| !c.is_empty())
        && !cert.subject.contains(&format!("CN={cn}"))
    {
        return Some(format!("commonName changed to {cn:?}"));
    }
    None
}
