//! Subject alternative names: validation of what we are asked to put in, and reading back what
//! a CSR or certificate carries.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::der::{GeneralName, parse_oid};
use super::error::{Error, Result};

/// An otherName SAN with a UTF-8 string value (e.g. a Microsoft UPN, OID 1.3.6.1.4.1.311.20.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OtherName {
    /// Dotted OID of the name type.
    pub oid: String,
    /// The UTF8String value.
    pub utf8_value: String,
}

/// The SANs of a request or certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectAltNames {
    /// DNS names; a leading `*.` label makes a wildcard.
    pub dns_names: Vec<String>,
    /// IPv4 and IPv6 addresses.
    pub ip_addresses: Vec<IpAddr>,
    /// URIs (e.g. SPIFFE IDs).
    pub uris: Vec<String>,
    /// E-mail addresses (rfc822Name).
    pub email_addresses: Vec<String>,
    /// otherNames with UTF-8 values.
    pub other_names: Vec<OtherName>,
    /// Names of kinds we do not model (directoryName, registeredID, ...), described as text so
    /// a report shows them rather than hiding them.
    pub unsupported: Vec<String>,
}

impl SubjectAltNames {
    /// Whether there is no name at all.
    pub fn is_empty(&self) -> bool {
        self.dns_names.is_empty()
            && self.ip_addresses.is_empty()
            && self.uris.is_empty()
            && self.email_addresses.is_empty()
            && self.other_names.is_empty()
            && self.unsupported.is_empty()
    }

    /// Validates every name and returns them as general names, DNS first (the order most
    /// tools print them in).
    pub(crate) fn to_general_names(&self) -> Result<Vec<GeneralName>> {
        let mut out = Vec::new();
        for d in &self.dns_names {
            check_dns_name("dnsNames", d, true)?;
            out.push(GeneralName::Dns(d.clone()));
        }
        out.extend(self.ip_addresses.iter().map(|ip| GeneralName::Ip(*ip)));
        for u in &self.uris {
            check_uri(u)?;
            out.push(GeneralName::Uri(u.clone()));
        }
        for e in &self.email_addresses {
            check_email(e)?;
            out.push(GeneralName::Email(e.clone()));
        }
        for o in &self.other_names {
            let oid = parse_oid("otherNames.oid", &o.oid)?;
            out.push(GeneralName::Other {
                oid,
                utf8: o.utf8_value.clone(),
            });
        }
        if !self.unsupported.is_empty() {
            return Err(Error::field(
                "subjectAltNames",
                "cannot encode unsupported name kinds",
            ));
        }
        Ok(out)
    }

    /// Reads the names of a parsed subjectAltName extension.
    pub(crate) fn from_x509(names: &[x509_parser::extensions::GeneralName<'_>]) -> Self {
        use x509_parser::extensions::GeneralName as G;
        let mut s = SubjectAltNames::default();
        for n in names {
            match n {
                G::DNSName(d) => s.dns_names.push(d.to_string()),
                G::RFC822Name(e) => s.email_addresses.push(e.to_string()),
                G::URI(u) => s.uris.push(u.to_string()),
                G::IPAddress(b) => match ip_from_octets(b) {
                    Some(ip) => s.ip_addresses.push(ip),
                    None => s
                        .unsupported
                        .push(format!("IP address of {} bytes", b.len())),
                },
                G::OtherName(oid, value) => match other_name_utf8(value) {
                    Some(v) => s.other_names.push(OtherName {
                        oid: oid.to_id_string(),
                        utf8_value: v,
                    }),
                    None => s
                        .unsupported
                        .push(format!("otherName {}", oid.to_id_string())),
                },
                other => s.unsupported.push(format!("{other}")),
            }
        }
        s
    }
}

fn ip_from_octets(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        16 => {
            let arr: [u8; 16] = b.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(arr)))
        }
        _ => None,
    }
}

/// The value of an otherName is `[0] EXPLICIT ANY`; we understand a UTF8String inside.
fn other_name_utf8(value: &[u8]) -> Option<String> {
    use x509_parser::der_parser::ber::BerObjectContent;
    let (_, outer) = x509_parser::der_parser::parse_der(value).ok()?;
    let inner_bytes = match outer.content {
        BerObjectContent::Unknown(any) => any.data,
        _ => return None,
    };
    let (_, inner) = x509_parser::der_parser::parse_der(inner_bytes).ok()?;
    match inner.content {
        BerObjectContent::UTF8String(s) => Some(s.to_string()),
        _ => None,
    }
}

/// A DNS name as RFC 5280 4.2.1.6 and the CA/B Forum accept it: ASCII (A-labels), labels of
/// 1-63 letters, digits and hyphens, at most 253 characters, and a wildcard only as the whole
/// leftmost label when `allow_wildcard`.
pub(crate) fn check_dns_name(field: &'static str, name: &str, allow_wildcard: bool) -> Result<()> {
    let bad = |why: &str| Err(Error::field(field, format!("{name:?}: {why}")));
    let host = name.strip_suffix('.').unwrap_or(name);
    if host.is_empty() || host.len() > 253 {
        return bad("must have 1 to 253 characters");
    }
    for (i, label) in host.split('.').enumerate() {
        if i == 0 && label == "*" {
            if !allow_wildcard {
                return bad("wildcards are not allowed here");
            }
            if !host.contains('.') {
                return bad("a wildcard needs a parent domain");
            }
            continue;
        }
        if label.is_empty() || label.len() > 63 {
            return bad("labels must have 1 to 63 characters");
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return bad("only letters, digits, '-' and '_' are allowed (use punycode for IDNs)");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("labels must not start or end with '-'");
        }
    }
    Ok(())
}

fn check_uri(uri: &str) -> Result<()> {
    let scheme_ok = uri.split_once(':').is_some_and(|(scheme, rest)| {
        !rest.is_empty()
            && scheme
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if !scheme_ok || !uri.is_ascii() || uri.chars().any(|c| c.is_ascii_whitespace()) {
        return Err(Error::field(
            "uris",
            format!("{uri:?} is not an absolute ASCII URI"),
        ));
    }
    Ok(())
}

fn check_email(email: &str) -> Result<()> {
    let ok = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && check_dns_name("emailAddresses", domain, false).is_ok()
    });
    if !ok || !email.is_ascii() {
        return Err(Error::field(
            "emailAddresses",
            format!("{email:?} is not an ASCII e-mail address"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_accept_wildcards_only_leftmost() {
        assert!(check_dns_name("dnsNames", "*.example.com", true).is_ok());
        assert!(check_dns_name("dnsNames", "a-b.example.com.", true).is_ok());
        for bad in [
            "",
            "*",
            "a.*.com",
            "-a.com",
            "a..com",
            "exämple.com",
            "a b.com",
        ] {
            let err = check_dns_name("dnsNames", bad, true).unwrap_err();
            assert!(err.to_string().starts_with("dnsNames:"), "{bad:?}");
        }
        assert!(check_dns_name("x", "*.a.com", false).is_err());
    }

    #[test]
    fn uris_and_emails_are_checked() {
        let sans = SubjectAltNames {
            uris: vec!["spiffe://cluster/ns/a".into()],
            ..Default::default()
        };
        assert!(sans.to_general_names().is_ok());
        let sans = SubjectAltNames {
            uris: vec!["no scheme".into()],
            ..Default::default()
        };
        assert!(
            sans.to_general_names()
                .unwrap_err()
                .to_string()
                .starts_with("uris:")
        );
        let sans = SubjectAltNames {
            email_addresses: vec!["a@b".into()],
            ..Default::default()
        };
        assert!(sans.to_general_names().is_ok());
        let sans = SubjectAltNames {
            email_addresses: vec!["ab".into()],
            ..Default::default()
        };
        assert!(sans.to_general_names().is_err());
        let sans = SubjectAltNames {
            other_names: vec![OtherName {
                oid: "1.2.x".into(),
                utf8_value: "v".into(),
            }],
            ..Default::default()
        };
        assert!(
            sans.to_general_names()
                .unwrap_err()
                .to_string()
                .starts_with("otherNames.oid")
        );
    }
}
