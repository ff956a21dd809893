//! `certwright pki ...` as a user runs it: real binary, real files, openssl as the judge.
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use certwright::pki::{
    self, CsrSpec, KeySpec, PrivateKey, SignOptions, Subject, SubjectAltNames, SubjectFields, Usage,
};

fn certwright(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certwright"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn csr_verb_writes_a_private_key_and_a_csr_openssl_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let out = certwright(
        dir.path(),
        &[
            "pki",
            "csr",
            "--common-name",
            "web",
            "--organization",
            "Example",
            "--dns-name",
            "web.example.com",
            "--ip-address",
            "192.0.2.1",
            "--usage",
            "server auth",
            "--usage",
            "digital signature",
            "--key-algorithm",
            "ECDSA",
            "--key-size",
            "384",
            "--key-out",
            "web.key",
            "--csr-out",
            "web.csr",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let verify = Command::new("openssl")
        .args(["req", "-in", "web.csr", "-verify", "-noout", "-text"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let v = text(&verify);
    assert!(
        verify.status.success() && v.contains("verify OK") && v.contains("DNS:web.example.com"),
        "{v}"
    );
    let key = std::fs::read_to_string(dir.path().join("web.key")).unwrap();
    assert!(key.starts_with("-----BEGIN EC PRIVATE KEY"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("web.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // The key is never clobbered.
    let again = certwright(
        dir.path(),
        &["pki", "csr", "--common-name", "x", "--key-out", "web.key"],
    );
    assert!(!again.status.success());
    assert!(text(&again).contains("--key-out"), "{}", text(&again));
}

#[test]
fn csr_errors_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    for (args, flag) in [
        (vec!["--dns-name", "bad name"], "--dns-name"),
        (
            vec!["--common-name", "x", "--country", "Germany"],
            "--country",
        ),
        (
            vec!["--common-name", "x", "--key-size", "1024"],
            "--key-size",
        ),
        (vec!["--common-name", "x", "--usage", "teleport"], "--usage"),
        (vec!["--subject", "CN"], "--subject"),
    ] {
        let mut full = vec!["pki", "csr", "--key-out", "k.pem"];
        full.extend(args.iter());
        let out = certwright(dir.path(), &full);
        assert!(!out.status.success(), "{args:?}");
        assert!(text(&out).contains(flag), "{args:?}: {}", text(&out));
        let _ = std::fs::remove_file(dir.path().join("k.pem"));
    }
}

fn ca_pair(now: SystemTime) -> (PrivateKey, String, PrivateKey, String, String) {
    let spec = |cn: &str, is_ca: bool, dns: Vec<String>| CsrSpec {
        subject: Subject::Fields(SubjectFields {
            common_name: Some(cn.into()),
            ..Default::default()
        }),
        sans: SubjectAltNames {
            dns_names: dns,
            ..Default::default()
        },
        usages: vec![
            Usage::DigitalSignature,
            if is_ca {
                Usage::CertSign
            } else {
                Usage::ServerAuth
            },
        ],
        is_ca,
        signature_algorithm: None,
        name_constraints: None,
    };
    let opts = SignOptions {
        duration: Duration::from_secs(86400 * 30),
        ..SignOptions::new(now)
    };
    let rk = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let root = pki::self_sign(
        pki::build_csr(&spec("CLI Root", true, vec![]), &rk)
            .unwrap()
            .as_bytes(),
        &rk,
        &opts,
    )
    .unwrap();
    let ik = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let int = pki::ca_sign(
        pki::build_csr(&spec("CLI Int", true, vec![]), &ik)
            .unwrap()
            .as_bytes(),
        root.as_bytes(),
        &rk,
        &opts,
    )
    .unwrap();
    let lk = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let leaf = pki::ca_sign(
        pki::build_csr(&spec("cli.example", false, vec!["cli.example".into()]), &lk)
            .unwrap()
            .as_bytes(),
        int.as_bytes(),
        &ik,
        &opts,
    )
    .unwrap();
    (rk, root, ik, int, leaf)
}

#[test]
fn bundle_verb_orders_files_and_fails_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (_, root, _, int, leaf) = ca_pair(SystemTime::now() - Duration::from_secs(60));
    for (name, pem) in [("root.pem", &root), ("int.pem", &int), ("leaf.pem", &leaf)] {
        std::fs::write(dir.path().join(name), pem).unwrap();
    }
    let out = certwright(
        dir.path(),
        &["pki", "bundle", "root.pem", "int.pem", "leaf.pem"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{leaf}{int}")
    );
    let out = certwright(
        dir.path(),
        &["pki", "bundle", "--ca", "leaf.pem", "root.pem", "int.pem"],
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), root);

    let out = certwright(dir.path(), &["pki", "bundle", "leaf.pem", "root.pem"]);
    assert!(!out.status.success());
    let err = text(&out);
    assert!(
        err.contains("MissingIntermediate")
            && err.contains("CN=cli.example")
            && err.contains("CN=CLI Int"),
        "{err}"
    );
    std::fs::write(dir.path().join("junk.pem"), "hello").unwrap();
    let out = certwright(dir.path(), &["pki", "bundle", "junk.pem"]);
    assert!(
        !out.status.success() && text(&out).contains("InvalidPEM"),
        "{}",
        text(&out)
    );
}

#[test]
fn inspect_verb_prints_what_renewal_needs() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, _, _, leaf) = ca_pair(SystemTime::now());
    std::fs::write(dir.path().join("leaf.pem"), &leaf).unwrap();
    let out = certwright(dir.path(), &["pki", "inspect", "leaf.pem"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    for needle in [
        "subject:      CN=cli.example",
        "issuer:       CN=CLI Int",
        "DNS names:    cli.example",
        "key:          ECDSA P-256",
        "is CA:        false",
        "usages:       digital signature, server auth",
        "not after:",
        "sha256:",
    ] {
        assert!(t.contains(needle), "{needle:?} missing:\n{t}");
    }
}
