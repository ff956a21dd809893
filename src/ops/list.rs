//! `certwright list`: every Certificate with days left, soonest expiry first, each drawn on a
//! shared timeline from now to the latest expiry so the ones about to bite stand out:
//! `=` until the renewal time, `-` from renewal to expiry, `|` at expiry.
//!
//! Times come from the Certificates' status (written by the controller at each issuance), so
//! listing reads no Secrets.
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use kube::api::ListParams;
use kube::{Api, ResourceExt};
use serde::Serialize;

use super::output::{Colour, Style, Table, cell, days_colour, days_until, emit, fmt_time};
use super::{ClusterArgs, Error, Result};
use crate::api::{Certificate, ConditionStatus};

/// Flags of `certwright list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// List Certificates in every namespace.
    #[arg(short = 'A', long, env = "CERTWRIGHT_LIST_ALL_NAMESPACES")]
    pub all_namespaces: bool,
    /// Only Certificates matching this label selector.
    #[arg(short = 'l', long, env = "CERTWRIGHT_LIST_SELECTOR")]
    pub selector: Option<String>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// One line of the list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub namespace: String,
    pub name: String,
    pub secret: String,
    /// `True`, `False` or `Unknown`.
    pub ready: String,
    pub not_after: Option<String>,
    pub renewal_time: Option<String>,
    /// Whole days until notAfter, negative once expired; `None` before the first issuance.
    pub days_left: Option<i64>,
    #[serde(skip)]
    not_after_t: Option<SystemTime>,
    #[serde(skip)]
    renewal_t: Option<SystemTime>,
}

fn entry(c: &Certificate, now: SystemTime) -> Entry {
    let st = c.status.clone().unwrap_or_default();
    let t = |x: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
        x.as_ref().map(|t| SystemTime::from(t.0))
    };
    let ready = st
        .conditions
        .as_ref()
        .and_then(|cs| cs.iter().find(|c| c.r#type == "Ready"))
        .map(|c| match c.status {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        })
        .unwrap_or("Unknown");
    let not_after_t = t(&st.not_after);
    let renewal_t = t(&st.renewal_time);
    Entry {
        namespace: c.namespace().unwrap_or_default(),
        name: c.name_any(),
        secret: c.spec.secret_name.clone(),
        ready: ready.into(),
        not_after: not_after_t.map(fmt_time),
        renewal_time: renewal_t.map(fmt_time),
        days_left: not_after_t.map(|a| days_until(a, now)),
        not_after_t,
        renewal_t,
    }
}

/// The entries, soonest expiry first; never-issued ones last, by name.
pub fn entries(certs: &[Certificate], now: SystemTime) -> Vec<Entry> {
    let mut v: Vec<Entry> = certs.iter().map(|c| entry(c, now)).collect();
    v.sort_by(|a, b| {
        (
            a.not_after_t.is_none(),
            a.not_after_t,
            &a.namespace,
            &a.name,
        )
            .cmp(&(
                b.not_after_t.is_none(),
                b.not_after_t,
                &b.namespace,
                &b.name,
            ))
    });
    v
}

/// One bar of `width` cells spanning `now..horizon`.
pub fn timeline(
    now: SystemTime,
    renewal: Option<SystemTime>,
    not_after: SystemTime,
    horizon: SystemTime,
    width: usize,
) -> String {
    if not_after <= now {
        return "EXPIRED".into();
    }
    let span = horizon
        .duration_since(now)
        .unwrap_or_default()
        .max(Duration::from_secs(1))
        .as_secs_f64();
    let pos = |t: SystemTime| {
        let d = t.duration_since(now).unwrap_or_default().as_secs_f64();
        ((d / span) * width as f64).round().clamp(0.0, width as f64) as usize
    };
    let end = pos(not_after).max(1);
    let renew = renewal.map(pos).unwrap_or(end).min(end);
    let mut s = "=".repeat(renew);
    s.push_str(&"-".repeat(end - renew));
    s.pop();
    s.push('|');
    s
}

/// `certwright list`.
pub async fn run(args: ListArgs) -> Result<ExitCode> {
    let c = args.cluster.connect().await?;
    let api: Api<Certificate> = if args.all_namespaces {
        Api::all(c.client)
    } else {
        Api::namespaced(c.client, &c.namespace)
    };
    let mut lp = ListParams::default();
    if let Some(s) = &args.selector {
        lp = lp.labels(s);
    }
    let certs = api
        .list(&lp)
        .await
        .map_err(|e| Error::kube("listing Certificates", e))?
        .items;
    let now = SystemTime::now();
    let list = entries(&certs, now);
    emit(args.cluster.output, &list, |s| render(&list, now, s))?;
    Ok(ExitCode::SUCCESS)
}

fn render(list: &[Entry], now: SystemTime, style: &Style) -> String {
    if list.is_empty() {
        return "no Certificates found\n".into();
    }
    let horizon = list
        .iter()
        .filter_map(|e| e.not_after_t)
        .max()
        .unwrap_or(now)
        .max(now + Duration::from_secs(86_400));
    let mut t = Table::new(&[
        "namespace",
        "name",
        "ready",
        "days left",
        "not after",
        "renews",
        "timeline",
    ]);
    for e in list {
        let (days, bar) = match (e.days_left, e.not_after_t) {
            (Some(d), Some(a)) => (
                cell(d.to_string(), days_colour(d)),
                cell(timeline(now, e.renewal_t, a, horizon, 30), days_colour(d)),
            ),
            _ => (cell("-", Colour::Dim), cell("not issued", Colour::Dim)),
        };
        t.row(vec![
            e.namespace.clone().into(),
            e.name.clone().into(),
            match e.ready.as_str() {
                "True" => cell("True", Colour::Green),
                r => cell(r, Colour::Red),
            },
            days,
            e.not_after.clone().unwrap_or_else(|| "-".into()).into(),
            e.renewal_time.clone().unwrap_or_else(|| "-".into()).into(),
            bar,
        ]);
    }
    let mut out = t.render(style);
    out.push_str(&format!(
        "{}\n",
        style.paint(
            Some(Colour::Dim),
            &format!(
                "timeline: now .. {} ('=' until renewal, '-' renewal window, '|' expiry)",
                fmt_time(horizon)
            )
        )
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn bars_scale_to_the_horizon() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let day = Duration::from_secs(86_400);
        let bar = timeline(
            now,
            Some(now + day * 20),
            now + day * 30,
            now + day * 30,
            30,
        );
        assert_eq!(bar, format!("{}{}|", "=".repeat(20), "-".repeat(9)));
        let short = timeline(now, Some(now + day * 2), now + day * 3, now + day * 30, 30);
        assert_eq!(short, "==|");
        assert_eq!(timeline(now, None, now - day, now + day, 30), "EXPIRED");
        // Expiring in minutes still draws one cell.
        assert_eq!(
            timeline(now, None, now + Duration::from_secs(60), now + day * 30, 30),
            "|"
        );
    }

    #[test]
    fn soonest_first_and_unissued_last() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mk = |name: &str, after: Option<u64>| {
            let mut c = Certificate::new(name, Default::default());
            c.metadata.namespace = Some("ns".into());
            c.status = Some(crate::api::CertificateStatus {
                not_after: after.map(|s| {
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                        k8s_openapi::jiff::Timestamp::from_second(1_000_000 + s as i64).unwrap(),
                    )
                }),
                ..Default::default()
            });
            c
        };
        let l = entries(
            &[
                mk("late", Some(90 * 86_400)),
                mk("new", None),
                mk("soon", Some(86_400)),
            ],
            now,
        );
        let names: Vec<&str> = l.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["soon", "late", "new"]);
        assert_eq!(l[0].days_left, Some(1));
    }
}
