//! **Where a TLS Secret gets written**: the pure construction of the `kubernetes.io/tls` Secret
//! for a Certificate (data, cert-manager's annotations and labels, `secretTemplate`, extra
//! output formats), applied by server-side apply with our one field manager so that keys and
//! labels other writers put on the Secret survive.
use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;

use crate::api::Certificate;
use crate::api::certificate::OutputFormatType;
use crate::pki::CertInfo;

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
                data.insert("key.der".to_string(), ByteString(m.key_der.to_vec()));
            }
            OutputFormatType::CombinedPEM => {
                let mut combined = m.key_pem.to_string();
                if !combined.ends_with('\n') {
                    combined.push('\n');
                }
                combined.push_str(m.tls_crt);
                data.insert("tls-combined.pem".to_string(), bytes(&combined));
            }
        }
    }

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
