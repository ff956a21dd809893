//! The ACME client alone (no Kubernetes) against a real Pebble on loopback: registration with
//! each account key type, one full HTTP-01 order through finalization, and the chain.
//! Pebble keeps its default 5% badNonce rejections, which the client must retry.
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use certwright::acme::{Account, AccountKey, Directory, HttpClient, Identifier, Status, Trust};
use certwright::issuer::acme::plan;
use certwright::pki::{self, CsrSpec, KeyEncoding, KeySpec, PrivateKey, SubjectAltNames};
use support::pebble::{Options, Pebble, free_port};

fn pebble() -> (Pebble, u16) {
    pebble_with_roots(0)
}

fn pebble_with_roots(alternate_roots: u8) -> (Pebble, u16) {
    let port = free_port();
    let p = Pebble::start(Options {
        http01_port: port,
        nonce_reject_percent: 5,
        va_sleep_seconds: None,
        alternate_roots,
        eab: None,
    });
    (p, port)
}

async fn directory(p: &Pebble) -> Arc<Directory> {
    let http = HttpClient::new(&Trust::Bundle(p.ca_bundle.clone().into_bytes())).unwrap();
    Directory::fetch(http, &p.directory_url).await.unwrap()
}

#[tokio::test]
async fn registers_with_rsa_and_ecdsa_keys_and_again_idempotently() {
    let (p, _) = pebble();
    let dir = directory(&p).await;
    for spec in [
        KeySpec::EcdsaP256,
        KeySpec::EcdsaP384,
        KeySpec::Rsa { bits: 2048 },
    ] {
        let pem = PrivateKey::generate(spec)
            .unwrap()
            .to_pem(KeyEncoding::Pkcs1)
            .unwrap();
        let key = Arc::new(AccountKey::from_pem(pem.as_bytes()).unwrap());
        let contact = vec!["mailto:a@example.com".to_string()];
        let a = Account::register(dir.clone(), key.clone(), &contact, None)
            .await
            .unwrap_or_else(|e| panic!("{spec}: {e}\n{}", p.log()));
        assert!(
            a.url()
                .starts_with(p.directory_url.trim_end_matches("/dir"))
        );
        // The same key finds the same account, and a contact change is applied.
        let b = Account::register(dir.clone(), key, &["mailto:b@example.com".into()], None)
            .await
            .unwrap();
        assert_eq!(a.url(), b.url());
    }
}

#[tokio::test]
async fn the_system_roots_do_not_trust_pebble() {
    let (p, _) = pebble();
    let http = HttpClient::new(&Trust::System).unwrap();
    let e = Directory::fetch(http, &p.directory_url).await.unwrap_err();
    assert_eq!(e.reason(), "ACMEServerUnreachable", "{e}");
    // skipTLSVerify connects anyway.
    let http = HttpClient::new(&Trust::Insecure).unwrap();
    Directory::fetch(http, &p.directory_url).await.unwrap();
}

/// Answers every HTTP request on `port` with `body` (enough for HTTP-01 validations), on a
/// thread of its own, until the process ends.
fn serve(port: u16, body: String) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let rsp = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(rsp.as_bytes());
        }
    });
}

/// One order for `name` through to the certificate: the chain (PEM), the alternate chain
/// URLs, and the leaf's key.
async fn issue(
    p: &Pebble,
    port: u16,
    account: &Account,
    name: &str,
) -> (String, Vec<String>, PrivateKey) {
    let (url, order) = account
        .new_order(&[Identifier::dns(name)], None, None)
        .await
        .unwrap();
    assert_eq!(order.status, Status::Pending);
    let (authz, _) = account
        .authorization(&order.authorizations[0])
        .await
        .unwrap();
    let ch = authz
        .challenges
        .iter()
        .find(|c| c.kind == "http-01")
        .expect("an http-01 challenge");
    let token = ch.token.clone().unwrap();
    serve(port, account.key().key_authorization(&token));
    account.accept(&ch.url).await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (o, _) = account.order(&url).await.unwrap();
        match o.status {
            Status::Ready => break,
            Status::Pending => {}
            other => panic!("order went {other:?}: {:?}\n{}", o.error, p.log()),
        }
        assert!(Instant::now() < deadline, "order never became ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let leaf_key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let csr = pki::build_csr_der(
        &CsrSpec {
            sans: SubjectAltNames {
                dns_names: vec![name.into()],
                ..Default::default()
            },
            ..Default::default()
        },
        &leaf_key,
    )
    .unwrap();
    account.finalize(&order.finalize, &csr).await.unwrap();
    let cert_url = loop {
        let (o, _) = account.order(&url).await.unwrap();
        if let (Status::Valid, Some(c)) = (o.status, o.certificate) {
            break c;
        }
        assert!(Instant::now() < deadline, "order never became valid");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (pem, alternates) = account.certificate(&cert_url).await.unwrap();
    (pem, alternates, leaf_key)
}

async fn account(p: &Pebble) -> Account {
    let (key, _) = AccountKey::generate().unwrap();
    Account::register(directory(p).await, Arc::new(key), &[], None)
        .await
        .unwrap()
}

fn der_chain(pem: &str) -> Vec<Vec<u8>> {
    ::pem::parse_many(pem)
        .unwrap()
        .into_iter()
        .map(|b| b.into_contents())
        .collect()
}

fn signed_by(child: &[u8], parent_pem: &str) -> bool {
    let (_, parent) = x509_parser::pem::parse_x509_pem(parent_pem.as_bytes()).unwrap();
    let parent = parent.parse_x509().unwrap();
    let (_, child) = x509_parser::parse_x509_certificate(child).unwrap();
    child.verify_signature(Some(parent.public_key())).is_ok()
}

#[tokio::test]
async fn an_http01_order_is_finalized_with_our_csr() {
    let (p, port) = pebble();
    let account = account(&p).await;
    let (pem, _, leaf_key) = issue(&p, port, &account, "client.example").await;
    let chain = der_chain(&pem);
    assert_eq!(chain.len(), 2, "leaf and Pebble's intermediate");
    let leaf = certwright::issuer::first_certificate_pem(pem.as_bytes()).unwrap();
    assert!(leaf_key.matches_certificate_pem(&leaf).unwrap());
    assert!(signed_by(&chain[1], &p.management_pem("/roots/0").await));
}

#[tokio::test]
async fn preferred_chain_picks_an_alternate_root() {
    let (p, port) = pebble_with_roots(1);
    let account = account(&p).await;
    let (pem, alternates, _) = issue(&p, port, &account, "alt.example").await;
    assert_eq!(alternates.len(), 1, "Pebble offers one alternate chain");
    let mut chains = vec![pem];
    for a in &alternates {
        chains.push(account.certificate(a).await.unwrap().0);
    }
    let alt_root = p.management_pem("/roots/1").await;
    let (_, root) = x509_parser::pem::parse_x509_pem(alt_root.as_bytes()).unwrap();
    let cn = root
        .parse_x509()
        .unwrap()
        .subject()
        .iter_common_name()
        .next()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    let chosen = plan::choose_chain(&chains, Some(&cn)).unwrap();
    let top = der_chain(chosen).pop().unwrap();
    assert!(
        signed_by(&top, &alt_root),
        "the chosen chain ends under {cn}"
    );
    assert_eq!(plan::choose_chain(&chains, None), Some(&chains[0]));
}

#[tokio::test]
async fn external_account_binding_is_required_and_checked() {
    use base64::Engine as _;
    let mac = b"0123456789abcdef0123456789abcdef";
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac);
    let p = Pebble::start(Options {
        http01_port: free_port(),
        nonce_reject_percent: 5,
        va_sleep_seconds: None,
        alternate_roots: 0,
        eab: Some(("kid-1".into(), b64)),
    });
    let dir = directory(&p).await;
    assert!(dir.external_account_required());
    let key = || Arc::new(AccountKey::generate().unwrap().0);
    let e = Account::register(dir.clone(), key(), &[], None)
        .await
        .unwrap_err();
    assert_eq!(e.reason(), "ACMEExternalAccountRequired", "{e}");
    let wrong = certwright::acme::client::Eab {
        key_id: "kid-1",
        mac_key: b"not the key",
    };
    let e = Account::register(dir.clone(), key(), &[], Some(wrong))
        .await
        .unwrap_err();
    assert!(!e.is_transient(), "{e}");
    let right = certwright::acme::client::Eab {
        key_id: "kid-1",
        mac_key: mac,
    };
    Account::register(dir, key(), &[], Some(right))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", p.log()));
}
