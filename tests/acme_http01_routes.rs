//! HTTP-01 through a user's existing Ingress (`ingress.name`) and through a Gateway API
//! HTTPRoute (`gatewayHTTPRoute`), on the real control plane (with the Gateway API's real
//! CRDs) against Pebble. No ingress or gateway controller runs here: Pebble reaches the
//! controller's listener on loopback, and the tests check the routing objects a real one would
//! follow. Each challenge is first held at the self check (pointed at a closed port) so the
//! objects can be seen while it is open, then a controller with the right check finishes it.
mod support;

use std::time::Duration;

use certwright::api::Challenge;
use certwright::issuer::acme::httproute::HttpRoute;
use certwright::issuer::acme::solver::object_name;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};
use support::acme::{
    Setup, certificate_yaml, issuer_yaml, quiet_pebble, setup, start_controller,
    start_controller_checking, wait_certificate, wait_issuer_ready,
};
use support::pebble::free_port;
use support::{ControllerProcess, apply_yaml, ready};

/// Polls until `check` returns Some, failing with the controller's log.
async fn eventually<T, F, Fut>(what: &str, ctl: &ControllerProcess, f: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}\ncontroller log:\n{}",
            ctl.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The one Challenge of the namespace, once its routing is written (it waits at the check).
async fn held_challenge(s: &Setup, ctl: &ControllerProcess) -> Challenge {
    let api = Api::<Challenge>::namespaced(s.client.clone(), &s.ns.name);
    eventually("a challenge held at the self check", ctl, || async {
        let list = api.list(&ListParams::default()).await.ok()?;
        list.items.into_iter().find(|c| {
            c.status
                .as_ref()
                .and_then(|s| s.reason.as_deref())
                .is_some_and(|r| r.contains("Waiting for HTTP-01 challenge propagation"))
        })
    })
    .await
}

async fn no_challenges_left(client: &Client, ns: &str, ctl: &ControllerProcess) {
    let api = Api::<Challenge>::namespaced(client.clone(), ns);
    eventually("the Challenges to be gone", ctl, || async {
        let list = api.list(&ListParams::default()).await.ok()?;
        list.items.is_empty().then_some(())
    })
    .await
}

#[tokio::test]
async fn a_named_ingress_gets_the_challenge_rule_and_is_restored_after() {
    let s = setup("acme-ing-name", quiet_pebble()).await;
    let ns = s.ns.name.clone();
    let host = format!("web.{ns}.example");
    // The user's Ingress: a rule for the site, a TLS section and an annotation of theirs.
    apply_yaml(
        &s.client,
        &ns,
        &format!(
            r#"
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: site
  annotations: {{ team: web }}
spec:
  ingressClassName: nginx
  tls: [{{ hosts: [{host}], secretName: web-tls }}]
  rules:
    - host: {host}
      http:
        paths:
          - {{ path: /, pathType: Prefix, backend: {{ service: {{ name: app, port: {{ number: 80 }} }} }} }}
"#
        ),
    )
    .await;
    let ingresses = Api::<Ingress>::namespaced(s.client.clone(), &ns);
    let original = ingresses.get("site").await.unwrap();

    let held = start_controller_checking(&s, free_port());
    apply_yaml(
        &s.client,
        &ns,
        &issuer_yaml("pebble", &s.pebble, "", "{ ingress: { name: site } }"),
    )
    .await;
    wait_issuer_ready(&s, "pebble", &held).await;
    apply_yaml(&s.client, &ns, &certificate_yaml("web", "pebble", &host)).await;
    let ch = held_challenge(&s, &held).await;

    // During the challenge: the user's rule, then ours for the token, to the challenge's
    // Service; nothing else of theirs touched. The Challenge holds our finalizer.
    let during = ingresses.get("site").await.unwrap();
    let spec = during.spec.clone().unwrap();
    let rules = spec.rules.clone().unwrap();
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert_eq!(
        rules[0],
        original.spec.as_ref().unwrap().rules.as_ref().unwrap()[0]
    );
    assert_eq!(rules[1].host.as_deref(), Some(host.as_str()));
    let path = &rules[1].http.as_ref().unwrap().paths[0];
    assert_eq!(
        path.path.as_deref(),
        Some(format!("/.well-known/acme-challenge/{}", ch.spec.token).as_str())
    );
    let service = object_name(ch.metadata.uid.as_deref().unwrap());
    assert_eq!(path.backend.service.as_ref().unwrap().name, service);
    assert_eq!(spec.tls, original.spec.as_ref().unwrap().tls);
    assert_eq!(during.annotations(), original.annotations());
    assert!(
        ch.finalizers()
            .iter()
            .any(|f| f == "certwright.dev/http01-ingress-rule"),
        "{:?}",
        ch.finalizers()
    );
    // The Service the rule points at exists, owned by the Challenge.
    let svc = Api::<Service>::namespaced(s.client.clone(), &ns)
        .get(&service)
        .await
        .unwrap();
    assert_eq!(svc.owner_references()[0].uid, ch.uid().unwrap());
    drop(held);

    // A controller that can pass its check finishes, and takes exactly its rule back out.
    let ctl = start_controller(&s);
    wait_certificate(&s, "web", &ctl, Duration::from_secs(120), ready).await;
    no_challenges_left(&s.client, &ns, &ctl).await;
    let after = ingresses.get("site").await.unwrap();
    assert_eq!(
        after.spec, original.spec,
        "the Ingress is back as the user wrote it"
    );
    assert_eq!(after.annotations(), original.annotations());
    drop(ctl);
}

/// Applies the Gateway API's standard CRDs (scripts/build-tools gateway-api fetches them from
/// the Go module) and waits until they are served.
async fn install_gateway_api_crds(client: &Client) {
    let out = std::process::Command::new(support::repo_root().join("scripts/build-tools"))
        .arg("gateway-api")
        .output()
        .expect("running scripts/build-tools gateway-api");
    assert!(
        out.status.success(),
        "scripts/build-tools gateway-api: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        .join("gateway-api-crds-v1.6.3");
    let files = ["httproutes", "gateways", "gatewayclasses"]
        .map(|name| dir.join(format!("gateway.networking.k8s.io_{name}.yaml")));
    support::install_crd_files(client, files).await;
}

#[tokio::test]
async fn a_gateway_solver_routes_through_an_httproute_removed_after() {
    let s = setup("acme-httproute", quiet_pebble()).await;
    install_gateway_api_crds(&s.client).await;
    let ns = s.ns.name.clone();
    let host = format!("gw.{ns}.example");
    let held = start_controller_checking(&s, free_port());
    let solver = format!(
        "{{ gatewayHTTPRoute: {{ serviceType: ClusterIP, labels: {{ team: web }}, parentRefs: [{{ name: edge, namespace: {ns}, sectionName: http }}] }} }}"
    );
    apply_yaml(
        &s.client,
        &ns,
        &issuer_yaml("pebble", &s.pebble, "", &solver),
    )
    .await;
    wait_issuer_ready(&s, "pebble", &held).await;
    apply_yaml(&s.client, &ns, &certificate_yaml("gw", "pebble", &host)).await;
    let ch = held_challenge(&s, &held).await;

    let name = object_name(ch.metadata.uid.as_deref().unwrap());
    let routes = Api::<HttpRoute>::namespaced(s.client.clone(), &ns);
    let route = routes.get(&name).await.unwrap();
    assert_eq!(route.labels().get("team").map(String::as_str), Some("web"));
    assert_eq!(route.owner_references()[0].uid, ch.uid().unwrap());
    let p = &route.spec.parent_refs;
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].name, "edge");
    assert_eq!(p[0].namespace.as_deref(), Some(ns.as_str()));
    assert_eq!(p[0].section_name.as_deref(), Some("http"));
    assert_eq!(route.spec.hostnames, vec![host.clone()]);
    let rule = &route.spec.rules[0];
    let m = rule.matches[0].path.as_ref().unwrap();
    assert_eq!(m.kind.as_deref(), Some("Exact"));
    assert_eq!(
        m.value.as_deref(),
        Some(format!("/.well-known/acme-challenge/{}", ch.spec.token).as_str())
    );
    assert_eq!(rule.backend_refs[0].name, name);
    assert_eq!(rule.backend_refs[0].port, Some(i32::from(s.port)));
    let svc = Api::<Service>::namespaced(s.client.clone(), &ns)
        .get(&name)
        .await
        .unwrap();
    assert_eq!(svc.spec.unwrap().type_.as_deref(), Some("ClusterIP"));
    // No Ingress for a gateway solver.
    let ingresses = Api::<Ingress>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(ingresses.items.is_empty());
    drop(held);

    let ctl = start_controller(&s);
    wait_certificate(&s, "gw", &ctl, Duration::from_secs(120), ready).await;
    no_challenges_left(&s.client, &ns, &ctl).await;
    // The garbage collector takes the route with its Challenge.
    eventually("the HTTPRoute to be removed", &ctl, || async {
        routes.get_opt(&name).await.ok()?.is_none().then_some(())
    })
    .await;
    drop(ctl);
}
