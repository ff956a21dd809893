//! The cert-manager.io/v1 API: Certificate, CertificateRequest, Issuer and ClusterIssuer, and the
//! acme.cert-manager.io/v1 Order and Challenge, field for field as cert-manager v1.21 serves
//! them, so existing manifests and charts work unchanged.
//!
//! Validation lives in the CRDs (OpenAPI schema plus CEL rules), not in a webhook: see
//! [`crd`] for generation and `docs/api-validation.md` for the rules a CRD cannot express.
//! Fields for features the controller does not implement yet are accepted and stored; the
//! controller reports them through a condition rather than ignoring them.
pub mod acme;
pub mod acme_dns01;
pub mod acme_http01;
pub mod acme_order;
pub mod certificate;
pub mod certificate_request;
pub mod common;
pub mod crd;
pub mod duration;
pub mod issuer;
pub mod usage;

pub use acme::{AcmeChallengeSolver, AcmeIssuer, AcmeIssuerStatus};
pub use acme_order::{
    AcmeAuthorization, AcmeChallenge, AcmeChallengeType, AcmeState, Challenge, ChallengeSpec,
    ChallengeStatus, Order, OrderSpec, OrderStatus,
};
pub use certificate::{
    AcmeRenewalInfoStatus, AcmeRenewalWindow, Certificate, CertificateAcmeStatus,
    CertificatePrivateKey, CertificateSpec, CertificateStatus, PrivateKeyAlgorithm,
    PrivateKeyEncoding, RotationPolicy, SignatureAlgorithm,
};
pub use certificate_request::{
    CertificateRequest, CertificateRequestSpec, CertificateRequestStatus,
};
pub use common::{
    Bytes, Condition, ConditionStatus, GROUP, IssuerRef, LocalObjectReference, ObjectReference,
    SecretKeySelector, VERSION, api_time,
};
pub use duration::{Duration, DurationError};
pub use issuer::{ClusterIssuer, ClusterIssuerSpec, Issuer, IssuerSpec, IssuerStatus};
pub use usage::KeyUsage;
