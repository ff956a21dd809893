//! Every `privateKey` variant in both encodings, issued by the controller on the real control
//! plane and checked with openssl: `tls.key` is in the requested encoding and of the requested
//! type and size, it is the key of `tls.crt`, and the certificate carries the SANs, usages and
//! subject the spec asked for and verifies against `ca.crt`.
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use certwright::api::Certificate;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use support::{ControllerProcess, TestNamespace, ready, wait_for};

const ISSUERS: &str = r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: { name: selfsigned }
spec: { selfSigned: {} }
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: root-ca }
spec:
  isCA: true
  commonName: keys test CA
  secretName: root-ca
  privateKey: { algorithm: ECDSA, size: 256 }
  issuerRef: { name: selfsigned }
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: { name: ca }
spec: { ca: { secretName: root-ca } }
"#;

/// (algorithm, size, what `openssl pkey -text` says, what `openssl x509 -text` says).
const VARIANTS: &[(&str, u32, &str, &str)] = &[
    (
        "RSA",
        2048,
        "Private-Key: (2048 bit",
        "Public-Key: (2048 bit)",
    ),
    (
        "RSA",
        3072,
        "Private-Key: (3072 bit",
        "Public-Key: (3072 bit)",
    ),
    (
        "RSA",
        4096,
        "Private-Key: (4096 bit",
        "Public-Key: (4096 bit)",
    ),
    (
        "RSA",
        8192,
        "Private-Key: (8192 bit",
        "Public-Key: (8192 bit)",
    ),
    ("ECDSA", 256, "NIST CURVE: P-256", "NIST CURVE: P-256"),
    ("ECDSA", 384, "NIST CURVE: P-384", "NIST CURVE: P-384"),
    ("ECDSA", 521, "NIST CURVE: P-521", "NIST CURVE: P-521"),
    (
        "Ed25519",
        0,
        "ED25519 Private-Key",
        "Public Key Algorithm: ED25519",
    ),
];

fn name(alg: &str, size: u32, enc: &str) -> String {
    format!("{}-{size}-{}", alg.to_lowercase(), enc.to_lowercase())
}

fn openssl(dir: &Path, args: &[&str]) -> String {
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
    assert!(out.status.success(), "openssl {args:?}: {text}");
    text
}

/// The PEM label `tls.key` must carry: PKCS#1 is `RSA PRIVATE KEY` for RSA and SEC1
/// `EC PRIVATE KEY` for ECDSA; Ed25519 has no such form and is PKCS#8 either way (as in
/// cert-manager).
fn expected_label(alg: &str, enc: &str) -> &'static str {
    match (alg, enc) {
        ("RSA", "PKCS1") => "-----BEGIN RSA PRIVATE KEY-----",
        ("ECDSA", "PKCS1") => "-----BEGIN EC PRIVATE KEY-----",
        _ => "-----BEGIN PRIVATE KEY-----",
    }
}

#[tokio::test]
async fn every_private_key_variant_and_encoding() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "keys").await;
    let controller = ControllerProcess::start(&ns.name, &[]);
    let mut yaml = ISSUERS.to_string();
    for (alg, size, _, _) in VARIANTS {
        for enc in ["PKCS1", "PKCS8"] {
            let n = name(alg, *size, enc);
            let size_field = if *size > 0 {
                format!(", size: {size}")
            } else {
                String::new()
            };
            yaml.push_str(&format!(
                r#"
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{ name: {n} }}
spec:
  secretName: {n}-tls
  commonName: {n}.example.test
  dnsNames: [{n}.example.test, alt.example.test]
  ipAddresses: [192.0.2.10]
  emailAddresses: [ops@example.test]
  subject: {{ organizations: [Example Org], countries: [DE] }}
  usages: [server auth, client auth, digital signature, key encipherment]
  privateKey: {{ algorithm: {alg}, encoding: {enc}{size_field} }}
  issuerRef: {{ name: ca }}
"#
            ));
        }
    }
    support::apply_yaml(&client, &ns.name, &yaml).await;

    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns.name);
    let dir = tempfile::tempdir().unwrap();
    for (alg, size, key_text, cert_text) in VARIANTS {
        for enc in ["PKCS1", "PKCS8"] {
            let n = name(alg, *size, enc);
            // RSA 8192 takes a while to generate in a debug build: a generous wait.
            let waited = tokio::time::timeout(
                Duration::from_secs(240),
                wait_for(&certs, &n, Duration::from_secs(240), ready),
            )
            .await;
            assert!(waited.is_ok(), "{n} not Ready; log:\n{}", controller.log());
            let s = secrets.get(&format!("{n}-tls")).await.unwrap();
            let data = s.data.unwrap();
            let get = |k: &str| String::from_utf8(data[k].0.clone()).unwrap();
            let (key, crt, ca) = (get("tls.key"), get("tls.crt"), get("ca.crt"));
            assert!(
                key.starts_with(expected_label(alg, enc)),
                "{n}: tls.key starts {:?}",
                key.lines().next()
            );
            std::fs::write(dir.path().join("k.pem"), &key).unwrap();
            std::fs::write(dir.path().join("c.pem"), &crt).unwrap();
            std::fs::write(dir.path().join("ca.pem"), &ca).unwrap();

            let key_info = openssl(dir.path(), &["pkey", "-in", "k.pem", "-noout", "-text"]);
            assert!(key_info.contains(key_text), "{n}: {key_info}");
            // The key is the certificate's: same public key from both sides.
            let from_key = openssl(dir.path(), &["pkey", "-in", "k.pem", "-pubout"]);
            let from_crt = openssl(dir.path(), &["x509", "-in", "c.pem", "-noout", "-pubkey"]);
            assert_eq!(from_key, from_crt, "{n}: tls.key is not the key of tls.crt");

            let text = openssl(dir.path(), &["x509", "-in", "c.pem", "-noout", "-text"]);
            for want in [
                *cert_text,
                &format!("DNS:{n}.example.test"),
                "DNS:alt.example.test",
                "IP Address:192.0.2.10",
                "email:ops@example.test",
                "TLS Web Server Authentication, TLS Web Client Authentication",
                "Digital Signature, Key Encipherment",
                "CA:FALSE",
            ] {
                assert!(text.contains(want), "{n}: no {want:?} in\n{text}");
            }
            let subject = openssl(
                dir.path(),
                &[
                    "x509", "-in", "c.pem", "-noout", "-subject", "-nameopt", "RFC2253",
                ],
            );
            for part in [
                format!("CN={n}.example.test"),
                "O=Example Org".into(),
                "C=DE".into(),
            ] {
                assert!(subject.contains(&part), "{n}: {subject}");
            }
            let verified = openssl(dir.path(), &["verify", "-CAfile", "ca.pem", "c.pem"]);
            assert!(verified.contains("c.pem: OK"), "{n}: {verified}");
        }
    }
}

/// `encodeUsagesInRequest: false` leaves usages out of the CSR; the issuer takes them from the
/// CertificateRequest (or cert-manager's defaults), so the certificate still carries them.
#[tokio::test]
async fn usages_not_encoded_in_the_csr_still_reach_the_certificate() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "usages").await;
    let controller = ControllerProcess::start(&ns.name, &[]);
    let yaml = format!(
        r#"{ISSUERS}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{ name: listed }}
spec:
  secretName: listed-tls
  dnsNames: [listed.example.test]
  encodeUsagesInRequest: false
  usages: [client auth, digital signature]
  privateKey: {{ algorithm: ECDSA }}
  issuerRef: {{ name: ca }}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{ name: defaults }}
spec:
  secretName: defaults-tls
  dnsNames: [defaults.example.test]
  encodeUsagesInRequest: false
  privateKey: {{ algorithm: RSA }}
  issuerRef: {{ name: ca }}
"#
    );
    support::apply_yaml(&client, &ns.name, &yaml).await;
    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns.name);
    let requests = Api::<certwright::api::CertificateRequest>::namespaced(client.clone(), &ns.name);
    let dir = tempfile::tempdir().unwrap();
    for (name, want, not) in [
        (
            "listed",
            &["TLS Web Client Authentication", "Digital Signature"][..],
            &["Key Encipherment", "TLS Web Server Authentication"][..],
        ),
        (
            "defaults",
            &["Digital Signature, Key Encipherment"][..],
            &["TLS Web"][..],
        ),
    ] {
        let waited = tokio::time::timeout(
            Duration::from_secs(90),
            wait_for(&certs, name, Duration::from_secs(90), ready),
        )
        .await;
        assert!(
            waited.is_ok(),
            "{name} not Ready; log:\n{}",
            controller.log()
        );
        // The CSR really carries no usages.
        let cr = requests.get(&format!("{name}-1")).await.unwrap();
        std::fs::write(dir.path().join("csr.pem"), &cr.spec.request.0).unwrap();
        let csr = openssl(dir.path(), &["req", "-in", "csr.pem", "-noout", "-text"]);
        assert!(!csr.contains("Key Usage"), "{name}: {csr}");
        let s = secrets.get(&format!("{name}-tls")).await.unwrap();
        std::fs::write(dir.path().join("c.pem"), &s.data.unwrap()["tls.crt"].0).unwrap();
        let text = openssl(dir.path(), &["x509", "-in", "c.pem", "-noout", "-text"]);
        for w in want {
            assert!(text.contains(w), "{name}: no {w:?} in\n{text}");
        }
        for n in not {
            assert!(!text.contains(n), "{name}: unexpected {n:?} in\n{text}");
        }
    }
}
