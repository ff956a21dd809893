//! Renewal, repair and re-issuance on the real control plane: a short-lived certificate renews
//! by itself, a deleted or corrupted Secret comes back, an edited spec re-issues, and bad CA
//! input shows up as a condition with a reason instead of an issuance.
mod support;

use std::time::Duration;

use certwright::api::{Certificate, Issuer};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::events::v1::Event;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams};
use support::{ControllerProcess, TestNamespace, wait_for};

fn ready_at(rev: i64) -> impl Fn(Option<&Certificate>) -> bool {
    move |c| {
        let Some(st) = c.and_then(|c| c.status.as_ref()) else {
            return false;
        };
        st.revision.unwrap_or(0) >= rev
            && st.conditions.iter().flatten().any(|c| c.is_true("Ready"))
    }
}

const SELF_SIGNED: &str = r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: { name: selfsigned }
spec: { selfSigned: {} }
"#;

#[tokio::test]
async fn renews_repairs_and_reissues() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "renew").await;
    let controller = ControllerProcess::start(&ns.name, &[]);
    support::apply_yaml(&client, &ns.name, SELF_SIGNED).await;
    support::apply_yaml(
        &client,
        &ns.name,
        r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: short }
spec:
  secretName: short-tls
  dnsNames: [short.test]
  duration: 1h
  renewBefore: 59m50s
  privateKey: { algorithm: ECDSA }
  issuerRef: { name: selfsigned }
"#,
    )
    .await;
    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns.name);
    let fail = |what: &str| format!("{what}; controller log:\n{}", controller.log());

    // Issued, then renewed about ten seconds later with no polling from outside.
    let first = wait_for(&certs, "short", Duration::from_secs(60), ready_at(1))
        .await
        .unwrap();
    let first_not_before = first.status.as_ref().unwrap().not_before.clone();
    let renewed = tokio::time::timeout(
        Duration::from_secs(60),
        wait_for(&certs, "short", Duration::from_secs(60), ready_at(2)),
    )
    .await
    .unwrap_or_else(|_| panic!("{}", fail("no renewal")))
    .unwrap();
    let renewed_st = renewed.status.unwrap();
    assert!(renewed_st.not_before > first_not_before);
    assert!(
        secrets.get_opt("short-tls").await.unwrap().is_some(),
        "the Secret keeps its name"
    );

    // A deleted Secret comes back.
    let rev = wait_for(&certs, "short", Duration::from_secs(5), |_| true)
        .await
        .unwrap()
        .status
        .unwrap()
        .revision
        .unwrap();
    secrets
        .delete("short-tls", &DeleteParams::default())
        .await
        .unwrap();
    wait_for(&certs, "short", Duration::from_secs(60), ready_at(rev + 1)).await;
    assert!(secrets.get_opt("short-tls").await.unwrap().is_some());

    // A corrupted Secret is repaired.
    let rev = certs
        .get("short")
        .await
        .unwrap()
        .status
        .unwrap()
        .revision
        .unwrap();
    secrets
        .patch(
            "short-tls",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "stringData": { "tls.crt": "garbage" } })),
        )
        .await
        .unwrap();
    wait_for(&certs, "short", Duration::from_secs(60), ready_at(rev + 1)).await;

    // Editing dnsNames re-issues for the new names.
    let rev = certs
        .get("short")
        .await
        .unwrap()
        .status
        .unwrap()
        .revision
        .unwrap();
    certs
        .patch(
            "short",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "spec": { "dnsNames": ["short.test", "extra.test"], "duration": "2160h", "renewBefore": "360h" } })),
        )
        .await
        .unwrap();
    wait_for(&certs, "short", Duration::from_secs(60), ready_at(rev + 1)).await;
    let s = secrets.get("short-tls").await.unwrap();
    let crt = &s.data.unwrap()["tls.crt"].0;
    let info = certwright::pki::inspect_pem(crt).unwrap();
    assert!(
        info.sans.dns_names.contains(&"extra.test".to_string()),
        "{:?}",
        info.sans
    );

    // Now stable: nothing is re-issued while the certificate is current.
    let rev = certs
        .get("short")
        .await
        .unwrap()
        .status
        .unwrap()
        .revision
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        certs.get("short").await.unwrap().status.unwrap().revision,
        Some(rev),
        "{}",
        fail("re-issued a current certificate")
    );

    // Five issuances within minutes: their Events of the same reason and action are one
    // Event counted as a series, not five objects.
    let events = Api::<Event>::namespaced(client.clone(), &ns.name)
        .list(&Default::default())
        .await
        .unwrap();
    let mut seen = std::collections::BTreeMap::new();
    for e in events.items.iter().filter(|e| {
        e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("short")
            && e.regarding.as_ref().and_then(|r| r.kind.as_deref()) == Some("Certificate")
    }) {
        let key = (e.reason.clone(), e.action.clone());
        let count = e.series.as_ref().map_or(1, |s| s.count);
        assert!(
            seen.insert(key.clone(), count).is_none(),
            "two Events for {key:?}"
        );
    }
    assert!(
        seen.values().any(|c| *c >= 2),
        "no repeated Event became a series: {seen:?}"
    );
}

/// A CA Secret from `pki`: a certificate PEM and a key PEM.
fn ca_pair(is_ca: bool, not_before_offset: Duration, lifetime: Duration) -> (String, String) {
    use certwright::pki::*;
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let spec = CsrSpec {
        subject: Subject::Fields(SubjectFields {
            common_name: Some("bad ca".into()),
            ..Default::default()
        }),
        is_ca,
        ..Default::default()
    };
    let csr = build_csr(&spec, &key).unwrap();
    let mut o = SignOptions::new(std::time::SystemTime::now() - not_before_offset);
    o.duration = lifetime;
    let crt = self_sign(csr.as_bytes(), &key, &o).unwrap();
    (crt, key.to_pem(KeyEncoding::Pkcs8).unwrap().to_string())
}

#[tokio::test]
async fn bad_ca_input_is_reported_not_issued() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "badca").await;
    let controller = ControllerProcess::start(&ns.name, &[]);
    let hour = Duration::from_secs(3600);
    let (good_crt, _) = ca_pair(true, Duration::ZERO, 24 * hour);
    let (_, other_key) = ca_pair(true, Duration::ZERO, 24 * hour);
    let (leaf_crt, leaf_key) = ca_pair(false, Duration::ZERO, 24 * hour);
    let (old_crt, old_key) = ca_pair(true, 48 * hour, hour);
    // (name, CA Secret contents, expected reason, text the message must contain)
    type Case<'a> = (&'a str, Option<(String, String)>, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        ("missing", None, "ErrGetKeyPair", "not found"),
        (
            "garbled",
            Some(("garbage".into(), "garbage".into())),
            "ErrInvalidKeyPair",
            "tls.key",
        ),
        (
            "expired",
            Some((old_crt, old_key)),
            "ErrInvalidKeyPair",
            "expired",
        ),
        (
            "not-a-ca",
            Some((leaf_crt, leaf_key)),
            "ErrInvalidKeyPair",
            "not a CA",
        ),
        (
            "mismatched",
            Some((good_crt, other_key)),
            "ErrInvalidKeyPair",
            "not the key",
        ),
    ];
    let secrets = Api::<Secret>::namespaced(client.clone(), &ns.name);
    let mut yaml = String::new();
    for (name, pair, _, _) in &cases {
        if let Some((crt, key)) = pair {
            let s: Secret = serde_json::from_value(serde_json::json!({
                "metadata": { "name": format!("{name}-ca") },
                "stringData": { "tls.crt": crt, "tls.key": key }
            }))
            .unwrap();
            secrets.create(&Default::default(), &s).await.unwrap();
        }
        yaml.push_str(&format!(
            "---\napiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {{ name: {name} }}\nspec: {{ ca: {{ secretName: {name}-ca }} }}\n---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {{ name: {name} }}\nspec: {{ secretName: {name}-tls, dnsNames: [{name}.test], issuerRef: {{ name: {name} }} }}\n"
        ));
    }
    support::apply_yaml(&client, &ns.name, &yaml).await;
    let issuers = Api::<Issuer>::namespaced(client.clone(), &ns.name);
    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);
    for (name, _, reason, text) in &cases {
        let i = tokio::time::timeout(
            Duration::from_secs(60),
            wait_for(&issuers, name, Duration::from_secs(60), |i| {
                i.and_then(|i| i.status.as_ref())
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c.r#type == "Ready" && c.reason.as_deref() == Some(reason))
                    })
            }),
        )
        .await
        .unwrap_or_else(|_| panic!("issuer {name}; log:\n{}", controller.log()))
        .unwrap();
        let msg = i.status.unwrap().conditions.unwrap()[0]
            .message
            .clone()
            .unwrap_or_default();
        assert!(
            msg.contains(text),
            "issuer {name}: {msg:?} should mention {text:?}"
        );
        // Its Certificate waits and says why.
        let c = wait_for(&certs, name, Duration::from_secs(60), |c| {
            c.and_then(|c| c.status.as_ref())
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| {
                    cs.iter().any(|c| {
                        c.r#type == "Issuing"
                            && c.message
                                .as_deref()
                                .is_some_and(|m| m.contains("Waiting for CertificateRequest"))
                    })
                })
        })
        .await
        .unwrap();
        let ready = c
            .status
            .unwrap()
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.r#type == "Ready")
            .unwrap();
        assert_eq!(ready.status, certwright::api::ConditionStatus::False);
        assert!(
            secrets
                .get_opt(&format!("{name}-tls"))
                .await
                .unwrap()
                .is_none()
        );
    }
}
