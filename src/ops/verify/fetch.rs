//! The network half of `verify`: one TLS handshake that captures the presented chain.
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use crate::ops::{Error, Result};

/// Accepts any chain but records it. The handshake signature is still verified with the
/// provider's algorithms, so a captured chain always belongs to a server holding its key.
#[derive(Debug)]
struct Recorder {
    provider: Arc<CryptoProvider>,
    chain: Mutex<Option<Vec<Vec<u8>>>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.to_vec())
            .collect();
        if let Ok(mut slot) = self.chain.lock() {
            *slot = Some(chain);
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
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

/// Splits `HOST:PORT` (`[v6]:PORT`) into host and port.
pub fn parse_address(address: &str) -> Result<(String, u16)> {
    let bad = |detail: &str| Error::InvalidArgument {
        flag: "HOST:PORT",
        detail: format!("{address:?}: {detail}"),
    };
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| bad("no port (want HOST:PORT)"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("empty host"));
    }
    let port = port
        .parse::<u16>()
        .map_err(|_| bad("port is not a number from 1 to 65535"))?;
    if port == 0 {
        return Err(bad("port is not a number from 1 to 65535"));
    }
    Ok((host.to_string(), port))
}

/// Connects and captures the chain the server presents for `server_name` (sent as SNI
/// unless it is an IP address). A handshake that fails after the certificate message (the
/// server wants a client certificate, say) still yields the chain it sent.
pub fn fetch_chain(address: &str, server_name: &str, timeout: Duration) -> Result<Vec<Vec<u8>>> {
    let (host, port) = parse_address(address)?;
    let connect_err = |detail: String| Error::Connect {
        address: address.to_string(),
        detail,
    };
    let addrs: Vec<_> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| connect_err(e.to_string()))?
        .collect();
    let mut last = String::from("no address");
    let mut sock = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                sock = Some(s);
                break;
            }
            Err(e) => last = e.to_string(),
        }
    }
    let mut sock = sock.ok_or_else(|| connect_err(last))?;
    sock.set_read_timeout(Some(timeout))
        .and_then(|_| sock.set_write_timeout(Some(timeout)))
        .map_err(|e| connect_err(e.to_string()))?;

    let hs_err = |detail: String| Error::Handshake {
        address: address.to_string(),
        detail,
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let recorder = Arc::new(Recorder {
        provider: provider.clone(),
        chain: Mutex::new(None),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| hs_err(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    let name =
        ServerName::try_from(server_name.to_string()).map_err(|_| Error::InvalidArgument {
            flag: "--servername",
            detail: format!("{server_name:?} is not a DNS name or IP address"),
        })?;
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| hs_err(e.to_string()))?;
    let mut outcome = Ok(());
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut sock) {
            outcome = Err(e);
            break;
        }
    }
    // Be polite: a close_notify, ignoring failures (the analysis does not depend on it).
    conn.send_close_notify();
    let _ = conn.complete_io(&mut sock);
    let _ = sock.flush();
    let captured = recorder.chain.lock().ok().and_then(|mut c| c.take());
    match (captured, outcome) {
        (Some(chain), _) => Ok(chain),
        (None, Err(e)) => Err(hs_err(e.to_string())),
        (None, Ok(())) => Err(hs_err("the server presented no certificate".into())),
    }
}
