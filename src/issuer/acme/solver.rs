//! The objects that route an HTTP-01 validation to the controller's own listener in a real
//! cluster, built as pure values: per challenge, in the challenge's namespace,
//!
//! - a Service without selector (an Ingress may only point at a Service of its own namespace),
//! - an EndpointSlice for it with the controller Pod's IP and listener port (so it works with
//!   every ingress controller, unlike an ExternalName Service),
//! - an Ingress for the challenge's host and token path, with the solver's class and template.
//!
//! All three are owned by the Challenge: when the Challenge is deleted (its Order finished),
//! the garbage collector removes them. Editing an existing Ingress (`ingress.name`) and the
//! Gateway API HTTPRoute are not built yet: the Challenge reports that instead.
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
use crate::api::acme_http01::{AcmeChallengeSolverHttp01Ingress, SolverServiceType};

/// Label on every routing object, with the Challenge's name.
pub const CHALLENGE_LABEL: &str = "acme.cert-manager.io/http01-solver";
const PORT_NAME: &str = "http";

/// The routing objects of one HTTP-01 Challenge.
#[derive(Clone, Debug, PartialEq)]
pub struct Routing {
    pub service: Service,
    pub endpoint_slice: EndpointSlice,
    pub ingress: Ingress,
}

/// Why routing objects cannot be built for a Challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unroutable {
    /// The solver uses a mechanism not built yet (a named existing Ingress, an HTTPRoute).
    NotImplemented(&'static str),
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
    if http01.is_some_and(|h| h.gateway_http_route.is_some()) {
        return Err(Unroutable::NotImplemented("gatewayHTTPRoute"));
    }
    let ing = http01.and_then(|h| h.ingress.clone()).unwrap_or_default();
    if ing.name.is_some() {
        return Err(Unroutable::NotImplemented(
            "ingress.name (editing an existing Ingress)",
        ));
    }
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
            type_: Some(service_type(&ing).into()),
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
    let template = ing
        .ingress_template
        .as_ref()
        .and_then(|t| t.metadata.clone())
        .unwrap_or_default();
    let mut annotations = template.annotations.unwrap_or_default();
    if let Some(class) = &ing.class {
        annotations.insert("kubernetes.io/ingress.class".into(), class.clone());
    }
    let ingress = Ingress {
        metadata: meta(template.labels.unwrap_or_default(), annotations),
        spec: Some(IngressSpec {
            ingress_class_name: ing.ingress_class_name.clone(),
            rules: Some(vec![IngressRule {
                host: Some(ch.spec.dns_name.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some(format!("/.well-known/acme-challenge/{}", ch.spec.token)),
                        path_type: "ImplementationSpecific".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: name.clone(),
                                port: Some(ServiceBackendPort {
                                    number: Some(i32::from(port)),
                                    ..Default::default()
                                }),
                            }),
                            ..Default::default()
                        },
                    }],
                }),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(Routing {
        service,
        endpoint_slice,
        ingress,
    })
}

fn service_type(ing: &AcmeChallengeSolverHttp01Ingress) -> &'static str {
    match ing.service_type {
        Some(SolverServiceType::ClusterIP) => "ClusterIP",
        // cert-manager's default, which ingress controllers that need node ports (GCE) require.
        Some(SolverServiceType::NodePort) | None => "NodePort",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::acme_http01::{
        AcmeChallengeSolverHttp01, AcmeChallengeSolverHttp01IngressTemplate,
        AcmeChallengeSolverObjectMeta,
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
        let ingress = serde_json::to_value(&r.ingress).unwrap();
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
        assert_eq!(
            r.ingress.spec.unwrap().ingress_class_name.as_deref(),
            Some("traefik")
        );
        assert!(r.ingress.metadata.annotations.is_none());
        assert_eq!(r.service.spec.unwrap().type_.as_deref(), Some("ClusterIP"));
        assert_eq!(r.endpoint_slice.address_type, "IPv6");
    }

    #[test]
    fn named_ingress_and_httproute_are_reported_not_built() {
        let ing = AcmeChallengeSolverHttp01Ingress {
            name: Some("existing".into()),
            ..Default::default()
        };
        assert!(matches!(
            routing(&challenge(ing), owner(), "10.0.0.1".parse().unwrap(), 80),
            Err(Unroutable::NotImplemented(_))
        ));
    }
}
