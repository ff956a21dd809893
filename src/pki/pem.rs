//! PEM in and out, with size limits.
//!
//! Everything the controller reads comes from Secrets and CSRs that users (or attackers) can
//! write, so every parse is bounded before any base64 is decoded.
use super::error::{Error, Result};

/// The largest PEM input we parse: 1000 certificates of a few KiB each fit comfortably, a
/// Secret cannot exceed 1 MiB anyway, and anything above is refused before decoding.
pub const MAX_PEM_BYTES: usize = 4 * 1024 * 1024;

/// Label of a certificate block.
pub(crate) const CERTIFICATE: &str = "CERTIFICATE";
/// Label of a PKCS#10 request block (plus the legacy `NEW` spelling some tools still emit).
pub(crate) const CERTIFICATE_REQUEST: &[&str] = &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"];

/// Decodes every PEM block of `input`. Text between blocks is allowed (openssl writes
/// `subject=` lines there), but input without any block is an error rather than an empty list,
/// because an empty bundle is never what the caller meant.
pub(crate) fn parse_all(input: &[u8], what: &'static str) -> Result<Vec<pem::Pem>> {
    if input.len() > MAX_PEM_BYTES {
        return Err(Error::InputTooLarge {
            what,
            size: input.len(),
            limit: MAX_PEM_BYTES,
        });
    }
    let blocks = pem::parse_many(input).map_err(|e| Error::InvalidPem {
        what,
        detail: e.to_string(),
    })?;
    if blocks.is_empty() {
        return Err(Error::InvalidPem {
            what,
            detail: "no PEM block found".into(),
        });
    }
    Ok(blocks)
}

/// Decodes the one block with one of `labels`, skipping blocks whose label is in `skip`
/// (such as the `EC PARAMETERS` that `openssl ecparam -genkey` writes before the key).
pub(crate) fn parse_one(
    input: &[u8],
    what: &'static str,
    labels: &[&str],
    skip: &[&str],
) -> Result<pem::Pem> {
    let mut found = None;
    for block in parse_all(input, what)? {
        if skip.contains(&block.tag()) {
            continue;
        }
        if !labels.contains(&block.tag()) {
            return Err(Error::UnexpectedPemLabel {
                what,
                label: block.tag().to_string(),
            });
        }
        if found.is_some() {
            return Err(Error::InvalidPem {
                what,
                detail: "more than one PEM block".into(),
            });
        }
        found = Some(block);
    }
    found.ok_or_else(|| Error::InvalidPem {
        what,
        detail: "no PEM block found".into(),
    })
}

/// Encodes DER as one PEM block with LF line endings (what Kubernetes Secrets and openssl use).
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_config(&pem::Pem::new(label, der), config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_garbage_inputs_are_refused() {
        assert_eq!(parse_all(b"", "bundle").unwrap_err().reason(), "InvalidPEM");
        assert_eq!(
            parse_all(b"hello world", "bundle").unwrap_err().reason(),
            "InvalidPEM"
        );
        let broken = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert_eq!(
            parse_all(broken, "bundle").unwrap_err().reason(),
            "InvalidPEM"
        );
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        let big = vec![b'A'; MAX_PEM_BYTES + 1];
        let err = parse_all(&big, "bundle").unwrap_err();
        assert_eq!(err.reason(), "InputTooLarge");
    }

    #[test]
    fn one_block_skips_parameters_and_refuses_foreign_labels() {
        let input = format!(
            "{}{}",
            encode("EC PARAMETERS", &[6, 1, 0]),
            encode("KEY", &[1])
        );
        let block = parse_one(input.as_bytes(), "key", &["KEY"], &["EC PARAMETERS"]).unwrap();
        assert_eq!(block.contents(), &[1]);
        let err = parse_one(input.as_bytes(), "key", &["KEY"], &[]).unwrap_err();
        assert_eq!(err.reason(), "UnexpectedPEMBlock");
    }
}
