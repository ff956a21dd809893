//! The ACME operations: directory, nonces, account registration, orders, authorizations,
//! challenges, finalization and certificate download (RFC 8555 sections 7.1-7.4).
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Method;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Error;
use super::http::{HttpClient, Response};
use super::jws::{self, AccountKey};
use super::types::{
    Authorization, Challenge, DirectoryDoc, Identifier, Order, Problem, RenewalInfo,
};

/// How often a request is re-signed with a fresh nonce after `badNonce`. The server hands
/// a new nonce with each rejection, so more than a few in a row means something else is wrong.
const BAD_NONCE_RETRIES: usize = 5;
/// Nonces kept for reuse; more would only go stale.
const NONCE_POOL: usize = 16;
/// The longest `Retry-After` honoured, so a broken server cannot park an order for a day.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// One ACME server: its directory and a pool of unused nonces.
pub struct Directory {
    http: HttpClient,
    url: String,
    doc: DirectoryDoc,
    nonces: Mutex<Vec<String>>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Directory {
    /// Reads the directory at `url`.
    pub async fn fetch(http: HttpClient, url: &str) -> Result<Arc<Self>, Error> {
        let rsp = http.send(Method::GET, url, None, Vec::new()).await?;
        let doc: DirectoryDoc = parse(url, check(url, rsp)?)?;
        Ok(Arc::new(Directory {
            http,
            url: url.to_string(),
            doc,
            nonces: Mutex::new(Vec::new()),
        }))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the server demands an external account binding to register.
    pub fn external_account_required(&self) -> bool {
        self.doc
            .meta
            .as_ref()
            .and_then(|m| m.external_account_required)
            .unwrap_or(false)
    }

    /// The certificate profiles the server offers (ACME profiles extension).
    pub fn profiles(&self) -> Vec<String> {
        self.doc
            .meta
            .as_ref()
            .and_then(|m| m.profiles.as_ref())
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether the server offers renewal information (RFC 9773): only then may a client ask
    /// for it or send `replaces` in a new order.
    pub fn offers_renewal_info(&self) -> bool {
        self.doc.renewal_info.is_some()
    }

    /// The renewal information of the certificate `cert_id` (an RFC 9773 certificate
    /// identifier), with the server's `Retry-After` (how long until asking again) as sent.
    /// An unauthenticated GET. Fails with [`Error::Protocol`] when the server offers no
    /// renewal information.
    pub async fn renewal_info(
        &self,
        cert_id: &str,
    ) -> Result<(RenewalInfo, Option<Duration>), Error> {
        let base = self
            .doc
            .renewal_info
            .as_deref()
            .ok_or_else(|| Error::Protocol {
                url: self.url.clone(),
                detail: "the directory offers no renewalInfo".into(),
            })?;
        let url = format!("{}/{cert_id}", base.trim_end_matches('/'));
        let rsp = self.http.send(Method::GET, &url, None, Vec::new()).await?;
        let rsp = check(&url, rsp)?;
        let retry = rsp
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Ok((parse(&url, rsp)?, retry))
    }

    async fn nonce(&self) -> Result<String, Error> {
        if let Some(n) = self.nonces.lock().ok().and_then(|mut p| p.pop()) {
            return Ok(n);
        }
        let url = &self.doc.new_nonce;
        let rsp = self.http.send(Method::HEAD, url, None, Vec::new()).await?;
        rsp.header("replay-nonce")
            .map(str::to_string)
            .ok_or_else(|| Error::Protocol {
                url: url.clone(),
                detail: "newNonce answered without a Replay-Nonce header".into(),
            })
    }

    fn keep_nonce(&self, rsp: &Response) {
        if let (Some(n), Ok(mut pool)) = (rsp.header("replay-nonce"), self.nonces.lock()) {
            if pool.len() >= NONCE_POOL {
                pool.remove(0);
            }
            pool.push(n.to_string());
        }
    }

    /// A signed POST (or POST-as-GET when `payload` is None), re-signed with a fresh nonce on
    /// `badNonce` as RFC 8555 section 6.5 asks of clients.
    async fn post(
        &self,
        key: &AccountKey,
        kid: Option<&str>,
        url: &str,
        payload: Option<&Value>,
    ) -> Result<Response, Error> {
        let mut attempt = 0;
        loop {
            let nonce = self.nonce().await?;
            let body = key.sign(url, &nonce, kid, payload)?;
            let rsp = self
                .http
                .send(
                    Method::POST,
                    url,
                    Some("application/jose+json"),
                    body.to_string().into_bytes(),
                )
                .await?;
            self.keep_nonce(&rsp);
            match check(url, rsp) {
                Err(e) if e.problem_type() == Some("badNonce") && attempt < BAD_NONCE_RETRIES => {
                    attempt += 1;
                    tracing::debug!(url, attempt, "badNonce; retrying with a fresh nonce");
                }
                other => return other,
            }
        }
    }
}

/// A registered account: the key and its account URL (the JWS `kid`).
#[derive(Clone)]
pub struct Account {
    dir: Arc<Directory>,
    key: Arc<AccountKey>,
    url: String,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// The external account binding credentials: key ID and the raw MAC key.
pub struct Eab<'a> {
    pub key_id: &'a str,
    pub mac_key: &'a [u8],
}

impl Account {
    /// Registers `key` (or finds the account it already has: newAccount is idempotent for a
    /// key), agreeing to the terms of service, and makes `contact` the account's contacts.
    pub async fn register(
        dir: Arc<Directory>,
        key: Arc<AccountKey>,
        contact: &[String],
        eab: Option<Eab<'_>>,
    ) -> Result<Account, Error> {
        let url = dir.doc.new_account.clone();
        let mut payload = json!({ "termsOfServiceAgreed": true, "contact": contact });
        if let Some(eab) = eab {
            payload["externalAccountBinding"] =
                jws::external_account_binding(key.jwk(), eab.key_id, eab.mac_key, &url);
        }
        let rsp = dir.post(&key, None, &url, Some(&payload)).await?;
        let existed = rsp.status == http::StatusCode::OK;
        let account_url = location(&url, &rsp)?;
        let body: Value = parse(&url, rsp)?;
        let account = Account {
            dir,
            key,
            url: account_url,
        };
        // An existing account keeps its old contacts: bring them up to date.
        let current: Vec<String> = body["contact"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if existed && current != contact {
            let upd = json!({ "contact": contact });
            account
                .dir
                .post(&account.key, Some(&account.url), &account.url, Some(&upd))
                .await?;
        }
        Ok(account)
    }

    /// The account URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn key(&self) -> &AccountKey {
        &self.key
    }

    pub fn directory(&self) -> &Directory {
        &self.dir
    }

    async fn post(&self, url: &str, payload: Option<&Value>) -> Result<Response, Error> {
        self.dir
            .post(&self.key, Some(&self.url), url, payload)
            .await
    }

    /// Creates an order; returns its URL and state.
    pub async fn new_order(
        &self,
        identifiers: &[Identifier],
        profile: Option<&str>,
        not_after: Option<&str>,
    ) -> Result<(String, Order), Error> {
        let opts = NewOrder {
            profile,
            not_after,
            ..NewOrder::default()
        };
        self.new_order_with(identifiers, &opts).await
    }

    /// Creates an order with every optional member of the request; returns its URL and state.
    pub async fn new_order_with(
        &self,
        identifiers: &[Identifier],
        opts: &NewOrder<'_>,
    ) -> Result<(String, Order), Error> {
        let url = self.dir.doc.new_order.clone();
        let payload = opts.payload(identifiers);
        let rsp = self.post(&url, Some(&payload)).await?;
        let order_url = location(&url, &rsp)?;
        Ok((order_url, parse(&url, rsp)?))
    }

    /// Reads an order, with the server's `Retry-After` hint.
    pub async fn order(&self, url: &str) -> Result<(Order, Option<Duration>), Error> {
        let rsp = self.post(url, None).await?;
        let retry = retry_after(&rsp);
        Ok((parse(url, rsp)?, retry))
    }

    /// Reads an authorization, with the server's `Retry-After` hint.
    pub async fn authorization(
        &self,
        url: &str,
    ) -> Result<(Authorization, Option<Duration>), Error> {
        let rsp = self.post(url, None).await?;
        let retry = retry_after(&rsp);
        Ok((parse(url, rsp)?, retry))
    }

    /// Tells the server the challenge is ready to be validated (an empty JSON object).
    pub async fn accept(&self, challenge_url: &str) -> Result<Challenge, Error> {
        let rsp = self.post(challenge_url, Some(&json!({}))).await?;
        parse(challenge_url, rsp)
    }

    /// Finalizes a ready order with the DER CSR.
    pub async fn finalize(&self, finalize_url: &str, csr_der: &[u8]) -> Result<Order, Error> {
        let payload = json!({ "csr": jws::b64(csr_der) });
        let rsp = self.post(finalize_url, Some(&payload)).await?;
        parse(finalize_url, rsp)
    }

    /// Downloads the certificate chain (PEM, leaf first) and the URLs of alternate chains the
    /// server offers (`Link: <url>;rel="alternate"`).
    pub async fn certificate(&self, url: &str) -> Result<(String, Vec<String>), Error> {
        let rsp = self.post(url, None).await?;
        let alternates = rsp
            .headers
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(alternate_link)
            .collect();
        let pem = String::from_utf8(rsp.body.to_vec()).map_err(|_| Error::Protocol {
            url: url.to_string(),
            detail: "certificate is not UTF-8 PEM".into(),
        })?;
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err(Error::Protocol {
                url: url.to_string(),
                detail: "certificate download holds no PEM certificate".into(),
            });
        }
        Ok((pem, alternates))
    }
}

/// The optional members of a newOrder request (RFC 8555 section 7.4, RFC 9773 section 5,
/// the ACME profiles extension). Absent members are not sent at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NewOrder<'a> {
    /// Certificate profile.
    pub profile: Option<&'a str>,
    /// Requested start of validity, RFC 3339.
    pub not_before: Option<&'a str>,
    /// Requested end of validity, RFC 3339.
    pub not_after: Option<&'a str>,
    /// The RFC 9773 identifier of the certificate this order replaces.
    pub replaces: Option<&'a str>,
}

impl NewOrder<'_> {
    /// The request body.
    pub fn payload(&self, identifiers: &[Identifier]) -> Value {
        let mut payload = json!({ "identifiers": identifiers });
        for (k, v) in [
            ("profile", self.profile),
            ("notBefore", self.not_before),
            ("notAfter", self.not_after),
            ("replaces", self.replaces),
        ] {
            if let Some(v) = v {
                payload[k] = json!(v);
            }
        }
        payload
    }
}

/// Turns an error status into [`Error::Server`] (with the problem document when there is one).
fn check(url: &str, rsp: Response) -> Result<Response, Error> {
    if rsp.status.is_success() {
        return Ok(rsp);
    }
    let problem = serde_json::from_slice::<Problem>(&rsp.body).unwrap_or_else(|_| Problem {
        kind: None,
        detail: Some(format!(
            "HTTP {} from {url}: {}",
            rsp.status,
            String::from_utf8_lossy(&rsp.body[..rsp.body.len().min(200)])
        )),
        subproblems: Vec::new(),
    });
    Err(Error::Server {
        status: rsp.status.as_u16(),
        problem,
    })
}

fn parse<T: DeserializeOwned>(url: &str, rsp: Response) -> Result<T, Error> {
    serde_json::from_slice(&rsp.body).map_err(|e| Error::Protocol {
        url: url.to_string(),
        detail: format!("unreadable JSON: {e}"),
    })
}

fn location(url: &str, rsp: &Response) -> Result<String, Error> {
    rsp.header("location")
        .map(str::to_string)
        .ok_or_else(|| Error::Protocol {
            url: url.to_string(),
            detail: "no Location header".into(),
        })
}

/// `Retry-After` in seconds (the HTTP-date form is rare for ACME and treated as absent).
fn retry_after(rsp: &Response) -> Option<Duration> {
    let secs: u64 = rsp.header("retry-after")?.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// The URL of one `Link` value when its relation is `alternate`.
fn alternate_link(link: &str) -> Option<String> {
    let (target, params) = link.trim().split_once(';')?;
    let is_alternate = params.split(';').any(|p| {
        let p = p.trim().replace(' ', "");
        p == "rel=\"alternate\"" || p == "rel=alternate"
    });
    let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
    is_alternate.then(|| target.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternate_links_are_picked_from_link_headers() {
        assert_eq!(
            alternate_link(r#"<https://ca/cert/1/1>;rel="alternate""#).as_deref(),
            Some("https://ca/cert/1/1")
        );
        assert_eq!(alternate_link(r#" <https://ca/dir>; rel="index""#), None);
        assert_eq!(alternate_link("garbage"), None);
    }

    #[test]
    fn new_order_sends_only_the_members_it_has() {
        let ids = [Identifier::dns("a.test")];
        let bare = NewOrder::default().payload(&ids);
        assert_eq!(
            bare,
            json!({ "identifiers": [{ "type": "dns", "value": "a.test" }] })
        );
        let full = NewOrder {
            profile: Some("shortlived"),
            not_before: Some("2026-01-01T00:00:00Z"),
            not_after: Some("2026-01-02T00:00:00Z"),
            replaces: Some("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"),
        }
        .payload(&ids);
        assert_eq!(full["profile"], "shortlived");
        assert_eq!(full["notBefore"], "2026-01-01T00:00:00Z");
        assert_eq!(full["notAfter"], "2026-01-02T00:00:00Z");
        assert_eq!(full["replaces"], "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    }

    #[test]
    fn error_statuses_become_problems() {
        let rsp = Response {
            status: http::StatusCode::BAD_REQUEST,
            headers: Default::default(),
            body: r#"{"type":"urn:ietf:params:acme:error:badNonce","detail":"stale"}"#.into(),
        };
        let e = check("https://ca/x", rsp).unwrap_err();
        assert_eq!(e.problem_type(), Some("badNonce"));
        assert!(e.is_transient());
        let rsp = Response {
            status: http::StatusCode::FORBIDDEN,
            headers: Default::default(),
            body: "<html>no</html>".into(),
        };
        let e = check("https://ca/x", rsp).unwrap_err();
        assert!(!e.is_transient());
        assert!(e.to_string().contains("HTTP 403"), "{e}");
    }
}
