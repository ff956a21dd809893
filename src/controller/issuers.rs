//! Issuer and ClusterIssuer readiness: load the backend (for CA: read and check the key pair;
//! for ACME: register the account) and publish a Ready condition with a stable reason. Signing does not depend on this
//! condition (it loads the backend itself), so a stale condition never blocks an issuance.
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use tracing::{instrument, warn};

use crate::api::{ClusterIssuer, Issuer, IssuerStatus};
use crate::issuer::{self, Signer};
use crate::metrics::{WithStore, recorder};

use super::error::KubeContext;
use super::{Context, Error, MANAGER, conditions, lean_watch, namespaced_api};

pub async fn controllers(ctx: Arc<Context>) {
    let (store, writer) = reflector::store();
    let issuers = lean_watch(namespaced_api::<Issuer>(&ctx), watcher::Config::default())
        .reflect(writer)
        .applied_objects();
    // Metrics and readiness read these caches; each reconcile is counted.
    let a = Controller::for_stream(issuers, store)
        .with_store(|s| ctx.metrics.watch_issuers(s))
        .shutdown_on_signal()
        .run(reconcile_issuer, error_policy, ctx.clone())
        .for_each(recorder(ctx.metrics.clone(), "issuers"));
    let (store, writer) = reflector::store();
    let cluster_issuers = lean_watch(
        Api::<ClusterIssuer>::all(ctx.client.clone()),
        watcher::Config::default(),
    )
    .reflect(writer)
    .applied_objects();
    let b = Controller::for_stream(cluster_issuers, store)
        .with_store(|s| ctx.metrics.watch_cluster_issuers(s))
        .shutdown_on_signal()
        .run(reconcile_cluster_issuer, error_policy, ctx.clone())
        .for_each(recorder(ctx.metrics.clone(), "clusterissuers"));
    tokio::join!(a, b);
}

fn error_policy<K>(_: Arc<K>, e: &Error, _: Arc<Context>) -> Action {
    warn!(error = %e, reason = e.reason(), "issuer reconcile failed");
    Action::requeue(Duration::from_secs(10))
}

/// Computes the Ready condition; returns the new status and when to look again (a CA Secret
/// may be created or fixed later, and we do not watch unrelated Secrets).
async fn readiness(
    ctx: &Context,
    resolved: &issuer::Resolved,
    old: Option<&IssuerStatus>,
) -> (IssuerStatus, Action, Option<(String, String)>) {
    let now = ctx.now();
    let t = Time(k8s_openapi::jiff::Timestamp::try_from(now).unwrap_or_default());
    let mut status = old.cloned().unwrap_or_default();
    let mut conds = status.conditions.clone().unwrap_or_default();
    let loaded = if resolved.spec.acme.is_some() {
        // An ACME issuer is ready once its account is registered; the account URL goes into
        // status.acme.
        ctx.acme
            .accounts
            .get(&ctx.client, resolved)
            .await
            .map(|(_, acme)| {
                status.acme = Some(acme);
                (
                    "ACMEAccountRegistered",
                    "The ACME account was registered with the ACME server".to_string(),
                )
            })
    } else {
        Signer::load(&ctx.client, resolved, now)
            .await
            .map(|signer| signer.ready_message())
    };
    let (ready, reason, message, action) = match loaded {
        Ok((r, m)) => (true, r, m, Action::requeue(Duration::from_secs(600))),
        // An unreachable or refusing ACME server is asked again less eagerly than a Secret
        // is re-read: a CA's rate limits count failed registrations too.
        Err(e @ issuer::IssuerError::Acme(_)) => (
            false,
            e.reason(),
            e.to_string(),
            Action::requeue(Duration::from_secs(30)),
        ),
        Err(e) => (
            false,
            e.reason(),
            e.to_string(),
            Action::requeue(Duration::from_secs(5)),
        ),
    };
    let changed = conditions::set(
        &mut conds,
        conditions::new("Ready", ready, reason, &message, resolved.generation),
        t,
    );
    status.conditions = Some(conds);
    let event = (changed && !ready).then(|| (reason.to_string(), message));
    (status, action, event)
}

#[instrument(skip_all, fields(issuer = %i.name_any(), namespace = i.namespace().unwrap_or_default()))]
async fn reconcile_issuer(i: Arc<Issuer>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = i.namespace().unwrap_or_default();
    let resolved = issuer::Resolved {
        spec: i.spec.clone(),
        secret_namespace: ns.clone(),
        kind: "Issuer",
        name: i.name_any(),
        generation: i.metadata.generation,
    };
    let (status, action, event) = readiness(&ctx, &resolved, i.status.as_ref()).await;
    if Some(&status) != i.status.as_ref() {
        let patch = serde_json::json!({ "apiVersion": "cert-manager.io/v1", "kind": "Issuer", "status": status });
        Api::<Issuer>::namespaced(ctx.client.clone(), &ns)
            .patch_status(
                &i.name_any(),
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
            .ctx("writing Issuer status")?;
    }
    if let Some((reason, msg)) = event {
        ctx.event(i.as_ref(), true, &reason, msg).await;
    }
    Ok(action)
}

#[instrument(skip_all, fields(clusterissuer = %i.name_any()))]
async fn reconcile_cluster_issuer(
    i: Arc<ClusterIssuer>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let resolved = issuer::Resolved {
        spec: i.spec.issuer.clone(),
        secret_namespace: ctx.settings.cluster_resource_namespace.clone(),
        kind: "ClusterIssuer",
        name: i.name_any(),
        generation: i.metadata.generation,
    };
    let (status, action, event) = readiness(&ctx, &resolved, i.status.as_ref()).await;
    if Some(&status) != i.status.as_ref() {
        let patch = serde_json::json!({ "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "status": status });
        Api::<ClusterIssuer>::all(ctx.client.clone())
            .patch_status(
                &i.name_any(),
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
            .ctx("writing ClusterIssuer status")?;
    }
    if let Some((reason, msg)) = event {
        ctx.event(i.as_ref(), true, &reason, msg).await;
    }
    Ok(action)
}
