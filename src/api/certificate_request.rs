//! `CertificateRequest`: one CSR sent to one issuer, with the signed result in its status.
//!
//! The spec is immutable (a CEL transition rule), so an approval always covers exactly the
//! request that was approved. Who may approve, and stamping the requester's identity, are
//! admission policies shipped with the chart, not part of the CRD (see
//! `/work/shared/notes/webhook-free-admission.md`).
// kube's repeated `printcolumn(...)` entries look like duplicated attributes to clippy.
#![allow(clippy::duplicated_attributes)]
use std::collections::BTreeMap;

use super::common::Bytes;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::common::{Condition, ConditionStatus, IssuerRef, find_condition};
use super::duration::Duration;
use super::usage::KeyUsage;

/// Condition types a CertificateRequest carries.
pub mod condition {
    /// The request has been signed (True), failed for good (False, reason `Failed`) or is
    /// still in progress (False, reason `Pending`).
    pub const READY: &str = "Ready";
    /// An approver allowed the request to be signed. Final once set.
    pub const APPROVED: &str = "Approved";
    /// An approver refused the request. Final once set.
    pub const DENIED: &str = "Denied";
    /// The request can never be signed as written (bad CSR, unsupported options).
    pub const INVALID_REQUEST: &str = "InvalidRequest";
}

/// A request for one signed certificate: the CSR, the issuer to send it to, and the identity
/// of whoever created it.
#[skip_serializing_none]
#[derive(CustomResource, KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "CertificateRequest",
    namespaced,
    status = "CertificateRequestStatus",
    shortname = "cr",
    shortname = "crs",
    category = "cert-manager",
    doc = "A CertificateRequest carries one PEM-encoded CSR to one issuer; the signed certificate appears in its status once approved and issued.",
    printcolumn(
        name = "Approved",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type == "Approved")].status"#
    ),
    printcolumn(
        name = "Denied",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type == "Denied")].status"#
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type == "Ready")].status"#
    ),
    printcolumn(name = "Issuer", type_ = "string", json_path = ".spec.issuerRef.name"),
    printcolumn(name = "Requester", type_ = "string", json_path = ".spec.username"),
    printcolumn(
        name = "Status",
        type_ = "string",
        priority = 1,
        json_path = r#".status.conditions[?(@.type == "Ready")].message"#
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self == oldSelf").message("spec is immutable: create a new CertificateRequest instead"))]
pub struct CertificateRequestSpec {
    /// Requested lifetime as a Go duration (`2160h`, `1h30m`). The issuer may grant another.
    pub duration: Option<Duration>,

    /// The Issuer or ClusterIssuer asked to sign.
    pub issuer_ref: IssuerRef,

    /// The PEM-encoded PKCS#10 certificate signing request (base64 in YAML, as for any bytes
    /// field). Must be signed by the key it carries.
    pub request: Bytes,

    /// Ask for a CA certificate (basic constraints CA:TRUE).
    #[serde(rename = "isCA")]
    pub is_ca: Option<bool>,

    /// Key usages and extended key usages to grant. Default: `digital signature` and
    /// `key encipherment`.
    #[schemars(length(max = 32))]
    pub usages: Option<Vec<KeyUsage>>,

    /// User name of the creator. Set by admission on create; never trusted from the client.
    pub username: Option<String>,

    /// UID of the creator. Set by admission on create.
    pub uid: Option<String>,

    /// Groups of the creator. Set by admission on create.
    pub groups: Option<Vec<String>>,

    /// Extra attributes of the creator's identity. Set by admission on create.
    pub extra: Option<BTreeMap<String, Vec<String>>>,
}

/// Observed state of a CertificateRequest, written by approvers and the controller.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateRequestStatus {
    /// Conditions, one per type: `Approved`, `Denied`, `Ready` and `InvalidRequest`. Approved
    /// and Denied exclude each other, may only be `True`, and never change once set.
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    #[schemars(length(max = 16))]
    #[x_kube(validation = Rule::new("!(self.exists(c, c.type == 'Approved') && self.exists(c, c.type == 'Denied'))")
        .message("status.conditions: Approved and Denied may not both be set"))]
    #[x_kube(validation = Rule::new("self.all(c, !(c.type in ['Approved', 'Denied']) || c.status == 'True')")
        .message("status.conditions: Approved and Denied conditions may only have status True"))]
    #[x_kube(validation = Rule::new("oldSelf.all(o, !(o.type in ['Approved', 'Denied']) || self.exists(c, c.type == o.type && c.status == o.status))")
        .message("status.conditions: an Approved or Denied condition may not be removed or changed once set"))]
    pub conditions: Option<Vec<Condition>>,

    /// The signed certificate, PEM-encoded (base64 in YAML).
    pub certificate: Option<Bytes>,

    /// Deprecated by cert-manager: the CA that signed the certificate, PEM-encoded, as far as
    /// the issuer knows it. Kept for clients that still read it.
    pub ca: Option<Bytes>,

    /// When signing failed for good; unset otherwise.
    pub failure_time: Option<Time>,
}

impl CertificateRequest {
    /// The condition of the given type, if present.
    pub fn condition(&self, r#type: &str) -> Option<&Condition> {
        find_condition(self.status.as_ref()?.conditions.as_deref(), r#type)
    }

    /// Whether an approver has approved the request.
    pub fn is_approved(&self) -> bool {
        self.condition(condition::APPROVED)
            .is_some_and(|c| c.status == ConditionStatus::True)
    }

    /// Whether an approver has denied the request.
    pub fn is_denied(&self) -> bool {
        self.condition(condition::DENIED)
            .is_some_and(|c| c.status == ConditionStatus::True)
    }

    /// Whether the request is finished: Ready True, Ready False with reason `Failed`, denied, or
    /// invalid. A finished request is never worked on again.
    pub fn is_finished(&self) -> bool {
        let ready = self.condition(condition::READY);
        self.is_denied()
            || self
                .condition(condition::INVALID_REQUEST)
                .is_some_and(|c| c.status == ConditionStatus::True)
            || ready.is_some_and(|c| {
                c.status == ConditionStatus::True
                    || (c.status == ConditionStatus::False && c.reason.as_deref() == Some("Failed"))
            })
    }
}
