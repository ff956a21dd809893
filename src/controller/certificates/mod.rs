//! The Certificate controller: gather (`gather.rs`) what exists, decide (`plan.rs`, pure),
//! execute (`execute.rs`) one step. CertificateRequests and the Secrets we manage are cached
//! by reflectors; unrelated Secrets are never cached (the Secret watch has a label selector),
//! so memory does not grow with the cluster's other Secrets.
pub mod execute;
pub mod gather;
pub mod plan;
pub mod request;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, ReflectHandle, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use tracing::{instrument, warn};

use crate::api::{Certificate, CertificateRequest};
use crate::metrics::WithStore;

use super::error::KubeContext;
use super::secret::{MANAGED_LABEL, ann};
use super::{Context, Error, lean_watch, namespaced_api};
use execute::{Executed, WAIT_FOR_WATCH};

/// The caches a reconcile reads instead of the API.
#[derive(Clone)]
pub struct Caches {
    pub requests: Store<CertificateRequest>,
    pub secrets: Store<Secret>,
}

/// Builds the controller stream; drive it to run the controller.
pub fn controller(
    ctx: Arc<Context>,
    req_store: Store<CertificateRequest>,
    requests: ReflectHandle<CertificateRequest>,
) -> impl Stream<Item = ()> {
    let (cert_store, cert_writer) = reflector::store();
    let certificates = lean_watch(
        namespaced_api::<Certificate>(&ctx),
        watcher::Config::default(),
    )
    .reflect(cert_writer)
    .touched_objects();
    // Only Secrets we wrote (TLS Secrets and next-key Secrets carry the label).
    let (sec_store, sec_writer) = reflector::store();
    let secrets = lean_watch(
        namespaced_api::<Secret>(&ctx),
        watcher::Config::default().labels(&format!("{MANAGED_LABEL}=true")),
    )
    .reflect(sec_writer)
    .touched_objects();
    let caches = Arc::new(Caches {
        requests: req_store,
        secrets: sec_store,
    });
    let rctx = Arc::new(ReconcileCtx {
        ctx: ctx.clone(),
        caches,
        stale: Stale::default(),
        deleted_keys: DeletedKeys::default(),
        secret_writes: SecretWrites::default(),
    });
    Controller::for_stream(certificates, cert_store)
        .with_store(|s| register_caches(&ctx, s, &rctx.caches))
        .owns_shared_stream(requests)
        .watches_stream(secrets, |s: Secret| {
            let ns = s.namespace();
            s.annotations()
                .get(ann::CERTIFICATE_NAME)
                .map(|n| ObjectRef::new(n).within(ns.as_deref().unwrap_or_default()))
        })
        .with_config(crate::controller::reconcile_config(&ctx.settings))
        .shutdown_on_signal()
        .run(reconcile, error_policy, rctx)
        .map(move |r| {
            ctx.metrics.record("certificates", &r);
            if let Err(e) = r {
                tracing::debug!(error = %e, "certificate controller");
            }
        })
}

/// Metrics and readiness read the caches this controller keeps (no second watch).
fn register_caches(ctx: &Context, certificates: Store<Certificate>, caches: &Caches) {
    ctx.metrics.watch_certificates(certificates);
    let h = &ctx.metrics.health;
    h.register_cache("certificaterequests", caches.requests.clone());
    h.register_cache("secrets", caches.secrets.clone());
}

pub struct ReconcileCtx {
    pub ctx: Arc<Context>,
    pub caches: Arc<Caches>,
    pub stale: Stale,
    pub deleted_keys: DeletedKeys,
    pub secret_writes: SecretWrites,
}

/// The TLS Secrets we wrote whose new version the cache may not show yet, by
/// `namespace/name`: the resourceVersion our write produced and when. Right after an
/// issuance, the Certificate's new status often arrives before the Secret; deciding then on
/// the cache would see no Secret (or the old one) and start a second issuance. Knowing what we
/// wrote, the reconcile waits for the Secret's watch event instead of reading it from the API.
#[derive(Default)]
pub struct SecretWrites(std::sync::Mutex<std::collections::HashMap<String, (String, Instant)>>);

/// How the cached target Secret compares with our last write of it.
#[derive(Debug, PartialEq, Eq)]
pub enum Lag {
    /// The cache shows our last write, or we wrote nothing since it was filled.
    Current,
    /// The cache does not show our write yet; its watch event is on the way.
    Behind,
    /// We wrote it a while ago and the cache still shows something else: it was changed or
    /// deleted since, or the watch is in trouble. Only a read from the API can tell.
    Unknown,
}

/// How long a write may take to show in the cache before we stop waiting for it.
const WATCH_DELAY: Duration = Duration::from_secs(10);

impl SecretWrites {
    fn key(cert: &Certificate) -> String {
        format!(
            "{}/{}",
            cert.namespace().unwrap_or_default(),
            cert.spec.secret_name
        )
    }

    pub fn wrote(&self, cert: &Certificate, version: Option<String>) {
        let Some(v) = version else { return };
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Entries only save requests; dropping them all now and then is harmless.
        if map.len() >= 100_000 {
            map.clear();
        }
        map.insert(Self::key(cert), (v, Instant::now()));
    }

    /// Compares the cached Secret's version with our last write; forgets the write once the
    /// cache shows it (or once it is too old to wait for).
    pub fn lag(&self, cert: &Certificate, cached: Option<&Secret>) -> Lag {
        let key = Self::key(cert);
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let Some((version, at)) = map.get(&key) else {
            return Lag::Current;
        };
        if cached.and_then(|s| s.metadata.resource_version.as_ref()) == Some(version) {
            map.remove(&key);
            Lag::Current
        } else if at.elapsed() < WATCH_DELAY {
            Lag::Behind
        } else {
            map.remove(&key);
            Lag::Unknown
        }
    }
}

/// Next-key Secrets (by uid) we deleted: the Secret cache may show one for a moment after,
/// and deleting it again would be a wasted request per issuance.
#[derive(Default)]
pub struct DeletedKeys(std::sync::Mutex<std::collections::HashSet<String>>);

impl DeletedKeys {
    pub fn insert(&self, uid: Option<&str>) {
        let Some(uid) = uid else { return };
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Only saves requests: forgetting all now and then is harmless.
        if set.len() >= 100_000 {
            set.clear();
        }
        set.insert(uid.to_string());
    }

    pub fn contains(&self, uid: Option<&str>) -> bool {
        uid.is_some_and(|u| self.0.lock().unwrap_or_else(|p| p.into_inner()).contains(u))
    }
}

/// Versions of Certificates that we know are outdated: the version a status write of ours
/// replaced, or one the apiserver refused a write on. Until the watch delivers a newer one,
/// a reconcile of that version would decide on an old status and be refused (409) again:
/// under load the cache lags by seconds and every trigger in between (a request or Secret
/// event) would cost a refused patch. The newer version's arrival triggers the reconcile.
#[derive(Default)]
pub struct Stale(std::sync::Mutex<std::collections::HashMap<String, String>>);

impl Stale {
    pub fn mark(&self, cert: &Certificate, version: String) {
        if let Some(uid) = cert.uid() {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            // Marks of deleted Certificates are never cleared by a newer version; the marks
            // only save requests, so dropping them all now and then is harmless.
            if map.len() >= 100_000 {
                map.clear();
            }
            map.insert(uid, version);
        }
    }

    /// Whether `cert` is a version known to be outdated; forgets the mark once a newer one
    /// shows up.
    fn is_stale(&self, cert: &Certificate) -> bool {
        let Some(uid) = cert.uid() else { return false };
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&uid) {
            Some(v) if Some(v) == cert.metadata.resource_version.as_ref() => true,
            Some(_) => {
                map.remove(&uid);
                false
            }
            None => false,
        }
    }

    fn forget(&self, cert: &Certificate) {
        if let Some(uid) = cert.uid() {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&uid);
        }
    }
}

fn error_policy(cert: Arc<Certificate>, e: &Error, _: Arc<ReconcileCtx>) -> Action {
    warn!(certificate = %cert.name_any(), error = %e, reason = e.reason(), "certificate reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

#[instrument(skip_all, fields(certificate = %cert.name_any(), namespace = cert.namespace().unwrap_or_default()))]
async fn reconcile(cert: Arc<Certificate>, rctx: Arc<ReconcileCtx>) -> Result<Action, Error> {
    if cert.metadata.deletion_timestamp.is_some() {
        rctx.stale.forget(&cert);
        return Ok(Action::await_change());
    }
    if rctx.stale.is_stale(&cert) {
        // The watch will bring the newer version (and with it this reconcile); the timer is
        // a safety net.
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    // Deciding on half-filled caches after a restart would miss an issuance in flight (a signed
    // request not listed yet) and finish it wrongly. Never block here, though: a reconcile
    // parked on the caches can starve the very watch streams that fill them.
    let ready = |f: Option<Result<(), _>>| matches!(f, Some(Ok(())));
    if !ready(rctx.caches.requests.wait_until_ready().now_or_never())
        || !ready(rctx.caches.secrets.wait_until_ready().now_or_never())
    {
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    let now = rctx.ctx.now();
    let mut cert = cert;
    let mut fresh = false;
    loop {
        let g = gather::gather(&rctx, &cert, fresh).await?;
        let lag = rctx.secret_writes.lag(&cert, g.secret.as_ref());
        let decision = plan::plan(&g.snapshot(&cert, now));
        if !fresh
            && matches!(
                decision,
                plan::Plan::Issue {
                    step: plan::Step::StoreKey { replace: false } | plan::Step::CreateRequest,
                    ..
                }
            )
        {
            // Starting a new issuance (or a new revision's request, when a next key is left
            // from before) on what the caches say. A cache that lost its watch (kube-apiserver
            // restarted) can still hold a next-key Secret we deleted while lacking the TLS
            // Secret we wrote, so both steps need the same care. Wait instead when they have not
            // caught up with our own last Secret write. Confirm with fresh reads of the
            // Certificate and target Secret when the cache cannot be trusted to know: a Secret
            // it lacks although the Certificate was handled before (deleted, or someone else's,
            // which is never cached), or our write is long unseen. A new Certificate without a
            // cached Secret starts at once: if a Secret exists after all, writing it is refused
            // (see `write_secret`) and then read. No read in the steady state.
            let has_history = cert.status.as_ref().is_some_and(|s| {
                s.revision.is_some() || s.conditions.as_ref().is_some_and(|c| !c.is_empty())
            });
            let confirm = match lag {
                Lag::Behind => return Ok(Action::requeue(WAIT_FOR_WATCH)),
                Lag::Unknown => true,
                Lag::Current => has_history && g.secret.is_none(),
            };
            if confirm {
                let api = Api::<Certificate>::namespaced(
                    rctx.ctx.client.clone(),
                    &cert.namespace().unwrap_or_default(),
                );
                let Some(current) = api
                    .get_opt(&cert.name_any())
                    .await
                    .ctx("reading the Certificate")?
                else {
                    return Ok(Action::await_change());
                };
                cert = Arc::new(current);
                fresh = true;
                continue;
            }
        }
        tracing::debug!(?decision, "plan");
        match execute::execute(&rctx, &cert, g, decision, now).await? {
            Executed::Done(action) => return Ok(action),
            Executed::Confirm if !fresh => fresh = true,
            // Refused although just read: someone is writing it right now; look again later.
            Executed::Confirm => return Ok(Action::requeue(WAIT_FOR_WATCH)),
        }
    }
}
