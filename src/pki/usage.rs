//! Key usages and extended key usages, named as cert-manager's `usages` list names them.
use std::fmt;
use std::str::FromStr;

use super::error::{Error, Result};

/// One entry of cert-manager's `usages`: either a keyUsage bit or an extendedKeyUsage purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Usage {
    DigitalSignature,
    ContentCommitment,
    KeyEncipherment,
    DataEncipherment,
    KeyAgreement,
    CertSign,
    CrlSign,
    EncipherOnly,
    DecipherOnly,
    Any,
    ServerAuth,
    ClientAuth,
    CodeSigning,
    EmailProtection,
    IpsecEndSystem,
    IpsecTunnel,
    IpsecUser,
    Timestamping,
    OcspSigning,
    MicrosoftSgc,
    NetscapeSgc,
}

/// (usage, cert-manager name, keyUsage bit, EKU OID)
const TABLE: &[(Usage, &str, Option<u8>, Option<&str>)] = &[
    (Usage::DigitalSignature, "digital signature", Some(0), None),
    (
        Usage::ContentCommitment,
        "content commitment",
        Some(1),
        None,
    ),
    (Usage::KeyEncipherment, "key encipherment", Some(2), None),
    (Usage::DataEncipherment, "data encipherment", Some(3), None),
    (Usage::KeyAgreement, "key agreement", Some(4), None),
    (Usage::CertSign, "cert sign", Some(5), None),
    (Usage::CrlSign, "crl sign", Some(6), None),
    (Usage::EncipherOnly, "encipher only", Some(7), None),
    (Usage::DecipherOnly, "decipher only", Some(8), None),
    (Usage::Any, "any", None, Some("2.5.29.37.0")),
    (
        Usage::ServerAuth,
        "server auth",
        None,
        Some("1.3.6.1.5.5.7.3.1"),
    ),
    (
        Usage::ClientAuth,
        "client auth",
        None,
        Some("1.3.6.1.5.5.7.3.2"),
    ),
    (
        Usage::CodeSigning,
        "code signing",
        None,
        Some("1.3.6.1.5.5.7.3.3"),
    ),
    (
        Usage::EmailProtection,
        "email protection",
        None,
        Some("1.3.6.1.5.5.7.3.4"),
    ),
    (
        Usage::IpsecEndSystem,
        "ipsec end system",
        None,
        Some("1.3.6.1.5.5.7.3.5"),
    ),
    (
        Usage::IpsecTunnel,
        "ipsec tunnel",
        None,
        Some("1.3.6.1.5.5.7.3.6"),
    ),
    (
        Usage::IpsecUser,
        "ipsec user",
        None,
        Some("1.3.6.1.5.5.7.3.7"),
    ),
    (
        Usage::Timestamping,
        "timestamping",
        None,
        Some("1.3.6.1.5.5.7.3.8"),
    ),
    (
        Usage::OcspSigning,
        "ocsp signing",
        None,
        Some("1.3.6.1.5.5.7.3.9"),
    ),
    (
        Usage::MicrosoftSgc,
        "microsoft sgc",
        None,
        Some("1.3.6.1.4.1.311.10.3.3"),
    ),
    (
        Usage::NetscapeSgc,
        "netscape sgc",
        None,
        Some("2.16.840.1.113730.4.1"),
    ),
];

impl Usage {
    fn row(self) -> &'static (Usage, &'static str, Option<u8>, Option<&'static str>) {
        // TABLE has one row per variant (checked by a test), so the search cannot miss.
        TABLE.iter().find(|r| r.0 == self).unwrap_or(&TABLE[0])
    }

    /// cert-manager's name of the usage.
    pub fn name(self) -> &'static str {
        self.row().1
    }

    /// Usages cert-manager applies when a Certificate lists none.
    pub fn defaults() -> Vec<Usage> {
        vec![Usage::DigitalSignature, Usage::KeyEncipherment]
    }

    pub(crate) fn from_eku_oid(oid: &str) -> Option<Usage> {
        TABLE.iter().find(|r| r.3 == Some(oid)).map(|r| r.0)
    }

    pub(crate) fn from_key_usage_bit(bit: u8) -> Option<Usage> {
        TABLE.iter().find(|r| r.2 == Some(bit)).map(|r| r.0)
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Usage {
    type Err = Error;

    /// Accepts cert-manager's names, including its aliases `signing` and `s/mime`.
    fn from_str(s: &str) -> Result<Usage> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "signing" => return Ok(Usage::DigitalSignature),
            "s/mime" => return Ok(Usage::EmailProtection),
            _ => {}
        }
        TABLE
            .iter()
            .find(|r| r.1 == lower)
            .map(|r| r.0)
            .ok_or_else(|| Error::field("usages", format!("unknown usage {s:?}")))
    }
}

/// Splits usages into the keyUsage bit mask and the EKU OIDs (deduplicated, in order).
pub(crate) fn split(usages: &[Usage]) -> (u16, Vec<&'static str>) {
    let mut bits = 0u16;
    let mut ekus = Vec::new();
    for u in usages {
        let row = u.row();
        if let Some(bit) = row.2 {
            bits |= 1 << bit;
        }
        if let Some(oid) = row.3
            && !ekus.contains(&oid)
        {
            ekus.push(oid);
        }
    }
    (bits, ekus)
}

/// Reads usages back from parsed extensions. EKU OIDs we have no name for are returned
/// separately so a report can show them instead of dropping them.
pub(crate) fn from_extensions(
    ku: Option<&x509_parser::extensions::KeyUsage>,
    eku: Option<&x509_parser::extensions::ExtendedKeyUsage<'_>>,
) -> (Vec<Usage>, Vec<String>) {
    let mut usages = Vec::new();
    let mut unknown = Vec::new();
    if let Some(ku) = ku {
        for bit in 0..9u8 {
            // x509-parser keeps bit n of the BIT STRING as bit n of `flags`.
            if ku.flags & (1 << bit) != 0 {
                usages.extend(Usage::from_key_usage_bit(bit));
            }
        }
    }
    if let Some(eku) = eku {
        let known = [
            (eku.any, Usage::Any),
            (eku.server_auth, Usage::ServerAuth),
            (eku.client_auth, Usage::ClientAuth),
            (eku.code_signing, Usage::CodeSigning),
            (eku.email_protection, Usage::EmailProtection),
            (eku.time_stamping, Usage::Timestamping),
            (eku.ocsp_signing, Usage::OcspSigning),
        ];
        usages.extend(known.iter().filter(|(on, _)| *on).map(|(_, u)| *u));
        for oid in &eku.other {
            let dotted = oid.to_id_string();
            match Usage::from_eku_oid(&dotted) {
                Some(u) => usages.push(u),
                None => unknown.push(dotted),
            }
        }
    }
    (usages, unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_one_row_and_round_trips() {
        assert_eq!(TABLE.len(), 21);
        for (u, name, _, _) in TABLE {
            assert_eq!(u.name(), *name);
            assert_eq!(name.parse::<Usage>().unwrap(), *u);
        }
        assert_eq!("Signing".parse::<Usage>().unwrap(), Usage::DigitalSignature);
        assert_eq!("s/mime".parse::<Usage>().unwrap(), Usage::EmailProtection);
        assert!(
            "teleport"
                .parse::<Usage>()
                .unwrap_err()
                .to_string()
                .starts_with("usages:")
        );
    }

    #[test]
    fn split_separates_bits_and_oids() {
        let (bits, ekus) = split(&[
            Usage::DigitalSignature,
            Usage::ServerAuth,
            Usage::KeyEncipherment,
            Usage::ServerAuth,
        ]);
        assert_eq!(bits, 0b101);
        assert_eq!(ekus, vec!["1.3.6.1.5.5.7.3.1"]);
    }
}
