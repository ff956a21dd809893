//! A CertificateRequest for an ACME issuer: exactly one Order, named from the request's UID
//! and owned by it; the request follows the Order and takes its chain once it is valid.
use kube::api::PostParams;
use kube::{Api, Resource, ResourceExt};
use tracing::info;

use crate::api::acme_order::AcmeState;
use crate::api::{Certificate, CertificateRequest, Order};
use crate::controller::secret::ann;
use crate::issuer::acme::plan;
use crate::issuer::{IssuerError, Resolved, Signed};

use super::super::Context;

/// Where an ACME request stands.
#[derive(Debug)]
pub enum Outcome {
    /// The Order is valid: here is its chain.
    Issued(Signed),
    /// Still in progress (message for the Ready condition).
    Pending(String),
    /// Failed for good: reason and message.
    Failed(&'static str, String),
}

/// Creates the request's Order if it has none, and reports the Order's progress.
pub async fn reconcile(
    ctx: &Context,
    cr: &CertificateRequest,
    ns: &str,
    issuer: &Resolved,
) -> Result<Outcome, IssuerError> {
    let uid = cr.metadata.uid.clone().unwrap_or_default();
    let name = plan::order_name(&cr.name_any(), &uid);
    let orders = Api::<Order>::namespaced(ctx.client.clone(), ns);
    let Some(order) = orders.get_opt(&name).await? else {
        let profile = issuer.spec.acme.as_ref().and_then(|a| a.profile.clone());
        let spec = match plan::order_spec(&cr.spec, profile) {
            Ok(s) => s,
            Err(msg) => return Ok(Outcome::Failed("InvalidOrder", msg)),
        };
        let mut spec = spec;
        spec.replaces = replaces(ctx, cr, ns).await?;
        let mut order = Order::new(&name, spec);
        order.metadata.namespace = Some(ns.to_string());
        order.metadata.owner_references = cr.controller_owner_ref(&()).map(|r| vec![r]);
        order.metadata.labels = Some(cr.labels().clone()).filter(|l| !l.is_empty());
        match orders.create(&PostParams::default(), &order).await {
            Ok(_) => info!(order = %name, "created Order"),
            // Created by an earlier attempt whose answer was lost: the same Order, by name.
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
        return Ok(Outcome::Pending(format!(
            "Created Order resource {ns}/{name}"
        )));
    };
    let status = order.status.clone().unwrap_or_default();
    match status.state {
        Some(AcmeState::Valid) => match status.certificate {
            Some(chain) if !chain.0.is_empty() => Ok(Outcome::Issued(Signed {
                certificate: String::from_utf8_lossy(&chain.0).into_owned(),
                ca: None,
            })),
            _ => Ok(Outcome::Pending(format!(
                "Waiting on certificate issuance from order {ns}/{name}: the order is valid but holds no certificate yet"
            ))),
        },
        Some(s) if s.is_failure() => Ok(Outcome::Failed(
            "OrderFailed",
            format!(
                "Failed to wait for order resource {ns}/{name} to become ready: order is in {:?} state: {}",
                s.as_str(),
                status.reason.unwrap_or_default()
            ),
        )),
        s => Ok(Outcome::Pending(format!(
            "Waiting on certificate issuance from order {ns}/{name}: {:?}{}",
            s.map(AcmeState::as_str).unwrap_or(""),
            status
                .reason
                .and_then(|r| {
                    r.strip_prefix(plan::WAITING_FOR_CHALLENGES)
                        .and_then(|stuck| stuck.strip_prefix(": "))
                        .map(|stuck| format!(": {stuck}"))
                })
                .unwrap_or_default()
        ))),
    }
}

/// The certificate a renewal replaces (RFC 9773 `replaces`): the one whose renewal
/// information the ACME side recorded on the request's Certificate, which is the certificate
/// in its Secret. None for a first issuance, a request made outside a Certificate, or a
/// Certificate whose issuer offers no renewal information. Whether the server accepts it is
/// settled when the order is placed.
async fn replaces(
    ctx: &Context,
    cr: &CertificateRequest,
    ns: &str,
) -> Result<Option<String>, IssuerError> {
    let Some(cert_name) = cr.annotations().get(ann::CERTIFICATE_NAME) else {
        return Ok(None);
    };
    let cert = Api::<Certificate>::namespaced(ctx.client.clone(), ns)
        .get_opt(cert_name)
        .await?;
    Ok(cert
        .and_then(|c| c.status)
        .and_then(|s| s.acme)
        .and_then(|a| a.ari)
        .and_then(|a| a.cert_id))
}
