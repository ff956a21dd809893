//! The objects that route an HTTP-01 validation to the controller's own listener in a real
//! cluster, built as pure values: per challenge, in the challenge's namespace,
//!
//! - a Service without selector (an Ingress or HTTPRoute may only point at a Service of its
//!   own namespace without a grant),
//! - an EndpointSlice for it with the controller Pod's IP and listener port (so it works with
//!   every ingress or gateway controller, unlike an ExternalName Service),
//! - the route to it for the challenge's host and token path ([`Route`]): a new Ingress with
//!   the solver's class and template, one rule added to the user's Ingress named by
//!   `ingress.name` (see [`super::ingress_edit`]), or a Gateway API HTTPRoute attached to the
//!   solver's `parentRefs` (see [`super::httproute`]).
//!
//! Everything created is owned by the Challenge: when the Challenge is deleted (its Order
//! finished), the garbage collector removes it. The rule added to a user's Ingress is not ours
//! to own; the Challenge controller removes it (a finalizer holds the Challenge until then).
use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::api::Challenge;
use crate::api::acme_http01::SolverServiceType;

/// Label on every routing object, with the Challenge's name.
pub const CHALLENGE_LABEL: &str = "acme.cert-manager.io/http01-solver";
const PORT_NAME: &str = "http";

/// The routing objects of one HTTP-01 Challenge.
#[derive(Clone, Debug, PartialEq)]
pub struct Routing {
    pub service: Service,
    pub endpoint_slice: EndpointSlice,
    pub route: Route,
}

/// How the challenge's host and path reach the Service.
#[derive(Clone, Debug, PartialEq)]
pub enum Route {
    /// A new Ingress of the challenge's own (`ingress.class`, `ingressClassName` or neither).
    Ingress(Ingress),
    /// The user's existing Ingress `name` (`ingress.name`), to which `rule` is added for the
    /// time of the challenge.
    EditIngress { name: String, rule: IngressRule },
    /// A new Gateway API HTTPRoute of the challenge's own (`gatewayHTTPRoute`).
    HttpRoute(super::httproute::HttpRoute),
}

/// Why routing objects cannot be built for a Challenge: a solver the Challenge cannot be
/// solved with (the message says which field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unroutable {
    Invalid(String),
}

/// Name of the routing objects of a Challenge: short (a Service name is a 63-character DNS
/// label) and unique per Challenge UID.
pub fn object_name(challenge_uid: &str) -> String {
    let mut h: u32 = 0x811c9dc5;
    for b in challenge_uid.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x01000193);
    }
    format!("certwright-http01-{h:08x}")
}

/// Builds the routing objects for `ch`, pointing at `pod_ip:port`.
pub fn routing(
    ch: &Challenge,
    owner: OwnerReference,
    pod_ip: IpAddr,
    port: u16,
) -> Result<Routing, Unroutable> {
    let http01 = ch.spec.solver.http01.as_ref();
    let gateway = http01.and_then(|h| h.gateway_http_route.clone());
    let ing = http01.and_then(|h| h.ingress.clone()).unwrap_or_default();
    let name = object_name(ch.metadata.uid.as_deref().unwrap_or_default());
    let ns = ch.metadata.namespace.clone();
    let labels: BTreeMap<String, String> = [(
        CHALLENGE_LABEL.to_string(),
        ch.metadata.name.clone().unwrap_or_default(),
    )]
    .into();
    let meta = |extra_labels: BTreeMap<String, String>, annotations: BTreeMap<String, String>| {
        ObjectMeta {
            name: Some(name.clone()),
            namespace: ns.clone(),
            labels: Some(extra_labels.into_iter().chain(labels.clone()).collect()),
            annotations: Some(annotations).filter(|a| !a.is_empty()),
            owner_references: Some(vec![owner.clone()]),
            ..Default::default()
        }
    };
    let service = Service {
        metadata: meta(BTreeMap::new(), BTreeMap::new()),
        spec: Some(ServiceSpec {
            type_: Some(
                service_type(match &gateway {
                    Some(g) => g.service_type,
                    None => ing.service_type,
                })
                .into(),
            ),
            ports: Some(vec![ServicePort {
                name: Some(PORT_NAME.into()),
                port: i32::from(port),
                target_port: Some(IntOrString::Int(i32::from(port))),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut slice_labels = BTreeMap::new();
    slice_labels.insert("kubernetes.io/service-name".to_string(), name.clone());
    slice_labels.insert(
        "endpointslice.kubernetes.io/managed-by".to_string(),
        "certwright".to_string(),
    );
    let endpoint_slice = EndpointSlice {
        metadata: meta(slice_labels, BTreeMap::new()),
        address_type: if pod_ip.is_ipv4() { "IPv4" } else { "IPv6" }.into(),
        endpoints: Some(vec![Endpoint {
            addresses: vec![pod_ip.to_string()],
            conditions: Some(EndpointConditions {
                ready: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ports: Some(vec![EndpointPort {
            name: Some(PORT_NAME.into()),
            port: Some(i32::from(port)),
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
    };
    let path = challenge_path(ch, &name, port);
    let route = if let Some(g) = &gateway {
        let labels = g.labels.clone().unwrap_or_default();
        Route::HttpRoute(super::httproute::build(
            ch,
            g,
            meta(labels, BTreeMap::new()),
            &name,
            port,
        )?)
    } else if let Some(existing) = &ing.name {
        Route::EditIngress {
            name: existing.clone(),
            rule: IngressRule {
                host: Some(ch.spec.dns_name.clone()),
                http: Some(HTTPIngressRuleValue { paths: vec![path] }),
            },
        }
    } else {
        let template = ing
            .ingress_template
            .as_ref()
            .and_then(|t| t.metadata.clone())
            .unwrap_or_default();
        let mut annotations = template.annotations.unwrap_or_default();
        if let Some(class) = &ing.class {
            annotations.insert("kubernetes.io/ingress.class".into(), class.clone());
        }
        Route::Ingress(Ingress {
            metadata: meta(template.labels.unwrap_or_default(), annotations),
            spec: Some(IngressSpec {
                ingress_class_name: ing.ingress_class_name.clone(),
                rules: Some(vec![IngressRule {
                    host: Some(ch.spec.dns_name.clone()),
                    http: Some(HTTPIngressRuleValue { paths: vec![path] }),
                }]),
                ..Default::default()
            }),
            ..Default::default()
        })
    };
    Ok(Routing {
        service,
        endpoint_slice,
        route,
    })
}

/// The token path of `ch` to the Service `service` on `port`.
fn challenge_path(ch: &Challenge, service: &str, port: u16) -> HTTPIngressPath {
    HTTPIngressPath {
        path: Some(format!("{PATH_PREFIX}{}", ch.spec.token)),
        path_type: "ImplementationSpecific".into(),
        backend: IngressBackend {
            service: Some(IngressServiceBackend {
                name: service.to_string(),
                port: Some(ServiceBackendPort {
                    number: Some(i32::from(port)),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        },
    }
}

/// RFC 8555 section 8.3's path prefix.
pub const PATH_PREFIX: &str = "/.well-known/acme-challenge/";

fn service_type(t: Option<SolverServiceType>) -> &'static str {
    match t {
        Some(SolverServiceType::ClusterIP) => "ClusterIP",
        // cert-manager's default, which ingress controllers that need node ports (GCE) require.
        Some(SolverServiceType::NodePort) | None => "NodePort",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::acme_http01::{
        AcmeChallengeSolverHttp01, AcmeChallengeSolverHttp01Ingress,
        AcmeChallengeSolverHttp01IngressTemplate, AcmeChallengeSolverObjectMeta,
    };
    use crate::api::{AcmeChallengeSolver, AcmeChallengeType, ChallengeSpec, IssuerRef};

    fn challenge(ing: AcmeChallengeSolverHttp01Ingress) -> Challenge {
        let mut c = Challenge::new(
            "web-1-123",
            ChallengeSpec {
                url: "https://ca/chall".into(),
                authorization_url: "https://ca/authz".into(),
                dns_name: "web.example.com".into(),
                wildcard: None,
                r#type: AcmeChallengeType::Http01,
                token: "tok".into(),
                key: "tok.thumb".into(),
                solver: AcmeChallengeSolver {
                    http01: Some(AcmeChallengeSolverHttp01 {
                        ingress: Some(ing),
                        gateway_http_route: None,
                    }),
                    ..Default::default()
                },
                issuer_ref: IssuerRef::default(),
            },
        );
        c.metadata.namespace = Some("apps".into());
        c.metadata.uid = Some("uid-1".into());
        c
    }

    fn owner() -> OwnerReference {
        OwnerReference {
            name: "web-1-123".into(),
            uid: "uid-1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn routes_the_token_path_of_the_host_to_the_pod() {
        let ing = AcmeChallengeSolverHttp01Ingress {
            class: Some("nginx".into()),
            ingress_template: Some(AcmeChallengeSolverHttp01IngressTemplate {
                metadata: Some(AcmeChallengeSolverObjectMeta {
                    labels: Some([("team".to_string(), "web".to_string())].into()),
                    annotations: Some([("a".to_string(), "b".to_string())].into()),
                }),
            }),
            ..Default::default()
        };
        let r = routing(&challenge(ing), owner(), "10.1.2.3".parse().unwrap(), 8089).unwrap();
        let name = object_name("uid-1");
        assert!(name.len() <= 63);
        let Route::Ingress(ingress) = &r.route else {
            panic!("{:?}", r.route)
        };
        let ingress = serde_json::to_value(ingress).unwrap();
        let rule = &ingress["spec"]["rules"][0];
        assert_eq!(rule["host"], "web.example.com");
        let path = &rule["http"]["paths"][0];
        assert_eq!(path["path"], "/.well-known/acme-challenge/tok");
        assert_eq!(path["backend"]["service"]["name"], name.as_str());
        assert_eq!(path["backend"]["service"]["port"]["number"], 8089);
        assert_eq!(
            ingress["metadata"]["annotations"]["kubernetes.io/ingress.class"],
            "nginx"
        );
        assert_eq!(ingress["metadata"]["annotations"]["a"], "b");
        assert_eq!(ingress["metadata"]["labels"]["team"], "web");
        assert_eq!(ingress["metadata"]["labels"][CHALLENGE_LABEL], "web-1-123");
        assert_eq!(ingress["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        let svc = r.service.spec.unwrap();
        assert!(
            svc.selector.is_none(),
            "endpoints come from our EndpointSlice"
        );
        assert_eq!(svc.type_.as_deref(), Some("NodePort"));
        assert_eq!(
            r.endpoint_slice.endpoints.as_ref().unwrap()[0].addresses,
            vec!["10.1.2.3"]
        );
        assert_eq!(r.endpoint_slice.address_type, "IPv4");
        assert_eq!(
            r.endpoint_slice.metadata.labels.unwrap()["kubernetes.io/service-name"],
            name
        );
    }

    #[test]
    fn class_name_service_type_and_ipv6() {
        let ing = AcmeChallengeSolverHttp01Ingress {
            ingress_class_name: Some("traefik".into()),
            service_type: Some(SolverServiceType::ClusterIP),
            ..Default::default()
        };
        let r = routing(&challenge(ing), owner(), "fd00::1".parse().unwrap(), 80).unwrap();
        let Route::Ingress(ingress) = r.route else {
            panic!("{:?}", r.route)
        };
        assert_eq!(
            ingress.spec.unwrap().ingress_class_name.as_deref(),
            Some("traefik")
        );
        assert!(ingress.metadata.annotations.is_none());
        assert_eq!(r.service.spec.unwrap().type_.as_deref(), Some("ClusterIP"));
        assert_eq!(r.endpoint_slice.address_type, "IPv6");
    }

    #[test]
    fn a_named_ingress_gets_one_rule_to_the_challenge_service() {
        let ing = AcmeChallengeSolverHttp01Ingress {
            name: Some("existing".into()),
            ..Default::default()
        };
        let r = routing(&challenge(ing), owner(), "10.0.0.1".parse().unwrap(), 80).unwrap();
        let Route::EditIngress { name, rule } = r.route else {
            panic!("{:?}", r.route)
        };
        assert_eq!(name, "existing");
        let rule = serde_json::to_value(rule).unwrap();
        assert_eq!(rule["host"], "web.example.com");
        let path = &rule["http"]["paths"][0];
        assert_eq!(path["path"], "/.well-known/acme-challenge/tok");
        assert_eq!(
            path["backend"]["service"]["name"],
            object_name("uid-1").as_str()
        );
    }

    #[test]
    fn a_gateway_solver_gets_an_httproute_on_its_parents() {
        use crate::api::acme_http01::{AcmeChallengeSolverHttp01GatewayHttpRoute, ParentReference};
        let mut ch = challenge(AcmeChallengeSolverHttp01Ingress::default());
        let gw = AcmeChallengeSolverHttp01GatewayHttpRoute {
            service_type: Some(SolverServiceType::ClusterIP),
            labels: Some([("gw".to_string(), "public".to_string())].into()),
            parent_refs: Some(vec![ParentReference {
                name: "edge".into(),
                namespace: Some("infra".into()),
                section_name: Some("http".into()),
                ..Default::default()
            }]),
            pod_template: None,
        };
        ch.spec.solver.http01 = Some(AcmeChallengeSolverHttp01 {
            ingress: None,
            gateway_http_route: Some(gw.clone()),
        });
        let r = routing(&ch, owner(), "10.0.0.1".parse().unwrap(), 8089).unwrap();
        assert_eq!(r.service.spec.unwrap().type_.as_deref(), Some("ClusterIP"));
        let Route::HttpRoute(route) = r.route else {
            panic!("{:?}", r.route)
        };
        let v = route.to_apply();
        assert_eq!(v["apiVersion"], "gateway.networking.k8s.io/v1");
        assert_eq!(v["kind"], "HTTPRoute");
        assert_eq!(v["metadata"]["name"], object_name("uid-1").as_str());
        assert_eq!(v["metadata"]["labels"]["gw"], "public");
        assert_eq!(v["metadata"]["labels"][CHALLENGE_LABEL], "web-1-123");
        assert_eq!(v["metadata"]["ownerReferences"][0]["uid"], "uid-1");
        assert_eq!(v["spec"]["parentRefs"][0]["name"], "edge");
        assert_eq!(v["spec"]["parentRefs"][0]["namespace"], "infra");
        assert_eq!(v["spec"]["parentRefs"][0]["sectionName"], "http");
        assert_eq!(
            v["spec"]["hostnames"],
            serde_json::json!(["web.example.com"])
        );
        let rule = &v["spec"]["rules"][0];
        assert_eq!(rule["matches"][0]["path"]["type"], "Exact");
        assert_eq!(
            rule["matches"][0]["path"]["value"],
            "/.well-known/acme-challenge/tok"
        );
        assert_eq!(
            rule["backendRefs"][0]["name"],
            object_name("uid-1").as_str()
        );
        assert_eq!(rule["backendRefs"][0]["port"], 8089);
        assert_eq!(rule["backendRefs"][0]["kind"], "Service");
        // Without parents the route would attach nowhere: refused with the field named.
        ch.spec.solver.http01 = Some(AcmeChallengeSolverHttp01 {
            ingress: None,
            gateway_http_route: Some(AcmeChallengeSolverHttp01GatewayHttpRoute {
                parent_refs: None,
                ..gw
            }),
        });
        let Err(Unroutable::Invalid(why)) = routing(&ch, owner(), "10.0.0.1".parse().unwrap(), 80)
        else {
            panic!("parentless route accepted")
        };
        assert!(why.contains("parentRefs"), "{why}");
    }
}
