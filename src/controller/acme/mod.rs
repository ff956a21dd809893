//! The ACME controllers: Orders ([`orders`]), Challenges ([`challenges`]) and the HTTP-01
//! listener ([`http01`]) that answers for the Challenges being presented. CertificateRequests
//! for ACME issuers reach [`requests`] from the request controller.
pub mod challenges;
pub mod http01;
pub mod orders;
pub mod requests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::Context;

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

/// The wait after `failures` consecutive failures.
pub fn delay(failures: u32) -> Duration {
    const BASE: u64 = 5;
    const MAX: u64 = 300;
    let exp = failures.saturating_sub(1).min(16);
    Duration::from_secs(BASE.saturating_mul(1 << exp).min(MAX))
}

/// Runs the Order and Challenge controllers, and the HTTP-01 listener when an address is set.
pub async fn run(ctx: Arc<Context>) {
    let (store, challenges) = challenges::controller(ctx.clone());
    let orders = orders::controller(ctx.clone());
    let listener = async {
        if let Some(addr) = ctx.settings.acme_http01_listen {
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
}
