//! The `acme.cert-manager.io/v1` kinds: `Order` (one ACME order, owned by the
//! CertificateRequest it serves) and `Challenge` (one challenge of one of its authorizations,
//! owned by the Order). Same fields and states as cert-manager's, so `kubectl get
//! orders,challenges` debugging and tools that read them keep working.
// kube's repeated `printcolumn(...)` entries look like duplicated attributes to clippy.
#![allow(clippy::duplicated_attributes)]
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::acme::AcmeChallengeSolver;
use super::common::{Bytes, IssuerRef};
use super::duration::Duration;

/// API group of the ACME kinds.
pub const ACME_GROUP: &str = "acme.cert-manager.io";

/// State of an Order or Challenge: the ACME server's status of the object, plus `errored` for
/// a failure that is not the server's verdict (the order could not even be created).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AcmeState {
    /// Issued (Order) or validated (Challenge). Final.
    Valid,
    /// All authorizations are valid; the order can be finalized.
    Ready,
    /// Waiting for authorizations (Order) or for the challenge to be attempted (Challenge).
    Pending,
    /// The server is validating the challenge or issuing the certificate.
    Processing,
    /// The server refused: a challenge failed or the order was rejected. Final.
    Invalid,
    /// The server let the object expire before it completed. Final.
    Expired,
    /// A failure outside the ACME state machine (request refused before an order existed). Final.
    Errored,
}

impl AcmeState {
    /// Whether nothing more will happen to the object.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            AcmeState::Valid | AcmeState::Invalid | AcmeState::Expired | AcmeState::Errored
        )
    }

    /// Whether the object failed for good.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            AcmeState::Invalid | AcmeState::Expired | AcmeState::Errored
        )
    }

    /// The state for an ACME status string (`deactivated`/`revoked` count as invalid).
    pub fn from_acme(status: &str) -> AcmeState {
        match status {
            "valid" => AcmeState::Valid,
            "ready" => AcmeState::Ready,
            "pending" => AcmeState::Pending,
            "processing" => AcmeState::Processing,
            "expired" => AcmeState::Expired,
            "invalid" | "deactivated" | "revoked" => AcmeState::Invalid,
            _ => AcmeState::Errored,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AcmeState::Valid => "valid",
            AcmeState::Ready => "ready",
            AcmeState::Pending => "pending",
            AcmeState::Processing => "processing",
            AcmeState::Invalid => "invalid",
            AcmeState::Expired => "expired",
            AcmeState::Errored => "errored",
        }
    }
}

/// One ACME order for the names of a CertificateRequest's CSR.
#[skip_serializing_none]
#[derive(CustomResource, KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "acme.cert-manager.io",
    version = "v1",
    kind = "Order",
    namespaced,
    status = "OrderStatus",
    category = "cert-manager",
    category = "cert-manager-acme",
    doc = "An Order is one ACME order: the names of a CertificateRequest's CSR, the authorizations the server asks for, and the signed chain once the order is valid.",
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(
        name = "Issuer",
        type_ = "string",
        priority = 1,
        json_path = ".spec.issuerRef.name"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        priority = 1,
        json_path = ".status.reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self == oldSelf").message("spec is immutable: an Order stands for one CertificateRequest"))]
pub struct OrderSpec {
    /// The PEM-encoded CSR (base64 in YAML) the order is finalized with; its names must be the
    /// order's names.
    pub request: Bytes,
    /// The ACME Issuer or ClusterIssuer whose account places the order.
    pub issuer_ref: IssuerRef,
    /// Common name of the CSR; when set it is also one of `dnsNames` or `ipAddresses`.
    pub common_name: Option<String>,
    /// DNS names to be authorized; the same as the CSR's.
    pub dns_names: Option<Vec<String>>,
    /// IP addresses to be authorized; the same as the CSR's.
    pub ip_addresses: Option<Vec<String>>,
    /// Requested lifetime, sent as the order's notAfter when the issuer enables the duration
    /// feature.
    pub duration: Option<Duration>,
    /// Certificate profile to ask the server for (ACME profiles extension).
    pub profile: Option<String>,
    /// The RFC 9773 identifier of the certificate this order renews, sent as the order's
    /// `replaces` when the server offers renewal information.
    pub replaces: Option<String>,
}

/// What the ACME server said about the order.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderStatus {
    /// URL of the order at the ACME server; set once when the order is created, never changed.
    pub url: Option<String>,
    /// URL to post the CSR to once the order is ready.
    #[serde(rename = "finalizeURL")]
    pub finalize_url: Option<String>,
    /// The authorizations the server requires, one per name.
    pub authorizations: Option<Vec<AcmeAuthorization>>,
    /// The signed chain (PEM, leaf first; base64 in YAML), once the order is valid.
    pub certificate: Option<Bytes>,
    /// Current state; `valid`, `invalid`, `expired` and `errored` are final.
    pub state: Option<AcmeState>,
    /// Why the order is in its state (the server's problem for a failed order).
    pub reason: Option<String>,
    /// When the order failed; unset otherwise.
    pub failure_time: Option<Time>,
}

/// One authorization of an order.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeAuthorization {
    /// URL of the authorization at the ACME server.
    pub url: String,
    /// The name being authorized (without `*.` for a wildcard).
    pub identifier: Option<String>,
    /// Whether the authorization is for a wildcard name.
    pub wildcard: Option<bool>,
    /// State of the authorization when the order was created (`valid` when the server reused
    /// an earlier authorization: no challenge is needed).
    pub initial_state: Option<AcmeState>,
    /// The challenges offered; one of them must be solved.
    pub challenges: Option<Vec<AcmeChallenge>>,
}

/// One challenge offered for an authorization.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeChallenge {
    /// URL of the challenge at the ACME server.
    pub url: String,
    /// Token of the challenge.
    pub token: String,
    /// Type of the challenge, e.g. `http-01` or `dns-01`.
    pub r#type: String,
}

/// Challenge types certwright can solve, spelled as cert-manager's Challenge resources do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AcmeChallengeType {
    #[serde(rename = "HTTP-01")]
    Http01,
    #[serde(rename = "DNS-01")]
    Dns01,
}

impl AcmeChallengeType {
    /// The ACME spelling (`http-01`).
    pub fn acme_name(self) -> &'static str {
        match self {
            AcmeChallengeType::Http01 => "http-01",
            AcmeChallengeType::Dns01 => "dns-01",
        }
    }
}

/// One challenge being solved for an Order.
#[skip_serializing_none]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "acme.cert-manager.io",
    version = "v1",
    kind = "Challenge",
    namespaced,
    status = "ChallengeStatus",
    category = "cert-manager",
    category = "cert-manager-acme",
    doc = "A Challenge is one ACME challenge being solved for an Order: what to present, where, and what the server made of it.",
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "Domain", type_ = "string", json_path = ".spec.dnsName"),
    printcolumn(
        name = "Reason",
        type_ = "string",
        priority = 1,
        json_path = ".status.reason"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self == oldSelf").message("spec is immutable: a Challenge stands for one ACME challenge"))]
pub struct ChallengeSpec {
    /// URL of the challenge at the ACME server.
    pub url: String,
    /// URL of the authorization the challenge belongs to.
    #[serde(rename = "authorizationURL")]
    pub authorization_url: String,
    /// The name being proven, without `*.` for a wildcard.
    pub dns_name: String,
    /// Whether the authorization is for a wildcard name.
    pub wildcard: Option<bool>,
    /// `HTTP-01` or `DNS-01`.
    pub r#type: AcmeChallengeType,
    /// The token the server issued.
    pub token: String,
    /// What must be presented: the key authorization (`<token>.<account key thumbprint>`) for
    /// HTTP-01, its base64url SHA-256 digest (the TXT record value) for DNS-01.
    pub key: String,
    /// The solver of the issuer chosen for this name.
    pub solver: AcmeChallengeSolver,
    /// The ACME issuer whose account the challenge belongs to.
    pub issuer_ref: IssuerRef,
}

/// Progress of a challenge.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeStatus {
    /// Whether the controller is working on the challenge; false once it reached a final state.
    pub processing: Option<bool>,
    /// Whether the challenge response is being presented (served over HTTP, or the TXT record
    /// written).
    pub presented: Option<bool>,
    /// Why the challenge is in its state.
    pub reason: Option<String>,
    /// The ACME server's state of the challenge.
    pub state: Option<AcmeState>,
    /// When the response was first presented; `waitInsteadOfSelfCheck` counts from here.
    pub presented_at: Option<Time>,
}
