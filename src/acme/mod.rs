//! A small RFC 8555 (ACME) client. No Kubernetes here: the controllers in
//! `controller::acme` drive it and keep its state in Order and Challenge resources.
//!
//! Why our own client rather than a crate: instant-acme (the best kept Rust one) signs only
//! with ECDSA P-256 account keys, so cert-manager's RSA account Secrets would not load; it
//! offers no alternate chains (`preferredChain`); and it hands out borrowed order/authorization
//! handles where a controller needs stateless calls by URL (the URLs live in the Order and
//! Challenge resources and must survive a restart). What remains is small: a JWS signer
//! ([`jws`]), a nonce pool with `badNonce` retry, and a handful of POSTs ([`client`]), on the
//! hyper + rustls stack kube already brings.
//!
//! Every call is one request (plus nonce and `badNonce` retries): no call waits for a state
//! change, so the controllers decide when to look again (honouring `Retry-After`).
pub mod client;
pub mod http;
pub mod jws;
pub mod types;

pub use client::{Account, Directory, NewOrder};
pub use http::{HttpClient, Trust};
pub use jws::AccountKey;
pub use types::{Authorization, Challenge, Identifier, Order, Problem, RenewalInfo, Status};

use thiserror::Error;

/// Why an ACME call failed. `reason()` is the stable word for conditions and Events.
#[derive(Debug, Error)]
pub enum Error {
    /// The server answered with an RFC 7807 problem document.
    #[error("ACME server error ({status}): {problem}")]
    Server { status: u16, problem: Problem },
    /// The server could not be reached or the connection failed (DNS, TCP, TLS).
    #[error("cannot reach the ACME server at {url}: {detail}")]
    Transport { url: String, detail: String },
    /// The server answered with something that is not what RFC 8555 says it sends.
    #[error("unexpected answer from the ACME server at {url}: {detail}")]
    Protocol { url: String, detail: String },
    /// The account key cannot be used (wrong type, unreadable).
    #[error("ACME account key: {0}")]
    AccountKey(String),
    /// The TLS settings (caBundle) cannot be used.
    #[error("TLS settings for the ACME server: {0}")]
    Tls(String),
}

impl Error {
    /// A short stable reason in CamelCase.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Server { problem, .. } => problem.reason(),
            Error::Transport { .. } => "ACMEServerUnreachable",
            Error::Protocol { .. } => "ACMEProtocolError",
            Error::AccountKey(_) => "InvalidAccountKey",
            Error::Tls(_) => "InvalidCABundle",
        }
    }

    /// Whether trying again later may help: network trouble, rate limits and server errors,
    /// as opposed to a request the server refuses as written.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Server { status, problem } => {
                *status >= 500
                    || matches!(
                        problem.short_type(),
                        Some("rateLimited" | "badNonce" | "serverInternal")
                    )
            }
            _ => false,
        }
    }

    /// The problem's short type (`accountDoesNotExist`, `unauthorized`, ...), if any.
    pub fn problem_type(&self) -> Option<&str> {
        match self {
            Error::Server { problem, .. } => problem.short_type(),
            _ => None,
        }
    }
}
