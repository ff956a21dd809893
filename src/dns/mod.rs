//! DNS for ACME DNS-01, with no Kubernetes in it: RFC 2136 dynamic updates signed with TSIG
//! ([`update`]), the lookups a propagation check and `cnameStrategy: Follow` need
//! ([`lookup`]), and the few lines of UDP/TCP that carry them ([`transport`]).
//!
//! Messages, names, records and TSIG come from `hickory-proto`; we only move bytes, so the
//! server's own answer (rcode and TSIG error) reaches the caller unchanged.
pub mod lookup;
pub mod transport;
pub mod update;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::tsig::TsigError;

pub use transport::Protocol;

/// Why a DNS operation failed. Each variant names the server it concerns.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server could not be reached, or did not answer in time.
    #[error("DNS server {server}: {problem}")]
    Unreachable { server: String, problem: String },
    /// The server refused the TSIG signature or key (rcode NOTAUTH with a TSIG error): the
    /// key name, algorithm or secret does not match the server's.
    #[error(
        "DNS server {server} refused the update's TSIG signature ({rcode}/{tsig}): check tsigKeyName, tsigAlgorithm and the secret"
    )]
    Unauthorized {
        server: String,
        rcode: String,
        tsig: String,
    },
    /// The server answered with an error code.
    #[error("DNS server {server} answered {rcode} to {what}")]
    Refused {
        server: String,
        rcode: String,
        what: String,
    },
    /// The answer could not be read, or its TSIG signature does not verify.
    #[error("DNS server {server}: unusable answer: {problem}")]
    Malformed { server: String, problem: String },
    /// The settings cannot be used (secret, algorithm, name, address).
    #[error("{0}")]
    Config(String),
    /// No zone that the server is authoritative for contains the name.
    #[error("no zone served by {server} contains {name}")]
    NoZone { server: String, name: String },
}

impl Error {
    /// A short, stable reason for conditions, Events and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Unreachable { .. } => "DNSUnreachable",
            Error::Unauthorized { .. } => "TSIGRejected",
            Error::Refused { .. } => "DNSRefused",
            Error::Malformed { .. } => "DNSMalformedAnswer",
            Error::Config(_) => "DNSConfigInvalid",
            Error::NoZone { .. } => "DNSZoneNotFound",
        }
    }
}

/// Error for an answer with a failing rcode: a TSIG error (NOTAUTH/BADSIG, BADKEY, BADTIME)
/// is named as such, since it means the key, not the request, is wrong.
pub(crate) fn rcode_error(
    server: &str,
    rcode: ResponseCode,
    tsig: Option<&TsigError>,
    what: &str,
) -> Error {
    let tsig_name = tsig.map(|t| match t {
        TsigError::BadSig => "BADSIG".to_string(),
        TsigError::BadKey => "BADKEY".to_string(),
        TsigError::BadTime => "BADTIME".to_string(),
        TsigError::BadTrunc => "BADTRUNC".to_string(),
        TsigError::Unknown(c) => format!("TSIG error {c}"),
    });
    match (rcode, tsig_name) {
        (ResponseCode::NotAuth, Some(tsig)) => Error::Unauthorized {
            server: server.to_string(),
            rcode: "NOTAUTH".into(),
            tsig,
        },
        (rcode, _) => Error::Refused {
            server: server.to_string(),
            rcode: rcode_name(rcode),
            what: what.to_string(),
        },
    }
}

/// The mnemonic operators know (REFUSED, NOTAUTH...), not hickory's prose.
fn rcode_name(rcode: ResponseCode) -> String {
    match rcode {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::YXDomain => "YXDOMAIN".into(),
        ResponseCode::YXRRSet => "YXRRSET".into(),
        ResponseCode::NXRRSet => "NXRRSET".into(),
        ResponseCode::NotAuth => "NOTAUTH".into(),
        ResponseCode::NotZone => "NOTZONE".into(),
        other => format!("rcode {}", u16::from(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsig_failures_are_told_apart_from_other_refusals() {
        let e = rcode_error(
            "ns:53",
            ResponseCode::NotAuth,
            Some(&TsigError::BadSig),
            "x",
        );
        assert_eq!(e.reason(), "TSIGRejected");
        assert!(e.to_string().contains("NOTAUTH/BADSIG"), "{e}");
        let e = rcode_error("ns:53", ResponseCode::NotAuth, None, "the update");
        assert_eq!(e.reason(), "DNSRefused");
        assert!(e.to_string().contains("NOTAUTH to the update"), "{e}");
        let e = rcode_error("ns:53", ResponseCode::Refused, None, "the update");
        assert!(e.to_string().contains("REFUSED"), "{e}");
    }
}
