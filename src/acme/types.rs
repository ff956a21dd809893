//! The ACME objects as the server sends them (RFC 8555 section 7.1), only the members we use.
use serde::{Deserialize, Serialize};

/// Status of an order, authorization or challenge. One enum for all three: the values are
/// shared and an unknown one must not fail parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Ready,
    Processing,
    Valid,
    Invalid,
    Expired,
    Deactivated,
    Revoked,
    #[serde(other)]
    Unknown,
}

impl Status {
    /// The lowercase spelling RFC 8555 uses (and the Order/Challenge resources store).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Ready => "ready",
            Status::Processing => "processing",
            Status::Valid => "valid",
            Status::Invalid => "invalid",
            Status::Expired => "expired",
            Status::Deactivated => "deactivated",
            Status::Revoked => "revoked",
            Status::Unknown => "unknown",
        }
    }
}

/// The directory: where each operation is posted.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryDoc {
    pub new_nonce: String,
    pub new_account: String,
    pub new_order: String,
    #[serde(default)]
    pub renewal_info: Option<String>,
    #[serde(default)]
    pub meta: Option<DirectoryMeta>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryMeta {
    #[serde(default)]
    pub external_account_required: Option<bool>,
    #[serde(default)]
    pub profiles: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The renewal information of one certificate (RFC 9773 section 4.2).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalInfo {
    pub suggested_window: SuggestedWindow,
    #[serde(rename = "explanationURL", default)]
    pub explanation_url: Option<String>,
}

/// When the server suggests renewing: RFC 3339 times, as sent.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SuggestedWindow {
    pub start: String,
    pub end: String,
}

/// A name to be certified: `dns` or `ip`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

impl Identifier {
    pub fn dns(name: &str) -> Self {
        Identifier {
            kind: "dns".into(),
            value: name.into(),
        }
    }

    pub fn ip(addr: &str) -> Self {
        Identifier {
            kind: "ip".into(),
            value: addr.into(),
        }
    }
}

/// An order (RFC 8555 section 7.1.3).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    pub status: Status,
    #[serde(default)]
    pub identifiers: Vec<Identifier>,
    #[serde(default)]
    pub authorizations: Vec<String>,
    pub finalize: String,
    #[serde(default)]
    pub certificate: Option<String>,
    #[serde(default)]
    pub error: Option<Problem>,
}

/// An authorization (RFC 8555 section 7.1.4).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authorization {
    pub status: Status,
    pub identifier: Identifier,
    #[serde(default)]
    pub challenges: Vec<Challenge>,
    #[serde(default)]
    pub wildcard: Option<bool>,
}

impl Authorization {
    /// The first problem reported by one of its challenges: why an invalid authorization
    /// failed.
    pub fn problem(&self) -> Option<&Problem> {
        self.challenges.iter().find_map(|c| c.error.as_ref())
    }
}

/// A challenge (RFC 8555 section 7.1.5).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Challenge {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    pub status: Status,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub error: Option<Problem>,
}

/// An RFC 7807 problem document, as ACME servers report errors.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Problem {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub subproblems: Vec<Problem>,
}

impl Problem {
    /// The type without its `urn:ietf:params:acme:error:` prefix.
    pub fn short_type(&self) -> Option<&str> {
        let t = self.kind.as_deref()?;
        Some(t.strip_prefix("urn:ietf:params:acme:error:").unwrap_or(t))
    }

    /// A stable CamelCase reason for conditions: `ACME` + the problem type.
    pub fn reason(&self) -> &'static str {
        match self.short_type() {
            Some("accountDoesNotExist") => "ACMEAccountDoesNotExist",
            Some("badNonce") => "ACMEBadNonce",
            Some("rateLimited") => "ACMERateLimited",
            Some("unauthorized") => "ACMEUnauthorized",
            Some("rejectedIdentifier") => "ACMERejectedIdentifier",
            Some("malformed") => "ACMEMalformed",
            Some("externalAccountRequired") => "ACMEExternalAccountRequired",
            Some("badCSR") => "ACMEBadCSR",
            Some("connection") => "ACMEConnectionError",
            Some("dns") => "ACMEDNSError",
            Some("incorrectResponse") => "ACMEIncorrectResponse",
            Some("orderNotReady") => "ACMEOrderNotReady",
            Some("serverInternal") => "ACMEServerInternal",
            _ => "ACMEError",
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            self.short_type().unwrap_or("error"),
            self.detail.as_deref().unwrap_or("(no detail)")
        )?;
        for sub in &self.subproblems {
            write!(f, "; {sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_order_with_unknown_members_and_status() {
        let o: Order = serde_json::from_str(
            r#"{"status":"pending","expires":"2026-01-01T00:00:00Z","identifiers":[{"type":"dns","value":"a.test"}],
            "authorizations":["https://ca/authz/1"],"finalize":"https://ca/fin/1","profile":"x"}"#,
        )
        .unwrap();
        assert_eq!(o.status, Status::Pending);
        assert_eq!(o.identifiers, vec![Identifier::dns("a.test")]);
        let s: Status = serde_json::from_str(r#""someday""#).unwrap();
        assert_eq!(s, Status::Unknown);
    }

    #[test]
    fn problem_display_and_reason() {
        let p: Problem = serde_json::from_str(
            r#"{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"no",
            "subproblems":[{"type":"urn:ietf:params:acme:error:malformed","detail":"bad name"}]}"#,
        )
        .unwrap();
        assert_eq!(p.reason(), "ACMERejectedIdentifier");
        assert_eq!(p.to_string(), "rejectedIdentifier: no; malformed: bad name");
    }
}
