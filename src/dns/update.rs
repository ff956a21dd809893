//! RFC 2136 dynamic updates of TXT records, signed with TSIG (RFC 8945).
//!
//! Adding appends one value to the RRset and deleting removes exactly that value (RFC 2136
//! sections 2.5.1 and 2.5.4): other values at the same name, such as the record of a wildcard
//! and its base name being validated at once, are left alone.
use std::net::SocketAddr;
use std::time::SystemTime;

use hickory_proto::op::{Message, ResponseCode, update_message};
use hickory_proto::rr::TSigner;
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{Name, RData, Record, RecordSet};

use super::transport::{self, Protocol};
use super::{Error, rcode_error};

/// TTL of the challenge records: short, so a resolver that saw an old value asks again soon.
pub const TXT_TTL: u32 = 60;

/// Allowed clock difference between us and the server for TSIG (RFC 8945 recommends 300 s).
const FUDGE: u16 = 300;

/// The TSIG algorithm for cert-manager's `tsigAlgorithm` spelling (`HMACSHA256`, also
/// `hmac-sha256`), case-insensitive. Unset means HMACMD5 in cert-manager, which like HMACSHA1
/// is refused here with a message saying what to use instead.
pub fn algorithm(name: Option<&str>) -> Result<TsigAlgorithm, Error> {
    let given = name.unwrap_or("HMACMD5");
    let norm: String = given
        .trim()
        .trim_end_matches('.')
        .to_ascii_uppercase()
        .trim_end_matches(".SIG-ALG.REG.INT")
        .chars()
        .filter(|c| *c != '-')
        .collect();
    match norm.as_str() {
        "HMACSHA256" => Ok(TsigAlgorithm::HmacSha256),
        "HMACSHA384" => Ok(TsigAlgorithm::HmacSha384),
        "HMACSHA512" => Ok(TsigAlgorithm::HmacSha512),
        "HMACMD5" | "HMACSHA1" => Err(Error::Config(format!(
            "tsigAlgorithm {given}{}: certwright signs updates with HMACSHA256, HMACSHA384 or HMACSHA512 only (MD5 and SHA-1 MACs are obsolete); set one of these for the key on the server and in tsigAlgorithm",
            if name.is_none() {
                " (the default when unset)"
            } else {
                ""
            }
        ))),
        _ => Err(Error::Config(format!(
            "tsigAlgorithm {given:?} is not one of HMACSHA256, HMACSHA384, HMACSHA512"
        ))),
    }
}

/// The TSIG secret from the Secret's value: base64, as `tsig-keygen` prints it.
pub fn decode_secret(value: &[u8]) -> Result<Vec<u8>, Error> {
    use base64::Engine as _;
    let text = std::str::from_utf8(value)
        .map_err(|_| Error::Config("the TSIG secret is not base64 text".into()))?
        .trim();
    let secret = base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
        .map_err(|e| Error::Config(format!("the TSIG secret is not base64: {e}")))?;
    if secret.is_empty() {
        return Err(Error::Config("the TSIG secret is empty".into()));
    }
    Ok(secret)
}

/// A TSIG key: name, algorithm and secret.
pub struct TsigKey {
    pub name: String,
    pub algorithm: TsigAlgorithm,
    pub secret: Vec<u8>,
}

/// Sends updates for one zone server.
pub struct Updater {
    server: SocketAddr,
    protocol: Protocol,
    signer: Option<TSigner>,
}

impl Updater {
    /// Fails when the key name is not a DNS name or the algorithm cannot sign.
    pub fn new(
        server: SocketAddr,
        protocol: Protocol,
        key: Option<TsigKey>,
    ) -> Result<Updater, Error> {
        let signer = match key {
            None => None,
            Some(k) => {
                let name = Name::from_ascii(&k.name).map_err(|e| {
                    Error::Config(format!("tsigKeyName {:?} is not a DNS name: {e}", k.name))
                })?;
                Some(
                    TSigner::new(k.secret, k.algorithm, name, FUDGE)
                        .map_err(|e| Error::Config(format!("TSIG key: {e}")))?,
                )
            }
        };
        Ok(Updater {
            server,
            protocol,
            signer,
        })
    }

    /// Adds `value` to the TXT RRset at `fqdn` in `zone` (a no-op when it is there).
    pub async fn add_txt(
        &self,
        zone: &Name,
        fqdn: &Name,
        value: &str,
        now: SystemTime,
    ) -> Result<(), Error> {
        let msg = update_message::append(txt(fqdn, value, zone)?, zone.clone(), false, false);
        self.send(msg, now, "adding the TXT record").await
    }

    /// Removes exactly `value` from the TXT RRset at `fqdn` (a no-op when it is gone).
    pub async fn remove_txt(
        &self,
        zone: &Name,
        fqdn: &Name,
        value: &str,
        now: SystemTime,
    ) -> Result<(), Error> {
        let msg = update_message::delete_by_rdata(txt(fqdn, value, zone)?, zone.clone(), false);
        self.send(msg, now, "removing the TXT record").await
    }

    async fn send(&self, mut msg: Message, now: SystemTime, what: &str) -> Result<(), Error> {
        let server = self.server.to_string();
        let mut verifier = match &self.signer {
            Some(s) => {
                let secs = now
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default();
                msg.finalize(s, secs)
                    .map_err(|e| Error::Config(format!("signing the update: {e}")))?
            }
            None => None,
        };
        let bytes = msg
            .to_vec()
            .map_err(|e| Error::Config(format!("encoding the update: {e}")))?;
        let answer = transport::exchange(self.server, msg.id, &bytes, self.protocol).await?;
        let malformed = |problem: String| Error::Malformed {
            server: server.clone(),
            problem,
        };
        let parsed = Message::from_vec(&answer).map_err(|e| malformed(e.to_string()))?;
        let rcode = parsed.response_code;
        if rcode != ResponseCode::NoError {
            let tsig = parsed.signature().and_then(|s| s.data.error.as_ref());
            return Err(rcode_error(&server, rcode, tsig, what));
        }
        // A success that does not carry the server's valid signature may not be the server's.
        if let Some(v) = verifier.as_mut() {
            v.verify(&answer)
                .map_err(|e| malformed(format!("the answer's TSIG signature: {e}")))?;
        }
        Ok(())
    }
}

fn txt(fqdn: &Name, value: &str, zone: &Name) -> Result<RecordSet, Error> {
    // hickory asserts this; checked here so a bad pairing is an error, not a panic.
    if !zone.zone_of(fqdn) {
        return Err(Error::Config(format!("{fqdn} is not in the zone {zone}")));
    }
    let record = Record::from_rdata(
        fqdn.clone(),
        TXT_TTL,
        RData::TXT(TXT::new(vec![value.to_string()])),
    );
    Ok(RecordSet::from(record))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithms_in_cert_manager_and_bind_spelling() {
        assert_eq!(
            algorithm(Some("HMACSHA256")).unwrap(),
            TsigAlgorithm::HmacSha256
        );
        assert_eq!(
            algorithm(Some("hmacsha512")).unwrap(),
            TsigAlgorithm::HmacSha512
        );
        assert_eq!(
            algorithm(Some("hmac-sha384.")).unwrap(),
            TsigAlgorithm::HmacSha384
        );
        let unset = algorithm(None).unwrap_err().to_string();
        assert!(
            unset.contains("HMACMD5 (the default when unset)"),
            "{unset}"
        );
        assert!(algorithm(Some("HMACSHA1")).is_err());
        assert!(
            algorithm(Some("rot13"))
                .unwrap_err()
                .to_string()
                .contains("rot13")
        );
    }

    #[test]
    fn secrets_are_base64_as_tsig_keygen_prints_them() {
        assert_eq!(decode_secret(b" c2VjcmV0\n").unwrap(), b"secret");
        assert_eq!(decode_secret(b"c2VjcmV0MQ").unwrap(), b"secret1");
        assert!(decode_secret(b"not base64!").is_err());
        assert!(decode_secret(b"").is_err());
    }

    #[test]
    fn a_record_outside_its_zone_is_an_error_not_a_panic() {
        let zone = Name::from_ascii("example.test.").unwrap();
        let other = Name::from_ascii("_acme-challenge.other.test.").unwrap();
        assert!(txt(&other, "v", &zone).is_err());
        let inside = Name::from_ascii("_acme-challenge.example.test.").unwrap();
        assert!(txt(&inside, "v", &zone).is_ok());
    }
}
