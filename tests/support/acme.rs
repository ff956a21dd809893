//! ACME test set-up shared by the Pebble tests that came after `acme_e2e.rs`: a namespace, a
//! Pebble, an Issuer for it and the controller answering HTTP-01 on loopback.
use std::time::Duration;

use certwright::api::{Certificate, Issuer};
use kube::{Api, Client};

use super::pebble::{Options, Pebble, free_port};
use super::{ControllerProcess, TestNamespace, wait_for};

pub struct Setup {
    pub client: Client,
    pub ns: TestNamespace,
    pub pebble: Pebble,
    /// The port of the controller's HTTP-01 listener, where Pebble validates.
    pub port: u16,
}

/// Pebble without nonce rejections or validation delays (the tests using this are about
/// other things; `acme_e2e.rs` covers those).
pub fn quiet_pebble() -> Options {
    Options {
        http01_port: free_port(),
        nonce_reject_percent: 0,
        va_sleep_seconds: None,
        alternate_roots: 0,
        eab: None,
    }
}

pub async fn setup(prefix: &str, opts: Options) -> Setup {
    let client = super::client().await;
    super::install_crds(&client).await;
    let ns = TestNamespace::new(&client, prefix).await;
    let port = opts.http01_port;
    let pebble = Pebble::start(opts);
    Setup {
        client,
        ns,
        pebble,
        port,
    }
}

/// A Pod IP from the documentation range for the per-challenge EndpointSlices: nothing is
/// ever sent there (no ingress controller runs in the test cluster; Pebble reaches the
/// listener on loopback directly).
pub const SOLVER_IP: &str = "192.0.2.10";

/// The controller with its HTTP-01 listener where Pebble validates, writing the routing
/// objects for [`SOLVER_IP`], and self-checking its listener on loopback.
pub fn start_controller(s: &Setup) -> ControllerProcess {
    start_controller_checking(s, s.port)
}

/// [`start_controller`] with the self check connecting to `self_check_port` instead: a port
/// where nothing listens holds every challenge before acceptance, routing objects in place.
pub fn start_controller_checking(s: &Setup, self_check_port: u16) -> ControllerProcess {
    ControllerProcess::start(
        &s.ns.name,
        &[
            "--acme-http01-listen",
            &format!("127.0.0.1:{}", s.port),
            "--acme-http01-solver-ip",
            SOLVER_IP,
            "--acme-http01-self-check-address",
            &format!("127.0.0.1:{self_check_port}"),
        ],
    )
}

/// An Issuer for Pebble trusting it through `caBundle`; `extra` is YAML added under
/// `spec.acme` (indented four spaces), `solver` the one HTTP-01 solver's body.
pub fn issuer_yaml(name: &str, pebble: &Pebble, extra: &str, solver: &str) -> String {
    use base64::Engine as _;
    format!(
        r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{ name: {name} }}
spec:
  acme:
    server: {server}
    email: ops@example.com
    caBundle: {bundle}
    privateKeySecretRef: {{ name: {name}-account }}
{extra}
    solvers:
      - http01: {solver}
"#,
        server = pebble.directory_url,
        bundle = base64::engine::general_purpose::STANDARD.encode(&pebble.ca_bundle),
    )
}

pub async fn wait_issuer_ready(s: &Setup, name: &str, ctl: &ControllerProcess) {
    let api = Api::<Issuer>::namespaced(s.client.clone(), &s.ns.name);
    let ready = tokio::time::timeout(
        Duration::from_secs(60),
        wait_for(&api, name, Duration::from_secs(60), |i| {
            i.and_then(|i| i.status.as_ref())
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.is_true("Ready")))
        }),
    )
    .await;
    assert!(
        matches!(ready, Ok(Some(_))),
        "issuer not ready\ncontroller log:\n{}\npebble log:\n{}",
        ctl.log(),
        s.pebble.log()
    );
}

/// Waits until `check` holds for the Certificate, failing with both logs.
pub async fn wait_certificate(
    s: &Setup,
    name: &str,
    ctl: &ControllerProcess,
    timeout: Duration,
    check: impl Fn(Option<&Certificate>) -> bool,
) -> Certificate {
    let api = Api::<Certificate>::namespaced(s.client.clone(), &s.ns.name);
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let c = api.get_opt(name).await.ok().flatten();
        if check(c.as_ref()) {
            return c.expect("the check passed on an existing Certificate");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Certificate {name} did not get there in {timeout:?}; last state:\n{}\ncontroller log:\n{}\npebble log:\n{}",
            serde_yaml::to_string(&c).unwrap_or_default(),
            ctl.log(),
            s.pebble.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A Certificate for one name from `issuer` (an ECDSA P-256 key).
pub fn certificate_yaml(name: &str, issuer: &str, dns_name: &str) -> String {
    certificate_yaml_with(name, issuer, &[dns_name], "")
}

/// A Certificate for `dns_names` from `issuer` (an ECDSA P-256 key), with `extra` lines of
/// spec (indented two spaces) appended.
pub fn certificate_yaml_with(name: &str, issuer: &str, dns_names: &[&str], extra: &str) -> String {
    let names: Vec<String> = dns_names.iter().map(|n| format!("\"{n}\"")).collect();
    format!(
        r#"
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {{ name: {name} }}
spec:
  secretName: {name}-tls
  dnsNames: [{names}]
  privateKey: {{ algorithm: ECDSA, size: 256 }}
  issuerRef: {{ name: {issuer} }}
{extra}
"#,
        names = names.join(", ")
    )
}
