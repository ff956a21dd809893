//! Contracts with others, on the real control plane: an external issuer (another API group)
//! gets the CertificateRequest and does the approving and signing itself; two Certificates
//! naming one Secret settle with one conflict condition and no fight; name constraints asked
//! for on a CA Certificate end up in the issued CA and bind what it signs.
mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use certwright::api::{
    Bytes, Certificate, CertificateRequest, CertificateRequestStatus, Condition, ConditionStatus,
};
use certwright::pki::{self, CsrSpec, KeySpec, PrivateKey, SignOptions, Subject, SubjectFields};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use support::{ControllerProcess, TestNamespace, wait_for};

/// (type, reason) of the Certificate's condition `t`, `!`-prefixed when False.
fn condition(c: Option<&Certificate>, t: &str) -> Option<String> {
    let cond = c?
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.r#type == t)?
        .clone();
    let reason = cond.reason.unwrap_or_default();
    Some(if cond.status == ConditionStatus::True {
        reason
    } else {
        format!("!{reason}")
    })
}

fn ready(c: Option<&Certificate>) -> bool {
    condition(c, "Ready").as_deref() == Some("Ready")
}

async fn requests_of(client: &kube::Client, ns: &str, cert: &str) -> Vec<CertificateRequest> {
    Api::<CertificateRequest>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|r| {
            r.annotations()
                .get("cert-manager.io/certificate-name")
                .map(String::as_str)
                == Some(cert)
        })
        .collect()
}

fn cond(t: &str, status: bool, reason: &str, message: &str) -> Condition {
    Condition {
        r#type: t.into(),
        status: if status {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        },
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_transition_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::now(),
        )),
        observed_generation: None,
    }
}

/// Server-side applies a status to a request as `manager` (the external side's own manager).
async fn apply_status(
    api: &Api<CertificateRequest>,
    name: &str,
    manager: &str,
    st: CertificateRequestStatus,
) {
    let patch = serde_json::json!({
        "apiVersion": "cert-manager.io/v1",
        "kind": "CertificateRequest",
        "status": st,
    });
    api.patch_status(
        name,
        &PatchParams::apply(manager).force(),
        &Patch::Apply(&patch),
    )
    .await
    .unwrap_or_else(|e| panic!("patching {name} status as {manager}: {e}"));
}

/// The external issuer's own CA, made with the PKI core (the test is that issuer).
fn external_ca() -> (PrivateKey, String) {
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let csr = pki::build_csr(
        &CsrSpec {
            subject: Subject::Fields(SubjectFields {
                common_name: Some("example.com external CA".into()),
                ..Default::default()
            }),
            is_ca: true,
            ..Default::default()
        },
        &key,
    )
    .unwrap();
    let opts = SignOptions::new(SystemTime::now() - Duration::from_secs(60));
    let pem = pki::self_sign(csr.as_bytes(), &key, &opts).unwrap();
    (key, pem)
}

const EXTERNAL: &str = r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: ext }
spec:
  secretName: ext-tls
  dnsNames: [ext.example.test]
  privateKey: { algorithm: ECDSA }
  issuerRef: { name: acme-corp, kind: CorpIssuer, group: example.com }
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: ext-denied }
spec:
  secretName: ext-denied-tls
  dnsNames: [denied.example.test]
  privateKey: { algorithm: ECDSA }
  issuerRef: { name: acme-corp, kind: CorpIssuer, group: example.com }
"#;

#[tokio::test]
async fn external_issuer_signs_and_denies() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "external").await;
    let controller = ControllerProcess::start(&ns.name, &[]);
    support::apply_yaml(&client, &ns.name, EXTERNAL).await;
    let crs = Api::<CertificateRequest>::namespaced(client.clone(), &ns.name);
    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);

    // The request appears, for the external group, and we leave it alone.
    let cr = wait_for(&crs, "ext-1", Duration::from_secs(60), |r| r.is_some())
        .await
        .unwrap();
    assert_eq!(cr.spec.issuer_ref.group.as_deref(), Some("example.com"));
    assert_eq!(cr.spec.issuer_ref.kind.as_deref(), Some("CorpIssuer"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    let cr = crs.get("ext-1").await.unwrap();
    assert!(
        !cr.is_approved() && !cr.is_denied(),
        "certwright must not approve or deny another group's request: {:?}",
        cr.status
    );
    assert!(
        cr.status
            .as_ref()
            .and_then(|s| s.certificate.as_ref())
            .is_none()
    );
    // A request nobody answers is reported as an issuance in flight (after a short quiet
    // period in which a signer usually answers).
    wait_for(&certs, "ext", Duration::from_secs(30), |c| {
        condition(c, "Issuing").as_deref() == Some("DoesNotExist")
    })
    .await
    .expect("the Certificate reports the waiting issuance");

    // The external side approves, then signs and reports Ready.
    apply_status(
        &crs,
        "ext-1",
        "example-approver",
        CertificateRequestStatus {
            conditions: Some(vec![cond("Approved", true, "policy.example.com", "ok")]),
            ..Default::default()
        },
    )
    .await;
    let (ca_key, ca_pem) = external_ca();
    let mut opts = SignOptions::new(SystemTime::now() - Duration::from_secs(30));
    opts.duration = Duration::from_secs(24 * 3600);
    let leaf = pki::ca_sign(&cr.spec.request.0, ca_pem.as_bytes(), &ca_key, &opts).unwrap();
    apply_status(
        &crs,
        "ext-1",
        "example-issuer",
        CertificateRequestStatus {
            conditions: Some(vec![cond("Ready", true, "Issued", "signed by acme-corp")]),
            certificate: Some(Bytes(leaf.clone().into_bytes())),
            ca: Some(Bytes(ca_pem.clone().into_bytes())),
            ..Default::default()
        },
    )
    .await;
    let waited = tokio::time::timeout(
        Duration::from_secs(60),
        wait_for(&certs, "ext", Duration::from_secs(60), ready),
    )
    .await;
    assert!(waited.is_ok(), "ext not Ready; log:\n{}", controller.log());
    let s = Api::<Secret>::namespaced(client.clone(), &ns.name)
        .get("ext-tls")
        .await
        .unwrap();
    let data = s.data.unwrap();
    let text = |k: &str| String::from_utf8(data[k].0.clone()).unwrap();
    assert_eq!(
        text("tls.crt"),
        leaf,
        "tls.crt is what the external issuer signed"
    );
    assert_eq!(text("ca.crt"), ca_pem);
    let ann = s.metadata.annotations.unwrap_or_default();
    assert_eq!(ann["cert-manager.io/issuer-group"], "example.com");
    assert_eq!(ann["cert-manager.io/issuer-kind"], "CorpIssuer");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("leaf.pem"), text("tls.crt")).unwrap();
    std::fs::write(dir.path().join("ca.pem"), text("ca.crt")).unwrap();
    std::fs::write(dir.path().join("key.pem"), text("tls.key")).unwrap();
    let verify = openssl(dir.path(), &["verify", "-CAfile", "ca.pem", "leaf.pem"]);
    assert!(verify.1.contains("leaf.pem: OK"), "{verify:?}");
    let a = openssl(dir.path(), &["pkey", "-in", "key.pem", "-pubout"]);
    let b = openssl(
        dir.path(),
        &["x509", "-in", "leaf.pem", "-noout", "-pubkey"],
    );
    assert_eq!(a.1, b.1, "tls.key is the key of the signed certificate");

    // Denied by the external side: the attempt ends as a failure with backoff, no retry loop.
    wait_for(&crs, "ext-denied-1", Duration::from_secs(60), |r| {
        r.is_some()
    })
    .await;
    apply_status(
        &crs,
        "ext-denied-1",
        "example-approver",
        CertificateRequestStatus {
            conditions: Some(vec![cond(
                "Denied",
                true,
                "policy.example.com",
                "not allowed",
            )]),
            ..Default::default()
        },
    )
    .await;
    let c = tokio::time::timeout(
        Duration::from_secs(60),
        wait_for(&certs, "ext-denied", Duration::from_secs(60), |c| {
            condition(c, "Issuing").as_deref() == Some("!Denied")
        }),
    )
    .await
    .unwrap_or_else(|_| panic!("no Denied failure; log:\n{}", controller.log()))
    .unwrap();
    let st = c.status.unwrap();
    assert_eq!(st.failed_issuance_attempts, Some(1));
    assert!(st.last_failure_time.is_some());
    assert_eq!(
        condition(Some(&certs.get("ext-denied").await.unwrap()), "Ready").as_deref(),
        Some("!DoesNotExist")
    );
    // Backing off (an hour): the denied request stays, no new one is made.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let reqs = requests_of(&client, &ns.name, "ext-denied").await;
    assert_eq!(
        reqs.len(),
        1,
        "{:?}",
        reqs.iter().map(|r| r.name_any()).collect::<Vec<_>>()
    );
    assert_eq!(
        certs
            .get("ext-denied")
            .await
            .unwrap()
            .status
            .unwrap()
            .failed_issuance_attempts,
        Some(1),
        "one failure is counted once"
    );
}

fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

const SHARED: &str = r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: { name: selfsigned }
spec: { selfSigned: {} }
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: first }
spec:
  secretName: shared-tls
  dnsNames: [first.example.test]
  privateKey: { algorithm: ECDSA }
  issuerRef: { name: selfsigned }
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: second }
spec:
  secretName: shared-tls
  dnsNames: [second.example.test]
  privateKey: { algorithm: ECDSA }
  issuerRef: { name: selfsigned }
"#;

#[tokio::test]
async fn two_certificates_one_secret_settle_without_fighting() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "shared").await;
    let controller = ControllerProcess::start(&ns.name, &[]);
    support::apply_yaml(&client, &ns.name, SHARED).await;
    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns.name);

    // One ends Ready, the other reports the conflict.
    let settled = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let a = certs.get("first").await.unwrap();
            let b = certs.get("second").await.unwrap();
            let (ra, rb) = (condition(Some(&a), "Ready"), condition(Some(&b), "Ready"));
            match (ra.as_deref(), rb.as_deref()) {
                (Some("Ready"), Some("!SecretInUse")) => return ("first", "second"),
                (Some("!SecretInUse"), Some("Ready")) => return ("second", "first"),
                _ => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
    })
    .await;
    let (winner, loser) =
        settled.unwrap_or_else(|_| panic!("did not settle; log:\n{}", controller.log()));
    let s = secrets.get("shared-tls").await.unwrap();
    assert_eq!(
        s.annotations()
            .get("cert-manager.io/certificate-name")
            .map(String::as_str),
        Some(winner)
    );
    let loser_cert = certs.get(loser).await.unwrap();
    let msg = loser_cert
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.r#type == "Ready")
        .and_then(|c| c.message)
        .unwrap_or_default();
    assert!(msg.contains(winner) && msg.contains("shared-tls"), "{msg}");

    // Neither fights: over some seconds the Secret, the Certificates and the requests stay put.
    let snapshot = || async {
        let s = secrets.get("shared-tls").await.unwrap();
        let a = certs.get("first").await.unwrap();
        let b = certs.get("second").await.unwrap();
        let n = requests_of(&client, &ns.name, "first").await.len()
            + requests_of(&client, &ns.name, "second").await.len();
        (
            s.resource_version(),
            a.resource_version(),
            b.resource_version(),
            n,
        )
    };
    let before = snapshot().await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after = snapshot().await;
    assert_eq!(
        before,
        after,
        "something kept writing; log:\n{}",
        controller.log()
    );
    assert!(before.3 <= 2, "at most one request each: {}", before.3);
}

const CONSTRAINED: &str = r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: { name: selfsigned }
spec: { selfSigned: {} }
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: root }
spec:
  isCA: true
  commonName: constrained root
  secretName: root
  privateKey: { algorithm: ECDSA }
  nameConstraints:
    permitted: { dnsDomains: [example.test, other.test] }
  issuerRef: { name: selfsigned }
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: { name: root }
spec: { ca: { secretName: root } }
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: intermediate }
spec:
  isCA: true
  commonName: constrained intermediate
  secretName: intermediate
  privateKey: { algorithm: ECDSA }
  nameConstraints:
    critical: true
    permitted: { dnsDomains: [example.test], ipRanges: [192.0.2.0/24] }
    excluded: { dnsDomains: [bad.example.test] }
  issuerRef: { name: root }
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: { name: intermediate }
spec: { ca: { secretName: intermediate } }
"#;

#[tokio::test]
async fn name_constraints_reach_the_ca_and_bind_its_leaves() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "nc").await;
    let controller = ControllerProcess::start(&ns.name, &[]);
    let mut yaml = CONSTRAINED.to_string();
    for (name, dns) in [
        ("inside", "app.example.test"),
        ("outside", "app.other.test"),
        ("excluded", "x.bad.example.test"),
    ] {
        yaml.push_str(&format!(
            "---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{ name: {name} }}\nspec:\n  secretName: {name}-tls\n  dnsNames: [{dns}]\n  privateKey: {{ algorithm: ECDSA }}\n  issuerRef: {{ name: intermediate }}\n"
        ));
    }
    support::apply_yaml(&client, &ns.name, &yaml).await;
    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns.name);
    for n in ["root", "intermediate", "inside", "outside", "excluded"] {
        let waited = tokio::time::timeout(
            Duration::from_secs(90),
            wait_for(&certs, n, Duration::from_secs(90), ready),
        )
        .await;
        assert!(waited.is_ok(), "{n} not Ready; log:\n{}", controller.log());
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let get =
        |s: &Secret, k: &str| String::from_utf8(s.data.as_ref().unwrap()[k].0.clone()).unwrap();
    let root = secrets.get("root").await.unwrap();
    let int = secrets.get("intermediate").await.unwrap();
    std::fs::write(d.join("root.pem"), get(&root, "tls.crt")).unwrap();
    std::fs::write(
        d.join("int.pem"),
        get(&int, "tls.crt")
            .split_inclusive("-----END CERTIFICATE-----\n")
            .next()
            .unwrap(),
    )
    .unwrap();

    // The self-signed root (SelfSigned issuer) carries its constraints, not critical.
    let (_, text) = openssl(d, &["x509", "-in", "root.pem", "-noout", "-text"]);
    assert!(
        text.contains("X509v3 Name Constraints: \n") || text.contains("X509v3 Name Constraints:\n"),
        "{text}"
    );
    assert!(
        text.contains("DNS:example.test") && text.contains("DNS:other.test"),
        "{text}"
    );
    // The intermediate (CA issuer) carries its own, critical, with both subtrees.
    let (_, text) = openssl(d, &["x509", "-in", "int.pem", "-noout", "-text"]);
    assert!(text.contains("X509v3 Name Constraints: critical"), "{text}");
    assert!(
        text.contains("Permitted:") && text.contains("Excluded:"),
        "{text}"
    );
    assert!(
        text.contains("DNS:bad.example.test") && text.contains("IP:192.0.2.0/255.255.255.0"),
        "{text}"
    );

    for (name, expect) in [
        ("inside", None),
        ("outside", Some("permitted subtree violation")),
        ("excluded", Some("excluded subtree violation")),
    ] {
        let s = secrets.get(&format!("{name}-tls")).await.unwrap();
        let leaf = get(&s, "tls.crt");
        std::fs::write(
            d.join("leaf.pem"),
            leaf.split_inclusive("-----END CERTIFICATE-----\n")
                .next()
                .unwrap(),
        )
        .unwrap();
        let (verified, out) = openssl(
            d,
            &[
                "verify",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "int.pem",
                "leaf.pem",
            ],
        );
        match expect {
            None => assert!(verified, "{name}: {out}"),
            Some(why) => {
                assert!(!verified, "{name} verified despite the constraints: {out}");
                assert!(out.contains(why), "{name}: {out}");
            }
        }
    }
}

const FOREIGN: &str = r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: { name: selfsigned }
spec: { selfSigned: {} }
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: users-pair }
spec:
  secretName: users-tls
  dnsNames: [users.example.test]
  privateKey: { algorithm: ECDSA }
  issuerRef: { name: selfsigned }
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: opaque }
spec:
  secretName: opaque-config
  dnsNames: [opaque.example.test]
  privateKey: { algorithm: ECDSA }
  issuerRef: { name: selfsigned }
"#;

/// Secrets someone else made are never written, whether the Certificate appears after them
/// (the controller never caches Secrets it did not label, so its first write must find out
/// by itself) or the controller starts when both exist.
#[tokio::test]
async fn secrets_that_are_not_ours_are_never_overwritten() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "foreign").await;
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns.name);
    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);

    // A TLS pair made by hand (as `kubectl create secret tls` would), and an Opaque Secret.
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let csr = pki::build_csr(
        &CsrSpec {
            subject: Subject::Fields(SubjectFields {
                common_name: Some("made by hand".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        &key,
    )
    .unwrap();
    let crt = pki::self_sign(csr.as_bytes(), &key, &SignOptions::new(SystemTime::now())).unwrap();
    let users: Secret = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "users-tls" },
        "type": "kubernetes.io/tls",
        "stringData": {
            "tls.crt": crt,
            "tls.key": *key.to_pem(pki::KeyEncoding::Pkcs8).unwrap(),
        },
    }))
    .unwrap();
    let opaque: Secret = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "opaque-config" },
        "type": "Opaque",
        "stringData": { "config.yaml": "a: 1" },
    }))
    .unwrap();
    let pp = kube::api::PostParams {
        field_manager: Some("kubectl-create".into()),
        ..Default::default()
    };
    let users = secrets.create(&pp, &users).await.unwrap();
    let opaque = secrets.create(&pp, &opaque).await.unwrap();

    // First the controller runs and the Certificates come later; then a restart finds both.
    let controller = ControllerProcess::start(&ns.name, &[]);
    support::apply_yaml(&client, &ns.name, FOREIGN).await;
    for (cert, reason) in [
        ("users-pair", "!SecretNotOwned"),
        ("opaque", "!SecretTypeMismatch"),
    ] {
        wait_for(&certs, cert, Duration::from_secs(60), |c| {
            condition(c, "Ready").as_deref() == Some(reason)
        })
        .await
        .unwrap_or_else(|| panic!("{cert} did not report {reason}; log:\n{}", controller.log()));
    }
    drop(controller);
    let controller = ControllerProcess::start(&ns.name, &[]);
    tokio::time::sleep(Duration::from_secs(8)).await;
    for (before, cert) in [(&users, "users-pair"), (&opaque, "opaque")] {
        let now = secrets.get(&before.name_any()).await.unwrap();
        assert_eq!(
            now.resource_version(),
            before.resource_version(),
            "{cert}: the Secret was written; log:\n{}",
            controller.log()
        );
        assert_eq!(now.data, before.data);
    }
    for (cert, reason) in [
        ("users-pair", "!SecretNotOwned"),
        ("opaque", "!SecretTypeMismatch"),
    ] {
        let c = certs.get(cert).await.unwrap();
        assert_eq!(
            condition(Some(&c), "Ready").as_deref(),
            Some(reason),
            "{cert}"
        );
    }
}
