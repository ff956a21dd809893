//! The one error type of the PKI core.
//!
//! Every variant carries the object it is about (a field name, a certificate's subject and
//! serial, a PEM label) so that a message read in a condition or on a terminal says *what* is
//! wrong without a debugger, and a stable [`Error::reason`] that the controller puts into
//! condition reasons, Events and metric labels. Reasons never change once released; messages may.
use std::fmt;

/// Names one certificate in an error: its subject and its serial, the two things a person
/// can grep for in `openssl x509 -text` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertName {
    /// Subject in RFC 4514 form (`CN=leaf,O=Example`).
    pub subject: String,
    /// Serial as colon-separated upper-case hex, as openssl prints it.
    pub serial: String,
}

impl fmt::Display for CertName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\" (serial {})", self.subject, self.serial)
    }
}

/// Several certificate names, for errors that concern more than one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertNames(pub Vec<CertName>);

impl fmt::Display for CertNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name}")?;
        }
        Ok(())
    }
}

/// What can go wrong in the PKI core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input that should hold PEM blocks holds none, or a block does not decode.
    #[error("{what}: not valid PEM: {detail}")]
    InvalidPem { what: &'static str, detail: String },

    /// A PEM block has a label this operation does not take (e.g. a key where a certificate
    /// was expected).
    #[error("{what}: unexpected PEM block \"{label}\"")]
    UnexpectedPemLabel { what: &'static str, label: String },

    /// Input is larger than we are willing to parse; guards the controller against a hostile
    /// Secret or CSR blowing up memory or CPU.
    #[error("{what}: input of {size} bytes exceeds the limit of {limit} bytes")]
    InputTooLarge {
        what: &'static str,
        size: usize,
        limit: usize,
    },

    /// The private key is encrypted; the controller never holds passphrases.
    #[error("private key is encrypted; only unencrypted keys are supported")]
    EncryptedKey,

    /// The private key bytes do not parse as PKCS#1, SEC1 or PKCS#8 of a supported algorithm.
    #[error("private key: {detail}")]
    InvalidKey { detail: String },

    /// A key algorithm or curve we do not support (e.g. DSA, secp256k1).
    #[error("unsupported key algorithm: {detail}")]
    UnsupportedKeyAlgorithm { detail: String },

    /// A key size outside what we generate or accept.
    #[error("{algorithm} key size {size} is not supported: {allowed}")]
    UnsupportedKeySize {
        algorithm: &'static str,
        size: u32,
        allowed: &'static str,
    },

    /// A key too weak to be trusted (RSA under 2048 bits).
    #[error("{what}: {algorithm} key of {bits} bits is too weak (minimum {minimum})")]
    WeakKey {
        what: String,
        algorithm: &'static str,
        bits: u32,
        minimum: u32,
    },

    /// A signature made with SHA-1 or MD5, which we refuse.
    #[error("{what}: signature algorithm {algorithm} is too weak")]
    WeakSignatureAlgorithm { what: String, algorithm: String },

    /// A signature algorithm that the key cannot produce (e.g. ECDSA with an RSA key).
    #[error("signature algorithm {signature} cannot be used with a {key} key")]
    IncompatibleSignatureAlgorithm { signature: String, key: String },

    /// A field of a certificate or CSR request is malformed.
    #[error("{field}: {detail}")]
    InvalidField { field: &'static str, detail: String },

    /// A CSR does not parse.
    #[error("certificate request: {detail}")]
    InvalidCsr { detail: String },

    /// A CSR's self-signature does not verify: it was altered or built with another key.
    #[error("certificate request: signature does not verify ({subject})")]
    CsrSignature { subject: String },

    /// A certificate does not parse.
    #[error("certificate: {detail}")]
    InvalidCertificate { detail: String },

    /// The issuing certificate is not a CA (no basicConstraints cA, or no keyCertSign).
    #[error("issuer certificate {issuer} is not a CA: {detail}")]
    NotACa {
        issuer: CertName,
        detail: &'static str,
    },

    /// The issuing CA is not valid at the signing time.
    #[error("issuer certificate {issuer} is not valid at the signing time: {detail}")]
    CaNotValid { issuer: CertName, detail: String },

    /// A private key does not belong to the certificate or CSR it is paired with.
    #[error("private key does not match the {what}")]
    KeyMismatch { what: &'static str },

    /// Signing options are inconsistent (zero duration, duration overflow, ...).
    #[error("{field}: {detail}")]
    InvalidOptions { field: &'static str, detail: String },

    /// A bundle holds more certificates than we order.
    #[error("bundle holds {count} certificates; at most {limit} are accepted")]
    TooManyCertificates { count: usize, limit: usize },

    /// A bundle holds no certificate that is not the issuer of another one.
    #[error("bundle has no leaf certificate: every certificate issues another one")]
    NoLeaf,

    /// A bundle holds several certificates that could be the leaf.
    #[error("bundle has several leaf certificates: {leaves}")]
    SeveralLeaves { leaves: CertNames },

    /// The chain from the leaf stops at a certificate whose issuer is missing, yet other
    /// certificates remain in the bundle above the gap.
    #[error("bundle is missing the issuer \"{issuer}\" of {certificate}")]
    MissingLink {
        certificate: CertName,
        issuer: String,
    },

    /// Following issuers leads back to a certificate already in the chain.
    #[error("bundle has an issuer cycle at {certificate}")]
    Cycle { certificate: CertName },

    /// A certificate in the bundle is not part of the leaf's chain.
    #[error("certificate {certificate} in the bundle does not chain to the leaf {leaf}")]
    Unrelated {
        certificate: CertName,
        leaf: CertName,
    },

    /// rcgen refused to encode what we asked for.
    #[error("encoding {what}: {detail}")]
    Encoding { what: &'static str, detail: String },
}

impl Error {
    /// A short CamelCase reason, stable across releases, for conditions, Events and metric
    /// labels. Several variants may share a reason when a user would act on them the same way.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::InvalidPem { .. } => "InvalidPEM",
            Error::UnexpectedPemLabel { .. } => "UnexpectedPEMBlock",
            Error::InputTooLarge { .. } => "InputTooLarge",
            Error::EncryptedKey => "EncryptedKey",
            Error::InvalidKey { .. } => "InvalidKey",
            Error::UnsupportedKeyAlgorithm { .. } => "UnsupportedKeyAlgorithm",
            Error::UnsupportedKeySize { .. } => "UnsupportedKeySize",
            Error::WeakKey { .. } => "WeakKey",
            Error::WeakSignatureAlgorithm { .. } => "WeakSignatureAlgorithm",
            Error::IncompatibleSignatureAlgorithm { .. } => "IncompatibleSignatureAlgorithm",
            Error::InvalidField { .. } => "InvalidField",
            Error::InvalidCsr { .. } => "InvalidCSR",
            Error::CsrSignature { .. } => "InvalidCSRSignature",
            Error::InvalidCertificate { .. } => "InvalidCertificate",
            Error::NotACa { .. } => "IssuerNotCA",
            Error::CaNotValid { .. } => "IssuerNotValid",
            Error::KeyMismatch { .. } => "KeyMismatch",
            Error::InvalidOptions { .. } => "InvalidOptions",
            Error::TooManyCertificates { .. } => "TooManyCertificates",
            Error::NoLeaf => "NoLeaf",
            Error::SeveralLeaves { .. } => "SeveralLeaves",
            Error::MissingLink { .. } => "MissingIntermediate",
            Error::Cycle { .. } => "ChainCycle",
            Error::Unrelated { .. } => "UnrelatedCertificate",
            Error::Encoding { .. } => "EncodingFailed",
        }
    }

    pub(crate) fn encoding(what: &'static str, e: impl fmt::Display) -> Self {
        Error::Encoding {
            what,
            detail: e.to_string(),
        }
    }

    pub(crate) fn field(field: &'static str, detail: impl Into<String>) -> Self {
        Error::InvalidField {
            field,
            detail: detail.into(),
        }
    }
}

/// Result alias of the PKI core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_camel_case_and_messages_name_the_object() {
        let e = Error::MissingLink {
            certificate: CertName {
                subject: "CN=leaf".into(),
                serial: "01".into(),
            },
            issuer: "CN=int".into(),
        };
        assert_eq!(e.reason(), "MissingIntermediate");
        let msg = e.to_string();
        assert!(
            msg.contains("CN=leaf") && msg.contains("CN=int") && msg.contains("01"),
            "{msg}"
        );
    }
}
