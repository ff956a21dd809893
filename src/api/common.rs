//! Types shared by several kinds: references to issuers, Secrets and ServiceAccounts, and the
//! status condition all four kinds report.
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

/// A time as the API stores it: whole seconds (metav1.Time has no fractions). A status time
/// computed with fractions (a renewal time a third of the lifetime before notAfter) would
/// never equal the stored one, and every pass would write the status again.
pub fn api_time(t: std::time::SystemTime) -> Time {
    let secs = match t.duration_since(std::time::SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
    };
    Time(k8s_openapi::jiff::Timestamp::from_second(secs).unwrap_or_default())
}

/// API group of every kind this crate serves.
pub const GROUP: &str = "cert-manager.io";
/// The only served and stored version.
pub const VERSION: &str = "v1";

/// Names the issuer that signs a Certificate or CertificateRequest.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuerRef {
    /// Name of the Issuer or ClusterIssuer. A namespaced Issuer must live in the same namespace
    /// as the object that refers to it.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Kind of the issuer: `Issuer` (the default) or `ClusterIssuer`. Other kinds belong to
    /// external issuers and are passed through untouched.
    pub kind: Option<String>,
    /// API group of the issuer; empty means `cert-manager.io`. Any other group names an
    /// external issuer, which certwright does not sign for.
    pub group: Option<String>,
}

/// Alias kept for readers who know cert-manager's Go name for the issuer reference.
pub type ObjectReference = IssuerRef;

impl IssuerRef {
    /// The effective kind (`Issuer` when unset or empty).
    pub fn kind_or_default(&self) -> &str {
        self.kind
            .as_deref()
            .filter(|k| !k.is_empty())
            .unwrap_or("Issuer")
    }

    /// The effective group (`cert-manager.io` when unset or empty).
    pub fn group_or_default(&self) -> &str {
        self.group
            .as_deref()
            .filter(|g| !g.is_empty())
            .unwrap_or(GROUP)
    }

    /// Whether certwright itself serves the referenced issuer (group cert-manager.io, kind
    /// Issuer or ClusterIssuer), as opposed to an external issuer.
    pub fn is_builtin(&self) -> bool {
        self.group_or_default() == GROUP
            && matches!(self.kind_or_default(), "Issuer" | "ClusterIssuer")
    }
}

/// A reference to an object in the same namespace, by name only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectReference {
    /// Name of the referenced object, in the same namespace as the referrer (for a
    /// ClusterIssuer: in the cluster resource namespace).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// One entry of a Secret's `data`, named by Secret name and key.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeySelector {
    /// Name of the Secret, in the same namespace as the referrer (for a ClusterIssuer: in the
    /// cluster resource namespace).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key within the Secret's `data`. Where it is optional, each field documents the key used
    /// when it is left out.
    pub key: Option<String>,
}

impl SecretKeySelector {
    /// The key to read, falling back to `default` when none is given.
    pub fn key_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.key
            .as_deref()
            .filter(|k| !k.is_empty())
            .unwrap_or(default)
    }
}

/// A ServiceAccount whose bound token is requested to authenticate to an external service.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountRef {
    /// Name of the ServiceAccount, in the issuer's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Extra audiences for the requested token, besides the default ones.
    pub audiences: Option<Vec<String>>,
}

/// The three values a condition's status can take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    #[default]
    Unknown,
}

/// One observation about an object, e.g. `Ready=False` with a reason. Conditions are a list
/// keyed by `type`: at most one condition of each type exists.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// What this condition is about, e.g. `Ready`, `Issuing`, `Approved`, `Denied`,
    /// `InvalidRequest`.
    #[schemars(length(min = 1, max = 316))]
    pub r#type: String,
    /// Whether the condition holds: `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// When `status` last changed.
    pub last_transition_time: Option<Time>,
    /// Short machine-readable CamelCase cause of the last transition; stable across releases.
    pub reason: Option<String>,
    /// Human-readable details of the last transition.
    pub message: Option<String>,
    /// The `metadata.generation` the condition was computed from; older than the object's
    /// generation means the condition is stale.
    pub observed_generation: Option<i64>,
}

impl Condition {
    /// Whether this is a `type` condition with status `True`.
    pub fn is_true(&self, r#type: &str) -> bool {
        self.r#type == r#type && self.status == ConditionStatus::True
    }

    /// Compares two conditions ignoring `lastTransitionTime`, so a controller can skip a status
    /// write when nothing but the clock changed.
    pub fn eq_ignoring_time(&self, other: &Self) -> bool {
        Self {
            last_transition_time: None,
            ..self.clone()
        } == Self {
            last_transition_time: None,
            ..other.clone()
        }
    }
}

/// Finds the condition of the given type in a status' condition list.
pub fn find_condition<'a>(
    conditions: Option<&'a [Condition]>,
    r#type: &str,
) -> Option<&'a Condition> {
    conditions?.iter().find(|c| c.r#type == r#type)
}

/// Binary data (PEM bundles, CSRs, certificates), base64-encoded on the wire as Kubernetes
/// does for every `format: byte` field. Holds the decoded bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // k8s-openapi's ByteString already implements the exact base64 dialect the apiserver uses.
        k8s_openapi::ByteString(self.0.clone()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self(k8s_openapi::ByteString::deserialize(d)?.0))
    }
}

impl JsonSchema for Bytes {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Bytes".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "byte" })
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

#[cfg(test)]
mod api_time_tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn status_times_are_whole_seconds_as_the_api_stores_them() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_999);
        let stored: Time =
            serde_json::from_value(serde_json::to_value(api_time(t)).unwrap()).unwrap();
        // Equal to what a read-back returns, so an unchanged status is not written again.
        assert_eq!(api_time(t), stored);
        assert_eq!(api_time(t).0.as_second(), 1_800_000_000);
    }
}
