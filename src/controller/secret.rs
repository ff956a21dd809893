//! **Where a TLS Secret gets written**: the pure construction of the `kubernetes.io/tls` Secret
//! for a Certificate (data, cert-manager's annotations and labels, `secretTemplate`, extra
//! output formats), applied by server-side apply with our one field manager so that keys and
//! labels other writers put on the Secret survive.
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;

use crate::api::Certificate;
use crate::api::certificate::{CertificateSpec, OutputFormatType};
use std::time::SystemTime;

use kube::Api;
use kube::api::{Patch, PatchParams};

use super::certificates::request;
use super::error::{KubeContext, PkiContext};
use super::keystores::{self, KeystoreError};
use super::{Context, Error, MANAGER};
use crate::pki::{CertInfo, KeystoreInput, PrivateKey};

/// Label on every Secret we write, so the controller watches only those ("fao": for
/// attention of): memory stays independent of the cluster's other Secrets.
pub const MANAGED_LABEL: &str = "controller.cert-manager.io/fao";
/// Label on next-private-key Secrets.
pub const NEXT_KEY_LABEL: &str = "cert-manager.io/next-private-key";

pub mod ann {
    pub const CERTIFICATE_NAME: &str = "cert-manager.io/certificate-name";
    pub const ISSUER_NAME: &str = "cert-manager.io/issuer-name";
    pub const ISSUER_KIND: &str = "cert-manager.io/issuer-kind";
    pub const ISSUER_GROUP: &str = "cert-manager.io/issuer-group";
    pub const COMMON_NAME: &str = "cert-manager.io/common-name";
    pub const ALT_NAMES: &str = "cert-manager.io/alt-names";
    pub const IP_SANS: &str = "cert-manager.io/ip-sans";
    pub const URI_SANS: &str = "cert-manager.io/uri-sans";
    pub const EMAIL_SANS: &str = "cert-manager.io/email-sans";
    pub const REVISION: &str = "cert-manager.io/certificate-revision";
    /// The optional outputs certwright wrote (comma-separated data keys), so that only those
    /// are removed when the spec stops asking: a key of the same name that someone else put
    /// in the Secret is theirs, and "removing" it again and again would be a write loop.
    pub const OUTPUTS: &str = "certwright.dev/outputs";
}

/// Data keys of the optional outputs.
pub mod out {
    pub const KEY_DER: &str = "key.der";
    pub const COMBINED_PEM: &str = "tls-combined.pem";
    pub const KEYSTORE_P12: &str = "keystore.p12";
    pub const TRUSTSTORE_P12: &str = "truststore.p12";
    pub const KEYSTORE_JKS: &str = "keystore.jks";
    pub const TRUSTSTORE_JKS: &str = "truststore.jks";
    /// Every optional output, for comparing what a Secret has with what the spec asks.
    pub const ALL: [&str; 6] = [
        KEY_DER,
        COMBINED_PEM,
        KEYSTORE_P12,
        TRUSTSTORE_P12,
        KEYSTORE_JKS,
        TRUSTSTORE_JKS,
    ];
}

/// The optional outputs the spec asks for, given whether a CA is known (truststores need
/// one). The Secret is rewritten, without a new issuance, when the ones it holds differ.
pub fn wanted_outputs(spec: &CertificateSpec, has_ca: bool) -> BTreeSet<&'static str> {
    let mut want = BTreeSet::new();
    for f in spec.additional_output_formats.iter().flatten() {
        want.insert(match f.r#type {
            OutputFormatType::Der => out::KEY_DER,
            OutputFormatType::CombinedPEM => out::COMBINED_PEM,
        });
    }
    let ks = spec.keystores.as_ref();
    if ks.and_then(|k| k.pkcs12.as_ref()).is_some_and(|p| p.create) {
        want.insert(out::KEYSTORE_P12);
        if has_ca {
            want.insert(out::TRUSTSTORE_P12);
        }
    }
    if ks.and_then(|k| k.jks.as_ref()).is_some_and(|j| j.create) {
        want.insert(out::KEYSTORE_JKS);
        if has_ca {
            want.insert(out::TRUSTSTORE_JKS);
        }
    }
    want
}

/// What goes into the Secret.
pub struct TlsMaterial<'a> {
    /// PEM private key in the requested encoding.
    pub key_pem: &'a str,
    /// DER of the key (PKCS#8), for the `DER` output format.
    pub key_der: &'a [u8],
    /// Ordered chain: leaf then intermediates.
    pub tls_crt: &'a str,
    pub ca_crt: Option<&'a str>,
    pub leaf: &'a CertInfo,
    /// Keystore files by data key (built by `keystores`), empty when none are asked for.
    pub keystores: BTreeMap<&'static str, Vec<u8>>,
}

/// Builds the apply object for the Certificate's Secret. `owner` adds an owner reference to the
/// Certificate (`--enable-certificate-owner-ref`), so deleting it deletes the Secret.
pub fn tls_secret(cert: &Certificate, m: &TlsMaterial<'_>, owner: bool) -> Secret {
    let spec = &cert.spec;
    let mut annotations: BTreeMap<String, String> = BTreeMap::new();
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    if let Some(t) = &spec.secret_template {
        annotations.extend(t.annotations.clone().unwrap_or_default());
        labels.extend(t.labels.clone().unwrap_or_default());
    }
    let iref = &spec.issuer_ref;
    let name = cert.metadata.name.clone().unwrap_or_default();
    let join = |v: Vec<String>| v.join(",");
    annotations.extend([
        (ann::CERTIFICATE_NAME.to_string(), name),
        (ann::ISSUER_NAME.to_string(), iref.name.clone()),
        (
            ann::ISSUER_KIND.to_string(),
            iref.kind_or_default().to_string(),
        ),
        (
            ann::ISSUER_GROUP.to_string(),
            iref.group_or_default().to_string(),
        ),
        (
            ann::COMMON_NAME.to_string(),
            common_name(&m.leaf.subject).unwrap_or_default(),
        ),
        (
            ann::ALT_NAMES.to_string(),
            join(m.leaf.sans.dns_names.clone()),
        ),
        (
            ann::IP_SANS.to_string(),
            join(
                m.leaf
                    .sans
                    .ip_addresses
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            ),
        ),
        (ann::URI_SANS.to_string(), join(m.leaf.sans.uris.clone())),
        (
            ann::EMAIL_SANS.to_string(),
            join(m.leaf.sans.email_addresses.clone()),
        ),
    ]);
    labels.insert(MANAGED_LABEL.to_string(), "true".to_string());

    let mut data = BTreeMap::new();
    let bytes = |s: &str| ByteString(s.as_bytes().to_vec());
    data.insert("tls.key".to_string(), bytes(m.key_pem));
    data.insert("tls.crt".to_string(), bytes(m.tls_crt));
    // cert-manager always writes ca.crt (empty when unknown): mounts that expect it keep working.
    data.insert("ca.crt".to_string(), bytes(m.ca_crt.unwrap_or_default()));
    for f in spec.additional_output_formats.iter().flatten() {
        match f.r#type {
            OutputFormatType::Der => {
                data.insert(out::KEY_DER.to_string(), ByteString(m.key_der.to_vec()));
            }
            OutputFormatType::CombinedPEM => {
                let mut combined = m.key_pem.to_string();
                if !combined.ends_with('\n') {
                    combined.push('\n');
                }
                combined.push_str(m.tls_crt);
                data.insert(out::COMBINED_PEM.to_string(), bytes(&combined));
            }
        }
    }
    for (k, v) in &m.keystores {
        data.insert(k.to_string(), ByteString(v.clone()));
    }
    let written: Vec<&str> = out::ALL
        .iter()
        .copied()
        .filter(|k| data.contains_key(*k))
        .collect();
    annotations.insert(ann::OUTPUTS.to_string(), written.join(","));

    let owner_references = owner.then(|| owner_ref(cert)).flatten().map(|r| vec![r]);
    Secret {
        metadata: ObjectMeta {
            name: Some(spec.secret_name.clone()),
            namespace: cert.metadata.namespace.clone(),
            annotations: Some(annotations),
            labels: Some(labels),
            owner_references,
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".to_string()),
        data: Some(data),
        ..Default::default()
    }
}

/// The certificate to store: its key, the ordered chain and the CA, as PEM.
pub struct Issued<'a> {
    pub key: &'a PrivateKey,
    /// Leaf then intermediates.
    pub tls_crt: &'a str,
    pub ca_crt: Option<&'a str>,
    pub leaf: &'a CertInfo,
}

/// Writes the Certificate's Secret by server-side apply: `tls.key` in the spec's encoding,
/// the chain, the CA and every optional output the spec asks for. When keystores cannot be
/// built (a missing password Secret) nothing is written and the inner error says why, for a
/// condition; API failures are the outer error, retried.
/// Server-side applies the TLS Secret; `force` takes fields over from other managers (a
/// Secret known to be ours). Returns the written Secret's resourceVersion.
pub async fn apply(
    ctx: &Context,
    cert: &Certificate,
    issued: &Issued<'_>,
    now: SystemTime,
    force: bool,
) -> Result<Result<Option<String>, KeystoreError>, Error> {
    let passwords = match keystores::passwords(&ctx.client, cert).await {
        Ok(p) => p,
        Err(KeystoreError::Kube(e)) => return Err(e).ctx("reading the keystore password Secret"),
        Err(e) => return Ok(Err(e)),
    };
    let key_pem = issued
        .key
        .to_pem(request::key_encoding(&cert.spec))
        .pki_ctx("encoding the private key")?;
    let key_der = ::pem::parse(key_pem.as_bytes())
        .map(|p| p.into_contents())
        .unwrap_or_default();
    let input = KeystoreInput {
        key: issued.key,
        chain_pem: issued.tls_crt.as_bytes(),
        ca_pem: issued.ca_crt.map(str::as_bytes),
    };
    let files = match keystores::build(cert, &passwords, &input, now) {
        Ok(f) => f,
        Err(e) => return Ok(Err(e)),
    };
    let obj = tls_secret(
        cert,
        &TlsMaterial {
            key_pem: &key_pem,
            key_der: &key_der,
            tls_crt: issued.tls_crt,
            ca_crt: issued.ca_crt,
            leaf: issued.leaf,
            keystores: files,
        },
        ctx.settings.enable_certificate_owner_ref,
    );
    let mut pp = PatchParams::apply(MANAGER);
    pp.force = force;
    let written = Api::<Secret>::namespaced(
        ctx.client.clone(),
        cert.metadata.namespace.as_deref().unwrap_or_default(),
    )
    .patch(&cert.spec.secret_name, &pp, &Patch::Apply(&obj))
    .await
    .ctx("writing the TLS Secret")?;
    Ok(Ok(written.metadata.resource_version))
}

/// A controller owner reference to the Certificate.
pub fn owner_ref(cert: &Certificate) -> Option<OwnerReference> {
    let mut r = cert.controller_owner_ref(&())?;
    // Deleting a Secret must never wait on us.
    r.block_owner_deletion = Some(false);
    Some(r)
}

/// The CN value of an RFC 4514 subject, if it has one.
fn common_name(subject: &str) -> Option<String> {
    subject.split(',').find_map(|rdn| {
        rdn.trim()
            .strip_prefix("CN=")
            .map(|v| v.replace("\\,", ","))
    })
}
