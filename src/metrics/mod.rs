//! Prometheus metrics, served on `/metrics` by [`crate::http`].
//!
//! cert-manager's names and labels, so existing dashboards and alerts keep working:
//! - `certmanager_certificate_{expiration,not_after,not_before,renewal}_timestamp_seconds`,
//!   `certmanager_certificate_ready_status`, `certmanager_issuer_ready_status`,
//!   `certmanager_clusterissuer_ready_status`: computed at scrape time from the controllers'
//!   caches ([`resources`]), so they never drift and vanish with their object;
//! - `certmanager_controller_sync_call_count{controller}`: one per reconcile.
//!
//! certwright's own:
//! - `certwright_issuance_duration_seconds{issuer_name,issuer_kind,issuer_group}`: from the
//!   Certificate's `Issuing` condition turning True to the new revision being recorded (the
//!   condition's one-second resolution bounds the precision);
//! - `certwright_api_writes_total{resource,verb}`: every write the process sends ([`writes`]);
//! - `certwright_reconcile_errors_total{controller,reason}`: failed reconciles by the stable
//!   reason of the controller's error;
//! - `certwright_leader_election_leader`: 1 on the replica that runs the controllers.
pub mod resources;
pub mod writes;

use std::sync::Arc;
use std::time::SystemTime;

use kube::runtime::controller::Error as RunError;
use kube::runtime::reflector::Store;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

use crate::api::{Certificate, ClusterIssuer, Issuer, IssuerRef};
use crate::health::Health;

/// Hands a controller's cache to metrics and health without breaking its builder chain:
/// `Controller::new(..).with_store(|s| metrics.watch_issuers(s)).run(..)`.
pub trait WithStore<K: kube::Resource<DynamicType = ()> + 'static> {
    fn with_store(self, f: impl FnOnce(Store<K>)) -> Self;
}

impl<K> WithStore<K> for kube::runtime::Controller<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    fn with_store(self, f: impl FnOnce(Store<K>)) -> Self {
        f(self.store());
        self
    }
}

/// A `for_each` body for a controller's output stream that records each item (see
/// [`Metrics::record`]).
pub fn recorder<T, Q: 'static>(
    metrics: Arc<Metrics>,
    controller: &'static str,
) -> impl FnMut(Result<T, RunError<crate::controller::Error, Q>>) -> std::future::Ready<()> {
    move |r| {
        metrics.record(controller, &r);
        std::future::ready(())
    }
}

/// Buckets of the issuance histogram, in seconds: our own issuers answer within a second or
/// two; ACME orders take minutes.
const ISSUANCE_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];

/// The metrics and health of one process, shared by the controllers and the HTTP listener.
pub struct Metrics {
    registry: Registry,
    caches: Arc<resources::Caches>,
    sync_calls: IntCounterVec,
    reconcile_errors: IntCounterVec,
    issuance: HistogramVec,
    api_writes: IntCounterVec,
    leader: IntGauge,
    pub health: Health,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        // The names, help texts and label names are constants; registration can only fail on
        // an invalid or duplicate name, which the unit tests would catch.
        Self::build().expect("metric definitions are valid")
    }

    fn build() -> prometheus::Result<Arc<Self>> {
        let registry = Registry::new();
        let caches = Arc::<resources::Caches>::default();
        registry.register(Box::new(resources::ResourceCollector::new(caches.clone())?))?;
        let sync_calls = IntCounterVec::new(
            Opts::new(
                "certmanager_controller_sync_call_count",
                "The number of sync() calls made by a controller.",
            ),
            &["controller"],
        )?;
        let reconcile_errors = IntCounterVec::new(
            Opts::new(
                "certwright_reconcile_errors_total",
                "Failed reconciles, by controller and the stable reason of the error.",
            ),
            &["controller", "reason"],
        )?;
        let issuance = HistogramVec::new(
            HistogramOpts::new(
                "certwright_issuance_duration_seconds",
                "Time from a Certificate's Issuing condition turning True to its new revision being recorded.",
            )
            .buckets(ISSUANCE_BUCKETS.to_vec()),
            &["issuer_name", "issuer_kind", "issuer_group"],
        )?;
        let api_writes = IntCounterVec::new(
            Opts::new(
                "certwright_api_writes_total",
                "Write requests sent to the Kubernetes API, by resource and verb.",
            ),
            &["resource", "verb"],
        )?;
        let leader = IntGauge::new(
            "certwright_leader_election_leader",
            "1 when this replica runs the controllers (holds the Lease, or election is off).",
        )?;
        for c in [&sync_calls, &reconcile_errors, &api_writes] {
            registry.register(Box::new(c.clone()))?;
        }
        registry.register(Box::new(issuance.clone()))?;
        registry.register(Box::new(leader.clone()))?;
        Ok(Arc::new(Self {
            registry,
            caches,
            sync_calls,
            reconcile_errors,
            issuance,
            api_writes,
            leader,
            health: Health::default(),
        }))
    }

    /// The layer that makes a kube client count its writes into this registry.
    pub fn count_writes(&self) -> writes::CountWritesLayer {
        writes::CountWritesLayer {
            counter: self.api_writes.clone(),
        }
    }

    /// Records one item of a controller's output stream: every reconcile counts as a sync
    /// call; a failed one also counts under its reason. Queue and runner errors are not
    /// reconciles and are left to the logs.
    pub fn record<T, Q>(
        &self,
        controller: &'static str,
        r: &Result<T, RunError<crate::controller::Error, Q>>,
    ) where
        Q: 'static,
    {
        match r {
            Ok(_) => self.sync_calls.with_label_values(&[controller]).inc(),
            Err(RunError::ReconcilerFailed(e, _)) => {
                self.sync_calls.with_label_values(&[controller]).inc();
                self.reconcile_errors
                    .with_label_values(&[controller, e.reason()])
                    .inc();
            }
            Err(_) => {}
        }
    }

    /// Observes one finished issuance: `issuing_since` is when the Issuing condition turned
    /// True, `now` when the new revision was recorded.
    pub fn issued(&self, issuer: &IssuerRef, issuing_since: SystemTime, now: SystemTime) {
        let secs = now
            .duration_since(issuing_since)
            .unwrap_or_default()
            .as_secs_f64();
        self.issuance
            .with_label_values(&[
                issuer.name.as_str(),
                issuer.kind.as_deref().unwrap_or_default(),
                issuer.group.as_deref().unwrap_or_default(),
            ])
            .observe(secs);
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// The Certificate controller's cache: per-Certificate series and readiness.
    pub fn watch_certificates(&self, store: Store<Certificate>) {
        *self
            .caches
            .certificates
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(store.clone());
        self.health.register_cache("certificates", store);
    }

    pub fn watch_issuers(&self, store: Store<Issuer>) {
        *self
            .caches
            .issuers
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(store.clone());
        self.health.register_cache("issuers", store);
    }

    pub fn watch_cluster_issuers(&self, store: Store<ClusterIssuer>) {
        *self
            .caches
            .cluster_issuers
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(store.clone());
        self.health.register_cache("clusterissuers", store);
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Encoding into a String fails only on a family that is malformed (e.g. a histogram
        // without buckets), which none of ours is; an empty page beats a panic in a scrape.
        if let Err(e) =
            prometheus::TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out)
        {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_keep_cert_managers_names() {
        let m = Metrics::new();
        let e: Result<(), RunError<crate::controller::Error, std::io::Error>> =
            Err(RunError::ReconcilerFailed(
                crate::controller::Error::Invalid("x".into()),
                Box::new(kube::runtime::reflector::ObjectRef::<Certificate>::new("web").erase()),
            ));
        m.record("certificates", &Ok::<_, RunError<_, std::io::Error>>(()));
        m.record("certificates", &e);
        m.set_leader(true);
        let issuer = IssuerRef {
            name: "ca".into(),
            kind: Some("Issuer".into()),
            group: None,
        };
        let t0 = SystemTime::UNIX_EPOCH;
        m.issued(&issuer, t0, t0 + std::time::Duration::from_secs(3));
        let text = m.render();
        for want in [
            "certmanager_controller_sync_call_count{controller=\"certificates\"} 2\n",
            "certwright_reconcile_errors_total{controller=\"certificates\",reason=\"InvalidObject\"} 1\n",
            "certwright_leader_election_leader 1\n",
            "certwright_issuance_duration_seconds_bucket{issuer_group=\"\",issuer_kind=\"Issuer\",issuer_name=\"ca\",le=\"2\"} 0\n",
            "certwright_issuance_duration_seconds_bucket{issuer_group=\"\",issuer_kind=\"Issuer\",issuer_name=\"ca\",le=\"5\"} 1\n",
            "# TYPE certmanager_controller_sync_call_count counter\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }
}
