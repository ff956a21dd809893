//! The ACME side of renewal timing: fetches the renewal information (RFC 9773) of a
//! Certificate's current certificate and records it in `status.acme.ari`, where the
//! certificate plan reads it ([`crate::issuer::acme::ari::renewal_time`]).
//!
//! Called by the Certificate controller for a certificate that is up to date: a small
//! issuer-specific hook rather than a second Certificate watch (which would double the
//! Certificate cache) or a poller reading every Secret. It does nothing (no request at all)
//! while the recorded answer is for the same certificate and not due, which is every
//! reconcile but one per `Retry-After`. What it learns that is not worth recording (the
//! issuer is not ACME, the server offers no renewal information, a failure) is remembered in
//! memory per Certificate and certificate, so that is asked once, not on every reconcile.
//!
//! The write is a merge patch of `status.acme` alone: the certificate flow's status writes
//! leave that field out, so neither writer can undo the other's.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use tracing::{debug, info, warn};

use crate::api::Certificate;
use crate::issuer::IssuerError;
use crate::issuer::acme::ari;

use super::super::error::KubeContext;
use super::super::{Context, Error, MANAGER};

/// How long a "no renewal information here" answer is trusted before asking again: the
/// issuer could be switched to ACME, or the server start offering it.
const NOT_APPLICABLE_FOR: Duration = Duration::from_secs(24 * 3600);
/// How long after a failure to try again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(600);

/// What the hook remembers per Certificate (by UID) between reconciles.
#[derive(Default)]
pub struct Skips(Mutex<HashMap<String, Skip>>);

#[derive(Clone, Debug)]
struct Skip {
    /// The certificate identifier this was learnt for: a new certificate is looked at anew.
    cert_id: String,
    until: SystemTime,
    /// Whether the Certificate should be reconciled at `until` to try again.
    wake: bool,
}

impl Skips {
    fn get(&self, uid: &str, cert_id: &str, now: SystemTime) -> Option<Skip> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(uid)
            .filter(|s| s.cert_id == cert_id && s.until > now)
            .cloned()
    }

    fn put(&self, uid: &str, cert_id: &str, until: SystemTime, wake: bool) -> Option<SystemTime> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Entries of deleted Certificates are never removed; they only save requests.
        if map.len() >= 100_000 {
            map.clear();
        }
        map.insert(
            uid.to_string(),
            Skip {
                cert_id: cert_id.to_string(),
                until,
                wake,
            },
        );
        wake.then_some(until)
    }
}

/// Brings `status.acme.ari` up to date for the certificate `cert_id` now in the Secret, when
/// the Certificate's issuer is an ACME server offering renewal information. Returns when the
/// Certificate should be looked at again for it (the next check), if ever.
///
/// Never fails the reconcile: renewal information is advice, and without it the spec's
/// renewal time stands. Failures are logged and retried after [`RETRY_AFTER_FAILURE`].
pub async fn refresh(
    ctx: &Context,
    cert: &Certificate,
    cert_id: Option<&str>,
    now: SystemTime,
) -> Option<SystemTime> {
    let cert_id = cert_id?;
    let recorded = cert
        .status
        .as_ref()
        .and_then(|s| s.acme.as_ref())
        .and_then(|a| a.ari.as_ref());
    if ari::is_current(recorded, cert_id, now) {
        return recorded
            .and_then(|a| a.next_check.as_ref())
            .map(|t| SystemTime::from(t.0));
    }
    let uid = cert.uid().unwrap_or_default();
    let skips = &ctx.acme.ari_skips;
    if let Some(s) = skips.get(&uid, cert_id, now) {
        return s.wake.then_some(s.until);
    }
    // Only cert-manager.io issuers can be ACME; an external issuer never is.
    let iref = &cert.spec.issuer_ref;
    if iref
        .group
        .as_deref()
        .is_some_and(|g| !g.is_empty() && g != crate::api::GROUP)
    {
        return skips.put(&uid, cert_id, now + NOT_APPLICABLE_FOR, false);
    }
    match fetch(ctx, cert, cert_id, now).await {
        Ok(Some(next)) => Some(next),
        Ok(None) => skips.put(&uid, cert_id, now + NOT_APPLICABLE_FOR, false),
        Err(e) => {
            warn!(error = %e, reason = e.reason(), "fetching ACME renewal information failed; the spec's renewal time stands");
            skips.put(&uid, cert_id, now + RETRY_AFTER_FAILURE, true)
        }
    }
}

/// Fetches and records the window; `None` when there is none to fetch (not ACME, no ARI).
async fn fetch(
    ctx: &Context,
    cert: &Certificate,
    cert_id: &str,
    now: SystemTime,
) -> Result<Option<SystemTime>, Error> {
    let ns = cert.namespace().unwrap_or_default();
    // Through the request controller's short-lived issuer cache: after a burst of issuances
    // or a restart, thousands of Certificates ask about the same few issuers at once.
    let resolved = match ctx
        .signers
        .resolve(
            &ctx.client,
            &cert.spec.issuer_ref,
            &ns,
            &ctx.settings.cluster_resource_namespace,
            now,
        )
        .await
    {
        Ok(r) => r,
        // The certificate flow reports a missing issuer; nothing to add here.
        Err(IssuerError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(Error::Invalid(e.to_string())),
    };
    if resolved.spec.acme.is_none() {
        return Ok(None);
    }
    let (account, _) = ctx
        .acme
        .accounts
        .get(&ctx.client, &resolved)
        .await
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let dir = account.directory();
    if !dir.offers_renewal_info() {
        debug!("the ACME server offers no renewal information");
        return Ok(None);
    }
    let (answer, retry_after) = dir
        .renewal_info(cert_id)
        .await
        .map_err(|e| Error::Invalid(format!("renewalInfo for {cert_id}: {e}")))?;
    let status = ari::status_from(cert_id, &answer, now, retry_after)
        .map_err(|e| Error::Invalid(format!("renewalInfo for {cert_id}: {e}")))?;
    let next = status.next_check.as_ref().map(|t| SystemTime::from(t.0));
    info!(
        cert_id,
        start = ?status.suggested_window.as_ref().and_then(|w| w.start.as_ref()).map(|t| t.0.to_string()),
        end = ?status.suggested_window.as_ref().and_then(|w| w.end.as_ref()).map(|t| t.0.to_string()),
        "recorded the ACME server's suggested renewal window"
    );
    // A member the new answer lacks (explanationURL) must go, not linger from the last one.
    let mut ari_v = serde_json::to_value(&status).map_err(|e| Error::Invalid(e.to_string()))?;
    if let Some(o) = ari_v.as_object_mut() {
        o.entry("explanationURL").or_insert(serde_json::Value::Null);
    }
    Api::<Certificate>::namespaced(ctx.client.clone(), &ns)
        .patch_status(
            &cert.name_any(),
            &PatchParams {
                field_manager: Some(MANAGER.into()),
                ..Default::default()
            },
            &Patch::Merge(serde_json::json!({ "status": { "acme": { "ari": ari_v } } })),
        )
        .await
        .ctx("writing the Certificate's ACME renewal information")?;
    Ok(next)
}
