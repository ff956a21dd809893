//! The controller process around the controllers: the metrics and health listener, a client
//! that counts its writes, leader election, and the rule that a replica which loses its Lease
//! stops at once.
//!
//! Order of start-up: bind the listener first (a port in use is a start-up error, and probes
//! answer while the replica waits for the Lease), then elect, then run the controllers. Only
//! the leader runs controllers, so only the leader writes anything but its Lease.
use std::time::Duration;

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

/// How long the controllers get to finish their reconciles after SIGTERM before they are
/// dropped (every step is crash-safe, so dropping is as safe as a kill, only less tidy).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Listens for SIGTERM and SIGINT from the moment it is called (not from the first poll), so
/// a signal that arrives while nothing is awaiting it yet is not lost. kube-runtime's
/// `shutdown_on_signal` registers its own listeners only when the controllers are first
/// polled; a SIGTERM just before that would otherwise be swallowed.
fn shutdown_listener() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// Runs the controllers until they end (kube-runtime stops them on SIGTERM) or, once
/// `shutdown` fires, for at most [`SHUTDOWN_GRACE`] more.
async fn controllers_until_shutdown(
    client: kube::Client,
    settings: Settings,
    metrics: std::sync::Arc<Metrics>,
    shutdown: &mut (impl std::future::Future<Output = ()> + Unpin),
) -> anyhow::Result<()> {
    let mut controllers = std::pin::pin!(crate::controller::run(client, settings, metrics));
    tokio::select! {
        r = &mut controllers => r,
        _ = shutdown => {
            tracing::info!("shutting down: letting reconciles in flight finish");
            match tokio::time::timeout(SHUTDOWN_GRACE, controllers).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!(grace = ?SHUTDOWN_GRACE, "reconciles still running at the end of the grace period; stopping them");
                    Ok(())
                }
            }
        }
    }
}

/// Runs the controller process until SIGTERM (Ok) or until the Lease is lost (Err: the caller
/// exits non-zero and the kubelet restarts the pod as a fresh candidate).
pub async fn run(config: kube::Config, settings: Settings, opts: Options) -> anyhow::Result<()> {
    if let Some(p) = &opts.leader_election {
        p.validate()?;
    }
    let mut shutdown = std::pin::pin!(shutdown_listener().context("listening for SIGTERM")?);
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
        return controllers_until_shutdown(client, settings, metrics, &mut shutdown).await;
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
        _ = &mut shutdown => {
            tracing::info!("shutting down while standing by");
            return Ok(());
        }
    };
    metrics.set_leader(true);
    metrics.health.set_role(Role::Leader);

    // The controllers run only inside this select: when the Lease is lost, their future is
    // dropped, which cancels every reconcile and watch mid-flight; no write starts after that.
    // The Lease is renewed through the shutdown grace too, so no standby leads beside them.
    let outcome = tokio::select! {
        r = controllers_until_shutdown(client, settings, metrics.clone(), &mut shutdown) => Ok(r),
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
