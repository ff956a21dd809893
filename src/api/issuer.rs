//! `Issuer` and `ClusterIssuer`: who signs. Both carry the same [`IssuerSpec`]; a ClusterIssuer
//! is cluster-scoped and reads its Secrets from the cluster resource namespace.
//!
//! kube-derive makes one kind per spec struct, so `ClusterIssuerSpec` wraps `IssuerSpec` with
//! `#[serde(flatten)]`: the wire format and the schema (CEL rules included, schemars copies them
//! into the flattening struct) are identical, and `Deref` gives the same field access in Rust.
// kube's repeated `printcolumn(...)` entries look like duplicated attributes to clippy.
#![allow(clippy::duplicated_attributes)]
use std::ops::Deref;

use super::common::Bytes;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::acme::{AcmeIssuer, AcmeIssuerStatus};
use super::common::{
    Condition, LocalObjectReference, SecretKeySelector, ServiceAccountRef, find_condition,
};

/// Configuration of an issuer: exactly one of `selfSigned`, `ca`, `acme`, `vault` or `venafi`.
#[skip_serializing_none]
#[derive(CustomResource, KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Issuer",
    namespaced,
    status = "IssuerStatus",
    shortname = "iss",
    category = "cert-manager",
    doc = "An Issuer signs certificates for Certificates and CertificateRequests in its own namespace.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type == "Ready")].status"#
    ),
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
#[x_kube(validation = Rule::new(
    "(has(self.acme) ? 1 : 0) + (has(self.ca) ? 1 : 0) + (has(self.selfSigned) ? 1 : 0) + (has(self.vault) ? 1 : 0) + (has(self.venafi) ? 1 : 0) == 1")
    .message("spec: exactly one issuer type must be set: acme, ca, selfSigned, vault or venafi"))]
pub struct IssuerSpec {
    /// Obtain certificates from an ACME (RFC 8555) server such as Let's Encrypt.
    pub acme: Option<AcmeIssuer>,
    /// Sign with a CA key pair kept in a Secret.
    pub ca: Option<CaIssuer>,
    /// Sign each certificate with its own private key.
    pub self_signed: Option<SelfSignedIssuer>,
    /// Sign through a HashiCorp Vault (or OpenBao) PKI secrets engine.
    pub vault: Option<VaultIssuer>,
    /// Sign through a CyberArk Certificate Manager (formerly Venafi) policy zone.
    pub venafi: Option<VenafiIssuer>,
}

/// The same configuration as an Issuer's spec, for the cluster-scoped kind.
#[derive(CustomResource, JsonSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "ClusterIssuer",
    status = "IssuerStatus",
    shortname = "ciss",
    category = "cert-manager",
    doc = "A ClusterIssuer signs certificates for Certificates and CertificateRequests in every namespace; its Secrets live in the cluster resource namespace.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type == "Ready")].status"#
    ),
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
pub struct ClusterIssuerSpec {
    #[serde(flatten)]
    pub issuer: IssuerSpec,
}

impl Deref for ClusterIssuerSpec {
    type Target = IssuerSpec;
    fn deref(&self) -> &IssuerSpec {
        &self.issuer
    }
}

impl From<IssuerSpec> for ClusterIssuerSpec {
    fn from(issuer: IssuerSpec) -> Self {
        Self { issuer }
    }
}

impl IssuerSpec {
    /// The configured issuer type as it is spelled in the API (`acme`, `ca`, `selfSigned`,
    /// `vault`, `venafi`), for conditions and metric labels. `None` only for objects that
    /// bypassed the CRD's validation.
    pub fn type_name(&self) -> Option<&'static str> {
        if self.acme.is_some() {
            Some("acme")
        } else if self.ca.is_some() {
            Some("ca")
        } else if self.self_signed.is_some() {
            Some("selfSigned")
        } else if self.vault.is_some() {
            Some("vault")
        } else if self.venafi.is_some() {
            Some("venafi")
        } else {
            None
        }
    }
}

/// Signs with a CA certificate and key stored in a Secret.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaIssuer {
    /// Secret (type `kubernetes.io/tls`) holding the CA's `tls.crt` and `tls.key`.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// CRL distribution point URLs to put into issued certificates.
    pub crl_distribution_points: Option<Vec<String>>,
    /// OCSP responder URLs to put into issued certificates (authority information access).
    pub ocsp_servers: Option<Vec<String>>,
    /// URLs where the issuing CA certificate can be downloaded, put into issued certificates
    /// (authority information access, CA Issuers), e.g. `http://ca.example.com/ca.crt`.
    #[serde(rename = "issuingCertificateURLs")]
    pub issuing_certificate_urls: Option<Vec<String>>,
}

/// Self-signing: each certificate is signed by its own key.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelfSignedIssuer {
    /// CRL distribution point URLs to put into issued certificates.
    pub crl_distribution_points: Option<Vec<String>>,
}

/// Signs through a Vault PKI secrets engine.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.caBundle) && has(self.caBundleSecretRef))")
    .message("spec.vault: caBundle and caBundleSecretRef are mutually exclusive"))]
#[x_kube(validation = Rule::new("has(self.clientCertSecretRef) == has(self.clientKeySecretRef)")
    .message("spec.vault: clientCertSecretRef and clientKeySecretRef must be set together"))]
pub struct VaultIssuer {
    /// How to log in to Vault: exactly one method.
    pub auth: VaultAuth,
    /// Vault address, e.g. `https://vault.example.com:8200`.
    #[schemars(length(min = 1))]
    pub server: String,
    /// Host name to expect in Vault's TLS certificate, when it differs from `server`'s.
    pub server_name: Option<String>,
    /// Path of the PKI engine's sign endpoint, e.g. `pki_int/sign/web`.
    #[schemars(length(min = 1))]
    pub path: String,
    /// Vault Enterprise namespace, e.g. `ns1`.
    pub namespace: Option<String>,
    /// PEM CA bundle (base64 in YAML) to verify Vault's TLS certificate. Mutually exclusive with
    /// `caBundleSecretRef`.
    pub ca_bundle: Option<Bytes>,
    /// Secret key holding a PEM CA bundle to verify Vault's TLS certificate (key default
    /// `ca.crt`). Mutually exclusive with `caBundle`.
    pub ca_bundle_secret_ref: Option<SecretKeySelector>,
    /// Secret key holding a PEM client certificate, for Vault servers requiring mutual TLS.
    pub client_cert_secret_ref: Option<SecretKeySelector>,
    /// Secret key holding the PEM private key for `clientCertSecretRef`.
    pub client_key_secret_ref: Option<SecretKeySelector>,
}

/// Vault login methods.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(
    "(has(self.tokenSecretRef) ? 1 : 0) + (has(self.appRole) ? 1 : 0) + (has(self.clientCertificate) ? 1 : 0) + (has(self.kubernetes) ? 1 : 0) == 1")
    .message("spec.vault.auth: exactly one of tokenSecretRef, appRole, clientCertificate or kubernetes must be set"))]
pub struct VaultAuth {
    /// Secret key holding a Vault token.
    pub token_secret_ref: Option<SecretKeySelector>,
    /// AppRole login.
    pub app_role: Option<VaultAppRole>,
    /// TLS client-certificate login (HTTPS only).
    pub client_certificate: Option<VaultClientCertificateAuth>,
    /// Kubernetes ServiceAccount login.
    pub kubernetes: Option<VaultKubernetesAuth>,
}

/// Vault AppRole login.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultAppRole {
    /// Mount path of the AppRole auth method, e.g. `approle`.
    #[schemars(length(min = 1))]
    pub path: String,
    /// The role ID.
    #[schemars(length(min = 1))]
    pub role_id: String,
    /// Secret key holding the secret ID (`key` is required).
    pub secret_ref: SecretKeySelector,
}

/// Vault TLS certificate login.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultClientCertificateAuth {
    /// Mount path of the cert auth method (default `/v1/auth/cert`).
    pub mount_path: Option<String>,
    /// Secret of type `kubernetes.io/tls` with the client certificate and key.
    pub secret_name: Option<String>,
    /// Name of the certificate role to log in as; unset matches any role.
    pub name: Option<String>,
}

/// Vault Kubernetes login, with a static token Secret or a requested bound token.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.secretRef) != has(self.serviceAccountRef)")
    .message("spec.vault.auth.kubernetes: exactly one of secretRef or serviceAccountRef must be set"))]
pub struct VaultKubernetesAuth {
    /// Mount path of the Kubernetes auth method (default `/v1/auth/kubernetes`).
    pub mount_path: Option<String>,
    /// Secret key holding a ServiceAccount token. Mutually exclusive with `serviceAccountRef`.
    pub secret_ref: Option<SecretKeySelector>,
    /// ServiceAccount to request a short-lived bound token for. Mutually exclusive with
    /// `secretRef`.
    pub service_account_ref: Option<ServiceAccountRef>,
    /// Vault role to log in as.
    #[schemars(length(min = 1))]
    pub role: String,
}

/// Signs through a CyberArk Certificate Manager (Venafi) zone.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.tpp) != has(self.cloud)")
    .message("spec.venafi: exactly one of tpp or cloud must be set"))]
pub struct VenafiIssuer {
    /// Policy zone that governs every request, e.g. `DevOps\cert-manager`.
    #[schemars(length(min = 1))]
    pub zone: String,
    /// Self-hosted (TPP) connection.
    pub tpp: Option<VenafiTpp>,
    /// SaaS connection.
    pub cloud: Option<VenafiCloud>,
}

/// Self-hosted CyberArk Certificate Manager (TPP) connection.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.caBundle) && has(self.caBundleSecretRef))")
    .message("spec.venafi.tpp: caBundle and caBundleSecretRef are mutually exclusive"))]
pub struct VenafiTpp {
    /// Base URL of the vedsdk endpoint, e.g. `https://tpp.example.com/vedsdk`.
    #[schemars(length(min = 1))]
    pub url: String,
    /// Secret with `access-token`, or `username` and `password`.
    pub credentials_ref: LocalObjectReference,
    /// PEM CA bundle (base64 in YAML) to verify the server. Mutually exclusive with
    /// `caBundleSecretRef`.
    pub ca_bundle: Option<Bytes>,
    /// Secret key holding a PEM CA bundle to verify the server.
    pub ca_bundle_secret_ref: Option<SecretKeySelector>,
}

/// SaaS CyberArk Certificate Manager connection.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VenafiCloud {
    /// Base URL of the API (default `https://api.venafi.cloud/`).
    pub url: Option<String>,
    /// Secret key holding the API token.
    pub api_token_secret_ref: SecretKeySelector,
}

/// Observed state of an Issuer or ClusterIssuer.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuerStatus {
    /// Conditions, one per type; `Ready` tells whether the issuer can sign.
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Option<Vec<Condition>>,
    /// ACME account state (ACME issuers only).
    pub acme: Option<AcmeIssuerStatus>,
}

impl IssuerStatus {
    /// The condition of the given type, if present.
    pub fn condition(&self, r#type: &str) -> Option<&Condition> {
        find_condition(self.conditions.as_deref(), r#type)
    }
}
