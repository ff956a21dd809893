//! An ACME ClusterIssuer against Pebble: Ready with its account URI, the account key in the
//! cluster resource namespace, and a Certificate issued through it. Its own test binary: a
//! ClusterIssuer is seen by every controller process, so no other test may run beside it.
mod support;

use std::time::Duration;

use certwright::api::{Certificate, ClusterIssuer};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::DeleteParams;
use support::pebble::{Options, Pebble, free_port};
use support::{ControllerProcess, TestNamespace, apply_yaml, wait_for};

/// Deletes the cluster-scoped ClusterIssuer when the test ends, also on panic.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let name = self.0.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let api = Api::<ClusterIssuer>::all(support::client().await);
                api.delete(&name, &DeleteParams::default()).await.ok()
            })
        })
        .join();
    }
}

#[tokio::test]
async fn an_acme_cluster_issuer_registers_and_issues() {
    use base64::Engine as _;
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "acme-ciss").await;
    let port = free_port();
    let pebble = Pebble::start(Options {
        http01_port: port,
        nonce_reject_percent: 5,
        va_sleep_seconds: None,
        alternate_roots: 0,
        eab: None,
    });
    let name = ns.name.clone();
    let _cleanup = Cleanup(name.clone());
    let ctl = ControllerProcess::start(
        &ns.name,
        &["--acme-http01-listen", &format!("127.0.0.1:{port}")],
    );
    let yaml = format!(
        r#"
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {{ name: {name} }}
spec:
  acme:
    server: {server}
    caBundle: {ca}
    privateKeySecretRef: {{ name: acme-account }}
    solvers:
      - http01: {{ ingress: {{ ingressClassName: nginx }} }}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{ name: web }}
spec:
  secretName: web-tls
  dnsNames: [web.{name}.example]
  issuerRef: {{ name: {name}, kind: ClusterIssuer }}
"#,
        server = pebble.directory_url,
        ca = base64::engine::general_purpose::STANDARD.encode(&pebble.ca_bundle),
    );
    apply_yaml(&client, &ns.name, &yaml).await;

    let issuers = Api::<ClusterIssuer>::all(client.clone());
    let ready = tokio::time::timeout(
        Duration::from_secs(60),
        wait_for(&issuers, &name, Duration::from_secs(60), |i| {
            i.and_then(|i| i.status.as_ref())
                .and_then(|s| s.condition("Ready"))
                .is_some_and(|c| c.is_true("Ready"))
        }),
    )
    .await;
    let issuer = match ready {
        Ok(Some(i)) => i,
        _ => panic!("ClusterIssuer not ready\n{}", ctl.log()),
    };
    let status = issuer.status.unwrap();
    assert_eq!(
        status.condition("Ready").unwrap().reason.as_deref(),
        Some("ACMEAccountRegistered")
    );
    assert!(
        status
            .acme
            .unwrap()
            .uri
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    // The account key lives in the cluster resource namespace.
    Api::<Secret>::namespaced(client.clone(), &ns.name)
        .get("acme-account")
        .await
        .expect("account key Secret in the cluster resource namespace");

    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);
    let done = tokio::time::timeout(
        Duration::from_secs(120),
        wait_for(&certs, "web", Duration::from_secs(120), |c| {
            c.and_then(|c| c.status.as_ref())
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.is_true("Ready")))
        }),
    )
    .await;
    assert!(
        matches!(done, Ok(Some(_))),
        "certificate not ready\n{}\n{}",
        ctl.log(),
        pebble.log()
    );
    let secret = Api::<Secret>::namespaced(client.clone(), &ns.name)
        .get("web-tls")
        .await
        .unwrap();
    let chain = &secret.data.unwrap()["tls.crt"].0;
    assert_eq!(
        String::from_utf8_lossy(chain)
            .matches("BEGIN CERTIFICATE")
            .count(),
        2
    );
}
