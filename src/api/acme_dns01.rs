//! DNS-01 solver configuration: one block per DNS provider, of which a solver sets exactly one.
//! Provider blocks for which certwright has no client yet are accepted and stored; the
//! controller reports them with a condition (see `docs/api-validation.md`).
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::common::{SecretKeySelector, ServiceAccountRef};

/// DNS-01 solving: exactly one provider block.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(
    "(has(self.acmeDNS) ? 1 : 0) + (has(self.akamai) ? 1 : 0) + (has(self.azureDNS) ? 1 : 0) + (has(self.cloudDNS) ? 1 : 0) \
     + (has(self.cloudflare) ? 1 : 0) + (has(self.digitalocean) ? 1 : 0) + (has(self.rfc2136) ? 1 : 0) \
     + (has(self.route53) ? 1 : 0) + (has(self.webhook) ? 1 : 0) == 1")
    .message("spec.acme.solvers.dns01: exactly one DNS provider must be set (acmeDNS, akamai, azureDNS, cloudDNS, cloudflare, digitalocean, rfc2136, route53 or webhook)"))]
pub struct AcmeChallengeSolverDns01 {
    /// What to do when the challenge record's name is a CNAME: `None` (default) writes the
    /// record where it is asked for, `Follow` writes it at the CNAME's target (delegated
    /// validation zones).
    pub cname_strategy: Option<CnameStrategy>,
    /// Akamai Edge DNS.
    pub akamai: Option<AcmeIssuerDns01ProviderAkamai>,
    /// Google Cloud DNS.
    #[serde(rename = "cloudDNS")]
    pub cloud_dns: Option<AcmeIssuerDns01ProviderCloudDns>,
    /// Cloudflare.
    pub cloudflare: Option<AcmeIssuerDns01ProviderCloudflare>,
    /// AWS Route 53.
    pub route53: Option<AcmeIssuerDns01ProviderRoute53>,
    /// Azure DNS (public or private zones).
    #[serde(rename = "azureDNS")]
    pub azure_dns: Option<AcmeIssuerDns01ProviderAzureDns>,
    /// DigitalOcean.
    pub digitalocean: Option<AcmeIssuerDns01ProviderDigitalOcean>,
    /// An acme-dns server.
    #[serde(rename = "acmeDNS")]
    pub acme_dns: Option<AcmeIssuerDns01ProviderAcmeDns>,
    /// Any server accepting RFC 2136 dynamic updates (BIND, Knot, PowerDNS...).
    pub rfc2136: Option<AcmeIssuerDns01ProviderRfc2136>,
    /// An external solver reached through the webhook API of cert-manager DNS webhooks.
    pub webhook: Option<AcmeIssuerDns01ProviderWebhook>,
}

/// Handling of CNAMEs on the challenge record name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum CnameStrategy {
    None,
    Follow,
}

/// Akamai Edge DNS credentials (EdgeGrid).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderAkamai {
    /// EdgeGrid host, e.g. `akab-xxxx.luna.akamaiapis.net`.
    #[schemars(length(min = 1))]
    pub service_consumer_domain: String,
    /// Secret key holding the client token.
    pub client_token_secret_ref: SecretKeySelector,
    /// Secret key holding the client secret.
    pub client_secret_secret_ref: SecretKeySelector,
    /// Secret key holding the access token.
    pub access_token_secret_ref: SecretKeySelector,
}

/// Google Cloud DNS.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderCloudDns {
    /// Secret key holding a service-account JSON key; ambient credentials when unset.
    pub service_account_secret_ref: Option<SecretKeySelector>,
    /// GCP project that owns the zone.
    #[schemars(length(min = 1))]
    pub project: String,
    /// Managed zone to write to; found automatically when unset.
    pub hosted_zone_name: Option<String>,
}

/// Cloudflare credentials: an API token (recommended) or a global API key with its email.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.apiKeySecretRef) != has(self.apiTokenSecretRef)")
    .message("spec.acme.solvers.dns01.cloudflare: exactly one of apiKeySecretRef or apiTokenSecretRef must be set"))]
#[x_kube(validation = Rule::new("!has(self.apiKeySecretRef) || (has(self.email) && self.email != '')")
    .message("spec.acme.solvers.dns01.cloudflare.email is required with apiKeySecretRef"))]
pub struct AcmeIssuerDns01ProviderCloudflare {
    /// Account email; required with `apiKeySecretRef`.
    pub email: Option<String>,
    /// Secret key holding a global API key.
    pub api_key_secret_ref: Option<SecretKeySelector>,
    /// Secret key holding an API token with DNS edit permission.
    pub api_token_secret_ref: Option<SecretKeySelector>,
}

/// DigitalOcean credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderDigitalOcean {
    /// Secret key holding an API token.
    pub token_secret_ref: SecretKeySelector,
}

/// AWS Route 53. Without explicit keys, the SDK's ambient credentials are used.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.accessKeyID) && has(self.accessKeyIDSecretRef))")
    .message("spec.acme.solvers.dns01.route53: accessKeyID and accessKeyIDSecretRef are mutually exclusive"))]
pub struct AcmeIssuerDns01ProviderRoute53 {
    /// Authenticate with a projected ServiceAccount token (AssumeRoleWithWebIdentity).
    pub auth: Option<Route53Auth>,
    /// Access key ID, literally. Mutually exclusive with `accessKeyIDSecretRef`.
    #[serde(rename = "accessKeyID")]
    pub access_key_id: Option<String>,
    /// Secret key holding the access key ID. Mutually exclusive with `accessKeyID`.
    #[serde(rename = "accessKeyIDSecretRef")]
    pub access_key_id_secret_ref: Option<SecretKeySelector>,
    /// Secret key holding the secret access key.
    pub secret_access_key_secret_ref: Option<SecretKeySelector>,
    /// ARN of a role to assume with the credentials above.
    pub role: Option<String>,
    /// Hosted zone to write to, skipping the lookup by name.
    #[serde(rename = "hostedZoneID")]
    pub hosted_zone_id: Option<String>,
    /// AWS region used to pick the credential scope; Route 53 itself is global.
    pub region: Option<String>,
}

/// Route 53 authentication through a Kubernetes ServiceAccount.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Route53Auth {
    /// Request a bound ServiceAccount token and exchange it for AWS credentials.
    pub kubernetes: Route53KubernetesAuth,
}

/// The ServiceAccount whose token is exchanged for AWS credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Route53KubernetesAuth {
    /// The ServiceAccount (audience default `sts.amazonaws.com`).
    pub service_account_ref: ServiceAccountRef,
}

/// Azure DNS: a service principal (clientID, clientSecretSecretRef, tenantID) or a managed /
/// workload identity.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.managedIdentity) || (!has(self.clientID) && !has(self.clientSecretSecretRef) && !has(self.tenantID))")
    .message("spec.acme.solvers.dns01.azureDNS: managedIdentity excludes clientID, clientSecretSecretRef and tenantID"))]
#[x_kube(validation = Rule::new("has(self.clientID) == has(self.clientSecretSecretRef) && has(self.clientID) == has(self.tenantID)")
    .message("spec.acme.solvers.dns01.azureDNS: clientID, clientSecretSecretRef and tenantID must be set together"))]
pub struct AcmeIssuerDns01ProviderAzureDns {
    /// Service principal client ID.
    #[serde(rename = "clientID")]
    pub client_id: Option<String>,
    /// Secret key holding the service principal's password.
    pub client_secret_secret_ref: Option<SecretKeySelector>,
    /// Azure subscription ID.
    #[serde(rename = "subscriptionID")]
    #[schemars(length(min = 1))]
    pub subscription_id: String,
    /// Tenant of the service principal.
    #[serde(rename = "tenantID")]
    pub tenant_id: Option<String>,
    /// Resource group holding the zone.
    #[schemars(length(min = 1))]
    pub resource_group_name: String,
    /// Zone to write to.
    pub hosted_zone_name: Option<String>,
    /// Azure cloud (default `AzurePublicCloud`).
    pub environment: Option<AzureDnsEnvironment>,
    /// Managed identity or workload identity settings.
    pub managed_identity: Option<AzureManagedIdentity>,
    /// `AzurePublicZone` (default) or `AzurePrivateZone`.
    pub zone_type: Option<AzureZoneType>,
}

/// Azure clouds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AzureDnsEnvironment {
    AzurePublicCloud,
    AzureChinaCloud,
    AzureGermanCloud,
    AzureUSGovernmentCloud,
}

/// Azure zone kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AzureZoneType {
    AzurePublicZone,
    AzurePrivateZone,
}

/// Which managed identity to use; `clientID` and `resourceID` exclude each other.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.clientID) && has(self.resourceID))")
    .message("spec.acme.solvers.dns01.azureDNS.managedIdentity: clientID and resourceID are mutually exclusive"))]
pub struct AzureManagedIdentity {
    /// Client ID of the identity.
    #[serde(rename = "clientID")]
    pub client_id: Option<String>,
    /// Resource ID of the identity (not for workload identity).
    #[serde(rename = "resourceID")]
    pub resource_id: Option<String>,
    /// Tenant of the identity.
    #[serde(rename = "tenantID")]
    pub tenant_id: Option<String>,
}

/// acme-dns server account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderAcmeDns {
    /// URL of the acme-dns server.
    #[schemars(length(min = 1))]
    pub host: String,
    /// Secret key holding the JSON account registrations, keyed by domain.
    pub account_secret_ref: SecretKeySelector,
}

/// RFC 2136 dynamic updates, optionally TSIG-signed.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.tsigKeyName) == has(self.tsigSecretSecretRef)")
    .message("spec.acme.solvers.dns01.rfc2136: tsigKeyName and tsigSecretSecretRef must be set together"))]
pub struct AcmeIssuerDns01ProviderRfc2136 {
    /// Authoritative server as `host:port` (port optional; IPv6 in brackets, e.g. `[2001:db8::1]:53`).
    #[schemars(length(min = 1))]
    pub nameserver: String,
    /// Secret key holding the TSIG secret (base64). Requires `tsigKeyName`.
    pub tsig_secret_secret_ref: Option<SecretKeySelector>,
    /// TSIG key name. Requires `tsigSecretSecretRef`.
    pub tsig_key_name: Option<String>,
    /// TSIG algorithm: `HMACMD5` (default), `HMACSHA1`, `HMACSHA256` or `HMACSHA512`
    /// (case-insensitive).
    pub tsig_algorithm: Option<String>,
    /// Transport for updates: `UDP` (default) or `TCP`.
    pub protocol: Option<Rfc2136Protocol>,
}

/// RFC 2136 transports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Rfc2136Protocol {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
}

/// An external DNS-01 solver.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcmeIssuerDns01ProviderWebhook {
    /// API group the solver serves, as configured in the solver.
    #[schemars(length(min = 1))]
    pub group_name: String,
    /// Solver name within that group, e.g. `cloudflare`.
    #[schemars(length(min = 1))]
    pub solver_name: String,
    /// Solver-specific settings, passed through as they are. Put credentials in Secrets, not here.
    #[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
    pub config: Option<serde_json::Value>,
}
