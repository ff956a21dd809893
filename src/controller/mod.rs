//! The controllers: Certificates (`certificates/`), CertificateRequests signed by our own
//! issuers (`requests.rs`) and Issuer/ClusterIssuer readiness (`issuers.rs`), run together by
//! [`run`]. Writes are server-side applies under one field manager, [`MANAGER`].
pub mod acme;
pub mod certificates;
pub mod conditions;
pub mod error;
pub mod issuers;
pub mod requests;
pub mod secret;

use std::sync::Arc;
use std::time::SystemTime;

use futures::StreamExt;
use kube::Client;
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
    /// ACME accounts, backoff and order slots of this process.
    pub acme: acme::State,
}

impl Context {
    pub fn new(client: Client, settings: Settings) -> Arc<Self> {
        let reporter = Reporter {
            controller: MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let recorder = Recorder::new(client.clone(), reporter);
        Arc::new(Context {
            client,
            settings,
            recorder,
            acme: Default::default(),
        })
    }

    /// The time. The one place the controllers read the clock; everything below takes it as
    /// a parameter.
    pub fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Runs all controllers until SIGTERM/SIGINT.
pub async fn run(client: Client, settings: Settings) -> anyhow::Result<()> {
    let ctx = Context::new(client, settings);
    tracing::info!(
        cluster_resource_namespace = %ctx.settings.cluster_resource_namespace,
        owner_ref = ctx.settings.enable_certificate_owner_ref,
        "starting controllers"
    );
    let certs = certificates::controller(ctx.clone()).for_each(|_| async {});
    let reqs = requests::controller(ctx.clone()).for_each(|_| async {});
    let issuers = issuers::controllers(ctx.clone());
    let acme = acme::run(ctx.clone());
    tokio::join!(certs, reqs, issuers, acme);
    Ok(())
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
        use kube::runtime::events::{Event, EventType};
        let ev = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.to_string(),
            note: Some(note),
            action: reason.to_string(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &obj.object_ref(&())).await {
            tracing::debug!(error = %e, reason, "publishing an Event failed");
        }
    }
}
