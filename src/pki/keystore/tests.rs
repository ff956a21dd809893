//! Round trips through the crates' own readers: what the keystore holds, under which password.
//! The openssl and keytool views of the same files are in tests/pki_interop.rs.
use p12_keystore::{KeyStore, KeyStoreEntry, Pkcs12ImportPolicy};

use super::*;
use crate::pki::KeySpec;
use crate::pki::testutil::{intermediate, leaf, now, root};

struct Fixture {
    key: PrivateKey,
    chain: String,
    ca: String,
}

fn fixture() -> Fixture {
    let r = root("root", KeySpec::EcdsaP256);
    let i = intermediate(&r, "inter");
    let l = leaf(&i, "a.test");
    Fixture {
        key: l.key,
        chain: format!("{}{}", l.pem, i.pem),
        ca: r.pem,
    }
}

fn input(f: &Fixture, with_ca: bool) -> KeystoreInput<'_> {
    KeystoreInput {
        key: &f.key,
        chain_pem: f.chain.as_bytes(),
        ca_pem: with_ca.then_some(f.ca.as_bytes()),
    }
}

#[test]
fn pkcs12_keystore_holds_key_chain_and_ca_in_every_profile() {
    let f = fixture();
    for profile in [
        Pkcs12Profile::LegacyRc2,
        Pkcs12Profile::LegacyDes,
        Pkcs12Profile::Modern2023,
    ] {
        let p12 = pkcs12_keystore(&input(&f, true), "s3cret", profile).unwrap();
        assert!(
            KeyStore::from_pkcs12(&p12, "wrong", Pkcs12ImportPolicy::Strict).is_err(),
            "{profile:?}: a wrong password must not open it"
        );
        let ks = KeyStore::from_pkcs12(&p12, "s3cret", Pkcs12ImportPolicy::Relaxed).unwrap();
        let (_, chain) = ks.private_key_chain().expect("a key entry");
        assert_eq!(chain.key().as_der(), f.key.pkcs8_der(), "{profile:?}");
        let subjects: Vec<&str> = chain.certs().iter().map(|c| c.subject()).collect();
        assert_eq!(subjects.len(), 3, "{profile:?}: leaf, intermediate, root");
        assert!(subjects[0].contains("a.test"), "{subjects:?}");
        assert!(subjects[2].contains("root"), "{subjects:?}");
    }
}

#[test]
fn truststores_hold_only_the_ca_and_exist_only_with_one() {
    let f = fixture();
    let p12 = pkcs12_truststore(&input(&f, true), "pw", Pkcs12Profile::Modern2023)
        .unwrap()
        .expect("a CA is known");
    let ks = KeyStore::from_pkcs12(&p12, "pw", Pkcs12ImportPolicy::Strict).unwrap();
    assert!(ks.private_key_chain().is_none());
    match ks.entry(CA_ALIAS) {
        Some(KeyStoreEntry::Certificate(c)) => assert!(c.subject().contains("root")),
        other => panic!("{other:?}"),
    }
    assert!(
        pkcs12_truststore(&input(&f, false), "pw", Pkcs12Profile::Modern2023)
            .unwrap()
            .is_none()
    );
    assert!(
        jks_truststore(&input(&f, false), "pw", now())
            .unwrap()
            .is_none()
    );

    let jks_bytes = jks_truststore(&input(&f, true), "pw", now())
        .unwrap()
        .unwrap();
    let mut ks = jks::KeyStore::new();
    ks.load(jks_bytes.as_slice(), b"pw").unwrap();
    assert_eq!(ks.aliases(), vec![CA_ALIAS.to_string()]);
}

#[test]
fn jks_keystore_holds_the_key_under_its_alias_and_the_ca() {
    let f = fixture();
    let bytes = jks_keystore(&input(&f, true), "changeit", "web", now()).unwrap();
    let mut ks = jks::KeyStore::new();
    assert!(
        ks.load(bytes.as_slice(), b"wrong!").is_err(),
        "integrity check"
    );
    ks.load(bytes.as_slice(), b"changeit").unwrap();
    let entry = ks.get_private_key_entry("web", b"changeit").unwrap();
    assert_eq!(entry.private_key, f.key.pkcs8_der());
    assert_eq!(entry.certificate_chain.len(), 2, "leaf and intermediate");
    assert!(ks.is_trusted_certificate_entry(CA_ALIAS));
    // The alias may not shadow the CA entry.
    assert!(jks_keystore(&input(&f, true), "changeit", "ca", now()).is_err());
}

#[test]
fn empty_passwords_are_refused_with_a_field_error() {
    let f = fixture();
    let e = pkcs12_keystore(&input(&f, true), "", Pkcs12Profile::Modern2023).unwrap_err();
    assert_eq!(e.reason(), "InvalidField");
    assert!(jks_keystore(&input(&f, true), "", "certificate", now()).is_err());
}

#[test]
fn jks_digest_matches_java_for_non_ascii_passwords() {
    // For ASCII the crate's reader (byte-widening) and Java's UTF-16BE agree: the recomputed
    // digest must still verify there.
    let f = fixture();
    let bytes = jks_truststore(&input(&f, true), "changeit", now())
        .unwrap()
        .unwrap();
    let mut ks = jks::KeyStore::new();
    ks.load(bytes.as_slice(), b"changeit").unwrap();
    // Beyond Latin-1 the digest is over UTF-16BE: recompute it independently.
    let pw = "pässwörd€";
    let bytes = jks_truststore(&input(&f, true), pw, now())
        .unwrap()
        .unwrap();
    let (body, digest) = bytes.split_at(bytes.len() - 20);
    let mut h = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY);
    let utf16: Vec<u8> = pw.encode_utf16().flat_map(u16::to_be_bytes).collect();
    h.update(&utf16);
    h.update(b"Mighty Aphrodite");
    h.update(body);
    assert_eq!(h.finish().as_ref(), digest);
}
