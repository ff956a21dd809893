//! The operator's verbs end to end: the real binary against the local control plane, and
//! `verify` against real TLS servers (`openssl s_server`) serving good and broken chains.
mod support;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use certwright::api::{Certificate, CertificateRequest};
use certwright::pki::{
    self, CsrSpec, KeySpec, PrivateKey, SignOptions, Subject, SubjectAltNames, SubjectFields, Usage,
};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::PostParams;
use serde_json::Value;
use support::{ControllerProcess, TestNamespace, wait_for};

/// Runs `certwright ARGS` against the test plane.
fn certwright(args: &[&str]) -> Output {
    run_as(Path::new(env!("CARGO_BIN_EXE_certwright")), args)
}

fn run_as(bin: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .env("KUBECONFIG", support::kubeconfig_path())
        .env_remove("CERTWRIGHT_CLI_NAMESPACE")
        .env_remove("CERTWRIGHT_OUTPUT")
        .env("NO_COLOR", "1")
        .output()
        .expect("running certwright")
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", show(o)))
}

// ---------------------------------------------------------------- PKI fixtures for verify

struct Issued {
    key: PrivateKey,
    pem: String,
}

fn csr(cn: &str, dns: &[&str], is_ca: bool, key: &PrivateKey) -> String {
    let spec = CsrSpec {
        subject: Subject::Fields(SubjectFields {
            common_name: Some(cn.into()),
            ..Default::default()
        }),
        sans: SubjectAltNames {
            dns_names: dns.iter().map(|d| d.to_string()).collect(),
            ..Default::default()
        },
        usages: if is_ca {
            vec![Usage::CertSign, Usage::CrlSign]
        } else {
            vec![Usage::DigitalSignature, Usage::ServerAuth]
        },
        is_ca,
        signature_algorithm: None,
        name_constraints: None,
    };
    pki::build_csr(&spec, key).unwrap()
}

fn sign(
    parent: Option<&Issued>,
    cn: &str,
    dns: &[&str],
    is_ca: bool,
    at: SystemTime,
    days: u64,
) -> Issued {
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let mut opts = SignOptions::new(at);
    opts.duration = Duration::from_secs(days * 86_400);
    let req = csr(cn, dns, is_ca, &key);
    let pem = match parent {
        None => pki::self_sign(req.as_bytes(), &key, &opts).unwrap(),
        Some(p) => pki::ca_sign(req.as_bytes(), p.pem.as_bytes(), &p.key, &opts).unwrap(),
    };
    Issued { key, pem }
}

fn key_pem(i: &Issued) -> String {
    i.key.to_pem(pki::KeyEncoding::Pkcs8).unwrap().to_string()
}

/// An `openssl s_server` on a free loopback port, killed on drop.
struct TlsServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl TlsServer {
    fn start(leaf: &Issued, chain: &[&Issued]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let w = |n: &str, s: &str| {
            let p = dir.path().join(n);
            std::fs::write(&p, s).unwrap();
            p
        };
        let cert = w("cert.pem", &leaf.pem);
        let key = w("key.pem", &key_pem(leaf));
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new("openssl");
        cmd.args(["s_server", "-quiet", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key);
        if !chain.is_empty() {
            let all: String = chain.iter().map(|c| c.pem.as_str()).collect();
            // -cert_chain is sent as written: exactly what a misconfigured server does.
            cmd.arg("-cert_chain").arg(w("chain.pem", &all));
        }
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl s_server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        TlsServer {
            child,
            port,
            _dir: dir,
        }
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn check<'a>(report: &'a Value, name: &str) -> (&'a str, &'a str) {
    let c = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report}"));
    (
        c["outcome"].as_str().unwrap(),
        c["detail"].as_str().unwrap(),
    )
}

/// Creates a `kubernetes.io/tls` Secret holding `tls.crt`, `tls.key` and `ca.crt`.
async fn put_secret(client: &kube::Client, ns: &str, name: &str, crt: &str, key: &str, ca: &str) {
    let s = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".into()),
        string_data: Some(
            [("tls.crt", crt), ("tls.key", key), ("ca.crt", ca)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    };
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &s)
        .await
        .unwrap();
}

// ---------------------------------------------------------------- verify

/// A verify case: name, served leaf, served rest of the chain, exit code, the check that fails.
type Case<'a> = (&'a str, &'a Issued, Vec<&'a Issued>, i32, Option<&'a str>);

#[tokio::test]
async fn verify_tells_good_misordered_incomplete_expired_and_stale_chains_apart() {
    let client = support::client().await;
    let ns = TestNamespace::new(&client, "verify").await;
    let now = SystemTime::now();
    let day = Duration::from_secs(86_400);
    let root = sign(None, "Verify Root", &[], true, now - day * 200, 3650);
    let inter = sign(
        Some(&root),
        "Verify Intermediate",
        &[],
        true,
        now - day * 200,
        1825,
    );
    let name = ["app.example.test"];
    let old = sign(
        Some(&inter),
        "app.example.test",
        &name,
        false,
        now - day * 10,
        90,
    );
    let new = sign(
        Some(&inter),
        "app.example.test",
        &name,
        false,
        now - day,
        90,
    );
    let expired = sign(
        Some(&inter),
        "app.example.test",
        &name,
        false,
        now - day * 100,
        30,
    );
    // The Secret as the controller writes it: leaf + intermediate, root in ca.crt.
    put_secret(
        &client,
        &ns.name,
        "app-tls",
        &format!("{}{}", new.pem, inter.pem),
        &key_pem(&new),
        &root.pem,
    )
    .await;
    let secret = format!("{}/app-tls", ns.name);

    // (what the server sends, exit code, the check that must fail)
    let cases: [Case<'_>; 5] = [
        ("good", &new, vec![&inter], 0, None),
        ("misordered", &new, vec![&root, &inter], 1, Some("order")),
        (
            "missing intermediate",
            &new,
            vec![],
            1,
            Some("completeness"),
        ),
        ("expired", &expired, vec![&inter], 1, Some("expiry")),
        ("stale", &old, vec![&inter], 1, Some("freshness")),
    ];
    for (what, leaf, chain, code, failing) in cases {
        let server = TlsServer::start(leaf, &chain);
        let addr = server.address();
        let args = [
            "verify",
            &addr,
            "--servername",
            "app.example.test",
            "--secret",
            &secret,
        ];
        let out = certwright(&[&args[..], &["-o", "json"]].concat());
        assert_eq!(out.status.code(), Some(code), "{what}: {}", show(&out));
        let report = json(&out);
        match failing {
            None => assert_eq!(report["verdict"], "Pass", "{what}: {report}"),
            Some(f) => {
                assert_eq!(report["verdict"], "Fail", "{what}");
                let (outcome, detail) = check(&report, f);
                assert_eq!(outcome, "Fail", "{what}: {f}: {detail}");
                let others_pass = report["checks"].as_array().unwrap().iter().all(|c| {
                    c["check"] == f
                        || c["outcome"] != "Fail"
                        // an expired leaf or a missing intermediate also fails path building
                        || (c["check"] == "trust" && matches!(f, "expiry" | "completeness"))
                        // and the expired leaf is not the Secret's either
                        || (c["check"] == "freshness" && f == "expiry")
                });
                assert!(others_pass, "{what}: only {f} should fail: {report}");
            }
        }
        if what == "missing intermediate" {
            assert!(
                check(&report, "completeness")
                    .1
                    .contains("Verify Intermediate")
            );
        }
        if what == "stale" {
            assert!(check(&report, "freshness").1.starts_with("stale"));
        }
        // The human form says the same.
        if what == "good" || what == "stale" {
            let text = certwright(&args);
            let s = String::from_utf8_lossy(&text.stdout);
            assert!(
                s.contains("verdict: ") && !s.contains('\x1b'),
                "{}",
                show(&text)
            );
            assert_eq!(text.status.code(), Some(code));
        }
    }

    // Wrong name, and nothing listening: failures, not panics.
    let server = TlsServer::start(&new, &[&inter]);
    let out = certwright(&[
        "verify",
        &server.address(),
        "--servername",
        "other.test",
        "--secret",
        &secret,
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(check(&json(&out), "hostname").0, "Fail");
    drop(server);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = certwright(&["verify", &format!("127.0.0.1:{port}")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ConnectFailed"),
        "{}",
        show(&out)
    );
    let out = certwright(&["verify", "no-port"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HOST:PORT"),
        "{}",
        show(&out)
    );

    // inspect secret: the same Secret decoded.
    let out = certwright(&["inspect", "secret", "app-tls", "-n", &ns.name, "-o", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    let r = json(&out);
    assert_eq!(r["key"], "matches");
    assert_eq!(r["chain"].as_array().unwrap().len(), 2);
    assert_eq!(r["chain"][0]["subject"], "CN=app.example.test");
    assert_eq!(r["chain"][0]["sans"][0], "DNS:app.example.test");
    assert_eq!(r["chain"][0]["issuedByNext"], true);
    assert_eq!(r["chain"][1]["issuedByNext"], true);
    assert_eq!(r["ca"][0]["subject"], "CN=Verify Root");
    assert_eq!(r["problems"].as_array().unwrap().len(), 0, "{r}");
    // A misordered, mismatched Secret is reported, in YAML too.
    put_secret(
        &client,
        &ns.name,
        "bad-tls",
        &format!("{}{}", inter.pem, new.pem),
        &key_pem(&old),
        &root.pem,
    )
    .await;
    let out = certwright(&["inspect", "secret", "bad-tls", "-n", &ns.name, "-o", "yaml"]);
    let r: Value = serde_yaml::from_slice(&out.stdout).unwrap();
    assert_eq!(r["key"], "mismatch", "{r}");
    assert!(r["problems"].as_array().unwrap().len() >= 2, "{r}");
    let out = certwright(&["inspect", "secret", "absent", "-n", &ns.name]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not found"),
        "{}",
        show(&out)
    );
}

// ---------------------------------------------------------------- list, status, renew, check

const CERTS: &str = r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: { name: selfsigned }
spec: { selfSigned: {} }
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: web, labels: { app: web } }
spec:
  secretName: web-tls
  dnsNames: [web.example.test]
  duration: 720h
  issuerRef: { name: selfsigned }
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata: { name: api }
spec:
  secretName: api-tls
  dnsNames: [api.example.test]
  duration: 2160h
  issuerRef: { name: selfsigned }
"#;

fn revision(c: Option<&Certificate>) -> i64 {
    c.and_then(|c| c.status.as_ref())
        .and_then(|s| s.revision)
        .unwrap_or(0)
}

fn issuing_done(c: Option<&Certificate>, rev: i64) -> bool {
    revision(c) >= rev
        && c.and_then(|c| c.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().all(|c| c.r#type != "Issuing"))
}

#[tokio::test]
async fn list_status_renew_and_check_api() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "ops").await;
    let n = ns.name.as_str();
    let controller = ControllerProcess::start(n, &[]);
    support::apply_yaml(&client, n, CERTS).await;
    let certs = Api::<Certificate>::namespaced(client.clone(), n);
    for name in ["web", "api"] {
        let ok = tokio::time::timeout(
            Duration::from_secs(90),
            wait_for(&certs, name, Duration::from_secs(90), |c| {
                issuing_done(c, 1)
            }),
        )
        .await;
        assert!(
            ok.is_ok(),
            "{name} not issued; log:
{}",
            controller.log()
        );
    }

    // list: soonest first, days left from status, a timeline in text.
    let out = certwright(&["list", "-n", n, "-o", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    let l = json(&out);
    let names: Vec<&str> = l
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web", "api"]);
    assert_eq!(l[0]["daysLeft"], 29);
    assert_eq!(l[1]["daysLeft"], 89);
    assert_eq!(l[0]["ready"], "True");
    let text = certwright(&["list", "-n", n]);
    let s = String::from_utf8_lossy(&text.stdout);
    assert!(
        s.contains("TIMELINE") && s.contains('|') && s.contains("=-"),
        "{s}"
    );
    let web_line = s.lines().find(|l| l.contains(" web ")).unwrap();
    let api_line = s.lines().find(|l| l.contains(" api ")).unwrap();
    assert!(
        web_line.matches('=').count() < api_line.matches('=').count(),
        "{s}"
    );

    // status: up to date, with its chain, request and events.
    let out = certwright(&["status", "certificate", "web", "-n", n, "-o", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    let st = json(&out);
    assert_eq!(st["decision"]["wouldIssue"], false, "{st}");
    assert_eq!(st["decision"]["reason"], "UpToDate");
    assert_eq!(st["chain"][0]["sans"][0], "DNS:web.example.test", "{st}");
    assert_eq!(st["requests"][0]["name"], "web-1");
    assert_eq!(st["requests"][0]["approved"], "True");
    assert!(!st["events"].as_array().unwrap().is_empty(), "{st}");

    // check api: CRDs served and the controller's status writes seen.
    let out = certwright(&["check", "api", "-o", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    let chk = json(&out);
    assert_eq!(chk["ok"], true);
    assert_eq!(chk["missing"].as_array().unwrap().len(), 0);
    assert!(
        chk["controllerLastSeen"].is_string(),
        "controller not seen: {chk}"
    );
    // This controller runs without leader election; other tests' Leases may exist on the
    // shared plane, so only the shape is asserted here (tests/leader_election.rs asserts the
    // answer against a live leader).
    assert!(
        chk["controllerAnswering"].is_null() || chk["controllerAnswering"].is_boolean(),
        "{chk}"
    );

    // renew with the controller stopped: status shows the manual trigger it would act on.
    drop(controller);
    let out = certwright(&["renew", "web", "-n", n, "-o", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(json(&out)[0]["result"], "triggered");
    let out = certwright(&["renew", "web", "-n", n]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("already-issuing"),
        "{}",
        show(&out)
    );
    let st = json(&certwright(&[
        "status",
        "certificate",
        "web",
        "-n",
        n,
        "-o",
        "json",
    ]));
    assert_eq!(st["decision"]["wouldIssue"], true, "{st}");
    assert_eq!(st["decision"]["reason"], "ManuallyTriggered");
    assert_eq!(st["decision"]["nextStep"], "store a new private key");

    let controller = ControllerProcess::start(n, &[]);
    let ok = tokio::time::timeout(
        Duration::from_secs(60),
        wait_for(&certs, "web", Duration::from_secs(60), |c| {
            issuing_done(c, 2)
        }),
    )
    .await;
    assert!(
        ok.is_ok(),
        "web not re-issued; log:
{}",
        controller.log()
    );
    assert_eq!(revision(certs.get("web").await.ok().as_ref()), 2);
    assert_eq!(
        revision(certs.get("api").await.ok().as_ref()),
        1,
        "renew NAME touched another"
    );

    // -l selects by label, --all takes the rest.
    let out = certwright(&["renew", "-l", "app=web", "-n", n, "-o", "json"]);
    let r = json(&out);
    assert_eq!(r.as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r[0]["certificate"], format!("{n}/web"));
    let out = certwright(&["renew", "--all", "-n", n, "-o", "json"]);
    assert_eq!(json(&out).as_array().unwrap().len(), 2, "{}", show(&out));
    let ok = tokio::time::timeout(
        Duration::from_secs(60),
        wait_for(&certs, "api", Duration::from_secs(60), |c| {
            issuing_done(c, 2)
        }),
    )
    .await;
    assert!(
        ok.is_ok(),
        "api not re-issued; log:
{}",
        controller.log()
    );
    let out = certwright(&["renew", "-n", n]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NAME|--all|-l"),
        "{}",
        show(&out)
    );
    let out = certwright(&["renew", "nope", "-n", n]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
}

// ---------------------------------------------------------------- approve / deny

#[tokio::test]
async fn approve_and_deny_are_final_and_exclusive() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, "approve").await;
    let n = ns.name.as_str();
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let request = csr("r.example.test", &["r.example.test"], false, &key);
    let api = Api::<CertificateRequest>::namespaced(client.clone(), n);
    for name in ["one", "two"] {
        // An external issuer group: no controller would act on it.
        let cr: CertificateRequest = serde_json::from_value(serde_json::json!({
            "apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest",
            "metadata": { "name": name },
            "spec": { "issuerRef": { "name": "x", "group": "example.test", "kind": "X" },
                      "request": k8s_openapi::ByteString(request.clone().into_bytes()) },
        }))
        .unwrap();
        api.create(&PostParams::default(), &cr).await.unwrap();
    }
    let out = certwright(&["approve", "one", "-n", n, "--message", "looks right"]);
    assert!(out.status.success(), "{}", show(&out));
    let one = api.get("one").await.unwrap();
    assert!(one.is_approved());
    let c = one.condition("Approved").unwrap();
    assert_eq!(c.reason.as_deref(), Some("KubectlCertwright"));
    assert_eq!(c.message.as_deref(), Some("looks right"));

    let out = certwright(&["deny", "two", "-n", n, "--reason", "NotOurs", "-o", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(json(&out)["condition"], "Denied");
    assert!(api.get("two").await.unwrap().is_denied());

    // Denying an approved request: the apiserver's CEL rule refuses, and we say its words.
    let out = certwright(&["deny", "one", "-n", n]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Approved and Denied may not both be set"),
        "{}",
        show(&out)
    );
    // The same decision twice is refused before asking.
    let out = certwright(&["approve", "one", "-n", n]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("AlreadyDecided"),
        "{}",
        show(&out)
    );
    let out = certwright(&["approve", "two", "-n", n]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(!api.get("two").await.unwrap().is_approved());
    let out = certwright(&["approve", "one", "-n", n, "--reason", "two words"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--reason"),
        "{}",
        show(&out)
    );
}

// ---------------------------------------------------------------- kubectl plugin

#[tokio::test]
async fn works_as_the_kubectl_plugin_kubectl_certwright() {
    let client = support::client().await;
    support::install_crds(&client).await;
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("kubectl-certwright");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_certwright"), &link).unwrap();

    // Invoked by its plugin name directly...
    let out = run_as(&link, &["check", "api", "-o", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(json(&out)["ok"], true);
    let help = run_as(&link, &["--help"]);
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("kubectl-certwright"),
        "{}",
        show(&help)
    );

    // ...and found on PATH by kubectl itself, arguments passed through unchanged.
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = support::kubectl()
        .args(["certwright", "check", "api", "-o", "json"])
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(json(&out)["ok"], true);
}
