//! `certwright verify HOST:PORT`: what a server really presents, checked the way a client
//! would, plus the one question no client asks: is it the certificate the Secret holds now?
//!
//! Two halves. [`fetch_chain`] does the network: a TLS handshake whose verifier records the
//! chain and accepts it, so an untrusted or broken chain is still captured for analysis (the
//! handshake signature is still checked, so the server proved it holds the leaf's key).
//! [`analyse`] is pure: from the captured chain, the name, the trust anchors, the Secret's
//! contents and `now`, it produces a [`Report`] whose checks each pass, warn or fail.
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Serialize;

use super::output::{Colour, Style, Table, cell, days_colour, emit};
use super::x509::{CertSummary, fingerprint, issued_by, pem_certificates};
use super::{ClusterArgs, Error, Result};
use crate::pki;

mod fetch;
pub use fetch::{fetch_chain, parse_address};

/// Flags of `certwright verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The server, as HOST:PORT (`[::1]:443` for IPv6).
    pub address: String,
    /// Name to send as SNI and to match against the certificate (default: HOST).
    #[arg(long, env = "CERTWRIGHT_VERIFY_SERVERNAME")]
    pub servername: Option<String>,
    /// The Secret the server should be serving, as NAMESPACE/NAME (or NAME in -n): its
    /// `ca.crt` becomes the trust anchor and its leaf is compared with the served one.
    /// Without it, the system trust store is used and freshness is not checked.
    #[arg(long, env = "CERTWRIGHT_VERIFY_SECRET")]
    pub secret: Option<String>,
    /// Seconds to wait for the connection and the handshake.
    #[arg(long, default_value_t = 10, env = "CERTWRIGHT_VERIFY_TIMEOUT")]
    pub timeout: u64,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
    Skipped,
}

/// One check: which, how it went, and what was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `order`, `completeness`, `extra`, `hostname`, `expiry`, `trust` or `freshness`.
    pub check: &'static str,
    pub outcome: Outcome,
    pub detail: String,
}

/// Everything `verify` found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub address: String,
    pub server_name: String,
    /// Where the trust anchors came from.
    pub trust_source: String,
    /// The chain as served, in the order served.
    pub presented: Vec<CertSummary>,
    pub checks: Vec<Check>,
    /// Pass when no check failed.
    pub verdict: Outcome,
}

/// Trust anchors, DER, and where they came from (for the report).
#[derive(Debug, Clone, Default)]
pub struct Trust {
    pub anchors: Vec<Vec<u8>>,
    pub source: String,
}

/// What the Secret holds, for the freshness and completeness checks.
#[derive(Debug, Clone)]
pub struct Expected {
    /// `tls.crt` in its order, DER.
    pub chain: Vec<Vec<u8>>,
    /// `NAMESPACE/NAME`, for messages.
    pub secret: String,
}

/// Input of [`analyse`].
pub struct Input<'a> {
    pub address: &'a str,
    pub server_name: &'a str,
    pub presented: &'a [Vec<u8>],
    pub trust: &'a Trust,
    pub expected: Option<&'a Expected>,
    pub now: SystemTime,
}

fn check(check: &'static str, outcome: Outcome, detail: impl Into<String>) -> Check {
    Check {
        check,
        outcome,
        detail: detail.into(),
    }
}

/// The path from the leaf upwards through the presented certificates, by signature. The
/// leaf is the one certificate that issues no other presented one (preferring a non-CA),
/// else the first served.
fn leaf_path(presented: &[Vec<u8>], infos: &[Option<pki::CertInfo>]) -> Vec<usize> {
    let n = presented.len();
    let issues_another =
        |i: usize| (0..n).any(|j| j != i && issued_by(&presented[j], &presented[i]));
    let candidates: Vec<usize> = (0..n).filter(|&i| !issues_another(i)).collect();
    let leaf = candidates
        .iter()
        .copied()
        .find(|&i| infos[i].as_ref().is_some_and(|c| !c.is_ca))
        .or(candidates.first().copied())
        .unwrap_or(0);
    let mut path = vec![leaf];
    let mut cur = leaf;
    while let Some(next) =
        (0..n).find(|&j| !path.contains(&j) && issued_by(&presented[cur], &presented[j]))
    {
        path.push(next);
        cur = next;
    }
    path
}

fn name_of(infos: &[Option<pki::CertInfo>], i: usize) -> String {
    infos[i]
        .as_ref()
        .map(|c| format!("\"{}\"", c.subject))
        .unwrap_or_else(|| format!("certificate #{}", i + 1))
}

/// Analyses a presented chain. Pure: same input, same report.
pub fn analyse(input: &Input<'_>) -> Report {
    let presented = input.presented;
    let now = input.now;
    let infos: Vec<Option<pki::CertInfo>> =
        presented.iter().map(|d| pki::inspect_der(d).ok()).collect();
    let summaries = presented
        .iter()
        .zip(&infos)
        .filter_map(|(d, i)| i.as_ref().map(|i| CertSummary::new(i, d, now)))
        .collect();
    let mut checks = Vec::new();
    if presented.is_empty() {
        checks.push(check(
            "order",
            Outcome::Fail,
            "the server presented no certificate",
        ));
        return finish(input, summaries, checks);
    }
    if let Some(i) = infos.iter().position(Option::is_none) {
        checks.push(check(
            "order",
            Outcome::Fail,
            format!("certificate #{} does not parse", i + 1),
        ));
    }

    let path = leaf_path(presented, &infos);
    let self_signed = |i: usize| issued_by(&presented[i], &presented[i]);

    // Order: TLS wants the leaf first and each certificate followed by its issuer.
    let in_order = path.iter().enumerate().all(|(k, &i)| k == i);
    if in_order {
        checks.push(check(
            "order",
            Outcome::Pass,
            "leaf first, each certificate followed by its issuer",
        ));
    } else {
        let served: Vec<String> = (0..presented.len()).map(|i| name_of(&infos, i)).collect();
        let want: Vec<String> = path.iter().map(|&i| name_of(&infos, i)).collect();
        checks.push(check(
            "order",
            Outcome::Fail,
            format!(
                "served as [{}]; a client expects [{}]",
                served.join(", "),
                want.join(", ")
            ),
        ));
    }

    // Completeness: the top of the served path must be a root or issued by a trust anchor.
    let top = *path.last().unwrap_or(&0);
    let anchor_issuer = input
        .trust
        .anchors
        .iter()
        .find(|a| issued_by(&presented[top], a));
    if self_signed(top) || anchor_issuer.is_some() {
        let via = anchor_issuer
            .and_then(|a| pki::inspect_der(a).ok())
            .map(|a| format!(", issued by trust anchor \"{}\"", a.subject))
            .unwrap_or_default();
        checks.push(check(
            "completeness",
            Outcome::Pass,
            format!("the chain reaches {}{via}", name_of(&infos, top)),
        ));
    } else {
        let issuer = infos[top]
            .as_ref()
            .map(|c| c.issuer.clone())
            .unwrap_or_default();
        let in_secret = input
            .expected
            .and_then(|e| e.chain.iter().find(|c| issued_by(&presented[top], c)));
        let detail = match in_secret {
            Some(_) => format!(
                "intermediate \"{issuer}\" is missing: it is in the Secret's tls.crt but the server does not send it"
            ),
            None => format!(
                "the chain stops at {}, whose issuer \"{issuer}\" is neither sent nor a trust anchor ({}): an intermediate is missing or the chain is untrusted",
                name_of(&infos, top),
                input.trust.source
            ),
        };
        checks.push(check("completeness", Outcome::Fail, detail));
    }

    // Extra certificates: a served root, duplicates and strays cost bytes and confuse.
    let mut extras = Vec::new();
    if path.len() > 1 && self_signed(top) {
        extras.push(format!(
            "root {} is sent; clients must already trust it",
            name_of(&infos, top)
        ));
    }
    for i in (0..presented.len()).filter(|i| !path.contains(i)) {
        let dup = presented[..i].contains(&presented[i]);
        extras.push(format!(
            "{} {}",
            name_of(&infos, i),
            if dup {
                "is sent twice"
            } else {
                "is not part of the leaf's chain"
            }
        ));
    }
    checks.push(if extras.is_empty() {
        check("extra", Outcome::Pass, "no extra certificates")
    } else {
        check("extra", Outcome::Warn, extras.join("; "))
    });

    // Hostname: what a client checks on the first certificate.
    let leaf_der = CertificateDer::from(presented[0].as_slice());
    let ee = webpki::EndEntityCert::try_from(&leaf_der);
    let sans = infos[0]
        .as_ref()
        .map(|c| {
            let mut v: Vec<String> = c.sans.dns_names.clone();
            v.extend(c.sans.ip_addresses.iter().map(|i| i.to_string()));
            v.join(", ")
        })
        .unwrap_or_default();
    checks.push(match (&ee, ServerName::try_from(input.server_name)) {
        (_, Err(_)) => check(
            "hostname",
            Outcome::Fail,
            format!("{:?} is not a DNS name or IP address", input.server_name),
        ),
        (Err(e), _) => check(
            "hostname",
            Outcome::Fail,
            format!("the first certificate does not parse: {e}"),
        ),
        (Ok(ee), Ok(name)) => match ee.verify_is_valid_for_subject_name(&name) {
            Ok(()) => check(
                "hostname",
                Outcome::Pass,
                format!("{} matches [{sans}]", input.server_name),
            ),
            Err(_) => check(
                "hostname",
                Outcome::Fail,
                format!("{} is not among [{sans}]", input.server_name),
            ),
        },
    });

    // Expiry of every served certificate on the path.
    let mut expiry = Vec::new();
    for &i in &path {
        let Some(c) = &infos[i] else { continue };
        if now < c.not_before {
            expiry.push(format!(
                "{} is not valid before {}",
                name_of(&infos, i),
                super::output::fmt_time(c.not_before)
            ));
        } else if now >= c.not_after {
            expiry.push(format!(
                "{} expired at {}",
                name_of(&infos, i),
                super::output::fmt_time(c.not_after)
            ));
        }
    }
    checks.push(match (expiry.is_empty(), &infos[0]) {
        (false, _) => check("expiry", Outcome::Fail, expiry.join("; ")),
        (true, Some(leaf)) => {
            let days = super::output::days_until(leaf.not_after, now);
            check(
                "expiry",
                if days < 7 {
                    Outcome::Warn
                } else {
                    Outcome::Pass
                },
                format!(
                    "leaf valid until {} ({days} days left)",
                    super::output::fmt_time(leaf.not_after)
                ),
            )
        }
        (true, None) => check("expiry", Outcome::Fail, "the leaf does not parse"),
    });

    // Trust, as a client builds it: from the first certificate, through any served ones.
    checks.push(trust_check(input, &leaf_der));

    // Freshness: the served leaf against the Secret's leaf now.
    checks.push(match input.expected {
        None => check(
            "freshness",
            Outcome::Skipped,
            "no --secret given: cannot tell whether the server serves the current certificate",
        ),
        Some(e) => freshness(e, &presented[0], &infos[0]),
    });
    finish(input, summaries, checks)
}

fn trust_check(input: &Input<'_>, leaf: &CertificateDer<'_>) -> Check {
    let anchor_ders: Vec<CertificateDer<'_>> = input
        .trust
        .anchors
        .iter()
        .map(|a| CertificateDer::from(a.as_slice()))
        .collect();
    let anchors: Vec<_> = anchor_ders
        .iter()
        .filter_map(|a| webpki::anchor_from_trusted_cert(a).ok())
        .collect();
    if anchors.is_empty() {
        return check(
            "trust",
            Outcome::Fail,
            format!("no usable trust anchors ({})", input.trust.source),
        );
    }
    let intermediates: Vec<CertificateDer<'_>> = input.presented[1..]
        .iter()
        .map(|d| CertificateDer::from(d.as_slice()))
        .collect();
    let ee = match webpki::EndEntityCert::try_from(leaf) {
        Ok(ee) => ee,
        Err(e) => return check("trust", Outcome::Fail, format!("leaf: {e}")),
    };
    let secs = input
        .now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let algs = rustls::crypto::aws_lc_rs::default_provider()
        .signature_verification_algorithms
        .all;
    match ee.verify_for_usage(
        algs,
        &anchors,
        &intermediates,
        UnixTime::since_unix_epoch(secs),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    ) {
        Ok(_) => check(
            "trust",
            Outcome::Pass,
            format!("verifies against {}", input.trust.source),
        ),
        Err(e) => check(
            "trust",
            Outcome::Fail,
            format!("does not verify against {}: {e:?}", input.trust.source),
        ),
    }
}

fn freshness(e: &Expected, served: &[u8], served_info: &Option<pki::CertInfo>) -> Check {
    let Some(want) = e.chain.first() else {
        return check(
            "freshness",
            Outcome::Fail,
            format!("Secret {} has no certificate in tls.crt", e.secret),
        );
    };
    if fingerprint(want) == fingerprint(served) {
        return check(
            "freshness",
            Outcome::Pass,
            format!("the served leaf is the one in Secret {}", e.secret),
        );
    }
    let want_info = pki::inspect_der(want).ok();
    let detail = match (served_info, &want_info) {
        (Some(s), Some(w)) if s.not_before < w.not_before => format!(
            "stale: the server presents serial {} issued {}, Secret {} holds serial {} issued {}: the server has not loaded the renewed certificate",
            s.serial,
            super::output::fmt_time(s.not_before),
            e.secret,
            w.serial,
            super::output::fmt_time(w.not_before)
        ),
        (Some(s), Some(w)) => format!(
            "the server presents serial {}, Secret {} holds serial {}: not the same certificate",
            s.serial, e.secret, w.serial
        ),
        _ => format!("the served leaf is not the one in Secret {}", e.secret),
    };
    check("freshness", Outcome::Fail, detail)
}

fn finish(input: &Input<'_>, presented: Vec<CertSummary>, checks: Vec<Check>) -> Report {
    let failed = checks.iter().any(|c| c.outcome == Outcome::Fail);
    Report {
        address: input.address.to_string(),
        server_name: input.server_name.to_string(),
        trust_source: input.trust.source.clone(),
        presented,
        checks,
        verdict: if failed { Outcome::Fail } else { Outcome::Pass },
    }
}

/// Loads the trust anchors: the Secret's `ca.crt` when given and present, else the system
/// store.
fn system_trust(note: &str) -> Trust {
    let loaded = rustls_native_certs::load_native_certs();
    Trust {
        source: format!(
            "the system trust store ({} roots){note}",
            loaded.certs.len()
        ),
        anchors: loaded.certs.into_iter().map(|c| c.to_vec()).collect(),
    }
}

async fn secret_inputs(args: &VerifyArgs, secret: &str) -> Result<(Trust, Expected)> {
    use k8s_openapi::api::core::v1::Secret;
    let cluster = args.cluster.connect().await?;
    let (ns, name) = super::split_ref("--secret", secret, &cluster.namespace)?;
    let s = kube::Api::<Secret>::namespaced(cluster.client, &ns)
        .get_opt(&name)
        .await
        .map_err(|e| Error::kube(format!("reading Secret {ns}/{name}"), e))?
        .ok_or_else(|| Error::NotFound {
            kind: "Secret",
            namespace: ns.clone(),
            name: name.clone(),
        })?;
    let id = format!("{ns}/{name}");
    let field = |k: &str| {
        s.data
            .as_ref()
            .and_then(|d| d.get(k))
            .map(|b| b.0.clone())
            .filter(|b| !b.is_empty())
    };
    let chain = match field("tls.crt") {
        Some(b) => pem_certificates(&b).map_err(|detail| Error::BadSecret {
            secret: id.clone(),
            field: "tls.crt",
            detail,
        })?,
        None => Vec::new(),
    };
    let trust = match field("ca.crt") {
        Some(b) => Trust {
            anchors: pem_certificates(&b).map_err(|detail| Error::BadSecret {
                secret: id.clone(),
                field: "ca.crt",
                detail,
            })?,
            source: format!("ca.crt of Secret {id}"),
        },
        None => system_trust(&format!(", as Secret {id} has no ca.crt")),
    };
    Ok((trust, Expected { chain, secret: id }))
}

/// `certwright verify`.
pub async fn run(args: VerifyArgs) -> Result<ExitCode> {
    let (host, _) = parse_address(&args.address)?;
    let server_name = args.servername.clone().unwrap_or(host);
    let (trust, expected) = match &args.secret {
        Some(s) => {
            let (t, e) = secret_inputs(&args, s).await?;
            (t, Some(e))
        }
        None => (system_trust(""), None),
    };
    let (address, name, timeout) = (
        args.address.clone(),
        server_name.clone(),
        Duration::from_secs(args.timeout.max(1)),
    );
    let presented = tokio::task::spawn_blocking(move || fetch_chain(&address, &name, timeout))
        .await
        .map_err(|e| Error::Handshake {
            address: args.address.clone(),
            detail: e.to_string(),
        })??;
    let report = analyse(&Input {
        address: &args.address,
        server_name: &server_name,
        presented: &presented,
        trust: &trust,
        expected: expected.as_ref(),
        now: SystemTime::now(),
    });
    emit(args.cluster.output, &report, |s| render(&report, s))?;
    Ok(if report.verdict == Outcome::Pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn outcome_cell(o: Outcome) -> super::output::Cell {
    match o {
        Outcome::Pass => cell("pass", Colour::Green),
        Outcome::Warn => cell("warn", Colour::Yellow),
        Outcome::Fail => cell("FAIL", Colour::Red),
        Outcome::Skipped => cell("skipped", Colour::Dim),
    }
}

fn render(r: &Report, style: &Style) -> String {
    let mut out = format!(
        "{} {} (server name {})\n\n",
        style.paint(Some(Colour::Bold), "Served chain of"),
        r.address,
        r.server_name
    );
    let mut t = Table::new(&["#", "subject", "issuer", "not after", "days left"]);
    for (i, c) in r.presented.iter().enumerate() {
        t.row(vec![
            (i + 1).to_string().into(),
            c.subject.clone().into(),
            c.issuer.clone().into(),
            c.not_after.clone().into(),
            cell(c.days_left.to_string(), days_colour(c.days_left)),
        ]);
    }
    out.push_str(&t.render(style));
    out.push('\n');
    let mut t = Table::new(&["check", "result", "detail"]);
    for c in &r.checks {
        t.row(vec![
            c.check.into(),
            outcome_cell(c.outcome),
            c.detail.clone().into(),
        ]);
    }
    out.push_str(&t.render(style));
    out.push_str(&format!(
        "\nverdict: {}\n",
        match r.verdict {
            Outcome::Pass => style.paint(Some(Colour::Green), "PASS"),
            _ => style.paint(Some(Colour::Red), "FAIL"),
        }
    ));
    out
}

#[cfg(test)]
mod tests;
