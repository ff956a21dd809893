//! Fixtures for the unit tests: small CA hierarchies built through the public API.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

/// A fixed signing time, so tests never depend on the clock.
pub(crate) fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

/// A key and its certificate.
pub(crate) struct Issued {
    pub key: PrivateKey,
    pub pem: String,
}

fn csr(cn: &str, dns: &[&str], is_ca: bool, key: &PrivateKey) -> String {
    let spec = CsrSpec {
        subject: Subject::Fields(SubjectFields {
            common_name: Some(cn.into()),
            ..Default::default()
        }),
        sans: SubjectAltNames {
            dns_names: dns.iter().map(|d| d.to_string()).collect(),
            ..Default::default()
        },
        usages: if is_ca {
            vec![Usage::CertSign, Usage::CrlSign]
        } else {
            vec![
                Usage::DigitalSignature,
                Usage::KeyEncipherment,
                Usage::ServerAuth,
            ]
        },
        is_ca,
        signature_algorithm: None,
        name_constraints: None,
    };
    build_csr(&spec, key).unwrap()
}

/// A self-signed root CA valid for ten years from [`now`].
pub(crate) fn root(cn: &str, spec: KeySpec) -> Issued {
    let key = PrivateKey::generate(spec).unwrap();
    let mut opts = SignOptions::new(now());
    opts.duration = Duration::from_secs(10 * 365 * 86400);
    let pem = self_sign(csr(cn, &[], true, &key).as_bytes(), &key, &opts).unwrap();
    Issued { key, pem }
}

/// A CA signed by `parent`, valid for five years.
pub(crate) fn intermediate(parent: &Issued, cn: &str) -> Issued {
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let mut opts = SignOptions::new(now());
    opts.duration = Duration::from_secs(5 * 365 * 86400);
    let pem = ca_sign(
        csr(cn, &[], true, &key).as_bytes(),
        parent.pem.as_bytes(),
        &parent.key,
        &opts,
    )
    .unwrap();
    Issued { key, pem }
}

/// A server certificate for `dns` signed by `parent`, default lifetime.
pub(crate) fn leaf(parent: &Issued, dns: &str) -> Issued {
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let opts = SignOptions::new(now());
    let pem = ca_sign(
        csr(dns, &[dns], false, &key).as_bytes(),
        parent.pem.as_bytes(),
        &parent.key,
        &opts,
    )
    .unwrap();
    Issued { key, pem }
}
