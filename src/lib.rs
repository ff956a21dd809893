//! certwright: a Kubernetes certificate controller serving the cert-manager.io/v1 API.
//!
//! Layout (a map of the architecture):
//! - [`cli`]: command-line surface; one function per verb, no business logic.
//! - [`telemetry`]: logging set-up (text or JSON).
pub mod cli;
pub mod telemetry;
