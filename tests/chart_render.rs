//! The Helm chart without a cluster: `helm lint --strict`, `helm template` with default and
//! non-default values, the values schema refusing bad input, the chart's CRD copy matching the
//! generator, and the ClusterRole granting exactly the API calls the controller source makes.
mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde::Deserialize;
use serde_json::Value;

const CHART: &str = "charts/certwright";

/// `helm template` of the chart as release `rel` in namespace `ns` with `--set` values.
fn render(ns: &str, sets: &[&str]) -> Result<Vec<Value>, String> {
    let mut cmd = support::helm();
    cmd.args(["template", "rel", CHART, "--namespace", ns]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().expect("running helm template");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8(out.stdout).expect("UTF-8 output");
    Ok(serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("rendered YAML"))
        .filter(|v| !v.is_null())
        .collect())
}

fn of_kind<'a>(objs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objs.iter().filter(|o| o["kind"] == kind).collect()
}

fn one<'a>(objs: &'a [Value], kind: &str) -> &'a Value {
    let v = of_kind(objs, kind);
    assert_eq!(v.len(), 1, "expected exactly one {kind}, got {}", v.len());
    v[0]
}

fn args(objs: &[Value]) -> Vec<String> {
    one(objs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .expect("container args")
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn lint_strict_is_clean() {
    let out = support::helm()
        .args(["lint", "--strict", CHART])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "helm lint --strict failed:\n{text}");
    // --strict turns warnings into failures, but INFO lines (e.g. a missing icon) pass silently.
    assert!(
        !text.contains("[WARNING]") && !text.contains("[ERROR]"),
        "{text}"
    );
}

#[test]
fn defaults_render_a_secure_controller() {
    let objs = render("cw-system", &[]).expect("default render");
    let kinds: BTreeSet<&str> = objs.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    let expected: BTreeSet<&str> = [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Deployment",
        "Service",
        "CustomResourceDefinition",
    ]
    .into();
    assert_eq!(kinds, expected, "optional objects must be off by default");

    let dep = one(&objs, "Deployment");
    let pod = &dep["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(dep["metadata"]["namespace"], "cw-system");
    assert_eq!(dep["spec"]["replicas"], 1);
    assert_eq!(c["image"], "certwright:0.1.0", "tag defaults to appVersion");
    let a = args(&objs);
    assert_eq!(a[0], "controller");
    assert!(
        a.contains(&"--cluster-resource-namespace=cw-system".to_string()),
        "ClusterIssuers must read Secrets from the release namespace: {a:?}"
    );
    assert!(!a.iter().any(|a| a.starts_with("--namespace")), "{a:?}");
    assert!(!a.contains(&"--enable-certificate-owner-ref".to_string()));
    // Secure defaults.
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(
        c["securityContext"]["capabilities"]["drop"],
        serde_json::json!(["ALL"])
    );
    assert_eq!(c["ports"][0]["containerPort"], 9402);
    // The controller serves the probes on the metrics port; a standby is ready too, so a
    // rolling update never waits on a replica that cannot lead yet.
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/livez");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["readinessProbe"]["httpGet"]["port"], "http-metrics");
    for want in [
        "--metrics-listen-address=0.0.0.0:9402",
        "--leader-elect=true",
        "--leader-election-namespace=cw-system",
    ] {
        assert!(a.contains(&want.to_string()), "{want} missing from {a:?}");
    }
    // The controller's own defaults apply unless the values set timings.
    assert!(
        !a.iter()
            .any(|a| a.starts_with("--leader-election-lease-duration")),
        "{a:?}"
    );
    // Only the controller's own pod gets a token; others borrowing the SA do not.
    assert_eq!(
        one(&objs, "ServiceAccount")["automountServiceAccountToken"],
        false
    );
    assert_eq!(pod["automountServiceAccountToken"], true);
    assert_eq!(pod["serviceAccountName"], "rel-certwright");
    let svc = one(&objs, "Service");
    assert_eq!(svc["spec"]["ports"][0]["port"], 9402);
    assert_eq!(
        svc["spec"]["selector"],
        dep["spec"]["selector"]["matchLabels"]
    );
    // The Lease Role lives in the release namespace only.
    assert_eq!(one(&objs, "Role")["metadata"]["namespace"], "cw-system");
    let subject = &one(&objs, "ClusterRoleBinding")["subjects"][0];
    assert_eq!(subject["name"], "rel-certwright");
    assert_eq!(subject["namespace"], "cw-system");
}

#[test]
fn crds_render_from_the_generated_files_and_are_kept() {
    // The chart's copy is what the generator writes, like crds/ itself.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(CHART)
        .join("files/crds");
    let drift = certwright::api::crd::check_dir(&dir).expect("reading the chart's CRDs");
    assert!(
        drift.is_empty(),
        "{CHART}/files/crds is stale: run scripts/gen-crds\n{drift:?}"
    );
    let objs = render("cw-system", &[]).unwrap();
    let crds = of_kind(&objs, "CustomResourceDefinition");
    assert_eq!(crds.len(), 6);
    for crd in crds {
        let name = crd["metadata"]["name"].as_str().unwrap();
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("crds")
            .join(format!("{name}.yaml"));
        let original: Value =
            serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(
            crd["spec"], original["spec"],
            "{name}: spec changed in rendering"
        );
        assert_eq!(
            crd["metadata"]["annotations"]["helm.sh/resource-policy"], "keep",
            "{name}"
        );
        assert_eq!(
            crd["metadata"]["labels"]["app.kubernetes.io/instance"],
            "rel"
        );
    }

    let unkept = render("cw-system", &["crds.keep=false"]).unwrap();
    for crd in of_kind(&unkept, "CustomResourceDefinition") {
        assert!(crd["metadata"].get("annotations").is_none(), "{crd}");
    }
    let off = render("cw-system", &["crds.enabled=false"]).unwrap();
    assert!(of_kind(&off, "CustomResourceDefinition").is_empty());
    assert_eq!(of_kind(&off, "Deployment").len(), 1);
}

#[test]
fn non_default_values_reach_the_objects() {
    let objs = render(
        "tls",
        &[
            "replicaCount=2",
            "image.repository=127.0.0.1:5000/certwright",
            "image.digest=sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "clusterResourceNamespace=issuers",
            "enableCertificateOwnerRef=true",
            "watchNamespace=apps",
            "logging.format=text",
            "logging.level=certwright=debug",
            "extraArgs={--flag-a,--flag-b=1}",
            "extraEnv[0].name=FOO",
            "extraEnv[0].value=bar",
            "resources.limits.memory=1Gi",
            "nodeSelector.disk=ssd",
            "tolerations[0].key=dedicated",
            "tolerations[0].operator=Exists",
            "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=zone",
            "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
            "priorityClassName=system-cluster-critical",
            "metrics.port=9999",
            "metrics.serviceMonitor.enabled=true",
            "metrics.serviceMonitor.labels.release=prom",
            "probes.enabled=true",
            "podDisruptionBudget.enabled=true",
            "leaderElection.namespace=kube-system",
            "leaderElection.leaseDuration=30s",
            "leaderElection.renewDeadline=20s",
            "leaderElection.retryPeriod=5s",
            "serviceAccount.name=custom-sa",
        ],
    )
    .expect("non-default render");
    let dep = one(&objs, "Deployment");
    let pod = &dep["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(dep["spec"]["replicas"], 2);
    assert_eq!(
        c["image"],
        "127.0.0.1:5000/certwright@sha256:0000000000000000000000000000000000000000000000000000000000000000"
    );
    let a = args(&objs);
    for want in [
        "--cluster-resource-namespace=issuers",
        "--enable-certificate-owner-ref",
        "--namespace=apps",
        "--log-format=text",
        "--log-level=certwright=debug",
        "--flag-a",
        "--flag-b=1",
        "--metrics-listen-address=0.0.0.0:9999",
        "--leader-election-namespace=kube-system",
        "--leader-election-lease-duration=30s",
        "--leader-election-renew-deadline=20s",
        "--leader-election-retry-period=5s",
    ] {
        assert!(a.contains(&want.to_string()), "{want} missing from {a:?}");
    }
    assert!(
        c["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "FOO" && e["value"] == "bar")
    );
    assert_eq!(c["resources"]["limits"]["memory"], "1Gi");
    assert_eq!(pod["nodeSelector"]["disk"], "ssd");
    assert_eq!(pod["tolerations"][0]["key"], "dedicated");
    assert!(pod["affinity"]["nodeAffinity"].is_object());
    assert_eq!(pod["priorityClassName"], "system-cluster-critical");
    assert_eq!(pod["serviceAccountName"], "custom-sa");
    assert_eq!(c["ports"][0]["containerPort"], 9999);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/livez");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(one(&objs, "Service")["spec"]["ports"][0]["port"], 9999);
    let sm = one(&objs, "ServiceMonitor");
    assert_eq!(sm["metadata"]["labels"]["release"], "prom");
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "http-metrics");
    assert_eq!(
        sm["spec"]["selector"]["matchLabels"],
        dep["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(one(&objs, "PodDisruptionBudget")["spec"]["minAvailable"], 1);
    assert_eq!(one(&objs, "Role")["metadata"]["namespace"], "kube-system");
    assert_eq!(
        one(&objs, "ServiceAccount")["metadata"]["name"],
        "custom-sa"
    );
}

#[test]
fn bad_values_are_refused() {
    for (set, why) in [
        ("logging.format=xml", "format"),
        ("no.such.key=1", "unknown key"),
        ("metrics.port=0", "port"),
        ("image.pullPolicy=Sometimes", "pull policy"),
        (
            "podDisruptionBudget.enabled=true,podDisruptionBudget.maxUnavailable=1",
            "both PDB bounds",
        ),
        (
            "metrics.serviceMonitor.enabled=true,metrics.service.enabled=false",
            "monitor without service",
        ),
        ("leaderElection.leaseDuration=soon", "lease duration"),
        (
            "replicaCount=2,leaderElection.enabled=false",
            "replicas without a leader",
        ),
    ] {
        let sets: Vec<&str> = set.split(',').collect();
        assert!(
            render("x", &sets).is_err(),
            "{why}: --set {set} was accepted"
        );
    }
    let e = render("x", &["serviceAccount.create=false"]).unwrap_err();
    assert!(e.contains("serviceAccount.name is required"), "{e}");
}

/// One permission the ClusterRole grants and where the controller source uses it.
struct Use {
    group: &'static str,
    resource: &'static str,
    verbs: &'static [&'static str],
    /// (file, marker, call): `call` follows `marker` closely in `file` (whitespace ignored).
    evidence: &'static [(&'static str, &'static str, &'static str)],
}

const CONTROLLERS: &str = "src/controller/mod.rs";
const EVENTS: &str = "src/controller/events.rs";
const CERTS: &str = "src/controller/certificates/mod.rs";
const GATHER: &str = "src/controller/certificates/gather.rs";
const EXECUTE: &str = "src/controller/certificates/execute.rs";
const REQUESTS: &str = "src/controller/requests.rs";
const ISSUERS: &str = "src/controller/issuers.rs";
const ISSUER: &str = "src/issuer/mod.rs";
const SECRET: &str = "src/controller/secret.rs";
const KEYSTORES: &str = "src/controller/keystores.rs";
const ACME_ISSUER: &str = "src/issuer/acme/mod.rs";
const ORDERS: &str = "src/controller/acme/orders.rs";
const CHALLENGES: &str = "src/controller/acme/challenges.rs";
const ACME_REQUESTS: &str = "src/controller/acme/requests.rs";
const DNS01: &str = "src/controller/acme/dns01.rs";
const ACME_ARI: &str = "src/controller/acme/ari.rs";
const HTTP01_ROUTES: &str = "src/controller/acme/http01_routes.rs";

/// Every API call the controller makes. The ClusterRole must equal this list, and every entry
/// must still be found in the source; when the controller changes, change both together.
const USES: &[Use] = &[
    Use {
        group: "cert-manager.io",
        resource: "certificates",
        verbs: &["list", "watch"],
        evidence: &[(
            CERTS,
            "lean_watch(namespaced_api::<Certificate>",
            ".reflect(",
        )],
    },
    Use {
        group: "cert-manager.io",
        resource: "certificates",
        verbs: &["get"],
        evidence: &[
            (GATHER, "Api::<Certificate>", ".get_opt("),
            (ACME_REQUESTS, "Api::<Certificate>", ".get_opt("),
        ],
    },
    Use {
        group: "cert-manager.io",
        resource: "certificates/status",
        verbs: &["patch"],
        evidence: &[
            (EXECUTE, "Api::<Certificate>", ".patch_status("),
            (ACME_ARI, "Api::<Certificate>", ".patch_status("),
        ],
    },
    Use {
        group: "cert-manager.io",
        resource: "certificaterequests",
        verbs: &["list", "watch"],
        evidence: &[
            (
                CONTROLLERS,
                "namespaced_api::<CertificateRequest>",
                ".reflect_shared(",
            ),
            (REQUESTS, "Controller::for_shared_stream(", ".run("),
        ],
    },
    Use {
        group: "cert-manager.io",
        resource: "certificaterequests",
        verbs: &["create"],
        evidence: &[(EXECUTE, "Api::<CertificateRequest>", ".create(")],
    },
    Use {
        group: "cert-manager.io",
        resource: "certificaterequests",
        verbs: &["delete"],
        evidence: &[(EXECUTE, "Api::<CertificateRequest>", ".delete(")],
    },
    Use {
        group: "cert-manager.io",
        resource: "certificaterequests/status",
        verbs: &["patch"],
        evidence: &[(REQUESTS, "Api::<CertificateRequest>", ".patch_status(")],
    },
    Use {
        group: "cert-manager.io",
        resource: "issuers",
        verbs: &["list", "watch"],
        evidence: &[(
            ISSUERS,
            "namespaced_api::<Issuer>",
            "Controller::for_stream(",
        )],
    },
    Use {
        group: "cert-manager.io",
        resource: "issuers",
        verbs: &["get"],
        evidence: &[(ISSUER, "Api::<Issuer>", ".get_opt(")],
    },
    Use {
        group: "cert-manager.io",
        resource: "issuers/status",
        verbs: &["patch"],
        evidence: &[(ISSUERS, "Api::<Issuer>", ".patch_status(")],
    },
    Use {
        group: "cert-manager.io",
        resource: "clusterissuers",
        verbs: &["list", "watch"],
        evidence: &[(
            ISSUERS,
            "Api::<ClusterIssuer>::all",
            "Controller::for_stream(",
        )],
    },
    Use {
        group: "cert-manager.io",
        resource: "clusterissuers",
        verbs: &["get"],
        evidence: &[(ISSUER, "Api::<ClusterIssuer>", ".get_opt(")],
    },
    Use {
        group: "cert-manager.io",
        resource: "clusterissuers/status",
        verbs: &["patch"],
        evidence: &[(ISSUERS, "Api::<ClusterIssuer>", ".patch_status(")],
    },
    Use {
        group: "",
        resource: "secrets",
        verbs: &["list", "watch"],
        evidence: &[(CERTS, "namespaced_api::<Secret>", ".labels(")],
    },
    Use {
        group: "",
        resource: "secrets",
        verbs: &["get"],
        evidence: &[
            (GATHER, "Api::<Secret>", ".get_opt("),
            (REQUESTS, "Api::<Secret>", ".get_opt("),
            (ISSUER, "Api::<Secret>", ".get_opt("),
            (KEYSTORES, "Api::<Secret>", ".get_opt("),
            (ACME_ISSUER, "secrets.get_opt(", "&sel.name"),
            (DNS01, "Api::<Secret>", ".get_opt("),
        ],
    },
    Use {
        group: "",
        resource: "secrets",
        verbs: &["create"],
        evidence: &[
            (EXECUTE, "Api::<Secret>", ".create("),
            (ACME_ISSUER, "secrets.create(", "&secret"),
        ],
    },
    Use {
        group: "",
        resource: "secrets",
        verbs: &["patch"],
        evidence: &[
            (EXECUTE, "Api::<Secret>", ".patch("),
            (SECRET, "Api::<Secret>", ".patch("),
        ],
    },
    Use {
        group: "",
        resource: "secrets",
        verbs: &["delete"],
        evidence: &[(EXECUTE, "Api::<Secret>", ".delete(")],
    },
    Use {
        group: "acme.cert-manager.io",
        resource: "orders",
        verbs: &["list", "watch"],
        evidence: &[
            (ORDERS, "Controller::new(orders", ".run("),
            (REQUESTS, "Api<Order>", ".owns(orders"),
        ],
    },
    Use {
        group: "acme.cert-manager.io",
        resource: "orders",
        verbs: &["get"],
        evidence: &[(ACME_REQUESTS, "Api::<Order>", ".get_opt(")],
    },
    Use {
        group: "acme.cert-manager.io",
        resource: "orders",
        verbs: &["create"],
        evidence: &[(ACME_REQUESTS, "match orders", ".create(")],
    },
    Use {
        group: "acme.cert-manager.io",
        resource: "orders/status",
        verbs: &["patch"],
        evidence: &[(ORDERS, "Api::<Order>::namespaced", ".patch_status(")],
    },
    Use {
        group: "acme.cert-manager.io",
        resource: "challenges",
        verbs: &["list", "watch"],
        evidence: &[
            (
                CHALLENGES,
                "namespaced_api::<Challenge>",
                "Controller::new(api",
            ),
            (ORDERS, "Controller::new(orders", ".owns(challenges"),
        ],
    },
    Use {
        group: "acme.cert-manager.io",
        resource: "challenges",
        verbs: &["get"],
        evidence: &[
            (ORDERS, "challenges_api", ".get_opt("),
            (DNS01, "Api::<Challenge>", ".get_opt("),
        ],
    },
    Use {
        group: "acme.cert-manager.io",
        resource: "challenges",
        verbs: &["create"],
        evidence: &[(ORDERS, "challenges_api", ".create(")],
    },
    Use {
        group: "acme.cert-manager.io",
        resource: "challenges",
        verbs: &["delete"],
        evidence: &[(ORDERS, "Api<Challenge>", ".delete(")],
    },
    Use {
        group: "acme.cert-manager.io",
        resource: "challenges",
        verbs: &["patch"],
        // The finalizers that keep a Challenge until its DNS-01 record or its Ingress rule
        // is removed, by merge patch of metadata.finalizers.
        evidence: &[
            (DNS01, ".patch(&ch.name_any(),", "Patch::Merge("),
            (HTTP01_ROUTES, "Api::<Challenge>::namespaced", ".patch("),
        ],
    },
    Use {
        group: "acme.cert-manager.io",
        resource: "challenges/status",
        verbs: &["patch"],
        evidence: &[(CHALLENGES, "Api::<Challenge>::namespaced", ".patch_status(")],
    },
    // HTTP-01 routing objects, by server-side apply: "create" when the apply creates.
    Use {
        group: "",
        resource: "services",
        verbs: &["create", "patch"],
        evidence: &[(HTTP01_ROUTES, "Api::<Service>", ".patch(")],
    },
    Use {
        group: "discovery.k8s.io",
        resource: "endpointslices",
        verbs: &["create", "patch"],
        evidence: &[(HTTP01_ROUTES, "Api::<EndpointSlice>", ".patch(")],
    },
    Use {
        group: "networking.k8s.io",
        resource: "ingresses",
        verbs: &["create", "patch"],
        evidence: &[(HTTP01_ROUTES, "Api::<Ingress>", ".patch(")],
    },
    // The user's Ingress named by `ingress.name`: read, then its rules written conditionally.
    Use {
        group: "networking.k8s.io",
        resource: "ingresses",
        verbs: &["get"],
        evidence: &[(HTTP01_ROUTES, "Api::<Ingress>", ".get_opt(")],
    },
    Use {
        group: "gateway.networking.k8s.io",
        resource: "httproutes",
        verbs: &["create", "patch"],
        evidence: &[(HTTP01_ROUTES, "Api::<HttpRoute>", ".patch(")],
    },
    // An Event is created, then patched when the same one repeats (a series).
    Use {
        group: "events.k8s.io",
        resource: "events",
        verbs: &["create", "patch"],
        evidence: &[
            (EVENTS, "Api::<Event>", ".patch("),
            (EVENTS, "reporting_instance", ".create("),
        ],
    },
];

/// The API types the source may build an `Api` for; a new one needs a new RBAC rule.
const KNOWN_TYPES: &[&str] = &[
    "Certificate",
    "CertificateRequest",
    "Issuer",
    "ClusterIssuer",
    "Secret",
    "Lease",
    "Order",
    "Challenge",
    "Service",
    "EndpointSlice",
    "Ingress",
    "HttpRoute",
    "Event",
    "K",
];

fn source(path: &str) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("reading {path}: {e}"));
    text.split_whitespace().collect()
}

#[test]
fn cluster_role_grants_exactly_what_the_controller_calls() {
    let objs = render("cw-system", &[]).unwrap();
    let mut granted = BTreeSet::new();
    for rule in one(&objs, "ClusterRole")["rules"].as_array().unwrap() {
        assert!(rule.get("resourceNames").is_none() && rule.get("nonResourceURLs").is_none());
        for g in rule["apiGroups"].as_array().unwrap() {
            for r in rule["resources"].as_array().unwrap() {
                for v in rule["verbs"].as_array().unwrap() {
                    let t = (
                        g.as_str().unwrap(),
                        r.as_str().unwrap(),
                        v.as_str().unwrap(),
                    );
                    assert!(
                        !t.0.contains('*') && !t.1.contains('*') && !t.2.contains('*'),
                        "wildcard in {rule}"
                    );
                    granted.insert(t);
                }
            }
        }
    }
    let used: BTreeSet<(&str, &str, &str)> = USES
        .iter()
        .flat_map(|u| u.verbs.iter().map(|v| (u.group, u.resource, *v)))
        .collect();
    let extra: Vec<_> = granted.difference(&used).collect();
    let missing: Vec<_> = used.difference(&granted).collect();
    assert!(
        extra.is_empty(),
        "the ClusterRole grants calls the controller never makes: {extra:?}"
    );
    assert!(
        missing.is_empty(),
        "the ClusterRole lacks calls the controller makes: {missing:?}"
    );

    // Each listed use must still be in the source, or the grant has outlived its code.
    for u in USES {
        for (file, marker, call) in u.evidence {
            let (text, marker, call) = (source(file), source_str(marker), source_str(call));
            let found = text.match_indices(&marker).any(|(i, _)| {
                let window = &text[i..text.len().min(i + marker.len() + 400)];
                window.contains(&call)
            });
            assert!(
                found,
                "{} {:?} on {}/{}: no `{call}` after `{marker}` in {file}; drop the grant or update USES",
                file, u.verbs, u.group, u.resource
            );
        }
    }
}

fn source_str(s: &str) -> String {
    s.split_whitespace().collect()
}

#[test]
fn the_source_builds_no_api_for_an_unlisted_type() {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    // src/ops holds the operator CLI verbs (status, renew, ...): they run with the user's own
    // kubeconfig, never with the controller's ServiceAccount.
    files.retain(|f| !f.starts_with(src.join("ops")));
    let mut unknown = BTreeSet::new();
    for f in files {
        let text: String = std::fs::read_to_string(&f)
            .unwrap()
            .split_whitespace()
            .collect();
        for pat in ["Api::<", "Api<", "api::<"] {
            for (i, _) in text.match_indices(pat) {
                let rest = &text[i + pat.len()..];
                let ty: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !KNOWN_TYPES.contains(&ty.as_str()) {
                    unknown.insert(format!("{ty} in {}", f.display()));
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "the controller talks to resources the chart's RBAC does not know: {unknown:?}; grant them in charts/certwright/templates/rbac.yaml and list them in USES"
    );
}

#[test]
fn the_lease_role_is_namespaced_and_narrow() {
    let objs = render("cw-system", &[]).unwrap();
    let role = one(&objs, "Role");
    assert_eq!(
        role["rules"],
        serde_json::json!([{
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "create", "update"],
        }])
    );
    // Exactly the calls src/leader.rs makes on its Api<Lease>: read, create the first time,
    // conditional updates (replace) to take, renew and release. No patch, no delete, no list.
    let text = source("src/leader.rs");
    assert!(text.contains(&source_str("api: Api<Lease>")));
    for call in ["self.api.get_opt(", "self.api.create(", "self.api.replace("] {
        assert!(
            text.contains(call),
            "{call} gone from src/leader.rs: update the Role"
        );
    }
    for call in [".patch(", ".delete(", ".list(", ".watch("] {
        assert!(
            !text.contains(call),
            "src/leader.rs calls {call}: grant it in the Role"
        );
    }
    // Without leader election there is no Lease, so no Role either.
    let off = render("cw-system", &["leaderElection.enabled=false"]).unwrap();
    assert!(of_kind(&off, "Role").is_empty() && of_kind(&off, "RoleBinding").is_empty());
    assert!(args(&off).contains(&"--leader-elect=false".to_string()));
}

#[test]
fn the_dockerfile_builds_what_ci_checks() {
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/image-build-check"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The dependency layer stubs every target cargo needs to see; a new [[bin]] or [[bench]]
    // without a stub would break the image build only, where no test looks.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let meta = Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root)
        .output()
        .unwrap();
    let meta: Value = serde_json::from_slice(&meta.stdout).expect("cargo metadata JSON");
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let stubs = dockerfile
        .split("# Dependency layer")
        .nth(1)
        .and_then(|s| s.split("COPY src").next())
        .expect("the Dockerfile's dependency layer");
    for target in meta["packages"][0]["targets"].as_array().unwrap() {
        let kinds: Vec<&str> = target["kind"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        if !kinds.iter().any(|k| ["lib", "bin", "bench"].contains(k)) {
            continue;
        }
        let path = Path::new(target["src_path"].as_str().unwrap())
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            stubs.contains(&path),
            "the Dockerfile's dependency layer does not stub {path} ({kinds:?})"
        );
    }
}
