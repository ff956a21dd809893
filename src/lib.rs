//! certwright: a Kubernetes certificate controller serving the cert-manager.io/v1 API.
//!
//! Layout (a map of the architecture):
//! - [`acme`]: a small RFC 8555 client (JWS, nonces, orders); no Kubernetes.
//! - [`api`]: the cert-manager.io/v1 types and their CRDs (schema + CEL validation).
//! - [`cli`]: command-line surface; one function per verb, no business logic.
//! - [`controller`]: the reconcilers (Certificates, CertificateRequests, Issuers); the TLS
//!   Secret is built in [`controller::secret`].
//! - [`issuer`]: issuer backends (SelfSigned, CA) behind one `Signer`.
//! - [`ops`]: the operator's verbs (status, inspect, renew, approve/deny, check, list,
//!   verify), also the kubectl plugin `kubectl-certwright`.
//! - [`manager`]: the controller process: metrics/health listener ([`http`], [`metrics`],
//!   [`health`]), leader election ([`leader`]), then the controllers.
//! - [`telemetry`]: logging set-up (text or JSON).
//! - [`pki`]: keys, CSRs, signing, chain ordering and inspection; pure, no Kubernetes.
//! - [`pki_cli`]: the `certwright pki` verbs over [`pki`].
pub mod acme;
pub mod api;
pub mod cli;
pub mod controller;
pub mod dns;
pub mod health;
pub mod http;
pub mod issuer;
pub mod leader;
pub mod manager;
pub mod metrics;
pub mod ops;
pub mod pki;
pub mod pki_cli;
pub mod telemetry;
