//! The `acme` issuer: account settings and the list of challenge solvers. The HTTP-01 and
//! DNS-01 solver blocks live in [`super::acme_http01`] and [`super::acme_dns01`].
use std::collections::BTreeMap;

use super::common::Bytes;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::acme_dns01::AcmeChallengeSolverDns01;
use super::acme_http01::AcmeChallengeSolverHttp01;
use super::common::SecretKeySelector;

/// ACME account and solver configuration.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.caBundle) && has(self.skipTLSVerify) && self.skipTLSVerify)")
    .message("spec.acme: caBundle and skipTLSVerify are mutually exclusive"))]
pub struct AcmeIssuer {
    /// Contact address registered with the ACME account, used by the CA for expiry and
    /// account notices. Optional but strongly recommended; may change after registration.
    pub email: Option<String>,
    /// URL of the ACME directory, e.g.
    /// `https://acme-staging-v02.api.letsencrypt.org/directory`. Only RFC 8555 servers work.
    #[schemars(length(min = 1, max = 2048))]
    #[x_kube(validation = Rule::new("isURL(self)").message("spec.acme.server must be a URL"))]
    pub server: String,
    /// Common name of the root to prefer when the server offers alternative chains. A
    /// preference, not a guarantee.
    #[schemars(length(max = 64))]
    pub preferred_chain: Option<String>,
    /// PEM CA bundle (base64 in YAML) to verify the ACME server; the system roots when unset.
    /// Mutually exclusive with `skipTLSVerify`.
    pub ca_bundle: Option<Bytes>,
    /// Do not verify the ACME server's TLS certificate. Insecure: for development only.
    #[serde(rename = "skipTLSVerify")]
    pub skip_tls_verify: Option<bool>,
    /// External account binding, for CAs that tie ACME accounts to an existing customer account.
    pub external_account_binding: Option<AcmeExternalAccountBinding>,
    /// Secret that stores the ACME account key (key `tls.key` unless `key` says otherwise);
    /// generated when missing unless `disableAccountKeyGeneration` is true.
    pub private_key_secret_ref: SecretKeySelector,
    /// Use an existing account key from `privateKeySecretRef` instead of generating one.
    pub disable_account_key_generation: Option<bool>,
    /// Send the requested duration as the order's notAfter. Servers that do not support it
    /// (Let's Encrypt) fail the order.
    pub enable_duration_feature: Option<bool>,
    /// Certificate profile to request from the server (ACME profiles extension), e.g.
    /// `shortlived`; the server's directory lists the ones it offers.
    pub profile: Option<String>,
    /// How to solve challenges (at most 100); the most specific matching selector wins.
    // maxItems bounds the cost the apiserver estimates for the per-solver CEL rules.
    #[schemars(length(max = 100))]
    pub solvers: Option<Vec<AcmeChallengeSolver>>,
}

/// External account binding credentials.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeExternalAccountBinding {
    /// Key identifier the CA gave you.
    #[serde(rename = "keyID")]
    #[schemars(length(min = 1))]
    pub key_id: String,
    /// Secret key holding the MAC key, base64url-encoded without padding.
    pub key_secret_ref: SecretKeySelector,
    /// Deprecated and ignored: the MAC algorithm is always HS256.
    pub key_algorithm: Option<HmacKeyAlgorithm>,
}

/// MAC algorithms named by the deprecated `keyAlgorithm` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum HmacKeyAlgorithm {
    HS256,
    HS384,
    HS512,
}

/// One way of solving challenges, optionally limited to some names.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.http01) != has(self.dns01)")
    .message("spec.acme.solvers: each solver must set exactly one of http01 or dns01"))]
pub struct AcmeChallengeSolver {
    /// Which names this solver handles; without it the solver is the fallback for all names.
    pub selector: Option<CertificateDnsNameSelector>,
    /// Solve HTTP-01 challenges (not possible for wildcard names).
    pub http01: Option<AcmeChallengeSolverHttp01>,
    /// Solve DNS-01 challenges by writing TXT records.
    pub dns01: Option<AcmeChallengeSolverDns01>,
    /// Skip the self check (HTTP-01 fetch, DNS-01 propagation check) and ask the ACME server
    /// to validate this long after the response is presented instead; `0s` asks at once. An
    /// escape hatch for split-horizon DNS or NAT hairpinning, where the controller cannot see
    /// what the CA sees.
    #[x_kube(validation = Rule::new("duration(self) >= duration('0s')").message("waitInsteadOfSelfCheck may not be negative"))]
    pub wait_instead_of_self_check: Option<super::duration::Duration>,
}

/// Chooses the names a solver applies to. Exact `dnsNames` beat `dnsZones`, the most specific
/// zone beats others, more matching labels break ties, then list order.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateDnsNameSelector {
    /// Labels the Certificate must carry for this solver to apply.
    pub match_labels: Option<BTreeMap<String, String>>,
    /// Exact names this solver handles.
    pub dns_names: Option<Vec<String>>,
    /// Zones this solver handles, with all names below them.
    pub dns_zones: Option<Vec<String>>,
}

/// ACME account state recorded by the controller.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerStatus {
    /// Account URL at the ACME server.
    pub uri: Option<String>,
    /// Email the account was last registered with; a change triggers an account update.
    pub last_registered_email: Option<String>,
    /// Hash of the account key last registered; a change triggers a new registration.
    pub last_private_key_hash: Option<String>,
}
