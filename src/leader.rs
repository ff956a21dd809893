//! Leader election on a `coordination.k8s.io/v1` Lease, so that of several replicas exactly one
//! runs the controllers.
//!
//! The protocol is client-go's, written small:
//! - **Acquire**: read the Lease; take it when it is missing, released (no holder) or expired.
//!   Every take is a create or a `resourceVersion`-conditional update, so of two candidates
//!   racing for the same Lease the apiserver lets exactly one through (the other gets 409).
//! - **Expiry is judged on the local monotonic clock**: a candidate notes when it first saw the
//!   Lease's current `resourceVersion` and deems it expired `leaseDurationSeconds` after that.
//!   The holder's `renewTime` is informational only, so clock skew between nodes does not matter.
//! - **Renew**: every retry period, a conditional update of `renewTime`. The leader gives up
//!   (and the process exits) when no renewal has succeeded for the renew deadline, measured from
//!   when that renewal was *sent*, or at once when it finds another holder. Since the renew
//!   deadline is shorter than the lease duration, a leader cut off from the apiserver has
//!   stopped before any other replica can deem its Lease expired.
//! - **Release**: on a clean shutdown the leader clears the holder, so a standby takes over at
//!   its next retry instead of waiting out the lease.
//!
//! Why not a crate: kube-runtime 5 has no leader election, `kube-leader-election` needs kube 4,
//! and `kube-lease-manager` (kube 5) keeps telling a leader that it leads while its renewals
//! fail (it has no renew deadline), judges expiry from the holder's `renewTime` against the local
//! wall clock, and counts durations in whole seconds.
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::time::Instant;

/// The Lease's name; its namespace is `--leader-election-namespace`.
pub const LEASE_NAME: &str = "certwright-controller";

/// Timings and identity of one candidate.
#[derive(Debug, Clone)]
pub struct Params {
    pub namespace: String,
    pub name: String,
    /// Unique among the candidates: the pod name plus a per-process suffix.
    pub identity: String,
    /// How long a standby waits after the Lease last changed before it takes it.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up.
    pub renew_deadline: Duration,
    /// The pause between attempts, to acquire or to renew.
    pub retry_period: Duration,
}

/// Why a set of timings is refused; the message names the flags.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParamsError {
    #[error(
        "--leader-election-renew-deadline ({renew:?}) must be shorter than --leader-election-lease-duration ({lease:?}): a leader must give up before a standby may take over"
    )]
    RenewNotBelowLease { renew: Duration, lease: Duration },
    #[error(
        "--leader-election-retry-period ({retry:?}) must be shorter than --leader-election-renew-deadline ({renew:?}): the leader needs more than one try per deadline"
    )]
    RetryNotBelowRenew { retry: Duration, renew: Duration },
    #[error(
        "--leader-election-lease-duration must be at least 1s (the Lease counts whole seconds)"
    )]
    LeaseTooShort,
}

impl Params {
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.lease_duration < Duration::from_secs(1) {
            return Err(ParamsError::LeaseTooShort);
        }
        if self.renew_deadline >= self.lease_duration {
            return Err(ParamsError::RenewNotBelowLease {
                renew: self.renew_deadline,
                lease: self.lease_duration,
            });
        }
        if self.retry_period >= self.renew_deadline {
            return Err(ParamsError::RetryNotBelowRenew {
                retry: self.retry_period,
                renew: self.renew_deadline,
            });
        }
        Ok(())
    }
}

/// An identity unique to this process: `<pod or host name>_<suffix>`, the suffix from the pid
/// and the start time so two processes on one host differ.
pub fn identity() -> String {
    let host = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "certwright".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    format!("{host}_{:x}{:08x}", std::process::id(), nanos)
}

/// What a candidate does with the Lease it just read.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// No Lease yet: create it, holding it.
    Create,
    /// Take it over (released, expired, or ours from an earlier life of this identity).
    Take,
    /// Someone else holds a live Lease.
    Wait { holder: String },
}

/// Decides on the Lease as read. `unchanged_for` is how long the Lease has had the
/// `resourceVersion` it has now, on this process's monotonic clock.
pub fn decide(lease: Option<&Lease>, me: &str, unchanged_for: Duration) -> Decision {
    let Some(lease) = lease else {
        return Decision::Create;
    };
    let spec = lease.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.unwrap_or_default();
    if holder.is_empty() || holder == me {
        return Decision::Take;
    }
    let duration = Duration::from_secs(spec.lease_duration_seconds.unwrap_or(0).max(0) as u64);
    if unchanged_for >= duration {
        Decision::Take
    } else {
        Decision::Wait { holder }
    }
}

/// Why leadership ended. Every variant means: stop writing now.
#[derive(Debug, thiserror::Error)]
pub enum Lost {
    #[error("lost the leader Lease: no renewal succeeded within the renew deadline ({0:?})")]
    RenewDeadline(Duration),
    #[error("lost the leader Lease: it is now held by {0:?}")]
    TakenBy(String),
    #[error("lost the leader Lease: it was deleted")]
    Deleted,
}

impl Lost {
    pub fn reason(&self) -> &'static str {
        match self {
            Lost::RenewDeadline(_) => "LeaseRenewDeadlineExceeded",
            Lost::TakenBy(_) => "LeaseTakenOver",
            Lost::Deleted => "LeaseDeleted",
        }
    }
}

/// A candidate for one Lease.
pub struct Elector {
    api: Api<Lease>,
    params: Params,
}

/// Proof of holding the Lease; [`Leadership::keep`] renews it until it is lost.
pub struct Leadership {
    api: Api<Lease>,
    params: Params,
    lease: Lease,
    /// When the last successful write of the Lease was sent.
    renewed_at: Instant,
}

fn now_micro() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

impl Elector {
    pub fn new(client: Client, params: Params) -> Self {
        Self {
            api: Api::namespaced(client, &params.namespace),
            params,
        }
    }

    /// Waits until this candidate holds the Lease. `on_standby` is called each time the Lease
    /// is found held by another (with its holder), so the caller can report it.
    pub async fn acquire(self, mut on_standby: impl FnMut(&str)) -> Leadership {
        let p = &self.params;
        // (resourceVersion, when first seen) of the Lease as last read.
        let mut seen: Option<(String, Instant)> = None;
        loop {
            let read = self.api.get_opt(&p.name).await;
            let lease = match read {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, lease = %p.name, "reading the leader Lease failed");
                    tokio::time::sleep(p.retry_period).await;
                    continue;
                }
            };
            let rv = lease
                .as_ref()
                .and_then(|l| l.metadata.resource_version.clone())
                .unwrap_or_default();
            let first_seen = match &seen {
                Some((v, t)) if *v == rv => *t,
                _ => {
                    let t = Instant::now();
                    seen = Some((rv, t));
                    t
                }
            };
            let attempt = match decide(lease.as_ref(), &p.identity, first_seen.elapsed()) {
                Decision::Wait { holder } => {
                    on_standby(&holder);
                    tokio::time::sleep(p.retry_period).await;
                    continue;
                }
                Decision::Create => self.write(None).await,
                Decision::Take => self.write(lease).await,
            };
            match attempt {
                Ok(l) => return l,
                // 409: another candidate was faster; read again at once.
                Err(e) if is_status(&e, 409) => {}
                Err(e) => {
                    tracing::warn!(error = %e, lease = %p.name, "taking the leader Lease failed");
                    tokio::time::sleep(p.retry_period).await;
                }
            }
        }
    }

    /// Creates the Lease (`old` = None) or takes it over by a conditional update.
    async fn write(&self, old: Option<Lease>) -> Result<Leadership, kube::Error> {
        let p = &self.params;
        let now = now_micro();
        let old_spec = old
            .as_ref()
            .and_then(|l| l.spec.clone())
            .unwrap_or_default();
        let changed_hands = old_spec.holder_identity.as_deref() != Some(p.identity.as_str());
        let transitions =
            old_spec.lease_transitions.unwrap_or(0) + i32::from(changed_hands && old.is_some());
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(p.name.clone()),
                namespace: Some(p.namespace.clone()),
                // The precondition: the update fails with 409 if anyone wrote in between.
                resource_version: old
                    .as_ref()
                    .and_then(|l| l.metadata.resource_version.clone()),
                ..old.as_ref().map(|l| l.metadata.clone()).unwrap_or_default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(p.identity.clone()),
                // Rounded up: a standby reading a shorter duration than ours could take over early.
                lease_duration_seconds: Some(
                    p.lease_duration
                        .as_secs_f64()
                        .ceil()
                        .min(f64::from(i32::MAX)) as i32,
                ),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(transitions),
                ..old_spec
            }),
        };
        let sent = Instant::now();
        let written = match old {
            None => self.api.create(&PostParams::default(), &lease).await?,
            Some(_) => {
                self.api
                    .replace(&p.name, &PostParams::default(), &lease)
                    .await?
            }
        };
        tracing::info!(identity = %p.identity, lease = %p.name, namespace = %p.namespace, "became the leader");
        Ok(Leadership {
            api: self.api.clone(),
            params: self.params.clone(),
            lease: written,
            renewed_at: sent,
        })
    }
}

fn is_status(e: &kube::Error, code: u16) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == code)
}

/// The outcome of one renewal attempt.
enum Renewal {
    Renewed,
    Lost(Lost),
    /// Worth retrying (the apiserver was unreachable, a timeout, a 5xx).
    Failed(kube::Error),
}

impl Leadership {
    /// Renews the Lease every retry period. Returns only when leadership is lost; the caller
    /// must then stop every write at once.
    pub async fn keep(&mut self) -> Lost {
        let p = self.params.clone();
        loop {
            tokio::time::sleep(p.retry_period).await;
            let deadline = self.renewed_at + p.renew_deadline;
            let sent = Instant::now();
            match tokio::time::timeout_at(deadline, self.renew_once()).await {
                Err(_) => return Lost::RenewDeadline(p.renew_deadline),
                Ok(Renewal::Renewed) => self.renewed_at = sent,
                Ok(Renewal::Lost(l)) => return l,
                Ok(Renewal::Failed(e)) => {
                    tracing::warn!(error = %e, "renewing the leader Lease failed; retrying");
                    if Instant::now() + p.retry_period >= deadline {
                        // The next try would start past the deadline anyway.
                        return Lost::RenewDeadline(p.renew_deadline);
                    }
                }
            }
        }
    }

    /// One conditional update of `renewTime`. On 409, re-reads: still ours means someone
    /// touched the object (e.g. a label), so retry on the fresh version; otherwise it is lost.
    async fn renew_once(&mut self) -> Renewal {
        let p = &self.params;
        for _ in 0..3 {
            let mut next = self.lease.clone();
            let spec = next.spec.get_or_insert_with(Default::default);
            spec.renew_time = Some(now_micro());
            match self
                .api
                .replace(&p.name, &PostParams::default(), &next)
                .await
            {
                Ok(l) => {
                    self.lease = l;
                    return Renewal::Renewed;
                }
                Err(e) if is_status(&e, 404) => return Renewal::Lost(Lost::Deleted),
                Err(e) if is_status(&e, 409) => match self.api.get_opt(&p.name).await {
                    Ok(None) => return Renewal::Lost(Lost::Deleted),
                    Ok(Some(fresh)) => {
                        let holder = fresh
                            .spec
                            .as_ref()
                            .and_then(|s| s.holder_identity.clone())
                            .unwrap_or_default();
                        if holder != p.identity {
                            return Renewal::Lost(Lost::TakenBy(holder));
                        }
                        self.lease = fresh;
                    }
                    Err(e) => return Renewal::Failed(e),
                },
                Err(e) => return Renewal::Failed(e),
            }
        }
        Renewal::Failed(kube::Error::Service(
            "the Lease kept changing under three renewals in a row".into(),
        ))
    }

    /// Clears the holder so that a standby takes over at its next retry. Best effort: on
    /// failure the Lease simply expires.
    pub async fn release(mut self) {
        let spec = self.lease.spec.get_or_insert_with(Default::default);
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(now_micro());
        match self
            .api
            .replace(&self.params.name, &PostParams::default(), &self.lease)
            .await
        {
            Ok(_) => tracing::info!(lease = %self.params.name, "released the leader Lease"),
            Err(e) => {
                tracing::warn!(error = %e, "releasing the leader Lease failed; it will expire")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: Option<&str>, secs: i32) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(LEASE_NAME.into()),
                resource_version: Some("7".into()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: holder.map(Into::into),
                lease_duration_seconds: Some(secs),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn decisions() {
        let s = Duration::from_secs;
        assert_eq!(decide(None, "me", s(0)), Decision::Create);
        assert_eq!(decide(Some(&lease(None, 15)), "me", s(0)), Decision::Take);
        assert_eq!(
            decide(Some(&lease(Some(""), 15)), "me", s(0)),
            Decision::Take
        );
        assert_eq!(
            decide(Some(&lease(Some("me"), 15)), "me", s(0)),
            Decision::Take
        );
        assert_eq!(
            decide(Some(&lease(Some("other"), 15)), "me", s(14)),
            Decision::Wait {
                holder: "other".into()
            }
        );
        // Expired only after a full lease duration without a change seen by this process.
        assert_eq!(
            decide(Some(&lease(Some("other"), 15)), "me", s(15)),
            Decision::Take
        );
    }

    #[test]
    fn timings_must_nest() {
        let p = |l, r, t| Params {
            namespace: "ns".into(),
            name: LEASE_NAME.into(),
            identity: "me".into(),
            lease_duration: Duration::from_secs(l),
            renew_deadline: Duration::from_secs(r),
            retry_period: Duration::from_secs(t),
        };
        assert_eq!(p(60, 40, 15).validate(), Ok(()));
        assert!(matches!(
            p(10, 10, 2).validate(),
            Err(ParamsError::RenewNotBelowLease { .. })
        ));
        assert!(matches!(
            p(10, 5, 5).validate(),
            Err(ParamsError::RetryNotBelowRenew { .. })
        ));
        assert_eq!(p(0, 0, 0).validate(), Err(ParamsError::LeaseTooShort));
        let e = p(10, 10, 2).validate().unwrap_err().to_string();
        assert!(e.contains("--leader-election-renew-deadline"), "{e}");
    }

    #[test]
    fn identities_differ_between_calls() {
        let a = identity();
        std::thread::sleep(Duration::from_millis(1));
        assert_ne!(a, identity());
    }
}
