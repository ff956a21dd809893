//! Logging: human-readable text by default, JSON lines for log pipelines.
use tracing_subscriber::{EnvFilter, fmt};

/// How log lines are rendered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Installs the global subscriber. `level` is an `EnvFilter` directive (`info`,
/// `certwright=debug,kube=info`); `RUST_LOG`, when set, wins so operators can override a chart.
/// Logs go to stderr so that stdout stays clean for command output (`certwright crds > x.yaml`).
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests calling into the library twice) is harmless, so the error is ignored.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
