//! Distinguished names: built from cert-manager's subject fields or from an RFC 4514 literal,
//! and printed back in RFC 4514 form for reports.
use super::der::{Attr, StringKind, encode_name, parse_oid};
use super::error::{Error, Result};

/// Attribute short names we read and print (RFC 4514 section 3 plus the ones cert-manager's
/// subject fields and common tooling use).
const NAMES: &[(&str, &str, StringKind)] = &[
    ("CN", "2.5.4.3", StringKind::Utf8),
    ("SN", "2.5.4.4", StringKind::Utf8),
    ("serialNumber", "2.5.4.5", StringKind::Printable),
    ("C", "2.5.4.6", StringKind::Printable),
    ("L", "2.5.4.7", StringKind::Utf8),
    ("ST", "2.5.4.8", StringKind::Utf8),
    ("STREET", "2.5.4.9", StringKind::Utf8),
    ("O", "2.5.4.10", StringKind::Utf8),
    ("OU", "2.5.4.11", StringKind::Utf8),
    ("title", "2.5.4.12", StringKind::Utf8),
    ("postalCode", "2.5.4.17", StringKind::Utf8),
    ("GN", "2.5.4.42", StringKind::Utf8),
    ("DC", "0.9.2342.19200300.100.1.25", StringKind::Ia5),
    ("UID", "0.9.2342.19200300.100.1.1", StringKind::Utf8),
    ("emailAddress", "1.2.840.113549.1.9.1", StringKind::Ia5),
];

/// The subject of a certificate request: either structured fields or a literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// cert-manager's `commonName` plus `subject` fields.
    Fields(SubjectFields),
    /// cert-manager's `literalSubject`: an RFC 4514 string whose RDN order is kept exactly
    /// (the last RDN of the string is the first in the encoded name, per RFC 4514 2.1).
    Literal(String),
}

impl Default for Subject {
    fn default() -> Self {
        Subject::Fields(SubjectFields::default())
    }
}

/// Structured subject fields, as cert-manager's `spec.subject` (plus `commonName`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectFields {
    /// CN (at most 64 characters, RFC 5280 upper bound).
    pub common_name: Option<String>,
    /// O values.
    pub organizations: Vec<String>,
    /// OU values.
    pub organizational_units: Vec<String>,
    /// C values (two-letter codes).
    pub countries: Vec<String>,
    /// L values.
    pub localities: Vec<String>,
    /// ST values.
    pub provinces: Vec<String>,
    /// STREET values.
    pub street_addresses: Vec<String>,
    /// postalCode values.
    pub postal_codes: Vec<String>,
    /// serialNumber (the subject attribute, not the certificate serial).
    pub serial_number: Option<String>,
}

impl Subject {
    /// Whether the encoded name would have no attribute at all.
    pub fn is_empty(&self) -> bool {
        match self {
            Subject::Literal(s) => s.trim().is_empty(),
            Subject::Fields(f) => f == &SubjectFields::default(),
        }
    }

    /// DER of the name.
    pub(crate) fn to_der(&self) -> Result<Vec<u8>> {
        let rdns = match self {
            Subject::Literal(s) => parse_rfc4514(s)?,
            Subject::Fields(f) => fields_to_rdns(f)?,
        };
        Ok(encode_name(&rdns))
    }
}

fn kind_of(oid: &[u64]) -> StringKind {
    let dotted = dotted(oid);
    NAMES
        .iter()
        .find(|(_, o, _)| *o == dotted)
        .map(|(_, _, k)| *k)
        .unwrap_or(StringKind::Utf8)
}

fn dotted(oid: &[u64]) -> String {
    oid.iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

fn attr(field: &'static str, short: &str, value: &str) -> Result<Attr> {
    // Both lookups are over the constant table above, so they cannot miss.
    let (_, oid, kind) = NAMES
        .iter()
        .find(|(n, _, _)| *n == short)
        .copied()
        .unwrap_or(NAMES[0]);
    check_value(field, value, kind)?;
    Ok(Attr {
        oid: parse_oid(field, oid)?,
        value: value.to_string(),
        kind,
    })
}

fn check_value(field: &'static str, value: &str, kind: StringKind) -> Result<()> {
    if value.is_empty() {
        return Err(Error::field(field, "empty value"));
    }
    let ok = match kind {
        StringKind::Utf8 => true,
        StringKind::Ia5 => value.is_ascii(),
        // X.680 41.4: PrintableString's repertoire.
        StringKind::Printable => value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " '()+,-./:=?".contains(c)),
    };
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            field,
            format!("{value:?} has characters this attribute cannot encode"),
        ))
    }
}

/// Structured fields in X.500's broad-to-narrow order, which is also how most CAs print them.
fn fields_to_rdns(f: &SubjectFields) -> Result<Vec<Vec<Attr>>> {
    let mut rdns = Vec::new();
    let mut push = |field: &'static str, short: &str, values: &[String]| -> Result<()> {
        for v in values {
            rdns.push(vec![attr(field, short, v)?]);
        }
        Ok(())
    };
    push("subject.countries", "C", &f.countries)?;
    if f.countries.iter().any(|c| c.len() != 2) {
        return Err(Error::field(
            "subject.countries",
            "country codes have two letters (ISO 3166)",
        ));
    }
    push("subject.provinces", "ST", &f.provinces)?;
    push("subject.localities", "L", &f.localities)?;
    push("subject.streetAddresses", "STREET", &f.street_addresses)?;
    push("subject.postalCodes", "postalCode", &f.postal_codes)?;
    push("subject.organizations", "O", &f.organizations)?;
    push("subject.organizationalUnits", "OU", &f.organizational_units)?;
    if let Some(cn) = &f.common_name {
        if cn.chars().count() > 64 {
            return Err(Error::field(
                "commonName",
                "longer than 64 characters (RFC 5280 ub-common-name)",
            ));
        }
        push("commonName", "CN", std::slice::from_ref(cn))?;
    }
    if let Some(sn) = &f.serial_number {
        push(
            "subject.serialNumber",
            "serialNumber",
            std::slice::from_ref(sn),
        )?;
    }
    Ok(rdns)
}

/// Parses an RFC 4514 string into RDNs in DER order. Multi-valued RDNs (`+`) are kept,
/// `\,`-style and `\2C`-style escapes are decoded, unescaped spaces around types and values
/// are trimmed. `#hex` (BER) values are refused: nothing in cert-manager's API produces them.
pub(crate) fn parse_rfc4514(input: &str) -> Result<Vec<Vec<Attr>>> {
    const FIELD: &str = "literalSubject";
    let mut rdns = Vec::new();
    for rdn_text in split_unescaped(input, ',') {
        let mut rdn = Vec::new();
        for atv in split_unescaped(&rdn_text, '+') {
            let (ty, value) = split_once_unescaped(&atv, '=')
                .ok_or_else(|| Error::field(FIELD, format!("{atv:?} is not type=value")))?;
            let ty = ty.trim();
            let oid = match NAMES.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(ty)) {
                Some((_, oid, _)) => parse_oid(FIELD, oid)?,
                None => parse_oid(FIELD, ty.strip_prefix("OID.").unwrap_or(ty))
                    .map_err(|_| Error::field(FIELD, format!("unknown attribute type {ty:?}")))?,
            };
            // Only ASCII spaces are insignificant (RFC 4514 2.4); str::trim would also eat
            // Unicode whitespace such as U+0085 that belongs to the value.
            let raw = value.trim_start_matches(' ');
            if raw.starts_with('#') {
                return Err(Error::field(
                    FIELD,
                    "#hex (BER-encoded) values are not supported",
                ));
            }
            let value = unescape(raw)?;
            let kind = kind_of(&oid);
            check_value(FIELD, &value, kind)?;
            rdn.push(Attr { oid, value, kind });
        }
        rdns.push(rdn);
    }
    if rdns.is_empty() {
        return Err(Error::field(FIELD, "empty subject"));
    }
    // RFC 4514 2.1: the string starts with the last RDN of the sequence.
    rdns.reverse();
    Ok(rdns)
}

/// Splits on `sep` where it is not escaped by a backslash; backslashes are kept for
/// [`unescape`] to decode once the structure is known.
fn split_unescaped(s: &str, sep: char) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        let cur = parts
            .last_mut()
            .expect("parts starts non-empty and only grows");
        if c == '\\' {
            cur.push(c);
            if let Some(n) = chars.next() {
                cur.push(n);
            }
        } else if c == sep {
            parts.push(String::new());
        } else {
            cur.push(c);
        }
    }
    if parts.len() == 1 && parts[0].trim().is_empty() {
        Vec::new()
    } else {
        parts
    }
}

fn split_once_unescaped(s: &str, sep: char) -> Option<(String, String)> {
    let parts = split_unescaped(s, sep);
    let first = parts.first()?.clone();
    if parts.len() < 2 {
        return None;
    }
    let rest = s[first.len() + sep.len_utf8()..].to_string();
    Some((first, rest))
}

/// Decodes RFC 4514 escapes and trims unescaped trailing spaces.
fn unescape(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut keep = 0; // length of `out` that must survive trailing-space trimming
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            // Two hex digits exactly: from_str_radix alone would also take a sign, so `\+0`
            // (an escaped plus, then 0) would decode as the byte 0x00.
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
            } else if let Some(&c) = bytes.get(i + 1) {
                out.push(c);
                i += 2;
            } else {
                return Err(Error::field("literalSubject", "dangling backslash"));
            }
            keep = out.len();
        } else {
            out.push(bytes[i]);
            if bytes[i] != b' ' {
                keep = out.len();
            }
            i += 1;
        }
    }
    out.truncate(keep);
    String::from_utf8(out).map_err(|_| Error::field("literalSubject", "escapes do not form UTF-8"))
}

/// Prints a parsed name in RFC 4514 form (last RDN first), escaping what must be escaped.
/// Values that are not strings are printed as `#` + hex of their DER, as RFC 4514 2.4 says.
pub(crate) fn to_rfc4514(name: &x509_parser::x509::X509Name<'_>) -> String {
    let mut rdns: Vec<String> = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|atv| {
                    let oid = atv.attr_type().to_id_string();
                    let ty = NAMES
                        .iter()
                        .find(|(_, o, _)| *o == oid)
                        .map(|(n, _, _)| n.to_string())
                        .unwrap_or(oid);
                    let value = match atv.as_str() {
                        Ok(s) => escape(s),
                        Err(_) => format!("#{}", hex(atv.attr_value().data)),
                    };
                    format!("{ty}={value}")
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.reverse();
    rdns.join(",")
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let last = s.chars().count().saturating_sub(1);
    for (i, c) in s.chars().enumerate() {
        let special = matches!(c, '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        if c == '\0' {
            out.push_str("\\00");
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::FromDer;

    fn round_trip(literal: &str) -> String {
        let der = Subject::Literal(literal.into()).to_der().unwrap();
        let (_, name) = x509_parser::x509::X509Name::from_der(&der).unwrap();
        to_rfc4514(&name)
    }

    #[test]
    fn literal_subject_keeps_order_and_repeats() {
        assert_eq!(
            round_trip("CN=web,OU=a,OU=b,DC=example,DC=com"),
            "CN=web,OU=a,OU=b,DC=example,DC=com"
        );
        assert_eq!(round_trip("CN=x+UID=7,O=Org"), "CN=x+UID=7,O=Org");
    }

    #[test]
    fn literal_subject_encodes_last_rdn_first() {
        let rdns = parse_rfc4514("CN=leaf,O=Org").unwrap();
        assert_eq!(rdns[0][0].value, "Org");
        assert_eq!(rdns[1][0].value, "leaf");
    }

    #[test]
    fn escapes_are_decoded_and_reprinted() {
        let rdns = parse_rfc4514(r"CN=a\,b\2Bc\ ,O= spaced ").unwrap();
        assert_eq!(rdns[1][0].value, "a,b+c ");
        assert_eq!(rdns[0][0].value, "spaced");
        assert_eq!(round_trip(r"CN=a\,b"), r"CN=a\,b");
        assert_eq!(round_trip("1.2.3.4=custom"), "1.2.3.4=custom");
    }

    #[test]
    fn malformed_literals_name_the_field() {
        for bad in ["", "CN", "XX=1", "CN=#0403616263", r"CN=a\", "C=D€"] {
            let err = parse_rfc4514(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("literalSubject:"),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn fields_encode_every_value_in_order() {
        let f = SubjectFields {
            common_name: Some("cn".into()),
            organizations: vec!["o1".into(), "o2".into()],
            countries: vec!["DE".into()],
            serial_number: Some("1234".into()),
            ..Default::default()
        };
        let der = Subject::Fields(f).to_der().unwrap();
        let (_, name) = x509_parser::x509::X509Name::from_der(&der).unwrap();
        assert_eq!(to_rfc4514(&name), "serialNumber=1234,CN=cn,O=o2,O=o1,C=DE");
    }

    #[test]
    fn bad_fields_are_refused_with_their_names() {
        let f = SubjectFields {
            countries: vec!["Germany".into()],
            ..Default::default()
        };
        let err = Subject::Fields(f).to_der().unwrap_err();
        assert!(err.to_string().starts_with("subject.countries"), "{err}");
        let f = SubjectFields {
            common_name: Some("x".repeat(65)),
            ..Default::default()
        };
        assert!(
            Subject::Fields(f)
                .to_der()
                .unwrap_err()
                .to_string()
                .starts_with("commonName")
        );
    }

    proptest::proptest! {
        #[test]
        fn any_escaped_value_round_trips(v in "[^\\x00-\\x1f]{1,40}") {
            let literal = format!("CN={},O=x", escape(&v));
            let rdns = parse_rfc4514(&literal).unwrap();
            proptest::prop_assert_eq!(&rdns[1][0].value, &v);
            proptest::prop_assert_eq!(round_trip(&literal), literal);
        }
    }
}
