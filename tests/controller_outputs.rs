//! What the Secret holds besides the PEM pair, on the real control plane: PKCS#12 and JKS
//! keystores (checked with openssl and keytool), additionalOutputFormats, the Secret being
//! rewritten (not re-issued) when those settings change and never otherwise, a missing
//! keystore password reported as a condition, and the owner reference with garbage collection.
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use certwright::api::{Certificate, CertificateRequest};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use support::{ControllerProcess, TestNamespace, wait_for};

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
  commonName: outputs test CA
  secretName: root-ca
  privateKey: { algorithm: ECDSA }
  issuerRef: { name: selfsigned }
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: { name: ca }
spec: { ca: { secretName: root-ca } }
"#;

fn ready(c: Option<&Certificate>) -> bool {
    ready_reason(c).as_deref() == Some("Ready")
}

/// The Ready condition's reason when it is True, or `!reason` when it is False.
fn ready_reason(c: Option<&Certificate>) -> Option<String> {
    let cond = c?
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.r#type == "Ready")?
        .clone();
    let reason = cond.reason.clone().unwrap_or_default();
    Some(if cond.is_true("Ready") {
        reason
    } else {
        format!("!{reason}")
    })
}

async fn wait_ready(certs: &Api<Certificate>, name: &str, controller: &ControllerProcess) {
    let waited = tokio::time::timeout(
        Duration::from_secs(90),
        wait_for(certs, name, Duration::from_secs(90), ready),
    )
    .await;
    assert!(
        waited.is_ok(),
        "{name} not Ready; log:\n{}",
        controller.log()
    );
}

fn run(dir: &Path, prog: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(prog)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("running {prog}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn ok(dir: &Path, prog: &str, args: &[&str]) -> String {
    let (success, text) = run(dir, prog, args);
    assert!(success, "{prog} {args:?}: {text}");
    text
}

fn keytool_present() -> bool {
    Command::new("keytool").arg("-help").output().is_ok()
}

fn c_rv(c: &Certificate) -> String {
    c.resource_version().unwrap_or_default()
}

fn data(s: &Secret) -> std::collections::BTreeMap<String, ByteString> {
    s.data.clone().unwrap_or_default()
}

const KEYSTORES: &str = r#"
apiVersion: v1
kind: Secret
metadata: { name: p12-password }
stringData: { password: "p12 pässword" }
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: stores }
spec:
  secretName: stores-tls
  dnsNames: [stores.example.test]
  privateKey: { algorithm: RSA, size: 2048 }
  additionalOutputFormats: [{ type: DER }, { type: CombinedPEM }]
  keystores:
    pkcs12: { create: true, passwordSecretRef: { name: p12-password, key: password }, profile: Modern2023 }
    jks: { create: true, password: changeit, alias: web }
  issuerRef: { name: ca }
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: legacy-rc2 }
spec:
  secretName: legacy-rc2-tls
  dnsNames: [rc2.example.test]
  privateKey: { algorithm: ECDSA }
  keystores: { pkcs12: { create: true, password: rc2pass } }
  issuerRef: { name: ca }
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: legacy-des }
spec:
  secretName: legacy-des-tls
  dnsNames: [des.example.test]
  privateKey: { algorithm: ECDSA }
  keystores: { pkcs12: { create: true, password: despass, profile: LegacyDES } }
  issuerRef: { name: ca }
"#;

#[tokio::test]
async fn keystores_and_output_formats() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "stores").await;
    let controller = ControllerProcess::start(&ns.name, &[]);
    support::apply_yaml(&client, &ns.name, ISSUERS).await;
    support::apply_yaml(&client, &ns.name, KEYSTORES).await;
    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns.name);
    for n in ["stores", "legacy-rc2", "legacy-des"] {
        wait_ready(&certs, n, &controller).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = secrets.get("stores-tls").await.unwrap();
    let m = data(&s);
    for k in [
        "tls.key",
        "tls.crt",
        "ca.crt",
        "key.der",
        "tls-combined.pem",
        "keystore.p12",
        "truststore.p12",
        "keystore.jks",
        "truststore.jks",
    ] {
        assert!(m.contains_key(k), "Secret lacks {k}: {:?}", m.keys());
        std::fs::write(d.join(k), &m[k].0).unwrap();
    }

    // additionalOutputFormats: key.der is tls.key in DER, tls-combined.pem is key then chain.
    let key_from_der = ok(d, "openssl", &["pkey", "-inform", "DER", "-in", "key.der"]);
    let key_from_pem = ok(d, "openssl", &["pkey", "-in", "tls.key"]);
    assert_eq!(key_from_der, key_from_pem);
    let combined = String::from_utf8(m["tls-combined.pem"].0.clone()).unwrap();
    let tls_key = String::from_utf8(m["tls.key"].0.clone()).unwrap();
    let tls_crt = String::from_utf8(m["tls.crt"].0.clone()).unwrap();
    assert_eq!(combined, format!("{tls_key}{tls_crt}"));

    // PKCS#12 (Modern2023), password from the Secret (non-ASCII on purpose).
    let pass = "pass:p12 pässword";
    let info = ok(
        d,
        "openssl",
        &[
            "pkcs12",
            "-in",
            "keystore.p12",
            "-passin",
            pass,
            "-info",
            "-noenc",
        ],
    );
    assert!(info.contains("PBES2, PBKDF2, AES-256-CBC"), "{info}");
    assert!(info.contains("MAC: sha256"), "{info}");
    let p12_key = ok(
        d,
        "openssl",
        &[
            "pkcs12",
            "-in",
            "keystore.p12",
            "-passin",
            pass,
            "-nocerts",
            "-noenc",
        ],
    );
    std::fs::write(d.join("p12key.pem"), &p12_key).unwrap();
    assert_eq!(
        ok(d, "openssl", &["pkey", "-in", "p12key.pem"]),
        key_from_pem
    );
    let p12_certs = ok(
        d,
        "openssl",
        &["pkcs12", "-in", "keystore.p12", "-passin", pass, "-nokeys"],
    );
    assert_eq!(
        p12_certs.matches("BEGIN CERTIFICATE").count(),
        2,
        "leaf and CA"
    );
    let (wrong, _) = run(
        d,
        "openssl",
        &[
            "pkcs12",
            "-in",
            "keystore.p12",
            "-passin",
            "pass:nope",
            "-noenc",
        ],
    );
    assert!(!wrong, "a wrong password opens the keystore");
    let trust = ok(
        d,
        "openssl",
        &[
            "pkcs12",
            "-in",
            "truststore.p12",
            "-passin",
            pass,
            "-nokeys",
        ],
    );
    std::fs::write(d.join("trust.pem"), &trust).unwrap();
    let fp = |f: &str| {
        ok(
            d,
            "openssl",
            &["x509", "-in", f, "-noout", "-fingerprint", "-sha256"],
        )
    };
    assert_eq!(fp("trust.pem"), fp("ca.crt"), "truststore.p12 holds ca.crt");

    // JKS: keytool when the JDK is there, the alias as the spec set it.
    if keytool_present() {
        let list = ok(
            d,
            "keytool",
            &[
                "-list",
                "-keystore",
                "keystore.jks",
                "-storetype",
                "JKS",
                "-storepass",
                "changeit",
            ],
        );
        assert!(
            list.contains("web, ") && list.contains("PrivateKeyEntry"),
            "{list}"
        );
        assert!(
            list.contains("ca, ") && list.contains("trustedCertEntry"),
            "{list}"
        );
        // The key entry opens with the store password and holds the chain leaf-first.
        let chain = ok(
            d,
            "keytool",
            &[
                "-list",
                "-rfc",
                "-alias",
                "web",
                "-keystore",
                "keystore.jks",
                "-storetype",
                "JKS",
                "-storepass",
                "changeit",
            ],
        );
        assert!(chain.contains("Certificate chain length: 1"), "{chain}");
        assert!(chain.contains(tls_crt.lines().nth(1).unwrap()), "{chain}");
        let trust = ok(
            d,
            "keytool",
            &[
                "-list",
                "-keystore",
                "truststore.jks",
                "-storetype",
                "JKS",
                "-storepass",
                "changeit",
            ],
        );
        assert!(
            trust.contains("ca, ") && !trust.contains("PrivateKeyEntry"),
            "{trust}"
        );
        let (wrong, _) = run(
            d,
            "keytool",
            &[
                "-list",
                "-keystore",
                "keystore.jks",
                "-storetype",
                "JKS",
                "-storepass",
                "wrongpw",
            ],
        );
        assert!(!wrong, "keytool must refuse the wrong password");
    } else {
        eprintln!("keytool not installed: JKS checked by the crate round-trip unit tests only");
    }

    // LegacyRC2 (the default): RC2-40 for certificates, 3DES for the key; OpenSSL 3 reads it
    // only with the legacy provider. LegacyDES: 3DES for both.
    let rc2 = secrets.get("legacy-rc2-tls").await.unwrap();
    std::fs::write(d.join("rc2.p12"), &data(&rc2)["keystore.p12"].0).unwrap();
    let info = ok(
        d,
        "openssl",
        &[
            "pkcs12",
            "-legacy",
            "-in",
            "rc2.p12",
            "-passin",
            "pass:rc2pass",
            "-info",
            "-noenc",
        ],
    );
    assert!(info.contains("pbeWithSHA1And40BitRC2-CBC"), "{info}");
    assert!(
        info.contains("Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC"),
        "{info}"
    );
    assert!(info.contains("MAC: sha1"), "{info}");
    let des = secrets.get("legacy-des-tls").await.unwrap();
    std::fs::write(d.join("des.p12"), &data(&des)["keystore.p12"].0).unwrap();
    let info = ok(
        d,
        "openssl",
        &[
            "pkcs12",
            "-in",
            "des.p12",
            "-passin",
            "pass:despass",
            "-info",
            "-noenc",
        ],
    );
    assert!(!info.contains("RC2"), "{info}");
    assert_eq!(
        info.matches("pbeWithSHA1And3-KeyTripleDES-CBC").count(),
        2,
        "{info}"
    );

    // No write loop: the keystores are salted afresh on every write, so a controller that
    // compared bytes would rewrite forever. Nothing moves while nothing changes.
    let rv = |s: &Secret| s.resource_version().unwrap_or_default();
    let before: Vec<String> = {
        let mut v = Vec::new();
        for n in ["stores-tls", "legacy-rc2-tls", "legacy-des-tls"] {
            v.push(rv(&secrets.get(n).await.unwrap()));
        }
        v
    };
    tokio::time::sleep(Duration::from_secs(8)).await;
    for (i, n) in ["stores-tls", "legacy-rc2-tls", "legacy-des-tls"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            rv(&secrets.get(n).await.unwrap()),
            before[i],
            "{n} was rewritten"
        );
    }

    // Changing the outputs rewrites the Secret without a new issuance: drop DER and JKS.
    let revision = |c: &Certificate| c.status.as_ref().and_then(|s| s.revision);
    let rev_before = revision(&certs.get("stores").await.unwrap());
    certs
        .patch(
            "stores",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({
                "spec": {
                    "additionalOutputFormats": [{ "type": "CombinedPEM" }],
                    "keystores": { "jks": null },
                }
            })),
        )
        .await
        .unwrap();
    let s = wait_for(&secrets, "stores-tls", Duration::from_secs(30), |s| {
        s.is_some_and(|s| !data(s).contains_key("key.der") && !data(s).contains_key("keystore.jks"))
    })
    .await
    .unwrap();
    let m = data(&s);
    assert!(!m.contains_key("truststore.jks"));
    assert!(m.contains_key("keystore.p12") && m.contains_key("tls-combined.pem"));
    assert_eq!(
        String::from_utf8(m["tls.crt"].0.clone()).unwrap(),
        tls_crt,
        "the certificate is kept"
    );
    assert_eq!(revision(&certs.get("stores").await.unwrap()), rev_before);
    let crs = Api::<CertificateRequest>::namespaced(client.clone(), &ns.name)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(
        crs.items
            .iter()
            .filter(|r| r.name_any().starts_with("stores-"))
            .count(),
        1,
        "no new CertificateRequest for an output change"
    );
}

#[tokio::test]
async fn missing_keystore_password_is_a_condition_then_recovers() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "kspw").await;
    let mut controller = ControllerProcess::start(&ns.name, &[]);
    support::apply_yaml(&client, &ns.name, ISSUERS).await;
    support::apply_yaml(
        &client,
        &ns.name,
        r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: nopw }
spec:
  secretName: nopw-tls
  dnsNames: [nopw.example.test]
  privateKey: { algorithm: ECDSA }
  keystores: { pkcs12: { create: true, passwordSecretRef: { name: later, key: pw } } }
  issuerRef: { name: ca }
"#,
    )
    .await;
    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);
    let waited = tokio::time::timeout(
        Duration::from_secs(60),
        wait_for(&certs, "nopw", Duration::from_secs(60), |c| {
            ready_reason(c).as_deref() == Some("!SecretNotFound")
        }),
    )
    .await;
    assert!(waited.is_ok(), "no condition; log:\n{}", controller.log());
    let c = certs.get("nopw").await.unwrap();
    let msg = c
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.r#type == "Ready")
        .and_then(|c| c.message)
        .unwrap_or_default();
    assert!(
        msg.contains("spec.keystores.pkcs12") && msg.contains("later"),
        "{msg}"
    );
    // The controller looks again every 30 s; across one such retry nothing is written: the
    // Certificate keeps its resourceVersion and the Event is not repeated.
    let rv = c_rv(&certs.get("nopw").await.unwrap());
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert_eq!(
        c_rv(&certs.get("nopw").await.unwrap()),
        rv,
        "status rewritten on retry"
    );
    let events = Api::<Event>::namespaced(client.clone(), &ns.name)
        .list(&ListParams::default())
        .await
        .unwrap();
    let matching: Vec<&Event> = events
        .items
        .iter()
        .filter(|e| e.reason.as_deref() == Some("SecretNotFound"))
        .collect();
    assert_eq!(matching.len(), 1, "one Event with the reason: {matching:?}");
    assert!(
        matching[0].series.is_none() && matching[0].count.unwrap_or(1) <= 1,
        "the Event was repeated on every retry: {:?}",
        matching[0]
    );
    // Nothing is written without the keystore the spec asks for, and the controller did not
    // crash over it.
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns.name);
    assert!(secrets.get_opt("nopw-tls").await.unwrap().is_none());
    assert!(
        controller.child.try_wait().unwrap().is_none(),
        "the controller exited; log:\n{}",
        controller.log()
    );

    // The password appears: the Secret is written (the controller looks again by itself).
    let pw: Secret = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "later" },
        "stringData": { "pw": "finally" },
    }))
    .unwrap();
    secrets.create(&PostParams::default(), &pw).await.unwrap();
    let waited = tokio::time::timeout(
        Duration::from_secs(90),
        wait_for(&certs, "nopw", Duration::from_secs(90), ready),
    )
    .await;
    assert!(
        waited.is_ok(),
        "not Ready after the password appeared; log:\n{}",
        controller.log()
    );
    let s = secrets.get("nopw-tls").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k.p12"), &data(&s)["keystore.p12"].0).unwrap();
    ok(
        dir.path(),
        "openssl",
        &[
            "pkcs12",
            "-legacy",
            "-in",
            "k.p12",
            "-passin",
            "pass:finally",
            "-noenc",
        ],
    );
}

#[tokio::test]
async fn owner_reference_lets_the_garbage_collector_delete_the_secret() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let leaf = |name: &str| {
        format!(
            r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{ name: {name} }}
spec:
  secretName: {name}-tls
  dnsNames: [{name}.example.test]
  privateKey: {{ algorithm: ECDSA }}
  issuerRef: {{ name: ca }}
"#
        )
    };

    // With --enable-certificate-owner-ref: the Secret is owned and goes with the Certificate.
    let ns = TestNamespace::new(&client, "owned").await;
    let controller = ControllerProcess::start(&ns.name, &["--enable-certificate-owner-ref"]);
    support::apply_yaml(&client, &ns.name, ISSUERS).await;
    support::apply_yaml(&client, &ns.name, &leaf("owned")).await;
    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns.name);
    wait_ready(&certs, "owned", &controller).await;
    let cert = certs.get("owned").await.unwrap();
    let s = secrets.get("owned-tls").await.unwrap();
    let refs = s.metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(refs.len(), 1, "{refs:?}");
    assert_eq!(refs[0].kind, "Certificate");
    assert_eq!(refs[0].name, "owned");
    assert_eq!(Some(&refs[0].uid), cert.metadata.uid.as_ref());
    assert_eq!(refs[0].controller, Some(true));
    certs
        .delete("owned", &DeleteParams::default())
        .await
        .unwrap();
    // kube-controller-manager's garbage collector removes the dependent Secret.
    wait_for(&secrets, "owned-tls", Duration::from_secs(60), |s| {
        s.is_none()
    })
    .await;
    drop(controller);

    // Without the flag: no owner reference, and the Secret outlives its Certificate.
    let ns = TestNamespace::new(&client, "unowned").await;
    let controller = ControllerProcess::start(&ns.name, &[]);
    support::apply_yaml(&client, &ns.name, ISSUERS).await;
    support::apply_yaml(&client, &ns.name, &leaf("kept")).await;
    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns.name);
    wait_ready(&certs, "kept", &controller).await;
    let s = secrets.get("kept-tls").await.unwrap();
    assert!(s.metadata.owner_references.unwrap_or_default().is_empty());
    certs
        .delete("kept", &DeleteParams::default())
        .await
        .unwrap();
    wait_for(&certs, "kept", Duration::from_secs(30), |c| c.is_none()).await;
    // Long enough for the garbage collector to have acted on an owned Secret (above it takes
    // about a second).
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(
        secrets.get_opt("kept-tls").await.unwrap().is_some(),
        "the Secret must survive without --enable-certificate-owner-ref"
    );
}
