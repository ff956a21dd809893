//! The Certificate controller: gather (`gather.rs`) what exists, decide (`plan.rs`, pure),
//! execute (`execute.rs`) one step. CertificateRequests and the Secrets we manage are cached
//! by reflectors; unrelated Secrets are never cached (the Secret watch has a label selector),
//! so memory does not grow with the cluster's other Secrets.
pub mod execute;
pub mod gather;
pub mod plan;
pub mod request;

use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use tracing::{instrument, warn};

use crate::api::{Certificate, CertificateRequest};
use crate::metrics::WithStore;

use super::error::KubeContext;
use super::secret::{MANAGED_LABEL, ann};
use super::{Context, Error};

/// The caches a reconcile reads instead of the API.
#[derive(Clone)]
pub struct Caches {
    pub requests: Store<CertificateRequest>,
    pub secrets: Store<Secret>,
}

fn api<K>(ctx: &Context) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    match &ctx.settings.namespace {
        Some(ns) => Api::namespaced(ctx.client.clone(), ns),
        None => Api::all(ctx.client.clone()),
    }
}

/// Builds the controller stream; drive it to run the controller.
pub fn controller(ctx: Arc<Context>) -> impl Stream<Item = ()> {
    let (req_store, req_writer) = reflector::store();
    let (sec_store, sec_writer) = reflector::store();
    let requests = reflector::reflector(
        req_writer,
        watcher(
            api::<CertificateRequest>(&ctx),
            watcher::Config::default().any_semantic(),
        ),
    )
    .default_backoff()
    .touched_objects();
    // Only Secrets we wrote (TLS Secrets and next-key Secrets carry the label).
    let secrets = reflector::reflector(
        sec_writer,
        watcher(
            api::<Secret>(&ctx),
            watcher::Config::default()
                .labels(&format!("{MANAGED_LABEL}=true"))
                .any_semantic(),
        ),
    )
    .default_backoff()
    .touched_objects();
    let caches = Arc::new(Caches {
        requests: req_store,
        secrets: sec_store,
    });
    let rctx = Arc::new(ReconcileCtx {
        ctx: ctx.clone(),
        caches,
    });
    Controller::new(
        api::<Certificate>(&ctx),
        watcher::Config::default().any_semantic(),
    )
    .with_store(|s| register_caches(&ctx, s, &rctx.caches))
    .owns_stream(requests)
    .watches_stream(secrets, |s: Secret| {
        let ns = s.namespace();
        s.annotations()
            .get(ann::CERTIFICATE_NAME)
            .map(|n| ObjectRef::new(n).within(ns.as_deref().unwrap_or_default()))
    })
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
}

fn error_policy(cert: Arc<Certificate>, e: &Error, _: Arc<ReconcileCtx>) -> Action {
    warn!(certificate = %cert.name_any(), error = %e, reason = e.reason(), "certificate reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

#[instrument(skip_all, fields(certificate = %cert.name_any(), namespace = cert.namespace().unwrap_or_default()))]
async fn reconcile(cert: Arc<Certificate>, rctx: Arc<ReconcileCtx>) -> Result<Action, Error> {
    if cert.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
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
    let mut g = gather::gather(&rctx, &cert, false).await?;
    let mut decision = plan::plan(&g.snapshot(&cert, now));
    if let plan::Plan::Issue {
        step: plan::Step::StoreKey { replace: false },
        ..
    } = decision
    {
        // Starting a new issuance: confirm with fresh reads (see `gather`). Three reads per
        // issuance, none in the steady state.
        let api = Api::<Certificate>::namespaced(
            rctx.ctx.client.clone(),
            &cert.namespace().unwrap_or_default(),
        );
        let Some(fresh) = api
            .get_opt(&cert.name_any())
            .await
            .ctx("reading the Certificate")?
        else {
            return Ok(Action::await_change());
        };
        cert = Arc::new(fresh);
        g = gather::gather(&rctx, &cert, true).await?;
        decision = plan::plan(&g.snapshot(&cert, now));
    }
    tracing::debug!(?decision, "plan");
    execute::execute(&rctx, &cert, g, decision, now).await
}
