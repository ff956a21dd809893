//! CertificateRequests for our own issuers (group `cert-manager.io`, kind Issuer or
//! ClusterIssuer): approve, sign, and put the chain in the status in one write. ACME requests
//! are asynchronous: they get an Order ([`super::acme::requests`]) and take its chain later. Requests for
//! other groups are left to their controllers (the external-issuer contract); the Certificate
//! controller picks up their result from the status all the same.
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ReflectHandle, Store};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use tracing::{info, instrument, warn};

use crate::api::certificate_request::condition as cond;
use crate::api::{Bytes, CertificateRequest, CertificateRequestStatus, Order};
use crate::issuer::{self, IssuerError, SignRequest, Signer};
use crate::metrics::WithStore;
use crate::pki::PrivateKey;

use super::acme::{self, requests::Outcome};
use super::error::KubeContext;
use super::{Context, Error, MANAGER, conditions};

/// Annotation naming the Secret that holds the request's private key (self-signing needs it).
pub const PRIVATE_KEY_SECRET_ANNOTATION: &str = "cert-manager.io/private-key-secret-name";

/// Runs on the CertificateRequest store and triggers shared with the Certificate controller.
pub fn controller(
    ctx: Arc<Context>,
    store: Store<CertificateRequest>,
    triggers: ReflectHandle<CertificateRequest>,
) -> impl Stream<Item = ()> {
    // Requests for ACME issuers own one Order each and follow it.
    let orders: Api<Order> = super::namespaced_api(&ctx);
    let metrics = ctx.metrics.clone();
    futures::StreamExt::map(
        Controller::for_shared_stream(triggers, store)
            .with_store(|s| ctx.metrics.health.register_cache("requests", s))
            .owns(orders, watcher::Config::default().any_semantic())
            .with_config(super::reconcile_config(&ctx.settings))
            .shutdown_on_signal()
            .run(reconcile, error_policy, ctx),
        move |r| {
            metrics.record("certificaterequests", &r);
            if let Err(e) = r {
                tracing::debug!(error = %e, "certificaterequest reconcile");
            }
        },
    )
}

fn error_policy(_: Arc<CertificateRequest>, e: &Error, _: Arc<Context>) -> Action {
    warn!(error = %e, reason = e.reason(), "certificaterequest reconcile failed");
    Action::requeue(Duration::from_secs(5))
}

#[instrument(skip_all, fields(request = %cr.name_any(), namespace = cr.namespace().unwrap_or_default()))]
async fn reconcile(cr: Arc<CertificateRequest>, ctx: Arc<Context>) -> Result<Action, Error> {
    let status = cr.status.clone().unwrap_or_default();
    if !cr.spec.issuer_ref.is_builtin() || cr.is_finished() || cr.is_denied() {
        return Ok(Action::await_change());
    }
    let ns = cr.namespace().unwrap_or_default();
    let now = ctx.now();
    let generation = cr.metadata.generation;
    let mut conds = status.conditions.clone().unwrap_or_default();
    let mut new_status = status.clone();
    let t = Time(k8s_openapi::jiff::Timestamp::try_from(now).unwrap_or_default());
    // We approve requests for our own issuers; anyone may still deny first.
    if !cr.is_approved() {
        conditions::set(
            &mut conds,
            conditions::new(
                cond::APPROVED,
                true,
                "certwright",
                "approved by certwright for a built-in issuer",
                generation,
            ),
            t.clone(),
        );
    }

    let outcome = match ctx
        .signers
        .resolve(
            &ctx.client,
            &cr.spec.issuer_ref,
            &ns,
            &ctx.settings.cluster_resource_namespace,
            now,
        )
        .await
    {
        Ok(r) if r.spec.acme.is_some() => acme::requests::reconcile(&ctx, &cr, &ns, &r).await,
        Ok(r) => sign(&ctx, &cr, &ns, &r, now).await.map(Outcome::Issued),
        Err(e) => Err(e),
    };
    let requeue = match outcome {
        Ok(Outcome::Issued(signed)) => {
            new_status.certificate = Some(Bytes(signed.certificate.into_bytes()));
            new_status.ca = signed.ca.map(|c| Bytes(c.into_bytes()));
            conditions::set(
                &mut conds,
                conditions::new(
                    cond::READY,
                    true,
                    "Issued",
                    "certificate issued",
                    generation,
                ),
                t.clone(),
            );
            info!("request signed");
            Action::await_change()
        }
        // An ACME order in progress: its Order is watched, so a change wakes us up.
        Ok(Outcome::Pending(msg)) => {
            conditions::set(
                &mut conds,
                conditions::new(cond::READY, false, "Pending", &msg, generation),
                t.clone(),
            );
            Action::requeue(Duration::from_secs(300))
        }
        Ok(Outcome::Failed(reason, msg)) => {
            new_status.failure_time = Some(t.clone());
            conditions::set(
                &mut conds,
                conditions::new(cond::READY, false, "Failed", &msg, generation),
                t.clone(),
            );
            ctx.event(cr.as_ref(), true, reason, msg).await;
            Action::await_change()
        }
        Err(e) if e.is_transient() => return Err(Error::Invalid(e.to_string())),
        // The issuer is missing or not usable yet: the request waits, as cert-manager's do.
        Err(
            e @ (IssuerError::NotFound { .. }
            | IssuerError::SecretNotFound { .. }
            | IssuerError::SecretInvalid { .. }
            | IssuerError::InvalidCa { .. }
            | IssuerError::Unsupported(_)
            | IssuerError::NoType
            | IssuerError::Acme(_)),
        ) => {
            let msg = format!("waiting for the issuer: {e}");
            if conditions::set(
                &mut conds,
                conditions::new(cond::READY, false, "Pending", &msg, generation),
                t.clone(),
            ) {
                ctx.event(cr.as_ref(), true, e.reason(), msg).await;
            }
            // Issuers and their Secrets are not watched from here: look again soon.
            Action::requeue(Duration::from_secs(5))
        }
        Err(e) => {
            let msg = e.to_string();
            new_status.failure_time = Some(t.clone());
            conditions::set(
                &mut conds,
                conditions::new(cond::READY, false, "Failed", &msg, generation),
                t.clone(),
            );
            ctx.event(cr.as_ref(), true, e.reason(), msg).await;
            Action::await_change()
        }
    };
    new_status.conditions = Some(conds);
    if new_status != status {
        let patch = serde_json::json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "CertificateRequest",
            "status": new_status,
        });
        Api::<CertificateRequest>::namespaced(ctx.client.clone(), &ns)
            .patch_status(
                &cr.name_any(),
                &PatchParams::apply(MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
            .ctx("writing CertificateRequest status")?;
    }
    Ok(requeue)
}

async fn sign(
    ctx: &Context,
    cr: &CertificateRequest,
    ns: &str,
    resolved: &issuer::Resolved,
    now: std::time::SystemTime,
) -> Result<issuer::Signed, IssuerError> {
    let signer = ctx.signers.signer(&ctx.client, resolved, now).await?;
    let key = match (
        signer.as_ref(),
        cr.annotations().get(PRIVATE_KEY_SECRET_ANNOTATION),
    ) {
        (Signer::SelfSigned(_), Some(name)) => {
            let secret = Api::<Secret>::namespaced(ctx.client.clone(), ns)
                .get_opt(name)
                .await?
                .ok_or_else(|| {
                    IssuerError::MissingPrivateKey(format!("Secret {name:?} does not exist"))
                })?;
            let pem = secret
                .data
                .as_ref()
                .and_then(|d| d.get("tls.key"))
                .map(|b| b.0.clone())
                .unwrap_or_default();
            Some(
                PrivateKey::from_pem(&pem)
                    .map_err(|e| IssuerError::MissingPrivateKey(format!("Secret {name:?}: {e}")))?,
            )
        }
        _ => None,
    };
    let duration = cr
        .spec
        .duration
        .as_ref()
        .map(|d| d.as_std())
        .unwrap_or(crate::api::certificate::DEFAULT_DURATION.as_std());
    let usages = issuer::request_usages(
        cr.spec.usages.as_deref(),
        cr.spec.is_ca.unwrap_or(false),
        &cr.spec.request.0,
    )?;
    let signed = signer.sign(&SignRequest {
        csr_pem: &cr.spec.request.0,
        duration,
        private_key: key.as_ref(),
        now,
        usages,
    });
    if signed.is_err() {
        ctx.signers.forget(&cr.spec.issuer_ref, ns);
    }
    signed
}

/// Status of a request, re-exported for the Certificate controller's gather step.
pub fn status_of(cr: &CertificateRequest) -> CertificateRequestStatus {
    cr.status.clone().unwrap_or_default()
}
