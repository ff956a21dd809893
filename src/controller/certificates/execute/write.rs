//! Writing the TLS Secret, at the end of an issuance or to bring its optional outputs in line
//! with the spec, and reporting what stops it (a keystore password that is missing).
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;
use tracing::info;

use crate::api::{Certificate, CertificateStatus};
use crate::controller::conditions;
use crate::controller::error::{Error, PkiContext};
use crate::controller::keystores::KeystoreError;
use crate::controller::secret;
use crate::pki;

use super::super::ReconcileCtx;
use super::super::gather::{self, Gathered};
use super::super::plan::fmt_time;
use super::{after, mark_current};

/// What `write_secret` did.
pub(in super::super) enum Written {
    /// The Secret (or a failure) is recorded in `st`; `Some(revision)` when a certificate was
    /// issued.
    Done(Action, Option<i64>),
    /// The key or request is not readable yet (cache lag): try again shortly.
    Retry,
    /// The Secret is not in the cache but exists: read it fresh and decide again.
    Confirm,
}

/// Writes the TLS Secret from the issued request and the stored key, then updates `st`.
/// `why` is the trigger, for the Event.
#[allow(clippy::too_many_arguments)]
pub(super) async fn write_secret(
    rctx: &ReconcileCtx,
    cert: &Arc<Certificate>,
    g: &Gathered,
    st: &mut CertificateStatus,
    conds: &mut Vec<crate::api::Condition>,
    now: SystemTime,
    t: &Time,
    why: &str,
) -> Result<Written, Error> {
    let ctx = &rctx.ctx;
    let generation = cert.metadata.generation;
    let (Some(cr), Some(key)) = (&g.request, &g.next_key) else {
        return Ok(Written::Retry);
    };
    let status = cr.status.clone().unwrap_or_default();
    let mut bundle = status.certificate.map(|b| b.0).unwrap_or_default();
    if let Some(ca) = status.ca.map(|b| b.0).filter(|c| !c.is_empty()) {
        bundle.push(b'\n');
        bundle.extend(ca);
    }
    let ordered = match pki::order_bundle(&bundle) {
        Ok(o) => o,
        Err(e) => {
            // A broken chain from an issuer is a failed issuance, with backoff.
            let n = st.failed_issuance_attempts.unwrap_or(0) + 1;
            st.failed_issuance_attempts = Some(n);
            st.last_failure_time = Some(t.clone());
            let msg = format!("the issuer returned a chain that cannot be ordered: {e}");
            conditions::set(
                conds,
                conditions::new("Issuing", false, e.reason(), &msg, generation),
                t.clone(),
            );
            ctx.event(cert.as_ref(), true, e.reason(), msg).await;
            return Ok(Written::Done(after(super::super::plan::backoff(n)), None));
        }
    };
    let tls_crt = ordered.tls_crt_pem();
    let leaf = pki::inspect_pem(tls_crt.as_bytes()).pki_ctx("reading the issued certificate")?;
    let ca_crt = ordered.ca_crt_pem();
    let issued = secret::Issued {
        key,
        tls_crt: &tls_crt,
        ca_crt: ca_crt.as_deref(),
        leaf: &leaf,
    };
    // A Secret in the cache is ours: take over every field (force). One the cache lacks is
    // most likely not there yet (a first issuance), possibly someone else's: write it without
    // force, so that a Secret another manager filled is refused (409 conflict; 422 for a
    // Secret of another type), not overwritten, and only then read it and decide. This saves
    // a read per first issuance.
    let force = g.secret.is_some();
    let written = match secret::apply(ctx, cert, &issued, now, force).await {
        Err(crate::controller::error::Error::Kube {
            source: kube::Error::Api(s),
            ..
        }) if (s.code == 409 || s.code == 422) && !force => return Ok(Written::Confirm),
        r => r?,
    };
    match written {
        Ok(version) => rctx.secret_writes.wrote(cert, version),
        Err(e) => {
            keystore_failed(rctx, cert, conds, &e, t).await;
            return Ok(Written::Done(KEYSTORE_RETRY, None));
        }
    }

    let rev = gather::revision(cert) + 1;
    let renewal = super::super::plan::renewal_time(cert, leaf.not_before, leaf.not_after);
    st.revision = Some(rev);
    mark_current(
        st,
        conds,
        (leaf.not_before, leaf.not_after, renewal),
        generation,
        t,
    );
    info!(revision = rev, not_after = %fmt_time(leaf.not_after), "certificate issued");
    ctx.event_as(
        cert.as_ref(),
        false,
        "Issuing",
        "Issued",
        format!(
            "The certificate has been successfully issued (revision {rev}, from CertificateRequest {:?}; {why})",
            cr.metadata.name.as_deref().unwrap_or_default()
        ),
    )
    .await;
    Ok(Written::Done(
        after(renewal.duration_since(now).unwrap_or_default() + Duration::from_secs(1)),
        Some(rev),
    ))
}

/// How soon to look again when keystores cannot be written: password Secrets are not ours and
/// not watched, so creating one is noticed by looking again.
pub(super) const KEYSTORE_RETRY: Action = Action::requeue(Duration::from_secs(30));

/// Ready=False with the keystore problem's reason, and an Event when that is news.
async fn keystore_failed(
    rctx: &ReconcileCtx,
    cert: &Certificate,
    conds: &mut Vec<crate::api::Condition>,
    e: &KeystoreError,
    t: &Time,
) {
    let msg = format!("The Secret cannot be written: {e}");
    let c = conditions::new("Ready", false, e.reason(), &msg, cert.metadata.generation);
    // Compared with the stored status, not with `conds`: the trigger may have set Ready to
    // something else earlier in this pass, and an Event every retry would be noise.
    let news = cert
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|x| x.r#type == "Ready"))
        .is_none_or(|old| !old.eq_ignoring_time(&c));
    conditions::set(conds, c, t.clone());
    if news {
        rctx.ctx.event(cert, true, e.reason(), msg).await;
    }
}

/// Rewrites the Secret from the key and chain it holds (no new issuance), so that its optional
/// outputs follow the spec. Returns false when keystores could not be built (condition set).
pub(super) async fn rewrite_secret(
    rctx: &ReconcileCtx,
    cert: &Certificate,
    g: &Gathered,
    conds: &mut Vec<crate::api::Condition>,
    now: SystemTime,
    t: &Time,
) -> Result<bool, Error> {
    let (Some(s), Some(key)) = (&g.secret, &g.current_key) else {
        return Err(Error::Invalid(
            "the Secret vanished while being rewritten".into(),
        ));
    };
    let get = |k: &str| {
        s.data
            .as_ref()
            .and_then(|d| d.get(k))
            .map(|b| String::from_utf8_lossy(&b.0).into_owned())
            .filter(|v| !v.trim().is_empty())
    };
    let tls_crt = get("tls.crt").unwrap_or_default();
    let ca_crt = get("ca.crt");
    let leaf = pki::inspect_pem(tls_crt.as_bytes()).pki_ctx("reading tls.crt")?;
    let issued = secret::Issued {
        key,
        tls_crt: &tls_crt,
        ca_crt: ca_crt.as_deref(),
        leaf: &leaf,
    };
    match secret::apply(&rctx.ctx, cert, &issued, now, true).await? {
        Ok(version) => {
            rctx.secret_writes.wrote(cert, version);
            Ok(true)
        }
        Err(e) => {
            keystore_failed(rctx, cert, conds, &e, t).await;
            Ok(false)
        }
    }
}
