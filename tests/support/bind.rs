//! BIND (Debian's `named`) on loopback for one test: primary zones written into a temp dir,
//! TSIG keys allowed to update them, `named -g` in the foreground on a free port of
//! 127.0.0.1 as the current user (no chroot, no privilege change, no control channel), ready
//! once it answers for its zones. Killed on drop. `dig` (bind9-dnsutils) is the independent
//! reader the tests check the zones with.
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::pebble::free_port;

/// A zone: its name and records beyond SOA, NS and the nameserver's address (zone-file
/// lines, names relative to the zone).
pub struct Zone {
    pub name: String,
    pub records: Vec<String>,
}

impl Zone {
    pub fn new(name: &str) -> Zone {
        Zone {
            name: name.into(),
            records: Vec::new(),
        }
    }

    pub fn with(mut self, record: &str) -> Zone {
        self.records.push(record.into());
        self
    }
}

/// A TSIG key BIND accepts updates with.
pub struct Key {
    pub name: String,
    /// `hmac-sha256` or `hmac-sha512`, as BIND spells it.
    pub algorithm: &'static str,
    /// base64, as `tsig-keygen` prints it (and cert-manager's Secret holds it).
    pub secret: String,
}

pub struct Bind {
    pub addr: SocketAddr,
    pub keys: Vec<Key>,
    child: Child,
    dir: tempfile::TempDir,
}

fn random_secret(len: usize) -> String {
    use base64::Engine as _;
    let mut bytes = vec![0u8; len];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Where Debian puts the server (root's PATH has /usr/sbin, a user's may not).
fn named_bin() -> String {
    for p in ["/usr/sbin/named", "/usr/bin/named"] {
        if std::path::Path::new(p).exists() {
            return p.into();
        }
    }
    "named".into()
}

impl Bind {
    /// Starts BIND serving `zones`, each with `ns1.<zone>` at 127.0.0.1 as its one NS, and
    /// with two update keys: `k256` (HMAC-SHA256) and `k512` (HMAC-SHA512).
    pub fn start(zones: &[Zone]) -> Bind {
        let dir = tempfile::tempdir().expect("temp dir for named");
        let d = dir.path().display().to_string();
        let keys = vec![
            Key {
                name: "k256".into(),
                algorithm: "hmac-sha256",
                secret: random_secret(32),
            },
            Key {
                name: "k512".into(),
                algorithm: "hmac-sha512",
                secret: random_secret(64),
            },
        ];
        let port = free_port();
        let mut conf = format!(
            r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    // Recursion for loopback: a CNAME into another of its zones is then followed as a
    // resolver follows it (authoritative-only, BIND stops at the zone boundary, and Pebble
    // uses this server as its resolver). No forwarders: nothing leaves the machine.
    recursion yes;
    allow-recursion {{ 127.0.0.1; }};
    dnssec-validation no;
    allow-query {{ any; }};
    allow-transfer {{ 127.0.0.1; }};
    notify no;
}};
controls {{ }};
"#
        );
        for k in &keys {
            conf.push_str(&format!(
                "key \"{}\" {{ algorithm {}; secret \"{}\"; }};\n",
                k.name, k.algorithm, k.secret
            ));
        }
        let allow: String = keys
            .iter()
            .map(|k| format!("key \"{}\"; ", k.name))
            .collect();
        for z in zones {
            let file = format!("{d}/{}.zone", z.name);
            let mut body = format!(
                "$ORIGIN {n}.\n$TTL 60\n@ IN SOA ns1.{n}. hostmaster.{n}. 1 60 60 600 60\n@ IN NS ns1.{n}.\nns1 IN A 127.0.0.1\n",
                n = z.name
            );
            for r in &z.records {
                body.push_str(r);
                body.push('\n');
            }
            std::fs::write(&file, body).unwrap();
            conf.push_str(&format!(
                "zone \"{}\" {{ type primary; file \"{file}\"; allow-update {{ {allow}}}; }};\n",
                z.name
            ));
        }
        let conf_path = dir.path().join("named.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let log = std::fs::File::create(dir.path().join("named.log")).unwrap();
        let child = Command::new(named_bin())
            .args(["-g", "-4", "-n", "1", "-c"])
            .arg(&conf_path)
            .args(["-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting named (install bind9: scripts/install-deps)");
        let mut b = Bind {
            addr: ([127, 0, 0, 1], port).into(),
            keys,
            child,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        for z in zones {
            while b.dig(&["+short", "SOA", &z.name]).trim().is_empty() {
                if let Ok(Some(status)) = b.child.try_wait() {
                    panic!("named exited ({status}):\n{}", b.log());
                }
                assert!(
                    Instant::now() < deadline,
                    "named did not answer:\n{}",
                    b.log()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        b
    }

    pub fn key(&self, name: &str) -> &Key {
        self.keys.iter().find(|k| k.name == name).unwrap()
    }

    /// `dig @127.0.0.1 -p <port> <args>`'s output.
    pub fn dig(&self, args: &[&str]) -> String {
        let out = Command::new("dig")
            .args([
                "@127.0.0.1",
                "-p",
                &self.addr.port().to_string(),
                "+time=2",
                "+tries=1",
            ])
            .args(args)
            .output()
            .expect("running dig (install bind9-dnsutils: scripts/install-deps)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The TXT values at `name`, as BIND answers them.
    pub fn txt(&self, name: &str) -> Vec<String> {
        self.dig(&["+short", "TXT", name])
            .lines()
            .map(|l| l.trim().trim_matches('"').to_string())
            .filter(|l| !l.is_empty())
            .collect()
    }

    /// Every TXT record of the zone (the test zones have none of their own), from a full
    /// zone transfer: what a challenge left behind, wherever a CNAME sent it.
    pub fn txt_records(&self, zone: &str) -> Vec<String> {
        let axfr = self.dig(&["AXFR", zone]);
        assert!(axfr.contains("SOA"), "no zone transfer of {zone}:\n{axfr}");
        axfr.lines()
            .filter(|l| !l.starts_with(';'))
            .filter(|l| l.split_whitespace().nth(3) == Some("TXT"))
            .map(str::to_string)
            .collect()
    }

    /// The dynamic updates BIND applied, as it logs them (`updating zone 'z/IN': adding an RR
    /// at 'name' TXT ...`): evidence of a record even when it lived too briefly to be read.
    pub fn updates(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains("updating zone"))
            .map(str::to_string)
            .collect()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("named.log")).unwrap_or_default()
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
