//! The fuzz targets of fuzz/ run on stable as a bounded smoke test: valid seeds (keys, CSRs,
//! certificates, bundles) and random mutations of them go through the very same target
//! functions cargo-fuzz uses. A panic anywhere fails the test. The real fuzzing (coverage
//! guided, unbounded) is `scripts/fuzz`.
use std::time::{Duration, Instant, SystemTime};

use certwright::pki::{
    self, CsrSpec, KeyEncoding, KeySpec, PrivateKey, SignOptions, Subject, SubjectAltNames,
    SubjectFields,
};

#[path = "../fuzz/targets.rs"]
mod targets;

/// xorshift64*: deterministic, so a failure reproduces from the printed iteration.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let now = SystemTime::now();
    let mut out = Vec::new();
    let spec = |cn: &str, is_ca: bool| CsrSpec {
        subject: Subject::Fields(SubjectFields {
            common_name: Some(cn.into()),
            ..Default::default()
        }),
        sans: SubjectAltNames {
            dns_names: vec!["a.example".into()],
            ip_addresses: vec!["::1".parse().unwrap()],
            ..Default::default()
        },
        is_ca,
        ..Default::default()
    };
    let ca_key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let ca = pki::self_sign(
        pki::build_csr(&spec("root", true), &ca_key)
            .unwrap()
            .as_bytes(),
        &ca_key,
        &SignOptions::new(now),
    )
    .unwrap();
    let mut bundle = ca.clone();
    for key_spec in [KeySpec::EcdsaP256, KeySpec::Ed25519, KeySpec::EcdsaP384] {
        let key = PrivateKey::generate(key_spec).unwrap();
        for enc in [KeyEncoding::Pkcs1, KeyEncoding::Pkcs8] {
            out.push(key.to_pem(enc).unwrap().as_bytes().to_vec());
        }
        let csr = pki::build_csr(&spec("leaf", false), &key).unwrap();
        out.push(pem::parse(&csr).unwrap().contents().to_vec());
        let cert = pki::ca_sign(
            csr.as_bytes(),
            ca.as_bytes(),
            &ca_key,
            &SignOptions::new(now),
        )
        .unwrap();
        out.push(pem::parse(&cert).unwrap().contents().to_vec());
        out.push(csr.into_bytes());
        bundle.push_str(&cert);
    }
    out.push(bundle.into_bytes());
    out
}

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..=rng.below(8) {
        match rng.below(5) {
            0 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
            1 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] = rng.next() as u8;
            }
            2 => d.truncate(rng.below(d.len() + 1)),
            3 => {
                let i = rng.below(d.len() + 1);
                d.insert(i, rng.next() as u8);
            }
            _ if d.len() > 2 => {
                // Duplicate a slice: exercises length fields and repeated blocks.
                let a = rng.below(d.len());
                let b = (a + rng.below(64)).min(d.len());
                let chunk = d[a..b].to_vec();
                let at = rng.below(d.len());
                d.splice(at..at, chunk);
            }
            _ => {}
        }
    }
    d
}

#[test]
fn fuzz_targets_survive_mutated_seeds() {
    let seeds = seeds();
    let budget = Duration::from_secs(
        std::env::var("CERTWRIGHT_FUZZ_SMOKE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(4),
    );
    let start = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut runs = 0u64;
    for seed in &seeds {
        targets::pem(seed);
        targets::chain(seed);
        targets::csr(seed);
    }
    while start.elapsed() < budget {
        let input = if rng.below(10) == 0 {
            (0..rng.below(512)).map(|_| rng.next() as u8).collect()
        } else {
            let seed = &seeds[rng.below(seeds.len())];
            mutate(&mut rng, seed)
        };
        targets::pem(&input);
        targets::chain(&input);
        targets::csr(&input);
        runs += 1;
    }
    eprintln!(
        "fuzz smoke: {runs} mutated inputs through 3 targets in {:?}",
        start.elapsed()
    );
    assert!(runs > 0);
}
