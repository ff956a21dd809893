//! Execute: carry out the one step `plan` chose. Every step is idempotent and safe to repeat
//! after a crash or on a stale cache: creates tolerate AlreadyExists, the private key is stored
//! before any CSR made from it leaves the process, and the next-key Secret is deleted only
//! after the TLS Secret holding that key has been written.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use tracing::info;

use crate::api::certificate::RotationPolicy;
use crate::api::{
    Bytes, Certificate, CertificateRequest, CertificateRequestSpec, CertificateStatus,
};
use crate::controller::error::{Error, KubeContext, PkiContext};
use crate::controller::requests::PRIVATE_KEY_SECRET_ANNOTATION;
use crate::controller::secret::{self, MANAGED_LABEL, NEXT_KEY_LABEL, ann};
use crate::controller::{MANAGER, conditions};
use crate::pki::{self, KeyEncoding, KeySpec, PrivateKey};

use super::gather::{self, Gathered, SPEC_HASH_ANNOTATION};
use super::plan::{self, Plan, Step, Trigger, fmt_time};
use super::{ReconcileCtx, request};

mod write;
use write::{KEYSTORE_RETRY, Written, rewrite_secret, write_secret};

use crate::api::api_time as time;

fn is_conflict(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

/// Requeue after `d`, at least a second, at most a day (a day-long sleep is re-checked).
fn after(d: Duration) -> Action {
    Action::requeue(d.clamp(Duration::from_secs(1), Duration::from_secs(86_400)))
}

/// What `execute` did.
pub enum Executed {
    /// The step ran (or nothing was due); look again per the action.
    Done(Action),
    /// Nothing was written: the step needs the target Secret read fresh from the API first (a
    /// Secret the cache does not hold turned out to exist).
    Confirm,
}

pub async fn execute(
    rctx: &ReconcileCtx,
    cert: &Arc<Certificate>,
    g: Gathered,
    plan: Plan,
    now: SystemTime,
) -> Result<Executed, Error> {
    let ctx = &rctx.ctx;
    let generation = cert.metadata.generation;
    let old = cert.status.clone().unwrap_or_default();
    let mut st = old.clone();
    let g_next_key_uid = g.next_key_uid.clone();
    let g_next_key_created = g.next_key_created;
    let mut conds = st.conditions.clone().unwrap_or_default();
    let t = time(now);
    // Set when a Secret was written: the next-key Secret and old requests go after the status.
    let mut issued_revision = None;
    let action = match plan {
        Plan::Blocked { reason, message } => {
            if conditions::set(
                &mut conds,
                conditions::new("Ready", false, reason, &message, generation),
                t.clone(),
            ) {
                ctx.event(cert.as_ref(), true, reason, message).await;
            }
            Action::requeue(Duration::from_secs(600))
        }
        Plan::UpdateSecret {
            why,
            not_before,
            not_after,
            renewal_time,
        } => {
            if rewrite_secret(rctx, cert, &g, &mut conds, now, &t).await? {
                info!(why, "rewrote the Secret's outputs");
                ctx.event(
                    cert.as_ref(),
                    false,
                    "SecretUpdated",
                    format!("Rewrote the Secret without re-issuing: {why}"),
                )
                .await;
                let validity = (not_before, not_after, renewal_time);
                mark_current(&mut st, &mut conds, validity, generation, &t);
                after(renewal_time.duration_since(now).unwrap_or_default() + Duration::from_secs(1))
            } else {
                KEYSTORE_RETRY
            }
        }
        Plan::UpToDate {
            not_before,
            not_after,
            renewal_time,
        } => {
            let validity = (not_before, not_after, renewal_time);
            mark_current(&mut st, &mut conds, validity, generation, &t);
            // Leftover of an issuance whose last step a crash cut short (not one we deleted
            // a moment ago that the cache still shows).
            if g.next_key_exists && !rctx.deleted_keys.contains(g.next_key_uid.as_deref()) {
                delete_next_key(rctx, cert, g.next_key_uid.as_deref()).await?;
            }
            // The issuer's say on renewal timing (ACME renewal information): recorded in
            // status.acme, which the next plan reads; wake up when it is due again.
            let cert_id = match g.secret_facts.as_ref().map(|s| &s.data) {
                Some(plan::SecretData::Valid { leaf }) => leaf.ari_cert_id.clone(),
                _ => None,
            };
            let ari_due = crate::controller::acme::ari::refresh(ctx, cert, cert_id.as_deref(), now)
                .await
                .unwrap_or(renewal_time);
            let wake = renewal_time.min(ari_due);
            after(wake.duration_since(now).unwrap_or_default() + Duration::from_secs(1))
        }
        Plan::BackingOff {
            trigger,
            message,
            until,
        } => {
            let m = format!(
                "{}: {message}; retrying after {} (backoff after {} failed attempts)",
                trigger.reason(),
                fmt_time(until),
                st.failed_issuance_attempts.unwrap_or(0)
            );
            set_ready_from_trigger(&mut conds, trigger, &m, generation, &t);
            after(until.duration_since(now).unwrap_or_default())
        }
        Plan::Issue {
            trigger,
            message,
            step,
        } => {
            let issuing = conditions::new(
                "Issuing",
                true,
                trigger.reason(),
                format!("Issuing certificate as {}", lower_first(&message)),
                generation,
            );
            // The status reports an issuance in flight (Ready per the trigger, Issuing=True,
            // the next-key Secret) only once it takes longer than a pass or two: an issuance by
            // our own issuers completes in milliseconds, and reporting it first would cost two
            // more status writes and an Event each. Steps that store or create say nothing;
            // waiting, failing and replacing a request do.
            let report = |conds: &mut Vec<crate::api::Condition>,
                          st: &mut CertificateStatus,
                          issuing: crate::api::Condition| {
                set_ready_from_trigger(conds, trigger, &message, generation, &t);
                st.next_private_key_secret_name = Some(gather::next_key_name(cert));
                conditions::set(conds, issuing, t.clone())
            };
            match step {
                Step::StoreKey { replace } => {
                    store_key(rctx, cert, &g, replace).await?;
                    // The key is stored: the request is made from the key read back through
                    // the cache on the next pass, so the CSR is always from the persisted key.
                    // The Secret's arrival in the cache triggers that pass (it is annotated
                    // with our name); the timer is a safety net only. Polling sooner would,
                    // under load, re-plan on a cache that has not caught up yet.
                    Action::requeue(WAIT_FOR_WATCH)
                }
                Step::CreateRequest => {
                    let key = g
                        .next_key
                        .as_ref()
                        .ok_or_else(|| Error::Invalid("next private key vanished".into()))?;
                    create_request(rctx, cert, key, trigger).await?;
                    Action::await_change()
                }
                Step::DeleteRequest { why } => {
                    report(&mut conds, &mut st, issuing);
                    if let Some(r) = &g.request {
                        info!(request = %r.name_any(), why, "deleting CertificateRequest");
                        let api = Api::<CertificateRequest>::namespaced(
                            ctx.client.clone(),
                            &cert.namespace().unwrap_or_default(),
                        );
                        match api.delete(&r.name_any(), &DeleteParams::background()).await {
                            Err(e) if !is_conflict(&e, 404) => {
                                return Err(e).ctx("deleting CertificateRequest");
                            }
                            _ => {}
                        }
                    }
                    Action::requeue(Duration::from_millis(500))
                }
                Step::AwaitRequest { report: false, .. } => {
                    // The request's signing is a watch event away; the timer is a safety net
                    // that also lets the next pass report a request nobody answers.
                    Action::requeue(super::plan::UNSEEN_QUIET)
                }
                Step::AwaitRequest {
                    message: waiting,
                    report: true,
                } => {
                    let mut issuing = issuing;
                    let name = g.request.as_ref().map(|r| r.name_any()).unwrap_or_default();
                    issuing.message = Some(if waiting.is_empty() {
                        format!("Waiting for CertificateRequest {name:?} to be approved and signed")
                    } else {
                        format!("Waiting for CertificateRequest {name:?}: {waiting}")
                    });
                    let was_issuing = conds.iter().any(|c| {
                        c.r#type == "Issuing" && c.status == crate::api::ConditionStatus::True
                    });
                    report(&mut conds, &mut st, issuing);
                    if !was_issuing {
                        ctx.event(cert.as_ref(), false, "Issuing", message.clone())
                            .await;
                    }
                    // External and ACME issuers take their time and the request watch wakes
                    // us. The periodic look is a safety net only.
                    Action::requeue(Duration::from_secs(300))
                }
                Step::WriteSecret => {
                    let why = format!("{}: {message}", trigger.reason());
                    match write_secret(rctx, cert, &g, &mut st, &mut conds, now, &t, &why).await? {
                        Written::Done(a, rev) => {
                            issued_revision = rev;
                            a
                        }
                        Written::Retry => {
                            return Ok(Executed::Done(Action::requeue(Duration::from_millis(200))));
                        }
                        Written::Confirm => return Ok(Executed::Confirm),
                    }
                }
                Step::RecordFailure { reason, message: m } => {
                    report(&mut conds, &mut st, issuing);
                    let n = st.failed_issuance_attempts.unwrap_or(0) + 1;
                    st.failed_issuance_attempts = Some(n);
                    st.last_failure_time = Some(t.clone());
                    let msg = format!("The CertificateRequest failed ({reason}): {m}");
                    conditions::set(
                        &mut conds,
                        conditions::new("Issuing", false, &reason, &msg, generation),
                        t.clone(),
                    );
                    ctx.event(cert.as_ref(), true, &reason, msg).await;
                    after(super::plan::backoff(n))
                }
            }
        }
    };
    // No conditions stays absent (not an empty list): a pass that sets none must not count as
    // a status change on a Certificate that has no status yet.
    st.conditions = (!conds.is_empty() || old.conditions.is_some()).then_some(conds);
    if !write_status(rctx, cert, &old, &st).await? {
        // Our view of the Certificate was stale; decide again on the current one, which the
        // watch is about to deliver (and that delivery triggers the next pass). Nothing after
        // the status write has happened, so the next-key Secret is still there. Retrying on a
        // short timer instead turns a lagging cache into a storm of refused patches.
        return Ok(Executed::Done(Action::requeue(WAIT_FOR_WATCH)));
    }
    // Only now that status records the new revision may the key's second copy go: a crash
    // before this line leaves the next-key Secret, which the UpToDate step removes later.
    if let Some(rev) = issued_revision {
        // The issuance-duration histogram: from the key being stored to the revision recorded.
        if let Some(since) = g_next_key_created {
            rctx.ctx.metrics.issued(&cert.spec.issuer_ref, since, now);
        }
        delete_next_key(rctx, cert, g_next_key_uid.as_deref()).await?;
        prune_requests(rctx, cert, rev).await?;
    }
    Ok(Executed::Done(action))
}

/// Ready=False when the Secret is unusable; a renewal of a still-valid certificate keeps
/// Ready=True (the Secret keeps serving while the new one is made).
fn set_ready_from_trigger(
    conds: &mut Vec<crate::api::Condition>,
    trigger: Trigger,
    message: &str,
    generation: Option<i64>,
    t: &Time,
) {
    match trigger {
        Trigger::Renewing | Trigger::ManuallyTriggered => {}
        _ => {
            conditions::set(
                conds,
                conditions::new("Ready", false, trigger.reason(), message, generation),
                t.clone(),
            );
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_lowercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// How long to wait for a watch event we expect before looking again anyway.
pub(super) const WAIT_FOR_WATCH: Duration = Duration::from_secs(5);

/// Status writes are JSON merge patches of the whole status: a merge patch replaces the
/// conditions list as a whole, so a condition we drop (Issuing after success) is really gone
/// even when another client (a `renew` command) set it. Skipped when nothing changed.
async fn write_status(
    rctx: &ReconcileCtx,
    cert: &Certificate,
    old: &CertificateStatus,
    new: &CertificateStatus,
) -> Result<bool, Error> {
    if old == new {
        return Ok(true);
    }
    if tracing::enabled!(tracing::Level::DEBUG) {
        let (a, b) = (serde_json::to_value(old), serde_json::to_value(new));
        if let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) = (a, b) {
            let changed: Vec<&String> = a
                .keys()
                .chain(b.keys())
                .filter(|k| a.get(*k) != b.get(*k))
                .collect();
            tracing::debug!(?changed, "writing Certificate status");
        }
    }
    let mut v = serde_json::to_value(new).map_err(|e| Error::Invalid(e.to_string()))?;
    // status.acme belongs to the ACME side (controller::acme::ari): never written back from
    // a copy that may be older than its last write.
    if let Some(o) = v.as_object_mut() {
        o.remove("acme");
    }
    for f in [
        "notBefore",
        "notAfter",
        "renewalTime",
        "lastFailureTime",
        "failedIssuanceAttempts",
        "nextPrivateKeySecretName",
        "revision",
    ] {
        v.as_object_mut()
            .map(|o| o.entry(f).or_insert(serde_json::Value::Null));
    }
    let result = Api::<Certificate>::namespaced(
        rctx.ctx.client.clone(),
        &cert.namespace().unwrap_or_default(),
    )
    .patch_status(
        &cert.name_any(),
        &PatchParams {
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        },
        // The resourceVersion makes the patch conditional: a status computed from a stale
        // copy (caches lag right after our own writes) is refused with 409, never applied
        // over newer fields such as the revision.
        &Patch::Merge(serde_json::json!({
            "metadata": { "resourceVersion": cert.resource_version() },
            "status": v,
        })),
    )
    .await;
    let seen = cert.resource_version().unwrap_or_default();
    match result {
        Err(e) if is_conflict(&e, 409) => {
            rctx.stale.mark(cert, seen);
            Ok(false)
        }
        Ok(written) => {
            // A patch that changed nothing keeps the version, and no watch event follows.
            if written.resource_version().as_deref() != Some(seen.as_str()) {
                rctx.stale.mark(cert, seen);
            }
            Ok(true)
        }
        Err(e) => Err(e).ctx("writing Certificate status"),
    }
}

/// Stores the next private key: a fresh one, or under rotationPolicy Never the current key
/// when it still fits the spec. Created, never overwritten, unless `replace`.
async fn store_key(
    rctx: &ReconcileCtx,
    cert: &Certificate,
    g: &Gathered,
    replace: bool,
) -> Result<(), Error> {
    let ns = cert.namespace().unwrap_or_default();
    let spec = request::key_spec(&cert.spec).pki_ctx("spec.privateKey")?;
    let never = cert
        .spec
        .private_key
        .as_ref()
        .and_then(|p| p.rotation_policy)
        == Some(RotationPolicy::Never);
    let key = match g.current_key.as_ref().filter(|k| never && k.spec() == spec) {
        Some(k) => k
            .to_pem(KeyEncoding::Pkcs8)
            .pki_ctx("encoding the current key")?,
        // RSA takes from a tenth of a second to many seconds, long enough to stall the
        // runtime: generate it off the async threads. EC and Ed25519 keys take microseconds;
        // a blocking thread each would cost more than it saves (and a burst of issuances
        // would grow the blocking pool, and memory, by a thread per Certificate).
        None if matches!(spec, KeySpec::Rsa { .. }) => tokio::task::spawn_blocking(move || {
            PrivateKey::generate(spec).and_then(|k| k.to_pem(KeyEncoding::Pkcs8))
        })
        .await
        .map_err(|e| Error::Invalid(format!("key generation task: {e}")))?
        .pki_ctx("generating the private key")?,
        None => PrivateKey::generate(spec)
            .and_then(|k| k.to_pem(KeyEncoding::Pkcs8))
            .pki_ctx("generating the private key")?,
    };
    let name = gather::next_key_name(cert);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            labels: Some(BTreeMap::from([
                (MANAGED_LABEL.to_string(), "true".to_string()),
                (NEXT_KEY_LABEL.to_string(), "true".to_string()),
            ])),
            annotations: Some(BTreeMap::from([(
                ann::CERTIFICATE_NAME.to_string(),
                cert.name_any(),
            )])),
            owner_references: secret::owner_ref(cert).map(|r| vec![r]),
            ..Default::default()
        },
        type_: Some("Opaque".to_string()),
        data: Some(BTreeMap::from([(
            "tls.key".to_string(),
            ByteString(key.as_bytes().to_vec()),
        )])),
        ..Default::default()
    };
    let api = Api::<Secret>::namespaced(rctx.ctx.client.clone(), &ns);
    if replace {
        api.patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&secret),
        )
        .await
        .ctx("replacing the next private key")?;
    } else {
        match api.create(&PostParams::default(), &secret).await {
            // Already stored (the cache had not seen it yet): keep that key, never replace it.
            Err(e) if is_conflict(&e, 409) => {}
            r => {
                r.ctx("storing the next private key")?;
            }
        }
    }
    info!(secret = %name, "stored the next private key");
    Ok(())
}

async fn create_request(
    rctx: &ReconcileCtx,
    cert: &Certificate,
    key: &PrivateKey,
    trigger: Trigger,
) -> Result<(), Error> {
    let ns = cert.namespace().unwrap_or_default();
    let rev = gather::revision(cert) + 1;
    let csr = pki::build_csr(&request::csr_spec(cert).pki_ctx("building the CSR")?, key)
        .pki_ctx("building the CSR")?;
    let usages = cert.spec.usages.clone();
    let cr = CertificateRequest {
        metadata: ObjectMeta {
            name: Some(gather::request_name(cert, rev)),
            namespace: Some(ns.clone()),
            annotations: Some(BTreeMap::from([
                (ann::CERTIFICATE_NAME.to_string(), cert.name_any()),
                (ann::REVISION.to_string(), rev.to_string()),
                (
                    PRIVATE_KEY_SECRET_ANNOTATION.to_string(),
                    gather::next_key_name(cert),
                ),
                (SPEC_HASH_ANNOTATION.to_string(), gather::spec_hash(cert)),
            ])),
            owner_references: secret::owner_ref(cert).map(|r| vec![r]),
            ..Default::default()
        },
        spec: CertificateRequestSpec {
            duration: cert.spec.duration,
            issuer_ref: cert.spec.issuer_ref.clone(),
            request: Bytes(csr.into_bytes()),
            is_ca: cert.spec.is_ca,
            usages,
            ..Default::default()
        },
        status: None,
    };
    let api = Api::<CertificateRequest>::namespaced(rctx.ctx.client.clone(), &ns);
    match api.create(&PostParams::default(), &cr).await {
        // One request per revision, whatever retries happen: the name is the guarantee.
        Err(e) if is_conflict(&e, 409) => Ok(()),
        Err(e) => Err(e).ctx("creating the CertificateRequest"),
        // No Event: the Event at the end of the issuance names the request (one Event per
        // issuance instead of one per step; an issuance that waits gets an Issuing Event).
        Ok(_) => {
            info!(request = %cr.name_any(), revision = rev, trigger = trigger.reason(), "created CertificateRequest");
            Ok(())
        }
    }
}

/// Records a current certificate: its validity and renewal time, no failure, no issuance in
/// flight, Ready. `validity` is (notBefore, notAfter, renewalTime).
fn mark_current(
    st: &mut CertificateStatus,
    conds: &mut Vec<crate::api::Condition>,
    validity: (SystemTime, SystemTime, SystemTime),
    generation: Option<i64>,
    t: &Time,
) {
    st.not_before = Some(time(validity.0));
    st.not_after = Some(time(validity.1));
    st.renewal_time = Some(time(validity.2));
    st.failed_issuance_attempts = None;
    st.last_failure_time = None;
    st.next_private_key_secret_name = None;
    conditions::remove(conds, "Issuing");
    let ready = "Certificate is up to date and has not expired";
    conditions::set(
        conds,
        conditions::new("Ready", true, "Ready", ready, generation),
        t.clone(),
    );
}

/// Deletes the next-key Secret; with its uid known, only that very Secret (a precondition), and
/// remembers it so that a cache still showing it does not cost a second delete.
async fn delete_next_key(
    rctx: &ReconcileCtx,
    cert: &Certificate,
    uid: Option<&str>,
) -> Result<(), Error> {
    let api = Api::<Secret>::namespaced(
        rctx.ctx.client.clone(),
        &cert.namespace().unwrap_or_default(),
    );
    let mut dp = DeleteParams::default();
    if let Some(uid) = uid {
        dp = dp.preconditions(kube::api::Preconditions {
            uid: Some(uid.to_string()),
            resource_version: None,
        });
    }
    match api.delete(&gather::next_key_name(cert), &dp).await {
        // 404: gone already; 409: a newer next-key Secret under the name, not ours to delete.
        Err(e) if !is_conflict(&e, 404) && !is_conflict(&e, 409) => {
            Err(e).ctx("deleting the next private key Secret")
        }
        _ => {
            rctx.deleted_keys.insert(uid);
            Ok(())
        }
    }
}

/// Keeps the newest `revisionHistoryLimit` requests (default 1, as cert-manager v1.18+).
async fn prune_requests(
    rctx: &ReconcileCtx,
    cert: &Certificate,
    current: i64,
) -> Result<(), Error> {
    let limit = i64::from(cert.spec.revision_history_limit.unwrap_or(1).max(1));
    let name = cert.name_any();
    let ns = cert.namespace().unwrap_or_default();
    let stale: Vec<String> = rctx
        .caches
        .requests
        .state()
        .iter()
        .filter(|r| r.namespace().as_deref() == Some(ns.as_str()))
        .filter(|r| r.annotations().get(ann::CERTIFICATE_NAME) == Some(&name))
        .filter(|r| {
            r.annotations()
                .get(ann::REVISION)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|rev| rev <= current - limit)
        })
        .map(|r| r.name_any())
        .collect();
    let api = Api::<CertificateRequest>::namespaced(rctx.ctx.client.clone(), &ns);
    for r in stale {
        match api.delete(&r, &DeleteParams::background()).await {
            Err(e) if !is_conflict(&e, 404) => {
                return Err(e).ctx("pruning old CertificateRequests");
            }
            _ => {}
        }
    }
    Ok(())
}
