//! `certwright approve|deny NAME`: record an approver's decision on a CertificateRequest.
//!
//! The decision is the `Approved` or `Denied` condition (status `True`) on the request's
//! status subresource. The CRD's CEL rules make both final and mutually exclusive; we check
//! the obvious cases first for a clear message, and otherwise pass on the apiserver's own
//! refusal verbatim, since it names the rule that said no.
use std::process::ExitCode;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde::Serialize;

use super::output::emit;
use super::{ClusterArgs, Error, Result};
use crate::api::certificate_request::condition as cond;
use crate::api::{CertificateRequest, Condition, ConditionStatus};

/// Flags of `certwright approve` and `certwright deny`.
#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    /// The CertificateRequest's name (in -n).
    pub name: String,
    /// Reason recorded on the condition (one CamelCase word).
    #[arg(
        long,
        default_value = "KubectlCertwright",
        env = "CERTWRIGHT_DECISION_REASON"
    )]
    pub reason: String,
    /// Message recorded on the condition (default: who decided, in words).
    #[arg(long, env = "CERTWRIGHT_DECISION_MESSAGE")]
    pub message: Option<String>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// What was recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub request: String,
    pub condition: &'static str,
    pub reason: String,
    pub message: String,
}

/// The condition list with the decision added; refuses a request already decided either way.
pub fn decide(
    cr: &CertificateRequest,
    approve: bool,
    reason: &str,
    message: &str,
    now: Time,
) -> Result<Vec<Condition>> {
    let done = |state| Error::AlreadyDecided {
        namespace: cr.namespace().unwrap_or_default(),
        name: cr.name_any(),
        state,
    };
    if reason.is_empty() || !reason.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::InvalidArgument {
            flag: "--reason",
            detail: format!("{reason:?} is not one CamelCase word"),
        });
    }
    // Only the same decision is refused here: the opposite one goes to the apiserver, whose
    // CEL rule is the authority and whose message the user should see.
    if approve && cr.is_approved() {
        return Err(done("approved"));
    }
    if !approve && cr.is_denied() {
        return Err(done("denied"));
    }
    let mut conds = cr
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    conds.push(Condition {
        r#type: if approve {
            cond::APPROVED
        } else {
            cond::DENIED
        }
        .into(),
        status: ConditionStatus::True,
        last_transition_time: Some(now),
        reason: Some(reason.into()),
        message: Some(message.into()),
        observed_generation: None,
    });
    Ok(conds)
}

/// `certwright approve` (`approve = true`) and `certwright deny`.
pub async fn run(args: DecideArgs, approve: bool) -> Result<ExitCode> {
    let c = args.cluster.connect().await?;
    let api = Api::<CertificateRequest>::namespaced(c.client, &c.namespace);
    let id = format!("{}/{}", c.namespace, args.name);
    let cr = api
        .get_opt(&args.name)
        .await
        .map_err(|e| Error::kube(format!("reading CertificateRequest {id}"), e))?
        .ok_or_else(|| Error::NotFound {
            kind: "CertificateRequest",
            namespace: c.namespace.clone(),
            name: args.name.clone(),
        })?;
    let verb = if approve { "approved" } else { "denied" };
    let message = args.message.clone().unwrap_or_else(|| {
        format!(
            "{verb} with certwright {}",
            if approve { "approve" } else { "deny" }
        )
    });
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let conds = decide(&cr, approve, &args.reason, &message, now)?;
    let patch = serde_json::json!({
        "metadata": { "resourceVersion": cr.resource_version() },
        "status": { "conditions": conds },
    });
    api.patch_status(&args.name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| match e {
            kube::Error::Api(s) if s.code == 409 => Error::Refused {
                what: format!("CertificateRequest {id}"),
                message: "it changed while we decided; run the command again".into(),
            },
            e => Error::kube(format!("setting {verb} on CertificateRequest {id}"), e),
        })?;
    let d = Decision {
        request: id,
        condition: if approve {
            cond::APPROVED
        } else {
            cond::DENIED
        },
        reason: args.reason.clone(),
        message,
    };
    emit(args.cluster.output, &d, |_| {
        format!("CertificateRequest {} {verb} ({})\n", d.request, d.reason)
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts() -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).unwrap())
    }

    #[test]
    fn a_decision_is_added_once_and_the_reason_must_be_a_word() {
        let mut cr = CertificateRequest::new("r", Default::default());
        let conds = decide(&cr, true, "KubectlCertwright", "ok", ts()).unwrap();
        assert!(conds[0].is_true("Approved"));
        cr.status = Some(crate::api::CertificateRequestStatus {
            conditions: Some(conds),
            ..Default::default()
        });
        assert_eq!(
            decide(&cr, true, "X", "m", ts()).unwrap_err().reason(),
            "AlreadyDecided"
        );
        // The opposite decision is left for the apiserver's CEL rule to refuse.
        assert_eq!(decide(&cr, false, "X", "m", ts()).unwrap().len(), 2);
        let e = decide(
            &CertificateRequest::new("r", Default::default()),
            true,
            "two words",
            "m",
            ts(),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("--reason"), "{e}");
    }
}
