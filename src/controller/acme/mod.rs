//! The ACME controllers: Orders ([`orders`]), Challenges ([`challenges`]) and the HTTP-01
//! listener ([`http01`]) that answers for the Challenges being presented. CertificateRequests
//! for ACME issuers reach [`requests`] from the request controller.
pub mod ari;
pub mod challenges;
pub mod dns01;
pub mod http01;
pub mod http01_routes;
pub mod orders;
pub mod requests;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Context;
use crate::api::Order;
use crate::api::acme_order::AcmeState;

/// Exponential backoff for Orders and Challenges whose ACME or API calls fail: 5s, 10s, 20s,
/// ... up to 5 minutes, per object, reset by a successful pass. A CA that is down or rate
/// limiting is thus asked less and less often instead of every few seconds.
#[derive(Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Records one more failure of `key` and returns how long to wait.
    pub fn failed(&self, key: &str) -> Duration {
        let n = self
            .failures
            .lock()
            .map(|mut m| {
                let n = m.entry(key.to_string()).or_insert(0);
                *n = n.saturating_add(1);
                *n
            })
            .unwrap_or(1);
        delay(n)
    }

    /// Forgets the failures of `key`.
    pub fn succeeded(&self, key: &str) {
        if let Ok(mut m) = self.failures.lock() {
            m.remove(key);
        }
    }
}

/// The per-issuer cap on orders in flight at the ACME server (placed, not final).
///
/// The Order cache lags our own status writes, so orders this process just placed are also
/// remembered here until they are final; counted only while the cache still shows them
/// unfinished, so a deleted Order never holds a slot.
#[derive(Default)]
pub struct OrderSlots {
    reserved: Mutex<HashMap<String, HashSet<String>>>,
}

/// The issuer an Order's account belongs to, as a slot key.
pub fn issuer_key(o: &Order) -> String {
    let r = &o.spec.issuer_ref;
    let ns = if r.kind_or_default() == "ClusterIssuer" {
        String::new()
    } else {
        o.metadata.namespace.clone().unwrap_or_default()
    };
    format!("{}/{ns}/{}", r.kind_or_default(), r.name)
}

impl OrderSlots {
    /// Takes a slot for `order` unless `cap` orders of its issuer are in flight (0: no cap);
    /// on refusal returns how many are.
    pub fn try_take(&self, order: &Order, known: &[Arc<Order>], cap: usize) -> Result<(), usize> {
        let key = issuer_key(order);
        let uid = order.metadata.uid.clone().unwrap_or_default();
        let Ok(mut reserved) = self.reserved.lock() else {
            return Ok(());
        };
        let mine = reserved.entry(key.clone()).or_default();
        let unfinished = |o: &Order| {
            !o.status
                .as_ref()
                .and_then(|s| s.state)
                .is_some_and(AcmeState::is_final)
        };
        let mut in_flight: HashSet<String> = known
            .iter()
            .filter(|o| issuer_key(o) == key && unfinished(o))
            .filter(|o| o.status.as_ref().is_some_and(|s| s.url.is_some()))
            .filter_map(|o| o.metadata.uid.clone())
            .collect();
        in_flight.extend(
            known
                .iter()
                .filter(|o| unfinished(o))
                .filter_map(|o| o.metadata.uid.clone())
                .filter(|u| mine.contains(u)),
        );
        in_flight.remove(&uid);
        if cap > 0 && in_flight.len() >= cap {
            return Err(in_flight.len());
        }
        mine.insert(uid);
        Ok(())
    }

    /// Gives back the slot of an order that is final (or failed to be placed).
    pub fn release(&self, order: &Order) {
        let uid = order.metadata.uid.clone().unwrap_or_default();
        if let Ok(mut reserved) = self.reserved.lock() {
            for set in reserved.values_mut() {
                set.remove(&uid);
            }
        }
    }
}

/// The wait after `failures` consecutive failures.
pub fn delay(failures: u32) -> Duration {
    const BASE: u64 = 5;
    const MAX: u64 = 300;
    let exp = failures.saturating_sub(1).min(16);
    Duration::from_secs(BASE.saturating_mul(1 << exp).min(MAX))
}

/// Settings of the ACME controllers (flags of `certwright controller`).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Where the HTTP-01 listener answers challenges (off when `None`).
    pub http01_listen: Option<std::net::SocketAddr>,
    /// This Pod's IP, where per-challenge Ingresses route HTTP-01 (none outside a cluster).
    pub http01_solver_ip: Option<std::net::IpAddr>,
    /// Where the HTTP-01 self check connects instead of resolving the challenge's host.
    pub http01_self_check_address: Option<std::net::SocketAddr>,
    /// Most orders of one issuer in progress at the server at once (0: no cap).
    pub max_concurrent_orders: usize,
    /// DNS-01 lookups and propagation checks.
    pub dns01: dns01::Settings,
}

/// What the ACME controllers share within the process.
#[derive(Default)]
pub struct State {
    /// Registered accounts.
    pub accounts: crate::issuer::acme::Accounts,
    /// Backoff of failing Orders and Challenges.
    pub backoff: Backoff,
    /// Orders in flight per issuer.
    pub slots: OrderSlots,
    /// What the renewal-information hook learnt not to ask again.
    pub ari_skips: ari::Skips,
}

/// Runs the Order and Challenge controllers, and the HTTP-01 listener when an address is set.
pub async fn run(ctx: Arc<Context>) {
    let (store, challenges) = challenges::controller(ctx.clone());
    let orders = orders::controller(ctx.clone());
    let listener = async {
        if let Some(addr) = ctx.settings.acme.http01_listen {
            http01::serve(addr, store).await;
        }
    };
    // The listener runs until the process ends; the controllers end on SIGTERM, and so
    // does the process after them.
    let controllers = async { tokio::join!(challenges, orders) };
    tokio::pin!(controllers);
    tokio::select! {
        _ = &mut controllers => {}
        // The listener only returns when it could not bind: keep the controllers going.
        _ = listener => { controllers.await; }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes_and_resets() {
        assert_eq!(delay(1), Duration::from_secs(5));
        assert_eq!(delay(2), Duration::from_secs(10));
        assert_eq!(delay(4), Duration::from_secs(40));
        assert_eq!(delay(10), Duration::from_secs(300));
        assert_eq!(delay(u32::MAX), Duration::from_secs(300));
        let b = Backoff::default();
        assert_eq!(b.failed("a"), Duration::from_secs(5));
        assert_eq!(b.failed("a"), Duration::from_secs(10));
        assert_eq!(b.failed("b"), Duration::from_secs(5));
        b.succeeded("a");
        assert_eq!(b.failed("a"), Duration::from_secs(5));
    }

    fn order(name: &str, issuer: &str, url: bool, state: Option<AcmeState>) -> Arc<Order> {
        let mut o = Order::new(
            name,
            crate::api::OrderSpec {
                issuer_ref: crate::api::IssuerRef {
                    name: issuer.into(),
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        o.metadata.namespace = Some("ns".into());
        o.metadata.uid = Some(format!("uid-{name}"));
        o.status = Some(crate::api::OrderStatus {
            url: url.then(|| format!("https://ca/order/{name}")),
            state,
            ..Default::default()
        });
        Arc::new(o)
    }

    #[test]
    fn slots_cap_orders_in_flight_per_issuer() {
        let slots = OrderSlots::default();
        let a = order("a", "le", true, Some(AcmeState::Pending));
        let b = order("b", "le", false, None);
        let c = order("c", "le", false, None);
        let other = order("x", "other", true, Some(AcmeState::Pending));
        let done = order("d", "le", true, Some(AcmeState::Valid));
        let known = vec![a.clone(), b.clone(), c.clone(), other.clone(), done.clone()];
        // a is in flight (placed, unfinished); the valid one and the other issuer's do not count.
        assert_eq!(slots.try_take(&b, &known, 1), Err(1));
        assert_eq!(slots.try_take(&b, &known, 2), Ok(()));
        // b holds a slot before the cache shows its URL: c is refused at cap 2.
        assert_eq!(slots.try_take(&c, &known, 2), Err(2));
        slots.release(&b);
        assert_eq!(slots.try_take(&c, &known, 2), Ok(()));
        // No cap at 0; an order already holding a slot is not counted against itself.
        assert_eq!(slots.try_take(&c, &known, 0), Ok(()));
        assert_eq!(slots.try_take(&a, &known, 2), Ok(()));
    }
}
