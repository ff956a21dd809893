//! `certwright check api`: is the installation usable?
//!
//! Two questions. Are the four cert-manager.io/v1 kinds served? That discovery answers
//! exactly. Is the controller answering? With leader election (the default) the leader renews
//! its Lease `certwright-controller` every retry period, so a Lease renewed within its duration
//! proves a controller is leading now; this check looks for that Lease in every namespace it
//! may list. Without a Lease (leader election off, or Leases not readable) it does not pretend
//! to know, and reports the most recent status write by the field manager `certwright` on any
//! Certificate or Issuer, which proves a controller ran then. Only the first question decides
//! the exit code.
use std::process::ExitCode;
use std::time::SystemTime;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use kube::api::ListParams;
use kube::{Api, Resource};
use serde::Serialize;

use super::output::{Colour, Style, emit, fmt_duration, fmt_time};
use super::{ClusterArgs, Error, Result};
use crate::api::{Certificate, ClusterIssuer, Issuer};
use crate::controller::MANAGER;

#[derive(Debug, clap::Subcommand)]
pub enum CheckWhat {
    /// Are the cert-manager.io/v1 CRDs served, and has the controller been seen?
    Api {
        #[command(flatten)]
        cluster: ClusterArgs,
    },
}

/// The kinds certwright serves, by plural resource name.
pub const RESOURCES: [&str; 4] = [
    "certificates",
    "certificaterequests",
    "issuers",
    "clusterissuers",
];

/// What `check api` found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiReport {
    /// `cert-manager.io/v1` resources the apiserver serves.
    pub served: Vec<String>,
    /// Of [`RESOURCES`], those not served.
    pub missing: Vec<String>,
    /// The last status write by the `certwright` field manager, if any.
    pub controller_last_seen: Option<String>,
    /// What that was written on, `Kind ns/name`.
    pub controller_last_seen_on: Option<String>,
    /// Whether a controller leads now, from its leader-election Lease; absent without a Lease.
    pub controller_answering: Option<bool>,
    /// The leader's Lease, `ns/name`, and its holder, when one was found.
    pub leader_lease: Option<String>,
    pub leader: Option<String>,
    /// A sentence about the controller evidence.
    pub controller: String,
    pub ok: bool,
}

/// The latest write by our field manager on the status of an object.
pub fn last_status_write(fields: &[ManagedFieldsEntry]) -> Option<SystemTime> {
    fields
        .iter()
        .filter(|f| f.manager.as_deref() == Some(MANAGER))
        .filter(|f| f.subresource.as_deref() == Some("status"))
        .filter_map(|f| f.time.as_ref().map(|t| SystemTime::from(t.0)))
        .max()
}

async fn newest<K>(api: Api<K>, best: &mut Option<(SystemTime, String)>) -> Result<()>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let kind = K::kind(&());
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|e| Error::kube(format!("listing {kind}s"), e))?;
    for o in list.items {
        let m = o.meta();
        if let Some(t) = last_status_write(m.managed_fields.as_deref().unwrap_or_default())
            && best.as_ref().is_none_or(|(b, _)| t > *b)
        {
            let id = match &m.namespace {
                Some(ns) => format!("{kind} {ns}/{}", m.name.clone().unwrap_or_default()),
                None => format!("{kind} {}", m.name.clone().unwrap_or_default()),
            };
            *best = Some((t, id));
        }
    }
    Ok(())
}

/// What a leader-election Lease says at `now`: (leading now, holder, a sentence). A Lease is
/// live when it has a holder and was renewed within its duration.
pub fn lease_verdict(lease: &Lease, now: SystemTime) -> (bool, String, String) {
    let spec = lease.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.unwrap_or_default();
    let id = format!(
        "{}/{}",
        lease.metadata.namespace.clone().unwrap_or_default(),
        lease.metadata.name.clone().unwrap_or_default()
    );
    let duration =
        std::time::Duration::from_secs(spec.lease_duration_seconds.unwrap_or(0).max(0) as u64);
    let renewed = spec.renew_time.map(|t| SystemTime::from(t.0));
    let ago = renewed.map(|t| now.duration_since(t).unwrap_or_default());
    match ago {
        _ if holder.is_empty() => (
            false,
            holder,
            format!("leader Lease {id} is released: no controller leads"),
        ),
        Some(ago) if ago <= duration => {
            let s = format!(
                "answering: {holder:?} leads (Lease {id} renewed {} ago, within its {}s duration)",
                fmt_duration(ago),
                duration.as_secs()
            );
            (true, holder, s)
        }
        _ => {
            let s = format!(
                "not answering: Lease {id} held by {holder:?} was last renewed {} ago, longer than its {}s duration",
                ago.map(fmt_duration).unwrap_or_else(|| "never".into()),
                duration.as_secs()
            );
            (false, holder, s)
        }
    }
}

/// The leader-election Leases named as the controller names its own, in every namespace the
/// user may list. `None` when Leases cannot be listed (no permission): that is not an answer.
async fn leader_leases(client: &kube::Client) -> Option<Vec<Lease>> {
    let lp = ListParams::default().fields(&format!("metadata.name={}", crate::leader::LEASE_NAME));
    Api::<Lease>::all(client.clone())
        .list(&lp)
        .await
        .ok()
        .map(|l| l.items)
}

/// `certwright check api`.
pub async fn run(what: CheckWhat) -> Result<ExitCode> {
    let CheckWhat::Api { cluster } = what;
    let c = cluster.connect().await?;
    let served: Vec<String> = match c
        .client
        .list_api_group_resources(&format!("{}/{}", crate::api::GROUP, crate::api::VERSION))
        .await
    {
        Ok(list) => list.resources.into_iter().map(|r| r.name).collect(),
        Err(kube::Error::Api(s)) if s.code == 404 => Vec::new(),
        Err(e) => return Err(Error::kube("discovering cert-manager.io/v1", e)),
    };
    let missing: Vec<String> = RESOURCES
        .iter()
        .filter(|r| !served.iter().any(|s| s == *r))
        .map(|r| r.to_string())
        .collect();
    let mut seen = None;
    if missing.is_empty() {
        newest(Api::<Certificate>::all(c.client.clone()), &mut seen).await?;
        newest(Api::<Issuer>::all(c.client.clone()), &mut seen).await?;
        newest(Api::<ClusterIssuer>::all(c.client.clone()), &mut seen).await?;
    }
    let now = SystemTime::now();
    // A live Lease anywhere means a controller leads; otherwise the freshest one explains why not.
    let verdicts: Vec<(bool, String, String, String)> = leader_leases(&c.client)
        .await
        .unwrap_or_default()
        .iter()
        .map(|l| {
            let (live, holder, sentence) = lease_verdict(l, now);
            let id = format!(
                "{}/{}",
                l.metadata.namespace.clone().unwrap_or_default(),
                l.metadata.name.clone().unwrap_or_default()
            );
            (live, holder, sentence, id)
        })
        .collect();
    let lease = verdicts
        .iter()
        .find(|v| v.0)
        .or_else(|| verdicts.first())
        .cloned();
    let controller = match (&lease, &seen) {
        (Some((_, _, sentence, _)), _) => sentence.clone(),
        (None, seen) => match seen {
            Some((t, on)) => format!(
                "last status write by field manager {MANAGER:?}: {} ago on {on}; this shows a controller ran then, not that it is answering now (no leader-election Lease found: election off, or Leases not readable)",
                fmt_duration(now.duration_since(*t).unwrap_or_default())
            ),
            None => format!(
                "no status written by field manager {MANAGER:?} on any Certificate or Issuer: the controller has not run here, or has nothing to manage yet"
            ),
        },
    };
    let r = ApiReport {
        ok: missing.is_empty(),
        served: served.into_iter().filter(|s| !s.contains('/')).collect(),
        missing,
        controller_last_seen: seen.as_ref().map(|(t, _)| fmt_time(*t)),
        controller_last_seen_on: seen.map(|(_, on)| on),
        controller_answering: lease.as_ref().map(|l| l.0),
        leader: lease
            .as_ref()
            .map(|l| l.1.clone())
            .filter(|h| !h.is_empty()),
        leader_lease: lease.map(|l| l.3),
        controller,
    };
    emit(cluster.output, &r, |s| render(&r, s))?;
    Ok(if r.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn render(r: &ApiReport, style: &Style) -> String {
    let crds = if r.ok {
        style.paint(
            Some(Colour::Green),
            "the cert-manager.io/v1 API is served (certificates, certificaterequests, issuers, clusterissuers)",
        )
    } else {
        style.paint(
            Some(Colour::Red),
            &format!(
                "not served: {} (are the CRDs installed? `certwright crds | kubectl apply -f -`)",
                r.missing.join(", ")
            ),
        )
    };
    let colour = match r.controller_answering {
        Some(true) => Colour::Green,
        Some(false) => Colour::Red,
        None if r.controller_last_seen.is_some() => Colour::Yellow,
        None => Colour::Red,
    };
    format!(
        "CRDs:        {crds}\nController:  {}\n",
        style.paint(Some(colour), &r.controller)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn entry(manager: &str, sub: Option<&str>, s: i64) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            manager: Some(manager.into()),
            subresource: sub.map(Into::into),
            time: Some(Time(k8s_openapi::jiff::Timestamp::from_second(s).unwrap())),
            ..Default::default()
        }
    }

    #[test]
    fn a_lease_is_live_when_held_and_renewed_within_its_duration() {
        let lease = |holder: &str, renewed: i64, secs: i32| Lease {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("certwright-controller".into()),
                namespace: Some("cw".into()),
                ..Default::default()
            },
            spec: Some(k8s_openapi::api::coordination::v1::LeaseSpec {
                holder_identity: Some(holder.into()),
                lease_duration_seconds: Some(secs),
                renew_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
                    k8s_openapi::jiff::Timestamp::from_second(renewed).unwrap(),
                )),
                ..Default::default()
            }),
        };
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1000);
        let (live, holder, s) = lease_verdict(&lease("pod-a", 990, 60), now);
        assert!(
            live && holder == "pod-a" && s.contains("cw/certwright-controller"),
            "{s}"
        );
        let (live, _, s) = lease_verdict(&lease("pod-a", 900, 60), now);
        assert!(!live && s.contains("not answering"), "{s}");
        let (live, _, s) = lease_verdict(&lease("", 999, 60), now);
        assert!(!live && s.contains("released"), "{s}");
    }

    #[test]
    fn only_our_status_writes_count() {
        let f = [
            entry("kubectl", Some("status"), 300),
            entry(MANAGER, None, 200),
            entry(MANAGER, Some("status"), 100),
            entry(MANAGER, Some("status"), 150),
        ];
        let t = last_status_write(&f).unwrap();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            150
        );
        assert!(last_status_write(&f[..2]).is_none());
    }
}
