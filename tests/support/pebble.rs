//! Pebble, Let's Encrypt's ACME test server, on loopback for one test: its own TLS
//! certificate (from a CA made here, handed to Issuers as `caBundle`), its own config, and
//! pebble-challtestsrv as its DNS server so every test name resolves to 127.0.0.1, where the
//! controller's HTTP-01 listener answers. Both processes are killed on drop.
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::repo_root;

/// The directory holding `pebble` and `pebble-challtestsrv`: `$CERTWRIGHT_PEBBLE_DIR` when
/// set, else built once by `scripts/build-tools pebble` (it waits for any other build of the
/// same cache).
pub fn bin_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("CERTWRIGHT_PEBBLE_DIR") {
            return PathBuf::from(dir);
        }
        let out = Command::new(repo_root().join("scripts/build-tools"))
            .arg("pebble")
            .output()
            .expect("running scripts/build-tools pebble");
        assert!(
            out.status.success(),
            "scripts/build-tools pebble failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
    .clone()
}

/// A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after). Never the
/// same one twice in a test binary, so tests starting servers side by side cannot collide.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let mut given = GIVEN.lock().unwrap();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// How to run Pebble.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where Pebble sends HTTP-01 validation requests (the controller's listener port).
    pub http01_port: u16,
    /// Percentage of requests refused with `badNonce` (Pebble's default is 5).
    pub nonce_reject_percent: u8,
    /// Pebble's random wait before validating, up to this many seconds; None: no wait.
    pub va_sleep_seconds: Option<u32>,
    /// Extra roots (each with its own chain) offered as alternate chains.
    pub alternate_roots: u8,
    /// Require external account binding with this key ID and base64url MAC key.
    pub eab: Option<(String, String)>,
}

pub struct Pebble {
    /// The ACME directory URL.
    pub directory_url: String,
    /// Pebble's management API (roots and intermediates).
    pub management_url: String,
    /// PEM of the CA that signed Pebble's TLS certificate: the Issuer's `caBundle`.
    pub ca_bundle: String,
    children: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Pebble {
    pub fn start(opts: Options) -> Pebble {
        Pebble::start_resolving(opts, None)
    }

    /// Like [`Pebble::start`], but validating through the DNS server at `dns` (e.g. a test
    /// BIND) instead of pebble-challtestsrv, which is then not started.
    pub fn start_resolving(opts: Options, dns: Option<std::net::SocketAddr>) -> Pebble {
        let bins = bin_dir();
        let dir = tempfile::tempdir().expect("temp dir for pebble");

        // TLS for the ACME endpoint: a throwaway CA and a certificate for 127.0.0.1.
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "certwright test Pebble TLS CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
                .unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        let cert_path = dir.path().join("cert.pem");
        let key_path = dir.path().join("key.pem");
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();

        let (acme_port, mgmt_port, dns_port, dns_mgmt_port) =
            (free_port(), free_port(), free_port(), free_port());
        let config = serde_json::json!({
            "pebble": {
                "listenAddress": format!("127.0.0.1:{acme_port}"),
                "managementListenAddress": format!("127.0.0.1:{mgmt_port}"),
                "certificate": cert_path,
                "privateKey": key_path,
                "httpPort": opts.http01_port,
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": opts.eab.is_some(),
                "externalAccountMACKeys": opts.eab.iter().map(|(k, v)| (k.clone(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
                "retryAfter": { "authz": 1, "order": 1 },
                // ECDSA keys for its CA chain: generated in milliseconds, unlike RSA.
                "keyAlgorithm": "ecdsa",
                "profiles": {
                    "default": { "description": "default", "validityPeriod": 7776000 }
                }
            }
        });
        let config_path = dir.path().join("pebble-config.json");
        std::fs::write(&config_path, config.to_string()).unwrap();

        let log = |name: &str| std::fs::File::create(dir.path().join(name)).expect("log file");
        let mut children = Vec::new();
        let dns_server = match dns {
            Some(addr) => addr.to_string(),
            None => {
                children.push(challtestsrv(&bins, dns_port, dns_mgmt_port, &log));
                format!("127.0.0.1:{dns_port}")
            }
        };
        let pebble = Command::new(bins.join("pebble"))
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &dns_server])
            .env(
                "PEBBLE_VA_NOSLEEP",
                if opts.va_sleep_seconds.is_some() {
                    "0"
                } else {
                    "1"
                },
            )
            .env(
                "PEBBLE_VA_SLEEPTIME",
                opts.va_sleep_seconds.unwrap_or(0).to_string(),
            )
            .env(
                "PEBBLE_WFE_NONCEREJECT",
                opts.nonce_reject_percent.to_string(),
            )
            .env("PEBBLE_ALTERNATE_ROOTS", opts.alternate_roots.to_string())
            .stdout(log("pebble.log"))
            .stderr(log("pebble.err"))
            .spawn()
            .expect("starting pebble");
        children.push(pebble);
        let mut p = Pebble {
            directory_url: format!("https://127.0.0.1:{acme_port}/dir"),
            management_url: format!("https://127.0.0.1:{mgmt_port}"),
            ca_bundle: ca_cert.pem(),
            children,
            dir,
        };
        p.wait_listening(acme_port);
        p.wait_listening(mgmt_port);
        if dns.is_none() {
            p.wait_listening(dns_port);
        }
        p
    }

    /// Waits for `port` to accept connections; fails early, with the log, if a process died.
    /// Generous: on a loaded two-core machine Pebble's key generation can take a while.
    fn wait_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            for c in &mut self.children {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("a Pebble process exited ({status}); log:\n{}", self.log());
                }
            }
            assert!(
                Instant::now() < deadline,
                "pebble did not listen on {port}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Pebble's own log (and what either process wrote to stderr).
    pub fn log(&self) -> String {
        ["pebble.log", "pebble.err", "challtestsrv.err"]
            .iter()
            .map(|f| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("")
    }

    /// A PEM from the management API, e.g. `/roots/0` (the issuing root, new at each start)
    /// or `/intermediates/0`, fetched over TLS verified against [`Pebble::ca_bundle`].
    pub async fn management_pem(&self, path: &str) -> String {
        use certwright::acme::{HttpClient, Trust};
        let http = HttpClient::new(&Trust::Bundle(self.ca_bundle.clone().into_bytes())).unwrap();
        let url = format!("{}{path}", self.management_url);
        let rsp = http
            .send(http::Method::GET, &url, None, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        assert!(rsp.status.is_success(), "GET {url}: {}", rsp.status);
        String::from_utf8(rsp.body.to_vec()).unwrap()
    }

    /// Checks that `tls_crt` is a leaf followed by Pebble's (default) intermediate, each
    /// signed by the next up to Pebble's root, and returns the subjectAltName extension of
    /// the leaf, debug-printed, for the caller's name checks.
    pub async fn assert_issued_chain(&self, tls_crt: &[u8]) -> String {
        let chain = super::pems(tls_crt);
        assert_eq!(chain.len(), 2, "leaf + intermediate");
        let intermediate = super::pems(self.management_pem("/intermediates/0").await.as_bytes());
        let root = super::pems(self.management_pem("/roots/0").await.as_bytes());
        assert_eq!(chain[1], intermediate[0], "second is Pebble's intermediate");
        let (_, leaf) = x509_parser::parse_x509_certificate(&chain[0]).unwrap();
        let (_, inter) = x509_parser::parse_x509_certificate(&chain[1]).unwrap();
        let (_, root) = x509_parser::parse_x509_certificate(&root[0]).unwrap();
        leaf.verify_signature(Some(inter.public_key()))
            .expect("leaf signed by the intermediate");
        inter
            .verify_signature(Some(root.public_key()))
            .expect("intermediate signed by Pebble's root");
        format!(
            "{:?}",
            leaf.subject_alternative_name().unwrap().unwrap().value
        )
    }
}

/// pebble-challtestsrv as Pebble's DNS: every name resolves to 127.0.0.1, no TXT records.
fn challtestsrv(
    bins: &std::path::Path,
    dns_port: u16,
    mgmt_port: u16,
    log: &dyn Fn(&str) -> std::fs::File,
) -> Child {
    Command::new(bins.join("pebble-challtestsrv"))
        .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
        .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
        .args(["-management", &format!("127.0.0.1:{mgmt_port}")])
        .args(["-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", ""])
        .stdout(log("challtestsrv.log"))
        .stderr(log("challtestsrv.err"))
        .spawn()
        .expect("starting pebble-challtestsrv")
}

impl Pebble {
    /// Makes Pebble answer `ari_response` (any text; JSON for a valid answer) to renewal
    /// information requests about the certificate `cert_pem`, through its management API.
    pub async fn set_renewal_info(&self, cert_pem: &str, ari_response: &str) {
        use certwright::acme::{HttpClient, Trust};
        let http = HttpClient::new(&Trust::Bundle(self.ca_bundle.clone().into_bytes())).unwrap();
        let url = format!("{}/set-renewal-info/", self.management_url);
        let body = serde_json::json!({ "Certificate": cert_pem, "ARIResponse": ari_response });
        let rsp = http
            .send(
                http::Method::POST,
                &url,
                Some("application/json"),
                body.to_string().into_bytes(),
            )
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        assert!(
            rsp.status.is_success(),
            "POST {url}: {} {}",
            rsp.status,
            String::from_utf8_lossy(&rsp.body)
        );
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
