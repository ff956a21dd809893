//! The command-line surface. Each verb parses its flags here and calls into the library; the
//! verbs themselves stay thin so the same logic is reachable from tests.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "certwright",
    version,
    about = "Kubernetes certificate controller (cert-manager.io/v1 API)"
)]
pub struct Cli {
    /// Log output format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "CERTWRIGHT_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `certwright=debug,kube=info` (RUST_LOG overrides it).
    #[arg(
        long,
        global = true,
        default_value = "info",
        env = "CERTWRIGHT_LOG_LEVEL"
    )]
    pub log_level: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the version and exit.
    Version,
}

/// Runs the chosen verb and maps its outcome to the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Version => {
            println!("certwright {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
    }
}
