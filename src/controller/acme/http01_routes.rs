//! Writing the routing objects of an HTTP-01 Challenge ([`solver::routing`]) and taking back
//! what is not garbage collected with it.
//!
//! The Service, EndpointSlice and a new Ingress or HTTPRoute are owned by the Challenge and
//! written by server-side apply. The rule added to a user's Ingress (`ingress.name`) is not
//! ours to own: it is added by a conditional read-modify-write (see
//! [`crate::issuer::acme::ingress_edit`] for why not apply) under a finalizer on the
//! Challenge, and [`release`] removes it, then the finalizer, once the Challenge is final or
//! being deleted. A crash anywhere in between leaves the finalizer, so the rule is always
//! removed by a later pass.
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use tracing::info;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressRule};

use crate::api::Challenge;
use crate::issuer::acme::httproute::HttpRoute;
use crate::issuer::acme::ingress_edit;
use crate::issuer::acme::solver::{self, Route, Routing};

use super::super::error::KubeContext;
use super::super::{Context, Error, MANAGER};

/// Holds a Challenge until the rule it added to a user's Ingress is removed.
pub const FINALIZER: &str = "certwright.dev/http01-ingress-rule";

/// Writes `routing` for `ch` in `ns`. Fails (retried with backoff) on an API error, a named
/// Ingress that does not exist, or a concurrent edit of it.
pub async fn apply(ctx: &Context, ns: &str, ch: &Challenge, routing: Routing) -> Result<(), Error> {
    let pp = PatchParams::apply(MANAGER).force();
    let name = routing.service.metadata.name.clone().unwrap_or_default();
    // Apply creates when missing; the apiserver checks "create" for that, "patch" otherwise.
    Api::<Service>::namespaced(ctx.client.clone(), ns)
        .patch(&name, &pp, &Patch::Apply(&routing.service))
        .await
        .ctx("applying the HTTP-01 Service")?;
    Api::<EndpointSlice>::namespaced(ctx.client.clone(), ns)
        .patch(&name, &pp, &Patch::Apply(&routing.endpoint_slice))
        .await
        .ctx("applying the HTTP-01 EndpointSlice")?;
    match routing.route {
        Route::Ingress(ingress) => {
            Api::<Ingress>::namespaced(ctx.client.clone(), ns)
                .patch(&name, &pp, &Patch::Apply(&ingress))
                .await
                .ctx("applying the HTTP-01 Ingress")?;
        }
        Route::HttpRoute(route) => {
            Api::<HttpRoute>::namespaced(ctx.client.clone(), ns)
                .patch(&name, &pp, &Patch::Apply(route.to_apply()))
                .await
                .ctx("applying the HTTP-01 HTTPRoute")?;
        }
        Route::EditIngress {
            name: ingress,
            rule,
        } => {
            set_finalizer(ctx, ns, ch, true).await?;
            add_rule(ctx, ns, &ingress, &rule, &name).await?;
        }
    }
    Ok(())
}

/// Removes what [`apply`] added to a user's Ingress, then the finalizer. Makes no request when
/// the Challenge holds no finalizer of ours.
pub async fn release(ctx: &Context, ch: &Challenge) -> Result<(), Error> {
    if !ch.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(());
    }
    let ns = ch.namespace().unwrap_or_default();
    let named = ch
        .spec
        .solver
        .http01
        .as_ref()
        .and_then(|h| h.ingress.as_ref())
        .and_then(|i| i.name.clone());
    if let Some(ingress) = named {
        let service = solver::object_name(ch.metadata.uid.as_deref().unwrap_or_default());
        remove_rules(ctx, &ns, &ingress, &service).await?;
    }
    set_finalizer(ctx, &ns, ch, false).await
}

async fn add_rule(
    ctx: &Context,
    ns: &str,
    ingress: &str,
    rule: &IngressRule,
    service: &str,
) -> Result<(), Error> {
    let api = Api::<Ingress>::namespaced(ctx.client.clone(), ns);
    let current = api
        .get_opt(ingress)
        .await
        .ctx("reading the Ingress named by the HTTP-01 solver")?
        .ok_or_else(|| {
            Error::Invalid(format!(
                "the Ingress {ingress:?} that the HTTP-01 solver's ingress.name names does not exist in namespace {ns}"
            ))
        })?;
    let rules = current.spec.as_ref().and_then(|s| s.rules.as_deref());
    let Some(new) = ingress_edit::with_rule(rules, rule, service) else {
        return Ok(());
    };
    write_rules(&api, &current, Some(new)).await?;
    info!(ingress, "added the HTTP-01 challenge rule to the Ingress");
    Ok(())
}

async fn remove_rules(ctx: &Context, ns: &str, ingress: &str, service: &str) -> Result<(), Error> {
    let api = Api::<Ingress>::namespaced(ctx.client.clone(), ns);
    // Gone: nothing of ours is left to remove.
    let Some(current) = api
        .get_opt(ingress)
        .await
        .ctx("reading the Ingress named by the HTTP-01 solver")?
    else {
        return Ok(());
    };
    let rules = current.spec.as_ref().and_then(|s| s.rules.as_deref());
    let Some(new) = ingress_edit::without_ours(rules, service) else {
        return Ok(());
    };
    write_rules(&api, &current, new).await?;
    info!(
        ingress,
        "removed the HTTP-01 challenge rule from the Ingress"
    );
    Ok(())
}

/// Writes `spec.rules` (None: removes the field) unless the Ingress changed since it was read
/// (409, retried from a fresh read).
async fn write_rules(
    api: &Api<Ingress>,
    current: &Ingress,
    rules: Option<Vec<IngressRule>>,
) -> Result<(), Error> {
    let patch = serde_json::json!({
        "metadata": { "resourceVersion": current.resource_version() },
        "spec": { "rules": rules },
    });
    api.patch(
        &current.name_any(),
        &PatchParams {
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        },
        &Patch::Merge(patch),
    )
    .await
    .ctx("writing the rules of the Ingress named by the HTTP-01 solver")?;
    Ok(())
}

/// Adds (`on`) or removes our finalizer, conditionally on the Challenge's resourceVersion so
/// another writer's finalizers are never lost. No request when already so.
async fn set_finalizer(ctx: &Context, ns: &str, ch: &Challenge, on: bool) -> Result<(), Error> {
    let mut finalizers: Vec<String> = ch.finalizers().to_vec();
    let has = finalizers.iter().any(|f| f == FINALIZER);
    if has == on {
        return Ok(());
    }
    if on {
        finalizers.push(FINALIZER.to_string());
    } else {
        finalizers.retain(|f| f != FINALIZER);
    }
    let patch = serde_json::json!({
        "metadata": { "resourceVersion": ch.resource_version(), "finalizers": finalizers },
    });
    Api::<Challenge>::namespaced(ctx.client.clone(), ns)
        .patch(
            &ch.name_any(),
            &PatchParams {
                field_manager: Some(MANAGER.into()),
                ..Default::default()
            },
            &Patch::Merge(patch),
        )
        .await
        .ctx("setting the Challenge's finalizer")?;
    Ok(())
}
