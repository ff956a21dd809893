//! A leader cut off from the apiserver stops on its own once its renew deadline has passed,
//! long before its Lease could expire for a standby: it never waits for the apiserver to come
//! back to find out it lost. Its own test binary, because it stops the shared kube-apiserver.
mod support;

use std::time::{Duration, Instant};

use support::{ControllerProcess, TestNamespace, http_get};

/// Runs `scripts/cluster VERB` on the plane the tests use.
fn cluster(verb: &str) {
    let out = std::process::Command::new(support::repo_root().join("scripts/cluster"))
        .arg(verb)
        .env(
            "CERTWRIGHT_CLUSTER_DIR",
            support::kubeconfig_path().parent().unwrap(),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cluster {verb}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts the apiserver again however the test ends.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        cluster("start-apiserver");
    }
}

#[tokio::test]
async fn a_leader_cut_off_from_the_apiserver_stops_before_its_lease_expires() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "partition").await;
    let lease_ns = format!("--leader-election-namespace={}", ns.name);
    // A long lease and a short renew deadline: the margin between them is what protects a
    // standby, and it is wide here so that a slow machine cannot blur the outcome.
    let mut leader = ControllerProcess::start(
        &ns.name,
        &[
            "--leader-elect=true",
            &lease_ns,
            "--leader-election-lease-duration=30s",
            "--leader-election-renew-deadline=3s",
            "--leader-election-retry-period=1s",
        ],
    );
    let addr = leader.metrics_addr();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, page) = http_get(addr, "/metrics");
        if support::sample(&page, "certwright_leader_election_leader", &[]) == Some(1.0) {
            break;
        }
        assert!(Instant::now() < deadline, "never led:\n{}", leader.log());
        std::thread::sleep(Duration::from_millis(200));
    }

    // Timed from the start of the stop (the apiserver refuses requests while it shuts down,
    // which takes seconds), so the stop runs beside the watch for the leader's exit.
    let stopped = Instant::now();
    let _restart = Restart;
    let stopping = std::thread::spawn(|| cluster("stop-apiserver"));
    // Whatever the outcome, the process must have stopped while the apiserver is still down
    // and before its 30s Lease could have expired for anyone else.
    let status = loop {
        if let Some(st) = leader.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(30),
            "the leader still ran when its Lease expired:\n{}",
            leader.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!(
        "the leader stopped {:?} after the apiserver began to stop",
        stopped.elapsed()
    );
    stopping.join().expect("stopping the apiserver");
    assert!(!status.success());
    let log = leader.log();
    assert!(log.contains("LeaseRenewDeadlineExceeded"), "{log}");
}
