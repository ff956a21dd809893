//! Two real controller processes on one Lease: only the leader writes (the standby's own write
//! counter stays empty while the leader issues), the leader is killed with SIGKILL and the
//! standby takes over and issues a Certificate created while no leader ran, a replica whose
//! Lease is taken from it exits non-zero, and a leader stopped with SIGTERM hands the Lease over.
mod support;

use std::time::{Duration, Instant};

use certwright::api::Certificate;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::{Patch, PatchParams};
use support::{ControllerProcess, TestNamespace, http_get, ready, samples, wait_for};

const LEASE: &str = "certwright-controller";

/// Short timings so the test runs in seconds; the ratios are the defaults' (lease > renew >
/// retry).
fn election_flags(ns: &str) -> Vec<String> {
    [
        "--leader-elect=true",
        "--leader-election-lease-duration=4s",
        "--leader-election-renew-deadline=3s",
        "--leader-election-retry-period=1s",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--leader-election-namespace={ns}")])
    .collect()
}

fn start(ns: &str) -> ControllerProcess {
    let flags = election_flags(ns);
    let refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    ControllerProcess::start(ns, &refs)
}

/// The identity a process logged when it started to compete for the Lease.
fn identity(c: &ControllerProcess) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = support::strip_ansi(&c.log());
        if let Some(id) = log
            .lines()
            .filter(|l| l.contains("waiting for the leader Lease"))
            .find_map(|l| l.split("identity=").nth(1))
            .and_then(|r| r.split_whitespace().next())
        {
            return id.trim_matches('"').to_string();
        }
        assert!(Instant::now() < deadline, "no identity logged:\n{log}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sum of every `certwright_api_writes_total` sample: what the process has written.
fn writes(addr: std::net::SocketAddr) -> (f64, String) {
    let (_, page) = http_get(addr, "/metrics");
    let all = samples(&page, "certwright_api_writes_total");
    let total = all.iter().map(|(_, v)| v).sum();
    let non_lease = all
        .iter()
        .filter(|(l, _)| !l.iter().any(|(k, v)| k == "resource" && v == "leases"))
        .map(|(l, v)| format!("{l:?}={v}"))
        .collect::<Vec<_>>()
        .join("\n");
    (total, non_lease)
}

fn is_leader(addr: std::net::SocketAddr) -> bool {
    let (_, page) = http_get(addr, "/metrics");
    support::sample(&page, "certwright_leader_election_leader", &[]) == Some(1.0)
}

fn cert_yaml(name: &str) -> String {
    format!(
        r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{ name: {name} }}
spec:
  secretName: {name}-tls
  dnsNames: [{name}.example.test]
  privateKey: {{ algorithm: ECDSA, size: 256 }}
  issuerRef: {{ name: selfsigned }}
"#
    )
}

async fn holder(leases: &Api<Lease>) -> (String, Lease) {
    let l = leases.get(LEASE).await.expect("the Lease exists");
    let h = l
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.clone())
        .unwrap_or_default();
    (h, l)
}

/// Waits for the child to exit; its exit status, or a failure naming what it logged.
fn wait_exit(c: &mut ControllerProcess, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(st) = c.child.try_wait().unwrap() {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "the controller did not exit within {timeout:?}; log:\n{}",
            c.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test]
async fn only_the_leader_writes_and_a_standby_takes_over() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "ha").await;
    let n = ns.name.as_str();
    let leases = Api::<Lease>::namespaced(client.clone(), n);
    let certs = Api::<Certificate>::namespaced(client.clone(), n);

    // A starts alone and becomes the leader; B joins and stands by.
    let mut a = start(n);
    let (a_addr, a_id) = (a.metrics_addr(), identity(&a));
    wait_until("A leads", || is_leader(a_addr), &a);
    let b = start(n);
    let (b_addr, b_id) = (b.metrics_addr(), identity(&b));
    wait_until(
        "B stands by (ready, not leading)",
        || {
            let (code, body) = http_get(b_addr, "/readyz");
            code == 200 && body.contains("standby")
        },
        &b,
    );
    assert_eq!(holder(&leases).await.0, a_id);

    // The leader issues; the standby writes nothing at all, not even an Event.
    support::apply_yaml(
        &client,
        n,
        &format!(
            "apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: {{ name: selfsigned }}\nspec: {{ selfSigned: {{}} }}\n---\n{}",
            cert_yaml("first")
        ),
    )
    .await;
    let got = tokio::time::timeout(
        Duration::from_secs(90),
        wait_for(&certs, "first", Duration::from_secs(90), ready),
    )
    .await;
    assert!(got.is_ok(), "first not Ready; A's log:\n{}", a.log());
    let (a_writes, _) = writes(a_addr);
    assert!(a_writes > 0.0, "the leader counted no writes");
    let (b_writes, b_list) = writes(b_addr);
    assert_eq!(b_writes, 0.0, "the standby wrote:\n{b_list}");
    assert!(!is_leader(b_addr));
    let (_, page) = http_get(b_addr, "/metrics");
    assert!(
        samples(&page, "certmanager_controller_sync_call_count").is_empty(),
        "the standby reconciled:\n{page}"
    );
    let (_, before_kill) = holder(&leases).await;
    let a_last_renew = before_kill
        .spec
        .as_ref()
        .unwrap()
        .renew_time
        .clone()
        .unwrap();

    // SIGKILL the leader: no release, so B must wait out the Lease. A Certificate created
    // now has no controller until B takes over; its issuance is B's.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let killed = Instant::now();
    support::apply_yaml(&client, n, &cert_yaml("second")).await;
    let got = tokio::time::timeout(
        Duration::from_secs(90),
        wait_for(&certs, "second", Duration::from_secs(90), ready),
    )
    .await;
    assert!(got.is_ok(), "second not Ready; B's log:\n{}", b.log());
    eprintln!(
        "takeover and issuance took {:?} after SIGKILL",
        killed.elapsed()
    );
    assert!(is_leader(b_addr), "B issued without leading?\n{}", b.log());
    let (h, after) = holder(&leases).await;
    assert_eq!(h, b_id);
    let spec = after.spec.unwrap();
    assert!(spec.lease_transitions.unwrap_or(0) >= 1);
    // Safety: B took the Lease no earlier than a full lease duration after A's last renewal
    // (both clocks are this machine's), so the two never led at once.
    let taken = spec.acquire_time.unwrap().0;
    let gap = taken.duration_since(a_last_renew.0);
    assert!(
        gap >= k8s_openapi::jiff::SignedDuration::from_secs(4),
        "B took over {gap:?} after A's last renewal, before the 4s lease expired"
    );
    let (b_writes, _) = writes(b_addr);
    assert!(b_writes > 0.0);

    // `check api` reads the live Lease: a controller is answering, and B is among the live
    // leaders (other tests on the shared plane may hold Leases of their own).
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_certwright"))
        .args(["check", "api", "-o", "json"])
        .env("KUBECONFIG", support::kubeconfig_path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check api: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["controllerAnswering"], true, "{report}");

    // A replica whose Lease is taken from it stops at once with a non-zero exit.
    let mut b = b;
    leases
        .patch(
            LEASE,
            &PatchParams::apply("certwright-tests").force(),
            &Patch::Apply(serde_json::json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "spec": {
                    "holderIdentity": "intruder",
                    "leaseDurationSeconds": 3600,
                    // MicroTime: the apiserver takes microseconds, not jiff's nanoseconds.
                    "renewTime": k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
                        k8s_openapi::jiff::Timestamp::now()
                    ),
                },
            })),
        )
        .await
        .unwrap();
    let st = wait_exit(&mut b, Duration::from_secs(30));
    assert!(
        !st.success(),
        "B exited successfully after losing the Lease"
    );
    let log = b.log();
    assert!(
        log.contains("LeaseTakenOver") && log.contains("intruder"),
        "{log}"
    );

    // A leader stopped with SIGTERM releases the Lease on its way out.
    leases
        .patch(
            LEASE,
            &PatchParams::apply("certwright-tests").force(),
            &Patch::Apply(serde_json::json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "spec": { "holderIdentity": "", "leaseDurationSeconds": 1 },
            })),
        )
        .await
        .unwrap();
    let mut c = start(n);
    let c_addr = c.metrics_addr();
    wait_until("C leads", || is_leader(c_addr), &c);
    let pid = c.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let st = wait_exit(&mut c, Duration::from_secs(30));
    assert!(st.success(), "SIGTERM should end cleanly:\n{}", c.log());
    let (h, _) = holder(&leases).await;
    assert_eq!(h, "", "the Lease was not released:\n{}", c.log());
}

fn wait_until(what: &str, f: impl Fn() -> bool, c: &ControllerProcess) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(
            Instant::now() < deadline,
            "timed out: {what}; log:\n{}",
            c.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
