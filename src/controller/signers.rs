//! Signing backends loaded for CertificateRequests, kept for a few seconds. Loading a CA
//! backend reads the issuer and its Secret (we do not cache Secrets that are not ours, so the
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

/// How long a loaded backend is reused.
pub const TTL: Duration = Duration::from_secs(10);

/// A resolved issuer with its loaded backend.
pub struct Loaded {
    pub issuer: Resolved,
    pub signer: Signer,
}

/// (kind, namespace of an Issuer or "" for a ClusterIssuer, name)
type Key = (String, String, String);

#[derive(Default)]
pub struct Signers {
    loaded: Mutex<HashMap<Key, (SystemTime, Arc<Loaded>)>>,
}

impl Signers {
    /// The backend for `iref` as seen from `namespace`, loaded at most [`TTL`] before `now`.
    pub async fn get(
        &self,
        client: &Client,
        iref: &IssuerRef,
        namespace: &str,
        cluster_resource_namespace: &str,
        now: SystemTime,
    ) -> Result<Arc<Loaded>, IssuerError> {
        let key = key(iref, namespace);
        if let Some(hit) = self.fresh(&key, now) {
            return Ok(hit);
        }
        let issuer = issuer::resolve(client, iref, namespace, cluster_resource_namespace).await?;
        let signer = Signer::load(client, &issuer, now).await?;
        let loaded = Arc::new(Loaded { issuer, signer });
        let mut map = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        // Entries of issuers nobody asks for any more would otherwise stay forever.
        map.retain(|_, (at, _)| is_fresh(*at, now));
        map.insert(key, (now, loaded.clone()));
        Ok(loaded)
    }

    /// Drops the backend for `iref`, so the next request loads it anew (after a signing
    /// failure that a changed Secret may explain).
    pub fn forget(&self, iref: &IssuerRef, namespace: &str) {
        let mut map = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&key(iref, namespace));
    }

    fn fresh(&self, key: &Key, now: SystemTime) -> Option<Arc<Loaded>> {
        let map = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|(at, _)| is_fresh(*at, now))
            .map(|(_, l)| l.clone())
    }
}

fn key(iref: &IssuerRef, namespace: &str) -> Key {
    let kind = iref.kind_or_default().to_string();
    let ns = if kind == "ClusterIssuer" {
        ""
    } else {
        namespace
    };
    (kind, ns.to_string(), iref.name.clone())
}

/// A clock that went backwards counts as stale.
fn is_fresh(loaded_at: SystemTime, now: SystemTime) -> bool {
    now.duration_since(loaded_at).is_ok_and(|age| age < TTL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iref(kind: Option<&str>, name: &str) -> IssuerRef {
        IssuerRef {
            name: name.into(),
            kind: kind.map(Into::into),
            group: None,
        }
    }

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
        assert_ne!(key(&iref(None, "ca"), "a"), key(&iref(None, "ca"), "b"));
        assert_eq!(
            key(&iref(Some("ClusterIssuer"), "ca"), "a"),
            key(&iref(Some("ClusterIssuer"), "ca"), "b")
        );
        assert_ne!(
            key(&iref(Some("Issuer"), "ca"), "a"),
            key(&iref(Some("ClusterIssuer"), "ca"), "a")
        );
    }
}
