//! `/livez` and `/readyz`: what a replica tells the kubelet.
//!
//! - **livez** answers 200 while the process serves HTTP. A leader that cannot renew its Lease
//!   does not linger unhealthy: it exits (see [`crate::leader`]), so liveness has nothing more
//!   to watch.
//! - **readyz** answers 200 on a leader once every cache its controllers read has synced
//!   (listed once from the API), and on a standby as soon as it is waiting for the Lease. A
//!   standby is ready by design: readiness gates rolling updates, and a new pod that can never
//!   become ready while the old one leads would stall every rollout. Before either (connecting,
//!   or a leader still listing) it answers 503 with the caches still missing.
use std::sync::Mutex;

use futures::FutureExt;
use kube::runtime::reflector::Store;

/// The caches a leader must have synced before it is ready, by the name each controller
/// registers them under. A cache not registered yet counts as not synced.
pub const CACHES: &[&str] = &[
    "certificates",
    "certificaterequests",
    "secrets",
    "requests",
    "issuers",
    "clusterissuers",
];

/// What this replica is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Connecting, or not yet past its first Lease attempt.
    Starting,
    /// Another replica holds the Lease; this one waits to take over.
    Standby,
    /// Runs the controllers (holds the Lease, or leader election is off).
    Leader,
}

type Synced = Box<dyn Fn() -> bool + Send + Sync>;

pub struct Health {
    role: Mutex<Role>,
    caches: Mutex<Vec<(&'static str, Synced)>>,
}

impl Default for Health {
    fn default() -> Self {
        Self {
            role: Mutex::new(Role::Starting),
            caches: Mutex::new(Vec::new()),
        }
    }
}

impl Health {
    pub fn set_role(&self, role: Role) {
        *self.role.lock().unwrap_or_else(|e| e.into_inner()) = role;
    }

    pub fn role(&self) -> Role {
        *self.role.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a controller's cache under one of the [`CACHES`] names.
    pub fn register_cache<K>(&self, name: &'static str, store: Store<K>)
    where
        K: kube::Resource + Clone + Send + Sync + 'static,
        K::DynamicType: Eq + std::hash::Hash + Clone + Send + Sync,
    {
        // `wait_until_ready` resolves once the first list has been applied; polling it once
        // never blocks.
        let synced: Synced =
            Box::new(move || matches!(store.wait_until_ready().now_or_never(), Some(Ok(()))));
        self.caches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, synced));
    }

    /// Always ready to answer while the process serves requests.
    pub fn livez(&self) -> (bool, String) {
        (true, "ok\n".into())
    }

    /// Ready, and a body saying why or why not.
    pub fn readyz(&self) -> (bool, String) {
        match self.role() {
            Role::Starting => (false, "starting: not connected or not elected yet\n".into()),
            Role::Standby => (true, "standby: waiting for the leader's Lease\n".into()),
            Role::Leader => {
                let caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
                let pending: Vec<&str> = CACHES
                    .iter()
                    .copied()
                    .filter(|want| !caches.iter().any(|(n, synced)| n == want && synced()))
                    .collect();
                if pending.is_empty() {
                    (true, "ok: leader, caches synced\n".into())
                } else {
                    (
                        false,
                        format!("leader, caches not synced yet: {}\n", pending.join(", ")),
                    )
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Certificate;
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    #[test]
    fn a_leader_is_ready_only_when_every_cache_has_synced() {
        let h = Health::default();
        assert!(!h.readyz().0, "starting");
        h.set_role(Role::Standby);
        assert!(h.readyz().0, "a standby is ready");
        h.set_role(Role::Leader);
        let mut writers = Vec::new();
        for name in CACHES {
            let (store, writer) = reflector::store::<Certificate>();
            h.register_cache(name, store);
            writers.push(writer);
        }
        let (ok, body) = h.readyz();
        assert!(!ok && body.contains("certificates"), "{body}");
        for w in &mut writers[..CACHES.len() - 1] {
            w.apply_watcher_event(&Event::InitDone);
        }
        let (ok, body) = h.readyz();
        assert!(
            !ok && body.contains("clusterissuers") && !body.contains("issuers,"),
            "{body}"
        );
        writers
            .last_mut()
            .unwrap()
            .apply_watcher_event(&Event::InitDone);
        assert_eq!(h.readyz(), (true, "ok: leader, caches synced\n".into()));
        assert!(h.livez().0);
    }
}
