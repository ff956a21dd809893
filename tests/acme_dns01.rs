//! ACME DNS-01 end to end on the real control plane: a real BIND on loopback takes RFC 2136
//! updates signed with TSIG, Pebble validates by asking that same BIND, and the controller
//! checks the zone's authoritative server (found through SOA and NS lookups) before it lets
//! Pebble look. Every test ends with the zones holding no TXT record, read with `dig AXFR`.
mod support;

use std::time::{Duration, Instant};

use certwright::api::{AcmeState, Certificate, CertificateRequest, Challenge, Order};
use kube::api::{DeleteParams, ListParams};
use kube::{Api, Client, ResourceExt};
use support::bind::{Bind, Zone};
use support::pebble::{Options, Pebble, free_port};
use support::{ControllerProcess, TestNamespace, apply_yaml, ready, wait_for};

struct Setup {
    client: Client,
    ns: TestNamespace,
    bind: Bind,
    pebble: Pebble,
}

/// Where Pebble looks the challenge records up.
enum PebbleDns {
    /// The test BIND: the records the controller writes are the ones Pebble sees.
    Bind,
    /// pebble-challtestsrv, which carries no TXT records: every DNS-01 validation fails.
    Elsewhere,
}

async fn setup(prefix: &str, zones: &[Zone], dns: PebbleDns) -> Setup {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, prefix).await;
    let bind = Bind::start(zones);
    let opts = Options {
        http01_port: free_port(),
        nonce_reject_percent: 0,
        va_sleep_seconds: None,
        alternate_roots: 0,
        eab: None,
    };
    let pebble = match dns {
        PebbleDns::Bind => Pebble::start_resolving(opts, Some(bind.addr)),
        PebbleDns::Elsewhere => Pebble::start(opts),
    };
    Setup {
        client,
        ns,
        bind,
        pebble,
    }
}

/// The controller, resolving through the test BIND and asking the zones' authoritative
/// server (ns1.<zone> = 127.0.0.1) on BIND's port.
fn start_controller(s: &Setup, extra: &[&str]) -> ControllerProcess {
    let bind = s.bind.addr.to_string();
    let port = s.bind.addr.port().to_string();
    let mut args = vec![
        "--dns01-recursive-nameservers",
        &bind,
        "--dns01-authoritative-port",
        &port,
        "--dns01-check-retry-period",
        "1s",
    ];
    args.extend_from_slice(extra);
    ControllerProcess::start(&s.ns.name, &args)
}

/// An Issuer with one RFC 2136 solver and the Secret `tsig` holding `secret` (none if None).
fn issuer_yaml(
    s: &Setup,
    name: &str,
    key: &str,
    algorithm: &str,
    secret: Option<&str>,
    cname_follow: bool,
) -> String {
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(&s.pebble.ca_bundle);
    let strategy = if cname_follow {
        "cnameStrategy: Follow"
    } else {
        "cnameStrategy: None"
    };
    let mut yaml = format!(
        r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{ name: {name} }}
spec:
  acme:
    server: {server}
    caBundle: {ca}
    privateKeySecretRef: {{ name: {name}-account }}
    solvers:
      - dns01:
          {strategy}
          rfc2136:
            nameserver: {ns}
            tsigKeyName: {key}
            tsigAlgorithm: {algorithm}
            tsigSecretSecretRef: {{ name: {name}-tsig, key: secret }}
"#,
        server = s.pebble.directory_url,
        ns = s.bind.addr,
    );
    if let Some(secret) = secret {
        yaml.push_str(&secret_yaml(&format!("{name}-tsig"), secret));
    }
    yaml
}

/// A second BIND for the same zone that never gets the record (a stale secondary, or the view
/// inside a split horizon), and a controller whose propagation check asks only that one, every
/// second: its Challenges wait for ever unless told not to check. Keep the server alive.
fn checking_a_stale_server(s: &Setup) -> (Bind, ControllerProcess) {
    let stale = Bind::start(&[Zone::new("example.test")]);
    let stale_addr = stale.addr.to_string();
    let ctl = ControllerProcess::start(
        &s.ns.name,
        &[
            "--dns01-recursive-nameservers",
            &stale_addr,
            "--dns01-recursive-nameservers-only",
            "--dns01-check-retry-period",
            "1s",
        ],
    );
    (stale, ctl)
}

/// A namespace, Pebble, BIND and a controller, with the Issuer `bind` solving DNS-01 through
/// BIND with the HMAC-SHA256 key `k256`: what most tests here start from.
async fn with_bind_issuer(
    prefix: &str,
    zones: &[Zone],
    dns: PebbleDns,
) -> (Setup, ControllerProcess) {
    let s = setup(prefix, zones, dns).await;
    let ctl = start_controller(&s, &[]);
    let key = s.bind.key("k256").secret.clone();
    apply_yaml(
        &s.client,
        &s.ns.name,
        &issuer_yaml(&s, "bind", "k256", "HMACSHA256", Some(&key), false),
    )
    .await;
    (s, ctl)
}

fn secret_yaml(name: &str, secret: &str) -> String {
    format!(
        "---\napiVersion: v1\nkind: Secret\nmetadata: {{ name: {name} }}\nstringData: {{ secret: \"{secret}\" }}\n"
    )
}

fn certificate_yaml(name: &str, issuer: &str, dns_names: &[&str]) -> String {
    support::acme::certificate_yaml_with(name, issuer, dns_names, "")
}

async fn wait_ready(s: &Setup, name: &str, ctl: &ControllerProcess, limit: Duration) {
    let certs = Api::<Certificate>::namespaced(s.client.clone(), &s.ns.name);
    let done = tokio::time::timeout(limit, wait_for(&certs, name, limit, ready)).await;
    assert!(
        matches!(done, Ok(Some(_))),
        "certificate {name} not ready\ncontroller log:\n{}\npebble log:\n{}\nnamed log:\n{}",
        ctl.log(),
        s.pebble.log(),
        s.bind.log()
    );
}

/// Waits until no Challenge is left and the zones hold no TXT record.
async fn assert_clean(s: &Setup, zones: &[&str], ctl: &ControllerProcess) {
    let challenges = Api::<Challenge>::namespaced(s.client.clone(), &s.ns.name);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = challenges.list(&ListParams::default()).await.unwrap().items;
        let records: Vec<String> = zones.iter().flat_map(|z| s.bind.txt_records(z)).collect();
        if left.is_empty() && records.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not clean: challenges {:?}, records {records:?}\ncontroller log:\n{}",
            left.iter().map(|c| c.name_any()).collect::<Vec<_>>(),
            ctl.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_wildcard_certificate_over_rfc2136_with_its_base_name() {
    let (s, ctl) = with_bind_issuer(
        "dns01-wildcard",
        &[Zone::new("example.test")],
        PebbleDns::Bind,
    )
    .await;
    let ns = s.ns.name.clone();
    let started = Instant::now();
    apply_yaml(
        &s.client,
        &ns,
        &certificate_yaml("wild", "bind", &["*.example.test", "example.test"]),
    )
    .await;
    wait_ready(&s, "wild", &ctl, Duration::from_secs(120)).await;
    eprintln!(
        "measured: wildcard + base name Certificate Ready over DNS-01 in {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // tls.crt: the leaf for both names, then Pebble's intermediate, verifying to its root.
    let secret = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(s.client.clone(), &ns)
        .get("wild-tls")
        .await
        .unwrap();
    let data = secret.data.unwrap();
    let sans = s.pebble.assert_issued_chain(&data["tls.crt"].0).await;
    assert!(
        sans.contains("*.example.test") && sans.contains("\"example.test\""),
        "{sans}"
    );

    // One Order, valid; both challenges were DNS-01.
    let orders = Api::<Order>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(orders.items.len(), 1);
    assert_eq!(
        orders.items[0].status.as_ref().unwrap().state,
        Some(AcmeState::Valid)
    );
    assert_clean(&s, &["example.test"], &ctl).await;
    // Both challenges wrote their own value at the one name (a present may be repeated, so
    // distinct values are counted).
    let at = "adding an RR at '_acme-challenge.example.test' TXT ";
    let values: std::collections::BTreeSet<String> = s
        .bind
        .updates()
        .iter()
        .filter_map(|l| l.split_once(at).map(|(_, v)| v.to_string()))
        .collect();
    assert_eq!(values.len(), 2, "{values:?}");
}

#[tokio::test]
async fn cname_follow_writes_the_record_in_the_delegated_zone() {
    let zones = [
        Zone::new("example.test").with("_acme-challenge.alias IN CNAME alias.validation.test."),
        Zone::new("validation.test"),
    ];
    let s = setup("dns01-cname", &zones, PebbleDns::Bind).await;
    let ns = s.ns.name.clone();
    let ctl = start_controller(&s, &[]);
    // HMAC-SHA512 this time.
    let key = s.bind.key("k512").secret.clone();
    apply_yaml(
        &s.client,
        &ns,
        &issuer_yaml(&s, "bind", "k512", "HMACSHA512", Some(&key), true),
    )
    .await;
    apply_yaml(
        &s.client,
        &ns,
        &certificate_yaml("alias", "bind", &["alias.example.test"]),
    )
    .await;
    wait_ready(&s, "alias", &ctl, Duration::from_secs(120)).await;
    // The record lives for a fraction of a second (Pebble validates at once), too short to
    // poll for: BIND's log of the updates it applied shows where it went. Never beside the
    // CNAME: a TXT there would make the name invalid.
    let updates = s.bind.updates();
    assert!(
        updates.iter().any(|l| l.contains(
            "updating zone 'validation.test/IN': adding an RR at 'alias.validation.test' TXT"
        )),
        "the record never went to validation.test: {updates:#?}\n{}",
        ctl.log()
    );
    assert!(
        !updates.iter().any(|l| l.contains("'example.test/IN'")),
        "an update beside the CNAME: {updates:#?}"
    );
    assert_clean(&s, &["example.test", "validation.test"], &ctl).await;
    // The CNAME itself is the user's and stays.
    assert!(
        s.bind
            .dig(&["+short", "CNAME", "_acme-challenge.alias.example.test"])
            .contains("alias.validation.test")
    );
}

#[tokio::test]
async fn a_challenge_that_cannot_pass_fails_the_order_and_backs_off() {
    // Pebble asks a DNS server that never carries the record: validation must fail.
    let (s, ctl) = with_bind_issuer(
        "dns01-fail",
        &[Zone::new("example.test")],
        PebbleDns::Elsewhere,
    )
    .await;
    let ns = s.ns.name.clone();
    apply_yaml(
        &s.client,
        &ns,
        &certificate_yaml("web", "bind", &["web.example.test"]),
    )
    .await;
    let certs = Api::<Certificate>::namespaced(s.client.clone(), &ns);
    let messages = |c: &Certificate| -> String {
        c.status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .filter_map(|c| c.message.clone())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let failed = wait_for(&certs, "web", Duration::from_secs(120), |c| {
        c.is_some_and(|c| {
            c.status.as_ref().is_some_and(|st| {
                st.failed_issuance_attempts == Some(1) && st.last_failure_time.is_some()
            }) && messages(c).contains("retrying after")
        })
    })
    .await
    .unwrap();
    // The Certificate says why (the CA's verdict on the TXT record) and when it retries.
    let said = messages(&failed);
    assert!(said.contains("No TXT records found"), "{said}");
    let orders = Api::<Order>::namespaced(s.client.clone(), &ns);
    let list = orders.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(list.len(), 1);
    let ost = list[0].status.clone().unwrap();
    assert_eq!(ost.state, Some(AcmeState::Invalid));
    assert!(ost.failure_time.is_some());
    // The backoff holds: several seconds later, still the one request and the one Order.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        orders
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let crs = Api::<CertificateRequest>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(crs.items.len(), 1, "a new request before the backoff ended");
    assert_clean(&s, &["example.test"], &ctl).await;
}

/// The reason the one Challenge of the namespace shows for `dns_name`, once it contains `want`.
async fn challenge_reason(
    s: &Setup,
    dns_name: &str,
    want: &str,
    ctl: &ControllerProcess,
) -> String {
    let api = Api::<Challenge>::namespaced(s.client.clone(), &s.ns.name);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let found = api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|c| c.spec.dns_name == dns_name)
            .find_map(|c| c.status.and_then(|s| s.reason).filter(|r| r.contains(want)));
        if let Some(r) = found {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "no challenge for {dns_name} says {want:?}\n{}",
            ctl.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_wrong_or_missing_tsig_secret_is_reported_and_retried_until_fixed() {
    let s = setup("dns01-tsig", &[Zone::new("example.test")], PebbleDns::Bind).await;
    let ns = s.ns.name.clone();
    let ctl = start_controller(&s, &[]);
    let right = s.bind.key("k256").secret.clone();
    // A well-formed secret that is not the server's, and no Secret at all.
    let wrong = s.bind.key("k512").secret.clone();
    apply_yaml(
        &s.client,
        &ns,
        &issuer_yaml(&s, "wrong", "k256", "HMACSHA256", Some(&wrong), false),
    )
    .await;
    apply_yaml(
        &s.client,
        &ns,
        &issuer_yaml(&s, "missing", "k256", "HMACSHA256", None, false),
    )
    .await;
    apply_yaml(
        &s.client,
        &ns,
        &certificate_yaml("a", "wrong", &["a.example.test"]),
    )
    .await;
    apply_yaml(
        &s.client,
        &ns,
        &certificate_yaml("b", "missing", &["b.example.test"]),
    )
    .await;

    let r = challenge_reason(&s, "a.example.test", "BADSIG", &ctl).await;
    assert!(
        r.contains("NOTAUTH/BADSIG") && r.contains("tsigKeyName"),
        "{r}"
    );
    let r = challenge_reason(&s, "b.example.test", "not found", &ctl).await;
    assert!(r.contains(&format!("TSIG secret {ns}/missing-tsig")), "{r}");
    // An Event on the Challenge, and the Certificate shows the reason too.
    let events = Api::<k8s_openapi::api::events::v1::Event>::namespaced(s.client.clone(), &ns);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .any(|e| {
            e.reason.as_deref() == Some("PresentError")
                && e.note.as_deref().is_some_and(|n| n.contains("BADSIG"))
        })
    {
        assert!(Instant::now() < deadline, "no PresentError event");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let certs = Api::<Certificate>::namespaced(s.client.clone(), &ns);
    wait_for(&certs, "a", Duration::from_secs(60), |c| {
        c.and_then(|c| c.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.message.as_deref().is_some_and(|m| m.contains("BADSIG")))
            })
    })
    .await;
    assert!(s.bind.txt_records("example.test").is_empty());

    // Fixed in place, both go through on the Challenges' own retries.
    apply_yaml(&s.client, &ns, &secret_yaml("wrong-tsig", &right)).await;
    apply_yaml(&s.client, &ns, &secret_yaml("missing-tsig", &right)).await;
    wait_ready(&s, "a", &ctl, Duration::from_secs(150)).await;
    wait_ready(&s, "b", &ctl, Duration::from_secs(150)).await;
    assert_clean(&s, &["example.test"], &ctl).await;
}

#[tokio::test]
async fn a_provider_other_than_rfc2136_is_refused_with_its_name() {
    let s = setup(
        "dns01-unsupported",
        &[Zone::new("example.test")],
        PebbleDns::Bind,
    )
    .await;
    let ns = s.ns.name.clone();
    let ctl = start_controller(&s, &[]);
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(&s.pebble.ca_bundle);
    let issuer = format!(
        r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{ name: cf }}
spec:
  acme:
    server: {server}
    caBundle: {ca}
    privateKeySecretRef: {{ name: cf-account }}
    solvers:
      - dns01:
          cloudflare:
            apiTokenSecretRef: {{ name: cf-token, key: token }}
"#,
        server = s.pebble.directory_url
    );
    apply_yaml(&s.client, &ns, &issuer).await;
    apply_yaml(
        &s.client,
        &ns,
        &certificate_yaml("web", "cf", &["web.example.test"]),
    )
    .await;
    let certs = Api::<Certificate>::namespaced(s.client.clone(), &ns);
    let c = wait_for(&certs, "web", Duration::from_secs(90), |c| {
        c.and_then(|c| c.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.message
                        .as_deref()
                        .is_some_and(|m| m.contains("cloudflare is not supported"))
                })
            })
    })
    .await;
    assert!(c.is_some(), "{}", ctl.log());
    let orders = Api::<Order>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(orders.items.len(), 1);
    assert!(
        orders.items[0]
            .status
            .as_ref()
            .and_then(|s| s.state)
            .is_some_and(|st| st.is_failure())
    );
    assert_clean(&s, &["example.test"], &ctl).await;
}

#[tokio::test]
async fn a_record_is_removed_when_its_challenge_is_deleted_while_waiting_for_propagation() {
    // The check asks a second server that never gets the record (a stale secondary), so the
    // Challenge waits, record written, until the Certificate is deleted.
    let s = setup(
        "dns01-delete",
        &[Zone::new("example.test")],
        PebbleDns::Bind,
    )
    .await;
    let (stale, ctl) = checking_a_stale_server(&s);
    let ns = s.ns.name.clone();
    let key = s.bind.key("k256").secret.clone();
    apply_yaml(
        &s.client,
        &ns,
        &issuer_yaml(&s, "bind", "k256", "HMACSHA256", Some(&key), false),
    )
    .await;
    apply_yaml(
        &s.client,
        &ns,
        &certificate_yaml("web", "bind", &["web.example.test"]),
    )
    .await;
    let r = challenge_reason(
        &s,
        "web.example.test",
        "Waiting for DNS-01 challenge propagation",
        &ctl,
    )
    .await;
    assert!(
        r.contains(&format!("resolver {} does not answer", stale.addr)),
        "{r}"
    );
    let challenges = Api::<Challenge>::namespaced(s.client.clone(), &ns);
    let ch = challenges
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(
        s.bind.txt("_acme-challenge.web.example.test"),
        vec![ch.spec.key.clone()]
    );
    assert!(
        ch.finalizers()
            .iter()
            .any(|f| f == "finalizer.acme.cert-manager.io"),
        "a presented record without a finalizer"
    );
    // Still pending at the CA: nothing was accepted while the check failed.
    assert_eq!(ch.status.unwrap().state, Some(AcmeState::Pending));
    // The Certificate shows what it waits for.
    let certs = Api::<Certificate>::namespaced(s.client.clone(), &ns);
    wait_for(&certs, "web", Duration::from_secs(30), |c| {
        c.and_then(|c| c.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.message
                        .as_deref()
                        .is_some_and(|m| m.contains("Waiting for DNS-01 challenge propagation"))
                })
            })
    })
    .await;
    // Deleting the Certificate takes the request, Order and Challenge with it (garbage
    // collector); the finalizer makes the record go first.
    certs
        .delete("web", &DeleteParams::foreground())
        .await
        .unwrap();
    assert_clean(&s, &["example.test"], &ctl).await;
}

#[tokio::test]
async fn wait_instead_of_self_check_accepts_after_the_wait_where_the_check_cannot_pass() {
    // The check would ask a server that never gets the record (as behind split-horizon DNS):
    // with the self check the Challenge waits for ever, as in the deletion test above. With
    // waitInsteadOfSelfCheck the controller waits the given time instead, and Pebble, which
    // asks the real server, validates.
    let s = setup("dns01-wait", &[Zone::new("example.test")], PebbleDns::Bind).await;
    let (_stale, ctl) = checking_a_stale_server(&s);
    let ns = s.ns.name.clone();
    let key = s.bind.key("k256").secret.clone();
    let issuer = issuer_yaml(&s, "bind", "k256", "HMACSHA256", Some(&key), false).replace(
        "      - dns01:\n",
        "      - waitInsteadOfSelfCheck: 3s\n        dns01:\n",
    );
    assert!(issuer.contains("waitInsteadOfSelfCheck"));
    apply_yaml(&s.client, &ns, &issuer).await;
    apply_yaml(
        &s.client,
        &ns,
        &certificate_yaml("web", "bind", &["web.example.test"]),
    )
    .await;
    let r = challenge_reason(&s, "web.example.test", "without self-check", &ctl).await;
    assert!(r.contains("Waiting 3s after presentation"), "{r}");
    let ch = Api::<Challenge>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .remove(0);
    let presented_at = ch.status.and_then(|s| s.presented_at).expect("presentedAt");
    wait_ready(&s, "web", &ctl, Duration::from_secs(90)).await;
    // The CA was asked no sooner than the wait after presentation: both times are whole
    // seconds rounded down, so the difference is at least the wait.
    let cert = Api::<Certificate>::namespaced(s.client.clone(), &ns)
        .get("web")
        .await
        .unwrap();
    let ready_at = cert
        .status
        .and_then(|s| s.conditions)
        .into_iter()
        .flatten()
        .find(|c| c.r#type == "Ready")
        .and_then(|c| c.last_transition_time)
        .expect("Ready has a transition time");
    let waited = ready_at.0.duration_since(presented_at.0);
    assert!(
        waited.as_secs() >= 3,
        "ready {waited:?} after presentation\n{}",
        ctl.log()
    );
    assert_clean(&s, &["example.test"], &ctl).await;
}

/// The RFC 2136 client straight against BIND, no cluster: deleting removes exactly the one
/// value (a wildcard and its base name share the name), and a wrong key is named as such.
#[tokio::test]
async fn rfc2136_adds_and_removes_exactly_one_value() {
    use certwright::dns::update::{TsigKey, Updater, algorithm, decode_secret};
    use hickory_proto::rr::Name;
    let bind = Bind::start(&[Zone::new("example.test")]);
    let zone = Name::from_ascii("example.test.").unwrap();
    let fqdn = Name::from_ascii("_acme-challenge.example.test.").unwrap();
    let now = std::time::SystemTime::now();
    let updater = |key: &str, alg: &str, secret: &str| {
        Updater::new(
            bind.addr,
            certwright::dns::Protocol::Udp,
            Some(TsigKey {
                name: key.into(),
                algorithm: algorithm(Some(alg)).unwrap(),
                secret: decode_secret(secret.as_bytes()).unwrap(),
            }),
        )
        .unwrap()
    };
    let u256 = updater("k256", "HMACSHA256", &bind.key("k256").secret);
    let u512 = updater("k512", "HMACSHA512", &bind.key("k512").secret);
    u256.add_txt(&zone, &fqdn, "first", now).await.unwrap();
    u512.add_txt(&zone, &fqdn, "second", now).await.unwrap();
    let mut both = bind.txt("_acme-challenge.example.test");
    both.sort();
    assert_eq!(both, vec!["first", "second"]);
    u256.remove_txt(&zone, &fqdn, "first", now).await.unwrap();
    assert_eq!(bind.txt("_acme-challenge.example.test"), vec!["second"]);
    // Removing again is a no-op, not an error.
    u256.remove_txt(&zone, &fqdn, "first", now).await.unwrap();
    let wrong = updater("k256", "HMACSHA256", &bind.key("k512").secret);
    let e = wrong.add_txt(&zone, &fqdn, "third", now).await.unwrap_err();
    assert_eq!(e.reason(), "TSIGRejected", "{e}");
    assert!(e.to_string().contains("NOTAUTH/BADSIG"), "{e}");
    let unknown = updater("nokey", "HMACSHA256", &bind.key("k256").secret);
    let e = unknown
        .add_txt(&zone, &fqdn, "third", now)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("BADKEY"), "{e}");
    u512.remove_txt(&zone, &fqdn, "second", now).await.unwrap();
    assert!(bind.txt_records("example.test").is_empty());
}
