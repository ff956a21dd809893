use super::*;
use crate::acme::{Authorization, Challenge, Identifier, Order, Problem};
use crate::api::acme::CertificateDnsNameSelector;
use crate::api::acme_dns01::AcmeChallengeSolverDns01;
use crate::api::acme_http01::AcmeChallengeSolverHttp01;

#[test]
fn names_are_deterministic_bounded_and_distinct() {
    let a = order_name("web", "uid-1");
    assert_eq!(a, order_name("web", "uid-1"));
    assert_ne!(a, order_name("web", "uid-2"));
    assert!(a.starts_with("web-"));
    let long = order_name(&"x".repeat(300), "u");
    assert!(long.len() <= 63, "{long}");
    let c1 = challenge_name(&a, "https://ca/authz/1", AcmeChallengeType::Http01);
    let c2 = challenge_name(&a, "https://ca/authz/2", AcmeChallengeType::Http01);
    assert_ne!(c1, c2);
    assert_ne!(
        c1,
        challenge_name(&a, "https://ca/authz/1", AcmeChallengeType::Dns01)
    );
    // A name cut at the limit must not end in a dash or dot (invalid DNS label end).
    let cut = order_name(&format!("{}-tail", "a".repeat(51)), "u");
    assert!(!cut.contains("--"), "{cut}");
}

fn http() -> AcmeChallengeSolver {
    AcmeChallengeSolver {
        http01: Some(AcmeChallengeSolverHttp01::default()),
        ..Default::default()
    }
}

fn dns() -> AcmeChallengeSolver {
    AcmeChallengeSolver {
        dns01: Some(AcmeChallengeSolverDns01::default()),
        ..Default::default()
    }
}

fn with(mut s: AcmeChallengeSolver, sel: CertificateDnsNameSelector) -> AcmeChallengeSolver {
    s.selector = Some(sel);
    s
}

#[test]
fn solver_selection_follows_specificity() {
    let labels: BTreeMap<String, String> = [("team".to_string(), "a".to_string())].into();
    let solvers = vec![
        http(),
        with(
            dns(),
            CertificateDnsNameSelector {
                dns_zones: Some(vec!["example.com".into()]),
                ..Default::default()
            },
        ),
        with(
            dns(),
            CertificateDnsNameSelector {
                dns_zones: Some(vec!["sub.example.com".into()]),
                ..Default::default()
            },
        ),
        with(
            http(),
            CertificateDnsNameSelector {
                dns_names: Some(vec!["exact.sub.example.com".into()]),
                ..Default::default()
            },
        ),
        with(
            http(),
            CertificateDnsNameSelector {
                match_labels: Some([("team".to_string(), "b".to_string())].into()),
                ..Default::default()
            },
        ),
    ];
    let pick = |name: &str| {
        let (s, _) = select_solver(&solvers, name, &labels, |_| true).unwrap();
        solvers.iter().position(|x| std::ptr::eq(x, s)).unwrap()
    };
    assert_eq!(pick("other.org"), 0, "fallback");
    assert_eq!(pick("a.example.com"), 1, "zone");
    assert_eq!(pick("a.sub.example.com"), 2, "longer zone wins");
    assert_eq!(pick("exact.sub.example.com"), 3, "exact name beats zones");
    // Labels that do not match exclude the solver; HTTP-01 never takes a wildcard.
    assert_eq!(pick("*.sub.example.com"), 2);
    assert!(select_solver(&[http()], "*.x.org", &labels, |_| true).is_none());
    let (_, kind) = select_solver(&solvers, "a.example.com", &labels, |_| true).unwrap();
    assert_eq!(kind, AcmeChallengeType::Dns01);
}

fn sel(names: &[&str], zones: &[&str], labels: &[(&str, &str)]) -> CertificateDnsNameSelector {
    let v = |xs: &[&str]| {
        Some(xs.iter().map(|x| x.to_string()).collect()).filter(|v: &Vec<String>| !v.is_empty())
    };
    CertificateDnsNameSelector {
        dns_names: v(names),
        dns_zones: v(zones),
        match_labels: Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .filter(|m: &BTreeMap<String, String>| !m.is_empty()),
    }
}

/// The index of the solver chosen for `name`.
fn chosen(solvers: &[AcmeChallengeSolver], name: &str, labels: &[(&str, &str)]) -> Option<usize> {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    select_solver(solvers, name, &labels, |_| true)
        .map(|(s, _)| solvers.iter().position(|x| std::ptr::eq(x, s)).unwrap())
}

#[test]
fn every_part_of_a_selector_must_match() {
    // dnsNames and dnsZones together: the name must be listed AND in a zone (cert-manager).
    let solvers = vec![
        dns(),
        with(dns(), sel(&["a.example.com"], &["example.com"], &[])),
    ];
    assert_eq!(chosen(&solvers, "a.example.com", &[]), Some(1));
    assert_eq!(
        chosen(&solvers, "b.example.com", &[]),
        Some(0),
        "not listed"
    );
    // A zone is a whole-label suffix: example.com does not contain notexample.com.
    let zone = vec![with(dns(), sel(&[], &["example.com"], &[]))];
    assert_eq!(chosen(&zone, "notexample.com", &[]), None);
    assert_eq!(chosen(&zone, "EXAMPLE.com.", &[]), Some(0));
    assert_eq!(chosen(&zone, "*.example.com", &[]), Some(0));
    // Labels the object lacks exclude the solver, whatever else matches.
    let labelled = vec![with(dns(), sel(&["a.test"], &[], &[("team", "a")]))];
    assert_eq!(chosen(&labelled, "a.test", &[("team", "b")]), None);
    assert_eq!(
        chosen(&labelled, "a.test", &[("team", "a"), ("x", "y")]),
        Some(0)
    );
}

#[test]
fn names_beat_zones_beat_labels_and_ties_go_to_the_first() {
    let solvers = vec![
        dns(),                                                         // 0: default
        with(dns(), sel(&[], &[], &[("team", "a")])),                  // 1: labels
        with(dns(), sel(&[], &[], &[("team", "a"), ("env", "prod")])), // 2: more labels
        with(dns(), sel(&[], &["example.com"], &[])),                  // 3: zone
        with(dns(), sel(&[], &["example.com"], &[("team", "a")])),     // 4: zone + label
        with(dns(), sel(&["www.example.com"], &[], &[])),              // 5: name
        with(dns(), sel(&["www.example.com"], &["example.com"], &[])), // 6: name + zone
        with(dns(), sel(&["www.example.com"], &["example.com"], &[])), // 7: same as 6
    ];
    let team = [("team", "a"), ("env", "prod")];
    assert_eq!(chosen(&solvers, "other.org", &[]), Some(0));
    assert_eq!(chosen(&solvers, "other.org", &[("team", "a")]), Some(1));
    assert_eq!(chosen(&solvers, "other.org", &team), Some(2));
    // A zone beats any number of labels; within zones, labels break the tie.
    assert_eq!(chosen(&solvers, "a.example.com", &team), Some(4));
    assert_eq!(chosen(&solvers, "a.example.com", &[]), Some(3));
    // A listed name beats zones; between names, the zone counts, then list order.
    assert_eq!(chosen(&solvers, "www.example.com", &team), Some(6));
    // The same solver without a selector, listed after a selector of equal rank, loses.
    let order = vec![with(dns(), sel(&[], &[], &[])), dns()];
    assert_eq!(chosen(&order, "x.test", &[]), Some(0));
}

#[test]
fn solvers_of_a_type_the_server_does_not_offer_are_passed_over() {
    let solvers = vec![with(http(), sel(&["a.test"], &[], &[])), dns()];
    let labels = BTreeMap::new();
    let (_, kind) = select_solver(&solvers, "a.test", &labels, |_| true).unwrap();
    assert_eq!(kind, AcmeChallengeType::Http01);
    let (s, kind) = select_solver(&solvers, "a.test", &labels, |k| {
        k == AcmeChallengeType::Dns01
    })
    .unwrap();
    assert_eq!(kind, AcmeChallengeType::Dns01);
    assert!(std::ptr::eq(s, &solvers[1]));
    assert!(select_solver(&solvers, "a.test", &labels, |_| false).is_none());
}

#[test]
fn dns01_key_is_the_digest_of_the_key_authorization() {
    // RFC 8555 section 8.4: base64url(SHA-256(key authorization)), 43 characters.
    let k = challenge_key(AcmeChallengeType::Dns01, "tok.thumb");
    assert_eq!(k.len(), 43);
    assert_eq!(
        challenge_key(AcmeChallengeType::Http01, "tok.thumb"),
        "tok.thumb"
    );
}

fn server(status: Status) -> Order {
    Order {
        status,
        identifiers: vec![Identifier::dns("a.test")],
        authorizations: vec!["https://ca/authz/1".into()],
        finalize: "https://ca/fin".into(),
        certificate: (status == Status::Valid).then(|| "https://ca/cert/1".to_string()),
        error: None,
    }
}

fn placed() -> OrderStatus {
    OrderStatus {
        url: Some("https://ca/order/1".into()),
        state: Some(AcmeState::Pending),
        authorizations: Some(vec![
            AcmeAuthorization {
                url: "https://ca/authz/1".into(),
                initial_state: Some(AcmeState::Pending),
                ..Default::default()
            },
            AcmeAuthorization {
                url: "https://ca/authz/2".into(),
                initial_state: Some(AcmeState::Valid),
                ..Default::default()
            },
        ]),
        ..Default::default()
    }
}

#[test]
fn order_plan_walks_the_rfc_8555_states() {
    let none = BTreeMap::new();
    assert_eq!(
        plan_order(&OrderStatus::default(), None, &none),
        OrderStep::Create
    );
    // Only the authorization that is not already valid needs a Challenge.
    let missing: BTreeMap<usize, Option<ChallengeStatus>> = [(0, None)].into();
    assert_eq!(
        plan_order(&placed(), Some(&server(Status::Pending)), &missing),
        OrderStep::Present(vec![0])
    );
    let present: BTreeMap<usize, Option<ChallengeStatus>> =
        [(0, Some(ChallengeStatus::default()))].into();
    assert!(matches!(
        plan_order(&placed(), Some(&server(Status::Pending)), &present),
        OrderStep::Wait {
            state: AcmeState::Pending,
            ..
        }
    ));
    assert_eq!(
        plan_order(&placed(), Some(&server(Status::Ready)), &present),
        OrderStep::Finalize
    );
    assert!(matches!(
        plan_order(&placed(), Some(&server(Status::Processing)), &present),
        OrderStep::Wait {
            state: AcmeState::Processing,
            ..
        }
    ));
    assert_eq!(
        plan_order(&placed(), Some(&server(Status::Valid)), &present),
        OrderStep::Download("https://ca/cert/1".into())
    );
    let mut done = placed();
    done.state = Some(AcmeState::Valid);
    assert_eq!(
        plan_order(&done, Some(&server(Status::Pending)), &none),
        OrderStep::Done
    );
}

#[test]
fn a_failed_order_carries_the_servers_or_the_challenges_reason() {
    let failed: BTreeMap<usize, Option<ChallengeStatus>> = [(
        0,
        Some(ChallengeStatus {
            state: Some(AcmeState::Invalid),
            reason: Some("connection: refused".into()),
            ..Default::default()
        }),
    )]
    .into();
    assert_eq!(
        plan_order(&placed(), Some(&server(Status::Invalid)), &failed),
        OrderStep::Fail {
            state: AcmeState::Invalid,
            reason: "connection: refused".into()
        }
    );
    // A local failure ends the order without waiting for the server.
    assert!(matches!(
        plan_order(&placed(), Some(&server(Status::Pending)), &failed),
        OrderStep::Fail { .. }
    ));
    let mut o = server(Status::Invalid);
    o.error = Some(Problem {
        kind: Some("urn:ietf:params:acme:error:rejectedIdentifier".into()),
        detail: Some("blocked".into()),
        subproblems: vec![],
    });
    assert_eq!(
        plan_order(&placed(), Some(&o), &BTreeMap::new()),
        OrderStep::Fail {
            state: AcmeState::Invalid,
            reason: "rejectedIdentifier: blocked".into()
        }
    );
}

fn authz(status: Status, chall: Status, error: Option<&str>) -> Authorization {
    Authorization {
        status,
        identifier: Identifier::dns("a.test"),
        challenges: vec![Challenge {
            kind: "http-01".into(),
            url: "https://ca/chall/1".into(),
            status: chall,
            token: Some("tok".into()),
            error: error.map(|d| Problem {
                kind: Some("urn:ietf:params:acme:error:connection".into()),
                detail: Some(d.into()),
                subproblems: vec![],
            }),
        }],
        wildcard: None,
    }
}

#[test]
fn challenge_plan_presents_then_accepts_then_follows_the_server() {
    let url = "https://ca/chall/1";
    let fresh = ChallengeStatus::default();
    let a = authz(Status::Pending, Status::Pending, None);
    assert_eq!(plan_challenge(&fresh, url, &a), ChallengeStep::Present);
    let presented = ChallengeStatus {
        presented: Some(true),
        processing: Some(true),
        state: Some(AcmeState::Pending),
        ..Default::default()
    };
    assert_eq!(plan_challenge(&presented, url, &a), ChallengeStep::Accept);
    // After a restart the server's "processing" says we already accepted: no second accept.
    let a = authz(Status::Pending, Status::Processing, None);
    assert_eq!(plan_challenge(&presented, url, &a), ChallengeStep::Wait);
    let a = authz(Status::Valid, Status::Valid, None);
    assert!(matches!(
        plan_challenge(&presented, url, &a),
        ChallengeStep::Finish {
            state: AcmeState::Valid,
            ..
        }
    ));
    let a = authz(Status::Invalid, Status::Invalid, Some("refused"));
    assert_eq!(
        plan_challenge(&presented, url, &a),
        ChallengeStep::Finish {
            state: AcmeState::Invalid,
            reason: "connection: refused".into()
        }
    );
    let a = authz(Status::Pending, Status::Pending, None);
    // DNS-01 follows the same steps (what "present" means is the controller's business).
    assert_eq!(plan_challenge(&presented, url, &a), ChallengeStep::Accept);
    assert!(matches!(
        plan_challenge(&presented, "https://ca/other", &a),
        ChallengeStep::Finish {
            state: AcmeState::Errored,
            ..
        }
    ));
}

fn request(cn: Option<&str>, dns: &[&str], ips: &[&str]) -> CertificateRequestSpec {
    use crate::pki::{self, CsrSpec, KeySpec, PrivateKey, Subject, SubjectAltNames, SubjectFields};
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let spec = CsrSpec {
        subject: Subject::Fields(SubjectFields {
            common_name: cn.map(str::to_string),
            ..Default::default()
        }),
        sans: SubjectAltNames {
            dns_names: dns.iter().map(|d| d.to_string()).collect(),
            ip_addresses: ips.iter().map(|i| i.parse().unwrap()).collect(),
            ..Default::default()
        },
        ..Default::default()
    };
    CertificateRequestSpec {
        request: crate::api::Bytes(pki::build_csr(&spec, &key).unwrap().into_bytes()),
        issuer_ref: crate::api::IssuerRef {
            name: "le".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn order_spec_takes_the_names_of_the_csr() {
    let o = order_spec(
        &request(Some("a.test"), &["a.test", "*.a.test"], &["127.0.0.1"]),
        Some("short".into()),
    )
    .unwrap();
    assert_eq!(o.common_name.as_deref(), Some("a.test"));
    assert_eq!(o.dns_names.unwrap(), vec!["a.test", "*.a.test"]);
    assert_eq!(o.ip_addresses.unwrap(), vec!["127.0.0.1"]);
    assert_eq!(o.profile.as_deref(), Some("short"));
    assert_eq!(o.issuer_ref.name, "le");
}

#[test]
fn order_spec_refuses_what_acme_cannot_issue() {
    let e = order_spec(&request(Some("only-cn"), &[], &[]), None).unwrap_err();
    assert!(e.contains("no DNS name or IP address"), "{e}");
    let e = order_spec(&request(Some("other.test"), &["a.test"], &[]), None).unwrap_err();
    assert!(e.contains("common name \"other.test\""), "{e}");
    let mut bad = request(None, &["a.test"], &[]);
    bad.request = crate::api::Bytes(b"not a csr".to_vec());
    assert!(
        order_spec(&bad, None)
            .unwrap_err()
            .starts_with("spec.request")
    );
}

#[test]
fn preferred_chain_matches_the_top_issuer_common_name() {
    use crate::pki::KeySpec;
    use crate::pki::testutil::{intermediate, leaf, root};
    let r1 = root("Root One", KeySpec::EcdsaP256);
    let r2 = root("Root Two", KeySpec::EcdsaP256);
    let i1 = intermediate(&r1, "Inter One");
    let i2 = intermediate(&r2, "Inter Two");
    let chain = |i: &crate::pki::testutil::Issued| format!("{}{}", leaf(i, "a.test").pem, i.pem);
    let chains = vec![chain(&i1), chain(&i2)];
    assert_eq!(choose_chain(&chains, None), Some(&chains[0]));
    assert_eq!(choose_chain(&chains, Some("Root Two")), Some(&chains[1]));
    // The top certificate's own name counts too (a chain that ends in its root).
    assert_eq!(choose_chain(&chains, Some("Inter Two")), Some(&chains[1]));
    assert_eq!(choose_chain(&chains, Some("Nobody")), Some(&chains[0]));
    assert_eq!(choose_chain(&[], Some("Root Two")), None);
}

#[test]
fn a_stuck_challenge_says_why_on_its_order_and_routine_progress_does_not() {
    let server = server(Status::Pending);
    let status = |reason: &str| {
        Some(ChallengeStatus {
            state: Some(AcmeState::Pending),
            reason: Some(reason.into()),
            ..Default::default()
        })
    };
    let why = |reason: &str| {
        let challenges: BTreeMap<usize, Option<ChallengeStatus>> = [(0, status(reason))].into();
        match plan_order(&placed(), Some(&server), &challenges) {
            OrderStep::Wait { why, .. } => why,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        why("presenting the challenge response"),
        WAITING_FOR_CHALLENGES
    );
    let stuck = why("Error presenting the DNS-01 record: NOTAUTH/BADSIG");
    assert_eq!(
        stuck,
        format!("{WAITING_FOR_CHALLENGES}: Error presenting the DNS-01 record: NOTAUTH/BADSIG")
    );
    assert!(why("Waiting for DNS-01 challenge propagation: x").ends_with(": x"));
}

#[test]
fn wait_instead_of_self_check_counts_from_presentation() {
    use std::time::{Duration, SystemTime};
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let w = Duration::from_secs(30);
    assert_eq!(
        accept_after_wait(Some(t0), w, t0 + Duration::from_secs(10)),
        Err(Duration::from_secs(20))
    );
    assert_eq!(accept_after_wait(Some(t0), w, t0 + w), Ok(()));
    assert_eq!(accept_after_wait(Some(t0), w, t0 + 2 * w), Ok(()));
    // Zero asks at once; an unknown presentation time waits the whole period from now.
    assert_eq!(accept_after_wait(Some(t0), Duration::ZERO, t0), Ok(()));
    assert_eq!(accept_after_wait(None, Duration::ZERO, t0), Ok(()));
    assert_eq!(accept_after_wait(None, w, t0), Err(w));
}
