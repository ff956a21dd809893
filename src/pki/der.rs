//! DER encoders for names, extensions and signed envelopes (RFC 5280, RFC 2986).
//!
//! We write these with yasna rather than through rcgen's parameter structs for two reasons:
//! rcgen keeps one value per attribute type in a name (so `DC=example,DC=com` or two `OU`s
//! cannot be expressed), and it re-encodes an issuer's name from parsed parts instead of
//! copying the CA's subject bytes, which silently breaks chains when the CA's subject uses
//! string types or repeated attributes rcgen does not reproduce. Here the issuer name is always
//! the CA's subject, byte for byte. rcgen still does the signing (through aws-lc-rs).
use std::net::IpAddr;

use time::OffsetDateTime;
use yasna::models::{GeneralizedTime, ObjectIdentifier, UTCTime};
use yasna::{DERWriter, Tag};

use super::alg::SignatureAlgorithm;
use super::error::{Error, Result};

pub(crate) const OID_SAN: &str = "2.5.29.17";
pub(crate) const OID_KEY_USAGE: &str = "2.5.29.15";
pub(crate) const OID_EKU: &str = "2.5.29.37";
pub(crate) const OID_BASIC_CONSTRAINTS: &str = "2.5.29.19";
pub(crate) const OID_SKI: &str = "2.5.29.14";
pub(crate) const OID_AKI: &str = "2.5.29.35";
pub(crate) const OID_CRL_DP: &str = "2.5.29.31";
pub(crate) const OID_NAME_CONSTRAINTS: &str = "2.5.29.30";
pub(crate) const OID_AIA: &str = "1.3.6.1.5.5.7.1.1";
const OID_EXTENSION_REQUEST: &str = "1.2.840.113549.1.9.14";
const OID_OCSP: &str = "1.3.6.1.5.5.7.48.1";
const OID_CA_ISSUERS: &str = "1.3.6.1.5.5.7.48.2";

/// Parses a dotted OID (`1.2.840.113549`), refusing what X.660 does not allow.
pub(crate) fn parse_oid(field: &'static str, dotted: &str) -> Result<Vec<u64>> {
    let arcs: Vec<u64> = dotted
        .split('.')
        .map(|a| a.parse::<u64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::field(field, format!("{dotted:?} is not a dotted OID")))?;
    if arcs.len() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39) {
        return Err(Error::field(
            field,
            format!("{dotted:?} is not a valid OID"),
        ));
    }
    Ok(arcs)
}

/// An OID constant of this module; they are literals, so parsing cannot fail.
fn known_oid(dotted: &str) -> ObjectIdentifier {
    let arcs: Vec<u64> = dotted.split('.').filter_map(|a| a.parse().ok()).collect();
    ObjectIdentifier::from_slice(&arcs)
}

/// An X.509 extension ready to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Extension {
    pub oid: &'static str,
    pub critical: bool,
    /// DER of the extnValue contents (inside the OCTET STRING).
    pub value: Vec<u8>,
}

fn write_extensions(w: DERWriter, exts: &[Extension]) {
    w.write_sequence(|w| {
        for ext in exts {
            w.next().write_sequence(|w| {
                w.next().write_oid(&known_oid(ext.oid));
                if ext.critical {
                    w.next().write_bool(true);
                }
                w.next().write_bytes(&ext.value);
            });
        }
    });
}

/// How an attribute value of a name is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StringKind {
    Utf8,
    Printable,
    Ia5,
}

/// One `type=value` of a relative distinguished name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attr {
    pub oid: Vec<u64>,
    pub value: String,
    pub kind: StringKind,
}

/// A distinguished name as its RDNs in DER order (most significant first).
pub(crate) fn encode_name(rdns: &[Vec<Attr>]) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            for rdn in rdns {
                // SET OF: yasna sorts the members, as DER requires.
                w.next().write_set_of(|w| {
                    for attr in rdn {
                        w.next().write_sequence(|w| {
                            w.next().write_oid(&ObjectIdentifier::from_slice(&attr.oid));
                            match attr.kind {
                                StringKind::Utf8 => w.next().write_utf8_string(&attr.value),
                                StringKind::Printable => {
                                    w.next().write_printable_string(&attr.value)
                                }
                                StringKind::Ia5 => w.next().write_ia5_string(&attr.value),
                            }
                        });
                    }
                });
            }
        })
    })
}

/// A general name (RFC 5280 4.2.1.6) of the kinds certificates here carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GeneralName {
    Email(String),
    Dns(String),
    Uri(String),
    Ip(IpAddr),
    /// An address range for name constraints: address then mask, network byte order.
    IpRange(Vec<u8>),
    /// An otherName whose value is a UTF8String (what cert-manager's `otherNames` express).
    Other {
        oid: Vec<u64>,
        utf8: String,
    },
}

fn write_general_name(w: DERWriter, name: &GeneralName) {
    match name {
        GeneralName::Email(s) => {
            w.write_tagged_implicit(Tag::context(1), |w| w.write_ia5_string(s))
        }
        GeneralName::Dns(s) => w.write_tagged_implicit(Tag::context(2), |w| w.write_ia5_string(s)),
        GeneralName::Uri(s) => w.write_tagged_implicit(Tag::context(6), |w| w.write_ia5_string(s)),
        GeneralName::Ip(ip) => {
            let octets = match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            w.write_tagged_implicit(Tag::context(7), |w| w.write_bytes(&octets))
        }
        GeneralName::IpRange(bytes) => {
            w.write_tagged_implicit(Tag::context(7), |w| w.write_bytes(bytes))
        }
        GeneralName::Other { oid, utf8 } => w.write_tagged_implicit(Tag::context(0), |w| {
            w.write_sequence(|w| {
                w.next().write_oid(&ObjectIdentifier::from_slice(oid));
                w.next()
                    .write_tagged(Tag::context(0), |w| w.write_utf8_string(utf8));
            })
        }),
    }
}

/// The subjectAltName extension. RFC 5280 4.2.1.6: critical when the subject is empty.
pub(crate) fn san(names: &[GeneralName], subject_empty: bool) -> Extension {
    let value = yasna::construct_der(|w| {
        w.write_sequence(|w| names.iter().for_each(|n| write_general_name(w.next(), n)))
    });
    Extension {
        oid: OID_SAN,
        critical: subject_empty,
        value,
    }
}

/// The keyUsage extension from bit positions (0 = digitalSignature ... 8 = decipherOnly).
/// Always critical, as RFC 5280 4.2.1.3 asks of conforming CAs.
pub(crate) fn key_usage(bits: u16) -> Extension {
    let mut bytes = [0u8; 2];
    let mut len = 0;
    for i in 0..9 {
        if bits & (1 << i) != 0 {
            bytes[i / 8] |= 0x80 >> (i % 8);
            len = i + 1;
        }
    }
    // DER drops trailing zero bits of a named BIT STRING (X.690 11.2.2).
    let used = len.div_ceil(8);
    let value = yasna::construct_der(|w| w.write_bitvec_bytes(&bytes[..used], len));
    Extension {
        oid: OID_KEY_USAGE,
        critical: true,
        value,
    }
}

/// The extendedKeyUsage extension.
pub(crate) fn extended_key_usage(oids: &[&str]) -> Extension {
    let value = yasna::construct_der(|w| {
        w.write_sequence(|w| oids.iter().for_each(|o| w.next().write_oid(&known_oid(o))))
    });
    Extension {
        oid: OID_EKU,
        critical: false,
        value,
    }
}

/// basicConstraints, critical so that no verifier may ignore a CA:FALSE.
pub(crate) fn basic_constraints(is_ca: bool) -> Extension {
    let value = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            if is_ca {
                w.next().write_bool(true);
            }
        })
    });
    Extension {
        oid: OID_BASIC_CONSTRAINTS,
        critical: true,
        value,
    }
}

/// A key identifier: RFC 7093 method 1, the leftmost 160 bits of the SHA-256 of the
/// subjectPublicKey bits. SHA-1 (RFC 5280's example) would work too, but we keep SHA-1 out of
/// the code base altogether.
pub(crate) fn key_id(public_key_bits: &[u8]) -> Vec<u8> {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, public_key_bits);
    digest.as_ref()[..20].to_vec()
}

pub(crate) fn subject_key_id(id: &[u8]) -> Extension {
    Extension {
        oid: OID_SKI,
        critical: false,
        value: yasna::construct_der(|w| w.write_bytes(id)),
    }
}

pub(crate) fn authority_key_id(id: &[u8]) -> Extension {
    let value = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next()
                .write_tagged_implicit(Tag::context(0), |w| w.write_bytes(id))
        })
    });
    Extension {
        oid: OID_AKI,
        critical: false,
        value,
    }
}

/// cRLDistributionPoints with one distribution point naming every URL.
pub(crate) fn crl_distribution_points(urls: &[String]) -> Extension {
    let value = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_sequence(|w| {
                // distributionPoint [0] DistributionPointName (a CHOICE, hence explicit),
                // fullName [0] IMPLICIT GeneralNames.
                w.next().write_tagged(Tag::context(0), |w| {
                    w.write_tagged_implicit(Tag::context(0), |w| {
                        w.write_sequence(|w| {
                            for url in urls {
                                write_general_name(w.next(), &GeneralName::Uri(url.clone()));
                            }
                        })
                    })
                })
            })
        })
    });
    Extension {
        oid: OID_CRL_DP,
        critical: false,
        value,
    }
}

/// authorityInfoAccess with OCSP responders and CA-issuer URLs.
pub(crate) fn authority_info_access(ocsp: &[String], ca_issuers: &[String]) -> Extension {
    let value = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            let all = ocsp
                .iter()
                .map(|u| (OID_OCSP, u))
                .chain(ca_issuers.iter().map(|u| (OID_CA_ISSUERS, u)));
            for (method, url) in all {
                w.next().write_sequence(|w| {
                    w.next().write_oid(&known_oid(method));
                    write_general_name(w.next(), &GeneralName::Uri(url.clone()));
                })
            }
        })
    });
    Extension {
        oid: OID_AIA,
        critical: false,
        value,
    }
}

/// nameConstraints (critical, RFC 5280 4.2.1.10).
pub(crate) fn name_constraints(permitted: &[GeneralName], excluded: &[GeneralName]) -> Extension {
    let subtrees = |w: DERWriter, names: &[GeneralName]| {
        w.write_sequence(|w| {
            for n in names {
                w.next().write_sequence(|w| write_general_name(w.next(), n));
            }
        })
    };
    let value = yasna::construct_der(|w| {
        w.write_sequence(|w| {
            if !permitted.is_empty() {
                w.next()
                    .write_tagged_implicit(Tag::context(0), |w| subtrees(w, permitted));
            }
            if !excluded.is_empty() {
                w.next()
                    .write_tagged_implicit(Tag::context(1), |w| subtrees(w, excluded));
            }
        })
    });
    Extension {
        oid: OID_NAME_CONSTRAINTS,
        critical: true,
        value,
    }
}

/// The AlgorithmIdentifier of a signature algorithm. RSA carries an explicit NULL parameter
/// (RFC 4055 2.1); ECDSA and Ed25519 carry none (RFC 5758 3.2, RFC 8410 3).
pub(crate) fn algorithm_identifier(alg: SignatureAlgorithm) -> Vec<u8> {
    let (oid, null) = match alg {
        SignatureAlgorithm::Sha256WithRsa => ("1.2.840.113549.1.1.11", true),
        SignatureAlgorithm::Sha384WithRsa => ("1.2.840.113549.1.1.12", true),
        SignatureAlgorithm::Sha512WithRsa => ("1.2.840.113549.1.1.13", true),
        SignatureAlgorithm::EcdsaWithSha256 => ("1.2.840.10045.4.3.2", false),
        SignatureAlgorithm::EcdsaWithSha384 => ("1.2.840.10045.4.3.3", false),
        SignatureAlgorithm::EcdsaWithSha512 => ("1.2.840.10045.4.3.4", false),
        SignatureAlgorithm::PureEd25519 => ("1.3.101.112", false),
    };
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_oid(&known_oid(oid));
            if null {
                w.next().write_null();
            }
        })
    })
}

/// Signs `tbs` and wraps it as `SEQUENCE { tbs, algorithm, BIT STRING signature }`, the
/// envelope shared by certificates and PKCS#10 requests.
pub(crate) fn sign(
    tbs: &[u8],
    alg: SignatureAlgorithm,
    signer: &rcgen::KeyPair,
) -> Result<Vec<u8>> {
    use rcgen::SigningKey as _;
    let signature = signer
        .sign(tbs)
        .map_err(|e| Error::encoding("signature", e))?;
    let alg_id = algorithm_identifier(alg);
    Ok(yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_der(tbs);
            w.next().write_der(&alg_id);
            w.next().write_bitvec_bytes(&signature, signature.len() * 8);
        })
    }))
}

/// The PKCS#10 CertificationRequestInfo.
pub(crate) fn certification_request_info(
    subject: &[u8],
    spki: &[u8],
    extensions: &[Extension],
) -> Vec<u8> {
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_u8(0);
            w.next().write_der(subject);
            w.next().write_der(spki);
            // attributes [0] IMPLICIT SET OF Attribute: always present, even when empty.
            w.next().write_tagged_implicit(Tag::context(0), |w| {
                w.write_set_of(|w| {
                    if !extensions.is_empty() {
                        w.next().write_sequence(|w| {
                            w.next().write_oid(&known_oid(OID_EXTENSION_REQUEST));
                            w.next()
                                .write_set_of(|w| write_extensions(w.next(), extensions));
                        })
                    }
                })
            })
        })
    })
}

/// The inputs of a TBSCertificate; names and key are DER copied from the CSR and the CA.
pub(crate) struct Tbs<'a> {
    pub serial: &'a [u8],
    pub alg: SignatureAlgorithm,
    pub issuer: &'a [u8],
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub subject: &'a [u8],
    pub spki: &'a [u8],
    pub extensions: &'a [Extension],
}

pub(crate) fn tbs_certificate(t: &Tbs<'_>) -> Vec<u8> {
    let alg_id = algorithm_identifier(t.alg);
    yasna::construct_der(|w| {
        w.write_sequence(|w| {
            w.next().write_tagged(Tag::context(0), |w| w.write_u8(2)); // v3
            w.next().write_bigint_bytes(t.serial, true);
            w.next().write_der(&alg_id);
            w.next().write_der(t.issuer);
            w.next().write_sequence(|w| {
                write_time(w.next(), t.not_before);
                write_time(w.next(), t.not_after);
            });
            w.next().write_der(t.subject);
            w.next().write_der(t.spki);
            if !t.extensions.is_empty() {
                w.next()
                    .write_tagged(Tag::context(3), |w| write_extensions(w, t.extensions));
            }
        })
    })
}

/// RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds only.
fn write_time(w: DERWriter, t: OffsetDateTime) {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    if (1950..2050).contains(&t.year()) {
        w.write_utctime(&UTCTime::from_datetime(t));
    } else {
        w.write_generalized_time(&GeneralizedTime::from_datetime(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_are_validated() {
        assert_eq!(parse_oid("f", "1.2.3").unwrap(), vec![1, 2, 3]);
        assert!(parse_oid("f", "1").is_err());
        assert!(parse_oid("f", "3.1").is_err());
        assert!(parse_oid("f", "1.40").is_err());
        assert!(
            parse_oid("f", "1.2.x")
                .unwrap_err()
                .to_string()
                .starts_with("f:")
        );
    }

    #[test]
    fn key_usage_bits_are_minimal_der() {
        // digitalSignature + keyEncipherment = bits 0 and 2 -> 03 02 05 a0
        assert_eq!(key_usage(0b101).value, vec![0x03, 0x02, 0x05, 0xa0]);
        // keyCertSign + cRLSign = bits 5, 6 -> 03 02 01 06
        assert_eq!(key_usage(0b110_0000).value, vec![0x03, 0x02, 0x01, 0x06]);
        // decipherOnly = bit 8 -> 03 03 07 00 80
        assert_eq!(key_usage(1 << 8).value, vec![0x03, 0x03, 0x07, 0x00, 0x80]);
    }

    #[test]
    fn basic_constraints_omit_the_default_false() {
        assert_eq!(basic_constraints(false).value, vec![0x30, 0x00]);
        assert_eq!(
            basic_constraints(true).value,
            vec![0x30, 0x03, 0x01, 0x01, 0xff]
        );
    }

    #[test]
    fn dates_switch_to_generalized_time_in_2050() {
        let t = OffsetDateTime::from_unix_timestamp(2_524_607_999).unwrap(); // 2049-12-31T23:59:59Z
        let der = yasna::construct_der(|w| write_time(w, t));
        assert_eq!(der[0], 0x17); // UTCTime
        let t = OffsetDateTime::from_unix_timestamp_nanos(2_524_608_000_500_000_000).unwrap();
        let der = yasna::construct_der(|w| write_time(w, t));
        assert_eq!(der[0], 0x18); // GeneralizedTime
        assert_eq!(&der[2..], b"20500101000000Z");
    }
}
