//! The PKI core compiled on its own for fuzzing (see Cargo.toml).
#[path = "../../src/pki/mod.rs"]
pub mod pki;
