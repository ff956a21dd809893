//! The CA issuer: signs with a key pair from a Secret (`tls.crt`, `tls.key`, optional
//! `ca.crt`). Checked when loaded: the key matches, the certificate is a CA and is valid now.
//! The CA's own chain is appended in signing order, so leaves get a complete `tls.crt`.
use std::time::SystemTime;

use k8s_openapi::api::core::v1::Secret;

use crate::api::issuer::CaIssuer;
use crate::pki::{self, PrivateKey, SignOptions};

use super::{IssuerError, SignRequest, Signed};

pub struct CaSigner {
    /// The CA certificate and its chain above it, ordered (CA first).
    chain_pem: String,
    /// The root of the CA's chain, for `ca.crt`.
    root_pem: Option<String>,
    key: PrivateKey,
    subject: String,
    crl: Vec<String>,
    ocsp: Vec<String>,
    issuing: Vec<String>,
}

impl CaSigner {
    pub fn from_secret(
        spec: &CaIssuer,
        secret: &Secret,
        now: SystemTime,
    ) -> Result<Self, IssuerError> {
        let ns = secret.metadata.namespace.clone().unwrap_or_default();
        let name = spec.secret_name.clone();
        let invalid = |problem: String| IssuerError::SecretInvalid {
            namespace: ns.clone(),
            name: name.clone(),
            problem,
        };
        let get = |k: &str| {
            secret
                .data
                .as_ref()
                .and_then(|d| d.get(k))
                .map(|b| b.0.clone())
                .filter(|b| !b.is_empty())
        };
        let crt = get("tls.crt").ok_or_else(|| invalid("has no tls.crt".into()))?;
        let key_pem = get("tls.key").ok_or_else(|| invalid("has no tls.key".into()))?;
        let key = PrivateKey::from_pem(&key_pem).map_err(|e| invalid(format!("tls.key: {e}")))?;
        let info = pki::inspect_pem(&crt).map_err(|e| invalid(format!("tls.crt: {e}")))?;
        let ca_err = |source| IssuerError::InvalidCa {
            secret: name.clone(),
            source,
        };
        let leaf_pem = super::first_certificate_pem(&crt).unwrap_or_default();
        if !key.matches_certificate_pem(&leaf_pem).map_err(ca_err)? {
            return Err(invalid("tls.key is not the key of tls.crt".into()));
        }
        if !info.is_ca {
            return Err(invalid(format!(
                "certificate {} is not a CA (basicConstraints CA:FALSE)",
                info.subject
            )));
        }
        if now >= info.not_after {
            return Err(invalid(format!(
                "CA certificate {} expired at {}",
                info.subject,
                crate::controller::certificates::plan::fmt_time(info.not_after)
            )));
        }
        if now < info.not_before {
            return Err(invalid(format!(
                "CA certificate {} is not valid yet",
                info.subject
            )));
        }
        // Order tls.crt plus ca.crt: the CA's chain above it, and its root.
        let mut bundle = crt.clone();
        if let Some(ca) = get("ca.crt") {
            bundle.push(b'\n');
            bundle.extend_from_slice(&ca);
        }
        let ordered = pki::order_bundle(&bundle).map_err(ca_err)?;
        let mut chain_pem = ordered.tls_crt_pem();
        // A self-signed root CA: order_bundle keeps it as the chain's only element.
        if chain_pem.is_empty() {
            chain_pem = String::from_utf8_lossy(&crt).into_owned();
        }
        Ok(CaSigner {
            chain_pem,
            root_pem: ordered.ca_crt_pem(),
            key,
            subject: info.subject,
            crl: spec.crl_distribution_points.clone().unwrap_or_default(),
            ocsp: spec.ocsp_servers.clone().unwrap_or_default(),
            issuing: spec.issuing_certificate_urls.clone().unwrap_or_default(),
        })
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn sign(&self, req: &SignRequest<'_>) -> Result<Signed, IssuerError> {
        let mut opts = SignOptions::new(req.now);
        opts.duration = req.duration;
        opts.crl_distribution_points = self.crl.clone();
        opts.ocsp_servers = self.ocsp.clone();
        opts.issuing_certificate_urls = self.issuing.clone();
        opts.usages = req.usages.clone();
        let leaf = pki::ca_sign(req.csr_pem, self.chain_pem.as_bytes(), &self.key, &opts)
            .map_err(IssuerError::Signing)?;
        let mut certificate = leaf;
        if !certificate.ends_with('\n') {
            certificate.push('\n');
        }
        certificate.push_str(&self.chain_pem);
        Ok(Signed {
            certificate,
            ca: self.root_pem.clone(),
        })
    }
}
