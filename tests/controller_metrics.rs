//! /metrics, /livez and /readyz of a real controller process on the local control plane: each
//! cert-manager metric carries the value of a known Certificate (the expiry equals the notAfter
//! of the certificate in its Secret), certwright's own counters move, and a deleted
//! Certificate's series vanish.
mod support;

use std::time::{Duration, Instant};

use certwright::api::{Certificate, ClusterIssuer};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::DeleteParams;
use support::{ControllerProcess, TestNamespace, http_get, ready, sample, wait_for};

/// Polls /metrics until `check` accepts the page; on timeout fails with the page.
fn wait_for_page(addr: std::net::SocketAddr, what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, page) = http_get(addr, "/metrics");
        assert_eq!(code, 200, "{page}");
        if check(&page) {
            return page;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; /metrics:\n{page}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[tokio::test]
async fn metrics_and_probes_describe_a_known_certificate() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "metrics").await;
    let n = ns.name.as_str();
    // ClusterIssuers are cluster-wide: a name of this test's own, deleted at the end.
    let cluster_issuer = support::unique_name("metrics-root");
    let controller = ControllerProcess::start(n, &[]);
    let addr = controller.metrics_addr();

    // Live at once; ready only when every cache has synced.
    assert_eq!(http_get(addr, "/livez").0, 200);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = http_get(addr, "/readyz");
        if code == 200 {
            assert!(body.contains("caches synced"), "{body}");
            break;
        }
        assert_eq!(code, 503, "{body}");
        assert!(
            Instant::now() < deadline,
            "never ready: {body}\n{}",
            controller.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    support::apply_yaml(
        &client,
        n,
        &format!(
            r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{ name: selfsigned }}
spec: {{ selfSigned: {{}} }}
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata: {{ name: {cluster_issuer} }}
spec: {{ selfSigned: {{}} }}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{ name: web }}
spec:
  secretName: web-tls
  commonName: web.example.test
  dnsNames: [web.example.test]
  duration: 2160h
  renewBefore: 360h
  privateKey: {{ algorithm: ECDSA, size: 256 }}
  issuerRef: {{ name: selfsigned, kind: Issuer }}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{ name: orphan }}
spec:
  secretName: orphan-tls
  dnsNames: [orphan.example.test]
  issuerRef: {{ name: no-such-issuer }}
"#
        ),
    )
    .await;
    let _cleanup = DeleteClusterIssuer(cluster_issuer.clone());

    let certs = Api::<Certificate>::namespaced(client.clone(), n);
    let got = tokio::time::timeout(
        Duration::from_secs(90),
        wait_for(&certs, "web", Duration::from_secs(90), ready),
    )
    .await;
    assert!(got.is_ok(), "web not Ready; log:\n{}", controller.log());
    let web = certs.get("web").await.unwrap();
    let st = web.status.clone().unwrap();

    // The certificate actually stored, decoded independently of the controller's status.
    let secret = Api::<Secret>::namespaced(client.clone(), n)
        .get("web-tls")
        .await
        .unwrap();
    let pem = secret.data.unwrap()["tls.crt"].0.clone();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem).unwrap();
    let x509 = pem.parse_x509().unwrap();
    let not_after = x509.validity().not_after.timestamp() as f64;
    let not_before = x509.validity().not_before.timestamp() as f64;
    let renewal = st.renewal_time.as_ref().unwrap().0.as_second() as f64;

    let web_labels = [
        ("name", "web"),
        ("namespace", n),
        ("issuer_name", "selfsigned"),
        ("issuer_kind", "Issuer"),
        ("issuer_group", ""),
    ];
    // The scrape reads the caches, which follow the API within moments: wait for the issued
    // state to show rather than assuming it is already there.
    let page = wait_for_page(addr, "web's expiry and issuer readiness", |p| {
        sample(
            p,
            "certmanager_certificate_expiration_timestamp_seconds",
            &web_labels,
        ) == Some(not_after)
            && sample(
                p,
                "certmanager_issuer_ready_status",
                &[("name", "selfsigned"), ("condition", "True")],
            ) == Some(1.0)
            && sample(
                p,
                "certmanager_clusterissuer_ready_status",
                &[("name", &cluster_issuer), ("condition", "True")],
            ) == Some(1.0)
    });
    let get = |name: &str, labels: &[(&str, &str)]| {
        sample(&page, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in\n{page}"))
    };
    assert_eq!(
        get(
            "certmanager_certificate_not_after_timestamp_seconds",
            &web_labels
        ),
        not_after
    );
    assert_eq!(
        get(
            "certmanager_certificate_not_before_timestamp_seconds",
            &web_labels
        ),
        not_before
    );
    assert_eq!(
        get(
            "certmanager_certificate_renewal_timestamp_seconds",
            &web_labels
        ),
        renewal
    );
    // notAfter - renewBefore: the renewal time the status states is the one the metric states.
    assert_eq!(renewal, not_after - 360.0 * 3600.0);
    for (cond, want) in [("True", 1.0), ("False", 0.0), ("Unknown", 0.0)] {
        let mut l = web_labels.to_vec();
        l.push(("condition", cond));
        assert_eq!(
            get("certmanager_certificate_ready_status", &l),
            want,
            "{cond}"
        );
    }
    // The Certificate whose issuer does not exist is not Ready, and has no expiry yet.
    let orphan = [("name", "orphan"), ("namespace", n)];
    assert_eq!(
        get(
            "certmanager_certificate_expiration_timestamp_seconds",
            &orphan
        ),
        0.0
    );
    assert_eq!(
        get(
            "certmanager_certificate_ready_status",
            &[("name", "orphan"), ("namespace", n), ("condition", "True")]
        ),
        0.0
    );
    assert_eq!(
        get(
            "certmanager_issuer_ready_status",
            &[
                ("name", "selfsigned"),
                ("namespace", n),
                ("condition", "False")
            ]
        ),
        0.0
    );

    // Every controller reports its sync calls under cert-manager's metric name.
    for c in [
        "certificates",
        "certificaterequests",
        "issuers",
        "clusterissuers",
    ] {
        assert!(
            get(
                "certmanager_controller_sync_call_count",
                &[("controller", c)]
            ) >= 1.0,
            "{c}"
        );
    }
    // One issuance through the self-signed Issuer, timed.
    assert_eq!(
        get(
            "certwright_issuance_duration_seconds_count",
            &[("issuer_name", "selfsigned"), ("issuer_kind", "Issuer")]
        ),
        1.0
    );
    // The writes of that issuance, counted by the client layer as RBAC names them.
    for (resource, verb) in [
        ("secrets", "create"),
        ("secrets", "patch"),
        ("certificaterequests", "create"),
        ("certificaterequests/status", "patch"),
        ("certificates/status", "patch"),
        ("issuers/status", "patch"),
    ] {
        assert!(
            get(
                "certwright_api_writes_total",
                &[("resource", resource), ("verb", verb)]
            ) >= 1.0,
            "{resource} {verb}"
        );
    }
    assert_eq!(get("certwright_leader_election_leader", &[]), 1.0);

    // A deleted Certificate vanishes from every family.
    certs.delete("web", &DeleteParams::default()).await.unwrap();
    let page = wait_for_page(addr, "web's series to vanish", |p| {
        sample(
            p,
            "certmanager_certificate_expiration_timestamp_seconds",
            &[("name", "web"), ("namespace", n)],
        )
        .is_none()
    });
    for family in [
        "certmanager_certificate_not_after_timestamp_seconds",
        "certmanager_certificate_not_before_timestamp_seconds",
        "certmanager_certificate_renewal_timestamp_seconds",
        "certmanager_certificate_ready_status",
    ] {
        assert_eq!(
            sample(&page, family, &[("name", "web"), ("namespace", n)]),
            None,
            "{family} still reports web"
        );
    }
    assert!(sample(&page, "certmanager_certificate_ready_status", &orphan).is_some());
}

/// Deletes a ClusterIssuer when dropped (test namespaces do not take cluster objects along).
struct DeleteClusterIssuer(String);

impl Drop for DeleteClusterIssuer {
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
