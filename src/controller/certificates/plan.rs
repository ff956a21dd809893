//! The pure heart of the Certificate controller: from a snapshot of what exists (gathered by
//! `gather`) and the time, decide what to do next and say why. No client, no clock: every
//! branch is a plain unit test.
//!
//! An issuance walks these steps, one write each, and any step can be interrupted by a crash;
//! the next reconcile finds where it stopped by looking at what exists:
//! 1. store a fresh private key in the next-key Secret (before any CSR leaves the process);
//! 2. create the CertificateRequest `<name>-<revision>` from that key;
//! 3. wait for an issuer to sign it (ours sign at once, ACME and external issuers take time);
//! 4. write the TLS Secret, then the status (revision, times), then delete the next-key Secret.
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use crate::api::Certificate;
use crate::pki::CertInfo;

use super::request;

/// Why an issuance starts: cert-manager's reasons, spelled as it spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    DoesNotExist,
    MissingData,
    InvalidKeyPair,
    InvalidCertificate,
    IncorrectIssuer,
    IncorrectCertificate,
    SecretMismatch,
    RequestChanged,
    Renewing,
    Expired,
    ManuallyTriggered,
}

impl Trigger {
    pub fn reason(self) -> &'static str {
        match self {
            Trigger::DoesNotExist => "DoesNotExist",
            Trigger::MissingData => "MissingData",
            Trigger::InvalidKeyPair => "InvalidKeyPair",
            Trigger::InvalidCertificate => "InvalidCertificate",
            Trigger::IncorrectIssuer => "IncorrectIssuer",
            Trigger::IncorrectCertificate => "IncorrectCertificate",
            Trigger::SecretMismatch => "SecretMismatch",
            Trigger::RequestChanged => "RequestChanged",
            Trigger::Renewing => "Renewing",
            Trigger::Expired => "Expired",
            Trigger::ManuallyTriggered => "ManuallyTriggered",
        }
    }
}

/// What the target Secret holds, as far as a decision needs it.
#[derive(Debug, Clone)]
pub enum SecretData {
    /// `tls.crt` or `tls.key` is absent or empty.
    Missing(&'static str),
    /// `tls.key` does not parse.
    InvalidKey(String),
    /// `tls.crt` does not parse.
    InvalidCert(String),
    /// Both parse but the key is not the certificate's.
    KeyMismatch,
    /// A usable pair; `leaf` describes the first certificate of `tls.crt`.
    Valid { leaf: Box<CertInfo> },
}

/// The target Secret.
#[derive(Debug, Clone)]
pub struct SecretFacts {
    /// `cert-manager.io/certificate-name`: which Certificate wrote it last.
    pub certificate_name: Option<String>,
    /// Whether that other Certificate still exists (only asked when it is not us).
    pub other_certificate_exists: bool,
    /// The Secret carries a TLS pair it did not get from a Certificate (user-made): not ours.
    pub foreign_data: bool,
    /// `type`, when it is not `kubernetes.io/tls` (immutable: we could never write it).
    pub wrong_type: Option<String>,
    /// The issuer the Secret's annotations name: (name, kind, group).
    pub issuer: (Option<String>, Option<String>, Option<String>),
    pub data: SecretData,
    /// The optional outputs (`key.der`, keystores, ...) present in the Secret.
    pub outputs: BTreeSet<String>,
    /// The optional outputs certwright last wrote (its annotation): only these are ever
    /// removed, so a same-named key someone else keeps there cannot cause a write loop.
    pub written_outputs: BTreeSet<String>,
    /// `ca.crt` is present and not empty.
    pub has_ca: bool,
}

/// The state of the CertificateRequest for the next revision.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestState {
    /// Not signed yet (maybe not even approved); the request's Ready message says why.
    /// `unseen_since` is the request's creation time while no controller has written a
    /// condition on it yet (an approver and signer are about to), `None` once one has.
    Pending {
        message: String,
        unseen_since: Option<SystemTime>,
    },
    /// Signed: `status.certificate` is set.
    Issued,
    /// Failed or denied: `reason` is the condition reason (`Failed`, `Denied`).
    Failed { reason: String, message: String },
}

#[derive(Debug, Clone)]
pub struct RequestFacts {
    pub name: String,
    pub state: RequestState,
    /// The CSR was made with the key in the next-key Secret.
    pub matches_key: bool,
    /// The CSR (and issuerRef) still ask what the spec asks.
    pub matches_spec: bool,
}

/// Everything `plan` looks at.
#[derive(Debug, Clone)]
pub struct Snapshot<'a> {
    pub cert: &'a Certificate,
    pub secret: Option<SecretFacts>,
    /// Name and spec-fitness of the stored next private key, when one exists.
    pub next_key: Option<NextKeyFacts>,
    /// The request named `<certificate>-<revision + 1>`, when it exists.
    pub request: Option<RequestFacts>,
    /// The current revision's request issued exactly the certificate now in the Secret
    /// (`None` when that request is gone and we cannot tell).
    pub secret_matches_current_request: Option<bool>,
    pub now: SystemTime,
}

#[derive(Debug, Clone)]
pub struct NextKeyFacts {
    /// The key is of the algorithm and size the spec asks for.
    pub matches_spec: bool,
}

/// The decision.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// The Secret cannot be ours to write: say so in Ready=False and stop.
    Blocked {
        reason: &'static str,
        message: String,
    },
    /// The certificate is current, but the Secret's optional outputs (additionalOutputFormats,
    /// keystores) differ from what the spec asks: rewrite the Secret from what it holds, with
    /// no new issuance. Presence is compared, not bytes (keystores are salted afresh on every
    /// write, so comparing bytes would rewrite forever).
    UpdateSecret {
        why: String,
        not_before: SystemTime,
        not_after: SystemTime,
        renewal_time: SystemTime,
    },
    /// Nothing to issue; the certificate is current. Wake up at `renewal_time`.
    UpToDate {
        not_before: SystemTime,
        not_after: SystemTime,
        renewal_time: SystemTime,
    },
    /// Issuance is due but a recent failure holds it back until `until`.
    BackingOff {
        trigger: Trigger,
        message: String,
        until: SystemTime,
    },
    /// Issue, doing `step` now.
    Issue {
        trigger: Trigger,
        message: String,
        step: Step,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Generate and store the next private key (or replace one that no longer fits the spec).
    StoreKey { replace: bool },
    /// Create the request from the stored key.
    CreateRequest,
    /// Delete the request: it was made for another key or spec, or it failed and the
    /// backoff is over. A new one is created on the next pass.
    DeleteRequest { why: String },
    /// The request is with its issuer; `message` is what the request says about it.
    /// `report`: say so in the status (Issuing=True). Not while a request just created is
    /// about to be signed: our issuers sign within milliseconds, and an Issuing condition
    /// written only to be removed again would cost two status writes per issuance.
    AwaitRequest { message: String, report: bool },
    /// The request is signed: write the Secret and the status.
    WriteSecret,
    /// The request failed: record the failure (status) so backoff starts.
    RecordFailure { reason: String, message: String },
}

/// Backoff after the n-th consecutive failure: 1h, doubling, at most 32h (cert-manager's).
pub fn backoff(failed_attempts: i64) -> Duration {
    let exp = (failed_attempts.max(1) - 1).min(5) as u32;
    Duration::from_secs(3600 * 2u64.pow(exp))
}

/// When to renew: `notAfter - renewBefore`, or the percentage of the lifetime, or a third of
/// the lifetime when neither is set or `renewBefore` is not shorter than the lifetime.
pub fn renewal_time(
    cert: &Certificate,
    not_before: SystemTime,
    not_after: SystemTime,
) -> SystemTime {
    let lifetime = not_after.duration_since(not_before).unwrap_or_default();
    let spec = &cert.spec;
    let before = if let Some(rb) = &spec.renew_before {
        rb.as_std()
    } else if let Some(p) = spec.renew_before_percentage {
        // Percentage of the lifetime that remains when renewal is due.
        lifetime.mul_f64(f64::from(p.clamp(0, 100)) / 100.0)
    } else {
        lifetime / 3
    };
    let before = if before >= lifetime {
        lifetime / 3
    } else {
        before
    };
    not_after - before
}

/// The renewal time of the certificate in the Secret: the spec's ([`renewal_time`]), brought
/// forward into the ACME server's suggested window when `status.acme.ari` holds one for this
/// very certificate (see [`crate::issuer::acme::ari`]). The flag says whether the window
/// decided.
pub fn effective_renewal_time(cert: &Certificate, leaf: &CertInfo) -> (SystemTime, bool) {
    let spec = renewal_time(cert, leaf.not_before, leaf.not_after);
    let ari = cert
        .status
        .as_ref()
        .and_then(|s| s.acme.as_ref())
        .and_then(|a| a.ari.as_ref());
    crate::issuer::acme::ari::renewal_time(spec, ari, leaf.ari_cert_id.as_deref())
}

const ISSUING: &str = "Issuing";

/// How long a new request may sit unanswered before the status says the issuance waits.
pub const UNSEEN_QUIET: Duration = Duration::from_secs(3);

fn condition<'c>(cert: &'c Certificate, t: &str) -> Option<&'c crate::api::Condition> {
    cert.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.r#type == t)
}

/// What is wrong with the Secret, if anything, in cert-manager's order of checks.
fn trigger(s: &Snapshot<'_>) -> Option<(Trigger, String)> {
    let cert = s.cert;
    let Some(secret) = &s.secret else {
        return Some((
            Trigger::DoesNotExist,
            format!("Secret {:?} does not exist", cert.spec.secret_name),
        ));
    };
    let leaf = match &secret.data {
        SecretData::Missing(k) => {
            return Some((Trigger::MissingData, format!("Secret has no {k}")));
        }
        SecretData::InvalidKey(e) => {
            return Some((
                Trigger::InvalidKeyPair,
                format!("tls.key does not parse: {e}"),
            ));
        }
        SecretData::InvalidCert(e) => {
            return Some((
                Trigger::InvalidCertificate,
                format!("tls.crt does not parse: {e}"),
            ));
        }
        SecretData::KeyMismatch => {
            return Some((
                Trigger::InvalidKeyPair,
                "tls.key is not the key of tls.crt".into(),
            ));
        }
        SecretData::Valid { leaf } => leaf,
    };
    let iref = &cert.spec.issuer_ref;
    let (name, kind, group) = &secret.issuer;
    let same = |have: &Option<String>, want: &str| have.as_deref().unwrap_or(want) == want;
    if name.as_deref() != Some(iref.name.as_str())
        || !same(kind, iref.kind_or_default())
        || !same(group, iref.group_or_default())
    {
        return Some((
            Trigger::IncorrectIssuer,
            format!(
                "Secret was issued by {:?}, spec names {:?}",
                name.as_deref().unwrap_or("?"),
                iref.name
            ),
        ));
    }
    if s.secret_matches_current_request == Some(false) {
        return Some((
            Trigger::IncorrectCertificate,
            "tls.crt is not the certificate issued for the current revision".into(),
        ));
    }
    if let Some(why) = request::mismatch(&cert.spec, leaf) {
        return Some((Trigger::RequestChanged, why));
    }
    if s.now >= leaf.not_after {
        return Some((
            Trigger::Expired,
            format!("certificate expired at {}", fmt_time(leaf.not_after)),
        ));
    }
    let (renew_at, from_ari) = effective_renewal_time(cert, leaf);
    if s.now >= renew_at {
        let inside = if from_ari {
            " (inside the renewal window the ACME server suggests)"
        } else {
            ""
        };
        return Some((
            Trigger::Renewing,
            format!("renewal time {}{inside} has passed", fmt_time(renew_at)),
        ));
    }
    if let Some(c) = condition(cert, ISSUING)
        && c.status == crate::api::ConditionStatus::True
        && c.reason.as_deref() == Some("ManuallyTriggered")
    {
        return Some((
            Trigger::ManuallyTriggered,
            "re-issuance was requested by a user".into(),
        ));
    }
    None
}

/// Which optional outputs the Secret lacks or holds without the spec asking, in words.
fn outputs_mismatch(cert: &Certificate, secret: &SecretFacts) -> Option<String> {
    let want = crate::controller::secret::wanted_outputs(&cert.spec, secret.has_ca);
    let missing: Vec<&str> = want
        .iter()
        .copied()
        .filter(|k| !secret.outputs.contains(*k))
        .collect();
    let extra: Vec<&str> = secret
        .outputs
        .intersection(&secret.written_outputs)
        .map(String::as_str)
        .filter(|k| !want.contains(k))
        .collect();
    match (missing.is_empty(), extra.is_empty()) {
        (true, true) => None,
        (false, true) => Some(format!("the Secret lacks {}", missing.join(", "))),
        (true, false) => Some(format!("the spec no longer asks for {}", extra.join(", "))),
        (false, false) => Some(format!(
            "the Secret lacks {} and the spec no longer asks for {}",
            missing.join(", "),
            extra.join(", ")
        )),
    }
}

/// Decides the next step. See the module docs for the order of an issuance.
pub fn plan(s: &Snapshot<'_>) -> Plan {
    let cert = s.cert;
    if let Some(secret) = &s.secret {
        let ours = cert.metadata.name.as_deref();
        if let Some(other) = secret.certificate_name.as_deref()
            && Some(other) != ours
            && secret.other_certificate_exists
        {
            return Plan::Blocked {
                reason: "SecretInUse",
                message: format!(
                    "Secret {:?} is managed by Certificate {other:?}; two Certificates cannot share one Secret",
                    cert.spec.secret_name
                ),
            };
        }
        if secret.foreign_data {
            return Plan::Blocked {
                reason: "SecretNotOwned",
                message: format!(
                    "Secret {:?} holds a TLS pair that no Certificate issued; certwright will not overwrite it (delete it or annotate it cert-manager.io/certificate-name)",
                    cert.spec.secret_name
                ),
            };
        }
        if let Some(t) = &secret.wrong_type {
            return Plan::Blocked {
                reason: "SecretTypeMismatch",
                message: format!(
                    "Secret {:?} has type {t:?}, not kubernetes.io/tls, and a type cannot change",
                    cert.spec.secret_name
                ),
            };
        }
    }

    let issued_request = s
        .request
        .as_ref()
        .filter(|r| r.state == RequestState::Issued && r.matches_key);
    let Some((trigger, message)) = trigger(s) else {
        // Current. A request for the next revision that is already issued means a crash hit
        // between the Secret write and the status write: finish that, not a new issuance.
        if issued_request.is_some() {
            return Plan::Issue {
                trigger: Trigger::Renewing,
                message: "finishing an issuance".into(),
                step: Step::WriteSecret,
            };
        }
        let Some(secret) = s.secret.as_ref() else {
            unreachable!("no trigger implies a valid Secret")
        };
        let SecretData::Valid { leaf } = &secret.data else {
            unreachable!("no trigger implies a valid Secret")
        };
        if let Some(why) = outputs_mismatch(cert, secret) {
            return Plan::UpdateSecret {
                why,
                not_before: leaf.not_before,
                not_after: leaf.not_after,
                renewal_time: effective_renewal_time(cert, leaf).0,
            };
        }
        return Plan::UpToDate {
            not_before: leaf.not_before,
            not_after: leaf.not_after,
            renewal_time: effective_renewal_time(cert, leaf).0,
        };
    };

    let status = cert.status.clone().unwrap_or_default();
    let failures = status.failed_issuance_attempts.unwrap_or(0);
    // A spec change since the failure skips the backoff: the user may have fixed the cause.
    let failed_generation = condition(cert, ISSUING).and_then(|c| c.observed_generation);
    let spec_changed = failed_generation.is_some() && failed_generation != cert.metadata.generation;
    let backing_off = match (failures, status.last_failure_time.as_ref()) {
        (n, Some(t)) if n > 0 && !spec_changed && trigger != Trigger::ManuallyTriggered => {
            let until = SystemTime::from(t.0) + backoff(n);
            (s.now < until).then_some(until)
        }
        _ => None,
    };

    let issue = |step| Plan::Issue {
        trigger,
        message: message.clone(),
        step,
    };
    match (&s.next_key, &s.request) {
        (None, _) => issue(Step::StoreKey { replace: false }),
        (Some(k), _) if !k.matches_spec => issue(Step::StoreKey { replace: true }),
        (Some(_), Some(r)) if !r.matches_key || !r.matches_spec => match &r.state {
            // A finished request made for another spec is history: keep it, move on.
            RequestState::Issued if r.matches_key => issue(Step::DeleteRequest {
                why: "the spec changed after it was issued".into(),
            }),
            _ => issue(Step::DeleteRequest {
                why: if !r.matches_key {
                    "it was made for another private key".into()
                } else {
                    "the spec changed".into()
                },
            }),
        },
        (Some(_), Some(r)) => match &r.state {
            RequestState::Issued => issue(Step::WriteSecret),
            RequestState::Pending {
                message: m,
                unseen_since,
            } => issue(Step::AwaitRequest {
                message: m.clone(),
                report: unseen_since.is_none_or(|t| s.now >= t + UNSEEN_QUIET),
            }),
            // A user asking to renew overrides the backoff: clear the failed request and
            // try again (the failure is already counted; it must not count twice).
            RequestState::Failed { .. } if trigger == Trigger::ManuallyTriggered => {
                issue(Step::DeleteRequest {
                    why: "re-issuance was requested by a user".into(),
                })
            }
            RequestState::Failed { reason, message: m } => {
                let recorded = condition(cert, ISSUING).is_some_and(|c| {
                    c.status == crate::api::ConditionStatus::False
                        && c.reason.as_deref() == Some(reason)
                }) && failures > 0;
                if !recorded {
                    issue(Step::RecordFailure {
                        reason: reason.clone(),
                        message: m.clone(),
                    })
                } else if let Some(until) = backing_off {
                    Plan::BackingOff {
                        trigger,
                        message: m.clone(),
                        until,
                    }
                } else {
                    issue(Step::DeleteRequest {
                        why: "the backoff after its failure is over".into(),
                    })
                }
            }
        },
        (Some(_), None) => match backing_off {
            Some(until) => Plan::BackingOff {
                trigger,
                message,
                until,
            },
            None => issue(Step::CreateRequest),
        },
    }
}

pub fn fmt_time(t: SystemTime) -> String {
    k8s_openapi::jiff::Timestamp::try_from(t)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("{t:?}"))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;
    use crate::api::{Certificate, CertificateStatus, Condition, ConditionStatus};
    use crate::pki::{
        KeyEncoding, KeySpec, PrivateKey, SignOptions, build_csr, inspect_pem, self_sign,
    };

    const HOUR: Duration = Duration::from_secs(3600);

    fn t0() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn cert(yaml: &str) -> Certificate {
        let base = "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: web, namespace: ns, generation: 1}\n";
        serde_yaml::from_str(&format!("{base}{yaml}")).unwrap()
    }

    fn spec() -> Certificate {
        cert(
            "spec: {secretName: web-tls, dnsNames: [a.test], privateKey: {algorithm: ECDSA}, issuerRef: {name: ca}}",
        )
    }

    /// A certificate for `c`'s spec, valid from `t0()` for `lifetime`.
    fn issued(c: &Certificate, lifetime: Duration) -> CertInfo {
        let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
        let csr = build_csr(&request::csr_spec(c).unwrap(), &key).unwrap();
        let mut o = SignOptions::new(t0());
        o.duration = lifetime;
        let pem = self_sign(csr.as_bytes(), &key, &o).unwrap();
        let _ = key.to_pem(KeyEncoding::Pkcs8);
        inspect_pem(pem.as_bytes()).unwrap()
    }

    fn valid_secret(leaf: CertInfo) -> SecretFacts {
        SecretFacts {
            certificate_name: Some("web".into()),
            other_certificate_exists: false,
            foreign_data: false,
            wrong_type: None,
            issuer: (
                Some("ca".into()),
                Some("Issuer".into()),
                Some("cert-manager.io".into()),
            ),
            data: SecretData::Valid {
                leaf: Box::new(leaf),
            },
            outputs: BTreeSet::new(),
            written_outputs: BTreeSet::new(),
            has_ca: true,
        }
    }

    fn snap(c: &Certificate, secret: Option<SecretFacts>, now: SystemTime) -> Snapshot<'_> {
        Snapshot {
            cert: c,
            secret,
            next_key: None,
            request: None,
            secret_matches_current_request: None,
            now,
        }
    }

    fn trigger_of(p: &Plan) -> Option<Trigger> {
        match p {
            Plan::Issue { trigger, .. } | Plan::BackingOff { trigger, .. } => Some(*trigger),
            _ => None,
        }
    }

    #[test]
    fn missing_secret_starts_with_storing_a_key() {
        let c = spec();
        let p = plan(&snap(&c, None, t0()));
        assert_eq!(trigger_of(&p), Some(Trigger::DoesNotExist));
        assert!(matches!(
            p,
            Plan::Issue {
                step: Step::StoreKey { replace: false },
                ..
            }
        ));
    }

    #[test]
    fn steps_follow_what_exists() {
        let c = spec();
        let mut s = snap(&c, None, t0());
        s.next_key = Some(NextKeyFacts { matches_spec: true });
        assert!(matches!(
            plan(&s),
            Plan::Issue {
                step: Step::CreateRequest,
                ..
            }
        ));
        let req = |state| RequestFacts {
            name: "web-1".into(),
            state,
            matches_key: true,
            matches_spec: true,
        };
        // Just created and untouched: wait quietly for the signer (no status write)...
        s.request = Some(req(RequestState::Pending {
            message: String::new(),
            unseen_since: Some(t0()),
        }));
        assert!(matches!(
            plan(&s),
            Plan::Issue {
                step: Step::AwaitRequest { report: false, .. },
                ..
            }
        ));
        // ...but not for long,
        s.now = t0() + UNSEEN_QUIET;
        assert!(matches!(
            plan(&s),
            Plan::Issue {
                step: Step::AwaitRequest { report: true, .. },
                ..
            }
        ));
        // and a request its issuer has answered (pending: ACME, external) is reported at once.
        s.now = t0();
        s.request = Some(req(RequestState::Pending {
            message: "order pending".into(),
            unseen_since: None,
        }));
        assert!(matches!(
            plan(&s),
            Plan::Issue {
                step: Step::AwaitRequest { report: true, .. },
                ..
            }
        ));
        s.request = Some(req(RequestState::Issued));
        assert!(matches!(
            plan(&s),
            Plan::Issue {
                step: Step::WriteSecret,
                ..
            }
        ));
        // A request made from another key is replaced, never used.
        s.request = Some(RequestFacts {
            matches_key: false,
            ..req(RequestState::Issued)
        });
        assert!(matches!(
            plan(&s),
            Plan::Issue {
                step: Step::DeleteRequest { .. },
                ..
            }
        ));
        // A key that no longer fits the spec is replaced first.
        s.next_key = Some(NextKeyFacts {
            matches_spec: false,
        });
        assert!(matches!(
            plan(&s),
            Plan::Issue {
                step: Step::StoreKey { replace: true },
                ..
            }
        ));
    }

    #[test]
    fn current_certificate_is_up_to_date_until_renewal_time() {
        let c = spec();
        let leaf = issued(&c, 90 * 24 * HOUR);
        let p = plan(&snap(&c, Some(valid_secret(leaf.clone())), t0() + HOUR));
        let Plan::UpToDate { renewal_time, .. } = p else {
            panic!("{p:?}")
        };
        // Default: a third of the lifetime before expiry.
        assert_eq!(renewal_time, leaf.not_after - 30 * 24 * HOUR);
        let p = plan(&snap(&c, Some(valid_secret(leaf.clone())), renewal_time));
        assert_eq!(trigger_of(&p), Some(Trigger::Renewing));
        let p = plan(&snap(&c, Some(valid_secret(leaf.clone())), leaf.not_after));
        assert_eq!(trigger_of(&p), Some(Trigger::Expired));
    }

    #[test]
    fn an_acme_renewal_window_for_this_certificate_brings_renewal_forward() {
        use crate::api::{AcmeRenewalInfoStatus, AcmeRenewalWindow, CertificateAcmeStatus};
        let mut c = spec();
        let mut leaf = issued(&c, 90 * 24 * HOUR);
        leaf.ari_cert_id = Some("aki.serial".into());
        let spec_time = leaf.not_after - 30 * 24 * HOUR;
        let at = |t: SystemTime| Time(k8s_openapi::jiff::Timestamp::try_from(t).unwrap());
        let window = |id: &str, start: SystemTime, end: SystemTime| CertificateAcmeStatus {
            ari: Some(AcmeRenewalInfoStatus {
                cert_id: Some(id.into()),
                suggested_window: Some(AcmeRenewalWindow {
                    start: Some(at(start)),
                    end: Some(at(end)),
                }),
                ..Default::default()
            }),
        };
        // A window 10-11 days in: renewal falls inside it, long before the spec's time.
        let (ws, we) = (t0() + 240 * HOUR, t0() + 264 * HOUR);
        c.status = Some(crate::api::CertificateStatus {
            acme: Some(window("aki.serial", ws, we)),
            ..Default::default()
        });
        let p = plan(&snap(&c, Some(valid_secret(leaf.clone())), t0() + HOUR));
        let Plan::UpToDate { renewal_time, .. } = p else {
            panic!("{p:?}")
        };
        assert!(renewal_time >= ws && renewal_time < we, "{renewal_time:?}");
        let p = plan(&snap(&c, Some(valid_secret(leaf.clone())), we));
        assert_eq!(trigger_of(&p), Some(Trigger::Renewing));
        let Plan::Issue { message, .. } = p else {
            panic!("{p:?}")
        };
        assert!(
            message.contains("renewal window the ACME server suggests"),
            "{message}"
        );
        // The same window recorded for another certificate (the one this replaced) is ignored.
        c.status = Some(crate::api::CertificateStatus {
            acme: Some(window("old.cert", ws, we)),
            ..Default::default()
        });
        let p = plan(&snap(&c, Some(valid_secret(leaf.clone())), we));
        let Plan::UpToDate { renewal_time, .. } = p else {
            panic!("{p:?}")
        };
        assert_eq!(renewal_time, spec_time);
    }

    #[test]
    fn renew_before_and_percentage() {
        let mut c = spec();
        c.spec.renew_before = Some("59m50s".parse().unwrap());
        let nb = t0();
        let na = t0() + HOUR;
        assert_eq!(renewal_time(&c, nb, na), nb + Duration::from_secs(10));
        c.spec.renew_before = None;
        c.spec.renew_before_percentage = Some(25);
        assert_eq!(renewal_time(&c, nb, na), na - Duration::from_secs(900));
        // renewBefore not shorter than the lifetime falls back to a third.
        c.spec.renew_before_percentage = None;
        c.spec.renew_before = Some("2h".parse().unwrap());
        assert_eq!(renewal_time(&c, nb, na), na - Duration::from_secs(1200));
    }

    #[test]
    fn secret_problems_map_to_reasons() {
        let c = spec();
        let leaf = issued(&c, 90 * 24 * HOUR);
        let with = |data| SecretFacts {
            data,
            ..valid_secret(leaf.clone())
        };
        let cases = [
            (with(SecretData::Missing("tls.key")), Trigger::MissingData),
            (
                with(SecretData::InvalidKey("x".into())),
                Trigger::InvalidKeyPair,
            ),
            (
                with(SecretData::InvalidCert("x".into())),
                Trigger::InvalidCertificate,
            ),
            (with(SecretData::KeyMismatch), Trigger::InvalidKeyPair),
            (
                SecretFacts {
                    issuer: (Some("other".into()), None, None),
                    ..valid_secret(leaf.clone())
                },
                Trigger::IncorrectIssuer,
            ),
        ];
        for (secret, want) in cases {
            assert_eq!(trigger_of(&plan(&snap(&c, Some(secret), t0()))), Some(want));
        }
        let mut s = snap(&c, Some(valid_secret(leaf.clone())), t0());
        s.secret_matches_current_request = Some(false);
        assert_eq!(trigger_of(&plan(&s)), Some(Trigger::IncorrectCertificate));
        // Editing dnsNames re-issues.
        let mut edited = c.clone();
        edited.spec.dns_names = Some(vec!["a.test".into(), "b.test".into()]);
        assert_eq!(
            trigger_of(&plan(&snap(&edited, Some(valid_secret(leaf)), t0()))),
            Some(Trigger::RequestChanged)
        );
    }

    #[test]
    fn a_secret_of_another_certificate_is_never_taken() {
        let c = spec();
        let leaf = issued(&c, 90 * 24 * HOUR);
        let other = SecretFacts {
            certificate_name: Some("other".into()),
            other_certificate_exists: true,
            ..valid_secret(leaf.clone())
        };
        assert!(matches!(
            plan(&snap(&c, Some(other), t0())),
            Plan::Blocked {
                reason: "SecretInUse",
                ..
            }
        ));
        // Once the other Certificate is gone the Secret may be adopted.
        let orphan = SecretFacts {
            certificate_name: Some("other".into()),
            ..valid_secret(leaf.clone())
        };
        assert!(!matches!(
            plan(&snap(&c, Some(orphan), t0())),
            Plan::Blocked { .. }
        ));
        let foreign = SecretFacts {
            certificate_name: None,
            foreign_data: true,
            ..valid_secret(leaf)
        };
        assert!(matches!(
            plan(&snap(&c, Some(foreign), t0())),
            Plan::Blocked {
                reason: "SecretNotOwned",
                ..
            }
        ));
    }

    fn failed(c: &mut Certificate, attempts: i64, at: SystemTime, generation: i64) {
        c.status = Some(CertificateStatus {
            failed_issuance_attempts: Some(attempts),
            last_failure_time: Some(Time(k8s_openapi::jiff::Timestamp::try_from(at).unwrap())),
            conditions: Some(vec![Condition {
                r#type: "Issuing".into(),
                status: ConditionStatus::False,
                reason: Some("Failed".into()),
                observed_generation: Some(generation),
                ..Default::default()
            }]),
            ..Default::default()
        });
    }

    #[test]
    fn failures_back_off_exponentially_and_a_spec_change_skips_it() {
        assert_eq!(backoff(1), HOUR);
        assert_eq!(backoff(2), 2 * HOUR);
        assert_eq!(backoff(6), 32 * HOUR);
        assert_eq!(backoff(60), 32 * HOUR);
        let mut c = spec();
        failed(&mut c, 3, t0(), 1);
        let mut s = snap(&c, None, t0() + HOUR);
        s.next_key = Some(NextKeyFacts { matches_spec: true });
        let failed_req = RequestFacts {
            name: "web-1".into(),
            state: RequestState::Failed {
                reason: "Failed".into(),
                message: "no".into(),
            },
            matches_key: true,
            matches_spec: true,
        };
        s.request = Some(failed_req.clone());
        let Plan::BackingOff { until, .. } = plan(&s) else {
            panic!("{:?}", plan(&s))
        };
        assert_eq!(until, t0() + 4 * HOUR);
        // After the backoff the failed request is cleared for a new one.
        s.now = t0() + 4 * HOUR;
        assert!(matches!(
            plan(&s),
            Plan::Issue {
                step: Step::DeleteRequest { .. },
                ..
            }
        ));
        // A spec change (new generation) skips the backoff.
        let mut changed = c.clone();
        changed.metadata.generation = Some(2);
        let mut s2 = snap(&changed, None, t0() + HOUR);
        s2.next_key = Some(NextKeyFacts { matches_spec: true });
        assert!(matches!(
            plan(&s2),
            Plan::Issue {
                step: Step::CreateRequest,
                ..
            }
        ));
        // A failure not yet recorded in status is recorded first.
        let fresh = spec();
        let mut s3 = snap(&fresh, None, t0());
        s3.next_key = Some(NextKeyFacts { matches_spec: true });
        s3.request = Some(failed_req);
        assert!(matches!(
            plan(&s3),
            Plan::Issue {
                step: Step::RecordFailure { .. },
                ..
            }
        ));
    }

    #[test]
    fn an_issued_request_after_a_crash_is_finished_not_reissued() {
        let c = spec();
        let leaf = issued(&c, 90 * 24 * HOUR);
        let mut s = snap(&c, Some(valid_secret(leaf)), t0());
        s.next_key = Some(NextKeyFacts { matches_spec: true });
        s.request = Some(RequestFacts {
            name: "web-1".into(),
            state: RequestState::Issued,
            matches_key: true,
            matches_spec: true,
        });
        assert!(matches!(
            plan(&s),
            Plan::Issue {
                step: Step::WriteSecret,
                ..
            }
        ));
    }

    #[test]
    fn manual_trigger_after_a_failure_retries_without_counting_it_twice() {
        let mut c = spec();
        let leaf = issued(&c, 90 * 24 * HOUR);
        failed(&mut c, 2, t0(), 1);
        // `renew` replaced Issuing=False/Failed with Issuing=True/ManuallyTriggered.
        let st = c.status.as_mut().unwrap();
        st.conditions = Some(vec![Condition {
            r#type: "Issuing".into(),
            status: ConditionStatus::True,
            reason: Some("ManuallyTriggered".into()),
            observed_generation: Some(1),
            ..Default::default()
        }]);
        let mut s = snap(&c, Some(valid_secret(leaf)), t0() + Duration::from_secs(60));
        s.next_key = Some(NextKeyFacts { matches_spec: true });
        s.request = Some(RequestFacts {
            name: "web-1".into(),
            state: RequestState::Failed {
                reason: "Failed".into(),
                message: "no".into(),
            },
            matches_key: true,
            matches_spec: true,
        });
        assert!(
            matches!(
                plan(&s),
                Plan::Issue {
                    step: Step::DeleteRequest { .. },
                    ..
                }
            ),
            "{:?}",
            plan(&s)
        );
        s.request = None;
        assert!(
            matches!(
                plan(&s),
                Plan::Issue {
                    step: Step::CreateRequest,
                    ..
                }
            ),
            "{:?}",
            plan(&s)
        );
    }

    #[test]
    fn manual_trigger() {
        let mut c = spec();
        let leaf = issued(&c, 90 * 24 * HOUR);
        c.status = Some(CertificateStatus {
            conditions: Some(vec![Condition {
                r#type: "Issuing".into(),
                status: ConditionStatus::True,
                reason: Some("ManuallyTriggered".into()),
                ..Default::default()
            }]),
            ..Default::default()
        });
        assert_eq!(
            trigger_of(&plan(&snap(&c, Some(valid_secret(leaf)), t0()))),
            Some(Trigger::ManuallyTriggered)
        );
    }

    #[test]
    fn outputs_that_differ_rewrite_the_secret_without_issuing() {
        let mut c = spec();
        let leaf = issued(&c, 90 * 24 * HOUR);
        c.spec.additional_output_formats =
            Some(vec![crate::api::certificate::AdditionalOutputFormat {
                r#type: crate::api::certificate::OutputFormatType::Der,
            }]);
        c.spec.keystores = Some(crate::api::certificate::Keystores {
            pkcs12: Some(crate::api::certificate::Pkcs12Keystore {
                create: true,
                password: Some("pw".into()),
                ..Default::default()
            }),
            jks: None,
        });
        let with = |present: &[&str], written: &[&str], has_ca: bool| SecretFacts {
            outputs: present.iter().map(|s| s.to_string()).collect(),
            written_outputs: written.iter().map(|s| s.to_string()).collect(),
            has_ca,
            ..valid_secret(leaf.clone())
        };
        let all = ["key.der", "keystore.p12", "truststore.p12"];
        assert!(matches!(
            plan(&snap(&c, Some(with(&all, &all, true)), t0())),
            Plan::UpToDate { .. }
        ));
        // Without a CA there is no truststore to expect.
        let no_ca = ["key.der", "keystore.p12"];
        assert!(matches!(
            plan(&snap(&c, Some(with(&no_ca, &no_ca, false)), t0())),
            Plan::UpToDate { .. }
        ));
        let Plan::UpdateSecret { why, .. } =
            plan(&snap(&c, Some(with(&no_ca, &no_ca, true)), t0()))
        else {
            panic!("a missing truststore must rewrite the Secret")
        };
        assert!(why.contains("truststore.p12"), "{why}");
        // Something we wrote and the spec no longer asks for is removed...
        let jks = ["key.der", "keystore.p12", "truststore.p12", "keystore.jks"];
        assert!(matches!(
            plan(&snap(&c, Some(with(&jks, &jks, true)), t0())),
            Plan::UpdateSecret { .. }
        ));
        // ...but a same-named key we did not write is someone else's: left alone, no loop.
        assert!(matches!(
            plan(&snap(&c, Some(with(&jks, &all, true)), t0())),
            Plan::UpToDate { .. }
        ));
        // A renewal due wins over a rewrite: the issuance writes the outputs anyway.
        assert_eq!(
            trigger_of(&plan(&snap(&c, Some(with(&[], &[], true)), leaf.not_after))),
            Some(Trigger::Expired)
        );
    }
}
