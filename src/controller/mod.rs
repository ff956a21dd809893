//! The controllers: Certificates (`certificates/`), CertificateRequests signed by our own
//! issuers (`requests.rs`) and Issuer/ClusterIssuer readiness (`issuers.rs`), run together by
//! [`run`]. Writes are server-side applies under one field manager, [`MANAGER`].
pub mod acme;
pub mod certificates;
pub mod conditions;
pub mod error;
pub mod issuers;
pub mod keystores;
pub mod requests;
pub mod secret;
pub mod signers;

use std::sync::Arc;
use std::time::SystemTime;

use futures::{Stream, StreamExt};
use kube::runtime::reflector::{self, ReflectHandle, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};

use crate::api::CertificateRequest;
use kube::runtime::events::{Recorder, Reporter};

pub use error::Error;

/// The field manager of every write certwright makes.
pub const MANAGER: &str = "certwright";

/// Settings of a controller process.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where ClusterIssuers read their Secrets.
    pub cluster_resource_namespace: String,
    /// Give Secrets an owner reference to their Certificate.
    pub enable_certificate_owner_ref: bool,
    /// Only watch this namespace (all when `None`).
    pub namespace: Option<String>,
    /// The ACME controllers' settings.
    pub acme: acme::Settings,
}

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub settings: Settings,
    pub recorder: Recorder,
    /// Issuer backends loaded for signing, reused for a few seconds.
    pub signers: signers::Signers,
    /// Metrics and health: each controller registers its cache and reports each reconcile.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// ACME accounts, backoff and order slots of this process.
    pub acme: acme::State,
}

impl Context {
    pub fn new(
        client: Client,
        settings: Settings,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Arc<Self> {
        let reporter = Reporter {
            controller: MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let recorder = Recorder::new(client.clone(), reporter);
        Arc::new(Context {
            client,
            settings,
            recorder,
            signers: Default::default(),
            metrics,
            acme: Default::default(),
        })
    }

    /// The time. The one place the controllers read the clock; everything below takes it as
    /// a parameter.
    pub fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Runs all controllers until SIGTERM/SIGINT. Leader election, if any, happened before: see
/// [`crate::manager`].
pub async fn run(
    client: Client,
    settings: Settings,
    metrics: Arc<crate::metrics::Metrics>,
) -> anyhow::Result<()> {
    let ctx = Context::new(client, settings, metrics);
    tracing::info!(
        cluster_resource_namespace = %ctx.settings.cluster_resource_namespace,
        owner_ref = ctx.settings.enable_certificate_owner_ref,
        "starting controllers"
    );
    // CertificateRequests are watched once and cached once: both controllers read the same
    // store and get their triggers from the same reflector.
    let (req_store, req_writer) = reflector::store_shared(1024);
    let shared = SharedRequests {
        store: req_store,
        for_certificates: req_writer
            .subscribe()
            .expect("a shared store hands out subscribers"),
        for_requests: req_writer
            .subscribe()
            .expect("a shared store hands out subscribers"),
    };
    let req_watch = lean_watch(
        namespaced_api::<CertificateRequest>(&ctx),
        watcher::Config::default(),
    )
    .reflect_shared(req_writer)
    .for_each(|_| async {});
    let certs =
        certificates::controller(ctx.clone(), shared.store.clone(), shared.for_certificates)
            .for_each(|_| async {});
    let reqs =
        requests::controller(ctx.clone(), shared.store, shared.for_requests).for_each(|_| async {});
    let issuers = issuers::controllers(ctx.clone());
    let acme = acme::run(ctx.clone());
    // The shared reflector stops with the controllers (they stop on SIGTERM/SIGINT).
    tokio::select! {
        _ = async { tokio::join!(certs, reqs, issuers, acme) } => {}
        _ = req_watch => {}
    }
    Ok(())
}

struct SharedRequests {
    store: Store<CertificateRequest>,
    for_certificates: ReflectHandle<CertificateRequest>,
    for_requests: ReflectHandle<CertificateRequest>,
}

/// An `Api` over the watched namespace, or all namespaces.
pub(crate) fn namespaced_api<K>(ctx: &Context) -> Api<K>
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

/// How many objects of one kind are reconciled at once. Unbounded, a burst of a thousand new
/// Certificates holds a thousand reconciles in memory at once, each waiting on an apiserver
/// that answers no faster for it; a few dozen keep the apiserver busy at a flat footprint.
pub const CONCURRENCY: u16 = 64;

pub(crate) fn reconcile_config() -> kube::runtime::controller::Config {
    kube::runtime::controller::Config::default().concurrency(CONCURRENCY)
}

/// A watch whose objects are trimmed before anything caches them (see [`lean`]), restarted
/// with backoff on errors.
pub(crate) fn lean_watch<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    watcher(api, config.any_semantic())
        .modify(lean)
        .default_backoff()
}

/// Drops what no reconcile reads before an object is cached: managedFields (an entry per
/// writer, for a Secret we apply often larger than its data) and the copy of the whole object
/// that `kubectl apply` keeps in an annotation. Together they are most of a cached
/// Certificate's size, and cache size is the controller's memory.
pub(crate) fn lean<K: kube::Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(a) = meta.annotations.as_mut() {
        a.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

impl Context {
    /// Publishes an Event about `obj`. Events are best effort: a failure is logged, never
    /// allowed to fail a reconcile.
    pub async fn event<K: kube::Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        warning: bool,
        reason: &str,
        note: String,
    ) {
        self.event_as(obj, warning, reason, reason, note).await
    }

    /// An Event whose action differs from its reason. Events of one object with the same
    /// reason and action are counted as a series of the first (whose note stays), so a
    /// different outcome under the same reason needs its own action.
    pub async fn event_as<K: kube::Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        warning: bool,
        reason: &str,
        action: &str,
        note: String,
    ) {
        use kube::runtime::events::{Event, EventType};
        let ev = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.to_string(),
            note: Some(note),
            action: action.to_string(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &obj.object_ref(&())).await {
            tracing::debug!(error = %e, reason, "publishing an Event failed");
        }
    }
}
