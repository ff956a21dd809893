//! HTTP-01 solver configuration: an Ingress or a Gateway API HTTPRoute that routes the
//! challenge path to a short-lived solver Pod, and overrides for that Pod.
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, LocalObjectReference, SELinuxOptions, SeccompProfile, Sysctl, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

/// HTTP-01 solving: exactly one of `ingress` or `gatewayHTTPRoute`.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.ingress) != has(self.gatewayHTTPRoute)")
    .message("spec.acme.solvers.http01: exactly one of ingress or gatewayHTTPRoute must be set"))]
pub struct AcmeChallengeSolverHttp01 {
    /// Route the challenge through an Ingress.
    pub ingress: Option<AcmeChallengeSolverHttp01Ingress>,
    /// Route the challenge through a Gateway API HTTPRoute attached to `parentRefs`.
    #[serde(rename = "gatewayHTTPRoute")]
    pub gateway_http_route: Option<AcmeChallengeSolverHttp01GatewayHttpRoute>,
}

/// Type of the Service in front of the solver Pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SolverServiceType {
    ClusterIP,
    NodePort,
}

/// Ingress-based HTTP-01 solving. Choose how the Ingress is picked with at most one of
/// `ingressClassName`, `class` or `name`.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.ingressClassName) ? 1 : 0) + (has(self.class) ? 1 : 0) + (has(self.name) ? 1 : 0) <= 1")
    .message("spec.acme.solvers.http01.ingress: at most one of ingressClassName, class or name may be set"))]
pub struct AcmeChallengeSolverHttp01Ingress {
    /// Type of the solver Service (default `NodePort`).
    pub service_type: Option<SolverServiceType>,
    /// `spec.ingressClassName` of the Ingress created for each challenge.
    pub ingress_class_name: Option<String>,
    /// Value of the legacy `kubernetes.io/ingress.class` annotation on the created Ingress.
    pub class: Option<String>,
    /// Name of an existing Ingress to add the challenge path to, instead of creating one (for
    /// controllers that give each Ingress its own IP address).
    pub name: Option<String>,
    /// Overrides for the solver Pod.
    pub pod_template: Option<AcmeChallengeSolverHttp01PodTemplate>,
    /// Labels and annotations for the created Ingress.
    pub ingress_template: Option<AcmeChallengeSolverHttp01IngressTemplate>,
}

/// HTTPRoute-based HTTP-01 solving.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01GatewayHttpRoute {
    /// Type of the solver Service (default `NodePort`).
    pub service_type: Option<SolverServiceType>,
    /// Labels for the created HTTPRoutes.
    pub labels: Option<BTreeMap<String, String>>,
    /// Gateways (or other parents) the created HTTPRoute attaches to.
    pub parent_refs: Option<Vec<ParentReference>>,
    /// Overrides for the solver Pod.
    pub pod_template: Option<AcmeChallengeSolverHttp01PodTemplate>,
}

/// A Gateway API parent reference (usually a Gateway listener).
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParentReference {
    /// API group of the parent (default `gateway.networking.k8s.io`; `""` for core kinds).
    #[schemars(length(max = 253))]
    pub group: Option<String>,
    /// Kind of the parent (default `Gateway`).
    #[schemars(length(min = 1, max = 63))]
    pub kind: Option<String>,
    /// Namespace of the parent (default: the route's namespace).
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
    /// Name of the parent.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Listener (or port) name within the parent; unset attaches to all.
    #[schemars(length(min = 1, max = 253))]
    pub section_name: Option<String>,
    /// Port within the parent to attach to.
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// Overrides for the Pod that answers HTTP-01 challenges.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01PodTemplate {
    /// Labels and annotations added to the Pod (they win over built-in ones).
    pub metadata: Option<AcmeChallengeSolverObjectMeta>,
    /// Pod spec fields to override; only the fields listed here exist.
    pub spec: Option<AcmeChallengeSolverHttp01PodSpec>,
}

/// Labels and annotations for an object the solver creates.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverObjectMeta {
    /// Annotations to add.
    pub annotations: Option<BTreeMap<String, String>>,
    /// Labels to add.
    pub labels: Option<BTreeMap<String, String>>,
}

/// Labels and annotations for the Ingress the solver creates.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01IngressTemplate {
    /// Labels and annotations added to the Ingress (they win over built-in ones).
    pub metadata: Option<AcmeChallengeSolverObjectMeta>,
}

/// The solver Pod fields that may be overridden.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01PodSpec {
    /// Node labels the Pod must be scheduled onto.
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Scheduling affinity of the Pod.
    pub affinity: Option<Affinity>,
    /// Tolerations of the Pod.
    pub tolerations: Option<Vec<Toleration>>,
    /// PriorityClass of the Pod.
    pub priority_class_name: Option<String>,
    /// ServiceAccount the Pod runs as.
    pub service_account_name: Option<String>,
    /// Secrets for pulling the solver image.
    pub image_pull_secrets: Option<Vec<LocalObjectReference>>,
    /// Security settings of the Pod.
    pub security_context: Option<AcmeChallengeSolverHttp01PodSecurityContext>,
    /// CPU and memory requests and limits of the solver container.
    pub resources: Option<AcmeChallengeSolverHttp01Resources>,
}

/// The pod-level security settings that may be set on the solver Pod.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01PodSecurityContext {
    /// SELinux context for all containers.
    pub se_linux_options: Option<SELinuxOptions>,
    /// UID to run as.
    pub run_as_user: Option<i64>,
    /// GID to run as.
    pub run_as_group: Option<i64>,
    /// Refuse to start containers whose image runs as root.
    pub run_as_non_root: Option<bool>,
    /// Extra groups for the first process of each container.
    pub supplemental_groups: Option<Vec<i64>>,
    /// Group that owns volumes supporting ownership management.
    pub fs_group: Option<i64>,
    /// Namespaced sysctls for the Pod.
    pub sysctls: Option<Vec<Sysctl>>,
    /// When volume ownership is changed: `OnRootMismatch` or `Always`.
    pub fs_group_change_policy: Option<String>,
    /// Seccomp profile for all containers.
    pub seccomp_profile: Option<SeccompProfile>,
}

/// Compute resources of the solver container.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallengeSolverHttp01Resources {
    /// Maximum resources, e.g. `cpu: 100m`, `memory: 64Mi`.
    pub limits: Option<BTreeMap<String, Quantity>>,
    /// Guaranteed resources, e.g. `cpu: 10m`, `memory: 64Mi`.
    pub requests: Option<BTreeMap<String, Quantity>>,
}
