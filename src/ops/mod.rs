//! The operator's verbs: `status`, `inspect`, `renew`, `approve`/`deny`, `check`, `list` and
//! `verify`. One file per verb; [`output`] renders tables (coloured only on a terminal) or
//! JSON/YAML. The same binary is the kubectl plugin `kubectl-certwright`: kubectl hands the
//! plugin its arguments unchanged, so no mode switch is needed (see [`invoked_as_plugin`]).
//!
//! Every verb builds a serialisable report first and renders it second, so `-o json|yaml` and
//! the human table always say the same thing, and tests can read the JSON.
pub mod approve;
pub mod check;
pub mod inspect;
pub mod list;
pub mod output;
pub mod renew;
pub mod status;
pub mod verify;
pub mod x509;

use std::process::ExitCode;

use kube::Client;

pub use output::OutputFormat;

/// What a verb can fail with. Each variant names what it concerns; [`Error::reason`] is a
/// stable word for scripts that parse `-o json` errors or logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No usable kubeconfig or in-cluster configuration.
    #[error("kubeconfig: {0}")]
    Config(String),
    /// An API call failed; `what` says which.
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
    /// The object the command names does not exist.
    #[error("{kind} {namespace}/{name} not found")]
    NotFound {
        kind: &'static str,
        namespace: String,
        name: String,
    },
    /// The apiserver refused a write (validation, CEL rule); its message is kept verbatim
    /// because it is the one that says which rule.
    #[error("{what} refused by the apiserver: {message}")]
    Refused { what: String, message: String },
    /// A flag or argument is malformed; `flag` names it.
    #[error("{flag}: {detail}")]
    InvalidArgument { flag: &'static str, detail: String },
    /// A CertificateRequest already carries a final Approved or Denied condition.
    #[error("CertificateRequest {namespace}/{name} is already {state}")]
    AlreadyDecided {
        namespace: String,
        name: String,
        state: &'static str,
    },
    /// A Secret field does not hold what it should.
    #[error("Secret {secret}: {field}: {detail}")]
    BadSecret {
        secret: String,
        field: &'static str,
        detail: String,
    },
    /// TCP connection to the server failed.
    #[error("connecting to {address}: {detail}")]
    Connect { address: String, detail: String },
    /// The TLS handshake failed before a chain was presented.
    #[error("TLS handshake with {address}: {detail}")]
    Handshake { address: String, detail: String },
    /// Rendering the report failed.
    #[error("writing output: {0}")]
    Output(String),
}

impl Error {
    /// A short stable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Config(_) => "KubeConfig",
            Error::Kube { .. } => "APIError",
            Error::NotFound { .. } => "NotFound",
            Error::Refused { .. } => "Refused",
            Error::InvalidArgument { .. } => "InvalidArgument",
            Error::AlreadyDecided { .. } => "AlreadyDecided",
            Error::BadSecret { .. } => "BadSecret",
            Error::Connect { .. } => "ConnectFailed",
            Error::Handshake { .. } => "HandshakeFailed",
            Error::Output(_) => "OutputFailed",
        }
    }

    /// Maps an API error on `what`, turning 404 into [`Error::NotFound`] and 422 (a schema or
    /// CEL rule said no) into [`Error::Refused`] with the apiserver's message.
    pub(crate) fn kube(what: impl Into<String>, source: kube::Error) -> Self {
        match &source {
            kube::Error::Api(s) if s.code == 422 || s.code == 400 => Error::Refused {
                what: what.into(),
                message: s.message.clone(),
            },
            _ => Error::Kube {
                what: what.into(),
                source,
            },
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Flags shared by the verbs that talk to the cluster.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// Namespace (default: the kubeconfig context's namespace, else `default`).
    #[arg(short = 'n', long, env = "CERTWRIGHT_CLI_NAMESPACE")]
    pub namespace: Option<String>,
    /// Path of a kubeconfig (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).
    #[arg(long, env = "CERTWRIGHT_KUBECONFIG")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Output format: `text` (tables, coloured on a terminal), `json` or `yaml`.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text, env = "CERTWRIGHT_OUTPUT")]
    pub output: OutputFormat,
}

/// A client and the namespace the command works in.
pub struct Cluster {
    pub client: Client,
    pub namespace: String,
}

impl ClusterArgs {
    /// Connects using `--kubeconfig`, else the usual inference. The namespace is `-n`, else
    /// the kubeconfig context's, so the plugin behaves as `kubectl` itself does.
    pub async fn connect(&self) -> Result<Cluster> {
        let config = match &self.kubeconfig {
            Some(path) => {
                let kc = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| Error::Config(format!("--kubeconfig {}: {e}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kc, &Default::default())
                    .await
                    .map_err(|e| Error::Config(e.to_string()))?
            }
            None => kube::Config::infer()
                .await
                .map_err(|e| Error::Config(e.to_string()))?,
        };
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config).map_err(|e| Error::Config(e.to_string()))?;
        Ok(Cluster { client, namespace })
    }
}

/// Whether the binary was started under the name kubectl gives plugins (`kubectl-certwright`,
/// found on PATH by `kubectl certwright ...`). Only help text depends on it: kubectl passes
/// the arguments after the plugin name through unchanged, so every verb works the same.
pub fn invoked_as_plugin(argv0: &std::ffi::OsStr) -> bool {
    std::path::Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.trim_end_matches(".exe") == "kubectl-certwright")
}

/// Runs an async verb on a runtime of its own and maps the outcome to an exit code: the
/// verb's own verdict when it ran, 1 with the error on stderr when it could not.
pub fn run_async<F>(fut: F) -> ExitCode
where
    F: std::future::Future<Output = Result<ExitCode>>,
{
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(fut) {
        Ok(code) => code,
        Err(e) => {
            tracing::debug!(reason = e.reason(), error = %e, "command failed");
            eprintln!("error: {e} (reason: {})", e.reason());
            ExitCode::FAILURE
        }
    }
}

/// Splits `NS/NAME` (or `NAME`, in `default_ns`); `flag` names the argument in errors.
pub(crate) fn split_ref(
    flag: &'static str,
    value: &str,
    default_ns: &str,
) -> Result<(String, String)> {
    let (ns, name) = match value.split_once('/') {
        Some((ns, name)) => (ns, name),
        None => (default_ns, value),
    };
    if ns.is_empty() || name.is_empty() || name.contains('/') {
        return Err(Error::InvalidArgument {
            flag,
            detail: format!("{value:?} is not NAMESPACE/NAME or NAME"),
        });
    }
    Ok((ns.to_string(), name.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_name_is_recognised_by_file_name_only() {
        assert!(invoked_as_plugin(
            "/usr/local/bin/kubectl-certwright".as_ref()
        ));
        assert!(invoked_as_plugin("kubectl-certwright".as_ref()));
        assert!(!invoked_as_plugin("/usr/bin/certwright".as_ref()));
        assert!(!invoked_as_plugin(
            "/kubectl-certwright/certwright".as_ref()
        ));
    }

    #[test]
    fn references_split_or_default_the_namespace() {
        assert_eq!(
            split_ref("--secret", "a/b", "d").unwrap(),
            ("a".into(), "b".into())
        );
        assert_eq!(
            split_ref("--secret", "b", "d").unwrap(),
            ("d".into(), "b".into())
        );
        for bad in ["/b", "a/", "a/b/c", ""] {
            let e = split_ref("--secret", bad, "d").unwrap_err();
            assert_eq!(e.reason(), "InvalidArgument");
            assert!(e.to_string().starts_with("--secret"), "{e}");
        }
    }
}
