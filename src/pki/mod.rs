//! The PKI core: keys, CSRs, signing, chain ordering and inspection.
//!
//! Pure and synchronous: no Kubernetes types, no async runtime, no clock (the signing time is
//! a parameter). Inputs are bytes (PEM) and plain structs; outputs are PEM strings and plain
//! structs; failures are [`Error`]s with a stable [`Error::reason`].
//!
//! The path of an issuance, as the controller drives it:
//! 1. [`PrivateKey::generate`] from a [`KeySpec`] (or [`PrivateKey::from_pem`] an existing one)
//!    and [`PrivateKey::to_pem`] in the Certificate's [`KeyEncoding`];
//! 2. [`build_csr`] from a [`CsrSpec`];
//! 3. [`self_sign`] or [`ca_sign`] with [`SignOptions`];
//! 4. [`order_bundle`] on the issued certificate plus the issuer's chain, giving `tls.crt` and
//!    `ca.crt`;
//! 5. [`inspect_pem`] later, to decide on renewal.
//!
//! Everything here refuses weak cryptography: RSA under 2048 bits, SHA-1 and MD5 signatures.
pub mod alg;
pub mod chain;
pub mod csr;
mod der;
pub mod error;
pub mod inspect;
pub mod keys;
pub mod keystore;
pub mod name;
pub mod pem;
pub mod san;
pub mod sign;
pub mod usage;

#[cfg(test)]
pub(crate) mod testutil;

pub use alg::SignatureAlgorithm;
pub use chain::{OrderedBundle, order_bundle};
pub use csr::{
    CsrInfo, CsrSpec, ExtensionInfo, build_csr, build_csr_der, parse_csr_der, parse_csr_pem,
};
pub use error::{CertName, Error, Result};
pub use inspect::{CertInfo, inspect_der, inspect_pem};
pub use keys::{KeyAlgorithm, KeyEncoding, KeySpec, PrivateKey};
pub use keystore::{KeystoreInput, Pkcs12Profile};
pub use name::{Subject, SubjectFields};
pub use san::{OtherName, SubjectAltNames};
pub use sign::{ConstraintSet, NameConstraints, SignOptions, ca_sign, self_sign};
pub use usage::Usage;
