//! The controllers: Certificates (`certificates/`), CertificateRequests signed by our own
//! issuers (`requests.rs`) and Issuer/ClusterIssuer readiness (`issuers.rs`), run together by
//! [`run`]. Writes are server-side applies under one field manager, [`MANAGER`].
pub mod acme;
pub mod certificates;
pub mod conditions;
pub mod error;
pub mod events;
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
    /// How many Certificates, and how many CertificateRequests, are reconciled at once.
    pub concurrent_workers: u16,
    /// The ACME controllers' settings.
    pub acme: acme::Settings,
}

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub settings: Settings,
    /// Events about our objects; see [`events`].
    pub events: events::Events,
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
        let events = events::Events::new(
            client.clone(),
            MANAGER.into(),
            std::env::var("POD_NAME").ok(),
        );
        Arc::new(Context {
            client,
            settings,
            events,
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

/// The default of `--concurrent-workers`: how many objects of one kind are reconciled at once.
/// Each reconcile in flight holds an HTTP/1.1 connection of its own (TLS state, buffers), so
/// this is also the controller's largest lever on memory under load. Measured with the scale
/// bench on 2 cores (1,000 Certificates): 8 reach Ready as fast as 16 or 64 (the apiserver is
/// the bottleneck) at 31.6 instead of 32.8 and 40.3 MiB peak RSS. A larger apiserver may take
/// more: raise the flag there.
pub const CONCURRENCY: u16 = 8;

pub(crate) fn reconcile_config(settings: &Settings) -> kube::runtime::controller::Config {
    kube::runtime::controller::Config::default().concurrency(settings.concurrent_workers.max(1))
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
        let ev = events::Note {
            warning,
            reason,
            action,
            note,
        };
        if let Err(e) = self
            .events
            .publish(obj.object_ref(&()), ev, self.now())
            .await
        {
            tracing::debug!(error = %e, reason, "publishing an Event failed");
        }
    }
}
