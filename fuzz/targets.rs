// Fuzz target bodies, shared by the cargo-fuzz binaries (fuzz_targets/*.rs) and the stable
// smoke test of the main crate (tests/fuzz_smoke.rs), so both exercise the same code.
// A target passes if it returns: errors are expected, panics and hangs are bugs.

/// PEM and key parsing: every entry point that takes a PEM blob from a user.
pub fn pem(data: &[u8]) {
    let _ = certwright::pki::PrivateKey::from_pem(data);
    let _ = certwright::pki::inspect_pem(data);
    if let Ok(key) = certwright::pki::PrivateKey::from_pem(data) {
        // A key that parses must re-encode and parse back to the same public key.
        for enc in [
            certwright::pki::KeyEncoding::Pkcs1,
            certwright::pki::KeyEncoding::Pkcs8,
        ] {
            let pem = key.to_pem(enc).expect("a parsed key re-encodes");
            let back = certwright::pki::PrivateKey::from_pem(pem.as_bytes())
                .expect("re-encoded key parses");
            assert_eq!(back.public_key_raw(), key.public_key_raw());
        }
    }
}

/// Bundle ordering over arbitrary PEM, and over DER certificates wrapped as PEM blocks (so
/// the fuzzer reaches the chain logic without first having to learn base64).
pub fn chain(data: &[u8]) {
    let _ = certwright::pki::order_bundle(data);
    let wrapped: String = data
        .split(|b| *b == 0xff)
        .take(8)
        .map(|der| pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec())))
        .collect();
    if let Ok(bundle) = certwright::pki::order_bundle(wrapped.as_bytes()) {
        // An ordered bundle orders to itself.
        let again = certwright::pki::order_bundle(bundle.tls_crt_pem().as_bytes());
        assert!(
            again.is_ok(),
            "tls.crt of an ordered bundle must order again"
        );
    }
}

/// CSR parsing, from DER and from PEM.
pub fn csr(data: &[u8]) {
    let _ = certwright::pki::parse_csr_der(data);
    let _ = certwright::pki::parse_csr_pem(data);
    let _ = certwright::pki::inspect_der(data);
}
