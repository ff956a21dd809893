//! The SelfSigned issuer: the request's own key signs it. The key comes from the Secret the
//! request's `cert-manager.io/private-key-secret-name` annotation names (our next-key Secret).
use crate::api::issuer::SelfSignedIssuer;
use crate::pki::{self, SignOptions};

use super::{IssuerError, SignRequest, Signed};

pub struct SelfSigned {
    crl_distribution_points: Vec<String>,
}

impl SelfSigned {
    pub fn new(spec: &SelfSignedIssuer) -> Self {
        SelfSigned {
            crl_distribution_points: spec.crl_distribution_points.clone().unwrap_or_default(),
        }
    }

    pub fn sign(&self, req: &SignRequest<'_>) -> Result<Signed, IssuerError> {
        let key = req.private_key.ok_or_else(|| {
            IssuerError::MissingPrivateKey("the request names no private key Secret".into())
        })?;
        let mut opts = SignOptions::new(req.now);
        opts.duration = req.duration;
        opts.crl_distribution_points = self.crl_distribution_points.clone();
        opts.usages = req.usages.clone();
        let pem = pki::self_sign(req.csr_pem, key, &opts).map_err(IssuerError::Signing)?;
        // A self-signed certificate is its own CA.
        Ok(Signed {
            certificate: pem.clone(),
            ca: Some(pem),
        })
    }
}
