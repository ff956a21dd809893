//! `scripts/cluster` behaves as promised: `up` twice reuses the running plane, a crashed etcd or
//! a stale pid file does not wedge `up`, and `down` leaves no process behind. Runs a second,
//! private plane in a temporary state dir so the shared one used by other tests is untouched.
mod support;

use std::path::Path;
use std::process::Command;

fn cluster(state: &Path, verb: &str) -> (bool, String, String) {
    let out = Command::new(support::repo_root().join("scripts/cluster"))
        .arg(verb)
        .env("CERTWRIGHT_CLUSTER_DIR", state)
        .output()
        .expect("running scripts/cluster");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn pid(state: &Path, name: &str) -> String {
    std::fs::read_to_string(state.join(format!("{name}.pid")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Processes of ours still running for this state dir.
fn leftovers(state: &Path) -> String {
    let out = Command::new("pgrep")
        .args(["-af", &state.display().to_string()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            ["etcd", "kube-apiserver", "kube-controller-manager"]
                .iter()
                .any(|b| l.contains(b))
        })
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn up_reuses_recovers_and_down_cleans() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("plane");

    let (ok, out, err) = cluster(&state, "up");
    assert!(ok, "first up failed:\n{err}");
    let last = out.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!("export KUBECONFIG={}", state.join("kubeconfig").display())
    );
    let first_api = pid(&state, "apiserver");

    // Twice: the same processes are reused.
    let (ok, out2, err) = cluster(&state, "up");
    assert!(ok, "second up failed:\n{err}");
    assert_eq!(out2.lines().last(), out.lines().last());
    assert!(err.contains("reusing"), "{err}");
    assert_eq!(pid(&state, "apiserver"), first_api);
    assert!(cluster(&state, "status").0);

    // A crashed etcd and a stale pid file: `up` starts over instead of wedging.
    let etcd = pid(&state, "etcd");
    Command::new("kill").args(["-9", &etcd]).status().unwrap();
    std::fs::write(state.join("controller-manager.pid"), "999999\n").unwrap();
    assert!(
        !cluster(&state, "status").0,
        "status must fail with etcd dead"
    );
    let (ok, _, err) = cluster(&state, "up");
    assert!(ok, "up after an etcd crash failed:\n{err}");
    assert_ne!(pid(&state, "apiserver"), first_api);
    assert!(cluster(&state, "status").0);

    let (ok, _, err) = cluster(&state, "down");
    assert!(ok, "down failed: {err}");
    assert!(!state.exists(), "down must remove the state dir");
    let left = leftovers(&state);
    assert!(left.is_empty(), "processes left behind by down:\n{left}");
}
