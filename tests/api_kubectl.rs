//! What a user sees through kubectl: `kubectl explain` shows our field docs, `kubectl get`
//! shows the printer columns, and short names resolve.
mod support;

use std::process::Output;

use certwright::api::crd;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams};

async fn install_crds() -> support::TestNamespace {
    let client = support::client().await;
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    for c in crd::all().unwrap() {
        let name = c.metadata.name.clone().unwrap();
        api.patch(
            &name,
            &PatchParams::apply("certwright-api-tests").force(),
            &Patch::Apply(&c),
        )
        .await
        .unwrap();
        support::wait_for(&api, &name, std::time::Duration::from_secs(30), |o| {
            o.and_then(|c| c.status.as_ref()?.conditions.as_ref())
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                })
        })
        .await;
    }
    support::TestNamespace::new(&client, "kubectl").await
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn explain_shows_our_private_key_docs() {
    install_crds().await;
    // Discovery caches may lag a freshly installed CRD for a moment: retry briefly.
    let mut last = String::new();
    for _ in 0..20 {
        let out = support::kubectl()
            .args(["explain", "certificate.spec.privateKey"])
            .output()
            .unwrap();
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    for want in [
        "Private key algorithm, size, encoding and rotation policy.",
        "rotationPolicy",
        "`Always` (default) makes a new key on every issuance; `Never` reuses the key",
        "RSA 2048-8192",
        "enum: RSA, ECDSA, Ed25519\n",
    ] {
        assert!(
            last.contains(want),
            "kubectl explain lacks {want:?}:\n{last}"
        );
    }
}

#[tokio::test]
async fn get_certificates_shows_the_printer_columns_and_short_names_resolve() {
    let test_ns = install_crds().await;
    let ns = test_ns.name.clone();
    let manifest = format!(
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: columns\n  namespace: {ns}\nspec:\n  secretName: columns-tls\n  dnsNames: [a.example.com]\n  issuerRef:\n    name: my-ca\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cert.yaml");
    std::fs::write(&file, manifest).unwrap();
    ok(support::kubectl()
        .args(["apply", "--server-side", "-f"])
        .arg(&file)
        .output()
        .unwrap());

    let table = ok(support::kubectl()
        .args(["get", "certificates", "-n", &ns])
        .output()
        .unwrap());
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "READY", "SECRET", "ISSUER", "EXPIRATION", "AGE"],
        "{table}"
    );
    assert!(
        table.contains("columns-tls") && table.contains("my-ca"),
        "{table}"
    );

    let wide = ok(support::kubectl()
        .args(["get", "cert", "-n", &ns, "-o", "wide"])
        .output()
        .unwrap());
    assert!(wide.lines().next().unwrap().contains("STATUS"), "{wide}");

    for short in ["cert", "certs", "cr", "crs", "iss"] {
        ok(support::kubectl()
            .args(["get", short, "-n", &ns])
            .output()
            .unwrap());
    }
    ok(support::kubectl().args(["get", "ciss"]).output().unwrap());
    let in_category = ok(support::kubectl()
        .args(["get", "cert-manager", "-n", &ns])
        .output()
        .unwrap());
    assert!(
        in_category.contains("certificate.cert-manager.io/columns"),
        "{in_category}"
    );
}
