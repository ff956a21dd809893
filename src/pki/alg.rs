//! Signature algorithms: the ones we sign with, and the ones we refuse to trust.
use std::fmt;
use std::str::FromStr;

use super::error::{Error, Result};
use super::keys::KeySpec;

/// A signature algorithm we can produce, named as in cert-manager's `signatureAlgorithm` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Sha256WithRsa,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Sha384WithRsa,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Sha512WithRsa,
    /// ECDSA with SHA-256.
    EcdsaWithSha256,
    /// ECDSA with SHA-384.
    EcdsaWithSha384,
    /// ECDSA with SHA-512.
    EcdsaWithSha512,
    /// Ed25519 (no separate hash).
    PureEd25519,
}

impl SignatureAlgorithm {
    /// Every algorithm, for CLIs and tests.
    pub const ALL: [SignatureAlgorithm; 7] = [
        SignatureAlgorithm::Sha256WithRsa,
        SignatureAlgorithm::Sha384WithRsa,
        SignatureAlgorithm::Sha512WithRsa,
        SignatureAlgorithm::EcdsaWithSha256,
        SignatureAlgorithm::EcdsaWithSha384,
        SignatureAlgorithm::EcdsaWithSha512,
        SignatureAlgorithm::PureEd25519,
    ];

    /// The cert-manager spelling (`SHA256WithRSA`, `ECDSAWithSHA384`, `PureEd25519`).
    pub fn name(self) -> &'static str {
        match self {
            SignatureAlgorithm::Sha256WithRsa => "SHA256WithRSA",
            SignatureAlgorithm::Sha384WithRsa => "SHA384WithRSA",
            SignatureAlgorithm::Sha512WithRsa => "SHA512WithRSA",
            SignatureAlgorithm::EcdsaWithSha256 => "ECDSAWithSHA256",
            SignatureAlgorithm::EcdsaWithSha384 => "ECDSAWithSHA384",
            SignatureAlgorithm::EcdsaWithSha512 => "ECDSAWithSHA512",
            SignatureAlgorithm::PureEd25519 => "PureEd25519",
        }
    }

    /// The algorithm a key signs with when none is asked for. The hash grows with the key so
    /// that the signature is not weaker than the key (NIST SP 800-57 part 1, table 3).
    pub fn default_for(key: KeySpec) -> SignatureAlgorithm {
        match key {
            KeySpec::Rsa { bits } if bits >= 4096 => SignatureAlgorithm::Sha512WithRsa,
            KeySpec::Rsa { bits } if bits >= 3072 => SignatureAlgorithm::Sha384WithRsa,
            KeySpec::Rsa { .. } => SignatureAlgorithm::Sha256WithRsa,
            KeySpec::EcdsaP256 => SignatureAlgorithm::EcdsaWithSha256,
            KeySpec::EcdsaP384 => SignatureAlgorithm::EcdsaWithSha384,
            KeySpec::EcdsaP521 => SignatureAlgorithm::EcdsaWithSha512,
            KeySpec::Ed25519 => SignatureAlgorithm::PureEd25519,
        }
    }

    /// The rcgen algorithm for this signature made by `key`. rcgen ties ECDSA hashes to curves
    /// (P-256 only with SHA-256, P-384 only with SHA-384), so some pairs that X.509 allows are
    /// refused here rather than silently replaced by another hash.
    pub(crate) fn rcgen_for(self, key: KeySpec) -> Result<&'static rcgen::SignatureAlgorithm> {
        use SignatureAlgorithm as S;
        let alg = match (self, key) {
            (S::Sha256WithRsa, KeySpec::Rsa { .. }) => &rcgen::PKCS_RSA_SHA256,
            (S::Sha384WithRsa, KeySpec::Rsa { .. }) => &rcgen::PKCS_RSA_SHA384,
            (S::Sha512WithRsa, KeySpec::Rsa { .. }) => &rcgen::PKCS_RSA_SHA512,
            (S::EcdsaWithSha256, KeySpec::EcdsaP256) => &rcgen::PKCS_ECDSA_P256_SHA256,
            (S::EcdsaWithSha384, KeySpec::EcdsaP384) => &rcgen::PKCS_ECDSA_P384_SHA384,
            (S::EcdsaWithSha256, KeySpec::EcdsaP521) => &rcgen::PKCS_ECDSA_P521_SHA256,
            (S::EcdsaWithSha384, KeySpec::EcdsaP521) => &rcgen::PKCS_ECDSA_P521_SHA384,
            (S::EcdsaWithSha512, KeySpec::EcdsaP521) => &rcgen::PKCS_ECDSA_P521_SHA512,
            (S::PureEd25519, KeySpec::Ed25519) => &rcgen::PKCS_ED25519,
            _ => {
                return Err(Error::IncompatibleSignatureAlgorithm {
                    signature: self.name().to_string(),
                    key: key.to_string(),
                });
            }
        };
        Ok(alg)
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SignatureAlgorithm {
    type Err = Error;

    /// Parses the cert-manager spelling, case-insensitively.
    fn from_str(s: &str) -> Result<Self> {
        SignatureAlgorithm::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::field(
                    "signatureAlgorithm",
                    format!(
                        "unknown algorithm {s:?}; expected one of {}",
                        SignatureAlgorithm::ALL.map(|a| a.name()).join(", ")
                    ),
                )
            })
    }
}

/// Verifies `signature` over `message` made with the algorithm `sig_oid` by the public key
/// `public_key` (subjectPublicKey bits) of type `key`. aws-lc-rs does the mathematics; we only
/// pick the algorithm, so every curve/hash pair X.509 allows for our key types is covered
/// (x509-parser's own verifier lacks P-521 and ECDSA with SHA-512). Anything else, including
/// SHA-1 and RSA-PSS, does not verify.
pub(crate) fn verify_signature(
    sig_oid: &str,
    key: KeySpec,
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    use aws_lc_rs::signature as s;
    let alg: &dyn s::VerificationAlgorithm = match (sig_oid, key) {
        ("1.2.840.113549.1.1.11", KeySpec::Rsa { .. }) => &s::RSA_PKCS1_2048_8192_SHA256,
        ("1.2.840.113549.1.1.12", KeySpec::Rsa { .. }) => &s::RSA_PKCS1_2048_8192_SHA384,
        ("1.2.840.113549.1.1.13", KeySpec::Rsa { .. }) => &s::RSA_PKCS1_2048_8192_SHA512,
        ("1.2.840.10045.4.3.2", KeySpec::EcdsaP256) => &s::ECDSA_P256_SHA256_ASN1,
        ("1.2.840.10045.4.3.3", KeySpec::EcdsaP256) => &s::ECDSA_P256_SHA384_ASN1,
        ("1.2.840.10045.4.3.4", KeySpec::EcdsaP256) => &s::ECDSA_P256_SHA512_ASN1,
        ("1.2.840.10045.4.3.2", KeySpec::EcdsaP384) => &s::ECDSA_P384_SHA256_ASN1,
        ("1.2.840.10045.4.3.3", KeySpec::EcdsaP384) => &s::ECDSA_P384_SHA384_ASN1,
        ("1.2.840.10045.4.3.4", KeySpec::EcdsaP384) => &s::ECDSA_P384_SHA512_ASN1,
        ("1.2.840.10045.4.3.2", KeySpec::EcdsaP521) => &s::ECDSA_P521_SHA256_ASN1,
        ("1.2.840.10045.4.3.3", KeySpec::EcdsaP521) => &s::ECDSA_P521_SHA384_ASN1,
        ("1.2.840.10045.4.3.4", KeySpec::EcdsaP521) => &s::ECDSA_P521_SHA512_ASN1,
        ("1.3.101.112", KeySpec::Ed25519) => &s::ED25519,
        _ => return false,
    };
    s::UnparsedPublicKey::new(alg, public_key)
        .verify(message, signature)
        .is_ok()
}

/// Human name of a signature-algorithm OID (dotted form), for reports. Unknown OIDs are
/// returned as given so nothing is hidden.
pub(crate) fn signature_oid_name(oid: &str) -> String {
    let name = match oid {
        "1.2.840.113549.1.1.4" => "MD5WithRSA",
        "1.2.840.113549.1.1.5" => "SHA1WithRSA",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.113549.1.1.11" => "SHA256WithRSA",
        "1.2.840.113549.1.1.12" => "SHA384WithRSA",
        "1.2.840.113549.1.1.13" => "SHA512WithRSA",
        "1.2.840.10045.4.1" => "ECDSAWithSHA1",
        "1.2.840.10045.4.3.2" => "ECDSAWithSHA256",
        "1.2.840.10045.4.3.3" => "ECDSAWithSHA384",
        "1.2.840.10045.4.3.4" => "ECDSAWithSHA512",
        "1.2.840.10040.4.3" => "DSAWithSHA1",
        "1.3.101.112" => "PureEd25519",
        _ => return oid.to_string(),
    };
    name.to_string()
}

/// Whether a signature-algorithm OID uses MD2, MD5 or SHA-1: collisions in those hashes have
/// been demonstrated, so a signature made with them proves nothing.
pub(crate) fn is_weak_signature_oid(oid: &str) -> bool {
    matches!(
        oid,
        "1.2.840.113549.1.1.2" // md2WithRSAEncryption
            | "1.2.840.113549.1.1.4" // md5WithRSAEncryption
            | "1.2.840.113549.1.1.5" // sha1WithRSAEncryption
            | "1.3.14.3.2.29" // sha1WithRSASignature (OIW)
            | "1.2.840.10045.4.1" // ecdsa-with-SHA1
            | "1.2.840.10040.4.3" // dsa-with-sha1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_case_insensitively() {
        for a in SignatureAlgorithm::ALL {
            assert_eq!(
                a.name()
                    .to_lowercase()
                    .parse::<SignatureAlgorithm>()
                    .unwrap(),
                a
            );
        }
        let err = "SHA1WithRSA".parse::<SignatureAlgorithm>().unwrap_err();
        assert!(err.to_string().starts_with("signatureAlgorithm:"), "{err}");
    }

    #[test]
    fn default_hash_grows_with_the_key() {
        assert_eq!(
            SignatureAlgorithm::default_for(KeySpec::Rsa { bits: 2048 }),
            SignatureAlgorithm::Sha256WithRsa
        );
        assert_eq!(
            SignatureAlgorithm::default_for(KeySpec::Rsa { bits: 4096 }),
            SignatureAlgorithm::Sha512WithRsa
        );
        assert_eq!(
            SignatureAlgorithm::default_for(KeySpec::EcdsaP384),
            SignatureAlgorithm::EcdsaWithSha384
        );
    }

    #[test]
    fn mismatched_key_and_algorithm_is_refused() {
        let err = SignatureAlgorithm::EcdsaWithSha256.rcgen_for(KeySpec::Rsa { bits: 2048 });
        assert_eq!(err.unwrap_err().reason(), "IncompatibleSignatureAlgorithm");
        assert!(
            SignatureAlgorithm::EcdsaWithSha384
                .rcgen_for(KeySpec::EcdsaP256)
                .is_err()
        );
        for key in [
            KeySpec::Rsa { bits: 2048 },
            KeySpec::EcdsaP256,
            KeySpec::Ed25519,
        ] {
            assert!(SignatureAlgorithm::default_for(key).rcgen_for(key).is_ok());
        }
    }

    #[test]
    fn sha1_and_md5_are_weak() {
        assert!(is_weak_signature_oid("1.2.840.113549.1.1.5"));
        assert!(is_weak_signature_oid("1.2.840.113549.1.1.4"));
        assert!(!is_weak_signature_oid("1.2.840.113549.1.1.11"));
    }
}
