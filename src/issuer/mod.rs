//! Issuer backends: given a CertificateRequest, return the signed chain. One file per backend;
//! the request controller picks the backend from the Issuer's spec. Loading an issuer (reading
//! its Secret) is separate from signing so that readiness checks and signing share it.
pub mod acme;
pub mod ca;
pub mod selfsigned;

use std::time::SystemTime;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use thiserror::Error;

use crate::api::{ClusterIssuer, Issuer, IssuerRef, IssuerSpec};
use crate::pki::{self, PrivateKey};

/// Why an issuer cannot sign. `reason()` is the stable word in conditions and Events.
#[derive(Debug, Error)]
pub enum IssuerError {
    #[error("{kind} {name:?} not found")]
    NotFound { kind: String, name: String },
    #[error("issuer type {0} is not supported by certwright yet")]
    Unsupported(&'static str),
    #[error("issuer has no type: set exactly one of selfSigned, ca, acme, vault or venafi")]
    NoType,
    #[error("Secret {namespace}/{name} not found")]
    SecretNotFound { namespace: String, name: String },
    #[error("Secret {namespace}/{name}: {problem}")]
    SecretInvalid {
        namespace: String,
        name: String,
        problem: String,
    },
    #[error("the CA in Secret {secret:?} cannot sign: {source}")]
    InvalidCa {
        secret: String,
        #[source]
        source: pki::Error,
    },
    #[error("the request cannot be signed: {0}")]
    Signing(#[source] pki::Error),
    #[error("the private key of a self-signed request is missing: {0}")]
    MissingPrivateKey(String),
    #[error("Kubernetes API call failed: {0}")]
    Kube(#[from] kube::Error),
    /// The ACME server refused or could not be reached, or the account key is unusable.
    #[error("{0}")]
    Acme(#[from] crate::acme::Error),
}

impl IssuerError {
    pub fn reason(&self) -> &'static str {
        match self {
            IssuerError::NotFound { .. } => "IssuerNotFound",
            IssuerError::Unsupported(_) => "IssuerTypeNotSupported",
            IssuerError::NoType => "IssuerTypeMissing",
            IssuerError::SecretNotFound { .. } => "ErrGetKeyPair",
            IssuerError::SecretInvalid { .. } => "ErrInvalidKeyPair",
            IssuerError::InvalidCa { .. } => "ErrInvalidKeyPair",
            IssuerError::Signing(_) => "SigningFailed",
            IssuerError::MissingPrivateKey(_) => "MissingPrivateKey",
            IssuerError::Kube(_) => "APIError",
            IssuerError::Acme(e) => e.reason(),
        }
    }

    /// Whether trying again later may help (API trouble), as opposed to a configuration that
    /// stays wrong until someone changes it.
    pub fn is_transient(&self) -> bool {
        match self {
            IssuerError::Kube(_) => true,
            IssuerError::Acme(e) => e.is_transient(),
            _ => false,
        }
    }
}

/// A resolved issuer: its spec and the namespace its Secrets live in.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub spec: IssuerSpec,
    pub secret_namespace: String,
    pub kind: &'static str,
    pub name: String,
    /// The issuer's `metadata.generation`, to stamp observedGeneration on its condition.
    pub generation: Option<i64>,
}

/// Finds the issuer a reference names. A namespaced Issuer is looked up in `namespace` only
/// (an Issuer never reads another namespace); a ClusterIssuer reads its Secrets from the
/// cluster resource namespace.
pub async fn resolve(
    client: &Client,
    iref: &IssuerRef,
    namespace: &str,
    cluster_resource_namespace: &str,
) -> Result<Resolved, IssuerError> {
    if iref.kind_or_default() == "ClusterIssuer" {
        let ci = Api::<ClusterIssuer>::all(client.clone())
            .get_opt(&iref.name)
            .await?
            .ok_or_else(|| IssuerError::NotFound {
                kind: "ClusterIssuer".into(),
                name: iref.name.clone(),
            })?;
        Ok(Resolved {
            spec: ci.spec.issuer.clone(),
            secret_namespace: cluster_resource_namespace.to_string(),
            kind: "ClusterIssuer",
            name: iref.name.clone(),
            generation: ci.metadata.generation,
        })
    } else {
        let i = Api::<Issuer>::namespaced(client.clone(), namespace)
            .get_opt(&iref.name)
            .await?
            .ok_or_else(|| IssuerError::NotFound {
                kind: "Issuer".into(),
                name: iref.name.clone(),
            })?;
        Ok(Resolved {
            spec: i.spec.clone(),
            secret_namespace: namespace.to_string(),
            kind: "Issuer",
            name: iref.name.clone(),
            generation: i.metadata.generation,
        })
    }
}

/// A backend ready to sign.
pub enum Signer {
    SelfSigned(selfsigned::SelfSigned),
    Ca(ca::CaSigner),
}

/// What an issuer returns: `certificate` (leaf first, then any chain the issuer appends) and
/// `ca` (the issuing root, when known).
#[derive(Debug, Clone)]
pub struct Signed {
    pub certificate: String,
    pub ca: Option<String>,
}

/// The request to sign, in PKI terms.
pub struct SignRequest<'a> {
    pub csr_pem: &'a [u8],
    pub duration: std::time::Duration,
    /// The request's own private key; only self-signing needs it.
    pub private_key: Option<&'a PrivateKey>,
    pub now: SystemTime,
    /// Usages to issue instead of the CSR's (see [`request_usages`]); `None` keeps the CSR's.
    pub usages: Option<Vec<pki::Usage>>,
}

/// The usages to issue for a request, as cert-manager's own issuers decide them: the request
/// object's `spec.usages` when it lists any; else what the CSR asks; else, when the CSR asks
/// nothing (a Certificate with `encodeUsagesInRequest: false`), the defaults, plus `cert sign`
/// for a CA. `None` means "the CSR's".
pub fn request_usages(
    listed: Option<&[crate::api::KeyUsage]>,
    is_ca: bool,
    csr_pem: &[u8],
) -> Result<Option<Vec<pki::Usage>>, IssuerError> {
    let mut out = Vec::new();
    for u in listed.unwrap_or_default() {
        // The API enum serialises to cert-manager's spelling, which the PKI core parses.
        let name = serde_json::to_value(u)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let usage = name.parse::<pki::Usage>().map_err(IssuerError::Signing)?;
        if !out.contains(&usage) {
            out.push(usage);
        }
    }
    if !out.is_empty() {
        return Ok(Some(out));
    }
    let csr = pki::parse_csr_pem(csr_pem).map_err(IssuerError::Signing)?;
    if !csr.usages.is_empty() {
        return Ok(None);
    }
    let mut defaults = pki::Usage::defaults();
    if is_ca {
        defaults.push(pki::Usage::CertSign);
    }
    Ok(Some(defaults))
}

impl Signer {
    /// Loads the backend for an issuer: reads and checks its Secret where it has one.
    pub async fn load(
        client: &Client,
        issuer: &Resolved,
        now: SystemTime,
    ) -> Result<Signer, IssuerError> {
        let spec = &issuer.spec;
        if let Some(ss) = &spec.self_signed {
            return Ok(Signer::SelfSigned(selfsigned::SelfSigned::new(ss)));
        }
        if let Some(ca) = &spec.ca {
            let secrets = Api::<Secret>::namespaced(client.clone(), &issuer.secret_namespace);
            let secret = secrets.get_opt(&ca.secret_name).await?.ok_or_else(|| {
                IssuerError::SecretNotFound {
                    namespace: issuer.secret_namespace.clone(),
                    name: ca.secret_name.clone(),
                }
            })?;
            return Ok(Signer::Ca(ca::CaSigner::from_secret(ca, &secret, now)?));
        }
        if spec.acme.is_some() {
            return Err(IssuerError::Unsupported("acme"));
        }
        if spec.vault.is_some() {
            return Err(IssuerError::Unsupported("vault"));
        }
        if spec.venafi.is_some() {
            return Err(IssuerError::Unsupported("venafi"));
        }
        Err(IssuerError::NoType)
    }

    /// Signs; synchronous for both built-in backends.
    pub fn sign(&self, req: &SignRequest<'_>) -> Result<Signed, IssuerError> {
        match self {
            Signer::SelfSigned(s) => s.sign(req),
            Signer::Ca(c) => c.sign(req),
        }
    }

    /// The Ready condition's reason and message for a loaded backend.
    pub fn ready_message(&self) -> (&'static str, String) {
        match self {
            Signer::SelfSigned(_) => ("IsReady", "self-signing issuer is ready".into()),
            Signer::Ca(c) => (
                "KeyPairVerified",
                format!("signing CA {} verified", c.subject()),
            ),
        }
    }
}

/// The first certificate of a PEM bundle, re-encoded alone: key matching looks at the leaf,
/// and `tls.crt` usually carries a chain after it.
pub fn first_certificate_pem(bundle: &[u8]) -> Option<Vec<u8>> {
    ::pem::parse_many(bundle)
        .ok()?
        .into_iter()
        .find(|p| p.tag() == "CERTIFICATE")
        .map(|p| ::pem::encode(&p).into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::KeyUsage;
    use crate::pki::{CsrSpec, KeySpec, SubjectAltNames, Usage};

    fn csr(usages: Vec<Usage>, is_ca: bool) -> String {
        let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
        let spec = CsrSpec {
            sans: SubjectAltNames {
                dns_names: vec!["a.test".into()],
                ..Default::default()
            },
            usages,
            is_ca,
            ..Default::default()
        };
        pki::build_csr(&spec, &key).unwrap()
    }

    #[test]
    fn usages_come_from_the_request_then_the_csr_then_the_defaults() {
        let in_csr = csr(vec![Usage::DigitalSignature, Usage::ServerAuth], false);
        // The request object lists usages: they win.
        let listed = [KeyUsage::ClientAuth, KeyUsage::DigitalSignature];
        assert_eq!(
            request_usages(Some(&listed), false, in_csr.as_bytes()).unwrap(),
            Some(vec![Usage::ClientAuth, Usage::DigitalSignature])
        );
        // None listed: the CSR's stand.
        assert_eq!(
            request_usages(None, false, in_csr.as_bytes()).unwrap(),
            None
        );
        // Neither (encodeUsagesInRequest: false with default usages): cert-manager's defaults,
        // never a certificate without key usages.
        let bare = csr(vec![], true);
        assert_eq!(
            request_usages(Some(&[]), true, bare.as_bytes()).unwrap(),
            Some(vec![
                Usage::DigitalSignature,
                Usage::KeyEncipherment,
                Usage::CertSign
            ])
        );
    }
}
