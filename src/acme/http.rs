//! HTTPS to the ACME server: hyper's pooled client over rustls (aws-lc-rs), trusting the
//! system roots, an Issuer's `caBundle`, or (with `skipTLSVerify`) nothing at all.
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::Error;

/// Which certificates the client trusts for the ACME server's TLS.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Trust {
    /// The machine's trust store.
    System,
    /// Exactly the CAs of this PEM bundle (an Issuer's `caBundle`).
    Bundle(Vec<u8>),
    /// Any certificate (an Issuer's `skipTLSVerify`): for development servers only.
    Insecure,
}

/// Largest response body accepted: certificates chains and problem documents are a few KB.
const MAX_BODY: usize = 1 << 20;
/// How long one request may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A response with its body read.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A pooled HTTPS client for one trust setting.
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpClient {
    pub fn new(trust: &Trust) -> Result<Self, Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?;
        let config = match trust {
            Trust::Insecure => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate { provider }))
                .with_no_client_auth(),
            Trust::Bundle(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                let blocks =
                    ::pem::parse_many(pem).map_err(|e| Error::Tls(format!("caBundle: {e}")))?;
                for b in blocks.into_iter().filter(|b| b.tag() == "CERTIFICATE") {
                    roots
                        .add(CertificateDer::from(b.into_contents()))
                        .map_err(|e| Error::Tls(format!("caBundle: {e}")))?;
                }
                if roots.is_empty() {
                    return Err(Error::Tls("caBundle holds no PEM certificate".into()));
                }
                builder.with_root_certificates(roots).with_no_client_auth()
            }
            Trust::System => {
                let mut roots = rustls::RootCertStore::empty();
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
                builder.with_root_certificates(roots).with_no_client_auth()
            }
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(HttpClient {
            inner: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build(https),
        })
    }

    /// Sends one request and reads the whole (bounded) body.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Response, Error> {
        let transport = |detail: String| Error::Transport {
            url: url.to_string(),
            detail,
        };
        let mut req = Request::builder().method(method).uri(url).header(
            "user-agent",
            concat!("certwright/", env!("CARGO_PKG_VERSION")),
        );
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Error::Protocol {
                url: url.to_string(),
                detail: format!("bad request URL: {e}"),
            })?;
        let work = async {
            let rsp = self.inner.request(req).await.map_err(|e| {
                // The source chain carries the useful part (connection refused, TLS alert).
                let mut detail = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    detail = format!("{detail}: {s}");
                    src = s.source();
                }
                transport(detail)
            })?;
            let (parts, body) = rsp.into_parts();
            let body = Limited::new(body, MAX_BODY)
                .collect()
                .await
                .map_err(|e| transport(format!("reading the response: {e}")))?
                .to_bytes();
            Ok(Response {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(TIMEOUT, work)
            .await
            .map_err(|_| transport(format!("no answer within {TIMEOUT:?}")))?
    }
}

/// Accepts any server certificate; the handshake signature is still checked, so the peer
/// holds the key of the certificate it shows.
#[derive(Debug)]
struct AnyCertificate {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
