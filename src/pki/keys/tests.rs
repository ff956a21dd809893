use super::*;

fn all_fast_specs() -> [KeySpec; 4] {
    [
        KeySpec::Rsa { bits: 2048 },
        KeySpec::EcdsaP256,
        KeySpec::EcdsaP384,
        KeySpec::Ed25519,
    ]
}

#[test]
fn spec_defaults_and_bounds_follow_cert_manager() {
    assert_eq!(
        KeySpec::new(KeyAlgorithm::Rsa, None).unwrap(),
        KeySpec::Rsa { bits: 2048 }
    );
    assert_eq!(
        KeySpec::new(KeyAlgorithm::Ecdsa, None).unwrap(),
        KeySpec::EcdsaP256
    );
    assert_eq!(
        KeySpec::new(KeyAlgorithm::Ed25519, Some(1)).unwrap(),
        KeySpec::Ed25519
    );
    assert_eq!(
        KeySpec::new(KeyAlgorithm::Rsa, Some(1024))
            .unwrap_err()
            .reason(),
        "WeakKey"
    );
    let err = KeySpec::new(KeyAlgorithm::Rsa, Some(16384)).unwrap_err();
    assert_eq!(err.reason(), "UnsupportedKeySize");
    assert!(KeySpec::new(KeyAlgorithm::Ecdsa, Some(512)).is_err());
    assert_eq!(
        "ecdsa".parse::<KeyAlgorithm>().unwrap(),
        KeyAlgorithm::Ecdsa
    );
    assert!(
        "dsa"
            .parse::<KeyAlgorithm>()
            .unwrap_err()
            .to_string()
            .contains("algorithm")
    );
}

#[test]
fn every_encoding_parses_back_to_the_same_key() {
    for spec in all_fast_specs() {
        let key = PrivateKey::generate(spec).unwrap();
        assert_eq!(key.spec(), spec);
        for enc in [KeyEncoding::Pkcs1, KeyEncoding::Pkcs8] {
            let pem = key.to_pem(enc).unwrap();
            let back = PrivateKey::from_pem(pem.as_bytes()).unwrap();
            assert_eq!(back.spec(), spec, "{spec} {enc:?}");
            assert_eq!(
                back.public_key_raw(),
                key.public_key_raw(),
                "{spec} {enc:?}"
            );
        }
    }
}

#[test]
fn pkcs1_labels_follow_the_algorithm() {
    let rsa = PrivateKey::generate(KeySpec::Rsa { bits: 2048 }).unwrap();
    assert!(
        rsa.to_pem(KeyEncoding::Pkcs1)
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY")
    );
    let ec = PrivateKey::generate(KeySpec::EcdsaP521).unwrap();
    assert!(
        ec.to_pem(KeyEncoding::Pkcs1)
            .unwrap()
            .starts_with("-----BEGIN EC PRIVATE KEY")
    );
    let ed = PrivateKey::generate(KeySpec::Ed25519).unwrap();
    assert!(
        ed.to_pem(KeyEncoding::Pkcs1)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY")
    );
}

#[test]
fn encrypted_and_foreign_inputs_are_refused_with_reasons() {
    let enc = pem::encode("ENCRYPTED PRIVATE KEY", &[0x30, 0x00]);
    assert_eq!(
        PrivateKey::from_pem(enc.as_bytes()).unwrap_err().reason(),
        "EncryptedKey"
    );
    let cert = pem::encode("CERTIFICATE", &[0x30, 0x00]);
    let err = PrivateKey::from_pem(cert.as_bytes()).unwrap_err();
    assert_eq!(err.reason(), "UnexpectedPEMBlock");
    let junk = pem::encode("PRIVATE KEY", &[0x30, 0x03, 0x02, 0x01, 0x00]);
    assert_eq!(
        PrivateKey::from_pem(junk.as_bytes()).unwrap_err().reason(),
        "InvalidKey"
    );
}

#[test]
fn debug_output_never_shows_key_bytes() {
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let shown = format!("{key:?}");
    assert_eq!(shown, "PrivateKey { spec: EcdsaP256, .. }");
}

#[test]
fn modulus_bits_ignores_leading_zeros() {
    assert_eq!(modulus_bits(&[0x00, 0x80, 0x00]), 16);
    assert_eq!(modulus_bits(&[0x01, 0x00]), 9);
    assert_eq!(modulus_bits(&[0, 0]), 0);
}
