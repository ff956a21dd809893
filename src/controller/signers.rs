//! Issuers and their signing backends, kept for a few seconds. Resolving an issuer reads it,
//! and loading a CA backend reads its Secret (we do not cache Secrets that are not ours, so the
//! read goes to the apiserver); a burst of requests against one CA, such as a new namespace or
//! a mass renewal, would otherwise read both once per request. A changed issuer or CA Secret is
//! picked up within [`TTL`]: a request signed meanwhile gets the CA the Secret held moments
//! ago, which passed the same checks. Failures are never kept: a missing issuer is looked up
//! again on the next request.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use kube::Client;

use crate::api::IssuerRef;
use crate::issuer::{self, IssuerError, Resolved, Signer};

/// How long a resolved issuer or a loaded backend is reused.
pub const TTL: Duration = Duration::from_secs(10);

/// (kind, namespace of an Issuer or "" for a ClusterIssuer, name)
type Key = (String, String, String);

/// Entries with the time they were loaded.
struct Timed<T>(Mutex<HashMap<Key, (SystemTime, Arc<T>)>>);

impl<T> Default for Timed<T> {
    fn default() -> Self {
        Timed(Mutex::new(HashMap::new()))
    }
}

impl<T> Timed<T> {
    fn fresh(&self, key: &Key, now: SystemTime) -> Option<Arc<T>> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|(at, _)| is_fresh(*at, now))
            .map(|(_, v)| v.clone())
    }

    fn put(&self, key: Key, value: Arc<T>, now: SystemTime) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Entries of issuers nobody asks for any more would otherwise stay forever.
        map.retain(|_, (at, _)| is_fresh(*at, now));
        map.insert(key, (now, value));
    }

    fn remove(&self, key: &Key) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

#[derive(Default)]
pub struct Signers {
    resolved: Timed<Resolved>,
    loaded: Timed<Signer>,
}

impl Signers {
    /// The issuer `iref` names as seen from `namespace`, read at most [`TTL`] before `now`.
    pub async fn resolve(
        &self,
        client: &Client,
        iref: &IssuerRef,
        namespace: &str,
        cluster_resource_namespace: &str,
        now: SystemTime,
    ) -> Result<Arc<Resolved>, IssuerError> {
        let key = key(&iref.name, iref.kind_or_default(), namespace);
        if let Some(hit) = self.resolved.fresh(&key, now) {
            return Ok(hit);
        }
        let r =
            Arc::new(issuer::resolve(client, iref, namespace, cluster_resource_namespace).await?);
        self.resolved.put(key, r.clone(), now);
        Ok(r)
    }

    /// The signing backend of a resolved issuer, loaded at most [`TTL`] before `now`.
    pub async fn signer(
        &self,
        client: &Client,
        issuer: &Resolved,
        now: SystemTime,
    ) -> Result<Arc<Signer>, IssuerError> {
        let key = key(&issuer.name, issuer.kind, &issuer.secret_namespace);
        if let Some(hit) = self.loaded.fresh(&key, now) {
            return Ok(hit);
        }
        let s = Arc::new(Signer::load(client, issuer, now).await?);
        self.loaded.put(key, s.clone(), now);
        Ok(s)
    }

    /// Drops what is kept for `iref`, so the next request reads it anew (after a signing
    /// failure that a changed issuer or Secret may explain).
    pub fn forget(&self, iref: &IssuerRef, namespace: &str) {
        let k = key(&iref.name, iref.kind_or_default(), namespace);
        self.resolved.remove(&k);
        self.loaded.remove(&k);
    }
}

/// ClusterIssuers are one per cluster whatever namespace asks; Issuers are per namespace.
fn key(name: &str, kind: &str, namespace: &str) -> Key {
    let ns = if kind == "ClusterIssuer" {
        ""
    } else {
        namespace
    };
    (kind.to_string(), ns.to_string(), name.to_string())
}

/// A clock that went backwards counts as stale.
fn is_fresh(loaded_at: SystemTime, now: SystemTime) -> bool {
    now.duration_since(loaded_at).is_ok_and(|age| age < TTL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_is_bounded_by_the_ttl_and_a_clock_going_back_is_stale() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert!(is_fresh(t, t));
        assert!(is_fresh(t, t + TTL - Duration::from_millis(1)));
        assert!(!is_fresh(t, t + TTL));
        assert!(!is_fresh(t, t - Duration::from_secs(1)));
    }

    #[test]
    fn issuers_are_per_namespace_and_cluster_issuers_are_not() {
        assert_ne!(key("ca", "Issuer", "a"), key("ca", "Issuer", "b"));
        assert_eq!(
            key("ca", "ClusterIssuer", "a"),
            key("ca", "ClusterIssuer", "b")
        );
        assert_ne!(key("ca", "Issuer", "a"), key("ca", "ClusterIssuer", "a"));
    }

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let m: Timed<u8> = Timed::default();
        let k = key("ca", "Issuer", "a");
        m.put(k.clone(), Arc::new(1), t);
        assert_eq!(m.fresh(&k, t + Duration::from_secs(1)).as_deref(), Some(&1));
        assert!(m.fresh(&k, t + TTL).is_none());
        m.remove(&k);
        assert!(m.fresh(&k, t).is_none());
    }
}
