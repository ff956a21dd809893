//! Shared support for integration tests against the real local control plane
//! (`scripts/cluster`): a client, a namespace of one's own, and a `wait_for` that tells what it
//! last saw when it gives up.
//!
//! Use from a test file with `mod support;`.
#![allow(dead_code)] // each test binary uses a different subset

pub mod acme;
pub mod bind;
pub mod pebble;

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config, Resource};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The repository root (where `scripts/cluster` lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The kubeconfig of the running control plane. Uses `$KUBECONFIG` when it names a file;
/// otherwise starts (or reuses) the local plane with `scripts/cluster up`, once per test binary.
pub fn kubeconfig_path() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(p) = std::env::var_os("KUBECONFIG").map(PathBuf::from)
            && p.is_file()
        {
            return p;
        }
        let out = Command::new(repo_root().join("scripts/cluster"))
            .arg("up")
            .output()
            .expect("running scripts/cluster up");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "scripts/cluster up failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout.lines().last().unwrap_or_default();
        PathBuf::from(
            line.strip_prefix("export KUBECONFIG=").unwrap_or_else(|| {
                panic!("unexpected last line from scripts/cluster up: {line:?}")
            }),
        )
    })
    .clone()
}

/// A client for the control plane. Built per call: a kube client belongs to the tokio runtime
/// that made it, and every `#[tokio::test]` has its own runtime.
pub async fn client() -> Client {
    client_for(&kubeconfig_path()).await
}

pub async fn client_for(kubeconfig: &Path) -> Client {
    let kc = Kubeconfig::read_from(kubeconfig).expect("reading kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kubeconfig to client config");
    Client::try_from(config).expect("building client")
}

/// A namespace that exists for one test and is deleted when this value is dropped (also when
/// the test panics). Deletion is asynchronous in the apiserver: the namespace controller of
/// kube-controller-manager empties and removes it.
pub struct TestNamespace {
    pub name: String,
    kubeconfig: PathBuf,
}

impl TestNamespace {
    /// Creates `cw-<prefix>-<unique>`; `prefix` should name the test.
    pub async fn new(client: &Client, prefix: &str) -> Self {
        let name = unique_name(prefix);
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": { "name": name, "labels": { "certwright.dev/test": "true" } }
        }))
        .expect("namespace object");
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
        Self {
            name,
            kubeconfig: kubeconfig_path(),
        }
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if std::env::var_os("CERTWRIGHT_KEEP_NAMESPACES").is_some() {
            eprintln!(
                "keeping namespace {} (CERTWRIGHT_KEEP_NAMESPACES)",
                self.name
            );
            return;
        }
        // Drop cannot await, and the test's runtime may be gone: delete from a runtime of our own.
        let (name, kubeconfig) = (self.name.clone(), self.kubeconfig.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let api = Api::<Namespace>::all(client_for(&kubeconfig).await);
                api.delete(&name, &DeleteParams::default()).await.ok()
            })
        })
        .join();
    }
}

/// A name unique within this test run: `<prefix>-<pid>-<n>`, valid as a DNS label.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("cw-{prefix}-{}-{n}", std::process::id())
}

/// Polls `name` until `condition` holds and returns the object. On timeout the test fails
/// with the object's last observed state (or that it never existed), which is what one needs
/// to see to understand the failure.
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    condition: impl Fn(Option<&K>) -> bool,
) -> Option<K>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
    K::DynamicType: Default,
{
    let deadline = Instant::now() + timeout;
    loop {
        match api.get_opt(name).await {
            Ok(obj) => {
                if condition(obj.as_ref()) {
                    return obj;
                }
                if Instant::now() >= deadline {
                    let state = match &obj {
                        Some(o) => serde_yaml::to_string(o).unwrap_or_else(|_| format!("{o:?}")),
                        None => "<does not exist>".to_string(),
                    };
                    panic!(
                        "timed out after {timeout:?} waiting for {} {name}; last observed state:\n{state}",
                        K::kind(&Default::default())
                    );
                }
            }
            // The apiserver may be restarting (some tests do that on purpose): keep polling.
            Err(e) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {name}; last error: {e}")
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The cache directory holding kubectl and friends, as built by `scripts/build-tools`.
pub fn tools_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Command::new(repo_root().join("scripts/build-tools"))
            .arg("kube")
            .output()
            .expect("running scripts/build-tools");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
    .clone()
}

/// A `kubectl` command against the test control plane.
pub fn kubectl() -> Command {
    let mut cmd = Command::new(tools_dir().join("kubectl"));
    cmd.env("KUBECONFIG", kubeconfig_path());
    cmd
}

/// Applies the generated CRDs in `crds/` and waits until each is Established.
pub async fn install_crds(client: &Client) {
    let paths = std::fs::read_dir(repo_root().join("crds"))
        .expect("crds/ directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"));
    install_crd_files(client, paths).await;
}

/// Applies the CRDs in these files and waits until each is Established.
pub async fn install_crd_files(client: &Client, paths: impl IntoIterator<Item = PathBuf>) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{Patch, PatchParams};
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let mut names = Vec::new();
    for path in paths {
        let crd: CustomResourceDefinition =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).expect("CRD YAML");
        let name = crd.metadata.name.clone().unwrap();
        api.patch(
            &name,
            &PatchParams::apply("certwright-tests").force(),
            &Patch::Apply(&crd),
        )
        .await
        .unwrap_or_else(|e| panic!("applying {}: {e}", path.display()));
        names.push(name);
    }
    for name in names {
        wait_for(&api, &name, Duration::from_secs(30), |c| {
            c.and_then(|c| c.status.as_ref())
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c.type_ == "Established" && c.status == "True")
                })
        })
        .await;
    }
}

/// A `certwright controller` process for one test namespace; killed on drop. Its log is kept
/// in a file whose path `log_path` gives, printed on failure by the tests that need it.
pub struct ControllerProcess {
    pub child: std::process::Child,
    pub log_path: PathBuf,
}

/// The binary the controller tests run: `CERTWRIGHT_BIN` when set (`make test` sets it to the
/// release build, the binary the container image ships), else the one cargo built for the test.
pub fn controller_bin() -> std::path::PathBuf {
    std::env::var_os("CERTWRIGHT_BIN")
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_certwright").into())
}

impl ControllerProcess {
    pub fn start(namespace: &str, extra: &[&str]) -> Self {
        Self::start_full(namespace, extra, "certwright=debug,info")
    }

    pub fn start_with_log_level(namespace: &str, level: &str) -> Self {
        Self::start_full(namespace, &[], level)
    }

    fn start_full(namespace: &str, extra: &[&str], level: &str) -> Self {
        static RUN: AtomicU32 = AtomicU32::new(0);
        let run = RUN.fetch_add(1, Ordering::Relaxed);
        let log_path =
            std::env::temp_dir().join(format!("certwright-controller-{namespace}-{run}.log"));
        let log = std::fs::File::create(&log_path).expect("controller log file");
        let child = Command::new(controller_bin())
            .args([
                "controller",
                "--namespace",
                namespace,
                "--cluster-resource-namespace",
                namespace,
            ])
            .arg("--kubeconfig")
            .arg(kubeconfig_path())
            .args(test_defaults(extra))
            .args(extra)
            .env("CERTWRIGHT_LOG_LEVEL", level)
            // Tests listen on loopback only: no HTTP-01 listener unless a test asks for one.
            .env("CERTWRIGHT_ACME_HTTP01_LISTEN", "off")
            .env_remove("RUST_LOG")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting certwright controller");
        ControllerProcess { child, log_path }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The address of the process's /metrics, /livez and /readyz listener, read from its
    /// start-up log line (tests bind port 0, so several controllers never collide).
    pub fn metrics_addr(&self) -> std::net::SocketAddr {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = strip_ansi(&self.log());
            let found = log
                .lines()
                .filter(|l| l.contains("serving /metrics"))
                .find_map(|l| l.split("address=").nth(1))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|a| a.trim_matches('"').parse().ok());
            if let Some(addr) = found {
                return addr;
            }
            assert!(
                Instant::now() < deadline,
                "the controller never logged its metrics address; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for ControllerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Flags every test controller gets unless the test passes its own: no leader election (a
/// single process per namespace; a Lease in kube-system would be shared by all tests) and a
/// metrics listener on a free loopback port.
fn test_defaults(extra: &[&str]) -> Vec<&'static str> {
    let mut out = Vec::new();
    if !extra.iter().any(|a| a.starts_with("--leader-elect")) {
        out.push("--leader-elect=false");
    }
    if !extra
        .iter()
        .any(|a| a.starts_with("--metrics-listen-address"))
    {
        out.push("--metrics-listen-address=127.0.0.1:0");
    }
    out
}

/// Removes ANSI colour sequences (`ESC [ ... m`) that the text log format may contain.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A plain HTTP/1.0 GET on loopback: the status code and the body. Enough for /metrics and
/// the probes without an HTTP client crate in the tests.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .expect("reading the HTTP response");
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {head:?}"));
    (code, body.to_string())
}

/// The value of the sample of `name` whose labels include every `(key, value)` in `labels`,
/// from a Prometheus text page; `None` when no sample matches. Label values must not contain
/// `",` (ours never do).
pub fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples(page, name)
        .into_iter()
        .find(|(ls, _)| {
            labels
                .iter()
                .all(|(k, v)| ls.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, v)| v)
}

/// Every sample of `name` on a Prometheus text page: its labels and value.
pub fn samples(page: &str, name: &str) -> Vec<(Vec<(String, String)>, f64)> {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let (labels, value) = if let Some(inner) = rest.strip_prefix('{') {
                let (inner, value) = inner.split_once("} ")?;
                let labels = inner
                    .strip_suffix('"')
                    .unwrap_or(inner)
                    .split("\",")
                    .filter(|p| !p.is_empty())
                    .filter_map(|p| p.split_once("=\""))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                (labels, value)
            } else {
                (Vec::new(), rest.strip_prefix(' ')?)
            };
            Some((labels, value.trim().parse().ok()?))
        })
        .collect()
}

/// Whether the Certificate's Ready condition is True.
pub fn ready(c: Option<&certwright::api::Certificate>) -> bool {
    c.and_then(|c| c.status.as_ref())
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.is_true("Ready")))
}

/// Applies a multi-document YAML of namespaced objects into `namespace` by server-side apply.
pub async fn apply_yaml(client: &Client, namespace: &str, yaml: &str) {
    use kube::api::{DynamicObject, Patch, PatchParams};
    use kube::discovery::{ApiCapabilities, ApiResource, Scope};
    let mut objs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let value = serde_yaml::Value::deserialize(doc).expect("YAML document");
        if value.is_null() {
            continue;
        }
        let obj: DynamicObject = serde_yaml::from_value(value).expect("a Kubernetes object");
        let tm = obj.types.clone().expect("apiVersion and kind");
        let gvk = kube::core::GroupVersionKind::try_from(&tm).expect("group/version/kind");
        objs.push((obj, tm, gvk));
    }
    // Discover only the groups these objects are in: tests running beside this one install
    // and remove CRDs, and a group listed while its CRD is still being set up answers 404.
    let groups: Vec<&str> = objs.iter().map(|(_, _, g)| g.group.as_str()).collect();
    let mut tries = 0;
    let discovery = loop {
        match kube::Discovery::new(client.clone())
            .filter(&groups)
            .run()
            .await
        {
            Ok(d) => break d,
            Err(_) if tries < 20 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("discovery: {e:?}"),
        }
    };
    for (obj, tm, gvk) in &objs {
        let (ar, caps): (ApiResource, ApiCapabilities) = discovery
            .resolve_gvk(gvk)
            .unwrap_or_else(|| panic!("kind {gvk:?} is not served"));
        let api: Api<DynamicObject> = if caps.scope == Scope::Cluster {
            Api::all_with(client.clone(), &ar)
        } else {
            Api::namespaced_with(client.clone(), namespace, &ar)
        };
        let name = obj.metadata.name.clone().expect("metadata.name");
        api.patch(
            &name,
            &PatchParams::apply("certwright-tests").force(),
            &Patch::Apply(obj),
        )
        .await
        .unwrap_or_else(|e| panic!("applying {} {name}: {e}", tm.kind));
    }
}

/// A `helm` command (built by `scripts/build-tools helm`, cached like the control plane) with
/// its config, cache and data directories under a temporary directory, so tests never read or
/// write the user's helm state. No KUBECONFIG: add `.env("KUBECONFIG", kubeconfig_path())`
/// for commands that talk to the cluster.
pub fn helm() -> Command {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    let bin = BIN.get_or_init(|| {
        let out = Command::new(repo_root().join("scripts/build-tools"))
            .arg("helm")
            .output()
            .expect("running scripts/build-tools helm");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("helm")
    });
    let home = std::env::temp_dir().join(format!("certwright-helm-{}", std::process::id()));
    let mut cmd = Command::new(bin);
    cmd.env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env_remove("KUBECONFIG")
        .current_dir(repo_root());
    cmd
}

impl ControllerProcess {
    /// Like [`ControllerProcess::start`], but connecting with `kubeconfig` (e.g. one that
    /// impersonates a ServiceAccount) instead of the admin's.
    pub fn start_with_kubeconfig(namespace: &str, kubeconfig: &Path, extra: &[&str]) -> Self {
        let log_path = std::env::temp_dir().join(format!("certwright-controller-{namespace}.log"));
        let log = std::fs::File::create(&log_path).expect("controller log file");
        let child = Command::new(controller_bin())
            .args(["controller", "--namespace", namespace])
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(test_defaults(extra))
            .args(extra)
            .env("CERTWRIGHT_LOG_LEVEL", "certwright=debug,info")
            .env("CERTWRIGHT_ACME_HTTP01_LISTEN", "off")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting certwright controller");
        ControllerProcess { child, log_path }
    }
}

/// The DER of each CERTIFICATE block of a PEM bundle, in order.
pub fn pems(bundle: &[u8]) -> Vec<Vec<u8>> {
    ::pem::parse_many(bundle)
        .unwrap()
        .into_iter()
        .filter(|p| p.tag() == "CERTIFICATE")
        .map(|p| p.into_contents())
        .collect()
}
