//! The pure analysis on fixture chains: root -> i1 -> i2 -> leaf, signed at a fixed time.
use std::time::Duration;

use super::*;
use crate::pki::testutil::{Issued, intermediate, leaf, now, root};
use crate::pki::{
    CsrSpec, KeySpec, PrivateKey, SignOptions, Subject, SubjectAltNames, SubjectFields, Usage,
};

fn der(i: &Issued) -> Vec<u8> {
    pem_certificates(i.pem.as_bytes()).unwrap().remove(0)
}

/// A leaf for `dns` signed by `parent` at `at`.
fn leaf_at(parent: &Issued, dns: &str, at: SystemTime) -> Vec<u8> {
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let spec = CsrSpec {
        subject: Subject::Fields(SubjectFields {
            common_name: Some(dns.into()),
            ..Default::default()
        }),
        sans: SubjectAltNames {
            dns_names: vec![dns.into()],
            ..Default::default()
        },
        usages: vec![Usage::DigitalSignature, Usage::ServerAuth],
        is_ca: false,
        signature_algorithm: None,
        name_constraints: None,
    };
    let csr = crate::pki::build_csr(&spec, &key).unwrap();
    let pem = crate::pki::ca_sign(
        csr.as_bytes(),
        parent.pem.as_bytes(),
        &parent.key,
        &SignOptions::new(at),
    )
    .unwrap();
    pem_certificates(pem.as_bytes()).unwrap().remove(0)
}

struct Pki {
    root: Vec<u8>,
    i1: Vec<u8>,
    i2: Vec<u8>,
    leaf: Vec<u8>,
    i2_issued: Issued,
}

fn pki() -> Pki {
    let r = root("Test Root", KeySpec::EcdsaP256);
    let i1 = intermediate(&r, "Test I1");
    let i2 = intermediate(&i1, "Test I2");
    let l = leaf(&i2, "app.example.test");
    Pki {
        root: der(&r),
        i1: der(&i1),
        i2: der(&i2),
        leaf: der(&l),
        i2_issued: i2,
    }
}

fn run(
    p: &Pki,
    presented: &[Vec<u8>],
    name: &str,
    expected: Option<&Expected>,
    at: SystemTime,
) -> Report {
    let trust = Trust {
        anchors: vec![p.root.clone()],
        source: "test root".into(),
    };
    analyse(&Input {
        address: "127.0.0.1:443",
        server_name: name,
        presented,
        trust: &trust,
        expected,
        now: at,
    })
}

fn outcome(r: &Report, which: &str) -> (Outcome, String) {
    let c = r.checks.iter().find(|c| c.check == which).unwrap();
    (c.outcome, c.detail.clone())
}

fn soon() -> SystemTime {
    now() + Duration::from_secs(3600)
}

#[test]
fn a_good_chain_passes_every_check() {
    let p = pki();
    let chain = vec![p.leaf.clone(), p.i2.clone(), p.i1.clone()];
    let exp = Expected {
        chain: chain.clone(),
        secret: "ns/app".into(),
    };
    let r = run(&p, &chain, "app.example.test", Some(&exp), soon());
    for c in &r.checks {
        assert_eq!(c.outcome, Outcome::Pass, "{c:?}");
    }
    assert_eq!(r.verdict, Outcome::Pass);
    assert_eq!(r.presented.len(), 3);
}

#[test]
fn a_misordered_chain_fails_order_but_still_verifies() {
    let p = pki();
    let r = run(
        &p,
        &[p.leaf.clone(), p.i1.clone(), p.i2.clone()],
        "app.example.test",
        None,
        soon(),
    );
    let (o, d) = outcome(&r, "order");
    assert_eq!(o, Outcome::Fail);
    assert!(
        d.contains("a client expects [\"CN=app.example.test\", \"CN=Test I2\", \"CN=Test I1\"]"),
        "{d}"
    );
    // Clients that build paths cope, which is why order is its own check.
    assert_eq!(outcome(&r, "trust").0, Outcome::Pass);
    assert_eq!(r.verdict, Outcome::Fail);
}

#[test]
fn a_missing_intermediate_is_named_from_the_secret() {
    let p = pki();
    let exp = Expected {
        chain: vec![p.leaf.clone(), p.i2.clone(), p.i1.clone()],
        secret: "ns/app".into(),
    };
    let r = run(
        &p,
        &[p.leaf.clone(), p.i2.clone()],
        "app.example.test",
        Some(&exp),
        soon(),
    );
    let (o, d) = outcome(&r, "completeness");
    assert_eq!(o, Outcome::Fail);
    assert!(d.contains("intermediate \"CN=Test I1\" is missing"), "{d}");
    assert_eq!(outcome(&r, "trust").0, Outcome::Fail);
    // Without the Secret it cannot tell missing from untrusted, and says so.
    let r = run(
        &p,
        &[p.leaf.clone(), p.i2.clone()],
        "app.example.test",
        None,
        soon(),
    );
    assert!(
        outcome(&r, "completeness")
            .1
            .contains("missing or the chain is untrusted")
    );
}

#[test]
fn an_expired_leaf_fails_expiry_and_trust() {
    let p = pki();
    let later = now() + Duration::from_secs(91 * 86_400);
    let r = run(
        &p,
        &[p.leaf.clone(), p.i2.clone(), p.i1.clone()],
        "app.example.test",
        None,
        later,
    );
    let (o, d) = outcome(&r, "expiry");
    assert_eq!(o, Outcome::Fail);
    assert!(d.contains("\"CN=app.example.test\" expired at"), "{d}");
    assert_eq!(outcome(&r, "trust").0, Outcome::Fail);
    assert_eq!(r.verdict, Outcome::Fail);
    assert!(r.presented[0].days_left < 0);
}

#[test]
fn a_stale_leaf_is_told_apart_from_the_secrets() {
    let p = pki();
    let renewed = leaf_at(
        &p.i2_issued,
        "app.example.test",
        now() + Duration::from_secs(86_400),
    );
    let exp = Expected {
        chain: vec![renewed, p.i2.clone(), p.i1.clone()],
        secret: "ns/app".into(),
    };
    let served = [p.leaf.clone(), p.i2.clone(), p.i1.clone()];
    let r = run(
        &p,
        &served,
        "app.example.test",
        Some(&exp),
        now() + Duration::from_secs(2 * 86_400),
    );
    let (o, d) = outcome(&r, "freshness");
    assert_eq!(o, Outcome::Fail);
    assert!(d.starts_with("stale:") && d.contains("ns/app"), "{d}");
    // Everything else about the stale chain is fine: only freshness catches it.
    assert!(
        r.checks
            .iter()
            .filter(|c| c.check != "freshness")
            .all(|c| c.outcome == Outcome::Pass)
    );
}

#[test]
fn a_sent_root_warns_and_a_wrong_name_fails() {
    let p = pki();
    let chain = [p.leaf.clone(), p.i2.clone(), p.i1.clone(), p.root.clone()];
    let r = run(&p, &chain, "app.example.test", None, soon());
    let (o, d) = outcome(&r, "extra");
    assert_eq!(o, Outcome::Warn);
    assert!(d.contains("root \"CN=Test Root\" is sent"), "{d}");
    assert_eq!(r.verdict, Outcome::Pass);
    let r = run(&p, &chain, "other.example.test", None, soon());
    assert_eq!(outcome(&r, "hostname").0, Outcome::Fail);
    assert_eq!(r.verdict, Outcome::Fail);
}

#[test]
fn nothing_presented_or_garbage_fails_without_panicking() {
    let p = pki();
    assert_eq!(run(&p, &[], "x.test", None, soon()).verdict, Outcome::Fail);
    let r = run(
        &p,
        &[vec![0x30, 0x03, 1, 2, 3], p.i1.clone()],
        "x.test",
        None,
        soon(),
    );
    assert_eq!(r.verdict, Outcome::Fail);
}

#[test]
fn addresses_parse_with_ports_and_ipv6_brackets() {
    assert_eq!(
        parse_address("example.test:443").unwrap(),
        ("example.test".into(), 443)
    );
    assert_eq!(parse_address("[::1]:8443").unwrap(), ("::1".into(), 8443));
    for bad in ["example.test", ":443", "host:0", "host:99999", "host:x"] {
        let e = parse_address(bad).unwrap_err();
        assert!(e.to_string().starts_with("HOST:PORT"), "{e}");
    }
}
