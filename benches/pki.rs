//! PKI core benchmarks: key generation per algorithm, CSR build, CA signature, ordering a
//! 4-certificate bundle. Run with `cargo bench --bench pki -- --quick` on a busy machine.
use std::hint::black_box;
use std::time::{Duration, SystemTime};

use certwright::pki::{
    self, CsrSpec, KeySpec, PrivateKey, SignOptions, Subject, SubjectAltNames, SubjectFields, Usage,
};
use criterion::{Criterion, criterion_group, criterion_main};

fn spec(cn: &str, is_ca: bool) -> CsrSpec {
    CsrSpec {
        subject: Subject::Fields(SubjectFields {
            common_name: Some(cn.into()),
            ..Default::default()
        }),
        sans: SubjectAltNames {
            dns_names: vec![format!("{cn}.example")],
            ..Default::default()
        },
        usages: vec![
            Usage::DigitalSignature,
            Usage::KeyEncipherment,
            Usage::ServerAuth,
        ],
        is_ca,
        signature_algorithm: None,
        name_constraints: None,
    }
}

fn keygen(c: &mut Criterion) {
    let mut g = c.benchmark_group("keygen");
    g.sample_size(10);
    for (name, spec) in [
        ("rsa2048", KeySpec::Rsa { bits: 2048 }),
        ("rsa4096", KeySpec::Rsa { bits: 4096 }),
        ("ecdsa-p256", KeySpec::EcdsaP256),
        ("ecdsa-p384", KeySpec::EcdsaP384),
        ("ecdsa-p521", KeySpec::EcdsaP521),
        ("ed25519", KeySpec::Ed25519),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| PrivateKey::generate(black_box(spec)).unwrap())
        });
    }
    g.finish();
}

fn csr_and_sign(c: &mut Criterion) {
    let now = SystemTime::now();
    let opts = SignOptions {
        duration: Duration::from_secs(86400 * 365),
        ..SignOptions::new(now)
    };
    for (name, key_spec) in [
        ("ecdsa-p256", KeySpec::EcdsaP256),
        ("rsa2048", KeySpec::Rsa { bits: 2048 }),
    ] {
        let key = PrivateKey::generate(key_spec).unwrap();
        c.bench_function(&format!("csr-build/{name}"), |b| {
            b.iter(|| pki::build_csr(black_box(&spec("leaf", false)), &key).unwrap())
        });
        let ca_csr = pki::build_csr(&spec("ca", true), &key).unwrap();
        let ca = pki::self_sign(ca_csr.as_bytes(), &key, &opts).unwrap();
        let leaf_key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
        let leaf_csr = pki::build_csr(&spec("leaf", false), &leaf_key).unwrap();
        c.bench_function(&format!("ca-sign/{name}"), |b| {
            b.iter(|| {
                pki::ca_sign(black_box(leaf_csr.as_bytes()), ca.as_bytes(), &key, &opts).unwrap()
            })
        });
    }
}

fn order(c: &mut Criterion) {
    let now = SystemTime::now();
    let opts = SignOptions::new(now);
    let mut key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let mut pems = vec![
        pki::self_sign(
            pki::build_csr(&spec("root", true), &key)
                .unwrap()
                .as_bytes(),
            &key,
            &opts,
        )
        .unwrap(),
    ];
    for (i, cn) in ["int1", "int2", "leaf"].iter().enumerate() {
        let next = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
        let csr = pki::build_csr(&spec(cn, i < 2), &next).unwrap();
        pems.push(
            pki::ca_sign(csr.as_bytes(), pems.last().unwrap().as_bytes(), &key, &opts).unwrap(),
        );
        key = next;
    }
    let shuffled = format!("{}{}{}{}", pems[1], pems[3], pems[0], pems[2]);
    c.bench_function("order-bundle/4-certs-ecdsa", |b| {
        b.iter(|| pki::order_bundle(black_box(shuffled.as_bytes())).unwrap())
    });
}

criterion_group!(benches, keygen, csr_and_sign, order);
criterion_main!(benches);
