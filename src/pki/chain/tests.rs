use super::*;
use crate::pki::testutil::{Issued, intermediate, leaf, root};

struct Pki {
    root: Issued,
    ints: Vec<Issued>,
    leaf: Issued,
}

fn pki(depth: usize) -> Pki {
    let root = root("Root", KeySpec::EcdsaP256);
    let mut ints: Vec<Issued> = Vec::new();
    for i in 0..depth {
        let parent = ints.last().unwrap_or(&root);
        ints.push(intermediate(parent, &format!("Int {i}")));
    }
    let leaf = leaf(ints.last().unwrap_or(&root), "leaf.example");
    Pki { root, ints, leaf }
}

fn der_of(pem_text: &str) -> Vec<u8> {
    pem::parse_all(pem_text.as_bytes(), "t").unwrap()[0]
        .contents()
        .to_vec()
}

#[test]
fn shuffled_bundle_with_duplicates_orders_leaf_first_root_apart() {
    let p = pki(2);
    let input = [
        &p.ints[0].pem,
        &p.root.pem,
        &p.leaf.pem,
        &p.ints[1].pem,
        &p.ints[0].pem,
    ]
    .map(|s| s.as_str())
    .concat();
    let b = order_bundle(input.as_bytes()).unwrap();
    assert_eq!(
        b.chain,
        vec![
            der_of(&p.leaf.pem),
            der_of(&p.ints[1].pem),
            der_of(&p.ints[0].pem)
        ]
    );
    assert_eq!(b.ca, Some(der_of(&p.root.pem)));
    assert!(b.tls_crt_pem().starts_with(&p.leaf.pem));
}

#[test]
fn without_root_the_top_issuer_is_the_ca() {
    let p = pki(2);
    let input = format!("{}{}{}", p.ints[0].pem, p.leaf.pem, p.ints[1].pem);
    let b = order_bundle(input.as_bytes()).unwrap();
    assert_eq!(b.chain.len(), 3);
    assert_eq!(b.ca, Some(der_of(&p.ints[0].pem)));
}

#[test]
fn lone_certificates() {
    let p = pki(0);
    let b = order_bundle(p.leaf.pem.as_bytes()).unwrap();
    assert_eq!((b.chain.len(), b.ca), (1, None));
    let b = order_bundle(p.root.pem.as_bytes()).unwrap();
    assert_eq!(b.chain, vec![der_of(&p.root.pem)]);
    assert_eq!(b.ca, Some(der_of(&p.root.pem)));
}

#[test]
fn missing_intermediate_names_the_orphan() {
    let p = pki(2);
    let input = format!("{}{}{}", p.leaf.pem, p.ints[1].pem, p.root.pem);
    let err = order_bundle(input.as_bytes()).unwrap_err();
    assert_eq!(err.reason(), "MissingIntermediate");
    assert!(
        err.to_string().contains("CN=Int 1") && err.to_string().contains("CN=Int 0"),
        "{err}"
    );
}

#[test]
fn several_leaves_and_unrelated_certificates() {
    let p = pki(1);
    let other = leaf(&p.ints[0], "other.example");
    let input = format!("{}{}{}", p.leaf.pem, other.pem, p.ints[0].pem);
    let err = order_bundle(input.as_bytes()).unwrap_err();
    assert_eq!(err.reason(), "SeveralLeaves");
    assert!(err.to_string().contains("leaf.example") && err.to_string().contains("other.example"));
    let stranger = root("Stranger", KeySpec::EcdsaP256);
    let input = format!(
        "{}{}{}{}",
        p.leaf.pem, p.ints[0].pem, p.root.pem, stranger.pem
    );
    let err = order_bundle(input.as_bytes()).unwrap_err();
    assert_eq!(err.reason(), "UnrelatedCertificate");
    assert!(err.to_string().contains("Stranger"), "{err}");
}

#[test]
fn same_name_different_key_is_not_an_issuer() {
    let p = pki(0);
    let impostor = root("Root", KeySpec::EcdsaP256); // same subject, other key
    let input = format!("{}{}{}", p.leaf.pem, impostor.pem, p.root.pem);
    let err = order_bundle(input.as_bytes()).unwrap_err();
    assert_eq!(err.reason(), "UnrelatedCertificate");
}

#[test]
fn hostile_inputs_are_refused() {
    assert_eq!(order_bundle(b"not pem").unwrap_err().reason(), "InvalidPEM");
    let p = pki(0);
    let many = p.leaf.pem.repeat(MAX_CERTIFICATES + 1);
    assert_eq!(
        order_bundle(many.as_bytes()).unwrap_err().reason(),
        "TooManyCertificates"
    );
    let key = p.leaf.key.to_pem(crate::pki::KeyEncoding::Pkcs8).unwrap();
    let input = format!("{}{}", p.leaf.pem, key.as_str());
    assert_eq!(
        order_bundle(input.as_bytes()).unwrap_err().reason(),
        "UnexpectedPEMBlock"
    );
    let bad = pem::encode(pem::CERTIFICATE, b"\x30\x00");
    assert_eq!(
        order_bundle(bad.as_bytes()).unwrap_err().reason(),
        "InvalidCertificate"
    );
}

#[test]
fn duplicates_are_deduplicated_even_a_thousand() {
    let p = pki(0);
    let input = p.leaf.pem.repeat(MAX_CERTIFICATES);
    let b = order_bundle(input.as_bytes()).unwrap();
    assert_eq!(b.chain.len(), 1);
}

#[test]
fn cross_signed_loop_is_a_cycle() {
    use crate::pki::{
        CsrSpec, SignOptions, Subject, SubjectFields, build_csr, ca_sign, testutil::now,
    };
    let a0 = root("A", KeySpec::EcdsaP256);
    let b0 = root("B", KeySpec::EcdsaP256);
    let csr = |cn: &str, key: &crate::pki::PrivateKey| {
        let spec = CsrSpec {
            subject: Subject::Fields(SubjectFields {
                common_name: Some(cn.into()),
                ..Default::default()
            }),
            is_ca: true,
            ..Default::default()
        };
        build_csr(&spec, key).unwrap()
    };
    let opts = SignOptions::new(now());
    // A signed by B, and B signed by A: each one's issuer is the other.
    let a_by_b = ca_sign(
        csr("A", &a0.key).as_bytes(),
        b0.pem.as_bytes(),
        &b0.key,
        &opts,
    )
    .unwrap();
    let b_by_a = ca_sign(
        csr("B", &b0.key).as_bytes(),
        a0.pem.as_bytes(),
        &a0.key,
        &opts,
    )
    .unwrap();
    let l = leaf(&a0, "leaf.example");
    let input = format!("{}{}{}", l.pem, a_by_b, b_by_a);
    let err = order_bundle(input.as_bytes()).unwrap_err();
    assert_eq!(err.reason(), "ChainCycle");
    assert!(err.to_string().contains("CN=A"), "{err}");
}
