//! The controller's error type: every variant names what it concerns and carries a stable
//! `reason()` that goes into conditions, Events and metric labels.
use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// The Kubernetes API refused or failed a call; retried with backoff.
    #[error("Kubernetes API call failed ({context}): {source}")]
    Kube {
        context: String,
        #[source]
        source: kube::Error,
    },
    /// A PKI operation failed (bad input such as an unparsable CA, or a CSR we cannot build).
    #[error("{context}: {source}")]
    Pki {
        context: String,
        #[source]
        source: crate::pki::Error,
    },
    /// An object we read was not shaped as expected (a field missing that the API requires).
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    /// A short, stable reason in CamelCase.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "APIError",
            Error::Pki { source, .. } => source.reason(),
            Error::Invalid(_) => "InvalidObject",
        }
    }
}

/// Attaches a context to a kube result: `api.get(n).await.ctx("reading Secret x")?`.
pub trait KubeContext<T> {
    fn ctx(self, context: impl Into<String>) -> Result<T, Error>;
}

impl<T> KubeContext<T> for Result<T, kube::Error> {
    fn ctx(self, context: impl Into<String>) -> Result<T, Error> {
        self.map_err(|source| Error::Kube {
            context: context.into(),
            source,
        })
    }
}

/// Attaches a context to a PKI result.
pub trait PkiContext<T> {
    fn pki_ctx(self, context: impl Into<String>) -> Result<T, Error>;
}

impl<T> PkiContext<T> for Result<T, crate::pki::Error> {
    fn pki_ctx(self, context: impl Into<String>) -> Result<T, Error> {
        self.map_err(|source| Error::Pki {
            context: context.into(),
            source,
        })
    }
}
