//! JSON Web Signatures for ACME (RFC 8555 section 6.2, RFC 7515 flattened JSON): the account
//! key as a JWK, its RFC 7638 thumbprint, and signing of request bodies.
//!
//! Account keys are RSA (RS256), ECDSA P-256 (ES256) or P-384 (ES384): what ACME servers accept
//! and what cert-manager's own account Secrets hold, so an account registered by cert-manager
//! keeps working. ECDSA signatures are the fixed-width `r || s` JWS wants, not X.509's DER.
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
    KeyPair as _, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::Error;
use crate::pki::{KeyEncoding, KeySpec, PrivateKey};

/// base64url without padding, the only base64 JOSE uses.
pub fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

enum Inner {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
}

/// An ACME account key able to sign requests.
pub struct AccountKey {
    inner: Inner,
    alg: &'static str,
    jwk: Value,
    thumbprint: String,
}

impl std::fmt::Debug for AccountKey {
    // Key material never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountKey")
            .field("alg", &self.alg)
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

impl AccountKey {
    /// Loads an account key from PEM (PKCS#1, PKCS#8 or SEC1). Fails with
    /// [`Error::AccountKey`] for Ed25519 and P-521 keys, which ACME servers do not take.
    pub fn from_pem(pem: &[u8]) -> Result<Self, Error> {
        let key = PrivateKey::from_pem(pem).map_err(|e| Error::AccountKey(e.to_string()))?;
        Self::from_private_key(&key)
    }

    pub fn from_private_key(key: &PrivateKey) -> Result<Self, Error> {
        let bad = |e: &dyn std::fmt::Display| Error::AccountKey(e.to_string());
        let pkcs8_pem = key.to_pem(KeyEncoding::Pkcs8).map_err(|e| bad(&e))?;
        let block = ::pem::parse(pkcs8_pem.as_bytes()).map_err(|e| bad(&e))?;
        let der = zeroize::Zeroizing::new(block.into_contents());
        let (inner, alg, jwk) = match key.spec() {
            KeySpec::Rsa { .. } => {
                let kp = RsaKeyPair::from_pkcs8(&der).map_err(|e| bad(&e))?;
                let (n, e) = rsa_public_components(kp.public_key().as_ref())?;
                let jwk = json!({ "e": b64(&e), "kty": "RSA", "n": b64(&n) });
                (Inner::Rsa(kp), "RS256", jwk)
            }
            spec @ (KeySpec::EcdsaP256 | KeySpec::EcdsaP384) => {
                let (alg, crv, jalg) = if spec == KeySpec::EcdsaP256 {
                    (&ECDSA_P256_SHA256_FIXED_SIGNING, "P-256", "ES256")
                } else {
                    (&ECDSA_P384_SHA384_FIXED_SIGNING, "P-384", "ES384")
                };
                let kp = EcdsaKeyPair::from_pkcs8(alg, &der).map_err(|e| bad(&e))?;
                // Uncompressed point: 0x04 || X || Y, each half the rest.
                let point = kp.public_key().as_ref();
                let half = (point.len() - 1) / 2;
                let jwk = json!({
                    "crv": crv,
                    "kty": "EC",
                    "x": b64(&point[1..1 + half]),
                    "y": b64(&point[1 + half..]),
                });
                (Inner::Ecdsa(kp), jalg, jwk)
            }
            other => {
                return Err(Error::AccountKey(format!(
                    "{other} keys cannot be ACME account keys; use RSA, ECDSA P-256 or P-384"
                )));
            }
        };
        let thumbprint = thumbprint(&jwk);
        Ok(AccountKey {
            inner,
            alg,
            jwk,
            thumbprint,
        })
    }

    /// Generates a new ECDSA P-256 account key: small signatures, fast to make, and accepted by
    /// every ACME server and by cert-manager should the Secret go back to it.
    pub fn generate() -> Result<(Self, zeroize::Zeroizing<String>), Error> {
        let key = PrivateKey::generate(KeySpec::EcdsaP256)
            .map_err(|e| Error::AccountKey(e.to_string()))?;
        let pem = key
            .to_pem(KeyEncoding::Pkcs1)
            .map_err(|e| Error::AccountKey(e.to_string()))?;
        Ok((Self::from_private_key(&key)?, pem))
    }

    /// The public key as a JWK (members in RFC 7638 order).
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// The RFC 7638 SHA-256 thumbprint of the JWK, base64url.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The key authorization for a challenge token (RFC 8555 section 8.1).
    pub fn key_authorization(&self, token: &str) -> String {
        format!("{token}.{}", self.thumbprint)
    }

    /// Signs `payload` (None: POST-as-GET, an empty payload) for `url`, identified by `kid`
    /// (the account URL) or, before the account exists, by the JWK.
    pub fn sign(
        &self,
        url: &str,
        nonce: &str,
        kid: Option<&str>,
        payload: Option<&Value>,
    ) -> Result<Value, Error> {
        let mut protected = json!({ "alg": self.alg, "nonce": nonce, "url": url });
        match kid {
            Some(kid) => protected["kid"] = json!(kid),
            None => protected["jwk"] = self.jwk.clone(),
        }
        let protected = b64(protected.to_string().as_bytes());
        let payload = payload
            .map(|p| b64(p.to_string().as_bytes()))
            .unwrap_or_default();
        let signing_input = format!("{protected}.{payload}");
        let rng = SystemRandom::new();
        let sig = match &self.inner {
            Inner::Rsa(kp) => {
                let mut sig = vec![0; kp.public_modulus_len()];
                kp.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &rng,
                    signing_input.as_bytes(),
                    &mut sig,
                )
                .map_err(|_| Error::AccountKey("RSA signing failed".into()))?;
                sig
            }
            Inner::Ecdsa(kp) => kp
                .sign(&rng, signing_input.as_bytes())
                .map_err(|_| Error::AccountKey("ECDSA signing failed".into()))?
                .as_ref()
                .to_vec(),
        };
        Ok(json!({ "protected": protected, "payload": payload, "signature": b64(&sig) }))
    }
}

/// The RFC 7638 thumbprint of a JWK: SHA-256 over its required members, sorted, no spaces.
/// serde_json's map is ordered by key (no `preserve_order` feature), which is exactly the
/// canonical form.
pub fn thumbprint(jwk: &Value) -> String {
    let canonical = match jwk["kty"].as_str() {
        Some("RSA") => json!({ "e": jwk["e"], "kty": "RSA", "n": jwk["n"] }),
        _ => json!({ "crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"] }),
    };
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.to_string().as_bytes());
    b64(digest.as_ref())
}

/// The external account binding (RFC 8555 section 7.3.4): the account JWK signed with the
/// CA-issued MAC key (HS256), carried inside the newAccount payload.
pub fn external_account_binding(
    jwk: &Value,
    key_id: &str,
    mac_key: &[u8],
    new_account_url: &str,
) -> Value {
    let protected = b64(
        json!({ "alg": "HS256", "kid": key_id, "url": new_account_url })
            .to_string()
            .as_bytes(),
    );
    let payload = b64(jwk.to_string().as_bytes());
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, mac_key);
    let tag = aws_lc_rs::hmac::sign(&key, format!("{protected}.{payload}").as_bytes());
    json!({ "protected": protected, "payload": payload, "signature": b64(tag.as_ref()) })
}

/// Splits a DER RSAPublicKey (SEQUENCE { modulus, publicExponent }) into its big-endian
/// integers without leading zero bytes, as JWK's `n` and `e` want them.
fn rsa_public_components(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let parsed = yasna::parse_der(der, |r| {
        r.read_sequence(|r| {
            let (n, _) = r.next().read_bigint_bytes()?;
            let (e, _) = r.next().read_bigint_bytes()?;
            Ok((n, e))
        })
    });
    let (n, e) = parsed.map_err(|e| Error::AccountKey(format!("RSA public key: {e}")))?;
    let strip = |v: Vec<u8>| {
        let start = v.iter().position(|b| *b != 0).unwrap_or(v.len());
        v[start..].to_vec()
    };
    Ok((strip(n), strip(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_thumbprint_example() {
        // The RSA key of RFC 7638 section 3.1 and the thumbprint the RFC gives for it.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(&jwk),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    fn verify(jws: &Value, key: &AccountKey) {
        let input = format!(
            "{}.{}",
            jws["protected"].as_str().unwrap(),
            jws["payload"].as_str().unwrap()
        );
        let sig = URL_SAFE_NO_PAD
            .decode(jws["signature"].as_str().unwrap())
            .unwrap();
        let (alg, public): (&dyn signature::VerificationAlgorithm, Vec<u8>) = match &key.inner {
            Inner::Rsa(kp) => (
                &signature::RSA_PKCS1_2048_8192_SHA256,
                kp.public_key().as_ref().to_vec(),
            ),
            Inner::Ecdsa(kp) => (
                if key.alg == "ES256" {
                    &signature::ECDSA_P256_SHA256_FIXED
                } else {
                    &signature::ECDSA_P384_SHA384_FIXED
                },
                kp.public_key().as_ref().to_vec(),
            ),
        };
        signature::UnparsedPublicKey::new(alg, public)
            .verify(input.as_bytes(), &sig)
            .expect("signature verifies with the public key");
    }

    #[test]
    fn signs_verifiably_with_each_supported_key_type() {
        for spec in [
            KeySpec::EcdsaP256,
            KeySpec::EcdsaP384,
            KeySpec::Rsa { bits: 2048 },
        ] {
            let pk = PrivateKey::generate(spec).unwrap();
            let pem = pk.to_pem(KeyEncoding::Pkcs1).unwrap();
            let key = AccountKey::from_pem(pem.as_bytes()).unwrap();
            let body = json!({ "termsOfServiceAgreed": true });
            let jws = key
                .sign("https://ca/new-acct", "n0nce", None, Some(&body))
                .unwrap();
            verify(&jws, &key);
            let protected: Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(jws["protected"].as_str().unwrap())
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(protected["nonce"], "n0nce");
            assert_eq!(protected["jwk"], *key.jwk());
            assert!(protected.get("kid").is_none());
            // POST-as-GET: an empty payload, and the kid instead of the JWK.
            let get = key
                .sign("https://ca/order/1", "n2", Some("https://ca/acct/1"), None)
                .unwrap();
            assert_eq!(get["payload"], "");
            verify(&get, &key);
        }
    }

    #[test]
    fn refuses_keys_acme_servers_do_not_take() {
        let pk = PrivateKey::generate(KeySpec::Ed25519).unwrap();
        let pem = pk.to_pem(KeyEncoding::Pkcs8).unwrap();
        let e = AccountKey::from_pem(pem.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("cannot be ACME account keys"), "{e}");
        assert!(AccountKey::from_pem(b"not a key").is_err());
    }

    #[test]
    fn key_authorization_is_token_dot_thumbprint() {
        let (key, _) = AccountKey::generate().unwrap();
        let ka = key.key_authorization("tok");
        assert_eq!(ka, format!("tok.{}", key.thumbprint()));
        assert_eq!(key.thumbprint().len(), 43);
    }

    #[test]
    fn eab_is_an_hs256_jws_over_the_account_jwk() {
        let (key, _) = AccountKey::generate().unwrap();
        let eab = external_account_binding(key.jwk(), "kid-1", b"secret", "https://ca/new-acct");
        let payload: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(eab["payload"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(&payload, key.jwk());
        let input = format!(
            "{}.{}",
            eab["protected"].as_str().unwrap(),
            eab["payload"].as_str().unwrap()
        );
        let mac = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"secret");
        let sig = URL_SAFE_NO_PAD
            .decode(eab["signature"].as_str().unwrap())
            .unwrap();
        aws_lc_rs::hmac::verify(&mac, input.as_bytes(), &sig).unwrap();
    }
}
