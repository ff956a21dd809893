//! Private keys: generation, the PKCS#1 / SEC1 / PKCS#8 encodings, and matching a key to the
//! certificate or CSR that carries its public half.
//!
//! A [`PrivateKey`] always holds its PKCS#8 form internally: it is the one encoding every
//! algorithm has, the one aws-lc-rs and rcgen load from, and converting out of it to PKCS#1 or
//! SEC1 is lossless. The bytes are wiped on drop and never printed by `Debug`.
use std::fmt;
use std::str::FromStr;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING, ECDSA_P521_SHA512_ASN1_SIGNING,
    EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _,
};
use pkcs8::ObjectIdentifier;
use zeroize::Zeroizing;

use super::alg::SignatureAlgorithm;
use super::error::{Error, Result};
use super::pem;

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_P521: &str = "1.3.132.0.35";

/// Smallest RSA modulus we generate or accept: NIST deprecated smaller keys in 2013.
pub const RSA_MIN_BITS: u32 = 2048;
/// Largest RSA modulus we generate or accept; cert-manager's bound, and a cap on the CPU a
/// hostile key can make us spend.
pub const RSA_MAX_BITS: u32 = 8192;

/// The key algorithm families, spelled as cert-manager's `privateKey.algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// RSA.
    Rsa,
    /// ECDSA over a NIST curve.
    Ecdsa,
    /// Ed25519.
    Ed25519,
}

impl FromStr for KeyAlgorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "rsa" => Ok(KeyAlgorithm::Rsa),
            "ecdsa" | "ec" => Ok(KeyAlgorithm::Ecdsa),
            "ed25519" => Ok(KeyAlgorithm::Ed25519),
            _ => Err(Error::field(
                "privateKey.algorithm",
                format!("unknown algorithm {s:?}; expected RSA, ECDSA or Ed25519"),
            )),
        }
    }
}

/// A concrete key type: algorithm plus size or curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySpec {
    /// RSA with a modulus of `bits` bits.
    Rsa {
        /// Modulus size in bits.
        bits: u32,
    },
    /// ECDSA on NIST P-256.
    EcdsaP256,
    /// ECDSA on NIST P-384.
    EcdsaP384,
    /// ECDSA on NIST P-521.
    EcdsaP521,
    /// Ed25519.
    Ed25519,
}

impl KeySpec {
    /// Builds a spec from cert-manager's `privateKey.algorithm` and `privateKey.size`.
    ///
    /// The size defaults to 2048 for RSA and 256 for ECDSA and is ignored for Ed25519, as in
    /// cert-manager. RSA sizes are limited to the four aws-lc-rs can generate (2048, 3072,
    /// 4096, 8192); below 2048 is refused as weak.
    pub fn new(algorithm: KeyAlgorithm, size: Option<u32>) -> Result<KeySpec> {
        match (algorithm, size) {
            (KeyAlgorithm::Rsa, None) => Ok(KeySpec::Rsa { bits: 2048 }),
            (KeyAlgorithm::Rsa, Some(bits)) if bits < RSA_MIN_BITS => Err(Error::WeakKey {
                what: "privateKey.size".into(),
                algorithm: "RSA",
                bits,
                minimum: RSA_MIN_BITS,
            }),
            (KeyAlgorithm::Rsa, Some(bits @ (2048 | 3072 | 4096 | 8192))) => {
                Ok(KeySpec::Rsa { bits })
            }
            (KeyAlgorithm::Rsa, Some(size)) => Err(Error::UnsupportedKeySize {
                algorithm: "RSA",
                size,
                allowed: "one of 2048, 3072, 4096, 8192",
            }),
            (KeyAlgorithm::Ecdsa, None | Some(256)) => Ok(KeySpec::EcdsaP256),
            (KeyAlgorithm::Ecdsa, Some(384)) => Ok(KeySpec::EcdsaP384),
            (KeyAlgorithm::Ecdsa, Some(521)) => Ok(KeySpec::EcdsaP521),
            (KeyAlgorithm::Ecdsa, Some(size)) => Err(Error::UnsupportedKeySize {
                algorithm: "ECDSA",
                size,
                allowed: "one of 256, 384, 521",
            }),
            (KeyAlgorithm::Ed25519, _) => Ok(KeySpec::Ed25519),
        }
    }

    /// The algorithm family.
    pub fn algorithm(self) -> KeyAlgorithm {
        match self {
            KeySpec::Rsa { .. } => KeyAlgorithm::Rsa,
            KeySpec::EcdsaP256 | KeySpec::EcdsaP384 | KeySpec::EcdsaP521 => KeyAlgorithm::Ecdsa,
            KeySpec::Ed25519 => KeyAlgorithm::Ed25519,
        }
    }

    /// Key size in bits, as cert-manager's `privateKey.size` counts it.
    pub fn bits(self) -> u32 {
        match self {
            KeySpec::Rsa { bits } => bits,
            KeySpec::EcdsaP256 | KeySpec::Ed25519 => 256,
            KeySpec::EcdsaP384 => 384,
            KeySpec::EcdsaP521 => 521,
        }
    }

    /// The spec of a public key as found in a certificate or CSR. Refuses RSA keys outside
    /// 2048..=8192 bits, so weak keys never get signed or trusted.
    pub(crate) fn from_spki(
        spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>,
        what: &str,
    ) -> Result<KeySpec> {
        let oid = spki.algorithm.algorithm.to_id_string();
        let spec = match oid.as_str() {
            "1.2.840.113549.1.1.1" => {
                let bits = match spki.parsed() {
                    Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => modulus_bits(rsa.modulus),
                    _ => {
                        return Err(Error::InvalidKey {
                            detail: format!("{what}: malformed RSA public key"),
                        });
                    }
                };
                KeySpec::Rsa { bits }
            }
            "1.2.840.10045.2.1" => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string())
                    .unwrap_or_default();
                curve_spec(&curve)?
            }
            "1.3.101.112" => KeySpec::Ed25519,
            other => {
                return Err(Error::UnsupportedKeyAlgorithm {
                    detail: format!("{what}: public key algorithm {other}"),
                });
            }
        };
        check_rsa_bits(spec, what)?;
        Ok(spec)
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySpec::Rsa { bits } => write!(f, "RSA {bits}"),
            KeySpec::EcdsaP256 => f.write_str("ECDSA P-256"),
            KeySpec::EcdsaP384 => f.write_str("ECDSA P-384"),
            KeySpec::EcdsaP521 => f.write_str("ECDSA P-521"),
            KeySpec::Ed25519 => f.write_str("Ed25519"),
        }
    }
}

/// How a private key is written out, as cert-manager's `privateKey.encoding` defines it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum KeyEncoding {
    /// PKCS#1 (`RSA PRIVATE KEY`) for RSA, SEC1 (`EC PRIVATE KEY`) for ECDSA. Ed25519 has no
    /// such form and is written as PKCS#8, as cert-manager does.
    #[default]
    Pkcs1,
    /// PKCS#8 (`PRIVATE KEY`) for every algorithm.
    Pkcs8,
}

impl FromStr for KeyEncoding {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_uppercase().as_str() {
            "PKCS1" => Ok(KeyEncoding::Pkcs1),
            "PKCS8" => Ok(KeyEncoding::Pkcs8),
            _ => Err(Error::field(
                "privateKey.encoding",
                format!("unknown encoding {s:?}; expected PKCS1 or PKCS8"),
            )),
        }
    }
}

/// An unencrypted private key of a supported algorithm.
pub struct PrivateKey {
    spec: KeySpec,
    pkcs8: Zeroizing<Vec<u8>>,
    /// The subjectPublicKey BIT STRING contents (RSAPublicKey DER, EC point, Ed25519 bytes).
    public_key: Vec<u8>,
}

impl fmt::Debug for PrivateKey {
    // Key material must never reach a log line, even at debug level.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Generates a fresh key with the system's secure random source (through aws-lc-rs).
    pub fn generate(spec: KeySpec) -> Result<PrivateKey> {
        let fail = |e: aws_lc_rs::error::Unspecified| Error::encoding("private key", e);
        let pkcs8: Vec<u8> = match spec {
            KeySpec::Rsa { bits } => {
                let size = match bits {
                    2048 => KeySize::Rsa2048,
                    3072 => KeySize::Rsa3072,
                    4096 => KeySize::Rsa4096,
                    8192 => KeySize::Rsa8192,
                    _ => return Err(KeySpec::new(KeyAlgorithm::Rsa, Some(bits)).unwrap_err()),
                };
                let key = RsaKeyPair::generate(size).map_err(fail)?;
                let der: Pkcs8V1Der<'static> = key.as_der().map_err(fail)?;
                der.as_ref().to_vec()
            }
            KeySpec::EcdsaP256 | KeySpec::EcdsaP384 | KeySpec::EcdsaP521 => {
                let key = EcdsaKeyPair::generate(ec_alg(spec)).map_err(fail)?;
                key.to_pkcs8v1().map_err(fail)?.as_ref().to_vec()
            }
            KeySpec::Ed25519 => {
                let key = Ed25519KeyPair::generate().map_err(fail)?;
                key.to_pkcs8v1().map_err(fail)?.as_ref().to_vec()
            }
        };
        Self::from_pkcs8_der(Zeroizing::new(pkcs8))
    }

    /// Parses a PEM private key: `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1) or
    /// `EC PRIVATE KEY` (SEC1, optionally preceded by `EC PARAMETERS`).
    ///
    /// Fails with [`Error::EncryptedKey`] for `ENCRYPTED PRIVATE KEY`, [`Error::WeakKey`] for RSA
    /// under 2048 bits and [`Error::UnsupportedKeyAlgorithm`] for anything but RSA, ECDSA
    /// P-256/384/521 and Ed25519.
    pub fn from_pem(input: &[u8]) -> Result<PrivateKey> {
        const WHAT: &str = "private key";
        let labels = [
            "PRIVATE KEY",
            "RSA PRIVATE KEY",
            "EC PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
        ];
        let block = pem::parse_one(input, WHAT, &labels, &["EC PARAMETERS"])?;
        let der = Zeroizing::new(block.contents().to_vec());
        match block.tag() {
            "PRIVATE KEY" => Self::from_pkcs8_der(der),
            "RSA PRIVATE KEY" => {
                let key = RsaKeyPair::from_der(&der).map_err(|e| rsa_rejected(&der, e))?;
                let pkcs8: Pkcs8V1Der<'static> = key.as_der().map_err(invalid_key)?;
                Self::from_pkcs8_der(Zeroizing::new(pkcs8.as_ref().to_vec()))
            }
            "EC PRIVATE KEY" => {
                for spec in [KeySpec::EcdsaP256, KeySpec::EcdsaP384, KeySpec::EcdsaP521] {
                    // The SEC1 structure names its curve; aws-lc-rs refuses a mismatching one,
                    // so the first curve that loads is the key's curve.
                    if let Ok(key) = EcdsaKeyPair::from_private_key_der(ec_alg(spec), &der) {
                        let pkcs8 = key.to_pkcs8v1().map_err(invalid_key)?;
                        return Self::from_pkcs8_der(Zeroizing::new(pkcs8.as_ref().to_vec()));
                    }
                }
                Err(Error::InvalidKey {
                    detail: "EC PRIVATE KEY is not a P-256, P-384 or P-521 key".into(),
                })
            }
            _ => Err(Error::EncryptedKey),
        }
    }

    /// Loads PKCS#8 DER, checking that the algorithm is one we support and the key is sound.
    fn from_pkcs8_der(der: Zeroizing<Vec<u8>>) -> Result<PrivateKey> {
        let info = pkcs8::PrivateKeyInfo::try_from(der.as_slice()).map_err(invalid_key)?;
        let (spec, public_key) = match info.algorithm.oid {
            OID_RSA => {
                let key =
                    RsaKeyPair::from_pkcs8(&der).map_err(|e| rsa_rejected(info.private_key, e))?;
                let bits = modulus_bits_of_pkcs1_public(key.public_key().as_ref())
                    .unwrap_or((key.public_modulus_len() * 8) as u32);
                (KeySpec::Rsa { bits }, key.public_key().as_ref().to_vec())
            }
            OID_EC => {
                let curve = info.algorithm.parameters_oid().map_err(invalid_key)?;
                let spec = curve_spec(&curve.to_string())?;
                let key = EcdsaKeyPair::from_pkcs8(ec_alg(spec), &der).map_err(invalid_key)?;
                (spec, key.public_key().as_ref().to_vec())
            }
            OID_ED25519 => {
                let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(invalid_key)?;
                (KeySpec::Ed25519, key.public_key().as_ref().to_vec())
            }
            other => {
                return Err(Error::UnsupportedKeyAlgorithm {
                    detail: format!("private key algorithm {other}"),
                });
            }
        };
        check_rsa_bits(spec, "private key")?;
        Ok(PrivateKey {
            spec,
            pkcs8: der,
            public_key,
        })
    }

    /// The key's algorithm and size.
    pub fn spec(&self) -> KeySpec {
        self.spec
    }

    /// Writes the key as PEM in the requested encoding. See [`KeyEncoding`] for Ed25519.
    pub fn to_pem(&self, encoding: KeyEncoding) -> Result<Zeroizing<String>> {
        let pem = match (encoding, self.spec) {
            (KeyEncoding::Pkcs8, _) | (KeyEncoding::Pkcs1, KeySpec::Ed25519) => {
                pem::encode("PRIVATE KEY", &self.pkcs8)
            }
            (KeyEncoding::Pkcs1, KeySpec::Rsa { .. }) => {
                // A PKCS#8 RSA key wraps the PKCS#1 RSAPrivateKey in its privateKey OCTET
                // STRING (RFC 8017 appendix A.1.2 / RFC 5208), so unwrapping is exact.
                let info = pkcs8::PrivateKeyInfo::try_from(self.pkcs8.as_slice())
                    .map_err(|e| Error::encoding("PKCS#1 key", e))?;
                pem::encode("RSA PRIVATE KEY", info.private_key)
            }
            (KeyEncoding::Pkcs1, spec) => {
                let key = EcdsaKeyPair::from_pkcs8(ec_alg(spec), &self.pkcs8)
                    .map_err(|e| Error::encoding("SEC1 key", e))?;
                let sec1 = key
                    .private_key()
                    .as_der()
                    .map_err(|e| Error::encoding("SEC1 key", e))?;
                pem::encode("EC PRIVATE KEY", sec1.as_ref())
            }
        };
        Ok(Zeroizing::new(pem))
    }

    /// The key as PKCS#8 DER (keystores take it in this form).
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The raw public key, as carried in a subjectPublicKeyInfo BIT STRING.
    pub fn public_key_raw(&self) -> &[u8] {
        &self.public_key
    }

    /// The DER SubjectPublicKeyInfo of the key, as it goes into CSRs and certificates.
    pub fn spki_der(&self) -> Vec<u8> {
        let oid = |dotted: &str| -> yasna::models::ObjectIdentifier {
            // Only the literal OIDs of this module reach here, so every arc parses.
            let arcs: Vec<u64> = dotted.split('.').filter_map(|a| a.parse().ok()).collect();
            yasna::models::ObjectIdentifier::from_slice(&arcs)
        };
        yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_sequence(|w| match self.spec {
                    KeySpec::Rsa { .. } => {
                        w.next().write_oid(&oid("1.2.840.113549.1.1.1"));
                        w.next().write_null();
                    }
                    KeySpec::Ed25519 => w.next().write_oid(&oid("1.3.101.112")),
                    ec => {
                        w.next().write_oid(&oid("1.2.840.10045.2.1"));
                        let curve = match ec {
                            KeySpec::EcdsaP384 => OID_P384,
                            KeySpec::EcdsaP521 => OID_P521,
                            _ => OID_P256,
                        };
                        w.next().write_oid(&oid(curve));
                    }
                });
                w.next()
                    .write_bitvec_bytes(&self.public_key, self.public_key.len() * 8);
            })
        })
    }

    /// Whether this key is the one whose public half the PEM certificate carries.
    pub fn matches_certificate_pem(&self, cert_pem: &[u8]) -> Result<bool> {
        let block = pem::parse_one(cert_pem, "certificate", &[pem::CERTIFICATE], &[])?;
        let (_, cert) = x509_parser::parse_x509_certificate(block.contents()).map_err(|e| {
            Error::InvalidCertificate {
                detail: e.to_string(),
            }
        })?;
        Ok(cert.public_key().subject_public_key.data.as_ref() == self.public_key.as_slice())
    }

    /// Whether this key is the one whose public half the PEM CSR carries.
    pub fn matches_csr_pem(&self, csr_pem: &[u8]) -> Result<bool> {
        let info = super::csr::parse_csr_pem(csr_pem)?;
        Ok(info.public_key_raw == self.public_key)
    }

    /// An rcgen signer for `alg` (or the key's default algorithm).
    pub(crate) fn signer(&self, alg: Option<SignatureAlgorithm>) -> Result<rcgen::KeyPair> {
        let alg = alg.unwrap_or_else(|| SignatureAlgorithm::default_for(self.spec));
        let rc_alg = alg.rcgen_for(self.spec)?;
        let der = rustls_pki_types::PrivatePkcs8KeyDer::from(self.pkcs8.as_slice());
        rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, rc_alg)
            .map_err(|e| Error::encoding("signing key", e))
    }
}

fn ec_alg(spec: KeySpec) -> &'static EcdsaSigningAlgorithm {
    match spec {
        KeySpec::EcdsaP384 => &ECDSA_P384_SHA384_ASN1_SIGNING,
        KeySpec::EcdsaP521 => &ECDSA_P521_SHA512_ASN1_SIGNING,
        _ => &ECDSA_P256_SHA256_ASN1_SIGNING,
    }
}

fn curve_spec(curve_oid: &str) -> Result<KeySpec> {
    match curve_oid {
        OID_P256 => Ok(KeySpec::EcdsaP256),
        OID_P384 => Ok(KeySpec::EcdsaP384),
        OID_P521 => Ok(KeySpec::EcdsaP521),
        other => Err(Error::UnsupportedKeyAlgorithm {
            detail: format!("elliptic curve {other:?} (supported: P-256, P-384, P-521)"),
        }),
    }
}

fn check_rsa_bits(spec: KeySpec, what: &str) -> Result<()> {
    if let KeySpec::Rsa { bits } = spec {
        if bits < RSA_MIN_BITS {
            return Err(Error::WeakKey {
                what: what.to_string(),
                algorithm: "RSA",
                bits,
                minimum: RSA_MIN_BITS,
            });
        }
        if bits > RSA_MAX_BITS {
            return Err(Error::UnsupportedKeySize {
                algorithm: "RSA",
                size: bits,
                allowed: "at most 8192 bits",
            });
        }
    }
    Ok(())
}

/// Bit length of a big-endian unsigned modulus, ignoring leading zero bytes.
pub(crate) fn modulus_bits(modulus: &[u8]) -> u32 {
    let trimmed: &[u8] = match modulus.iter().position(|b| *b != 0) {
        Some(i) => &modulus[i..],
        None => return 0,
    };
    (trimmed.len() as u32) * 8 - trimmed[0].leading_zeros()
}

/// The modulus size of a PKCS#1 RSAPublicKey, exact to the bit (aws-lc-rs reports bytes).
fn modulus_bits_of_pkcs1_public(der: &[u8]) -> Option<u32> {
    use x509_parser::der_parser::ber::BerObjectContent;
    let (_, obj) = x509_parser::der_parser::parse_der(der).ok()?;
    match obj.content {
        BerObjectContent::Sequence(items) => match &items.first()?.content {
            BerObjectContent::Integer(n) => Some(modulus_bits(n)),
            _ => None,
        },
        _ => None,
    }
}

/// aws-lc-rs refuses RSA keys outside 2048..=8192 bits without saying why; read the modulus
/// of the PKCS#1 RSAPrivateKey ourselves so the user learns the key is weak, not "invalid".
fn rsa_rejected(pkcs1: &[u8], e: impl fmt::Display) -> Error {
    use x509_parser::der_parser::ber::BerObjectContent;
    let bits = x509_parser::der_parser::parse_der(pkcs1)
        .ok()
        .and_then(|(_, obj)| match obj.content {
            // RSAPrivateKey ::= SEQUENCE { version, modulus, ... }
            BerObjectContent::Sequence(items) => match &items.get(1)?.content {
                BerObjectContent::Integer(n) => Some(modulus_bits(n)),
                _ => None,
            },
            _ => None,
        });
    match bits {
        Some(bits) => match check_rsa_bits(KeySpec::Rsa { bits }, "private key") {
            Err(weak) => weak,
            Ok(()) => invalid_key(e),
        },
        None => invalid_key(e),
    }
}

fn invalid_key(e: impl fmt::Display) -> Error {
    Error::InvalidKey {
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests;
