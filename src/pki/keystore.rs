//! Keystores for Java and other PKCS#12 consumers: `keystore.p12` / `truststore.p12` and
//! `keystore.jks` / `truststore.jks`, with the contents cert-manager puts in them.
//!
//! - A **keystore** holds the private key with its chain (leaf first, then the intermediates,
//!   then the CA when one is known). The JKS keystore also carries the CA as a trusted entry
//!   named `ca`, as cert-manager's does.
//! - A **truststore** holds only the CA certificate(s), marked trusted (the Oracle trusted-usage
//!   attribute in PKCS#12, a trusted-certificate entry named `ca` in JKS).
//!
//! The bytes differ on every call (random salts), so callers must write keystores only when
//! the certificate or the keystore settings change, never to "refresh" them.
//!
//! PKCS#12 is written by the `p12-keystore` crate, JKS by the `jks` crate. The `LegacyRC2`
//! profile needs one thing `p12-keystore` cannot do alone: RC2-40 for the certificates but
//! 3DES for the key (one algorithm for both would leave the key under a 40-bit cipher). That
//! file is assembled from two writes, see [`pkcs12_keystore`].
use std::time::SystemTime;

use p12_keystore::{
    EncryptionAlgorithm, KeyStore, KeyStoreEntry, LocalKeyId, MacAlgorithm, PrivateKeyChain,
};

use super::error::{Error, Result};
use super::keys::PrivateKey;
use super::pem;

/// The algorithms that protect a PKCS#12 file, by cert-manager's profile names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Pkcs12Profile {
    /// RC2-40 for certificates, 3DES for the key, HMAC-SHA-1: what pre-2023 Java and Windows
    /// read. OpenSSL 3 reads it only with `-legacy`. cert-manager's default.
    #[default]
    LegacyRc2,
    /// 3DES for certificates and key, HMAC-SHA-1: readable by nearly everything.
    LegacyDes,
    /// PBES2 (PBKDF2-HMAC-SHA-256, AES-256-CBC) and HMAC-SHA-256.
    Modern2023,
}

/// Iterations of the key derivations, as the Java and Go writers use for these profiles.
const ITERATIONS: u32 = 2048;
/// Alias of the CA entry, in keystores and truststores alike (cert-manager's name).
pub const CA_ALIAS: &str = "ca";
/// Default alias of the key entry (cert-manager's `keystores.jks.alias` default).
pub const DEFAULT_KEY_ALIAS: &str = "certificate";

/// What goes into a keystore: the key, its chain (leaf first) and the CA, as PEM.
pub struct KeystoreInput<'a> {
    pub key: &'a PrivateKey,
    /// `tls.crt`: leaf then intermediates.
    pub chain_pem: &'a [u8],
    /// `ca.crt`, when known.
    pub ca_pem: Option<&'a [u8]>,
}

fn certs_der(pem_input: &[u8], what: &'static str) -> Result<Vec<Vec<u8>>> {
    Ok(pem::parse_all(pem_input, what)?
        .into_iter()
        .filter(|b| b.tag() == pem::CERTIFICATE)
        .map(|b| b.into_contents())
        .collect())
}

fn ca_ders(input: &KeystoreInput<'_>) -> Result<Vec<Vec<u8>>> {
    match input
        .ca_pem
        .filter(|c| !c.iter().all(u8::is_ascii_whitespace))
    {
        Some(ca) => certs_der(ca, "ca.crt"),
        None => Ok(Vec::new()),
    }
}

fn p12_err(e: p12_keystore::error::Error) -> Error {
    Error::encoding("PKCS#12 keystore", e)
}

fn p12_cert(der: &[u8]) -> Result<p12_keystore::Certificate> {
    p12_keystore::Certificate::from_der(der).map_err(p12_err)
}

fn write_p12(
    store: &KeyStore,
    password: &str,
    enc: EncryptionAlgorithm,
    mac: MacAlgorithm,
) -> Result<Vec<u8>> {
    store
        .writer(password)
        .encryption_algorithm(enc)
        .encryption_iterations(ITERATIONS)
        .mac_algorithm(mac)
        .mac_iterations(ITERATIONS)
        .write()
        .map_err(p12_err)
}

fn write_profile(store: &KeyStore, password: &str, profile: Pkcs12Profile) -> Result<Vec<u8>> {
    match profile {
        Pkcs12Profile::Modern2023 => write_p12(
            store,
            password,
            EncryptionAlgorithm::PbeWithHmacSha256AndAes256,
            MacAlgorithm::HmacSha256,
        ),
        Pkcs12Profile::LegacyDes => write_p12(
            store,
            password,
            EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
            MacAlgorithm::HmacSha1,
        ),
        Pkcs12Profile::LegacyRc2 => {
            // The crate names RC2-40 "Rc4" but writes the RC2-40 OID (1.2.840.113549.1.12.1.6).
            let rc2 = write_p12(
                store,
                password,
                EncryptionAlgorithm::PbeWithShaAnd40BitRc4Cbc,
                MacAlgorithm::HmacSha1,
            )?;
            let des = write_p12(
                store,
                password,
                EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
                MacAlgorithm::HmacSha1,
            )?;
            legacy_rc2::splice(&rc2, &des, password)
        }
    }
}

/// `keystore.p12`: the key and its chain, then the CA. Fails on an empty password (PKCS#12
/// readers treat an empty password inconsistently; the API requires one anyway).
pub fn pkcs12_keystore(
    input: &KeystoreInput<'_>,
    password: &str,
    profile: Pkcs12Profile,
) -> Result<Vec<u8>> {
    check_password(password)?;
    let mut chain = certs_der(input.chain_pem, "tls.crt")?;
    chain.extend(ca_ders(input)?);
    let certs = chain
        .iter()
        .map(|d| p12_cert(d))
        .collect::<Result<Vec<_>>>()?;
    let key = p12_keystore::PrivateKey::from_der(input.key.pkcs8_der()).map_err(p12_err)?;
    // The localKeyId ties the key bag to its certificate bag; any stable value will do, the
    // leaf's key identifier is what Java uses.
    let key_id = super::der::key_id(input.key.public_key_raw());
    let mut store = KeyStore::new();
    store.add_entry(
        DEFAULT_KEY_ALIAS,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(LocalKeyId(key_id), key, certs)),
    );
    write_profile(&store, password, profile)
}

/// `truststore.p12`: the CA certificate(s) as trusted entries. `None` when no CA is known.
pub fn pkcs12_truststore(
    input: &KeystoreInput<'_>,
    password: &str,
    profile: Pkcs12Profile,
) -> Result<Option<Vec<u8>>> {
    check_password(password)?;
    let cas = ca_ders(input)?;
    if cas.is_empty() {
        return Ok(None);
    }
    let mut store = KeyStore::new();
    for (i, der) in cas.iter().enumerate() {
        store.add_entry(&ca_alias(i), KeyStoreEntry::Certificate(p12_cert(der)?));
    }
    write_profile(&store, password, profile).map(Some)
}

fn ca_alias(i: usize) -> String {
    if i == 0 {
        CA_ALIAS.to_string()
    } else {
        format!("{CA_ALIAS}-{i}")
    }
}

fn check_password(password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(Error::field(
            "keystores.password",
            "the keystore password is empty",
        ));
    }
    Ok(())
}

fn jks_err(e: jks::KeyStoreError) -> Error {
    Error::encoding("JKS keystore", e)
}

/// JKS computes its digests over the password as Java chars (UTF-16BE); the crate's default
/// widens bytes one by one, which is only right for ASCII.
fn jks_password_bytes(password: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(password)
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect()
}

fn jks_store() -> jks::KeyStore {
    jks::KeyStore::with_options(jks::KeyStoreOptions {
        // Aliases as given (Java lower-cases them on load; writers may keep them).
        case_exact_aliases: true,
        ordered_aliases: true,
        // The API already refuses an empty password; any non-empty one is the user's call.
        min_password_len: 1,
        password_bytes: jks_password_bytes,
        ..Default::default()
    })
}

fn jks_cert(der: &[u8]) -> jks::Certificate {
    jks::Certificate {
        cert_type: "X509".to_string(),
        content: der.to_vec(),
    }
}

fn jks_add_cas(store: &mut jks::KeyStore, cas: &[Vec<u8>], created: SystemTime) -> Result<()> {
    for (i, der) in cas.iter().enumerate() {
        store
            .set_trusted_certificate_entry(
                &ca_alias(i),
                jks::TrustedCertificateEntry {
                    creation_time: created,
                    certificate: jks_cert(der),
                },
            )
            .map_err(jks_err)?;
    }
    Ok(())
}

/// Serialises the store. The crate computes the trailing integrity digest over the password
/// widened byte by byte (right for ASCII only), so the digest is recomputed here the way Java
/// does: SHA-1 over the password as UTF-16BE, "Mighty Aphrodite", then the body.
fn jks_bytes(store: &jks::KeyStore, password: &str) -> Result<Vec<u8>> {
    use aws_lc_rs::digest;
    let mut out = Vec::new();
    store
        .store(&mut out, password.as_bytes())
        .map_err(jks_err)?;
    let body_len = out
        .len()
        .checked_sub(20)
        .ok_or_else(|| Error::encoding("JKS keystore", "output shorter than its digest"))?;
    out.truncate(body_len);
    let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(&jks_password_bytes(password.as_bytes()));
    ctx.update(b"Mighty Aphrodite");
    ctx.update(&out);
    out.extend_from_slice(ctx.finish().as_ref());
    Ok(out)
}

/// `keystore.jks`: the key entry `alias` with its chain, plus the CA as trusted entry `ca`.
/// `created` is the entries' creation date (time is a parameter).
pub fn jks_keystore(
    input: &KeystoreInput<'_>,
    password: &str,
    alias: &str,
    created: SystemTime,
) -> Result<Vec<u8>> {
    check_password(password)?;
    if alias.is_empty() || alias == CA_ALIAS {
        return Err(Error::field(
            "keystores.jks.alias",
            format!("{alias:?} cannot name the key entry (empty, or the CA's alias)"),
        ));
    }
    let chain = certs_der(input.chain_pem, "tls.crt")?;
    let cas = ca_ders(input)?;
    let mut store = jks_store();
    store
        .set_private_key_entry(
            alias,
            jks::PrivateKeyEntry {
                creation_time: created,
                private_key: input.key.pkcs8_der().to_vec(),
                certificate_chain: chain.iter().map(|d| jks_cert(d)).collect(),
            },
            password.as_bytes(),
        )
        .map_err(jks_err)?;
    jks_add_cas(&mut store, &cas, created)?;
    jks_bytes(&store, password)
}

/// `truststore.jks`: the CA as trusted entry `ca`. `None` when no CA is known.
pub fn jks_truststore(
    input: &KeystoreInput<'_>,
    password: &str,
    created: SystemTime,
) -> Result<Option<Vec<u8>>> {
    check_password(password)?;
    let cas = ca_ders(input)?;
    if cas.is_empty() {
        return Ok(None);
    }
    let mut store = jks_store();
    jks_add_cas(&mut store, &cas, created)?;
    jks_bytes(&store, password).map(Some)
}

/// Assembling a LegacyRC2 file from two writes of the same store: the certificate safe of the
/// RC2 write and the key safe of the 3DES write, under a fresh HMAC-SHA-1 MAC (RFC 7292).
/// Both writes come from `p12-keystore` with the same password, so each safe decrypts on its
/// own; only the MAC, which covers both, has to be computed again.
mod legacy_rc2 {
    use aws_lc_rs::{digest, hmac, rand::SecureRandom};

    use super::{Error, ITERATIONS, Result};

    /// One DER element: (tag, contents, the whole element, what follows it).
    type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

    fn tlv(input: &[u8]) -> Option<Tlv<'_>> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (first as usize, rest)
        } else {
            let n = (first & 0x7f) as usize;
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n].iter().fold(0usize, |a, b| (a << 8) | *b as usize);
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        let header = input.len() - rest.len();
        Some((tag, &rest[..len], &input[..header + len], &rest[len..]))
    }

    fn children(mut input: &[u8]) -> Option<Vec<&[u8]>> {
        let mut out = Vec::new();
        while !input.is_empty() {
            let (_, _, whole, rest) = tlv(input)?;
            out.push(whole);
            input = rest;
        }
        Some(out)
    }

    /// The AuthenticatedSafe's ContentInfos of a PFX: `[certificates, keys]` as p12-keystore
    /// writes them.
    fn safes(pfx: &[u8]) -> Option<Vec<&[u8]>> {
        let (0x30, pfx, _, _) = tlv(pfx)? else {
            return None;
        };
        let parts = children(pfx)?;
        // version, authSafe ContentInfo { data OID, [0] { OCTET STRING } }, macData
        let (0x30, auth_safe, _, _) = tlv(parts.get(1)?)? else {
            return None;
        };
        let ci = children(auth_safe)?;
        let (0xa0, explicit, _, _) = tlv(ci.get(1)?)? else {
            return None;
        };
        let (0x04, octets, _, _) = tlv(explicit)? else {
            return None;
        };
        let (0x30, seq, _, _) = tlv(octets)? else {
            return None;
        };
        children(seq)
    }

    /// The PKCS#12 key derivation (RFC 7292 appendix B.2) with SHA-1, for the MAC key (ID 3):
    /// 20 bytes are one SHA-1 output, so one round and no block update is needed.
    fn mac_key(password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
        const V: usize = 64;
        let mut bmp: Vec<u8> = password.encode_utf16().flat_map(u16::to_be_bytes).collect();
        bmp.extend([0, 0]);
        let stretch = |s: &[u8]| -> Vec<u8> {
            if s.is_empty() {
                return Vec::new();
            }
            let len = V * s.len().div_ceil(V);
            s.iter().cycle().take(len).copied().collect()
        };
        let mut input = vec![3u8; V];
        input.extend(stretch(salt));
        input.extend(stretch(&bmp));
        let mut a = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &input);
        for _ in 1..iterations {
            a = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, a.as_ref());
        }
        a.as_ref().to_vec()
    }

    pub(super) fn splice(rc2: &[u8], des: &[u8], password: &str) -> Result<Vec<u8>> {
        let bad = || Error::encoding("PKCS#12 keystore", "unexpected PKCS#12 layout");
        let (certs, keys) = match (safes(rc2), safes(des)) {
            (Some(a), Some(b)) if a.len() == 2 && b.len() == 2 => (a[0], b[1]),
            _ => return Err(bad()),
        };
        let auth_safe = yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_der(certs);
                w.next().write_der(keys);
            })
        });
        let mut salt = [0u8; 8];
        aws_lc_rs::rand::SystemRandom::new()
            .fill(&mut salt)
            .map_err(|e| Error::encoding("PKCS#12 MAC salt", e))?;
        let key = hmac::Key::new(
            hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            &mac_key(password, &salt, ITERATIONS),
        );
        let mac = hmac::sign(&key, &auth_safe);
        let oid = |arcs: &[u64]| yasna::models::ObjectIdentifier::from_slice(arcs);
        Ok(yasna::construct_der(|w| {
            w.write_sequence(|w| {
                w.next().write_u8(3);
                w.next().write_sequence(|w| {
                    w.next().write_oid(&oid(&[1, 2, 840, 113549, 1, 7, 1]));
                    w.next()
                        .write_tagged(yasna::Tag::context(0), |w| w.write_bytes(&auth_safe));
                });
                w.next().write_sequence(|w| {
                    w.next().write_sequence(|w| {
                        w.next().write_sequence(|w| {
                            w.next().write_oid(&oid(&[1, 3, 14, 3, 2, 26]));
                            w.next().write_null();
                        });
                        w.next().write_bytes(mac.as_ref());
                    });
                    w.next().write_bytes(&salt);
                    w.next().write_u32(ITERATIONS);
                });
            })
        }))
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn tlv_walks_nested_elements() {
            let der = [0x30, 0x06, 0x02, 0x01, 0x03, 0x04, 0x01, 0xff];
            let (tag, inner, whole, rest) = super::tlv(&der).unwrap();
            assert_eq!((tag, whole.len(), rest.len()), (0x30, 8, 0));
            assert_eq!(super::children(inner).unwrap().len(), 2);
            assert!(super::tlv(&[0x30, 0x05, 0x00]).is_none(), "truncated");
        }
    }
}

#[cfg(test)]
#[path = "keystore/tests.rs"]
mod tests;
