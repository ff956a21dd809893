//! Property tests of chain ordering: any order, any duplicates, same answer; any missing
//! intermediate is found and named.
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use certwright::pki::{
    self, CsrSpec, KeySpec, PrivateKey, SignOptions, Subject, SubjectFields, Usage,
};
use proptest::prelude::*;

/// root, int 1..=3, leaf: certificates as PEM, built once for all cases.
fn chain() -> &'static Vec<String> {
    static CHAIN: OnceLock<Vec<String>> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let now: SystemTime = UNIX_EPOCH + Duration::from_secs(1_750_000_000);
        let opts = SignOptions {
            duration: Duration::from_secs(86400 * 365),
            ..SignOptions::new(now)
        };
        let csr = |cn: &str, is_ca: bool, key: &PrivateKey| {
            let spec = CsrSpec {
                subject: Subject::Fields(SubjectFields {
                    common_name: Some(cn.into()),
                    ..Default::default()
                }),
                usages: vec![Usage::DigitalSignature],
                is_ca,
                ..Default::default()
            };
            pki::build_csr(&spec, key).unwrap()
        };
        let mut key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
        let mut pems =
            vec![pki::self_sign(csr("Prop Root", true, &key).as_bytes(), &key, &opts).unwrap()];
        for (i, cn) in ["Prop Int 1", "Prop Int 2", "Prop Int 3", "prop.leaf"]
            .iter()
            .enumerate()
        {
            let next = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
            let pem = pki::ca_sign(
                csr(cn, i < 3, &next).as_bytes(),
                pems.last().unwrap().as_bytes(),
                &key,
                &opts,
            )
            .unwrap();
            pems.push(pem);
            key = next;
        }
        pems
    })
}

/// Indices 0..5 shuffled, plus 0..6 duplicates, optionally without the root (index 0).
fn bundle_order(with_root: bool) -> impl Strategy<Value = Vec<usize>> {
    let first = if with_root { 0 } else { 1 };
    (
        Just((first..5).collect::<Vec<_>>()).prop_shuffle(),
        proptest::collection::vec(first..5, 0..6),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut order, dups, at)| {
            for d in dups {
                let pos = at.index(order.len() + 1);
                order.insert(pos, d);
            }
            order
        })
}

fn concat(order: &[usize]) -> String {
    order.iter().map(|&i| chain()[i].as_str()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_order_with_duplicates_gives_the_same_bundle(order in bundle_order(true)) {
        let c = chain();
        let b = pki::order_bundle(concat(&order).as_bytes()).unwrap();
        prop_assert_eq!(b.tls_crt_pem(), format!("{}{}{}{}", c[4], c[3], c[2], c[1]));
        prop_assert_eq!(b.ca_crt_pem().unwrap(), c[0].clone());
    }

    #[test]
    fn without_root_the_top_intermediate_is_the_ca(order in bundle_order(false)) {
        let c = chain();
        let b = pki::order_bundle(concat(&order).as_bytes()).unwrap();
        prop_assert_eq!(b.tls_crt_pem(), format!("{}{}{}{}", c[4], c[3], c[2], c[1]));
        prop_assert_eq!(b.ca_crt_pem().unwrap(), c[1].clone());
    }

    #[test]
    fn removing_any_intermediate_is_detected_and_named(order in bundle_order(true), missing in 1usize..4) {
        let order: Vec<usize> = order.into_iter().filter(|&i| i != missing).collect();
        let err = pki::order_bundle(concat(&order).as_bytes()).unwrap_err();
        prop_assert_eq!(err.reason(), "MissingIntermediate");
        // The error names the certificate left without its issuer, and that issuer.
        let orphan = if missing == 3 { "CN=prop.leaf".to_string() } else { format!("CN=Prop Int {}", missing + 1) };
        let msg = err.to_string();
        prop_assert!(msg.contains(&orphan), "{}", msg);
        let missing_name = format!("CN=Prop Int {missing}");
        prop_assert!(msg.contains(&missing_name), "{}", msg);
    }
}
