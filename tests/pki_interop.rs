//! Interop: everything the PKI core produces is checked by independent verifiers, the openssl
//! CLI and rustls-webpki, and what openssl produces is read back by the core.
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use certwright::pki::{
    self, ConstraintSet, CsrSpec, KeyEncoding, KeySpec, NameConstraints, OtherName, PrivateKey,
    SignOptions, Subject, SubjectAltNames, SubjectFields, Usage,
};

/// Runs openssl in `dir`, returning (success, stdout + stderr).
fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

const SPECS: [KeySpec; 5] = [
    KeySpec::Rsa { bits: 2048 },
    KeySpec::EcdsaP256,
    KeySpec::EcdsaP384,
    KeySpec::EcdsaP521,
    KeySpec::Ed25519,
];

fn openssl_key_text(spec: KeySpec) -> &'static str {
    match spec {
        KeySpec::Rsa { .. } => "Private-Key: (2048 bit",
        KeySpec::EcdsaP256 => "NIST CURVE: P-256",
        KeySpec::EcdsaP384 => "NIST CURVE: P-384",
        KeySpec::EcdsaP521 => "NIST CURVE: P-521",
        KeySpec::Ed25519 => "ED25519 Private-Key",
    }
}

#[test]
fn openssl_parses_every_key_encoding() {
    let dir = tempfile::tempdir().unwrap();
    for spec in SPECS {
        let key = PrivateKey::generate(spec).unwrap();
        for enc in [KeyEncoding::Pkcs1, KeyEncoding::Pkcs8] {
            write(dir.path(), "k.pem", &key.to_pem(enc).unwrap());
            let (ok, text) = openssl(dir.path(), &["pkey", "-in", "k.pem", "-noout", "-text"]);
            assert!(ok, "{spec} {enc:?}: {text}");
            assert!(
                text.contains(openssl_key_text(spec)),
                "{spec} {enc:?}: {text}"
            );
            if matches!(spec, KeySpec::Rsa { .. }) {
                let (ok, text) = openssl(dir.path(), &["rsa", "-in", "k.pem", "-check", "-noout"]);
                assert!(ok && text.contains("RSA key ok"), "{text}");
            }
            // openssl derives the same public key as we do.
            let (ok, pubkey) = openssl(
                dir.path(),
                &[
                    "pkey", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "pub.der",
                ],
            );
            assert!(ok, "{pubkey}");
            assert_eq!(
                std::fs::read(dir.path().join("pub.der")).unwrap(),
                key.spki_der(),
                "{spec} {enc:?}"
            );
        }
    }
}

#[test]
fn keys_made_by_openssl_parse_with_their_algorithm() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], KeySpec); 6] = [
        (
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:3072",
            ],
            KeySpec::Rsa { bits: 3072 },
        ),
        (
            &["genrsa", "-traditional", "2048"],
            KeySpec::Rsa { bits: 2048 },
        ),
        (
            &["ecparam", "-name", "prime256v1", "-genkey"],
            KeySpec::EcdsaP256,
        ),
        (
            &["ecparam", "-name", "secp521r1", "-genkey", "-noout"],
            KeySpec::EcdsaP521,
        ),
        (
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
            ],
            KeySpec::EcdsaP384,
        ),
        (&["genpkey", "-algorithm", "ED25519"], KeySpec::Ed25519),
    ];
    for (args, spec) in cases {
        let (ok, text) = openssl(dir.path(), args);
        assert!(ok, "{args:?}: {text}");
        let key = PrivateKey::from_pem(text.as_bytes()).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        assert_eq!(key.spec(), spec, "{args:?}");
    }
    let (_, weak) = openssl(dir.path(), &["genrsa", "1024"]);
    assert_eq!(
        PrivateKey::from_pem(weak.as_bytes()).unwrap_err().reason(),
        "WeakKey"
    );
    let (_, other) = openssl(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:secp256k1",
        ],
    );
    assert_eq!(
        PrivateKey::from_pem(other.as_bytes()).unwrap_err().reason(),
        "UnsupportedKeyAlgorithm"
    );
}

fn full_spec(subject: Subject) -> CsrSpec {
    CsrSpec {
        subject,
        sans: SubjectAltNames {
            dns_names: vec!["svc.example.com".into(), "*.svc.example.com".into()],
            ip_addresses: vec!["192.0.2.7".parse().unwrap(), "2001:db8::7".parse().unwrap()],
            uris: vec!["spiffe://example.org/ns/default/sa/svc".into()],
            email_addresses: vec!["ops@example.com".into()],
            other_names: vec![OtherName {
                oid: "1.3.6.1.4.1.311.20.2.3".into(),
                utf8_value: "svc@example.com".into(),
            }],
            unsupported: vec![],
        },
        usages: vec![
            Usage::DigitalSignature,
            Usage::KeyEncipherment,
            Usage::ServerAuth,
            Usage::ClientAuth,
        ],
        is_ca: false,
        signature_algorithm: None,
        name_constraints: None,
    }
}

#[test]
fn openssl_verifies_every_csr() {
    let dir = tempfile::tempdir().unwrap();
    let fields = Subject::Fields(SubjectFields {
        common_name: Some("svc".into()),
        organizations: vec!["Example".into(), "Example Two".into()],
        organizational_units: vec!["Platform".into()],
        countries: vec!["DE".into()],
        localities: vec!["Berlin".into()],
        provinces: vec!["Berlin".into()],
        street_addresses: vec!["Main St 1".into()],
        postal_codes: vec!["10115".into()],
        serial_number: Some("42".into()),
    });
    for spec in SPECS {
        let key = PrivateKey::generate(spec).unwrap();
        write(
            dir.path(),
            "r.csr",
            &pki::build_csr(&full_spec(fields.clone()), &key).unwrap(),
        );
        let (ok, text) = openssl(
            dir.path(),
            &["req", "-in", "r.csr", "-verify", "-noout", "-text"],
        );
        assert!(ok && text.contains("verify OK"), "{spec}: {text}");
        for needle in [
            "DNS:*.svc.example.com",
            "IP Address:2001:DB8:0:0:0:0:0:7",
            "URI:spiffe://",
            "email:ops@example.com",
            "TLS Web Server Authentication",
            "CA:FALSE",
            "postalCode",
            "street",
        ] {
            assert!(text.contains(needle), "{spec}: {needle} missing in {text}");
        }
    }
    // Every signature algorithm a key can make.
    let rsa = PrivateKey::generate(KeySpec::Rsa { bits: 2048 }).unwrap();
    for alg in [
        pki::SignatureAlgorithm::Sha384WithRsa,
        pki::SignatureAlgorithm::Sha512WithRsa,
    ] {
        let spec = CsrSpec {
            signature_algorithm: Some(alg),
            ..full_spec(fields.clone())
        };
        write(dir.path(), "r.csr", &pki::build_csr(&spec, &rsa).unwrap());
        let (ok, text) = openssl(dir.path(), &["req", "-in", "r.csr", "-verify", "-noout"]);
        assert!(ok, "{alg}: {text}");
    }
}

#[test]
fn literal_subject_survives_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let literal = "CN=svc,OU=b,OU=a,O=Example\\, Inc.,DC=example,DC=com";
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    write(
        dir.path(),
        "r.csr",
        &pki::build_csr(&full_spec(Subject::Literal(literal.into())), &key).unwrap(),
    );
    let (ok, text) = openssl(
        dir.path(),
        &[
            "req", "-in", "r.csr", "-noout", "-subject", "-nameopt", "RFC2253",
        ],
    );
    assert!(ok, "{text}");
    assert_eq!(text.trim(), format!("subject={literal}"));
}

#[test]
fn csrs_made_by_openssl_parse_and_weak_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    openssl(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "k.pem",
        ],
    );
    let (ok, csr) = openssl(
        dir.path(),
        &[
            "req",
            "-new",
            "-key",
            "k.pem",
            "-subj",
            "/CN=x/O=Org",
            "-addext",
            "subjectAltName=DNS:x.example,IP:10.1.2.3",
            "-addext",
            "1.2.3.4.5=ASN1:UTF8String:hello",
            "-addext",
            "keyUsage=critical,digitalSignature",
        ],
    );
    assert!(ok, "{csr}");
    let info = pki::parse_csr_pem(csr.as_bytes()).unwrap();
    // openssl encodes -subj in the order given, so RFC 4514 prints it reversed.
    assert_eq!(info.subject, "O=Org,CN=x");
    assert_eq!(info.sans.dns_names, vec!["x.example"]);
    assert_eq!(info.unknown_extensions(), vec!["1.2.3.4.5"]);
    let key = PrivateKey::from_pem(&std::fs::read(dir.path().join("k.pem")).unwrap()).unwrap();
    assert!(key.matches_csr_pem(csr.as_bytes()).unwrap());
    let (ok, sha1) = openssl(
        dir.path(),
        &["req", "-new", "-sha1", "-key", "k.pem", "-subj", "/CN=old"],
    );
    assert!(ok, "{sha1}");
    let err = pki::parse_csr_pem(sha1.as_bytes()).unwrap_err();
    assert_eq!(err.reason(), "WeakSignatureAlgorithm");
    assert!(err.to_string().contains("SHA1"), "{err}");
}

struct Ca {
    key: PrivateKey,
    pem: String,
}

fn csr_for(cn: &str, is_ca: bool, sans: SubjectAltNames, key: &PrivateKey) -> String {
    let usages = if is_ca {
        vec![Usage::CertSign, Usage::CrlSign, Usage::DigitalSignature]
    } else {
        vec![
            Usage::DigitalSignature,
            Usage::KeyEncipherment,
            Usage::ServerAuth,
        ]
    };
    let spec = CsrSpec {
        subject: Subject::Fields(SubjectFields {
            common_name: Some(cn.into()),
            ..Default::default()
        }),
        sans,
        usages,
        is_ca,
        signature_algorithm: None,
        name_constraints: None,
    };
    pki::build_csr(&spec, key).unwrap()
}

fn make_root(spec: KeySpec, opts: &SignOptions) -> Ca {
    let key = PrivateKey::generate(spec).unwrap();
    let pem = pki::self_sign(
        csr_for("Interop Root", true, SubjectAltNames::default(), &key).as_bytes(),
        &key,
        opts,
    )
    .unwrap();
    Ca { key, pem }
}

fn make_ca(parent: &Ca, cn: &str, spec: KeySpec, opts: &SignOptions) -> Ca {
    let key = PrivateKey::generate(spec).unwrap();
    let pem = pki::ca_sign(
        csr_for(cn, true, SubjectAltNames::default(), &key).as_bytes(),
        parent.pem.as_bytes(),
        &parent.key,
        opts,
    )
    .unwrap();
    Ca { key, pem }
}

fn server_sans() -> SubjectAltNames {
    SubjectAltNames {
        dns_names: vec!["app.example.com".into(), "*.apps.example.com".into()],
        ip_addresses: vec![
            "192.0.2.10".parse().unwrap(),
            "2001:db8::10".parse().unwrap(),
        ],
        ..Default::default()
    }
}

#[test]
fn openssl_and_webpki_verify_ordered_chains_of_mixed_algorithms() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now() - Duration::from_secs(60);
    let long = SignOptions {
        duration: Duration::from_secs(3650 * 86400),
        ..SignOptions::new(now)
    };
    let root = make_root(KeySpec::Rsa { bits: 2048 }, &long);
    let int1 = make_ca(&root, "Interop Int 1", KeySpec::EcdsaP384, &long);
    let int2 = make_ca(&int1, "Interop Int 2", KeySpec::Ed25519, &long);
    let int3 = make_ca(&int2, "Interop Int 3", KeySpec::EcdsaP521, &long);
    let leaf_key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let opts = SignOptions {
        crl_distribution_points: vec!["http://crl.example/int3.crl".into()],
        ocsp_servers: vec!["http://ocsp.example".into()],
        issuing_certificate_urls: vec!["http://ca.example/int3.crt".into()],
        ..SignOptions::new(now)
    };
    let leaf = pki::ca_sign(
        csr_for("app", false, server_sans(), &leaf_key).as_bytes(),
        int3.pem.as_bytes(),
        &int3.key,
        &opts,
    )
    .unwrap();

    for (name, pem) in [
        ("root", &root.pem),
        ("int1", &int1.pem),
        ("int2", &int2.pem),
        ("int3", &int3.pem),
        ("leaf", &leaf),
    ] {
        write(dir.path(), "c.pem", pem);
        let (ok, text) = openssl(dir.path(), &["x509", "-in", "c.pem", "-noout", "-text"]);
        assert!(ok, "{name}: {text}");
    }
    write(dir.path(), "c.pem", &leaf);
    let (_, text) = openssl(dir.path(), &["x509", "-in", "c.pem", "-noout", "-text"]);
    for needle in [
        "OCSP - URI:http://ocsp.example",
        "CA Issuers - URI:http://ca.example/int3.crt",
        "URI:http://crl.example/int3.crl",
        "X509v3 Subject Key Identifier",
        "X509v3 Authority Key Identifier",
        "CA:FALSE",
    ] {
        assert!(text.contains(needle), "{needle} missing: {text}");
    }

    let shuffled = [&int2.pem, &leaf, &root.pem, &int3.pem, &int1.pem, &int2.pem]
        .map(|s| s.as_str())
        .concat();
    let bundle = pki::order_bundle(shuffled.as_bytes()).unwrap();
    assert_eq!(bundle.chain.len(), 4);
    let tls = bundle.tls_crt_pem();
    let ca = bundle.ca_crt_pem().unwrap();
    assert_eq!(ca, root.pem);
    assert!(tls.starts_with(&leaf));
    // openssl: the leaf, with the rest of tls.crt as untrusted intermediates.
    let chain: Vec<String> = bundle.chain.iter().map(|d| pem_of(d)).collect();
    write(dir.path(), "ca.crt", &ca);
    write(dir.path(), "leaf.pem", &chain[0]);
    write(dir.path(), "untrusted.pem", &chain[1..].concat());
    let (ok, text) = openssl(
        dir.path(),
        &[
            "verify",
            "-CAfile",
            "ca.crt",
            "-untrusted",
            "untrusted.pem",
            "-purpose",
            "sslserver",
            "leaf.pem",
        ],
    );
    assert!(ok && text.contains("leaf.pem: OK"), "{text}");

    webpki_check(
        &bundle,
        &[
            "app.example.com",
            "x.apps.example.com",
            "192.0.2.10",
            "2001:db8::10",
        ],
        &["other.example.com", "a.b.apps.example.com", "192.0.2.11"],
    );
}

fn pem_of(der: &[u8]) -> String {
    let p = pem::Pem::new("CERTIFICATE", der.to_vec());
    pem::encode_config(
        &p,
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// rustls-webpki builds its own path from the leaf to `ca.crt` through the rest of `tls.crt`
/// and checks the server-auth EKU, then matches each name against the SANs.
fn webpki_check(bundle: &pki::OrderedBundle, accept: &[&str], reject: &[&str]) {
    use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
    let ca_der = CertificateDer::from(bundle.ca.as_deref().unwrap());
    let anchor = webpki::anchor_from_trusted_cert(&ca_der).unwrap();
    let leaf_der = CertificateDer::from(bundle.chain[0].as_slice());
    let ee = webpki::EndEntityCert::try_from(&leaf_der).unwrap();
    let inters: Vec<CertificateDer<'_>> = bundle.chain[1..]
        .iter()
        .map(|d| CertificateDer::from(d.as_slice()))
        .collect();
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &inters,
        UnixTime::now(),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .expect("webpki accepts the chain");
    for n in accept {
        let name = ServerName::try_from(*n).unwrap();
        ee.verify_is_valid_for_subject_name(&name)
            .unwrap_or_else(|e| panic!("{n}: {e:?}"));
    }
    for n in reject {
        let name = ServerName::try_from(*n).unwrap();
        assert!(
            ee.verify_is_valid_for_subject_name(&name).is_err(),
            "{n} accepted"
        );
    }
}

#[test]
fn name_constraints_are_enforced_by_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now() - Duration::from_secs(60);
    let root = make_root(KeySpec::EcdsaP256, &SignOptions::new(now));
    let constrained = {
        let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
        let opts = SignOptions {
            name_constraints: Some(NameConstraints {
                critical: true,
                permitted: ConstraintSet {
                    dns_domains: vec!["example.com".into()],
                    ip_ranges: vec!["192.0.2.0/24".into(), "2001:db8::/32".into()],
                    ..Default::default()
                },
                excluded: ConstraintSet {
                    dns_domains: vec!["bad.example.com".into()],
                    ..Default::default()
                },
            }),
            ..SignOptions::new(now)
        };
        let pem = pki::ca_sign(
            csr_for("Constrained", true, SubjectAltNames::default(), &key).as_bytes(),
            root.pem.as_bytes(),
            &root.key,
            &opts,
        )
        .unwrap();
        Ca { key, pem }
    };
    write(dir.path(), "ca.crt", &root.pem);
    write(dir.path(), "int.pem", &constrained.pem);
    for (dns, expect_ok) in [
        ("app.example.com", true),
        ("x.bad.example.com", false),
        ("app.example.org", false),
    ] {
        let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
        let sans = SubjectAltNames {
            dns_names: vec![dns.into()],
            ..Default::default()
        };
        let leaf = pki::ca_sign(
            csr_for(dns, false, sans, &key).as_bytes(),
            constrained.pem.as_bytes(),
            &constrained.key,
            &SignOptions::new(now),
        )
        .unwrap();
        write(dir.path(), "leaf.pem", &leaf);
        let (ok, text) = openssl(
            dir.path(),
            &[
                "verify",
                "-CAfile",
                "ca.crt",
                "-untrusted",
                "int.pem",
                "leaf.pem",
            ],
        );
        assert_eq!(ok, expect_ok, "{dns}: {text}");
    }
}

#[test]
fn openssl_fingerprint_and_serial_match_inspection() {
    let dir = tempfile::tempdir().unwrap();
    let root = make_root(KeySpec::EcdsaP256, &SignOptions::new(SystemTime::now()));
    let info = pki::inspect_pem(root.pem.as_bytes()).unwrap();
    write(dir.path(), "c.pem", &root.pem);
    let (_, fp) = openssl(
        dir.path(),
        &["x509", "-in", "c.pem", "-noout", "-fingerprint", "-sha256"],
    );
    assert_eq!(
        fp.trim().rsplit('=').next().unwrap(),
        info.sha256_fingerprint
    );
    let (_, serial) = openssl(dir.path(), &["x509", "-in", "c.pem", "-noout", "-serial"]);
    assert_eq!(
        serial
            .trim()
            .trim_start_matches("serial=")
            .trim_start_matches('0'),
        info.serial.replace(':', "").trim_start_matches('0')
    );
    let (_, subject) = openssl(
        dir.path(),
        &[
            "x509", "-in", "c.pem", "-noout", "-subject", "-nameopt", "RFC2253",
        ],
    );
    assert_eq!(subject.trim(), format!("subject={}", info.subject));
}

/// The keystores as OpenSSL (and keytool, when a JDK is installed) read them: every PKCS#12
/// profile with the algorithms cert-manager's profile names promise, the key and chain inside,
/// and JKS entries under their aliases.
#[test]
fn keystores_are_read_by_openssl_and_keytool() {
    use certwright::pki::keystore::{self, KeystoreInput, Pkcs12Profile};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let opts = SignOptions::new(SystemTime::now() - Duration::from_secs(60));
    let root = make_root(KeySpec::EcdsaP256, &opts);
    let key = PrivateKey::generate(KeySpec::Rsa { bits: 2048 }).unwrap();
    let sans = SubjectAltNames {
        dns_names: vec!["ks.example.com".into()],
        ..Default::default()
    };
    let leaf = pki::ca_sign(
        csr_for("ks.example.com", false, sans, &key).as_bytes(),
        root.pem.as_bytes(),
        &root.key,
        &opts,
    )
    .unwrap();
    let input = KeystoreInput {
        key: &key,
        chain_pem: leaf.as_bytes(),
        ca_pem: Some(root.pem.as_bytes()),
    };
    write(d, "key.pem", &key.to_pem(KeyEncoding::Pkcs8).unwrap());
    let (_, want_key) = openssl(d, &["pkey", "-in", "key.pem"]);
    for (profile, legacy, expect) in [
        (
            Pkcs12Profile::LegacyRc2,
            true,
            &[
                "pbeWithSHA1And40BitRC2-CBC",
                "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC",
                "MAC: sha1",
            ][..],
        ),
        (
            Pkcs12Profile::LegacyDes,
            false,
            &[
                "PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC",
                "Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC",
                "MAC: sha1",
            ][..],
        ),
        (
            Pkcs12Profile::Modern2023,
            false,
            &["PBES2, PBKDF2, AES-256-CBC", "MAC: sha256"][..],
        ),
    ] {
        let p12 = keystore::pkcs12_keystore(&input, "s3cret", profile).unwrap();
        std::fs::write(d.join("k.p12"), &p12).unwrap();
        let mut args = vec![
            "pkcs12",
            "-in",
            "k.p12",
            "-passin",
            "pass:s3cret",
            "-info",
            "-noenc",
        ];
        if legacy {
            args.push("-legacy");
            // Without the legacy provider OpenSSL 3 cannot decrypt RC2: proof RC2 is used.
            let (ok, _) = openssl(
                d,
                &["pkcs12", "-in", "k.p12", "-passin", "pass:s3cret", "-noenc"],
            );
            assert!(!ok, "{profile:?} readable without -legacy: not RC2");
        }
        let (ok, info) = openssl(d, &args);
        assert!(ok, "{profile:?}: {info}");
        for e in expect {
            assert!(info.contains(e), "{profile:?}: no {e:?} in {info}");
        }
        assert_eq!(
            info.matches("BEGIN CERTIFICATE").count(),
            2,
            "{profile:?}: leaf and CA"
        );
        write(d, "out.pem", &info);
        let (_, got_key) = openssl(d, &["pkey", "-in", "out.pem"]);
        assert_eq!(got_key, want_key, "{profile:?}: the key inside is the key");
        let mut wrong = args.clone();
        wrong[4] = "pass:wrong";
        assert!(
            !openssl(d, &wrong).0,
            "{profile:?}: wrong password accepted"
        );
    }

    let have_keytool = Command::new("keytool").arg("-help").output().is_ok();
    if !have_keytool {
        eprintln!("no keytool: JKS checked by the crate round trip only");
        return;
    }
    let now = SystemTime::now();
    std::fs::write(
        d.join("k.jks"),
        keystore::jks_keystore(&input, "changeit", "server", now).unwrap(),
    )
    .unwrap();
    std::fs::write(
        d.join("t.jks"),
        keystore::jks_truststore(&input, "changeit", now)
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let keytool = |args: &[&str]| {
        let out = Command::new("keytool")
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, list) = keytool(&[
        "-list",
        "-keystore",
        "k.jks",
        "-storetype",
        "JKS",
        "-storepass",
        "changeit",
    ]);
    assert!(ok, "{list}");
    assert!(
        list.contains("server, ") && list.contains("PrivateKeyEntry"),
        "{list}"
    );
    assert!(
        list.contains("ca, ") && list.contains("trustedCertEntry"),
        "{list}"
    );
    let (ok, list) = keytool(&[
        "-list",
        "-keystore",
        "t.jks",
        "-storetype",
        "JKS",
        "-storepass",
        "changeit",
    ]);
    assert!(
        ok && list.contains("Your keystore contains 1 entry"),
        "{list}"
    );
    // keytool converts the key entry to PKCS#12: that needs the key decrypted with the password.
    let (ok, out) = keytool(&[
        "-importkeystore",
        "-srckeystore",
        "k.jks",
        "-srcstoretype",
        "JKS",
        "-srcstorepass",
        "changeit",
        "-srcalias",
        "server",
        "-destkeystore",
        "conv.p12",
        "-deststoretype",
        "PKCS12",
        "-deststorepass",
        "changeit",
        "-noprompt",
    ]);
    assert!(ok, "{out}");
    let (ok, info) = openssl(
        d,
        &[
            "pkcs12",
            "-in",
            "conv.p12",
            "-passin",
            "pass:changeit",
            "-noenc",
            "-nocerts",
        ],
    );
    assert!(ok, "{info}");
    write(d, "conv.pem", &info);
    assert_eq!(
        openssl(d, &["pkey", "-in", "conv.pem"]).1,
        want_key,
        "JKS key entry"
    );
    assert!(
        !keytool(&[
            "-list",
            "-keystore",
            "k.jks",
            "-storetype",
            "JKS",
            "-storepass",
            "wrongpass"
        ])
        .0
    );
}
