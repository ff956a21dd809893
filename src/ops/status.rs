//! `certwright status certificate NAME`: one Certificate as an operator needs it: conditions,
//! its Secret's chain, request history, recent Events, next renewal, and the controller's own
//! verdict on it now.
//!
//! The verdict is not re-derived here: the snapshot the controller would gather is built from
//! the API (`gather::secret_facts`, `gather::request_facts`) and handed to the controller's
//! pure `plan`, so "why it would or would not re-issue" cannot drift from what the controller
//! does.
use std::process::ExitCode;
use std::time::SystemTime;

use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use serde::Serialize;

use super::inspect::{ChainEntry, chain_table};
use super::output::{Colour, Style, Table, cell, emit, fmt_time};
use super::{ClusterArgs, Error, Result};
use crate::api::{Certificate, CertificateRequest, Condition, ConditionStatus};
use crate::controller::certificates::gather;
use crate::controller::certificates::plan::{self, NextKeyFacts, Plan, Snapshot, Step};
use crate::controller::secret::ann;
use crate::pki::PrivateKey;

/// `certwright status ...`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(subcommand)]
    pub what: StatusWhat,
}

#[derive(Debug, clap::Subcommand)]
pub enum StatusWhat {
    /// Everything about one Certificate, and why it would or would not re-issue now.
    Certificate {
        /// The Certificate's name (in -n).
        name: String,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
}

/// The controller's decision, in words.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// Whether the controller would start or continue an issuance now.
    pub would_issue: bool,
    /// `UpToDate`, `Blocked`, `BackingOff` or the trigger (`Renewing`, `Expired`, ...).
    pub reason: String,
    pub message: String,
    /// The step it would take next, when issuing.
    pub next_step: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestLine {
    pub name: String,
    pub revision: Option<String>,
    pub approved: String,
    pub ready: String,
    pub message: String,
    pub created: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventLine {
    pub r#type: String,
    pub reason: String,
    pub message: String,
    pub count: i32,
    pub last_seen: Option<String>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub certificate: String,
    pub secret_name: String,
    pub issuer: String,
    pub conditions: Vec<Condition>,
    pub revision: Option<i64>,
    pub not_after: Option<String>,
    pub renewal_time: Option<String>,
    pub secret_exists: bool,
    pub chain: Vec<ChainEntry>,
    pub requests: Vec<RequestLine>,
    pub events: Vec<EventLine>,
    pub decision: Decision,
}

/// Describes a plan. Patterns use `{ .. }` so that fields the controller adds to a step do
/// not break these words (clippy prefers bare unit variants; that would couple us tighter).
#[allow(clippy::unneeded_struct_pattern)]
pub fn describe(p: &Plan) -> Decision {
    match p {
        Plan::UpToDate { renewal_time, .. } => Decision {
            would_issue: false,
            reason: "UpToDate".into(),
            message: format!(
                "the certificate is current; it will be renewed at {}",
                fmt_time(*renewal_time)
            ),
            next_step: None,
        },
        Plan::UpdateSecret { why, .. } => Decision {
            would_issue: false,
            reason: "UpdateSecret".into(),
            message: format!("the certificate is current; the Secret will be rewritten: {why}"),
            next_step: Some("UpdateSecret".into()),
        },
        Plan::Blocked { reason, message } => Decision {
            would_issue: false,
            reason: reason.to_string(),
            message: message.clone(),
            next_step: None,
        },
        Plan::BackingOff {
            trigger,
            message,
            until,
        } => Decision {
            would_issue: false,
            reason: "BackingOff".into(),
            message: format!(
                "{} ({message}), but a recent failure holds it back until {}",
                trigger.reason(),
                fmt_time(*until)
            ),
            next_step: None,
        },
        Plan::Issue {
            trigger,
            message,
            step,
        } => Decision {
            would_issue: true,
            reason: trigger.reason().into(),
            message: message.clone(),
            next_step: Some(
                match step {
                    Step::StoreKey { .. } => "store a new private key",
                    Step::CreateRequest { .. } => "create the CertificateRequest",
                    Step::DeleteRequest { .. } => "delete a CertificateRequest that no longer fits",
                    Step::AwaitRequest { .. } => "wait for the issuer to sign the request",
                    Step::WriteSecret { .. } => "write the signed certificate to the Secret",
                    Step::RecordFailure { .. } => "record the request's failure",
                }
                .into(),
            ),
        },
    }
}

fn data(s: &Secret, k: &str) -> Option<Vec<u8>> {
    s.data
        .as_ref()?
        .get(k)
        .map(|b| b.0.clone())
        .filter(|b| !b.is_empty())
}

fn leaf_fingerprint(pem: &[u8]) -> Option<String> {
    crate::pki::inspect_pem(pem)
        .ok()
        .map(|i| i.sha256_fingerprint)
}

fn cond_str(cr: &CertificateRequest, t: &str) -> String {
    cr.condition(t)
        .map(|c| match c.status {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        })
        .unwrap_or("-")
        .to_string()
}

/// `certwright status`.
pub async fn run(args: StatusArgs) -> Result<ExitCode> {
    let StatusWhat::Certificate { name, cluster } = args.what;
    let c = cluster.connect().await?;
    let ns = c.namespace.clone();
    let get_err = |what: String| move |e| Error::kube(what, e);
    let cert = Api::<Certificate>::namespaced(c.client.clone(), &ns)
        .get_opt(&name)
        .await
        .map_err(get_err(format!("reading Certificate {ns}/{name}")))?
        .ok_or_else(|| Error::NotFound {
            kind: "Certificate",
            namespace: ns.clone(),
            name: name.clone(),
        })?;
    let secrets = Api::<Secret>::namespaced(c.client.clone(), &ns);
    let secret = secrets
        .get_opt(&cert.spec.secret_name)
        .await
        .map_err(get_err(format!(
            "reading Secret {ns}/{}",
            cert.spec.secret_name
        )))?;
    let next_key = secrets
        .get_opt(&gather::next_key_name(&cert))
        .await
        .map_err(get_err("reading the next-key Secret".into()))?
        .and_then(|s| data(&s, "tls.key"))
        .and_then(|k| PrivateKey::from_pem(&k).ok());
    let requests: Vec<CertificateRequest> =
        Api::<CertificateRequest>::namespaced(c.client.clone(), &ns)
            .list(&ListParams::default())
            .await
            .map_err(get_err("listing CertificateRequests".into()))?
            .items
            .into_iter()
            .filter(|r| r.annotations().get(ann::CERTIFICATE_NAME) == Some(&name))
            .collect();
    let events = Api::<Event>::namespaced(c.client.clone(), &ns)
        .list(&ListParams::default().fields(&format!(
            "involvedObject.kind=Certificate,involvedObject.name={name}"
        )))
        .await
        .map_err(get_err("listing Events".into()))?
        .items;

    // The snapshot the controller would gather, from the API instead of its caches.
    let mut secret_facts = secret.as_ref().map(|s| gather::secret_facts(s, &cert).0);
    if let Some(f) = secret_facts.as_mut()
        && let Some(other) = f.certificate_name.clone()
        && other != name
    {
        f.other_certificate_exists = Api::<Certificate>::namespaced(c.client.clone(), &ns)
            .get_opt(&other)
            .await
            .map_err(get_err(format!("reading Certificate {ns}/{other}")))?
            .is_some();
    }
    let rev = gather::revision(&cert);
    let by_name = |n: String| requests.iter().find(|r| r.name_any() == n);
    let next_request = by_name(gather::request_name(&cert, rev + 1));
    let secret_matches_current_request = match (&secret, rev) {
        (Some(s), r) if r > 0 => by_name(gather::request_name(&cert, r)).and_then(|cr| {
            let issued = cr.status.as_ref()?.certificate.as_ref()?;
            let have = data(s, "tls.crt").and_then(|c| leaf_fingerprint(&c))?;
            Some(leaf_fingerprint(&issued.0).as_deref() == Some(have.as_str()))
        }),
        _ => None,
    };
    let now = SystemTime::now();
    let snapshot = Snapshot {
        cert: &cert,
        secret: secret_facts,
        next_key: next_key.as_ref().map(|k| NextKeyFacts {
            matches_spec: crate::controller::certificates::request::key_spec(&cert.spec)
                .is_ok_and(|s| s == k.spec()),
        }),
        request: next_request.map(|r| gather::request_facts(r, &cert, next_key.as_ref())),
        secret_matches_current_request,
        now,
    };
    let decision = describe(&plan::plan(&snapshot));

    let chain = secret
        .as_ref()
        .map(|s| super::inspect::report(s, now).chain)
        .unwrap_or_default();
    let mut reqs: Vec<&CertificateRequest> = requests.iter().collect();
    reqs.sort_by_key(|r| r.metadata.creation_timestamp.clone().map(|t| t.0));
    let requests = reqs
        .into_iter()
        .map(|r| RequestLine {
            name: r.name_any(),
            revision: r.annotations().get(ann::REVISION).cloned(),
            approved: if r.is_denied() {
                "Denied".into()
            } else {
                cond_str(r, "Approved")
            },
            ready: cond_str(r, "Ready"),
            message: r
                .condition("Ready")
                .and_then(|c| c.message.clone())
                .unwrap_or_default(),
            created: r
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string()),
        })
        .collect();
    let mut events: Vec<EventLine> = events
        .into_iter()
        .map(|e| EventLine {
            r#type: e.type_.unwrap_or_default(),
            reason: e.reason.unwrap_or_default(),
            message: e.message.unwrap_or_default(),
            count: e.count.unwrap_or(1),
            last_seen: e
                .last_timestamp
                .map(|t| t.0.to_string())
                .or(e.event_time.map(|t| t.0.to_string())),
        })
        .collect();
    events.sort_by(|a, b| a.last_seen.cmp(&b.last_seen));
    let keep = events.len().saturating_sub(10);
    events.drain(..keep);

    let st = cert.status.clone().unwrap_or_default();
    let iref = &cert.spec.issuer_ref;
    let r = StatusReport {
        certificate: format!("{ns}/{name}"),
        secret_name: cert.spec.secret_name.clone(),
        issuer: format!("{}/{}", iref.kind_or_default(), iref.name),
        conditions: st.conditions.clone().unwrap_or_default(),
        revision: st.revision,
        not_after: st.not_after.as_ref().map(|t| t.0.to_string()),
        renewal_time: st.renewal_time.as_ref().map(|t| t.0.to_string()),
        secret_exists: secret.is_some(),
        chain,
        requests,
        events,
        decision,
    };
    emit(cluster.output, &r, |s| render(&r, s))?;
    Ok(ExitCode::SUCCESS)
}

fn render(r: &StatusReport, style: &Style) -> String {
    let b = |t: &str| style.paint(Some(Colour::Bold), t);
    let mut out = format!(
        "Certificate:  {}\nIssuer:       {}\nSecret:       {}{}\nRevision:     {}\nNot after:    {}\nRenews at:    {}\n\n",
        r.certificate,
        r.issuer,
        r.secret_name,
        if r.secret_exists {
            ""
        } else {
            " (does not exist)"
        },
        r.revision
            .map(|v| v.to_string())
            .unwrap_or_else(|| "-".into()),
        r.not_after.as_deref().unwrap_or("-"),
        r.renewal_time.as_deref().unwrap_or("-"),
    );
    let d = &r.decision;
    let verdict = if d.would_issue {
        style.paint(Some(Colour::Yellow), "would re-issue now")
    } else {
        style.paint(Some(Colour::Green), "would not re-issue now")
    };
    out.push_str(&format!(
        "{} {verdict}: {} ({}){}\n\n",
        b("Decision:"),
        d.message,
        d.reason,
        d.next_step
            .as_ref()
            .map(|s| format!("; next step: {s}"))
            .unwrap_or_default()
    ));
    out.push_str(&b("Conditions"));
    out.push('\n');
    let mut t = Table::new(&["type", "status", "reason", "message"]);
    for c in &r.conditions {
        t.row(vec![
            c.r#type.clone().into(),
            match c.status {
                ConditionStatus::True => cell("True", Colour::Green),
                ConditionStatus::False => cell("False", Colour::Red),
                ConditionStatus::Unknown => cell("Unknown", Colour::Yellow),
            },
            c.reason.clone().unwrap_or_default().into(),
            c.message.clone().unwrap_or_default().into(),
        ]);
    }
    out.push_str(&t.render(style));
    if !r.chain.is_empty() {
        out.push('\n');
        out.push_str(&b("Chain in the Secret"));
        out.push('\n');
        out.push_str(&chain_table(&r.chain, style));
    }
    out.push('\n');
    out.push_str(&b("CertificateRequests"));
    out.push('\n');
    let mut t = Table::new(&[
        "name", "revision", "approved", "ready", "created", "message",
    ]);
    for q in &r.requests {
        t.row(vec![
            q.name.clone().into(),
            q.revision.clone().unwrap_or_default().into(),
            q.approved.clone().into(),
            q.ready.clone().into(),
            q.created.clone().unwrap_or_default().into(),
            q.message.clone().into(),
        ]);
    }
    out.push_str(&t.render(style));
    out.push('\n');
    out.push_str(&b("Events"));
    out.push('\n');
    let mut t = Table::new(&["type", "reason", "count", "last seen", "message"]);
    for e in &r.events {
        t.row(vec![
            if e.r#type == "Warning" {
                cell(e.r#type.clone(), Colour::Red)
            } else {
                e.r#type.clone().into()
            },
            e.reason.clone().into(),
            e.count.to_string().into(),
            e.last_seen.clone().unwrap_or_default().into(),
            e.message.clone().into(),
        ]);
    }
    out.push_str(&t.render(style));
    out
}
