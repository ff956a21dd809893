//! The pure decisions of the ACME flow: object names, solver choice, and what to do next with
//! an Order or a Challenge given what the cluster and the ACME server say. No I/O here: the
//! controllers gather the inputs and execute the step.
use std::collections::BTreeMap;

use crate::acme::{self, Status};
use crate::api::acme_order::{AcmeAuthorization, AcmeChallengeType, AcmeState, ChallengeStatus};
use crate::api::{AcmeChallengeSolver, CertificateRequestSpec, OrderSpec, OrderStatus};

/// Kubernetes object names are at most 253 characters; we keep derived names far shorter so
/// they stay readable in `kubectl get` and leave room for a suffix.
const NAME_PREFIX_MAX: usize = 52;

/// FNV-1a, 32 bits: a stable, dependency-free hash for name suffixes (not for security).
fn fnv32(parts: &[&str]) -> u32 {
    let mut h: u32 = 0x811c9dc5;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x01000193);
        }
    }
    h
}

fn prefix(name: &str) -> &str {
    let mut end = name.len().min(NAME_PREFIX_MAX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].trim_end_matches(['-', '.'])
}

/// The one Order name of a CertificateRequest: its name plus a hash of its UID. The same
/// request always gets the same name, whatever crashes or retries happen, so "create" can
/// never make a second Order; a request deleted and re-created under the same name gets a new
/// UID and so a new Order.
pub fn order_name(request_name: &str, request_uid: &str) -> String {
    format!("{}-{}", prefix(request_name), fnv32(&[request_uid]))
}

/// The Challenge name for one authorization of an Order.
pub fn challenge_name(
    order_name: &str,
    authorization_url: &str,
    kind: AcmeChallengeType,
) -> String {
    format!(
        "{}-{}",
        prefix(order_name),
        fnv32(&[authorization_url, kind.acme_name()])
    )
}

/// How well a solver's selector matches a name, compared field by field: a `dnsNames` match
/// first, then the most labels of a matching `dnsZones` entry, then the most `matchLabels`.
/// Equal ranks keep the solver listed first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    listed_name: bool,
    zone_labels: usize,
    labels: usize,
}

/// The rank of `selector` for `name` (with `*.` for a wildcard), or None when it does not
/// apply: every part that is set must match (labels all present, the name listed, a zone
/// containing it), as in cert-manager; a solver without selector matches everything at the
/// lowest rank.
fn rank(
    selector: Option<&crate::api::acme::CertificateDnsNameSelector>,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Option<Rank> {
    let Some(sel) = selector else {
        return Some(Rank {
            listed_name: false,
            zone_labels: 0,
            labels: 0,
        });
    };
    let want = sel.match_labels.clone().unwrap_or_default();
    if !want.iter().all(|(k, v)| labels.get(k) == Some(v)) {
        return None;
    }
    let norm = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
    let name = norm(name);
    let names = sel.dns_names.as_deref().unwrap_or_default();
    let listed_name = names.iter().any(|d| norm(d) == name);
    if !names.is_empty() && !listed_name {
        return None;
    }
    let zones = sel.dns_zones.as_deref().unwrap_or_default();
    let zone_labels = zones
        .iter()
        .map(|z| norm(z))
        .filter(|z| !z.is_empty() && (name == *z || name.ends_with(&format!(".{z}"))))
        .map(|z| z.split('.').count())
        .max();
    if !zones.is_empty() && zone_labels.is_none() {
        return None;
    }
    Some(Rank {
        listed_name,
        zone_labels: zone_labels.unwrap_or(0),
        labels: want.len(),
    })
}

/// Picks the solver for `name` (with `*.` for a wildcard) as cert-manager documents it: a
/// solver naming it in `dnsNames` beats one whose `dnsZones` contain it, a longer zone beats a
/// shorter one, more matching `matchLabels` break ties, then the first in the list. Solvers
/// of a challenge type the server does not offer (`offered`) are passed over, and HTTP-01
/// never takes a wildcard name (it cannot prove one).
pub fn select_solver<'a>(
    solvers: &'a [AcmeChallengeSolver],
    name: &str,
    labels: &BTreeMap<String, String>,
    offered: impl Fn(AcmeChallengeType) -> bool,
) -> Option<(&'a AcmeChallengeSolver, AcmeChallengeType)> {
    let wildcard = name.starts_with("*.");
    let mut best: Option<(Rank, usize, AcmeChallengeType)> = None;
    for (i, s) in solvers.iter().enumerate() {
        let kind = match (&s.http01, &s.dns01) {
            (Some(_), None) if !wildcard => AcmeChallengeType::Http01,
            (None, Some(_)) => AcmeChallengeType::Dns01,
            _ => continue,
        };
        if !offered(kind) {
            continue;
        }
        let Some(r) = rank(s.selector.as_ref(), name, labels) else {
            continue;
        };
        if best.is_none_or(|(b, _, _)| r > b) {
            best = Some((r, i, kind));
        }
    }
    best.map(|(_, i, kind)| (&solvers[i], kind))
}

/// What a Challenge must present: the key authorization for HTTP-01, its base64url SHA-256
/// for DNS-01 (RFC 8555 sections 8.3 and 8.4).
pub fn challenge_key(kind: AcmeChallengeType, key_authorization: &str) -> String {
    match kind {
        AcmeChallengeType::Http01 => key_authorization.to_string(),
        AcmeChallengeType::Dns01 => acme::jws::b64(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key_authorization.as_bytes())
                .as_ref(),
        ),
    }
}

/// The next step for an Order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderStep {
    /// Nothing to do any more (final state).
    Done,
    /// Place the order at the ACME server.
    Create,
    /// Create Challenge resources for these authorizations (indices into the status list).
    Present(Vec<usize>),
    /// Nothing to do until the server or a Challenge moves; `state` is the server's.
    Wait { state: AcmeState, why: String },
    /// Post the CSR.
    Finalize,
    /// Fetch the certificate from this URL.
    Download(String),
    /// The order failed for good.
    Fail { state: AcmeState, reason: String },
}

/// Decides the next step of an Order from its status, the order as the server has it (None
/// before it exists), and the Challenge resources that exist, by authorization index.
pub fn plan_order(
    status: &OrderStatus,
    server: Option<&acme::Order>,
    challenges: &BTreeMap<usize, Option<ChallengeStatus>>,
) -> OrderStep {
    if status.state.is_some_and(AcmeState::is_final) {
        return OrderStep::Done;
    }
    let Some(server) = server else {
        return if status.url.is_none() {
            OrderStep::Create
        } else {
            OrderStep::Wait {
                state: status.state.unwrap_or(AcmeState::Pending),
                why: "reading the order from the ACME server".into(),
            }
        };
    };
    match server.status {
        Status::Pending => {
            // A Challenge that failed fails the order now; the server would say so soon, but
            // a local failure (no solver, unsupported type) would otherwise wait for expiry.
            if let Some(reason) = challenges.values().flatten().find_map(|c| {
                c.state.filter(|s| s.is_failure()).map(|_| {
                    c.reason
                        .clone()
                        .unwrap_or_else(|| "challenge failed".into())
                })
            }) {
                return OrderStep::Fail {
                    state: AcmeState::Invalid,
                    reason,
                };
            }
            let missing: Vec<usize> = status
                .authorizations
                .iter()
                .flatten()
                .enumerate()
                .filter(|(i, a)| needs_challenge(a) && matches!(challenges.get(i), Some(None)))
                .map(|(i, _)| i)
                .collect();
            if missing.is_empty() {
                // A challenge stuck on something (a refused update, a record not propagated
                // yet) says so on the Order too, and from there on the request and the
                // Certificate; routine progress does not, to keep status writes few.
                let mut why = WAITING_FOR_CHALLENGES.to_string();
                let mut notable: Vec<&str> = challenges
                    .values()
                    .flatten()
                    .filter_map(|c| c.reason.as_deref())
                    .filter(|r| is_notable(r))
                    .collect();
                notable.dedup();
                if !notable.is_empty() {
                    why = format!("{why}: {}", notable.join("; "));
                }
                OrderStep::Wait {
                    state: AcmeState::Pending,
                    why,
                }
            } else {
                OrderStep::Present(missing)
            }
        }
        Status::Ready => OrderStep::Finalize,
        Status::Processing => OrderStep::Wait {
            state: AcmeState::Processing,
            why: "the ACME server is issuing the certificate".into(),
        },
        Status::Valid => match &server.certificate {
            Some(url) => OrderStep::Download(url.clone()),
            None => OrderStep::Wait {
                state: AcmeState::Valid,
                why: "the order is valid but names no certificate yet".into(),
            },
        },
        Status::Invalid | Status::Deactivated | Status::Revoked => OrderStep::Fail {
            state: AcmeState::Invalid,
            reason: server
                .error
                .as_ref()
                .map(|p| p.to_string())
                .or_else(|| {
                    challenges
                        .values()
                        .flatten()
                        .find_map(|c| c.reason.clone().filter(|r| !r.is_empty()))
                })
                .unwrap_or_else(|| "the ACME server marked the order invalid".into()),
        },
        Status::Expired => OrderStep::Fail {
            state: AcmeState::Expired,
            reason: "the order expired at the ACME server before it completed".into(),
        },
        Status::Unknown => OrderStep::Wait {
            state: status.state.unwrap_or(AcmeState::Pending),
            why: "the ACME server reports a status certwright does not know".into(),
        },
    }
}

/// The Order's reason while its challenges are being solved; followed by `: ` and what the
/// challenges are stuck on, when anything.
pub const WAITING_FOR_CHALLENGES: &str = "waiting for the challenges to be validated";

/// Whether a pending Challenge's reason tells of trouble or a wait worth showing upwards
/// (`Error ...`, `Waiting for ...`), as opposed to routine progress.
pub fn is_notable(reason: &str) -> bool {
    reason.starts_with("Error") || reason.starts_with("Waiting for")
}

/// Whether an authorization still needs solving (the server may reuse valid ones).
pub fn needs_challenge(a: &AcmeAuthorization) -> bool {
    a.initial_state != Some(AcmeState::Valid)
}

/// The next step for a Challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChallengeStep {
    /// Nothing to do any more.
    Done,
    /// Start presenting the response (HTTP-01: serve it; DNS-01: write the record).
    Present,
    /// Tell the server to validate.
    Accept,
    /// The server is validating; look again later.
    Wait,
    /// A final state with its reason.
    Finish { state: AcmeState, reason: String },
}

/// Decides the next step of a Challenge from its status and the authorization as the server
/// has it. Stateless on our side: after a crash the server's view tells whether we already
/// accepted.
pub fn plan_challenge(
    status: &ChallengeStatus,
    challenge_url: &str,
    authorization: &acme::Authorization,
) -> ChallengeStep {
    if status.state.is_some_and(AcmeState::is_final) {
        return ChallengeStep::Done;
    }
    let ours = authorization
        .challenges
        .iter()
        .find(|c| c.url == challenge_url);
    match (authorization.status, ours.map(|c| c.status)) {
        (Status::Valid, _) => ChallengeStep::Finish {
            state: AcmeState::Valid,
            reason: "Successfully authorized domain".into(),
        },
        (_, Some(Status::Invalid)) | (Status::Invalid, _) => ChallengeStep::Finish {
            state: AcmeState::Invalid,
            reason: ours
                .and_then(|c| c.error.as_ref())
                .or(authorization.problem())
                .map(|p| p.to_string())
                .unwrap_or_else(|| "the ACME server marked the authorization invalid".into()),
        },
        (Status::Expired | Status::Deactivated | Status::Revoked, _) => ChallengeStep::Finish {
            state: AcmeState::Expired,
            reason: format!(
                "the authorization is {} at the ACME server",
                authorization.status.as_str()
            ),
        },
        (_, None) => ChallengeStep::Finish {
            state: AcmeState::Errored,
            reason: "the ACME server no longer offers this challenge".into(),
        },
        _ if status.presented != Some(true) => ChallengeStep::Present,
        (_, Some(Status::Pending)) => ChallengeStep::Accept,
        _ => ChallengeStep::Wait,
    }
}

/// With `waitInsteadOfSelfCheck`: Ok once `wait` has passed since the response was
/// presented, else how much longer. An unknown presentation time (presented by an older
/// version) counts from now: the caller records it.
pub fn accept_after_wait(
    presented_at: Option<std::time::SystemTime>,
    wait: std::time::Duration,
    now: std::time::SystemTime,
) -> Result<(), std::time::Duration> {
    let Some(at) = presented_at else {
        return if wait.is_zero() { Ok(()) } else { Err(wait) };
    };
    let due = at + wait;
    match due.duration_since(now) {
        Ok(left) if !left.is_zero() => Err(left),
        _ => Ok(()),
    }
}

/// Picks the chain whose top-most certificate was issued by (or is) `preferred`, by common
/// name, as cert-manager's `preferredChain` does; the first (the server's default) when none
/// matches or nothing is preferred. Chains that cannot be parsed never match.
pub fn choose_chain<'a>(chains: &'a [String], preferred: Option<&str>) -> Option<&'a String> {
    let Some(want) = preferred.filter(|p| !p.is_empty()) else {
        return chains.first();
    };
    let top_names = |pem: &str| -> Vec<String> {
        let Ok(blocks) = ::pem::parse_many(pem) else {
            return Vec::new();
        };
        let Some(last) = blocks.iter().rev().find(|b| b.tag() == "CERTIFICATE") else {
            return Vec::new();
        };
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(last.contents()) else {
            return Vec::new();
        };
        let cn = |n: &x509_parser::x509::X509Name<'_>| {
            n.iter_common_name()
                .filter_map(|c| c.as_str().ok().map(str::to_string))
                .collect::<Vec<_>>()
        };
        [cn(cert.issuer()), cn(cert.subject())].concat()
    };
    chains
        .iter()
        .find(|c| top_names(c).iter().any(|n| n == want))
        .or(chains.first())
}

/// The Order spec for a CertificateRequest: the CSR's names become the order's identifiers.
/// Fails (with a message for the request's condition) when the CSR cannot be read or names
/// nothing an ACME server can validate.
pub fn order_spec(
    request: &CertificateRequestSpec,
    profile: Option<String>,
) -> Result<OrderSpec, String> {
    let info =
        crate::pki::parse_csr_pem(&request.request.0).map_err(|e| format!("spec.request: {e}"))?;
    let dns: Vec<String> = info.sans.dns_names.clone();
    let ips: Vec<String> = info
        .sans
        .ip_addresses
        .iter()
        .map(|i| i.to_string())
        .collect();
    if dns.is_empty() && ips.is_empty() {
        return Err(
            "the CSR names no DNS name or IP address; ACME certificates need at least one".into(),
        );
    }
    let unsupported =
        info.sans.uris.len() + info.sans.email_addresses.len() + info.sans.other_names.len();
    if unsupported > 0 {
        return Err(
            "the CSR asks for URI, email or otherName SANs, which ACME servers do not issue".into(),
        );
    }
    let common_name = common_name(&request.request.0);
    if let Some(cn) = &common_name
        && !dns
            .iter()
            .chain(ips.iter())
            .any(|n| n.eq_ignore_ascii_case(cn))
    {
        return Err(format!(
            "the common name {cn:?} is not one of the CSR's DNS names or IP addresses"
        ));
    }
    Ok(OrderSpec {
        request: request.request.clone(),
        issuer_ref: request.issuer_ref.clone(),
        common_name,
        dns_names: Some(dns).filter(|d| !d.is_empty()),
        ip_addresses: Some(ips).filter(|i| !i.is_empty()),
        duration: request.duration,
        profile,
        replaces: None,
    })
}

fn common_name(csr_pem: &[u8]) -> Option<String> {
    let der = ::pem::parse(csr_pem).ok()?.into_contents();
    use x509_parser::prelude::FromDer;
    let (_, csr) =
        x509_parser::certification_request::X509CertificationRequest::from_der(&der).ok()?;
    let cn = csr
        .certification_request_info
        .subject
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    Some(cn).filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests;
