//! Gather: read what exists for one Certificate, from the caches where they can answer and
//! from the API where they cannot (a Secret that is not ours is never cached), and reduce it to
//! the facts `plan` decides on.
use std::time::SystemTime;

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use crate::api::{Certificate, CertificateRequest};
use crate::pki::{self, PrivateKey};

use super::plan::{NextKeyFacts, RequestFacts, RequestState, SecretData, SecretFacts, Snapshot};
use super::{ReconcileCtx, request};
use crate::controller::error::{Error, KubeContext};
use crate::controller::secret::ann;

/// Annotation on a CertificateRequest: a digest of the Certificate fields it was made from,
/// so a spec change is noticed without re-parsing the CSR.
pub const SPEC_HASH_ANNOTATION: &str = "certwright.dev/spec-hash";

/// The raw objects, kept for the execute step.
pub struct Gathered {
    pub secret: Option<Secret>,
    pub secret_facts: Option<SecretFacts>,
    pub next_key: Option<PrivateKey>,
    pub next_key_exists: bool,
    /// The next-key Secret's uid, to delete exactly that one.
    pub next_key_uid: Option<String>,
    /// When the next-key Secret was created: the start of the issuance, for its metric.
    pub next_key_created: Option<SystemTime>,
    pub request: Option<CertificateRequest>,
    pub request_facts: Option<RequestFacts>,
    pub secret_matches_current_request: Option<bool>,
    /// The key in the Secret, when it parses (reused under rotationPolicy Never).
    pub current_key: Option<PrivateKey>,
}

impl Gathered {
    pub fn snapshot<'a>(&self, cert: &'a Certificate, now: SystemTime) -> Snapshot<'a> {
        Snapshot {
            cert,
            secret: self.secret_facts.clone(),
            next_key: self.next_key.as_ref().map(|k| NextKeyFacts {
                matches_spec: request::key_spec(&cert.spec).is_ok_and(|s| s == k.spec()),
            }),
            request: self.request_facts.clone(),
            secret_matches_current_request: self.secret_matches_current_request,
            now,
        }
    }
}

/// `<certificate>-<suffix>`, cut so the result is a valid object name.
pub fn child_name(cert: &str, suffix: &str) -> String {
    let keep = 253usize.saturating_sub(suffix.len() + 1);
    let base: String = cert.chars().take(keep).collect();
    format!("{}-{suffix}", base.trim_end_matches(['-', '.']))
}

pub fn next_key_name(cert: &Certificate) -> String {
    child_name(&cert.name_any(), "next-key")
}

pub fn request_name(cert: &Certificate, revision: i64) -> String {
    child_name(&cert.name_any(), &revision.to_string())
}

pub fn revision(cert: &Certificate) -> i64 {
    cert.status.as_ref().and_then(|s| s.revision).unwrap_or(0)
}

/// A digest of everything a CertificateRequest is made from.
pub fn spec_hash(cert: &Certificate) -> String {
    let s = &cert.spec;
    let relevant = serde_json::json!({
        "csr": format!("{:?}", request::csr_spec(cert).ok()),
        "issuerRef": s.issuer_ref, "duration": s.duration, "usages": s.usages,
        "privateKey": s.private_key, "isCA": s.is_ca,
    });
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, relevant.to_string().as_bytes());
    d.as_ref()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn data<'s>(s: &'s Secret, key: &str) -> Option<&'s [u8]> {
    s.data
        .as_ref()?
        .get(key)
        .map(|b| b.0.as_slice())
        .filter(|b| !b.is_empty())
}

/// Reads one Secret: from the API when `fresh`, else from the cache only. A cache miss is not
/// followed by a read: the cache holds every Secret we wrote, and a Secret that is not ours
/// (not cached) matters only before a write, which confirms with a fresh read first. Reading
/// on every miss would cost a GET per reconcile for each Certificate not issued yet.
async fn secret(
    rctx: &ReconcileCtx,
    ns: &str,
    name: &str,
    fresh: bool,
) -> Result<Option<Secret>, Error> {
    if !fresh {
        return Ok(rctx
            .caches
            .secrets
            .get(&ObjectRef::new(name).within(ns))
            .map(|s| (*s).clone()));
    }
    Api::<Secret>::namespaced(rctx.ctx.client.clone(), ns)
        .get_opt(name)
        .await
        .ctx(format!("reading Secret {ns}/{name}"))
}

/// The facts `plan` needs about the target Secret, and its key when it parses. Public for
/// `certwright status`, which builds the same snapshot from what it reads.
pub fn secret_facts(s: &Secret, cert: &Certificate) -> (SecretFacts, Option<PrivateKey>) {
    let a = s.annotations();
    let get = |k: &str| a.get(k).cloned();
    let certificate_name = get(ann::CERTIFICATE_NAME);
    let tls_crt = data(s, "tls.crt");
    let tls_key = data(s, "tls.key");
    let mut key = None;
    let data = match (tls_crt, tls_key) {
        (None, _) => SecretData::Missing("tls.crt"),
        (_, None) => SecretData::Missing("tls.key"),
        (Some(crt), Some(k)) => match PrivateKey::from_pem(k) {
            Err(e) => SecretData::InvalidKey(e.to_string()),
            Ok(k) => match pki::inspect_pem(crt) {
                Err(e) => SecretData::InvalidCert(e.to_string()),
                Ok(leaf) => {
                    let leaf_pem = crate::issuer::first_certificate_pem(crt).unwrap_or_default();
                    let matches = k.matches_certificate_pem(&leaf_pem).unwrap_or(false);
                    key = Some(k);
                    if matches {
                        SecretData::Valid {
                            leaf: Box::new(leaf),
                        }
                    } else {
                        SecretData::KeyMismatch
                    }
                }
            },
        },
    };
    let wrong_type = s.type_.clone().filter(|t| t != "kubernetes.io/tls");
    let outputs = crate::controller::secret::out::ALL
        .iter()
        .filter(|k| self::data(s, k).is_some())
        .map(|k| k.to_string())
        .collect();
    let written = get(ann::OUTPUTS)
        .map(|v| {
            v.split(',')
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let facts = SecretFacts {
        outputs,
        written_outputs: written,
        // What the keystore writer will find: a CA certificate, not just any bytes.
        has_ca: self::data(s, "ca.crt")
            .is_some_and(|c| c.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----")),
        foreign_data: certificate_name.is_none() && (tls_crt.is_some() || tls_key.is_some()),
        other_certificate_exists: false,
        certificate_name,
        wrong_type,
        issuer: (
            get(ann::ISSUER_NAME),
            get(ann::ISSUER_KIND),
            get(ann::ISSUER_GROUP),
        ),
        data,
    };
    let _ = cert;
    (facts, key)
}

fn leaf_fingerprint(pem: &[u8]) -> Option<String> {
    pki::inspect_pem(pem).ok().map(|i| i.sha256_fingerprint)
}

/// Gathers from the caches, or with `fresh` the target Secret from the API: it may be a Secret
/// that is not ours (never cached), and caches of different kinds lag each other, so before
/// starting an issuance or writing a Secret the caller confirms with a fresh read. The
/// next-key Secret always comes from the cache: it is ours, and it is only ever created
/// (an existing one is kept), so a stale miss costs a refused create, never a second key.
pub async fn gather(
    rctx: &ReconcileCtx,
    cert: &Certificate,
    fresh: bool,
) -> Result<Gathered, Error> {
    let ns = cert.namespace().unwrap_or_default();
    let name = cert.name_any();
    let client = &rctx.ctx.client;

    let secret_obj = secret(rctx, &ns, &cert.spec.secret_name, fresh).await?;
    let (mut secret_facts, current_key) = match &secret_obj {
        Some(s) => {
            let (f, k) = secret_facts(s, cert);
            (Some(f), k)
        }
        None => (None, None),
    };
    if let Some(f) = secret_facts.as_mut()
        && let Some(other) = f.certificate_name.clone()
        && other != name
    {
        f.other_certificate_exists = Api::<Certificate>::namespaced(client.clone(), &ns)
            .get_opt(&other)
            .await
            .ctx("reading the Certificate that owns the Secret")?
            .is_some();
    }

    let next_key_secret = secret(rctx, &ns, &next_key_name(cert), false).await?;
    let next_key = next_key_secret
        .as_ref()
        .and_then(|s| data(s, "tls.key"))
        .and_then(|k| PrivateKey::from_pem(k).ok());

    let rev = revision(cert);
    let cached_request = |n: &str| {
        rctx.caches
            .requests
            .get(&ObjectRef::new(n).within(&ns))
            .map(|r| (*r).clone())
    };
    let request = cached_request(&request_name(cert, rev + 1));
    let request_facts = request
        .as_ref()
        .map(|r| request_facts(r, cert, next_key.as_ref()));

    // Is the Secret's certificate the one the current revision's request issued?
    let secret_matches_current_request = match (&secret_obj, rev) {
        (Some(s), r) if r > 0 => cached_request(&request_name(cert, r)).and_then(|cr| {
            let issued = cr.status.and_then(|st| st.certificate)?;
            let have = data(s, "tls.crt").and_then(leaf_fingerprint)?;
            Some(leaf_fingerprint(&issued.0).as_deref() == Some(have.as_str()))
        }),
        _ => None,
    };

    Ok(Gathered {
        secret: secret_obj,
        secret_facts,
        next_key_exists: next_key_secret.is_some(),
        next_key_uid: next_key_secret.as_ref().and_then(|s| s.uid()),
        next_key_created: next_key_secret
            .as_ref()
            .and_then(|s| s.metadata.creation_timestamp.as_ref())
            .map(|t| SystemTime::from(t.0)),
        next_key,
        request,
        request_facts,
        secret_matches_current_request,
        current_key,
    })
}

/// The facts `plan` needs about the next revision's request, given the stored next key.
/// Public for `certwright status`.
pub fn request_facts(
    r: &CertificateRequest,
    cert: &Certificate,
    next_key: Option<&PrivateKey>,
) -> RequestFacts {
    let st = r.status.clone().unwrap_or_default();
    let state = if st.certificate.as_ref().is_some_and(|c| !c.0.is_empty()) {
        RequestState::Issued
    } else if r.is_denied() {
        RequestState::Failed {
            reason: "Denied".into(),
            message: condition_message(r, "Denied"),
        }
    } else if r.is_finished() {
        RequestState::Failed {
            reason: "Failed".into(),
            message: condition_message(r, "Ready"),
        }
    } else {
        let untouched = st.conditions.as_ref().is_none_or(|c| c.is_empty());
        RequestState::Pending {
            message: condition_message(r, "Ready"),
            unseen_since: untouched.then(|| {
                r.metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| SystemTime::from(t.0))
                    .unwrap_or(SystemTime::UNIX_EPOCH)
            }),
        }
    };
    RequestFacts {
        name: r.name_any(),
        state,
        matches_key: next_key
            .is_some_and(|k| k.matches_csr_pem(&r.spec.request.0).unwrap_or(false)),
        matches_spec: r.annotations().get(SPEC_HASH_ANNOTATION) == Some(&spec_hash(cert)),
    }
}

fn condition_message(r: &CertificateRequest, t: &str) -> String {
    r.condition(t)
        .and_then(|c| c.message.clone())
        .unwrap_or_default()
}
