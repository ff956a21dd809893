//! `spec.keystores`: the PKCS#12 and JKS files of the TLS Secret. Passwords come literally from
//! the spec or from a Secret in the Certificate's namespace; that Secret is not ours, so it is
//! never cached: it is read only when keystores are written (at issuance, or when the Secret
//! lacks a keystore the spec asks for), never on a steady-state reconcile.
//!
//! Keystores carry random salts, so they are built only when the Secret is written for another
//! reason; comparing them with what the Secret holds would rewrite it forever.
use std::collections::BTreeMap;
use std::time::SystemTime;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use thiserror::Error;
use zeroize::Zeroizing;

use crate::api::Certificate;
use crate::api::certificate::Pkcs12Profile as ApiProfile;
use crate::api::common::SecretKeySelector;
use crate::pki::{self, KeystoreInput, Pkcs12Profile, keystore};

use super::secret::out;

/// Why keystores cannot be written. `reason()` goes into the Ready condition and the Event.
#[derive(Debug, Error)]
pub enum KeystoreError {
    /// The password Secret does not exist.
    #[error("{field}: Secret {name:?} does not exist")]
    SecretNotFound { field: &'static str, name: String },
    /// The password Secret lacks the key, or it is empty.
    #[error("{field}: Secret {name:?} has no non-empty key {key:?}")]
    KeyMissing {
        field: &'static str,
        name: String,
        key: String,
    },
    /// The passwordSecretRef names no key (the API cannot require it: the type is shared).
    #[error("{field}: passwordSecretRef.key must name the key holding the password")]
    NoKey { field: &'static str },
    /// Encoding the keystore failed (a chain that does not parse, a bad alias).
    #[error("{field}: {source}")]
    Encoding {
        field: &'static str,
        #[source]
        source: pki::Error,
    },
    /// Reading the password Secret failed; retried.
    #[error("reading the keystore password Secret: {0}")]
    Kube(#[from] kube::Error),
}

impl KeystoreError {
    pub fn reason(&self) -> &'static str {
        match self {
            KeystoreError::SecretNotFound { .. } => "SecretNotFound",
            KeystoreError::KeyMissing { .. } | KeystoreError::NoKey { .. } => "SecretKeyMissing",
            KeystoreError::Encoding { .. } => "KeystoreEncodingFailed",
            KeystoreError::Kube(_) => "APIError",
        }
    }
}

const P12: &str = "spec.keystores.pkcs12";
const JKS: &str = "spec.keystores.jks";

/// The passwords of the keystores the spec asks for (`None` where it asks for none).
#[derive(Default)]
pub struct Passwords {
    pub pkcs12: Option<Zeroizing<String>>,
    pub jks: Option<Zeroizing<String>>,
}

/// Reads the passwords the spec asks for; no API call when both are literal or none is asked.
pub async fn passwords(client: &Client, cert: &Certificate) -> Result<Passwords, KeystoreError> {
    let ns = cert.metadata.namespace.clone().unwrap_or_default();
    let ks = cert.spec.keystores.as_ref();
    let mut p = Passwords::default();
    if let Some(k) = ks.and_then(|k| k.pkcs12.as_ref()).filter(|k| k.create) {
        p.pkcs12 = Some(
            password(
                client,
                &ns,
                P12,
                k.password.as_deref(),
                k.password_secret_ref.as_ref(),
            )
            .await?,
        );
    }
    if let Some(k) = ks.and_then(|k| k.jks.as_ref()).filter(|k| k.create) {
        p.jks = Some(
            password(
                client,
                &ns,
                JKS,
                k.password.as_deref(),
                k.password_secret_ref.as_ref(),
            )
            .await?,
        );
    }
    Ok(p)
}

async fn password(
    client: &Client,
    ns: &str,
    field: &'static str,
    literal: Option<&str>,
    secret_ref: Option<&SecretKeySelector>,
) -> Result<Zeroizing<String>, KeystoreError> {
    if let Some(p) = literal.filter(|p| !p.is_empty()) {
        return Ok(Zeroizing::new(p.to_string()));
    }
    let Some(r) = secret_ref else {
        // The CRD requires exactly one of the two; an empty literal lands here.
        return Err(KeystoreError::NoKey { field });
    };
    let key = r.key.clone().ok_or(KeystoreError::NoKey { field })?;
    let secret = Api::<Secret>::namespaced(client.clone(), ns)
        .get_opt(&r.name)
        .await?
        .ok_or_else(|| KeystoreError::SecretNotFound {
            field,
            name: r.name.clone(),
        })?;
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&key))
        .map(|b| Zeroizing::new(String::from_utf8_lossy(&b.0).into_owned()))
        .filter(|v| !v.is_empty());
    value.ok_or(KeystoreError::KeyMissing {
        field,
        name: r.name.clone(),
        key,
    })
}

fn profile(p: Option<ApiProfile>) -> Pkcs12Profile {
    match p {
        None | Some(ApiProfile::LegacyRC2) => Pkcs12Profile::LegacyRc2,
        Some(ApiProfile::LegacyDES) => Pkcs12Profile::LegacyDes,
        Some(ApiProfile::Modern2023) => Pkcs12Profile::Modern2023,
    }
}

/// Builds the keystore files for the Secret. Pure: passwords are resolved by [`passwords`].
pub fn build(
    cert: &Certificate,
    pw: &Passwords,
    input: &KeystoreInput<'_>,
    now: SystemTime,
) -> Result<BTreeMap<&'static str, Vec<u8>>, KeystoreError> {
    let ks = cert.spec.keystores.as_ref();
    let mut files = BTreeMap::new();
    if let (Some(k), Some(pw)) = (ks.and_then(|k| k.pkcs12.as_ref()), pw.pkcs12.as_ref()) {
        let enc = |source| KeystoreError::Encoding { field: P12, source };
        let prof = profile(k.profile);
        files.insert(
            out::KEYSTORE_P12,
            keystore::pkcs12_keystore(input, pw, prof).map_err(enc)?,
        );
        if let Some(t) = keystore::pkcs12_truststore(input, pw, prof).map_err(enc)? {
            files.insert(out::TRUSTSTORE_P12, t);
        }
    }
    if let (Some(k), Some(pw)) = (ks.and_then(|k| k.jks.as_ref()), pw.jks.as_ref()) {
        let enc = |source| KeystoreError::Encoding { field: JKS, source };
        let alias = k
            .alias
            .as_deref()
            .filter(|a| !a.is_empty())
            .unwrap_or(keystore::DEFAULT_KEY_ALIAS);
        files.insert(
            out::KEYSTORE_JKS,
            keystore::jks_keystore(input, pw, alias, now).map_err(enc)?,
        );
        if let Some(t) = keystore::jks_truststore(input, pw, now).map_err(enc)? {
            files.insert(out::TRUSTSTORE_JKS, t);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{KeySpec, PrivateKey};

    fn cert(yaml: &str) -> Certificate {
        let base = "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: web, namespace: ns}\n";
        serde_yaml::from_str(&format!("{base}{yaml}")).unwrap()
    }

    fn self_signed(key: &PrivateKey) -> String {
        let spec = pki::CsrSpec {
            sans: pki::SubjectAltNames {
                dns_names: vec!["a.test".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        let csr = pki::build_csr(&spec, key).unwrap();
        let opts = pki::SignOptions::new(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000),
        );
        pki::self_sign(csr.as_bytes(), key, &opts).unwrap()
    }

    #[test]
    fn builds_what_the_spec_asks_and_no_more() {
        let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
        let crt = self_signed(&key);
        let input = KeystoreInput {
            key: &key,
            chain_pem: crt.as_bytes(),
            ca_pem: Some(crt.as_bytes()),
        };
        let now = std::time::UNIX_EPOCH;
        let c = cert(
            "spec: {secretName: s, issuerRef: {name: i}, keystores: {pkcs12: {create: true, password: pw, profile: Modern2023}, jks: {create: false, password: pw}}}",
        );
        let pw = Passwords {
            pkcs12: Some(Zeroizing::new("pw".into())),
            jks: None,
        };
        let files = build(&c, &pw, &input, now).unwrap();
        assert_eq!(
            files.keys().copied().collect::<Vec<_>>(),
            vec![out::KEYSTORE_P12, out::TRUSTSTORE_P12]
        );
        // The set the Secret is compared against agrees with what is built.
        let want = super::super::secret::wanted_outputs(&c.spec, true);
        assert_eq!(
            want.into_iter().collect::<Vec<_>>(),
            files.keys().copied().collect::<Vec<_>>()
        );
        let no_ca = KeystoreInput {
            ca_pem: None,
            ..input
        };
        assert_eq!(build(&c, &pw, &no_ca, now).unwrap().len(), 1);
    }

    #[test]
    fn reasons_are_stable() {
        let e = KeystoreError::SecretNotFound {
            field: P12,
            name: "pw".into(),
        };
        assert_eq!(e.reason(), "SecretNotFound");
        assert!(e.to_string().contains("spec.keystores.pkcs12"));
        assert_eq!(
            KeystoreError::KeyMissing {
                field: JKS,
                name: "pw".into(),
                key: "k".into()
            }
            .reason(),
            "SecretKeyMissing"
        );
    }
}
