//! The Helm chart on the real control plane: its rendered objects are accepted by the
//! apiserver, the controller running with nothing but the chart's ServiceAccount permissions
//! issues certificates end to end, and the README's install section works as written.
//!
//! The local plane has no kubelet, so the Deployment never runs a pod: the controller runs as a
//! local process that impersonates the chart's ServiceAccount, which makes the apiserver
//! authorize every call exactly as it would for the pod.
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use certwright::api::{Certificate, Issuer};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::ListParams;
use support::{ControllerProcess, TestNamespace, ready, wait_for};

const CHART: &str = "charts/certwright";

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Deletes the release's cluster-scoped RBAC objects, which outlive the test namespace.
struct ClusterRbac(String);

impl Drop for ClusterRbac {
    fn drop(&mut self) {
        let _ = support::kubectl()
            .args([
                "delete",
                "--ignore-not-found",
                "clusterrole,clusterrolebinding",
                &self.0,
            ])
            .output();
    }
}

/// A copy of the admin kubeconfig whose user impersonates `system:serviceaccount:<ns>:<sa>`:
/// the apiserver then adds the ServiceAccount groups and authorizes as that account.
fn impersonating_kubeconfig(ns: &str, sa: &str) -> PathBuf {
    let admin = std::fs::read_to_string(support::kubeconfig_path()).unwrap();
    let mut kc: serde_yaml::Value = serde_yaml::from_str(&admin).unwrap();
    for user in kc["users"].as_sequence_mut().expect("kubeconfig users") {
        user["user"]["as"] = format!("system:serviceaccount:{ns}:{sa}").into();
    }
    let path = std::env::temp_dir().join(format!("certwright-kubeconfig-{ns}-{sa}"));
    std::fs::write(&path, serde_yaml::to_string(&kc).unwrap()).unwrap();
    path
}

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
  commonName: chart test root
  secretName: root-ca
  privateKey: { algorithm: ECDSA, size: 256 }
  issuerRef: { name: selfsigned }
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: { name: root-ca }
spec: { ca: { secretName: root-ca } }
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: web }
spec:
  secretName: web-tls
  dnsNames: [web.example.test]
  privateKey: { algorithm: ECDSA, size: 256, rotationPolicy: Always }
  issuerRef: { name: root-ca }
"#;

#[tokio::test]
async fn the_chart_service_account_is_enough_to_issue_certificates() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "chart").await;
    let release = ns.name.clone();
    let fullname = format!("{release}-certwright");
    let _rbac = ClusterRbac(fullname.clone());

    // The CRDs are left out here: they are cluster-wide and shared with every other test (the
    // README test installs them through helm itself; chart_render checks they equal crds/).
    let rendered = run(support::helm().args([
        "template",
        &release,
        CHART,
        "--namespace",
        &ns.name,
        "--set",
        "crds.enabled=false",
    ]));
    support::apply_yaml(&client, &ns.name, &rendered).await;

    let sa_kubeconfig = impersonating_kubeconfig(&ns.name, &fullname);
    let as_sa = support::client_for(&sa_kubeconfig).await;
    // The impersonation must be real: the ServiceAccount may not read ConfigMaps.
    let err = Api::<ConfigMap>::namespaced(as_sa.clone(), &ns.name)
        .list(&ListParams::default())
        .await
        .expect_err("the chart grants no access to ConfigMaps");
    assert!(err.to_string().contains("forbidden"), "{err}");

    // Leader election as the chart runs it: the Lease in the release namespace, under the
    // chart's Role (short timings only to keep the test quick).
    let lease_ns = format!("--leader-election-namespace={}", ns.name);
    let controller = ControllerProcess::start_with_kubeconfig(
        &ns.name,
        &sa_kubeconfig,
        &[
            "--cluster-resource-namespace",
            &ns.name,
            "--leader-elect=true",
            &lease_ns,
            "--leader-election-lease-duration=6s",
            "--leader-election-renew-deadline=4s",
            "--leader-election-retry-period=1s",
        ],
    );
    support::apply_yaml(&client, &ns.name, CHAIN).await;

    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);
    for name in ["root-ca", "web"] {
        let got = tokio::time::timeout(
            Duration::from_secs(90),
            wait_for(&certs, name, Duration::from_secs(90), ready),
        )
        .await;
        assert!(
            got.is_ok(),
            "{name} not Ready; controller log:\n{}",
            controller.log()
        );
    }
    let secret = Api::<Secret>::namespaced(client.clone(), &ns.name)
        .get("web-tls")
        .await
        .unwrap();
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let data = secret.data.unwrap_or_default();
    for key in ["tls.crt", "tls.key", "ca.crt"] {
        assert!(
            data.get(key).is_some_and(|v| !v.0.is_empty()),
            "{key} missing"
        );
    }
    // The CA Issuer turns Ready once its Secret exists (it polls every few seconds): that is a
    // Secret read and a status write, both under the ServiceAccount.
    let issuers = Api::<Issuer>::namespaced(client.clone(), &ns.name);
    let got = tokio::time::timeout(
        Duration::from_secs(60),
        wait_for(&issuers, "root-ca", Duration::from_secs(60), |i| {
            i.and_then(|i| i.status.as_ref())
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.is_true("Ready")))
        }),
    )
    .await;
    assert!(
        got.is_ok(),
        "Issuer root-ca not Ready; log:\n{}",
        controller.log()
    );
    let events = Api::<Event>::namespaced(client.clone(), &ns.name)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(
        events
            .items
            .iter()
            .any(|e| e.reporting_controller.as_deref() == Some("certwright")),
        "no Event published under the ServiceAccount; log:\n{}",
        controller.log()
    );
    // The Lease was created and is renewed under the chart's Role.
    let lease =
        Api::<k8s_openapi::api::coordination::v1::Lease>::namespaced(client.clone(), &ns.name)
            .get("certwright-controller")
            .await
            .unwrap_or_else(|e| panic!("no leader Lease: {e}; log:\n{}", controller.log()));
    assert!(
        lease
            .spec
            .and_then(|s| s.holder_identity)
            .is_some_and(|h| !h.is_empty())
    );
    let log = controller.log();
    assert!(
        !log.to_lowercase().contains("forbidden"),
        "a call was refused to the chart's ServiceAccount:\n{log}"
    );
}

/// The shell block that follows `marker` in README.md, comment lines dropped.
fn readme_block(marker: &str) -> String {
    let readme = std::fs::read_to_string(support::repo_root().join("README.md")).unwrap();
    let after = readme
        .split_once(marker)
        .unwrap_or_else(|| panic!("README.md lost its `{marker}` marker"))
        .1;
    let body = after
        .split_once("```sh\n")
        .expect("a ```sh block after the marker")
        .1
        .split_once("```")
        .expect("the block's end")
        .0;
    body.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

fn tool_path() -> String {
    let helm_dir = Path::new(support::helm().get_program())
        .parent()
        .unwrap()
        .to_path_buf();
    format!(
        "{}:{}:{}",
        helm_dir.display(),
        support::tools_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn uninstall() {
    let _ = support::helm()
        .env("KUBECONFIG", support::kubeconfig_path())
        .args([
            "uninstall",
            "certwright",
            "--namespace",
            "certwright",
            "--ignore-not-found",
        ])
        .output();
    let _ = support::kubectl()
        .args([
            "delete",
            "namespace",
            "certwright",
            "--ignore-not-found",
            "--wait",
            "--timeout=60s",
        ])
        .output();
}

#[tokio::test]
async fn the_readme_install_section_works_as_written() {
    let client = support::client().await;
    support::install_crds(&client).await;
    uninstall();
    // Other tests applied the CRDs without helm; let this release adopt them, as the README
    // tells a user who installed them by hand to do.
    let adopt = readme_block("<!-- adopt-crds: run by tests/chart_cluster.rs -->");
    let block = readme_block("<!-- install: run by tests/chart_cluster.rs -->");
    for script in [adopt, block] {
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", &script])
            .current_dir(support::repo_root())
            .env("PATH", tool_path())
            .env("KUBECONFIG", support::kubeconfig_path())
            // The README's placeholder; no image is pulled (the plane has no kubelet).
            .env("REGISTRY", "127.0.0.1:5000")
            .envs(
                support::helm()
                    .get_envs()
                    .filter_map(|(k, v)| Some((k, v?))),
            )
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            uninstall();
            panic!("README commands failed:\n{script}\n---\n{text}");
        }
    }
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    let crd = crds.get("certificates.cert-manager.io").await.unwrap();
    let ann = crd.metadata.annotations.unwrap_or_default();
    assert_eq!(
        ann.get("meta.helm.sh/release-name").map(String::as_str),
        Some("certwright")
    );
    let status = run(support::helm()
        .env("KUBECONFIG", support::kubeconfig_path())
        .args(["status", "certwright", "--namespace", "certwright"]));
    assert!(status.contains("STATUS: deployed"), "{status}");
    run(support::kubectl().args(["get", "clusterrole,clusterrolebinding", "certwright"]));
    let image = run(support::kubectl().args([
        "get",
        "deployment",
        "certwright",
        "--namespace",
        "certwright",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]));
    assert_eq!(image, "127.0.0.1:5000/certwright:0.1.0");

    uninstall();
    // crds.keep: uninstalling the chart must not delete the CRDs (and with them every
    // Certificate in the cluster).
    assert!(
        crds.get_opt("certificates.cert-manager.io")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn the_tls_server_example_mounts_the_issued_secret() {
    use k8s_openapi::api::apps::v1::Deployment;
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "tls-example").await;
    let controller = ControllerProcess::start(&ns.name, &[]);
    let example =
        std::fs::read_to_string(support::repo_root().join("examples/tls-server.yaml")).unwrap();
    support::apply_yaml(&client, &ns.name, &example).await;

    let certs = Api::<Certificate>::namespaced(client.clone(), &ns.name);
    let got = tokio::time::timeout(
        Duration::from_secs(90),
        wait_for(&certs, "tls-server", Duration::from_secs(90), ready),
    )
    .await;
    assert!(
        got.is_ok(),
        "tls-server not Ready; log:\n{}",
        controller.log()
    );
    let cert = certs.get("tls-server").await.unwrap();

    // The pod mounts the very Secret the Certificate fills, as a whole directory (a subPath
    // mount would never see a renewal), and nginx reads keys that the Secret holds.
    let dep = Api::<Deployment>::namespaced(client.clone(), &ns.name)
        .get("tls-server")
        .await
        .unwrap();
    let pod = dep.spec.template.spec.unwrap();
    let vol = pod
        .volumes
        .unwrap()
        .into_iter()
        .find(|v| v.name == "tls")
        .unwrap();
    assert_eq!(
        vol.secret.unwrap().secret_name.as_deref(),
        Some(cert.spec.secret_name.as_str())
    );
    for c in &pod.containers {
        for m in c.volume_mounts.iter().flatten().filter(|m| m.name == "tls") {
            assert!(
                m.sub_path.is_none(),
                "{}: subPath mount of the TLS Secret",
                c.name
            );
        }
    }
    let secret = Api::<Secret>::namespaced(client.clone(), &ns.name)
        .get(&cert.spec.secret_name)
        .await
        .unwrap();
    assert_eq!(
        secret
            .metadata
            .labels
            .unwrap_or_default()
            .get("app")
            .map(String::as_str),
        Some("tls-server"),
        "secretTemplate labels missing"
    );
    let data = secret.data.unwrap_or_default();
    assert!(example.contains("/etc/tls/tls.crt") && example.contains("/etc/tls/tls.key"));
    assert!(data.contains_key("tls.crt") && data.contains_key("tls.key"));
}
