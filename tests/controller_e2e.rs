//! The controller end to end on the real control plane: a self-signed root, an intermediate CA
//! and a leaf; the leaf's Secret holds the ordered chain, verified by openssl.
mod support;

use std::process::Command;
use std::time::Duration;

use certwright::api::Certificate;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use support::{ControllerProcess, TestNamespace, ready, wait_for};

const CHAIN: &str = r#"
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
  commonName: test root CA
  secretName: root-ca
  duration: 87600h
  privateKey: { algorithm: ECDSA, size: 384 }
  issuerRef: { name: selfsigned }
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: { name: root-ca }
spec: { ca: { secretName: root-ca } }
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: intermediate-ca }
spec:
  isCA: true
  commonName: test intermediate CA
  secretName: intermediate-ca
  duration: 43800h
  privateKey: { algorithm: RSA, size: 3072 }
  issuerRef: { name: root-ca }
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: { name: intermediate-ca }
spec: { ca: { secretName: intermediate-ca } }
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: leaf }
spec:
  secretName: leaf-tls
  commonName: example.test
  dnsNames: [example.test, "*.example.test"]
  ipAddresses: [127.0.0.1]
  privateKey: { algorithm: ECDSA, size: 256, encoding: PKCS8 }
  usages: [server auth, digital signature]
  additionalOutputFormats: [{ type: CombinedPEM }, { type: DER }]
  secretTemplate:
    labels: { team: web }
    annotations: { example.test/owner: web }
  issuerRef: { name: intermediate-ca }
"#;

fn pem_count(pem: &[u8]) -> usize {
    String::from_utf8_lossy(pem)
        .matches("-----BEGIN CERTIFICATE-----")
        .count()
}

#[tokio::test]
async fn root_intermediate_leaf_chain() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "chain").await;
    let controller = ControllerProcess::start(&ns.name, &[]);
    support::apply_yaml(&client, &ns.name, CHAIN).await;

    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);
    for name in ["root-ca", "intermediate-ca", "leaf"] {
        let c = tokio::time::timeout(
            Duration::from_secs(90),
            wait_for(&certs, name, Duration::from_secs(90), ready),
        )
        .await;
        assert!(
            c.is_ok(),
            "{name} not Ready; controller log:\n{}",
            controller.log()
        );
    }
    let leaf = certs.get("leaf").await.unwrap();
    let st = leaf.status.unwrap();
    assert_eq!(st.revision, Some(1));
    assert!(st.not_after.is_some() && st.renewal_time.is_some());

    let secret = Api::<Secret>::namespaced(client.clone(), &ns.name)
        .get("leaf-tls")
        .await
        .unwrap();
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let labels = secret.metadata.labels.clone().unwrap_or_default();
    assert_eq!(labels.get("team").map(String::as_str), Some("web"));
    let ann = secret.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        ann.get("cert-manager.io/certificate-name")
            .map(String::as_str),
        Some("leaf")
    );
    assert_eq!(
        ann.get("cert-manager.io/issuer-name").map(String::as_str),
        Some("intermediate-ca")
    );
    assert_eq!(
        ann.get("example.test/owner").map(String::as_str),
        Some("web")
    );
    let data = secret.data.unwrap();
    let get = |k: &str| {
        data.get(k)
            .unwrap_or_else(|| panic!("Secret has no {k}"))
            .0
            .clone()
    };
    let (tls_crt, tls_key, ca_crt) = (get("tls.crt"), get("tls.key"), get("ca.crt"));
    assert_eq!(
        pem_count(&tls_crt),
        2,
        "tls.crt must be leaf + intermediate"
    );
    assert_eq!(pem_count(&ca_crt), 1);
    assert!(
        String::from_utf8_lossy(&tls_key).starts_with("-----BEGIN PRIVATE KEY-----"),
        "PKCS#8 requested"
    );
    assert!(get("tls-combined.pem").starts_with(&tls_key[..20]));
    assert!(!get("key.der").is_empty());

    // Independent check: openssl orders and verifies what we wrote.
    let dir = tempfile::tempdir().unwrap();
    let blocks: Vec<String> = String::from_utf8_lossy(&tls_crt)
        .split_inclusive("-----END CERTIFICATE-----\n")
        .map(str::to_owned)
        .collect();
    std::fs::write(dir.path().join("leaf.pem"), &blocks[0]).unwrap();
    std::fs::write(dir.path().join("inter.pem"), &blocks[1]).unwrap();
    std::fs::write(dir.path().join("ca.pem"), &ca_crt).unwrap();
    let out = Command::new("openssl")
        .args([
            "verify",
            "-CAfile",
            "ca.pem",
            "-untrusted",
            "inter.pem",
            "leaf.pem",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let subj = |f: &str| {
        let o = Command::new("openssl")
            .args([
                "x509",
                "-noout",
                "-subject",
                "-issuer",
                "-ext",
                "subjectAltName",
                "-in",
                f,
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let leaf_text = subj("leaf.pem");
    assert!(
        leaf_text.contains("CN=example.test") || leaf_text.contains("CN = example.test"),
        "{leaf_text}"
    );
    assert!(
        leaf_text.contains("DNS:*.example.test") && leaf_text.contains("IP Address:127.0.0.1"),
        "{leaf_text}"
    );
    assert!(subj("inter.pem").contains("intermediate"));
    // The key is the leaf's (every key type and encoding: tests/controller_keys.rs).
    std::fs::write(dir.path().join("leaf.key"), &tls_key).unwrap();
    let pubkey = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    assert_eq!(
        pubkey(&["pkey", "-in", "leaf.key", "-pubout"]),
        pubkey(&["x509", "-in", "leaf.pem", "-noout", "-pubkey"]),
        "tls.key is not the key of the leaf"
    );

    // A restart of the controller re-issues nothing that is valid.
    drop(controller);
    let controller = ControllerProcess::start(&ns.name, &[]);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let crs = Api::<certwright::api::CertificateRequest>::namespaced(client.clone(), &ns.name)
        .list(&Default::default())
        .await
        .unwrap();
    assert_eq!(
        crs.items.len(),
        3,
        "one request per certificate; log:\n{}",
        controller.log()
    );
    assert_eq!(
        certs.get("leaf").await.unwrap().status.unwrap().revision,
        Some(1)
    );
}
