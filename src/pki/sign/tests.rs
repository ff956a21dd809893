use std::time::Duration;

use super::*;
use crate::pki::testutil::{Issued, intermediate, leaf, now, root};
use crate::pki::{CsrSpec, Subject, SubjectAltNames, SubjectFields, build_csr, inspect_pem};

fn server_csr(key: &PrivateKey, is_ca: bool) -> String {
    let spec = CsrSpec {
        subject: Subject::Literal("CN=svc,OU=a,OU=b,DC=example,DC=com".into()),
        sans: SubjectAltNames {
            dns_names: vec!["svc.example.com".into()],
            ip_addresses: vec!["192.0.2.1".parse().unwrap()],
            ..Default::default()
        },
        usages: vec![Usage::DigitalSignature, Usage::ServerAuth],
        is_ca,
        signature_algorithm: None,
        name_constraints: None,
    };
    build_csr(&spec, key).unwrap()
}

#[test]
fn ca_signed_certificate_carries_request_and_issuer_facts() {
    let ca = root("Root CA", KeySpec::EcdsaP384);
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let opts = SignOptions {
        crl_distribution_points: vec!["http://crl.example/ca.crl".into()],
        ocsp_servers: vec!["http://ocsp.example".into()],
        issuing_certificate_urls: vec!["http://ca.example/ca.crt".into()],
        ..SignOptions::new(now())
    };
    let pem = ca_sign(
        server_csr(&key, false).as_bytes(),
        ca.pem.as_bytes(),
        &ca.key,
        &opts,
    )
    .unwrap();
    let info = inspect_pem(pem.as_bytes()).unwrap();
    assert_eq!(info.subject, "CN=svc,OU=a,OU=b,DC=example,DC=com");
    assert_eq!(info.issuer, "CN=Root CA");
    assert_eq!(info.sans.dns_names, vec!["svc.example.com"]);
    assert_eq!(
        info.usages,
        vec![Usage::DigitalSignature, Usage::ServerAuth]
    );
    assert!(!info.is_ca);
    assert_eq!(info.signature_algorithm, "ECDSAWithSHA384");
    assert_eq!(info.not_before, now());
    assert_eq!(info.not_after, now() + DEFAULT_DURATION);
    let oids: Vec<&str> = info.extensions.iter().map(|e| e.oid.as_str()).collect();
    for oid in [
        der::OID_SKI,
        der::OID_AKI,
        der::OID_CRL_DP,
        der::OID_AIA,
        der::OID_SAN,
    ] {
        assert!(oids.contains(&oid), "{oid} missing from {oids:?}");
    }
    assert!(info.extensions.iter().all(|e| e.known));
    // 128-bit serial: 16 bytes, or 17 with the sign byte dropped by openssl-style printing.
    assert!(info.serial.split(':').count() >= 15, "{}", info.serial);
    assert!(key.matches_certificate_pem(pem.as_bytes()).unwrap());
    assert!(!ca.key.matches_certificate_pem(pem.as_bytes()).unwrap());
}

#[test]
fn not_after_never_passes_the_ca() {
    let ca = root("Short CA", KeySpec::EcdsaP256);
    let ca_info = inspect_pem(ca.pem.as_bytes()).unwrap();
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let opts = SignOptions {
        duration: Duration::from_secs(20 * 365 * 86400),
        ..SignOptions::new(now())
    };
    let pem = ca_sign(
        server_csr(&key, false).as_bytes(),
        ca.pem.as_bytes(),
        &ca.key,
        &opts,
    )
    .unwrap();
    assert_eq!(
        inspect_pem(pem.as_bytes()).unwrap().not_after,
        ca_info.not_after
    );
}

#[test]
fn serials_are_random() {
    let ca = root("Serial CA", KeySpec::EcdsaP256);
    let a = leaf(&ca, "a.example");
    let b = leaf(&ca, "a.example");
    let sa = inspect_pem(a.pem.as_bytes()).unwrap().serial;
    let sb = inspect_pem(b.pem.as_bytes()).unwrap().serial;
    assert_ne!(sa, sb);
}

#[test]
fn refuses_non_ca_wrong_key_and_expired_ca() {
    let ca = root("Root", KeySpec::EcdsaP256);
    let not_ca = leaf(&ca, "leaf.example");
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let csr = server_csr(&key, false);
    let opts = SignOptions::new(now());
    let err = ca_sign(csr.as_bytes(), not_ca.pem.as_bytes(), &not_ca.key, &opts).unwrap_err();
    assert_eq!(err.reason(), "IssuerNotCA");
    assert!(err.to_string().contains("leaf.example"), "{err}");
    let err = ca_sign(csr.as_bytes(), ca.pem.as_bytes(), &key, &opts).unwrap_err();
    assert_eq!(err.reason(), "KeyMismatch");
    let late = SignOptions::new(now() + Duration::from_secs(11 * 365 * 86400));
    let err = ca_sign(csr.as_bytes(), ca.pem.as_bytes(), &ca.key, &late).unwrap_err();
    assert_eq!(err.reason(), "IssuerNotValid");
    let other = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    assert_eq!(
        self_sign(csr.as_bytes(), &other, &opts)
            .unwrap_err()
            .reason(),
        "KeyMismatch"
    );
}

#[test]
fn name_constraints_only_on_cas_and_encoded_when_asked() {
    let ca = root("Root", KeySpec::EcdsaP256);
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let nc = NameConstraints {
        critical: true,
        permitted: ConstraintSet {
            dns_domains: vec!["example.com".into()],
            ip_ranges: vec!["10.0.0.0/8".into(), "fd00::/8".into()],
            email_addresses: vec![".example.com".into()],
            uri_domains: vec![".example.com".into()],
        },
        excluded: ConstraintSet {
            dns_domains: vec!["bad.example.com".into()],
            ..Default::default()
        },
    };
    let opts = SignOptions {
        name_constraints: Some(nc.clone()),
        ..SignOptions::new(now())
    };
    let err = ca_sign(
        server_csr(&key, false).as_bytes(),
        ca.pem.as_bytes(),
        &ca.key,
        &opts,
    )
    .unwrap_err();
    assert_eq!(err.reason(), "InvalidOptions");
    let pem = ca_sign(
        server_csr(&key, true).as_bytes(),
        ca.pem.as_bytes(),
        &ca.key,
        &opts,
    )
    .unwrap();
    let info = inspect_pem(pem.as_bytes()).unwrap();
    assert!(info.is_ca);
    assert!(info.usages.contains(&Usage::CertSign));
    assert!(
        info.extensions
            .iter()
            .any(|e| e.oid == der::OID_NAME_CONSTRAINTS && e.critical)
    );
    let bad = SignOptions {
        name_constraints: Some(NameConstraints {
            permitted: ConstraintSet {
                ip_ranges: vec!["10.0.0.0/33".into()],
                ..Default::default()
            },
            ..Default::default()
        }),
        ..SignOptions::new(now())
    };
    let err = ca_sign(
        server_csr(&key, true).as_bytes(),
        ca.pem.as_bytes(),
        &ca.key,
        &bad,
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("nameConstraints.permitted"),
        "{err}"
    );
}

#[test]
fn cidr_masks_are_exact() {
    assert_eq!(
        parse_cidr("f", "10.1.2.3/8").unwrap(),
        vec![10, 0, 0, 0, 255, 0, 0, 0]
    );
    assert_eq!(
        parse_cidr("f", "192.168.1.0/23").unwrap(),
        vec![192, 168, 0, 0, 255, 255, 254, 0]
    );
    assert_eq!(parse_cidr("f", "0.0.0.0/0").unwrap(), vec![0; 8]);
    assert!(parse_cidr("f", "10.0.0.0").is_err());
}

#[test]
fn zero_duration_and_incompatible_algorithm_are_refused() {
    let ca: Issued = root("Root", KeySpec::Ed25519);
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let csr = server_csr(&key, false);
    let zero = SignOptions {
        duration: Duration::ZERO,
        ..SignOptions::new(now())
    };
    assert_eq!(
        ca_sign(csr.as_bytes(), ca.pem.as_bytes(), &ca.key, &zero)
            .unwrap_err()
            .reason(),
        "InvalidOptions"
    );
    let rsa_alg = SignOptions {
        signature_algorithm: Some(SignatureAlgorithm::Sha256WithRsa),
        ..SignOptions::new(now())
    };
    let err = ca_sign(csr.as_bytes(), ca.pem.as_bytes(), &ca.key, &rsa_alg).unwrap_err();
    assert_eq!(err.reason(), "IncompatibleSignatureAlgorithm");
}

#[test]
fn intermediates_chain_by_key_identifiers() {
    let r = root("Root", KeySpec::EcdsaP256);
    let i = intermediate(&r, "Int");
    let l = leaf(&i, "l.example");
    let blocks = pem::parse_all(r.pem.as_bytes(), "t").unwrap();
    let cert = crate::pki::inspect::parse_certificate(blocks[0].contents()).unwrap();
    let ri = crate::pki::inspect::subject_key_id(&cert);
    assert!(ri.is_some());
    assert_eq!(inspect_pem(l.pem.as_bytes()).unwrap().issuer, "CN=Int");
}

#[test]
fn name_constraints_requested_in_a_ca_csr_are_copied() {
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let nc = NameConstraints {
        critical: false,
        permitted: ConstraintSet {
            dns_domains: vec!["example.com".into()],
            ..Default::default()
        },
        ..Default::default()
    };
    let spec = |is_ca| CsrSpec {
        subject: Subject::Fields(SubjectFields {
            common_name: Some("Constrained CA".into()),
            ..Default::default()
        }),
        is_ca,
        name_constraints: Some(nc.clone()),
        ..Default::default()
    };
    // A leaf cannot ask for them: the CSR is refused, naming the field.
    let err = build_csr(&spec(false), &key).unwrap_err();
    assert_eq!(err.reason(), "InvalidField");
    let csr = build_csr(&spec(true), &key).unwrap();
    let has_nc = |pem: &str, critical: bool| {
        inspect_pem(pem.as_bytes())
            .unwrap()
            .extensions
            .iter()
            .any(|e| e.oid == der::OID_NAME_CONSTRAINTS && e.critical == critical)
    };
    // Self-signed and CA-signed alike carry the extension, critical only when asked.
    let own = self_sign(csr.as_bytes(), &key, &SignOptions::new(now())).unwrap();
    assert!(has_nc(&own, false), "self-signed");
    let ca = root("Root", KeySpec::EcdsaP256);
    let signed = ca_sign(
        csr.as_bytes(),
        ca.pem.as_bytes(),
        &ca.key,
        &SignOptions::new(now()),
    )
    .unwrap();
    assert!(has_nc(&signed, false), "CA-signed");
    let critical = CsrSpec {
        name_constraints: Some(NameConstraints {
            critical: true,
            ..nc.clone()
        }),
        ..spec(true)
    };
    let csr = build_csr(&critical, &key).unwrap();
    let own = self_sign(csr.as_bytes(), &key, &SignOptions::new(now())).unwrap();
    assert!(has_nc(&own, true));
}
