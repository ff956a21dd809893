//! `certwright renew NAME | --all | -l SELECTOR`: ask the controller to re-issue now.
//!
//! The request is the status condition `Issuing=True` with reason `ManuallyTriggered`, which
//! the controller's plan treats as a trigger once nothing else is wrong; it removes the
//! condition when the new certificate is stored. The condition is written with a merge patch
//! on the status subresource carrying the `resourceVersion` it was computed from, so a
//! concurrent controller write makes the patch fail (409) and we retry on fresh data rather
//! than drop the controller's conditions.
use std::process::ExitCode;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde::Serialize;

use super::output::{Colour, Style, Table, cell, emit};
use super::{ClusterArgs, Error, Result};
use crate::api::{Certificate, Condition, ConditionStatus};

/// The reason the controller recognises as a manual trigger.
pub const MANUALLY_TRIGGERED: &str = "ManuallyTriggered";

/// Flags of `certwright renew`.
#[derive(Debug, clap::Args)]
pub struct RenewArgs {
    /// Certificates to renew, by name (in -n).
    #[arg(conflicts_with_all = ["all", "selector"])]
    pub names: Vec<String>,
    /// Renew every Certificate in the namespace (with -A, in every namespace).
    #[arg(long, env = "CERTWRIGHT_RENEW_ALL")]
    pub all: bool,
    /// Renew the Certificates matching this label selector, e.g. `app=web`.
    #[arg(short = 'l', long, env = "CERTWRIGHT_RENEW_SELECTOR")]
    pub selector: Option<String>,
    /// With --all or -l: across all namespaces.
    #[arg(short = 'A', long, env = "CERTWRIGHT_RENEW_ALL_NAMESPACES")]
    pub all_namespaces: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// What happened to one Certificate.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub certificate: String,
    /// `triggered`, `already-issuing` or `failed`.
    pub result: &'static str,
    pub message: String,
}

/// The conditions with `Issuing=True/ManuallyTriggered` set, or `None` when an issuance is
/// already under way (a second trigger would change nothing).
pub fn with_trigger(cert: &Certificate, now: Time) -> Option<Vec<Condition>> {
    let mut conds = cert
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    if conds
        .iter()
        .any(|c| c.r#type == "Issuing" && c.status == ConditionStatus::True)
    {
        return None;
    }
    conds.retain(|c| c.r#type != "Issuing");
    conds.push(Condition {
        r#type: "Issuing".into(),
        status: ConditionStatus::True,
        last_transition_time: Some(now),
        reason: Some(MANUALLY_TRIGGERED.into()),
        message: Some("Certificate re-issuance manually requested with certwright renew".into()),
        observed_generation: cert.metadata.generation,
    });
    Some(conds)
}

async fn renew_one(api: &Api<Certificate>, name: &str) -> Result<&'static str> {
    for _ in 0..5 {
        let cert = api
            .get_opt(name)
            .await
            .map_err(|e| Error::kube(format!("reading Certificate {name}"), e))?
            .ok_or_else(|| Error::NotFound {
                kind: "Certificate",
                namespace: api.namespace().unwrap_or_default().to_string(),
                name: name.to_string(),
            })?;
        let now = Time(k8s_openapi::jiff::Timestamp::now());
        let Some(conds) = with_trigger(&cert, now) else {
            return Ok("already-issuing");
        };
        let patch = serde_json::json!({
            "metadata": { "resourceVersion": cert.resource_version() },
            "status": { "conditions": conds },
        });
        match api
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => return Ok("triggered"),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => {
                return Err(Error::kube(
                    format!("patching Certificate {name} status"),
                    e,
                ));
            }
        }
    }
    Err(Error::Refused {
        what: format!("Certificate {name}"),
        message: "kept changing while we tried to set Issuing; try again".into(),
    })
}

/// `certwright renew`.
pub async fn run(args: RenewArgs) -> Result<ExitCode> {
    if args.names.is_empty() && !args.all && args.selector.is_none() {
        return Err(Error::InvalidArgument {
            flag: "NAME|--all|-l",
            detail: "name at least one Certificate, or pass --all or -l SELECTOR".into(),
        });
    }
    let c = args.cluster.connect().await?;
    // (namespace, name) of every Certificate to renew.
    let targets: Vec<(String, String)> = if args.names.is_empty() {
        let api: Api<Certificate> = if args.all_namespaces {
            Api::all(c.client.clone())
        } else {
            Api::namespaced(c.client.clone(), &c.namespace)
        };
        let mut lp = ListParams::default();
        if let Some(s) = &args.selector {
            lp = lp.labels(s);
        }
        api.list(&lp)
            .await
            .map_err(|e| Error::kube("listing Certificates", e))?
            .items
            .iter()
            .map(|x| (x.namespace().unwrap_or_default(), x.name_any()))
            .collect()
    } else {
        args.names
            .iter()
            .map(|n| (c.namespace.clone(), n.clone()))
            .collect()
    };
    let mut outcomes = Vec::new();
    for (ns, name) in targets {
        let api = Api::<Certificate>::namespaced(c.client.clone(), &ns);
        let id = format!("{ns}/{name}");
        outcomes.push(match renew_one(&api, &name).await {
            Ok(r) => Outcome {
                certificate: id,
                result: r,
                message: match r {
                    "triggered" => "re-issuance requested".into(),
                    _ => "an issuance is already in progress".into(),
                },
            },
            Err(e) => Outcome {
                certificate: id,
                result: "failed",
                message: e.to_string(),
            },
        });
    }
    emit(args.cluster.output, &outcomes, |s| render(&outcomes, s))?;
    let failed = outcomes.iter().any(|o| o.result == "failed");
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn render(outcomes: &[Outcome], style: &Style) -> String {
    if outcomes.is_empty() {
        return "no Certificates matched\n".into();
    }
    let mut t = Table::new(&["certificate", "result", "message"]);
    for o in outcomes {
        t.row(vec![
            o.certificate.clone().into(),
            match o.result {
                "triggered" => cell(o.result, Colour::Green),
                "failed" => cell(o.result, Colour::Red),
                r => cell(r, Colour::Yellow),
            },
            o.message.clone().into(),
        ]);
    }
    t.render(style)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts() -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).unwrap())
    }

    #[test]
    fn trigger_keeps_other_conditions_and_skips_an_issuance_in_progress() {
        let mut cert = Certificate::new("c", Default::default());
        cert.status = Some(crate::api::CertificateStatus {
            conditions: Some(vec![Condition {
                r#type: "Ready".into(),
                status: ConditionStatus::True,
                reason: Some("Ready".into()),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let conds = with_trigger(&cert, ts()).unwrap();
        assert_eq!(conds.len(), 2);
        assert!(conds[1].is_true("Issuing"));
        assert_eq!(conds[1].reason.as_deref(), Some(MANUALLY_TRIGGERED));
        cert.status.as_mut().unwrap().conditions = Some(conds);
        assert!(with_trigger(&cert, ts()).is_none());
    }
}
