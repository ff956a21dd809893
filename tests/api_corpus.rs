//! The manifest corpus against the real apiserver (`scripts/cluster`): every file under
//! tests/manifests/valid must be accepted with strict field validation, every file under
//! tests/manifests/invalid must be refused with the message its `# expect:` line names.
//! Applies are server-side dry runs, so the full admission chain (schema, CEL, strict unknown
//! field detection) runs and nothing is left behind.
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use certwright::api::{Certificate, CertificateRequest, ClusterIssuer, Issuer, crd};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};
use kube::{Api, Client, Resource};
use serde_json::{Value, json};

const MANAGER: &str = "certwright-api-tests";

/// Installs (or updates) our CRDs and waits until the apiserver serves them.
async fn install_crds(client: &Client) {
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    for c in crd::all().expect("generating CRDs") {
        let name = c.metadata.name.clone().unwrap();
        api.patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&c),
        )
        .await
        .unwrap_or_else(|e| panic!("installing CRD {name}: {e}"));
        support::wait_for(&api, &name, Duration::from_secs(30), |o| {
            o.and_then(|c| c.status.as_ref()?.conditions.as_ref())
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                })
        })
        .await;
    }
}

fn manifests(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/manifests")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

fn api_resource(kind: &str) -> (ApiResource, bool) {
    match kind {
        "Certificate" => (ApiResource::erase::<Certificate>(&()), true),
        "CertificateRequest" => (ApiResource::erase::<CertificateRequest>(&()), true),
        "Issuer" => (ApiResource::erase::<Issuer>(&()), true),
        "ClusterIssuer" => (ApiResource::erase::<ClusterIssuer>(&()), false),
        other => panic!("unexpected kind {other} in the corpus"),
    }
}

/// Server-side-applies `path` as a dry run with strict field validation.
async fn dry_run_apply(client: &Client, ns: &str, path: &Path) -> Result<Value, kube::Error> {
    let text = std::fs::read_to_string(path).unwrap();
    let value: Value =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let kind = value["kind"].as_str().unwrap_or_default().to_string();
    let name = value["metadata"]["name"].as_str().unwrap().to_string();
    let (ar, namespaced) = api_resource(&kind);
    let api: Api<DynamicObject> = if namespaced {
        Api::namespaced_with(client.clone(), ns, &ar)
    } else {
        Api::all_with(client.clone(), &ar)
    };
    let params = PatchParams::apply(MANAGER).dry_run().validation_strict();
    api.patch(&name, &params, &Patch::Apply(&value))
        .await
        .map(|o| serde_json::to_value(o).unwrap())
}

/// The `# expect: <substring>` line of an invalid manifest.
fn expectation(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("# expect: "))
        .unwrap_or_else(|| panic!("{} has no `# expect:` line", path.display()))
        .trim()
        .to_string()
}

#[tokio::test]
async fn valid_manifests_are_accepted_with_strict_validation() {
    let client = support::client().await;
    install_crds(&client).await;
    let ns = support::TestNamespace::new(&client, "corpus-valid").await;
    let files = manifests("valid");
    assert!(
        files.len() >= 20,
        "the valid corpus shrank to {} files",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        match dry_run_apply(&client, &ns.name, path).await {
            Ok(stored) => {
                // What the apiserver accepts, the controller must be able to read.
                let spec = &stored["spec"];
                let typed = match stored["kind"].as_str().unwrap() {
                    "Certificate" => {
                        serde_json::from_value::<Certificate>(stored.clone()).map(|_| ())
                    }
                    "CertificateRequest" => {
                        serde_json::from_value::<CertificateRequest>(stored.clone()).map(|_| ())
                    }
                    "Issuer" => serde_json::from_value::<Issuer>(stored.clone()).map(|_| ()),
                    _ => serde_json::from_value::<ClusterIssuer>(stored.clone()).map(|_| ()),
                };
                if let Err(e) = typed {
                    failures.push(format!(
                        "{}: accepted but not readable by the types: {e}\n{spec}",
                        path.display()
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "valid manifests were refused:\n{}",
        failures.join("\n\n")
    );
}

#[tokio::test]
async fn invalid_manifests_are_refused_with_a_message_naming_the_field() {
    let client = support::client().await;
    install_crds(&client).await;
    let ns = support::TestNamespace::new(&client, "corpus-invalid").await;
    let files = manifests("invalid");
    assert!(
        files.len() >= 30,
        "the invalid corpus shrank to {} files",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let expect = expectation(path);
        match dry_run_apply(&client, &ns.name, path).await {
            Ok(_) => failures.push(format!(
                "{}: accepted, expected a refusal containing {expect:?}",
                path.display()
            )),
            Err(kube::Error::Api(status)) if status.message.contains(&expect) => {}
            Err(e) => failures.push(format!(
                "{}: refused, but without {expect:?}:\n  {e}",
                path.display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} invalid manifests misbehaved:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn certificate_request_spec_is_immutable_and_approval_is_final() {
    let client = support::client().await;
    install_crds(&client).await;
    let ns = support::TestNamespace::new(&client, "cr-immutable").await;
    let api = Api::<CertificateRequest>::namespaced(client.clone(), &ns.name);
    let cr = json!({
        "apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
        "metadata": { "name": "immutable" },
        "spec": { "request": "Zm9v", "issuerRef": { "name": "ca-issuer" } }
    });
    let pp = PatchParams::apply(MANAGER).validation_strict();
    api.patch("immutable", &pp, &Patch::Apply(&cr))
        .await
        .expect("creating the request");

    let mut changed = cr.clone();
    changed["spec"]["issuerRef"]["name"] = json!("other-issuer");
    let err = api
        .patch("immutable", &pp, &Patch::Apply(&changed))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("spec is immutable"), "{err}");

    let status = |conds: Value| {
        json!({
            "apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
            "metadata": { "name": "immutable" }, "status": { "conditions": conds }
        })
    };
    let cond =
        |t: &str, s: &str| json!({ "type": t, "status": s, "reason": "Test", "message": "test" });
    let err = api
        .patch_status(
            "immutable",
            &pp,
            &Patch::Apply(&status(json!([
                cond("Approved", "True"),
                cond("Denied", "True")
            ]))),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Approved and Denied may not both be set"),
        "{err}"
    );

    api.patch_status(
        "immutable",
        &pp,
        &Patch::Apply(&status(json!([cond("Approved", "True")]))),
    )
    .await
    .expect("approving");
    let err = api
        .patch_status(
            "immutable",
            &pp.clone().force(),
            &Patch::Apply(&status(json!([cond("Approved", "False")]))),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("may only have status True")
            || err.to_string().contains("may not be removed or changed"),
        "{err}"
    );

    let stored = api.get("immutable").await.unwrap();
    assert!(stored.is_approved(), "the approval must have been kept");
    assert_eq!(stored.spec.issuer_ref.name, "ca-issuer");
    let _ = stored.meta().name.as_deref();
}
