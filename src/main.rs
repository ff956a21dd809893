//! The `certwright` binary: parse the command line, set up logging, hand over to the library.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = certwright::cli::Cli::parse();
    certwright::telemetry::init(cli.log_format, &cli.log_level);
    certwright::cli::run(cli)
}
