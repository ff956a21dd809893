//! `Certificate`: the desired X.509 certificate and the Secret it is kept in.
//!
//! Cross-field rules cert-manager enforces in its webhook are CEL rules here (see
//! `docs/api-validation.md` for the few that cannot be). Each message starts with the field it
//! is about, because `kubectl apply` shows only the message and the path of the object holding
//! the rule.
// kube's repeated `printcolumn(...)` entries look like duplicated attributes to clippy.
#![allow(clippy::duplicated_attributes)]
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::common::{Condition, IssuerRef, SecretKeySelector};
use super::duration::Duration;
use super::usage::KeyUsage;

/// Default lifetime when `spec.duration` is unset (90 days), as in cert-manager.
pub const DEFAULT_DURATION: Duration = Duration::from_hours(2160);
/// Shortest accepted `spec.duration`.
pub const MIN_DURATION: Duration = Duration::from_hours(1);
/// Shortest accepted `spec.renewBefore` (also the floor for `renewBeforePercentage`).
pub const MIN_RENEW_BEFORE: Duration = Duration::from_minutes(5);

/// Desired state of a Certificate: what to put in the certificate, which issuer signs it, and
/// where the key pair is stored.
#[skip_serializing_none]
#[derive(CustomResource, KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "cert-manager.io",
    version = "v1",
    kind = "Certificate",
    namespaced,
    status = "CertificateStatus",
    shortname = "cert",
    shortname = "certs",
    category = "cert-manager",
    doc = "A Certificate asks for a signed X.509 certificate, kept up to date in the Secret named by spec.secretName and renewed before it expires.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = r#".status.conditions[?(@.type == "Ready")].status"#
    ),
    printcolumn(name = "Secret", type_ = "string", json_path = ".spec.secretName"),
    printcolumn(name = "Issuer", type_ = "string", json_path = ".spec.issuerRef.name"),
    printcolumn(
        name = "Status",
        type_ = "string",
        priority = 1,
        json_path = r#".status.conditions[?(@.type == "Ready")].message"#
    ),
    // A string, not a date: kubectl renders future dates as "<invalid>".
    printcolumn(name = "Expiration", type_ = "string", json_path = ".status.notAfter"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.literalSubject) || (!has(self.subject) && !has(self.commonName))")
    .message("spec.literalSubject may not be set together with spec.subject or spec.commonName")
    .field_path(".literalSubject"))]
#[x_kube(validation = Rule::new("!(has(self.renewBefore) && has(self.renewBeforePercentage))")
    .message("spec.renewBefore and spec.renewBeforePercentage are mutually exclusive")
    .field_path(".renewBeforePercentage"))]
#[x_kube(validation = Rule::new(
    "(has(self.commonName) && self.commonName != '') || (has(self.literalSubject) && self.literalSubject != '') \
     || (has(self.dnsNames) && size(self.dnsNames) > 0) || (has(self.uris) && size(self.uris) > 0) \
     || (has(self.emailAddresses) && size(self.emailAddresses) > 0) || (has(self.ipAddresses) && size(self.ipAddresses) > 0) \
     || (has(self.otherNames) && size(self.otherNames) > 0)")
    .message("at least one identity is required: set spec.commonName, spec.literalSubject, spec.dnsNames, spec.uris, spec.emailAddresses, spec.ipAddresses or spec.otherNames"))]
#[x_kube(validation = Rule::new(
    "!has(self.renewBefore) || duration(self.renewBefore) < (has(self.duration) ? duration(self.duration) : duration('2160h'))")
    .message("spec.renewBefore must be shorter than spec.duration (2160h when unset)")
    .field_path(".renewBefore"))]
#[x_kube(validation = Rule::new(
    "!has(self.renewBeforePercentage) || (has(self.duration) ? duration(self.duration) : duration('2160h')).getSeconds() * self.renewBeforePercentage >= 30000")
    .message("spec.renewBeforePercentage of spec.duration must come to at least 5m")
    .field_path(".renewBeforePercentage"))]
#[x_kube(validation = Rule::new("!has(self.nameConstraints) || (has(self.isCA) && self.isCA)")
    .message("spec.nameConstraints may only be set when spec.isCA is true")
    .field_path(".nameConstraints"))]
#[x_kube(validation = Rule::new(
    "!has(self.signatureAlgorithm) \
     || (self.signatureAlgorithm.endsWith('WithRSA') && (!has(self.privateKey) || !has(self.privateKey.algorithm) || self.privateKey.algorithm == 'RSA')) \
     || (self.signatureAlgorithm.startsWith('ECDSAWith') && has(self.privateKey) && has(self.privateKey.algorithm) && self.privateKey.algorithm == 'ECDSA') \
     || (self.signatureAlgorithm == 'PureEd25519' && has(self.privateKey) && has(self.privateKey.algorithm) && self.privateKey.algorithm == 'Ed25519')")
    .message("spec.signatureAlgorithm does not match spec.privateKey.algorithm (RSA: SHA256WithRSA, SHA384WithRSA, SHA512WithRSA; ECDSA: ECDSAWithSHA256, ECDSAWithSHA384, ECDSAWithSHA512; Ed25519: PureEd25519)")
    .field_path(".signatureAlgorithm"))]
pub struct CertificateSpec {
    /// X.509 subject attributes other than the common name. Mutually exclusive with
    /// `literalSubject`.
    pub subject: Option<X509Subject>,

    /// The complete subject as an RFC 4514 LDAP string, e.g. `CN=app,O=Example,C=DE`, kept in
    /// exactly this order (some LDAP clients depend on it). Mutually exclusive with `subject` and
    /// `commonName`.
    #[schemars(length(max = 1024))]
    pub literal_subject: Option<String>,

    /// The subject common name. Clients ignore it when any subject alternative name is present,
    /// so put every host name in `dnsNames` as well; more than 64 characters makes an invalid
    /// certificate.
    pub common_name: Option<String>,

    /// Requested lifetime as a Go duration (`2160h`, `1h30m`); at least `1h`, default `2160h`
    /// (90 days). The issuer may grant a different lifetime.
    #[x_kube(validation = Rule::new("duration(self) >= duration('1h')").message("spec.duration must be at least 1h"))]
    pub duration: Option<Duration>,

    /// How long before expiry to renew, as a Go duration; at least `5m` and shorter than
    /// `duration`. Default: a third of the issued certificate's lifetime. Mutually exclusive with
    /// `renewBeforePercentage`.
    #[x_kube(validation = Rule::new("duration(self) >= duration('5m')").message("spec.renewBefore must be at least 5m"))]
    pub renew_before: Option<Duration>,

    /// Like `renewBefore`, as a percentage (1-99) of the issued certificate's lifetime remaining
    /// when renewal starts; e.g. 25 renews a 60-minute certificate 45 minutes after issue.
    #[schemars(range(min = 1, max = 99))]
    pub renew_before_percentage: Option<i32>,

    /// DNS subject alternative names, e.g. `example.com` or `*.example.com`.
    pub dns_names: Option<Vec<String>>,

    /// IP address subject alternative names (IPv4 or IPv6).
    #[schemars(length(max = 100), inner(length(max = 64)))]
    #[x_kube(validation = Rule::new("self.all(ip, isIP(ip))").message("spec.ipAddresses: every entry must be an IPv4 or IPv6 address"))]
    pub ip_addresses: Option<Vec<String>>,

    /// URI subject alternative names, e.g. `spiffe://cluster.local/ns/app/sa/web`.
    #[schemars(length(max = 100), inner(length(max = 2048)))]
    #[x_kube(validation = Rule::new("self.all(u, isURL(u))").message("spec.uris: every entry must be an absolute URI"))]
    pub uris: Option<Vec<String>>,

    /// Email address subject alternative names.
    #[schemars(length(max = 100), inner(length(max = 320)))]
    #[x_kube(validation = Rule::new("self.all(e, e.matches('^[^@\\\\s]+@[^@\\\\s]+$'))").message("spec.emailAddresses: every entry must be an email address (local@domain)"))]
    pub email_addresses: Option<Vec<String>>,

    /// Subject alternative names of the `otherName` kind holding a UTF-8 string, e.g. a
    /// Microsoft UPN (`1.3.6.1.4.1.311.20.2.3`).
    pub other_names: Option<Vec<OtherName>>,

    /// Name of the Secret that receives `tls.key`, `tls.crt` and `ca.crt`, in the Certificate's
    /// namespace. Created if missing; a Secret owned by something else is left alone and reported.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub secret_name: String,

    /// Labels and annotations copied onto the Secret, and removed from it when removed here.
    pub secret_template: Option<SecretTemplate>,

    /// Keystores (JKS, PKCS#12) to add to the Secret next to the PEM files.
    pub keystores: Option<Keystores>,

    /// The Issuer or ClusterIssuer that signs the certificate. A namespaced Issuer must be in the
    /// Certificate's namespace.
    pub issuer_ref: IssuerRef,

    /// Ask for a CA certificate (basic constraints CA:TRUE); adds the `cert sign` usage.
    #[serde(rename = "isCA")]
    pub is_ca: Option<bool>,

    /// Key usages and extended key usages to request. Default: `digital signature` and
    /// `key encipherment`.
    #[schemars(length(max = 32))]
    pub usages: Option<Vec<KeyUsage>>,

    /// Private key algorithm, size, encoding and rotation policy.
    pub private_key: Option<CertificatePrivateKey>,

    /// Signature algorithm the issuer should sign with; must fit the key algorithm
    /// (`*WithRSA` for RSA, `ECDSAWith*` for ECDSA, `PureEd25519` for Ed25519).
    pub signature_algorithm: Option<SignatureAlgorithm>,

    /// Whether to put the key usage and extended key usage extensions into the CSR (default
    /// true). Turn off only for issuers that refuse CSRs carrying them.
    pub encode_usages_in_request: Option<bool>,

    /// How many CertificateRequests of this Certificate to keep (at least 1, default 1); the
    /// oldest are deleted first.
    #[schemars(range(min = 1))]
    pub revision_history_limit: Option<i32>,

    /// Extra encodings of the key and chain to write into the Secret (each type at most once).
    #[schemars(length(max = 2))]
    #[x_kube(validation = Rule::new("self.all(a, self.exists_one(b, b.type == a.type))").message("spec.additionalOutputFormats: each type may appear only once"))]
    pub additional_output_formats: Option<Vec<AdditionalOutputFormat>>,

    /// X.509 name constraints for a CA certificate (requires `isCA: true`): the names that
    /// certificates below it may, or may not, contain.
    pub name_constraints: Option<NameConstraints>,
}

/// X.509 distinguished-name attributes besides the common name.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct X509Subject {
    /// Organizations (O).
    pub organizations: Option<Vec<String>>,
    /// Countries (C), as two-letter codes.
    pub countries: Option<Vec<String>>,
    /// Organizational units (OU).
    pub organizational_units: Option<Vec<String>>,
    /// Localities or cities (L).
    pub localities: Option<Vec<String>>,
    /// States or provinces (ST).
    pub provinces: Option<Vec<String>>,
    /// Street addresses.
    pub street_addresses: Option<Vec<String>>,
    /// Postal codes.
    pub postal_codes: Option<Vec<String>>,
    /// Subject serial number attribute (not the certificate serial number).
    pub serial_number: Option<String>,
}

/// One `otherName` subject alternative name with a UTF-8 string value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OtherName {
    /// Object identifier of the name type, in dotted form, e.g. `1.3.6.1.4.1.311.20.2.3`.
    #[schemars(
        length(min = 1, max = 256),
        regex(pattern = r"^[0-2](\.(0|[1-9][0-9]*))+$")
    )]
    pub oid: String,
    /// The value, encoded as a UTF8String.
    #[schemars(length(min = 1))]
    pub utf8_value: String,
}

/// Metadata copied onto the target Secret.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretTemplate {
    /// Annotations for the Secret. Keys under `cert-manager.io/` are reserved for the controller.
    #[schemars(extend("maxProperties" = 128))]
    #[x_kube(validation = Rule::new("self.all(k, !k.startsWith('cert-manager.io/') || k == 'cert-manager.io/allow-direct-injection')")
        .message("spec.secretTemplate.annotations: keys with the cert-manager.io/ prefix are reserved"))]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Labels for the Secret. Keys under `cert-manager.io/` are reserved for the controller.
    #[schemars(extend("maxProperties" = 128))]
    #[x_kube(validation = Rule::new("self.all(k, !k.startsWith('cert-manager.io/'))")
        .message("spec.secretTemplate.labels: keys with the cert-manager.io/ prefix are reserved"))]
    pub labels: Option<BTreeMap<String, String>>,
}

/// Keystore formats written next to the PEM files.
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Keystores {
    /// A Java keystore (`keystore.jks`, plus `truststore.jks` when a CA is known).
    pub jks: Option<JksKeystore>,
    /// A PKCS#12 file (`keystore.p12`, plus `truststore.p12` when a CA is known).
    pub pkcs12: Option<Pkcs12Keystore>,
}

/// JKS keystore options. The password comes either literally or from a Secret.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.password) != has(self.passwordSecretRef)")
    .message("spec.keystores.jks: exactly one of password or passwordSecretRef must be set"))]
pub struct JksKeystore {
    /// Write the keystore into the Secret, and keep it current on every issuance.
    pub create: bool,
    /// Secret key holding the keystore password. Mutually exclusive with `password`.
    pub password_secret_ref: Option<SecretKeySelector>,
    /// The keystore password, literally. Mutually exclusive with `passwordSecretRef`.
    #[schemars(length(min = 1))]
    pub password: Option<String>,
    /// Alias of the key entry in the keystore (default `certificate`).
    pub alias: Option<String>,
}

/// PKCS#12 keystore options. The password comes either literally or from a Secret.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.password) != has(self.passwordSecretRef)")
    .message("spec.keystores.pkcs12: exactly one of password or passwordSecretRef must be set"))]
pub struct Pkcs12Keystore {
    /// Write the PKCS#12 file into the Secret, and keep it current on every issuance.
    pub create: bool,
    /// Secret key holding the PKCS#12 password. Mutually exclusive with `password`.
    pub password_secret_ref: Option<SecretKeySelector>,
    /// The PKCS#12 password, literally. Mutually exclusive with `passwordSecretRef`.
    #[schemars(length(min = 1))]
    pub password: Option<String>,
    /// Encryption and MAC algorithms: `LegacyRC2` (default, unreadable by OpenSSL 3 without the
    /// legacy provider), `LegacyDES`, or `Modern2023` (AES-256 and SHA-256).
    pub profile: Option<Pkcs12Profile>,
}

/// Algorithm set used to protect a PKCS#12 file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Pkcs12Profile {
    LegacyRC2,
    LegacyDES,
    Modern2023,
}

/// How the private key is generated, encoded and rotated.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.size) || self.size == 0 || (has(self.algorithm) && self.algorithm != 'RSA') || (self.size >= 2048 && self.size <= 8192)")
    .message("spec.privateKey.size must be between 2048 and 8192 for RSA keys")
    .field_path(".size"))]
#[x_kube(validation = Rule::new("!has(self.size) || self.size == 0 || !has(self.algorithm) || self.algorithm != 'ECDSA' || self.size in [256, 384, 521]")
    .message("spec.privateKey.size must be 256, 384 or 521 for ECDSA keys")
    .field_path(".size"))]
pub struct CertificatePrivateKey {
    /// `Always` (default) makes a new key on every issuance; `Never` reuses the key already in
    /// the Secret, and reports a mismatch rather than replacing a key of the wrong kind.
    pub rotation_policy: Option<RotationPolicy>,
    /// Encoding of `tls.key`: `PKCS1` (default; SEC1 for ECDSA) or `PKCS8`.
    pub encoding: Option<PrivateKeyEncoding>,
    /// Key algorithm: `RSA` (default), `ECDSA` or `Ed25519`.
    pub algorithm: Option<PrivateKeyAlgorithm>,
    /// Key size in bits: RSA 2048-8192 (default 2048); ECDSA curve 256, 384 or 521 (default
    /// 256); ignored for Ed25519.
    #[schemars(range(min = 0, max = 8192))]
    pub size: Option<i32>,
}

/// When to generate a new private key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum RotationPolicy {
    Never,
    Always,
}

/// How the private key is serialised in `tls.key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PrivateKeyEncoding {
    #[serde(rename = "PKCS1")]
    Pkcs1,
    #[serde(rename = "PKCS8")]
    Pkcs8,
}

/// Private key algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PrivateKeyAlgorithm {
    #[serde(rename = "RSA")]
    Rsa,
    #[serde(rename = "ECDSA")]
    Ecdsa,
    Ed25519,
}

/// Signature algorithms an issuer may be asked to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SignatureAlgorithm {
    SHA256WithRSA,
    SHA384WithRSA,
    SHA512WithRSA,
    ECDSAWithSHA256,
    ECDSAWithSHA384,
    ECDSAWithSHA512,
    PureEd25519,
}

/// An extra file format for the Secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdditionalOutputFormat {
    /// `DER` adds `key.der` (the key in DER); `CombinedPEM` adds `tls-combined.pem` (key then
    /// chain, in PEM).
    pub r#type: OutputFormatType,
}

/// Additional output format names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum OutputFormatType {
    #[serde(rename = "DER")]
    Der,
    CombinedPEM,
}

/// X.509 name constraints (RFC 5280 section 4.2.1.10).
#[skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NameConstraints {
    /// Mark the extension critical, so that verifiers which do not understand it reject the chain.
    pub critical: Option<bool>,
    /// Names below this CA must fall inside these subtrees.
    pub permitted: Option<NameConstraintItem>,
    /// Names below this CA must not fall inside these subtrees, whatever `permitted` says.
    pub excluded: Option<NameConstraintItem>,
}

/// One set of name-constraint subtrees.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameConstraintItem {
    /// DNS domains, e.g. `example.com` (the domain and its subdomains).
    pub dns_domains: Option<Vec<String>>,
    /// IP ranges in CIDR notation, e.g. `10.0.0.0/8`.
    #[schemars(length(max = 100), inner(length(max = 64)))]
    #[x_kube(validation = Rule::new("self.all(c, isCIDR(c))").message("nameConstraints ipRanges: every entry must be a CIDR such as 10.0.0.0/8"))]
    pub ip_ranges: Option<Vec<String>>,
    /// Email addresses or domains, e.g. `example.com` or `admin@example.com`.
    pub email_addresses: Option<Vec<String>>,
    /// URI host domains, e.g. `.example.com`.
    pub uri_domains: Option<Vec<String>>,
}

/// Observed state of a Certificate, written by the controller.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    /// Conditions, one per type: `Ready` (the Secret holds a valid, current certificate) and
    /// `Issuing` (a new certificate is being obtained).
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Option<Vec<Condition>>,
    /// When the last issuance failed; unset after a success. Retries back off from this time.
    pub last_failure_time: Option<Time>,
    /// Start of validity of the certificate in the Secret.
    pub not_before: Option<Time>,
    /// End of validity of the certificate in the Secret.
    pub not_after: Option<Time>,
    /// When the certificate will next be renewed.
    pub renewal_time: Option<Time>,
    /// Revision of the certificate in the Secret; each issuance adds one.
    pub revision: Option<i64>,
    /// Secret holding the private key for the issuance in progress (set while `Issuing`).
    pub next_private_key_secret_name: Option<String>,
    /// Consecutive failed issuances; the next attempt waits 1h * 2^(n-1). Unset after a success.
    pub failed_issuance_attempts: Option<i64>,
    /// What an ACME issuer said about the certificate in the Secret.
    pub acme: Option<CertificateAcmeStatus>,
}

/// ACME state of a Certificate, written by the ACME side of the controller (never by the
/// certificate flow, which only reads it).
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateAcmeStatus {
    /// ACME Renewal Information (RFC 9773) for the certificate in the Secret, when the ACME
    /// server offers it.
    pub ari: Option<AcmeRenewalInfoStatus>,
}

/// The renewal window an ACME server suggests for one certificate. `status.renewalTime` is
/// chosen inside this window, but never later than `renewBefore` or
/// `renewBeforePercentage` put it; a window whose `certID` is not the Secret's certificate is
/// ignored.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcmeRenewalInfoStatus {
    /// The RFC 9773 identifier of the certificate the window is for: base64url of its
    /// authority key identifier, `.`, base64url of its serial number.
    #[serde(rename = "certID")]
    pub cert_id: Option<String>,
    /// The window the server suggests renewing in.
    pub suggested_window: Option<AcmeRenewalWindow>,
    /// A page the server links to explain the window (set when it asks for an early renewal).
    #[serde(rename = "explanationURL")]
    pub explanation_url: Option<String>,
    /// When the renewal information was last fetched.
    pub last_checked: Option<Time>,
    /// When it will be fetched again (the server's Retry-After).
    pub next_check: Option<Time>,
}

/// A time window.
#[skip_serializing_none]
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcmeRenewalWindow {
    /// Start of the window.
    pub start: Option<Time>,
    /// End of the window.
    pub end: Option<Time>,
}
