//! The controller process around the controllers: the metrics and health listener, a client
//! that counts its writes, leader election, and the rule that a replica which loses its Lease
//! stops at once.
//!
//! Order of start-up: bind the listener first (a port in use is a start-up error, and probes
//! answer while the replica waits for the Lease), then elect, then run the controllers. Only
//! the leader runs controllers, so only the leader writes anything but its Lease.
use anyhow::Context as _;
use kube::client::ClientBuilder;

use crate::controller::Settings;
use crate::health::Role;
use crate::leader::{Elector, Params};
use crate::metrics::Metrics;

/// Process options beyond the controllers' own [`Settings`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Where `/metrics`, `/livez` and `/readyz` are served (`host:port`; port 0 picks one).
    pub metrics_listen_address: String,
    /// Leader election; `None` runs the controllers at once (a single replica).
    pub leader_election: Option<Params>,
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs the controller process until SIGTERM (Ok) or until the Lease is lost (Err: the caller
/// exits non-zero and the kubelet restarts the pod as a fresh candidate).
pub async fn run(config: kube::Config, settings: Settings, opts: Options) -> anyhow::Result<()> {
    if let Some(p) = &opts.leader_election {
        p.validate()?;
    }
    let metrics = Metrics::new();
    let listener = crate::http::bind(&opts.metrics_listen_address)
        .await
        .with_context(|| {
            format!(
                "listening on --metrics-listen-address {}",
                opts.metrics_listen_address
            )
        })?;
    if let Some(addr) = crate::http::local_addr(&listener) {
        tracing::info!(address = %addr, "serving /metrics, /livez and /readyz");
    }
    // Dropped (and so stopped) with the runtime when this process ends.
    tokio::spawn(crate::http::serve(listener, metrics.clone()));

    let client = ClientBuilder::try_from(config)
        .context("building the Kubernetes client")?
        .with_layer(&metrics.count_writes())
        .build();

    let Some(params) = opts.leader_election else {
        metrics.set_leader(true);
        metrics.health.set_role(Role::Leader);
        return crate::controller::run(client, settings, metrics).await;
    };

    tracing::info!(
        identity = %params.identity,
        lease = %format!("{}/{}", params.namespace, params.name),
        "waiting for the leader Lease"
    );
    let health = metrics.clone();
    let elector = Elector::new(client.clone(), params);
    let acquired = elector.acquire(move |holder| {
        if health.health.role() != Role::Standby {
            tracing::info!(holder, "standing by: another replica leads");
            health.health.set_role(Role::Standby);
        }
    });
    let mut leadership = tokio::select! {
        l = acquired => l,
        _ = shutdown_signal() => {
            tracing::info!("shutting down while standing by");
            return Ok(());
        }
    };
    metrics.set_leader(true);
    metrics.health.set_role(Role::Leader);

    // The controllers run only inside this select: when the Lease is lost, their future is
    // dropped, which cancels every reconcile and watch mid-flight; no write starts after that.
    let outcome = tokio::select! {
        r = crate::controller::run(client, settings, metrics.clone()) => Ok(r),
        lost = leadership.keep() => Err(lost),
    };
    match outcome {
        Ok(r) => {
            leadership.release().await;
            r
        }
        Err(lost) => {
            metrics.set_leader(false);
            tracing::error!(reason = lost.reason(), error = %lost, "stopping: no longer the leader");
            Err(lost.into())
        }
    }
}
