//! DNS-01 for Challenges: write the TXT record through RFC 2136, check that the zone's
//! authoritative servers answer it before the ACME server is asked to look, and remove exactly
//! that record afterwards.
//!
//! Guarantee: a Challenge whose record may exist carries [`FINALIZER`] and has
//! `status.presented` true; the record is removed (and only then the finalizer) when the
//! Challenge reaches a final state or is deleted. A record whose removal keeps failing keeps
//! the Challenge (with the reason in its status) rather than being forgotten.
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use hickory_proto::rr::Name;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};

use crate::api::Challenge;
use crate::api::acme_dns01::{CnameStrategy, Rfc2136Protocol};
use crate::dns::{self, Protocol, lookup, update};
use crate::issuer::acme::dns01 as plan;

use super::super::Context;

/// Finalizer on DNS-01 Challenges whose record may exist (cert-manager's name for it).
pub const FINALIZER: &str = "finalizer.acme.cert-manager.io";

/// The DNS-01 flags of the controller.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Resolvers for zone, NS and CNAME lookups (and for the check with `recursive_only`).
    pub recursive_nameservers: Vec<SocketAddr>,
    /// Check propagation at the resolvers only, not at the zone's authoritative servers.
    pub recursive_only: bool,
    /// Pause between propagation checks.
    pub check_retry_period: Duration,
    /// Port the zone's authoritative servers are asked on.
    pub authoritative_port: u16,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            recursive_nameservers: system_nameservers(),
            recursive_only: false,
            check_retry_period: Duration::from_secs(10),
            authoritative_port: 53,
        }
    }
}

/// The resolvers of /etc/resolv.conf (port 53), as a stub resolver would use them.
pub fn system_nameservers() -> Vec<SocketAddr> {
    std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// Why a DNS-01 step failed.
#[derive(Debug, thiserror::Error)]
pub enum Dns01Error {
    /// The solver uses a provider certwright has no client for. Permanent.
    #[error("{0}")]
    Unsupported(String),
    /// The solver's settings cannot work (copied into the Challenge, so permanent for it).
    #[error("{0}")]
    Solver(String),
    /// The TSIG Secret is missing or unusable; retried, since it can be fixed in place.
    #[error("TSIG secret {namespace}/{name}: {problem}")]
    Secret {
        namespace: String,
        name: String,
        problem: String,
    },
    /// The DNS server refused or did not answer.
    #[error(transparent)]
    Dns(#[from] dns::Error),
    /// Reading the Secret failed.
    #[error("reading the TSIG secret: {0}")]
    Kube(#[from] kube::Error),
}

impl Dns01Error {
    /// A short, stable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Dns01Error::Unsupported(_) => "UnsupportedDNSProvider",
            Dns01Error::Solver(_) => "InvalidDNS01Solver",
            Dns01Error::Secret { .. } => "TSIGSecretInvalid",
            Dns01Error::Dns(e) => e.reason(),
            Dns01Error::Kube(_) => "APIError",
        }
    }

    /// Whether retrying cannot help this Challenge.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Dns01Error::Unsupported(_) | Dns01Error::Solver(_))
    }
}

/// Where and how the record of one Challenge is written.
struct Target {
    updater: update::Updater,
    zone: Name,
    fqdn: Name,
}

/// Writes the Challenge's TXT record.
pub async fn present(ctx: &Context, ch: &Challenge, now: SystemTime) -> Result<(), Dns01Error> {
    let t = target(ctx, ch).await?;
    t.updater
        .add_txt(&t.zone, &t.fqdn, &ch.spec.key, now)
        .await?;
    tracing::info!(record = %t.fqdn, zone = %t.zone, "DNS-01 record added");
    Ok(())
}

/// Removes exactly the Challenge's TXT value (other values at the name stay).
pub async fn clean_up(ctx: &Context, ch: &Challenge, now: SystemTime) -> Result<(), Dns01Error> {
    let t = target(ctx, ch).await?;
    t.updater
        .remove_txt(&t.zone, &t.fqdn, &ch.spec.key, now)
        .await?;
    tracing::info!(record = %t.fqdn, zone = %t.zone, "DNS-01 record removed");
    Ok(())
}

/// Checks that the record is answered where the ACME server will look: by every
/// authoritative server of its zone (found through the resolvers), or by the resolvers
/// themselves with `recursive_only`. The error says who does not answer it yet.
pub async fn check_propagation(ctx: &Context, ch: &Challenge) -> Result<(), String> {
    let s = &ctx.settings.acme.dns01;
    let fqdn = record_fqdn(ctx, ch).await.map_err(|e| e.to_string())?;
    let want = ch.spec.key.as_str();
    if s.recursive_only {
        for server in &s.recursive_nameservers {
            let have = lookup::txt(*server, &fqdn, true)
                .await
                .map_err(|e| e.to_string())?;
            if !have.iter().any(|v| v == want) {
                return Err(format!(
                    "resolver {server} does not answer the TXT record {fqdn} yet"
                ));
            }
        }
        return Ok(());
    }
    let resolvers = &s.recursive_nameservers;
    let zone = lookup::zone_of(resolvers, &fqdn, true)
        .await
        .map_err(|e| e.to_string())?;
    let servers = lookup::nameservers(resolvers, &zone)
        .await
        .map_err(|e| e.to_string())?;
    if servers.is_empty() {
        return Err(format!("the zone {zone} has no NS records"));
    }
    for ns in servers {
        let addrs = lookup::addresses(resolvers, &ns)
            .await
            .map_err(|e| e.to_string())?;
        if addrs.is_empty() {
            return Err(format!("the nameserver {ns} of {zone} has no address"));
        }
        for ip in addrs {
            let at = SocketAddr::new(ip, s.authoritative_port);
            let have = lookup::txt(at, &fqdn, false)
                .await
                .map_err(|e| e.to_string())?;
            if !have.iter().any(|v| v == want) {
                return Err(format!(
                    "authoritative nameserver {ns} ({at}) does not answer the TXT record {fqdn} yet"
                ));
            }
        }
    }
    Ok(())
}

/// The name the record is written at: `_acme-challenge.<name>`, or with `cnameStrategy:
/// Follow` the end of its CNAME chain (looked up at the resolvers).
async fn record_fqdn(ctx: &Context, ch: &Challenge) -> Result<Name, Dns01Error> {
    let start = plan::record_name(&ch.spec.dns_name);
    let follow =
        ch.spec.solver.dns01.as_ref().and_then(|d| d.cname_strategy) == Some(CnameStrategy::Follow);
    let mut chain = vec![start];
    if follow {
        let resolvers = &ctx.settings.acme.dns01.recursive_nameservers;
        loop {
            let last = name(chain.last().map(String::as_str).unwrap_or_default())?;
            let target = lookup::cname(resolvers, &last).await?;
            match plan::cname_step(&chain, target.map(|t| t.to_ascii()).as_deref()) {
                Ok(Some(next)) => chain.push(next),
                Ok(None) => break,
                Err(e) => return Err(Dns01Error::Solver(e)),
            }
        }
    }
    name(chain.last().map(String::as_str).unwrap_or_default())
}

fn name(s: &str) -> Result<Name, Dns01Error> {
    Name::from_ascii(s).map_err(|e| Dns01Error::Solver(format!("{s:?} is not a DNS name: {e}")))
}

async fn target(ctx: &Context, ch: &Challenge) -> Result<Target, Dns01Error> {
    let dns01 =
        ch.spec.solver.dns01.as_ref().ok_or_else(|| {
            Dns01Error::Solver("the Challenge's solver has no dns01 block".into())
        })?;
    let p = plan::rfc2136(dns01).map_err(Dns01Error::Unsupported)?;
    let (host, port) = plan::parse_nameserver(&p.nameserver)
        .map_err(|e| Dns01Error::Solver(format!("rfc2136.{e}")))?;
    let server = tokio::net::lookup_host((host.as_str(), port))
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| dns::Error::Unreachable {
            server: p.nameserver.clone(),
            problem: format!("cannot resolve {host}"),
        })?;
    let key = match (&p.tsig_key_name, &p.tsig_secret_secret_ref) {
        (Some(key_name), Some(sel)) => {
            let algorithm = update::algorithm(p.tsig_algorithm.as_deref())
                .map_err(|e| Dns01Error::Solver(format!("rfc2136.{e}")))?;
            let secret = read_secret(ctx, ch, sel).await?;
            Some(update::TsigKey {
                name: key_name.clone(),
                algorithm,
                secret,
            })
        }
        _ => None,
    };
    let protocol = match p.protocol {
        Some(Rfc2136Protocol::Tcp) => Protocol::Tcp,
        _ => Protocol::Udp,
    };
    let updater = update::Updater::new(server, protocol, key)?;
    let fqdn = record_fqdn(ctx, ch).await?;
    // Asked of the server being updated: it is authoritative for the zone, whatever the
    // resolvers know (private zones).
    let zone = lookup::zone_of(&[server], &fqdn, false).await?;
    Ok(Target {
        updater,
        zone,
        fqdn,
    })
}

/// The TSIG secret: Issuer Secrets in the Challenge's namespace, ClusterIssuer Secrets in the
/// cluster resource namespace.
async fn read_secret(
    ctx: &Context,
    ch: &Challenge,
    sel: &crate::api::common::SecretKeySelector,
) -> Result<Vec<u8>, Dns01Error> {
    let namespace = if ch.spec.issuer_ref.kind_or_default() == "ClusterIssuer" {
        ctx.settings.cluster_resource_namespace.clone()
    } else {
        ch.namespace().unwrap_or_default()
    };
    let err = |problem: String| Dns01Error::Secret {
        namespace: namespace.clone(),
        name: sel.name.clone(),
        problem,
    };
    let Some(key) = sel.key.as_deref().filter(|k| !k.is_empty()) else {
        return Err(err(
            "tsigSecretSecretRef.key is not set: name the key that holds the secret".into(),
        ));
    };
    let secret = Api::<Secret>::namespaced(ctx.client.clone(), &namespace)
        .get_opt(&sel.name)
        .await?
        .ok_or_else(|| err("not found".into()))?;
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .ok_or_else(|| err(format!("has no key {key:?}")))?;
    update::decode_secret(&value.0).map_err(|e| err(e.to_string()))
}

/// Adds or removes [`FINALIZER`]: a merge patch of the whole list, conditional on the
/// resourceVersion of a fresh read (a conflict reads again, up to three times). Not an apply:
/// it would re-create a Challenge deleted in the meantime; not unconditional: it could drop
/// a finalizer added since (the API server adds `foregroundDeletion` itself).
pub async fn set_finalizer(ctx: &Context, ch: &Challenge, on: bool) -> Result<(), kube::Error> {
    let api = Api::<Challenge>::namespaced(ctx.client.clone(), &ch.namespace().unwrap_or_default());
    let mut conflicts = 0;
    loop {
        let Some(fresh) = api.get_opt(&ch.name_any()).await? else {
            return Ok(());
        };
        let current = fresh.metadata.finalizers.clone().unwrap_or_default();
        if current.iter().any(|f| f == FINALIZER) == on {
            return Ok(());
        }
        let mut list: Vec<String> = current.into_iter().filter(|f| f != FINALIZER).collect();
        if on {
            list.push(FINALIZER.to_string());
        }
        let patch = serde_json::json!({
            "metadata": {
                "finalizers": list,
                "resourceVersion": fresh.metadata.resource_version,
            }
        });
        match api
            .patch(
                &ch.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 && conflicts < 2 => conflicts += 1,
            // Gone already: nothing holds it any more.
            Err(kube::Error::Api(s)) if s.code == 404 && !on => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}
