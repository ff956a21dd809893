//! cert-manager's per-object metrics, computed at scrape time from the controllers' caches.
//!
//! Nothing here is bookkeeping: every scrape reads the current Certificates, Issuers and
//! ClusterIssuers out of the reflector stores the controllers already keep, so a deleted
//! object's series vanish with the object and a value can never drift from the API. Names,
//! labels and values follow cert-manager's, so its dashboards and alerts work unchanged:
//! a timestamp that is not known yet reads 0, and a ready status is three series (True,
//! False, Unknown) of which the current one is 1.
use std::collections::HashMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Gauge, LabelPair, Metric, MetricFamily, MetricType};

use crate::api::common::find_condition;
use crate::api::{Certificate, ClusterIssuer, Condition, ConditionStatus, Issuer, IssuerRef};

/// One sample of a gauge family.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

/// A gauge family: its name, help and the label names every sample carries, in order.
#[derive(Debug)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub labels: &'static [&'static str],
}

const CERT_LABELS: &[&str] = &[
    "name",
    "namespace",
    "issuer_name",
    "issuer_kind",
    "issuer_group",
];
const CERT_READY_LABELS: &[&str] = &[
    "name",
    "namespace",
    "condition",
    "issuer_name",
    "issuer_kind",
    "issuer_group",
];

pub const CERT_EXPIRATION: Family = Family {
    name: "certmanager_certificate_expiration_timestamp_seconds",
    help: "The date after which the certificate expires. Expressed as a Unix Epoch Time.",
    labels: CERT_LABELS,
};
pub const CERT_NOT_AFTER: Family = Family {
    name: "certmanager_certificate_not_after_timestamp_seconds",
    help: "The timestamp after which the certificate is invalid (its notAfter). Expressed as a Unix Epoch Time.",
    labels: CERT_LABELS,
};
pub const CERT_NOT_BEFORE: Family = Family {
    name: "certmanager_certificate_not_before_timestamp_seconds",
    help: "The timestamp before which the certificate is invalid (its notBefore). Expressed as a Unix Epoch Time.",
    labels: CERT_LABELS,
};
pub const CERT_RENEWAL: Family = Family {
    name: "certmanager_certificate_renewal_timestamp_seconds",
    help: "The time after which the certificate will be renewed. Expressed as a Unix Epoch Time.",
    labels: CERT_LABELS,
};
pub const CERT_READY: Family = Family {
    name: "certmanager_certificate_ready_status",
    help: "The Ready condition of the certificate: 1 on the series of its current status.",
    labels: CERT_READY_LABELS,
};
pub const ISSUER_READY: Family = Family {
    name: "certmanager_issuer_ready_status",
    help: "The Ready condition of the Issuer: 1 on the series of its current status.",
    labels: &["name", "namespace", "condition"],
};
pub const CLUSTER_ISSUER_READY: Family = Family {
    name: "certmanager_clusterissuer_ready_status",
    help: "The Ready condition of the ClusterIssuer: 1 on the series of its current status.",
    labels: &["name", "condition"],
};

const FAMILIES: [&Family; 7] = [
    &CERT_EXPIRATION,
    &CERT_NOT_AFTER,
    &CERT_NOT_BEFORE,
    &CERT_RENEWAL,
    &CERT_READY,
    &ISSUER_READY,
    &CLUSTER_ISSUER_READY,
];

/// Seconds since the epoch of an optional API time; 0 when absent, as cert-manager reports.
fn seconds(t: Option<&Time>) -> f64 {
    t.map_or(0.0, |t| t.0.as_second() as f64)
}

/// The Ready status the three `condition` series encode; no condition yet reads Unknown.
fn ready(conditions: Option<&[Condition]>) -> ConditionStatus {
    find_condition(conditions, "Ready").map_or(ConditionStatus::Unknown, |c| c.status)
}

fn status_name(s: ConditionStatus) -> &'static str {
    match s {
        ConditionStatus::True => "True",
        ConditionStatus::False => "False",
        ConditionStatus::Unknown => "Unknown",
    }
}

/// `(name, value)` label pairs with the three condition values, the current one at 1.
fn ready_samples(
    current: ConditionStatus,
    labels: impl Fn(&'static str) -> Vec<(&'static str, String)>,
) -> Vec<Sample> {
    [
        ConditionStatus::True,
        ConditionStatus::False,
        ConditionStatus::Unknown,
    ]
    .into_iter()
    .map(|s| Sample {
        labels: labels(status_name(s)),
        value: if s == current { 1.0 } else { 0.0 },
    })
    .collect()
}

/// The issuer labels as written in the spec: cert-manager reports the reference as given,
/// so an omitted kind or group is an empty label, not the default it resolves to.
fn issuer_labels(r: &IssuerRef) -> [(&'static str, String); 3] {
    [
        ("issuer_name", r.name.clone()),
        ("issuer_kind", r.kind.clone().unwrap_or_default()),
        ("issuer_group", r.group.clone().unwrap_or_default()),
    ]
}

/// The samples of one Certificate, keyed by family name.
pub fn certificate_samples(cert: &Certificate) -> Vec<(&'static Family, Sample)> {
    let base: Vec<(&'static str, String)> = [
        ("name", cert.name_any()),
        ("namespace", cert.namespace().unwrap_or_default()),
    ]
    .into_iter()
    .chain(issuer_labels(&cert.spec.issuer_ref))
    .collect();
    let st = cert.status.as_ref();
    let timestamp = |f: &'static Family, t: Option<&Time>| {
        (
            f,
            Sample {
                labels: base.clone(),
                value: seconds(t),
            },
        )
    };
    let not_after = st.and_then(|s| s.not_after.as_ref());
    let mut out = vec![
        timestamp(&CERT_EXPIRATION, not_after),
        timestamp(&CERT_NOT_AFTER, not_after),
        timestamp(&CERT_NOT_BEFORE, st.and_then(|s| s.not_before.as_ref())),
        timestamp(&CERT_RENEWAL, st.and_then(|s| s.renewal_time.as_ref())),
    ];
    let current = ready(st.and_then(|s| s.conditions.as_deref()));
    out.extend(
        ready_samples(current, |c| {
            let mut l = base[..2].to_vec();
            l.push(("condition", c.to_string()));
            l.extend_from_slice(&base[2..]);
            l
        })
        .into_iter()
        .map(|s| (&CERT_READY, s)),
    );
    out
}

pub fn issuer_samples(i: &Issuer) -> Vec<(&'static Family, Sample)> {
    let current = ready(i.status.as_ref().and_then(|s| s.conditions.as_deref()));
    let (name, ns) = (i.name_any(), i.namespace().unwrap_or_default());
    ready_samples(current, |c| {
        vec![
            ("name", name.clone()),
            ("namespace", ns.clone()),
            ("condition", c.to_string()),
        ]
    })
    .into_iter()
    .map(|s| (&ISSUER_READY, s))
    .collect()
}

pub fn cluster_issuer_samples(i: &ClusterIssuer) -> Vec<(&'static Family, Sample)> {
    let current = ready(i.status.as_ref().and_then(|s| s.conditions.as_deref()));
    let name = i.name_any();
    ready_samples(current, |c| {
        vec![("name", name.clone()), ("condition", c.to_string())]
    })
    .into_iter()
    .map(|s| (&CLUSTER_ISSUER_READY, s))
    .collect()
}

/// The caches the collector reads. Each is set by its controller when it starts; a replica
/// that runs no controllers (a standby) has none and exports no per-object series, so two
/// replicas never report the same Certificate twice.
#[derive(Default)]
pub struct Caches {
    pub certificates: std::sync::Mutex<Option<Store<Certificate>>>,
    pub issuers: std::sync::Mutex<Option<Store<Issuer>>>,
    pub cluster_issuers: std::sync::Mutex<Option<Store<ClusterIssuer>>>,
}

fn snapshot<K>(slot: &std::sync::Mutex<Option<Store<K>>>) -> Vec<std::sync::Arc<K>>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    // A poisoned lock only means a panic elsewhere while setting the slot; the store is fine.
    let guard = slot.lock().unwrap_or_else(|e| e.into_inner());
    guard.as_ref().map(|s| s.state()).unwrap_or_default()
}

/// The scrape-time collector over [`Caches`].
pub struct ResourceCollector {
    caches: std::sync::Arc<Caches>,
    descs: Vec<Desc>,
}

impl ResourceCollector {
    pub fn new(caches: std::sync::Arc<Caches>) -> prometheus::Result<Self> {
        let descs = FAMILIES
            .iter()
            .map(|f| {
                Desc::new(
                    f.name.into(),
                    f.help.into(),
                    f.labels.iter().map(|l| l.to_string()).collect(),
                    HashMap::new(),
                )
            })
            .collect::<prometheus::Result<_>>()?;
        Ok(Self { caches, descs })
    }
}

/// Groups samples into families in the exposition's terms.
pub fn families(samples: impl IntoIterator<Item = (&'static Family, Sample)>) -> Vec<MetricFamily> {
    let mut by_name: std::collections::BTreeMap<&'static str, (&'static Family, Vec<Metric>)> =
        Default::default();
    for (f, s) in samples {
        let mut g = Gauge::default();
        g.set_value(s.value);
        let mut m = Metric::from_gauge(g);
        m.set_label(
            s.labels
                .into_iter()
                .map(|(k, v)| {
                    let mut p = LabelPair::default();
                    p.set_name(k.to_string());
                    p.set_value(v);
                    p
                })
                .collect(),
        );
        by_name.entry(f.name).or_insert((f, Vec::new())).1.push(m);
    }
    by_name
        .into_values()
        .map(|(f, metrics)| {
            let mut mf = MetricFamily::default();
            mf.set_name(f.name.into());
            mf.set_help(f.help.into());
            mf.set_field_type(MetricType::GAUGE);
            mf.set_metric(metrics);
            mf
        })
        .collect()
}

impl Collector for ResourceCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let c = &self.caches;
        let certs = snapshot(&c.certificates);
        let issuers = snapshot(&c.issuers);
        let cluster = snapshot(&c.cluster_issuers);
        families(
            certs
                .iter()
                .flat_map(|x| certificate_samples(x))
                .chain(issuers.iter().flat_map(|x| issuer_samples(x)))
                .chain(cluster.iter().flat_map(|x| cluster_issuer_samples(x))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(status: serde_json::Value) -> Certificate {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": { "name": "web", "namespace": "apps" },
            "spec": {
                "secretName": "web-tls",
                "issuerRef": { "name": "ca", "kind": "ClusterIssuer" },
                "dnsNames": ["web.example"],
            },
            "status": status,
        }))
        .unwrap()
    }

    fn value(samples: &[(&'static Family, Sample)], family: &str, cond: Option<&str>) -> f64 {
        let hits: Vec<_> = samples
            .iter()
            .filter(|(f, s)| {
                f.name == family
                    && cond
                        .is_none_or(|c| s.labels.iter().any(|(k, v)| *k == "condition" && v == c))
            })
            .collect();
        assert_eq!(hits.len(), 1, "{family} {cond:?}: {hits:?}");
        hits[0].1.value
    }

    #[test]
    fn certificate_timestamps_and_ready_status() {
        let c = cert(serde_json::json!({
            "notBefore": "2026-01-01T00:00:00Z",
            "notAfter": "2026-04-01T00:00:00Z",
            "renewalTime": "2026-03-02T00:00:00Z",
            "conditions": [{ "type": "Ready", "status": "True" }],
        }));
        let s = certificate_samples(&c);
        assert_eq!(value(&s, CERT_EXPIRATION.name, None), 1_775_001_600.0);
        assert_eq!(value(&s, CERT_NOT_AFTER.name, None), 1_775_001_600.0);
        assert_eq!(value(&s, CERT_NOT_BEFORE.name, None), 1_767_225_600.0);
        assert_eq!(value(&s, CERT_RENEWAL.name, None), 1_772_409_600.0);
        assert_eq!(value(&s, CERT_READY.name, Some("True")), 1.0);
        assert_eq!(value(&s, CERT_READY.name, Some("False")), 0.0);
        assert_eq!(value(&s, CERT_READY.name, Some("Unknown")), 0.0);
        // Labels as cert-manager names them; an omitted group stays empty.
        let (_, ready) = s.iter().find(|(f, _)| f.name == CERT_READY.name).unwrap();
        let keys: Vec<&str> = ready.labels.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, CERT_READY.labels);
        let get = |k: &str| &ready.labels.iter().find(|(n, _)| *n == k).unwrap().1;
        assert_eq!(get("issuer_kind"), "ClusterIssuer");
        assert_eq!(get("issuer_group"), "");
        assert_eq!(get("namespace"), "apps");
    }

    #[test]
    fn a_new_certificate_reads_zero_and_unknown() {
        let s = certificate_samples(&cert(serde_json::json!({})));
        assert_eq!(value(&s, CERT_EXPIRATION.name, None), 0.0);
        assert_eq!(value(&s, CERT_RENEWAL.name, None), 0.0);
        assert_eq!(value(&s, CERT_READY.name, Some("Unknown")), 1.0);
        assert_eq!(value(&s, CERT_READY.name, Some("True")), 0.0);
        let f = cert(serde_json::json!({ "conditions": [{ "type": "Ready", "status": "False" }] }));
        assert_eq!(
            value(&certificate_samples(&f), CERT_READY.name, Some("False")),
            1.0
        );
    }

    #[test]
    fn issuers_report_three_condition_series() {
        let i: Issuer = serde_json::from_value(serde_json::json!({
            "apiVersion": "cert-manager.io/v1", "kind": "Issuer",
            "metadata": { "name": "ca", "namespace": "apps" },
            "spec": { "selfSigned": {} },
            "status": { "conditions": [{ "type": "Ready", "status": "False" }] },
        }))
        .unwrap();
        let s = issuer_samples(&i);
        assert_eq!(s.len(), 3);
        assert_eq!(value(&s, ISSUER_READY.name, Some("False")), 1.0);
        let ci: ClusterIssuer = serde_json::from_value(serde_json::json!({
            "apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer",
            "metadata": { "name": "root" }, "spec": { "selfSigned": {} },
        }))
        .unwrap();
        let s = cluster_issuer_samples(&ci);
        assert_eq!(value(&s, CLUSTER_ISSUER_READY.name, Some("Unknown")), 1.0);
        assert!(s.iter().all(|(_, x)| x.labels.len() == 2));
    }

    #[test]
    fn families_group_samples_and_render_as_gauges() {
        let c = cert(serde_json::json!({ "notAfter": "2026-04-01T00:00:00Z" }));
        let mut fams = families(certificate_samples(&c));
        assert_eq!(fams.len(), 5);
        let text = prometheus::TextEncoder::new()
            .encode_to_string(&fams)
            .unwrap();
        assert!(
            text.contains("# TYPE certmanager_certificate_expiration_timestamp_seconds gauge"),
            "{text}"
        );
        assert!(text.contains(
            "certmanager_certificate_expiration_timestamp_seconds{name=\"web\",namespace=\"apps\",issuer_name=\"ca\",issuer_kind=\"ClusterIssuer\",issuer_group=\"\"} 1775001600"
        ), "{text}");
        fams.retain(|f| f.name() == CERT_READY.name);
        assert_eq!(fams[0].get_metric().len(), 3);
    }
}
