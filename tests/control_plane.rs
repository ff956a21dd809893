//! Proves the local control plane is a real one: CRDs get Established and served, watches
//! deliver events, the apiserver validates built-in types, and kube-controller-manager garbage
//! collects owned objects and removes deleted namespaces.
mod support;

use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use support::{TestNamespace, wait_for};

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.test.certwright.dev
spec:
  group: test.certwright.dev
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget }
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: { type: integer, minimum: 1 }
"#;

fn established(crd: Option<&CustomResourceDefinition>) -> bool {
    crd.and_then(|c| c.status.as_ref())
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        })
}

#[tokio::test]
async fn crd_is_established_served_and_watchable() {
    let client = support::client().await;
    let crds = Api::<CustomResourceDefinition>::all(client.clone());
    let crd: CustomResourceDefinition = serde_yaml::from_str(CRD).unwrap();
    crds.patch(
        "widgets.test.certwright.dev",
        &PatchParams::apply("certwright-tests").force(),
        &Patch::Apply(&crd),
    )
    .await
    .expect("applying the CRD");
    wait_for(
        &crds,
        "widgets.test.certwright.dev",
        Duration::from_secs(30),
        established,
    )
    .await;

    let ns = TestNamespace::new(&client, "crd").await;
    let gvk = GroupVersionKind::gvk("test.certwright.dev", "v1", "Widget");
    let ar = ApiResource::from_gvk(&gvk);
    let widgets = Api::<DynamicObject>::namespaced_with(client.clone(), &ns.name, &ar);

    // Start the watch first so the Added event cannot be missed.
    let stream = watcher(
        widgets.clone(),
        watcher::Config::default().fields("metadata.name=w1"),
    );
    let seen = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(ev) = stream.try_next().await.expect("watch stream") {
            if let watcher::Event::Apply(obj) | watcher::Event::InitApply(obj) = ev {
                return obj;
            }
        }
        panic!("watch ended without an event");
    });

    let mut w = DynamicObject::new("w1", &ar).within(&ns.name);
    w.data = serde_json::json!({ "spec": { "size": 3 } });
    widgets
        .create(&PostParams::default(), &w)
        .await
        .expect("creating a Widget");
    let got = tokio::time::timeout(Duration::from_secs(20), seen)
        .await
        .expect("watch delivered the Widget in time")
        .unwrap();
    assert_eq!(got.name_any(), "w1");
    assert_eq!(got.data["spec"]["size"], 3);

    // The schema is enforced by the apiserver.
    let mut bad = DynamicObject::new("w2", &ar).within(&ns.name);
    bad.data = serde_json::json!({ "spec": { "size": 0 } });
    let err = widgets
        .create(&PostParams::default(), &bad)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("spec.size"),
        "unexpected error: {err}"
    );
}

#[tokio::test]
async fn apiserver_rejects_tls_secret_without_key() {
    let client = support::client().await;
    let ns = TestNamespace::new(&client, "tls").await;
    let secrets = Api::<Secret>::namespaced(client, &ns.name);
    let bad: Secret = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "no-key" },
        "type": "kubernetes.io/tls",
        "stringData": { "tls.crt": "x" }
    }))
    .unwrap();
    let err = secrets
        .create(&PostParams::default(), &bad)
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 422, "{s:?}");
            assert!(s.message.contains("tls.key"), "{}", s.message);
        }
        other => panic!("expected an API rejection, got {other}"),
    }
}

#[tokio::test]
async fn garbage_collector_removes_owned_objects() {
    let client = support::client().await;
    let ns = TestNamespace::new(&client, "gc").await;
    let cms = Api::<ConfigMap>::namespaced(client.clone(), &ns.name);
    let owner = cms
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({
                "metadata": { "name": "owner" }
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let owned: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": "owned",
            "ownerReferences": [{
                "apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                "uid": owner.uid().unwrap()
            }]
        }
    }))
    .unwrap();
    cms.create(&PostParams::default(), &owned).await.unwrap();
    cms.delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    wait_for(&cms, "owned", Duration::from_secs(60), |o| o.is_none()).await;
}

#[tokio::test]
async fn namespace_controller_removes_deleted_namespaces() {
    let client = support::client().await;
    let namespaces = Api::<Namespace>::all(client.clone());
    let name = support::unique_name("nsdel");
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({ "metadata": { "name": name } })).unwrap(),
        )
        .await
        .unwrap();
    // Content in it must be removed too, or the namespace stays Terminating.
    let cms = Api::<ConfigMap>::namespaced(client.clone(), &name);
    cms.create(
        &PostParams::default(),
        &serde_json::from_value(serde_json::json!({ "metadata": { "name": "c" } })).unwrap(),
    )
    .await
    .unwrap();
    namespaces
        .delete(&name, &DeleteParams::default())
        .await
        .unwrap();
    wait_for(&namespaces, &name, Duration::from_secs(90), |n| n.is_none()).await;
    // A list across namespaces no longer shows the ConfigMap.
    let all = Api::<ConfigMap>::all(client)
        .list(&Default::default())
        .await
        .unwrap();
    assert!(
        all.items
            .iter()
            .all(|c| c.namespace().as_deref() != Some(name.as_str()))
    );
}
