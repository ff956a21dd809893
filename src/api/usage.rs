//! Key usages and extended key usages, spelled as cert-manager spells them (lower case, with
//! spaces), shared by Certificate and CertificateRequest.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A key usage (RFC 5280 4.2.1.3) or extended key usage (RFC 5280 4.2.1.12).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum KeyUsage {
    // `signing` is cert-manager's synonym for `digital signature`.
    #[serde(rename = "signing")]
    Signing,
    #[serde(rename = "digital signature")]
    DigitalSignature,
    #[serde(rename = "content commitment")]
    ContentCommitment,
    #[serde(rename = "key encipherment")]
    KeyEncipherment,
    #[serde(rename = "key agreement")]
    KeyAgreement,
    #[serde(rename = "data encipherment")]
    DataEncipherment,
    #[serde(rename = "cert sign")]
    CertSign,
    #[serde(rename = "crl sign")]
    CrlSign,
    #[serde(rename = "encipher only")]
    EncipherOnly,
    #[serde(rename = "decipher only")]
    DecipherOnly,
    #[serde(rename = "any")]
    Any,
    #[serde(rename = "server auth")]
    ServerAuth,
    #[serde(rename = "client auth")]
    ClientAuth,
    #[serde(rename = "code signing")]
    CodeSigning,
    #[serde(rename = "email protection")]
    EmailProtection,
    #[serde(rename = "s/mime")]
    SMime,
    #[serde(rename = "ipsec end system")]
    IpsecEndSystem,
    #[serde(rename = "ipsec tunnel")]
    IpsecTunnel,
    #[serde(rename = "ipsec user")]
    IpsecUser,
    #[serde(rename = "timestamping")]
    Timestamping,
    #[serde(rename = "ocsp signing")]
    OcspSigning,
    #[serde(rename = "microsoft sgc")]
    MicrosoftSgc,
    #[serde(rename = "netscape sgc")]
    NetscapeSgc,
}

impl KeyUsage {
    /// The usages a Certificate gets when it names none.
    pub const DEFAULTS: [KeyUsage; 2] = [KeyUsage::DigitalSignature, KeyUsage::KeyEncipherment];

    /// Whether this is an extended key usage (an OID in the EKU extension) rather than a bit in
    /// the key usage extension.
    pub fn is_extended(self) -> bool {
        use KeyUsage::*;
        matches!(
            self,
            Any | ServerAuth
                | ClientAuth
                | CodeSigning
                | EmailProtection
                | SMime
                | IpsecEndSystem
                | IpsecTunnel
                | IpsecUser
                | Timestamping
                | OcspSigning
                | MicrosoftSgc
                | NetscapeSgc
        )
    }
}
