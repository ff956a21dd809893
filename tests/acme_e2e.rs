//! ACME end to end on the real control plane against a real Pebble on loopback: the Issuer
//! registers an account (trusting Pebble through `caBundle`), a Certificate gets exactly one
//! Order, HTTP-01 is answered by the controller process itself, and the Secret holds the leaf
//! then Pebble's intermediate, verifying up to Pebble's root. Pebble keeps its default 5%
//! badNonce rejections, so nonce retries are exercised too.
mod support;

use std::time::Duration;

use certwright::api::{Certificate, CertificateRequest, Challenge, Issuer, Order};
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};
use support::acme::certificate_yaml;
use support::pebble::{Options, Pebble, free_port};
use support::{ControllerProcess, TestNamespace, apply_yaml, pems, wait_for};

fn has_true(conds: Option<&Vec<certwright::api::Condition>>, t: &str) -> bool {
    conds.is_some_and(|cs| cs.iter().any(|c| c.is_true(t)))
}

fn cert_ready(c: Option<&Certificate>) -> bool {
    has_true(
        c.and_then(|c| c.status.as_ref())
            .and_then(|s| s.conditions.as_ref()),
        "Ready",
    )
}

/// An Issuer for `pebble`, with either its CA bundle or skipTLSVerify.
fn issuer_yaml(name: &str, pebble: &Pebble, skip_verify: bool) -> String {
    use base64::Engine as _;
    let trust = if skip_verify {
        "skipTLSVerify: true".to_string()
    } else {
        format!(
            "caBundle: {}",
            base64::engine::general_purpose::STANDARD.encode(&pebble.ca_bundle)
        )
    };
    format!(
        r#"
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {{ name: {name} }}
spec:
  acme:
    server: {server}
    email: ops@example.com
    {trust}
    privateKeySecretRef: {{ name: {name}-account }}
    solvers:
      - http01: {{ ingress: {{}} }}
"#,
        server = pebble.directory_url
    )
}

struct Setup {
    client: Client,
    ns: TestNamespace,
    pebble: Pebble,
    port: u16,
}

async fn setup(prefix: &str, env_pebble: Options) -> Setup {
    let client = support::client().await;
    support::install_crds(&client).await;
    let ns = TestNamespace::new(&client, prefix).await;
    let port = env_pebble.http01_port;
    let pebble = Pebble::start(env_pebble);
    Setup {
        client,
        ns,
        pebble,
        port,
    }
}

/// The controller, answering HTTP-01 where Pebble validates; it also writes the per-challenge
/// Service, EndpointSlice and Ingress a cluster would route through, for a Pod IP from the
/// documentation range (an EndpointSlice refuses loopback; nothing is ever sent there: no
/// ingress controller or kube-proxy runs here, Pebble reaches the listener directly).
const SOLVER_IP: &str = "192.0.2.10";

/// With the routing objects comes the self check before accepting; it connects to the
/// listener on loopback (the test names resolve only in Pebble's DNS).
fn start_controller(s: &Setup) -> ControllerProcess {
    start_controller_checking(s, s.port)
}

fn start_controller_checking(s: &Setup, self_check_port: u16) -> ControllerProcess {
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

async fn wait_issuer_ready(s: &Setup, name: &str, ctl: &ControllerProcess) -> Issuer {
    let api = Api::<Issuer>::namespaced(s.client.clone(), &s.ns.name);
    let ready = tokio::time::timeout(
        Duration::from_secs(60),
        wait_for(&api, name, Duration::from_secs(60), |i| {
            has_true(
                i.and_then(|i| i.status.as_ref())
                    .and_then(|s| s.conditions.as_ref()),
                "Ready",
            )
        }),
    )
    .await;
    match ready {
        Ok(Some(i)) => i,
        _ => panic!(
            "issuer not ready\ncontroller log:\n{}\npebble log:\n{}",
            ctl.log(),
            s.pebble.log()
        ),
    }
}

#[tokio::test]
async fn http01_certificate_from_pebble() {
    let s = setup(
        "acme-http01",
        Options {
            http01_port: free_port(),
            nonce_reject_percent: 5,
            va_sleep_seconds: None,
            alternate_roots: 0,
            eab: None,
        },
    )
    .await;
    let ctl = start_controller(&s);
    let ns = s.ns.name.clone();
    apply_yaml(&s.client, &ns, &issuer_yaml("pebble", &s.pebble, false)).await;
    let issuer = wait_issuer_ready(&s, "pebble", &ctl).await;
    let uri = issuer.status.unwrap().acme.unwrap().uri.unwrap();
    assert!(
        uri.starts_with(s.pebble.directory_url.trim_end_matches("/dir")),
        "account URI {uri} is not Pebble's"
    );
    // The account key was generated into the Secret the spec names.
    let secrets = Api::<Secret>::namespaced(s.client.clone(), &ns);
    let account = secrets.get("pebble-account").await.unwrap();
    let key = &account.data.unwrap()["tls.key"].0;
    assert!(String::from_utf8_lossy(key).contains("PRIVATE KEY"));

    let dns_name = format!("web.{ns}.example");
    apply_yaml(
        &s.client,
        &ns,
        &certificate_yaml("web", "pebble", &dns_name),
    )
    .await;
    let certs = Api::<Certificate>::namespaced(s.client.clone(), &ns);
    let done = tokio::time::timeout(
        Duration::from_secs(120),
        wait_for(&certs, "web", Duration::from_secs(120), cert_ready),
    )
    .await;
    assert!(
        matches!(done, Ok(Some(_))),
        "certificate not ready\ncontroller log:\n{}\npebble log:\n{}",
        ctl.log(),
        s.pebble.log()
    );

    // tls.crt: the leaf for our name, then Pebble's intermediate, verifying to Pebble's root.
    let secret = secrets.get("web-tls").await.unwrap();
    let data = secret.data.unwrap();
    let sans = s.pebble.assert_issued_chain(&data["tls.crt"].0).await;
    assert!(sans.contains(&dns_name), "{sans}");
    // The private key never left: it matches the leaf.
    let key = certwright::pki::PrivateKey::from_pem(&data["tls.key"].0).unwrap();
    let leaf_pem = certwright::issuer::first_certificate_pem(&data["tls.crt"].0).unwrap();
    assert!(key.matches_certificate_pem(&leaf_pem).unwrap());

    // Exactly one Order, owned by the one CertificateRequest, and no Challenge left behind.
    let crs = Api::<CertificateRequest>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    let orders = Api::<Order>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(crs.items.len(), 1);
    assert_eq!(orders.items.len(), 1);
    let owner = &orders.items[0].owner_references()[0];
    assert_eq!(owner.uid, crs.items[0].uid().unwrap());
    assert_eq!(
        orders.items[0].status.as_ref().unwrap().state,
        Some(certwright::api::AcmeState::Valid)
    );
    let challenges = Api::<Challenge>::namespaced(s.client.clone(), &ns);
    wait_for_empty(&challenges).await;
}

async fn wait_for_empty(api: &Api<Challenge>) {
    for _ in 0..50 {
        let left = api.list(&ListParams::default()).await.unwrap();
        if left
            .items
            .iter()
            .all(|c| c.metadata.deletion_timestamp.is_some())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("Challenges were not cleaned up after the order completed");
}

#[tokio::test]
async fn a_controller_killed_mid_order_finishes_the_same_order() {
    // Pebble waits up to a few seconds before validating, which keeps the order open while
    // the controller is killed.
    let s = setup(
        "acme-restart",
        Options {
            http01_port: free_port(),
            nonce_reject_percent: 0,
            va_sleep_seconds: Some(5),
            alternate_roots: 0,
            eab: None,
        },
    )
    .await;
    let ns = s.ns.name.clone();
    // skipTLSVerify works too (the other test trusts Pebble through caBundle).
    apply_yaml(&s.client, &ns, &issuer_yaml("pebble", &s.pebble, true)).await;
    let mut first = start_controller(&s);
    wait_issuer_ready(&s, "pebble", &first).await;
    apply_yaml(
        &s.client,
        &ns,
        &certificate_yaml("web", "pebble", &format!("web.{ns}.example")),
    )
    .await;

    // Kill in the middle of the order: placed at the CA, its challenge presented (routed),
    // mostly not yet accepted. Not later: Pebble's validation delay is random from zero
    // seconds, and a kill while it is connecting to the listener fails the challenge for good.
    let challenges = Api::<Challenge>::namespaced(s.client.clone(), &ns);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let list = challenges.list(&ListParams::default()).await.unwrap();
        let presented = list
            .items
            .iter()
            .any(|c| c.status.as_ref().and_then(|s| s.presented) == Some(true));
        if presented {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no challenge was presented\n{}",
            first.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let orders = Api::<Order>::namespaced(s.client.clone(), &ns);
    let before = orders.list(&ListParams::default()).await.unwrap();
    assert_eq!(before.items.len(), 1);
    let order = &before.items[0];
    let url = order.status.as_ref().unwrap().url.clone().unwrap();
    assert_ne!(
        order.status.as_ref().unwrap().state,
        Some(certwright::api::AcmeState::Valid),
        "the order finished before the kill; the test proves nothing"
    );

    // The challenge path was routed to the controller for the time of the challenge.
    let accepted = challenges.list(&ListParams::default()).await.unwrap().items;
    let ch = &accepted[0];
    let routed = Api::<Ingress>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(routed.len(), 1, "one Ingress per challenge");
    let ing = serde_json::to_value(&routed[0]).unwrap();
    let rule = &ing["spec"]["rules"][0];
    assert_eq!(rule["host"], ch.spec.dns_name.as_str());
    let path = &rule["http"]["paths"][0];
    assert_eq!(
        path["path"],
        format!("/.well-known/acme-challenge/{}", ch.spec.token).as_str()
    );
    let svc_name = path["backend"]["service"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(path["backend"]["service"]["port"]["number"], s.port);
    let slices = Api::<EndpointSlice>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={svc_name}")))
        .await
        .unwrap()
        .items;
    assert_eq!(slices.len(), 1);
    assert_eq!(
        slices[0].endpoints.as_ref().unwrap()[0].addresses,
        vec![SOLVER_IP.to_string()]
    );
    Api::<Service>::namespaced(s.client.clone(), &ns)
        .get(&svc_name)
        .await
        .expect("the Service the Ingress points at");

    let second = start_controller(&s);
    let certs = Api::<Certificate>::namespaced(s.client.clone(), &ns);
    let done = tokio::time::timeout(
        Duration::from_secs(120),
        wait_for(&certs, "web", Duration::from_secs(120), cert_ready),
    )
    .await;
    assert!(
        matches!(done, Ok(Some(_))),
        "certificate not ready after the restart\nfirst log:\n{}\nsecond log:\n{}",
        first.log(),
        second.log()
    );
    let after = orders.list(&ListParams::default()).await.unwrap();
    assert_eq!(after.items.len(), 1, "a second Order appeared");
    assert_eq!(after.items[0].name_any(), order.name_any());
    assert_eq!(
        after.items[0].status.as_ref().unwrap().url.as_deref(),
        Some(url.as_str()),
        "the ACME order was placed again"
    );
    let crs = Api::<CertificateRequest>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(crs.items.len(), 1);
    // With the order done, its Challenge goes and the garbage collector takes the routing.
    let ingresses = Api::<Ingress>::namespaced(s.client.clone(), &ns);
    wait_for(&ingresses, &svc_name, Duration::from_secs(60), |i| {
        i.is_none()
    })
    .await;
}

#[tokio::test]
async fn twenty_certificates_with_nonce_rejections_and_validation_delays() {
    let s = setup(
        "acme-twenty",
        Options {
            http01_port: free_port(),
            nonce_reject_percent: 5,
            va_sleep_seconds: Some(3),
            alternate_roots: 0,
            eab: None,
        },
    )
    .await;
    let ns = s.ns.name.clone();
    let ctl = start_controller(&s);
    apply_yaml(&s.client, &ns, &issuer_yaml("pebble", &s.pebble, false)).await;
    wait_issuer_ready(&s, "pebble", &ctl).await;
    let names: Vec<String> = (0..20).map(|i| format!("web-{i}")).collect();
    let yaml: String = names
        .iter()
        .map(|n| {
            format!(
                "---\n{}",
                certificate_yaml(n, "pebble", &format!("{n}.{ns}.example"))
            )
        })
        .collect();
    apply_yaml(&s.client, &ns, &yaml).await;
    let certs = Api::<Certificate>::namespaced(s.client.clone(), &ns);
    for n in &names {
        let done = tokio::time::timeout(
            Duration::from_secs(240),
            wait_for(&certs, n, Duration::from_secs(240), cert_ready),
        )
        .await;
        assert!(
            matches!(done, Ok(Some(_))),
            "{n} not ready\ncontroller log:\n{}",
            ctl.log()
        );
    }
    let crs = Api::<CertificateRequest>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    let orders = Api::<Order>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(crs.items.len(), 20);
    assert_eq!(orders.items.len(), 20, "one Order per request");
    let mut owners: Vec<String> = orders
        .items
        .iter()
        .map(|o| o.owner_references()[0].uid.clone())
        .collect();
    owners.sort();
    owners.dedup();
    assert_eq!(owners.len(), 20, "each request owns exactly one Order");
}

#[tokio::test]
async fn a_challenge_that_cannot_pass_fails_the_order_with_the_reason() {
    // Pebble validates against a port where nothing listens: the challenge must fail.
    let s = setup(
        "acme-fail",
        Options {
            http01_port: free_port(),
            nonce_reject_percent: 0,
            va_sleep_seconds: None,
            alternate_roots: 0,
            eab: None,
        },
    )
    .await;
    let ns = s.ns.name.clone();
    let ctl = ControllerProcess::start(
        &ns,
        &[
            "--acme-http01-listen",
            &format!("127.0.0.1:{}", free_port()),
        ],
    );
    apply_yaml(&s.client, &ns, &issuer_yaml("pebble", &s.pebble, false)).await;
    wait_issuer_ready(&s, "pebble", &ctl).await;
    apply_yaml(
        &s.client,
        &ns,
        &certificate_yaml("web", "pebble", &format!("web.{ns}.example")),
    )
    .await;
    let crs = Api::<CertificateRequest>::namespaced(s.client.clone(), &ns);
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let failed = loop {
        let list = crs.list(&ListParams::default()).await.unwrap();
        let failed = list.items.into_iter().find(|cr| {
            cr.condition("Ready")
                .is_some_and(|c| c.reason.as_deref() == Some("Failed"))
        });
        if let Some(cr) = failed {
            break cr;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the request did not fail\n{}",
            ctl.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let msg = failed.condition("Ready").unwrap().message.clone().unwrap();
    assert!(msg.contains("invalid"), "{msg}");
    assert!(
        msg.contains("connection"),
        "the server's reason reaches the request: {msg}"
    );
    let orders = Api::<Order>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(orders.items.len(), 1);
    let st = orders.items[0].status.clone().unwrap();
    assert_eq!(st.state, Some(certwright::api::AcmeState::Invalid));
    assert!(st.failure_time.is_some());
    // The Certificate shows why, too.
    let certs = Api::<Certificate>::namespaced(s.client.clone(), &ns);
    wait_for(&certs, "web", Duration::from_secs(30), |c| {
        c.and_then(|c| c.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.message
                        .as_deref()
                        .is_some_and(|m| m.contains("connection"))
                })
            })
    })
    .await;
}

#[tokio::test]
async fn an_issuer_with_a_wrong_eab_key_is_not_ready_and_says_why() {
    use base64::Engine as _;
    let mac = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(b"the-right-mac-key-for-kid-1-0123");
    let s = setup(
        "acme-eab",
        Options {
            http01_port: free_port(),
            nonce_reject_percent: 0,
            va_sleep_seconds: None,
            alternate_roots: 0,
            eab: Some(("kid-1".into(), mac.clone())),
        },
    )
    .await;
    let ns = s.ns.name.clone();
    let ctl = start_controller(&s);
    let wrong = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"not-the-key");
    let issuer = |name: &str, secret: &str| {
        issuer_yaml(name, &s.pebble, false).replace(
            "    privateKeySecretRef:",
            &format!(
                "    externalAccountBinding: {{ keyID: kid-1, keySecretRef: {{ name: {secret}, key: secret }} }}\n    privateKeySecretRef:"
            ),
        )
    };
    let secrets = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{ name: eab-wrong }}\nstringData: {{ secret: {wrong} }}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{ name: eab-right }}\nstringData: {{ secret: {mac} }}\n"
    );
    apply_yaml(&s.client, &ns, &secrets).await;
    apply_yaml(&s.client, &ns, &issuer("wrong", "eab-wrong")).await;
    apply_yaml(&s.client, &ns, &issuer("right", "eab-right")).await;
    // Without any binding the server's requirement is named.
    apply_yaml(&s.client, &ns, &issuer_yaml("none", &s.pebble, false)).await;
    wait_issuer_ready(&s, "right", &ctl).await;
    let api = Api::<Issuer>::namespaced(s.client.clone(), &ns);
    let not_ready = |want_reason: &'static str| {
        move |i: Option<&Issuer>| {
            i.and_then(|i| i.status.as_ref())
                .and_then(|s| s.condition("Ready").cloned())
                .is_some_and(|c| {
                    c.status == certwright::api::ConditionStatus::False
                        && c.reason.as_deref() == Some(want_reason)
                })
        }
    };
    let wrong = wait_for(
        &api,
        "wrong",
        Duration::from_secs(60),
        not_ready("ACMEUnauthorized"),
    )
    .await;
    let msg = wrong
        .unwrap()
        .status
        .unwrap()
        .condition("Ready")
        .unwrap()
        .message
        .clone()
        .unwrap();
    assert!(msg.contains("unauthorized"), "{msg}");
    wait_for(
        &api,
        "none",
        Duration::from_secs(60),
        not_ready("ACMEExternalAccountRequired"),
    )
    .await;
}

#[tokio::test]
async fn a_challenge_is_not_accepted_while_its_self_check_fails() {
    let s = setup(
        "acme-selfcheck",
        Options {
            http01_port: free_port(),
            nonce_reject_percent: 0,
            va_sleep_seconds: None,
            alternate_roots: 0,
            eab: None,
        },
    )
    .await;
    let ns = s.ns.name.clone();
    // The self check goes where nothing answers, as through an Ingress not routing yet.
    let ctl = start_controller_checking(&s, free_port());
    apply_yaml(&s.client, &ns, &issuer_yaml("pebble", &s.pebble, false)).await;
    wait_issuer_ready(&s, "pebble", &ctl).await;
    apply_yaml(
        &s.client,
        &ns,
        &certificate_yaml("web", "pebble", &format!("web.{ns}.example")),
    )
    .await;
    let challenges = Api::<Challenge>::namespaced(s.client.clone(), &ns);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let waiting = loop {
        let list = challenges.list(&ListParams::default()).await.unwrap();
        if let Some(c) = list.items.into_iter().find(|c| {
            c.status
                .as_ref()
                .and_then(|s| s.reason.as_deref())
                .is_some_and(|r| r.contains("Waiting for HTTP-01 challenge propagation"))
        }) {
            break c;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no self check failure reported\n{}",
            ctl.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Several checks later, still not accepted: the order is open, not invalid.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let c = challenges.get(&waiting.name_any()).await.unwrap();
    assert_eq!(
        c.status.unwrap().state,
        Some(certwright::api::AcmeState::Pending),
        "accepted despite a failing self check"
    );
    let orders = Api::<Order>::namespaced(s.client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(
        orders.items[0].status.as_ref().unwrap().state,
        Some(certwright::api::AcmeState::Pending)
    );
}

#[tokio::test]
async fn orders_beyond_the_cap_wait_their_turn() {
    let s = setup(
        "acme-cap",
        Options {
            http01_port: free_port(),
            nonce_reject_percent: 0,
            va_sleep_seconds: Some(2),
            alternate_roots: 0,
            eab: None,
        },
    )
    .await;
    let ns = s.ns.name.clone();
    let ctl = ControllerProcess::start(
        &ns,
        &[
            "--acme-http01-listen",
            &format!("127.0.0.1:{}", s.port),
            "--acme-max-concurrent-orders",
            "1",
        ],
    );
    apply_yaml(&s.client, &ns, &issuer_yaml("pebble", &s.pebble, false)).await;
    wait_issuer_ready(&s, "pebble", &ctl).await;
    let names = ["a", "b", "c"];
    let yaml: String = names
        .iter()
        .map(|n| {
            format!(
                "---\n{}",
                certificate_yaml(n, "pebble", &format!("{n}.{ns}.example"))
            )
        })
        .collect();
    apply_yaml(&s.client, &ns, &yaml).await;
    let orders = Api::<Order>::namespaced(s.client.clone(), &ns);
    let certs = Api::<Certificate>::namespaced(s.client.clone(), &ns);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut saw_waiting = false;
    loop {
        let list = orders.list(&ListParams::default()).await.unwrap().items;
        let in_flight = list
            .iter()
            .filter(|o| {
                let st = o.status.clone().unwrap_or_default();
                st.url.is_some() && !st.state.is_some_and(|s| s.is_final())
            })
            .count();
        assert!(
            in_flight <= 1,
            "{in_flight} orders in flight with a cap of 1"
        );
        saw_waiting |= list.iter().any(|o| {
            o.status
                .as_ref()
                .and_then(|s| s.reason.as_deref())
                .is_some_and(|r| r.contains("(cap 1)"))
        });
        let mut ready = 0;
        for n in names {
            if cert_ready(certs.get_opt(n).await.unwrap().as_ref()) {
                ready += 1;
            }
        }
        if ready == names.len() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all ready\n{}",
            ctl.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(saw_waiting, "no order ever waited for its turn");
}

#[tokio::test]
async fn preferred_chain_picks_pebbles_alternate_root() {
    let s = setup(
        "acme-preferred",
        Options {
            http01_port: free_port(),
            nonce_reject_percent: 0,
            va_sleep_seconds: None,
            alternate_roots: 1,
            eab: None,
        },
    )
    .await;
    let ctl = start_controller(&s);
    let ns = s.ns.name.clone();
    // Pebble offers its default chain first and one alternate under a second root; the
    // Issuer prefers the alternate by its root's common name.
    let alt_root = pems(s.pebble.management_pem("/roots/1").await.as_bytes()).remove(0);
    let first_root = pems(s.pebble.management_pem("/roots/0").await.as_bytes()).remove(0);
    let (_, alt) = x509_parser::parse_x509_certificate(&alt_root).unwrap();
    let cn = alt
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .unwrap()
        .to_string();
    let yaml = issuer_yaml("pebble", &s.pebble, false).replace(
        "    email: ops@example.com\n",
        &format!("    email: ops@example.com\n    preferredChain: \"{cn}\"\n"),
    );
    assert!(yaml.contains("preferredChain"), "{yaml}");
    apply_yaml(&s.client, &ns, &yaml).await;
    wait_issuer_ready(&s, "pebble", &ctl).await;
    apply_yaml(
        &s.client,
        &ns,
        &certificate_yaml("alt", "pebble", &format!("alt.{ns}.example")),
    )
    .await;
    let certs = Api::<Certificate>::namespaced(s.client.clone(), &ns);
    let done = tokio::time::timeout(
        Duration::from_secs(120),
        wait_for(&certs, "alt", Duration::from_secs(120), cert_ready),
    )
    .await;
    assert!(
        matches!(done, Ok(Some(_))),
        "certificate not ready\ncontroller log:\n{}",
        ctl.log()
    );
    let data = Api::<Secret>::namespaced(s.client.clone(), &ns)
        .get("alt-tls")
        .await
        .unwrap()
        .data
        .unwrap();
    let chain = pems(&data["tls.crt"].0);
    let (_, top) = x509_parser::parse_x509_certificate(chain.last().unwrap()).unwrap();
    let (_, first) = x509_parser::parse_x509_certificate(&first_root).unwrap();
    top.verify_signature(Some(alt.public_key()))
        .expect("the chain in tls.crt ends under the preferred (alternate) root");
    assert!(
        top.verify_signature(Some(first.public_key())).is_err(),
        "the chain in tls.crt ends under Pebble's default root"
    );
}
