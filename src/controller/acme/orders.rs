//! Orders: place the ACME order, create a Challenge per authorization that needs one,
//! finalize with the request's CSR, and store the chain. Gather (the Order, the server's
//! order, the Challenges by their derived names) -> [`plan_order`] -> execute one step.
//!
//! Crash safety: every step is decided from the server's view of the order, so a restart
//! repeats no write the server already saw except re-reading. The one window is between
//! creating the ACME order and recording its URL: a crash there leaves an unused order at the
//! CA (it expires), never a second Order resource.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use tracing::{info, instrument, warn};

use crate::acme::{self, Identifier};
use crate::api::acme_order::{AcmeAuthorization, AcmeChallenge, AcmeState};
use crate::api::{Challenge, ChallengeSpec, ChallengeStatus, Order, OrderStatus};
use crate::issuer::acme::plan::{self, OrderStep};
use crate::issuer::{self, IssuerError};

use super::super::error::KubeContext;
use super::super::{Context, Error, MANAGER, namespaced_api};

pub async fn controller(ctx: Arc<Context>) {
    let orders = namespaced_api::<Order>(&ctx);
    let challenges = namespaced_api::<Challenge>(&ctx);
    let controller = Controller::new(orders, watcher::Config::default().any_semantic())
        .owns(challenges, watcher::Config::default().any_semantic());
    let store = controller.store();
    controller
        .shutdown_on_signal()
        .run(
            move |o, ctx| reconcile(o, ctx, store.clone()),
            error_policy,
            ctx,
        )
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "order reconcile");
            }
        })
        .await;
}

fn error_policy(o: Arc<Order>, e: &Error, ctx: Arc<Context>) -> Action {
    let wait = ctx.acme.backoff.failed(&backoff_key(&o));
    warn!(error = %e, reason = e.reason(), retry_in = ?wait, "order reconcile failed");
    Action::requeue(wait)
}

fn backoff_key(o: &Order) -> String {
    format!("Order/{}", o.uid().unwrap_or_default())
}

/// One pass; a pass that succeeds forgets earlier failures.
async fn reconcile(o: Arc<Order>, ctx: Arc<Context>, store: Store<Order>) -> Result<Action, Error> {
    let key = backoff_key(&o);
    let result = reconcile_once(o, ctx.clone(), store).await;
    if result.is_ok() {
        ctx.acme.backoff.succeeded(&key);
    }
    result
}

#[instrument(skip_all, fields(order = %order.name_any(), namespace = order.namespace().unwrap_or_default()))]
async fn reconcile_once(
    order: Arc<Order>,
    ctx: Arc<Context>,
    store: Store<Order>,
) -> Result<Action, Error> {
    let ns = order.namespace().unwrap_or_default();
    let status = order.status.clone().unwrap_or_default();
    let challenges_api = Api::<Challenge>::namespaced(ctx.client.clone(), &ns);
    if status.state.is_some_and(AcmeState::is_final) {
        ctx.acme.slots.release(&order);
        cleanup(&challenges_api, &order).await?;
        return Ok(Action::await_change());
    }

    // Gather.
    let resolved = match issuer::resolve(
        &ctx.client,
        &order.spec.issuer_ref,
        &ns,
        &ctx.settings.cluster_resource_namespace,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return wait_for_issuer(&ctx, &order, &ns, status, e).await,
    };
    let account = match ctx.acme.accounts.get(&ctx.client, &resolved).await {
        Ok((a, _)) => a,
        Err(e) => return wait_for_issuer(&ctx, &order, &ns, status, e).await,
    };
    let (server, retry) = match &status.url {
        Some(url) => match account.order(url).await {
            Ok((o, r)) => (Some(o), r),
            Err(e) => return acme_failure(&ctx, &order, &ns, status, e).await,
        },
        None => (None, None),
    };
    let mut existing = BTreeMap::new();
    if server
        .as_ref()
        .is_some_and(|s| s.status == acme::Status::Pending)
    {
        for (i, a) in status.authorizations.iter().flatten().enumerate() {
            if !plan::needs_challenge(a) {
                continue;
            }
            let found = match desired_challenge(&order, a, &resolved, &account) {
                Ok(spec) => {
                    let name = plan::challenge_name(&order.name_any(), &a.url, spec.r#type);
                    challenges_api
                        .get_opt(&name)
                        .await
                        .ctx("reading a Challenge")?
                        .map(|c| c.status.unwrap_or_default())
                }
                // No solver: report it as a failed challenge so the plan fails the order.
                Err(reason) => Some(ChallengeStatus {
                    state: Some(AcmeState::Errored),
                    reason: Some(reason),
                    ..Default::default()
                }),
            };
            existing.insert(i, found);
        }
    }

    // Plan and execute.
    let step = plan::plan_order(&status, server.as_ref(), &existing);
    tracing::debug!(?step, "order step");
    let wait = retry.unwrap_or(Duration::from_secs(2));
    match step {
        OrderStep::Done => Ok(Action::await_change()),
        OrderStep::Create => {
            let cap = ctx.settings.acme.max_concurrent_orders;
            if let Err(n) = ctx.acme.slots.try_take(&order, &store.state(), cap) {
                let new = OrderStatus {
                    reason: Some(format!(
                        "waiting: {n} orders of this issuer are in progress at the ACME server (cap {cap})"
                    )),
                    ..status.clone()
                };
                write_status(&ctx, &ns, &order, &status, new).await?;
                return Ok(Action::requeue(Duration::from_secs(5)));
            }
            let mut ids: Vec<Identifier> = order
                .spec
                .dns_names
                .iter()
                .flatten()
                .map(|d| Identifier::dns(d))
                .collect();
            ids.extend(
                order
                    .spec
                    .ip_addresses
                    .iter()
                    .flatten()
                    .map(|i| Identifier::ip(i)),
            );
            let acme_spec = resolved.spec.acme.clone().unwrap_or_default();
            let validity = (acme_spec.enable_duration_feature == Some(true))
                .then(|| order.spec.duration.as_ref())
                .flatten()
                .map(|d| crate::issuer::acme::validity::requested_validity(ctx.now(), d.as_std()));
            let profile = order.spec.profile.clone().or(acme_spec.profile.clone());
            // `replaces` only to a server that offers renewal information (RFC 9773 section 5).
            let replaces = order
                .spec
                .replaces
                .as_deref()
                .filter(|_| account.directory().offers_renewal_info());
            let request = acme::NewOrder {
                profile: profile.as_deref(),
                not_before: validity.as_ref().map(|v| v.0.as_str()),
                not_after: validity.as_ref().map(|v| v.1.as_str()),
                replaces,
            };
            let placed = match account.new_order_with(&ids, &request).await {
                // The server may refuse to call this a replacement (the old certificate was
                // already replaced, or is not one it knows): the renewal must happen anyway.
                Err(acme::Error::Server { problem, .. }) if replaces.is_some() => {
                    warn!(%problem, "the ACME server refused `replaces`; ordering without it");
                    let plain = acme::NewOrder {
                        replaces: None,
                        ..request
                    };
                    account.new_order_with(&ids, &plain).await
                }
                r => r,
            };
            let (url, placed) = match placed {
                Ok(x) => x,
                Err(e) => {
                    ctx.acme.slots.release(&order);
                    return acme_failure(&ctx, &order, &ns, status, e).await;
                }
            };
            let mut auths = Vec::new();
            for a_url in &placed.authorizations {
                let a = match account.authorization(a_url).await {
                    Ok((a, _)) => a,
                    Err(e) => return acme_failure(&ctx, &order, &ns, status, e).await,
                };
                auths.push(AcmeAuthorization {
                    url: a_url.clone(),
                    identifier: Some(a.identifier.value.clone()),
                    wildcard: a.wildcard,
                    initial_state: Some(AcmeState::from_acme(a.status.as_str())),
                    challenges: Some(
                        a.challenges
                            .iter()
                            .map(|c| AcmeChallenge {
                                url: c.url.clone(),
                                token: c.token.clone().unwrap_or_default(),
                                r#type: c.kind.clone(),
                            })
                            .collect(),
                    ),
                });
            }
            info!(url = %url, "created ACME order");
            let new = OrderStatus {
                url: Some(url),
                finalize_url: Some(placed.finalize.clone()),
                authorizations: Some(auths),
                state: Some(AcmeState::from_acme(placed.status.as_str())),
                reason: None,
                ..status.clone()
            };
            write_status(&ctx, &ns, &order, &status, new).await?;
            Ok(Action::requeue(Duration::from_millis(200)))
        }
        OrderStep::Present(indices) => {
            for i in indices {
                let Some(a) = status.authorizations.as_ref().and_then(|v| v.get(i)) else {
                    continue;
                };
                let Ok(spec) = desired_challenge(&order, a, &resolved, &account) else {
                    continue;
                };
                let name = plan::challenge_name(&order.name_any(), &a.url, spec.r#type);
                let mut ch = Challenge::new(&name, spec);
                ch.metadata.namespace = Some(ns.clone());
                ch.metadata.owner_references = order.controller_owner_ref(&()).map(|r| vec![r]);
                ch.metadata.labels = Some(order.labels().clone()).filter(|l| !l.is_empty());
                match challenges_api.create(&PostParams::default(), &ch).await {
                    Ok(_) => info!(challenge = %name, "created Challenge"),
                    Err(kube::Error::Api(s)) if s.code == 409 => {}
                    Err(e) => return Err(e).ctx("creating a Challenge"),
                }
            }
            Ok(Action::requeue(wait))
        }
        OrderStep::Wait { state, why } => {
            let new = OrderStatus {
                state: Some(state),
                reason: Some(why),
                ..status.clone()
            };
            write_status(&ctx, &ns, &order, &status, new).await?;
            Ok(Action::requeue(wait))
        }
        OrderStep::Finalize => {
            let csr = match ::pem::parse(&order.spec.request.0) {
                Ok(p) => p.into_contents(),
                Err(e) => {
                    let reason = format!("spec.request is not a PEM CSR: {e}");
                    return fail(&ctx, &order, &ns, status, AcmeState::Errored, reason).await;
                }
            };
            let finalize = status.finalize_url.clone().unwrap_or_default();
            match account.finalize(&finalize, &csr).await {
                Ok(o) => {
                    let new = OrderStatus {
                        state: Some(AcmeState::from_acme(o.status.as_str())),
                        reason: Some("finalized with the request's CSR".into()),
                        ..status.clone()
                    };
                    write_status(&ctx, &ns, &order, &status, new).await?;
                    Ok(Action::requeue(Duration::from_millis(500)))
                }
                // Finalizing twice (a crash after the first) is refused as orderNotReady when
                // the order already moved on; re-reading the order settles it.
                Err(e) if e.problem_type() == Some("orderNotReady") => {
                    Ok(Action::requeue(Duration::from_secs(1)))
                }
                Err(e) => acme_failure(&ctx, &order, &ns, status, e).await,
            }
        }
        OrderStep::Download(url) => {
            let (pem, alternates) = match account.certificate(&url).await {
                Ok(x) => x,
                Err(e) => return acme_failure(&ctx, &order, &ns, status, e).await,
            };
            let preferred = resolved
                .spec
                .acme
                .as_ref()
                .and_then(|a| a.preferred_chain.clone());
            let mut chains = vec![pem];
            // Alternates are only fetched when a preference could pick one of them.
            if preferred.is_some() {
                for alt in &alternates {
                    match account.certificate(alt).await {
                        Ok((p, _)) => chains.push(p),
                        Err(e) => return acme_failure(&ctx, &order, &ns, status, e).await,
                    }
                }
            }
            let pem = plan::choose_chain(&chains, preferred.as_deref())
                .cloned()
                .unwrap_or_default();
            let new = OrderStatus {
                state: Some(AcmeState::Valid),
                certificate: Some(crate::api::Bytes(pem.into_bytes())),
                reason: None,
                ..status.clone()
            };
            write_status(&ctx, &ns, &order, &status, new).await?;
            info!("order valid; certificate stored");
            ctx.acme.slots.release(&order);
            cleanup(&challenges_api, &order).await?;
            Ok(Action::await_change())
        }
        OrderStep::Fail { state, reason } => fail(&ctx, &order, &ns, status, state, reason).await,
    }
}

/// The Challenge spec for one authorization, or why none can be made.
fn desired_challenge(
    order: &Order,
    a: &AcmeAuthorization,
    resolved: &issuer::Resolved,
    account: &acme::Account,
) -> Result<ChallengeSpec, String> {
    let bare = a.identifier.clone().unwrap_or_default();
    let wildcard = a.wildcard == Some(true);
    let name = if wildcard {
        format!("*.{bare}")
    } else {
        bare.clone()
    };
    let solvers = resolved
        .spec
        .acme
        .as_ref()
        .and_then(|s| s.solvers.clone())
        .unwrap_or_default();
    let labels = order.labels().clone();
    let offers = |kind: crate::api::AcmeChallengeType| {
        a.challenges
            .iter()
            .flatten()
            .any(|c| c.r#type == kind.acme_name())
    };
    let (solver, kind) = plan::select_solver(&solvers, &name, &labels, offers).ok_or_else(|| {
        format!(
            "no solver of the issuer can solve a challenge for {name:?} (with a selector that matches it and a challenge type the ACME server offers for it)"
        )
    })?;
    let offered = a
        .challenges
        .iter()
        .flatten()
        .find(|c| c.r#type == kind.acme_name())
        .ok_or_else(|| {
            format!(
                "the ACME server offers no {} challenge for {name:?}",
                kind.acme_name()
            )
        })?;
    let key_auth = account.key().key_authorization(&offered.token);
    Ok(ChallengeSpec {
        url: offered.url.clone(),
        authorization_url: a.url.clone(),
        dns_name: bare,
        wildcard: a.wildcard,
        r#type: kind,
        token: offered.token.clone(),
        key: plan::challenge_key(kind, &key_auth),
        solver: solver.clone(),
        issuer_ref: order.spec.issuer_ref.clone(),
    })
}

/// Deletes the Challenges of a finished Order (they stop being served at once).
async fn cleanup(api: &Api<Challenge>, order: &Order) -> Result<(), Error> {
    let status = order.status.clone().unwrap_or_default();
    for a in status.authorizations.iter().flatten() {
        for kind in [
            crate::api::AcmeChallengeType::Http01,
            crate::api::AcmeChallengeType::Dns01,
        ] {
            let name = plan::challenge_name(&order.name_any(), &a.url, kind);
            match api.delete(&name, &DeleteParams::background()).await {
                Ok(_) | Err(kube::Error::Api(_)) => {}
                Err(e) => return Err(e).ctx("deleting a Challenge"),
            }
        }
    }
    Ok(())
}

async fn wait_for_issuer(
    ctx: &Context,
    order: &Order,
    ns: &str,
    status: OrderStatus,
    e: IssuerError,
) -> Result<Action, Error> {
    if e.is_transient() || !matches!(e, IssuerError::Acme(_)) {
        let new = OrderStatus {
            reason: Some(format!("waiting for the issuer: {e}")),
            ..status.clone()
        };
        write_status(ctx, ns, order, &status, new).await?;
        return Ok(Action::requeue(Duration::from_secs(10)));
    }
    fail(ctx, order, ns, status, AcmeState::Errored, e.to_string()).await
}

/// An ACME call failed: transient trouble retries with backoff, a refusal ends the order.
async fn acme_failure(
    ctx: &Context,
    order: &Order,
    ns: &str,
    status: OrderStatus,
    e: acme::Error,
) -> Result<Action, Error> {
    if e.is_transient() {
        warn!(error = %e, "ACME call failed; will retry");
        return Err(Error::Invalid(e.to_string()));
    }
    let state = if status.url.is_some() {
        AcmeState::Invalid
    } else {
        AcmeState::Errored
    };
    fail(ctx, order, ns, status, state, e.to_string()).await
}

async fn fail(
    ctx: &Context,
    order: &Order,
    ns: &str,
    status: OrderStatus,
    state: AcmeState,
    reason: String,
) -> Result<Action, Error> {
    warn!(state = state.as_str(), %reason, "order failed");
    ctx.acme.slots.release(order);
    let t = Time(k8s_openapi::jiff::Timestamp::try_from(ctx.now()).unwrap_or_default());
    let new = OrderStatus {
        state: Some(state),
        reason: Some(reason.clone()),
        failure_time: Some(t),
        ..status.clone()
    };
    write_status(ctx, ns, order, &status, new).await?;
    ctx.event(order, true, "OrderFailed", reason).await;
    Ok(Action::await_change())
}

async fn write_status(
    ctx: &Context,
    ns: &str,
    order: &Order,
    old: &OrderStatus,
    new: OrderStatus,
) -> Result<(), Error> {
    if &new == old {
        return Ok(());
    }
    let patch = serde_json::json!({
        "apiVersion": "acme.cert-manager.io/v1",
        "kind": "Order",
        "status": new,
    });
    Api::<Order>::namespaced(ctx.client.clone(), ns)
        .patch_status(
            &order.name_any(),
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .ctx("writing Order status")?;
    Ok(())
}
