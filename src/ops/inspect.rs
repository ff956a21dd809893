//! `certwright inspect secret NAME`: the TLS Secret decoded: the chain in its stored order,
//! whether each certificate is issued by the next, `ca.crt`, and whether `tls.key` is the
//! leaf's key. Never prints key material.
use std::process::ExitCode;
use std::time::SystemTime;

use k8s_openapi::api::core::v1::Secret;
use serde::Serialize;

use super::output::{Colour, Style, Table, cell, days_colour, emit};
use super::x509::{CertSummary, issued_by, pem_certificates};
use super::{ClusterArgs, Error, Result};
use crate::controller::secret::ann;
use crate::pki::PrivateKey;

/// `certwright inspect ...`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    #[command(subcommand)]
    pub what: InspectWhat,
}

#[derive(Debug, clap::Subcommand)]
pub enum InspectWhat {
    /// Decode a TLS Secret: chain in order, SANs, validity, key match, issuer.
    Secret {
        /// The Secret's name (in -n).
        name: String,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
}

/// One certificate of `tls.crt`, with whether the next one issued it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainEntry {
    #[serde(flatten)]
    pub cert: CertSummary,
    /// Whether the next certificate (or `ca.crt` for the last) signed this one; `None` for
    /// the last when there is no `ca.crt`, or for a self-signed certificate.
    pub issued_by_next: Option<bool>,
}

/// The decoded Secret.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretReport {
    pub secret: String,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `cert-manager.io/certificate-name`: the Certificate that wrote it.
    pub certificate: Option<String>,
    /// The issuer the annotations name, `kind/name`.
    pub issuer: Option<String>,
    pub chain: Vec<ChainEntry>,
    pub ca: Vec<CertSummary>,
    /// `matches`, `mismatch`, `absent` or `invalid: ...`.
    pub key: String,
    /// Everything wrong, in words; empty when the Secret is sound.
    pub problems: Vec<String>,
}

fn field(s: &Secret, k: &str) -> Option<Vec<u8>> {
    s.data
        .as_ref()?
        .get(k)
        .map(|b| b.0.clone())
        .filter(|b| !b.is_empty())
}

/// Builds the report from a Secret. Pure apart from `now`.
pub fn report(s: &Secret, now: SystemTime) -> SecretReport {
    let ns = s.metadata.namespace.clone().unwrap_or_default();
    let name = s.metadata.name.clone().unwrap_or_default();
    let ann = s.metadata.annotations.clone().unwrap_or_default();
    let mut problems = Vec::new();
    let parse = |k: &'static str, problems: &mut Vec<String>| -> Vec<Vec<u8>> {
        match field(s, k) {
            None => Vec::new(),
            Some(b) => pem_certificates(&b).unwrap_or_else(|e| {
                problems.push(format!("{k}: {e}"));
                Vec::new()
            }),
        }
    };
    let chain_der = parse("tls.crt", &mut problems);
    let ca_der = parse("ca.crt", &mut problems);
    if field(s, "tls.crt").is_none() {
        problems.push("tls.crt is absent or empty".into());
    }
    let summarise = |ders: &[Vec<u8>], problems: &mut Vec<String>, k: &str| -> Vec<CertSummary> {
        ders.iter()
            .enumerate()
            .filter_map(|(i, d)| match crate::pki::inspect_der(d) {
                Ok(info) => Some(CertSummary::new(&info, d, now)),
                Err(e) => {
                    problems.push(format!("{k} certificate #{}: {e}", i + 1));
                    None
                }
            })
            .collect()
    };
    let summaries = summarise(&chain_der, &mut problems, "tls.crt");
    let ca = summarise(&ca_der, &mut problems, "ca.crt");

    let mut chain = Vec::new();
    for (i, c) in summaries.into_iter().enumerate() {
        let next = chain_der.get(i + 1).or(ca_der.first());
        let linked = if c.self_signed {
            None
        } else {
            next.map(|n| issued_by(&chain_der[i], n))
        };
        if linked == Some(false) {
            problems.push(format!(
                "certificate #{} \"{}\" is not issued by the {} after it",
                i + 1,
                c.subject,
                if chain_der.get(i + 1).is_some() {
                    "certificate"
                } else {
                    "ca.crt"
                }
            ));
        }
        if c.days_left < 0 {
            problems.push(format!(
                "certificate #{} \"{}\" has expired",
                i + 1,
                c.subject
            ));
        }
        chain.push(ChainEntry {
            cert: c,
            issued_by_next: linked,
        });
    }

    let key = match (field(s, "tls.key"), chain_der.first()) {
        (None, _) => "absent".to_string(),
        (Some(k), leaf) => match PrivateKey::from_pem(&k) {
            Err(e) => format!("invalid: {e}"),
            Ok(k) => {
                let leaf_pem = leaf.map(|d| {
                    ::pem::encode(&::pem::Pem::new("CERTIFICATE", d.clone())).into_bytes()
                });
                match leaf_pem.map(|p| k.matches_certificate_pem(&p)) {
                    Some(Ok(true)) => "matches".to_string(),
                    Some(Ok(false)) => "mismatch".to_string(),
                    Some(Err(e)) => format!("invalid: {e}"),
                    None => "no certificate to compare with".to_string(),
                }
            }
        },
    };
    if key != "matches" {
        problems.push(format!("tls.key: {key}"));
    }
    let issuer = ann.get(ann::ISSUER_NAME).map(|n| {
        format!(
            "{}/{n}",
            ann.get(ann::ISSUER_KIND)
                .map(String::as_str)
                .unwrap_or("Issuer")
        )
    });
    SecretReport {
        secret: format!("{ns}/{name}"),
        type_: s.type_.clone(),
        certificate: ann.get(ann::CERTIFICATE_NAME).cloned(),
        issuer,
        chain,
        ca,
        key,
        problems,
    }
}

/// `certwright inspect`.
pub async fn run(args: InspectArgs) -> Result<ExitCode> {
    let InspectWhat::Secret { name, cluster } = args.what;
    let c = cluster.connect().await?;
    let s = kube::Api::<Secret>::namespaced(c.client, &c.namespace)
        .get_opt(&name)
        .await
        .map_err(|e| Error::kube(format!("reading Secret {}/{name}", c.namespace), e))?
        .ok_or_else(|| Error::NotFound {
            kind: "Secret",
            namespace: c.namespace.clone(),
            name: name.clone(),
        })?;
    let r = report(&s, SystemTime::now());
    emit(cluster.output, &r, |st| render(&r, st))?;
    Ok(ExitCode::SUCCESS)
}

/// A chain table, shared with `status certificate`.
pub fn chain_table(chain: &[ChainEntry], style: &Style) -> String {
    let mut t = Table::new(&[
        "#",
        "subject",
        "issuer",
        "serial",
        "not after",
        "days",
        "sans",
        "key",
        "linked",
    ]);
    for (i, e) in chain.iter().enumerate() {
        let c = &e.cert;
        // An empty name (SAN-only certificates) would read as a missing column.
        let name = |n: &str| {
            if n.is_empty() {
                "(empty)".to_string()
            } else {
                n.to_string()
            }
        };
        t.row(vec![
            (i + 1).to_string().into(),
            name(&c.subject).into(),
            name(&c.issuer).into(),
            c.serial.clone().into(),
            c.not_after.clone().into(),
            cell(c.days_left.to_string(), days_colour(c.days_left)),
            c.sans.join(",").into(),
            c.key.clone().into(),
            match e.issued_by_next {
                Some(true) => cell("yes", Colour::Green),
                Some(false) => cell("NO", Colour::Red),
                None if c.self_signed => "self-signed".into(),
                None => "-".into(),
            },
        ]);
    }
    t.render(style)
}

fn render(r: &SecretReport, style: &Style) -> String {
    let mut out = format!(
        "Secret:       {}\nType:         {}\nCertificate:  {}\nIssuer:       {}\nKey:          {}\n\n",
        r.secret,
        r.type_.as_deref().unwrap_or("-"),
        r.certificate.as_deref().unwrap_or("-"),
        r.issuer.as_deref().unwrap_or("-"),
        match r.key.as_str() {
            "matches" => style.paint(Some(Colour::Green), "matches the leaf"),
            k => style.paint(Some(Colour::Red), k),
        }
    );
    out.push_str(&style.paint(Some(Colour::Bold), "tls.crt"));
    out.push('\n');
    out.push_str(&chain_table(&r.chain, style));
    if !r.ca.is_empty() {
        out.push('\n');
        out.push_str(&style.paint(Some(Colour::Bold), "ca.crt"));
        out.push('\n');
        let mut t = Table::new(&["subject", "serial", "not after", "days", "fingerprint"]);
        for c in &r.ca {
            t.row(vec![
                c.subject.clone().into(),
                c.serial.clone().into(),
                c.not_after.clone().into(),
                cell(c.days_left.to_string(), days_colour(c.days_left)),
                c.sha256_fingerprint.clone().into(),
            ]);
        }
        out.push_str(&t.render(style));
    }
    if !r.problems.is_empty() {
        out.push('\n');
        for p in &r.problems {
            out.push_str(&format!(
                "{} {p}\n",
                style.paint(Some(Colour::Red), "problem:")
            ));
        }
    }
    out
}
