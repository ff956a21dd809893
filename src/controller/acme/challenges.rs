//! Challenges: present the response, tell the server to validate, and follow the
//! authorization to a final state. Gather (the Challenge, the server's authorization) ->
//! [`plan_challenge`] -> execute one step.
//!
//! HTTP-01 is presented by this process itself: the HTTP-01 listener ([`super::http01`])
//! answers from the same watch cache this controller runs on once `status.presented` is set.
//! In a cluster, an Ingress or HTTPRoute per challenge (or a rule in the user's Ingress)
//! routes the path to this Pod (see [`solver`]); no solver Pod and no image pull per
//! challenge. DNS-01 writes a TXT record through [`dns01`], under a finalizer that keeps the
//! Challenge until the record is removed again.
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use tracing::{info, instrument, warn};

use kube::Resource;

use crate::api::acme_order::{AcmeChallengeType, AcmeState};
use crate::api::{Challenge, ChallengeStatus};
use crate::issuer::acme::plan::{self, ChallengeStep};
use crate::issuer::acme::solver;

use super::dns01;
use crate::issuer::{self, IssuerError};

use super::super::error::KubeContext;
use super::super::{Context, Error, MANAGER, namespaced_api};

/// Builds the Challenge controller and hands out its cache for the HTTP-01 listener.
pub fn controller(ctx: Arc<Context>) -> (Store<Challenge>, impl std::future::Future<Output = ()>) {
    let api = namespaced_api::<Challenge>(&ctx);
    let controller = Controller::new(api, watcher::Config::default().any_semantic());
    let store = controller.store();
    let run = controller
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "challenge reconcile");
            }
        });
    (store, run)
}

fn error_policy(c: Arc<Challenge>, e: &Error, ctx: Arc<Context>) -> Action {
    let wait = ctx.acme.backoff.failed(&backoff_key(&c));
    warn!(error = %e, reason = e.reason(), retry_in = ?wait, "challenge reconcile failed");
    Action::requeue(wait)
}

fn backoff_key(c: &Challenge) -> String {
    format!("Challenge/{}", c.uid().unwrap_or_default())
}

/// One pass; a pass that succeeds forgets earlier failures.
async fn reconcile(c: Arc<Challenge>, ctx: Arc<Context>) -> Result<Action, Error> {
    let key = backoff_key(&c);
    let result = reconcile_once(c, ctx.clone()).await;
    if result.is_ok() {
        ctx.acme.backoff.succeeded(&key);
    }
    result
}

#[instrument(skip_all, fields(challenge = %ch.name_any(), namespace = ch.namespace().unwrap_or_default()))]
async fn reconcile_once(ch: Arc<Challenge>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = ch.namespace().unwrap_or_default();
    let status = ch.status.clone().unwrap_or_default();
    let dns = ch.spec.r#type == AcmeChallengeType::Dns01;
    if status.state.is_some_and(AcmeState::is_final) || ch.metadata.deletion_timestamp.is_some() {
        if dns && ch.finalizers().iter().any(|f| f == dns01::FINALIZER) {
            return release(&ctx, &ns, &ch, &status).await;
        }
        // A rule added to a user's Ingress goes as soon as the challenge is over.
        super::http01_routes::release(&ctx, &ch).await?;
        return Ok(Action::await_change());
    }
    // Gather.
    let account = match issuer::resolve(
        &ctx.client,
        &ch.spec.issuer_ref,
        &ns,
        &ctx.settings.cluster_resource_namespace,
    )
    .await
    {
        Ok(resolved) => ctx
            .acme
            .accounts
            .get(&ctx.client, &resolved)
            .await
            .map(|(a, _)| a),
        Err(e) => Err(e),
    };
    let account = match account {
        Ok(a) => a,
        Err(e) if e.is_transient() || !matches!(e, IssuerError::Acme(_)) => {
            let new = ChallengeStatus {
                reason: Some(format!("waiting for the issuer: {e}")),
                ..status.clone()
            };
            write_status(&ctx, &ns, &ch, &status, new).await?;
            return Ok(Action::requeue(Duration::from_secs(10)));
        }
        Err(e) => return finish(&ctx, &ns, &ch, &status, AcmeState::Errored, e.to_string()).await,
    };
    let (authz, retry) = match account.authorization(&ch.spec.authorization_url).await {
        Ok(x) => x,
        Err(e) if e.is_transient() => return Err(Error::Invalid(e.to_string())),
        Err(e) => return finish(&ctx, &ns, &ch, &status, AcmeState::Errored, e.to_string()).await,
    };

    // Plan and execute.
    let step = plan::plan_challenge(&status, &ch.spec.url, &authz);
    tracing::debug!(?step, "challenge step");
    match step {
        ChallengeStep::Done => Ok(Action::await_change()),
        ChallengeStep::Present => {
            if dns {
                // The finalizer comes first: a record must never exist without one.
                dns01::set_finalizer(&ctx, &ch, true)
                    .await
                    .ctx("adding the Challenge finalizer")?;
                if let Err(e) = dns01::present(&ctx, &ch, ctx.now()).await {
                    let reason = format!("Error presenting the DNS-01 record: {e}");
                    if e.is_permanent() {
                        return finish(&ctx, &ns, &ch, &status, AcmeState::Errored, reason).await;
                    }
                    // Retried with backoff: a Secret or a server key can be fixed in place.
                    ctx.event(ch.as_ref(), true, "PresentError", reason.clone())
                        .await;
                    let new = ChallengeStatus {
                        reason: Some(reason.clone()),
                        ..status.clone()
                    };
                    write_status(&ctx, &ns, &ch, &status, new).await?;
                    return Err(Error::Invalid(format!("{}: {reason}", e.reason())));
                }
            } else {
                match route(&ctx, &ns, &ch).await {
                    Ok(Ok(())) => {}
                    Ok(Err(reason)) => {
                        return finish(&ctx, &ns, &ch, &status, AcmeState::Errored, reason).await;
                    }
                    // Retried with backoff; the reason shows on the Challenge meanwhile.
                    Err(e) => {
                        let new = ChallengeStatus {
                            reason: Some(e.to_string()),
                            ..status.clone()
                        };
                        write_status(&ctx, &ns, &ch, &status, new).await?;
                        return Err(e);
                    }
                }
            }
            let new = ChallengeStatus {
                presented: Some(true),
                processing: Some(true),
                state: Some(AcmeState::Pending),
                reason: Some("presenting the challenge response".into()),
                presented_at: status
                    .presented_at
                    .clone()
                    .or_else(|| Some(crate::api::api_time(ctx.now()))),
            };
            write_status(&ctx, &ns, &ch, &status, new).await?;
            // The write comes back through the watch (and so into the listener's cache)
            // before the next reconcile: only then is it safe to ask for validation.
            Ok(Action::requeue(Duration::from_secs(5)))
        }
        ChallengeStep::Accept => {
            // Re-applied (a no-op when unchanged): after a leader change the EndpointSlice
            // must name this Pod, which now holds the listener that answers.
            if ch.spec.r#type == AcmeChallengeType::Http01 {
                let problem = match route(&ctx, &ns, &ch).await {
                    Ok(Ok(())) => None,
                    Ok(Err(reason)) => Some(reason),
                    Err(e) => Some(e.to_string()),
                };
                if let Some(reason) = problem {
                    let new = ChallengeStatus {
                        reason: Some(reason),
                        ..status.clone()
                    };
                    write_status(&ctx, &ns, &ch, &status, new).await?;
                    return Ok(Action::requeue(Duration::from_secs(10)));
                }
            }
            // A failed validation is final: make sure the CA will find the response first.
            if let Err((reason, wait)) = ready_to_accept(&ctx, &ch, &status).await {
                let new = ChallengeStatus {
                    reason: Some(reason),
                    presented_at: status
                        .presented_at
                        .clone()
                        .or_else(|| Some(crate::api::api_time(ctx.now()))),
                    ..status.clone()
                };
                write_status(&ctx, &ns, &ch, &status, new).await?;
                return Ok(Action::requeue(wait));
            }
            let accepted = match account.accept(&ch.spec.url).await {
                Ok(c) => c,
                Err(e) if e.is_transient() => return Err(Error::Invalid(e.to_string())),
                Err(e) => {
                    return finish(&ctx, &ns, &ch, &status, AcmeState::Errored, e.to_string())
                        .await;
                }
            };
            info!(
                state = accepted.status.as_str(),
                "challenge accepted by the ACME server"
            );
            let new = ChallengeStatus {
                state: Some(AcmeState::from_acme(accepted.status.as_str())),
                reason: Some("waiting for the ACME server to validate".into()),
                ..status.clone()
            };
            write_status(&ctx, &ns, &ch, &status, new).await?;
            Ok(Action::requeue(Duration::from_secs(1)))
        }
        ChallengeStep::Wait => {
            let new = ChallengeStatus {
                state: Some(AcmeState::Processing),
                ..status.clone()
            };
            write_status(&ctx, &ns, &ch, &status, new).await?;
            Ok(Action::requeue(retry.unwrap_or(Duration::from_secs(2))))
        }
        ChallengeStep::Finish { state, reason } => {
            finish(&ctx, &ns, &ch, &status, state, reason).await
        }
    }
}

/// Routes the challenge path to this controller in a real cluster (Service, EndpointSlice,
/// Ingress or HTTPRoute; see [`solver`] and [`super::http01_routes`]). Skipped when the
/// controller does not know its Pod IP (outside a cluster, where the listener is reached
/// directly). The inner error is a configuration the Challenge cannot be solved with.
async fn route(ctx: &Context, ns: &str, ch: &Challenge) -> Result<Result<(), String>, Error> {
    let (Some(ip), Some(listen)) = (
        ctx.settings.acme.http01_solver_ip,
        ctx.settings.acme.http01_listen,
    ) else {
        return Ok(Ok(()));
    };
    let Some(owner) = ch.controller_owner_ref(&()) else {
        return Ok(Ok(()));
    };
    let routing = match solver::routing(ch, owner, ip, listen.port()) {
        Ok(r) => r,
        Err(solver::Unroutable::Invalid(why)) => return Ok(Err(why)),
    };
    super::http01_routes::apply(ctx, ns, ch, routing).await?;
    Ok(Ok(()))
}

async fn finish(
    ctx: &Context,
    ns: &str,
    ch: &Challenge,
    old: &ChallengeStatus,
    state: AcmeState,
    reason: String,
) -> Result<Action, Error> {
    if state.is_failure() {
        warn!(state = state.as_str(), %reason, "challenge failed");
        ctx.event(ch, true, "ChallengeFailed", reason.clone()).await;
    } else {
        info!("challenge valid");
    }
    // A DNS-01 record stays "presented" until it is removed (see `release`): the flag is
    // what says a record may still be out there.
    let presented = match ch.spec.r#type {
        AcmeChallengeType::Http01 => Some(false),
        AcmeChallengeType::Dns01 => old.presented,
    };
    let new = ChallengeStatus {
        presented,
        processing: Some(false),
        state: Some(state),
        reason: Some(reason),
        presented_at: old.presented_at.clone(),
    };
    write_status(ctx, ns, ch, old, new).await?;
    Ok(Action::await_change())
}

/// Whether the CA may be asked to validate now; if not, why (the Challenge's reason) and when
/// to look again. With `waitInsteadOfSelfCheck`: once that long has passed since
/// presentation. Otherwise the self check: for DNS-01 every authoritative server answers the
/// record; for HTTP-01, when an Ingress routes the challenge (or a check address is set), the
/// token URL answers the key authorization.
async fn ready_to_accept(
    ctx: &Context,
    ch: &Challenge,
    status: &ChallengeStatus,
) -> Result<(), (String, Duration)> {
    let kind = ch.spec.r#type.acme_name().to_ascii_uppercase();
    if let Some(wait) = ch.spec.solver.wait_instead_of_self_check {
        let presented = status
            .presented_at
            .as_ref()
            .map(|t| std::time::SystemTime::from(t.0));
        return plan::accept_after_wait(presented, wait.0, ctx.now()).map_err(|left| {
            (
                format!(
                    "Waiting {wait} after presentation before accepting the {kind} challenge without self-check (waitInsteadOfSelfCheck)"
                ),
                left,
            )
        });
    }
    let settings = &ctx.settings.acme;
    match ch.spec.r#type {
        AcmeChallengeType::Dns01 => dns01::check_propagation(ctx, ch).await.map_err(|why| {
            (
                format!("Waiting for {kind} challenge propagation: {why}"),
                settings.dns01.check_retry_period,
            )
        }),
        AcmeChallengeType::Http01
            if settings.http01_solver_ip.is_some()
                || settings.http01_self_check_address.is_some() =>
        {
            super::http01::self_check(
                settings.http01_self_check_address,
                &ch.spec.dns_name,
                &ch.spec.token,
                &ch.spec.key,
            )
            .await
            .map_err(|why| {
                (
                    format!("Waiting for {kind} challenge propagation: {why}"),
                    Duration::from_secs(5),
                )
            })
        }
        AcmeChallengeType::Http01 => Ok(()),
    }
}

/// Removes the DNS-01 record of a finished or deleted Challenge, then its finalizer. A
/// record known to be presented must be removed first (failures retry with backoff and say
/// why); one never recorded as presented is removed on a best-effort basis, since a crash
/// between writing it and recording that is the only way it could exist.
async fn release(
    ctx: &Context,
    ns: &str,
    ch: &Challenge,
    status: &ChallengeStatus,
) -> Result<Action, Error> {
    let result = dns01::clean_up(ctx, ch, ctx.now()).await;
    if status.presented == Some(true) {
        if let Err(e) = result {
            let reason = format!("Error cleaning up the DNS-01 record: {e}");
            ctx.event(ch, true, "CleanUpError", reason.clone()).await;
            let new = ChallengeStatus {
                reason: Some(reason.clone()),
                ..status.clone()
            };
            write_status(ctx, ns, ch, status, new).await?;
            return Err(Error::Invalid(format!("{}: {reason}", e.reason())));
        }
        let new = ChallengeStatus {
            presented: Some(false),
            ..status.clone()
        };
        write_status(ctx, ns, ch, status, new).await?;
    } else if let Err(e) = result {
        tracing::debug!(error = %e, "best-effort clean-up of a record never presented");
    }
    dns01::set_finalizer(ctx, ch, false)
        .await
        .ctx("removing the Challenge finalizer")?;
    Ok(Action::await_change())
}

async fn write_status(
    ctx: &Context,
    ns: &str,
    ch: &Challenge,
    old: &ChallengeStatus,
    new: ChallengeStatus,
) -> Result<(), Error> {
    if &new == old {
        return Ok(());
    }
    let patch = serde_json::json!({
        "apiVersion": "acme.cert-manager.io/v1",
        "kind": "Challenge",
        "status": new,
    });
    Api::<Challenge>::namespaced(ctx.client.clone(), ns)
        .patch_status(
            &ch.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .ctx("writing Challenge status")?;
    Ok(())
}
