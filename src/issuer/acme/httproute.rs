//! A Gateway API HTTPRoute (`gateway.networking.k8s.io/v1`), only as much of it as an HTTP-01
//! challenge needs: parents, the challenge's host, one exact path match, one Service backend.
//!
//! Own serde types rather than the `gateway-api` crate: that crate generates every Gateway API
//! kind and field from the CRDs and pins the kube and k8s-openapi versions it was generated
//! for, where we need five small structs for one write; we implement [`kube::Resource`] by
//! hand so the object goes through a typed `Api` like every other write.
use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use super::solver::{PATH_PREFIX, Unroutable};
use crate::api::Challenge;
use crate::api::acme_http01::{AcmeChallengeSolverHttp01GatewayHttpRoute, ParentReference};

pub const GROUP: &str = "gateway.networking.k8s.io";
pub const VERSION: &str = "v1";

/// An HTTPRoute.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRoute {
    pub metadata: ObjectMeta,
    pub spec: HttpRouteSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    #[serde(default)]
    pub parent_refs: Vec<ParentReference>,
    #[serde(default)]
    pub hostnames: Vec<String>,
    #[serde(default)]
    pub rules: Vec<HttpRouteRule>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRule {
    #[serde(default)]
    pub matches: Vec<HttpRouteMatch>,
    #[serde(default)]
    pub backend_refs: Vec<BackendRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpRouteMatch {
    pub path: Option<PathMatch>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PathMatch {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub value: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BackendRef {
    pub group: Option<String>,
    pub kind: Option<String>,
    pub name: String,
    pub port: Option<i32>,
}

impl kube::Resource for HttpRoute {
    type DynamicType = ();
    type Scope = k8s_openapi::NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        "HTTPRoute".into()
    }
    fn group(_: &()) -> Cow<'_, str> {
        GROUP.into()
    }
    fn version(_: &()) -> Cow<'_, str> {
        VERSION.into()
    }
    fn plural(_: &()) -> Cow<'_, str> {
        "httproutes".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl HttpRoute {
    /// The object as server-side apply wants it: with apiVersion and kind.
    pub fn to_apply(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["apiVersion"] = format!("{GROUP}/{VERSION}").into();
        v["kind"] = "HTTPRoute".into();
        v
    }
}

/// The HTTPRoute of `ch`: attached to the solver's parents, matching the challenge's host and
/// exactly its token path, sending it to `service`:`port`. Fails when the solver names no
/// parent: such a route attaches to no Gateway and the challenge could never pass.
pub fn build(
    ch: &Challenge,
    solver: &AcmeChallengeSolverHttp01GatewayHttpRoute,
    metadata: ObjectMeta,
    service: &str,
    port: u16,
) -> Result<HttpRoute, Unroutable> {
    let parents = solver.parent_refs.clone().unwrap_or_default();
    if parents.is_empty() {
        return Err(Unroutable::Invalid(
            "http01.gatewayHTTPRoute.parentRefs is empty: the HTTPRoute would attach to no Gateway"
                .into(),
        ));
    }
    Ok(HttpRoute {
        metadata,
        spec: HttpRouteSpec {
            parent_refs: parents,
            hostnames: vec![ch.spec.dns_name.clone()],
            rules: vec![HttpRouteRule {
                matches: vec![HttpRouteMatch {
                    path: Some(PathMatch {
                        kind: Some("Exact".into()),
                        value: Some(format!("{PATH_PREFIX}{}", ch.spec.token)),
                    }),
                }],
                backend_refs: vec![BackendRef {
                    group: Some(String::new()),
                    kind: Some("Service".into()),
                    name: service.to_string(),
                    port: Some(i32::from(port)),
                }],
            }],
        },
    })
}
