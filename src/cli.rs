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
    /// Keys, CSRs and PEM bundles by hand: one step of what the controller automates.
    #[command(subcommand)]
    Pki(crate::pki_cli::PkiCommand),
    /// Print the cert-manager.io CRDs as one multi-document YAML stream, or write/check one file
    /// per CRD in a directory.
    Crds(CrdsArgs),
    /// Run the controller: reconcile Certificates, CertificateRequests and Issuers.
    Controller(ControllerArgs),
    /// Show a Certificate: conditions, Secret, requests, Events, and why it would or would
    /// not re-issue now.
    Status(crate::ops::status::StatusArgs),
    /// Decode a TLS Secret: the chain in order, SANs, validity, key match, issuer.
    Inspect(crate::ops::inspect::InspectArgs),
    /// Ask the controller to re-issue Certificates now (reason ManuallyTriggered).
    Renew(crate::ops::renew::RenewArgs),
    /// Approve a CertificateRequest so its issuer may sign it.
    Approve(crate::ops::approve::DecideArgs),
    /// Deny a CertificateRequest; it will never be signed.
    Deny(crate::ops::approve::DecideArgs),
    /// Check the installation: are the CRDs served, has the controller been seen.
    #[command(subcommand)]
    Check(crate::ops::check::CheckWhat),
    /// Every Certificate with days left, soonest expiry first, as a timeline.
    List(crate::ops::list::ListArgs),
    /// Connect to HOST:PORT over TLS and check the chain it serves (exit 1 on failure).
    Verify(crate::ops::verify::VerifyArgs),
}

/// Flags of `certwright controller`; names follow cert-manager's where it has one.
#[derive(Debug, clap::Args)]
pub struct ControllerArgs {
    /// Namespace in which ClusterIssuers find their Secrets.
    #[arg(
        long,
        env = "CERTWRIGHT_CLUSTER_RESOURCE_NAMESPACE",
        default_value = "kube-system"
    )]
    pub cluster_resource_namespace: String,
    /// Give each Secret an owner reference to its Certificate, so deleting the Certificate
    /// deletes the Secret.
    #[arg(
        long,
        env = "CERTWRIGHT_ENABLE_CERTIFICATE_OWNER_REF",
        default_value_t = false
    )]
    pub enable_certificate_owner_ref: bool,
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "CERTWRIGHT_NAMESPACE")]
    pub namespace: Option<String>,
    /// How many Certificates (and, separately, CertificateRequests) are reconciled at once.
    /// Each costs a connection to the apiserver while it runs; raise it where the apiserver
    /// has cores to spare.
    #[arg(
        long,
        env = "CERTWRIGHT_CONCURRENT_WORKERS",
        default_value_t = crate::controller::CONCURRENCY,
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub concurrent_workers: u16,
    /// Path of a kubeconfig (default: $KUBECONFIG, then in-cluster config).
    #[arg(long, env = "CERTWRIGHT_KUBECONFIG")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Address of the HTTP listener serving /metrics, /livez and /readyz (port 0: any free
    /// port, logged at start-up).
    #[arg(
        long,
        env = "CERTWRIGHT_METRICS_LISTEN_ADDRESS",
        default_value = "0.0.0.0:9402"
    )]
    pub metrics_listen_address: String,
    /// Elect a leader through a Lease so that only one replica runs the controllers. On by
    /// default, as in cert-manager: a second replica started by mistake never races the first.
    #[arg(
        long,
        env = "CERTWRIGHT_LEADER_ELECT",
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub leader_elect: bool,
    /// Namespace of the leader-election Lease (`certwright-controller`).
    #[arg(
        long,
        env = "CERTWRIGHT_LEADER_ELECTION_NAMESPACE",
        default_value = "kube-system"
    )]
    pub leader_election_namespace: String,
    /// How long a standby waits after the Lease last changed before it takes over.
    #[arg(
        long,
        env = "CERTWRIGHT_LEADER_ELECTION_LEASE_DURATION",
        default_value = "60s"
    )]
    pub leader_election_lease_duration: crate::api::Duration,
    /// How long the leader keeps failing to renew before it stops (shorter than the lease
    /// duration).
    #[arg(
        long,
        env = "CERTWRIGHT_LEADER_ELECTION_RENEW_DEADLINE",
        default_value = "40s"
    )]
    pub leader_election_renew_deadline: crate::api::Duration,
    /// Pause between attempts to acquire or renew the Lease (shorter than the renew deadline).
    #[arg(
        long,
        env = "CERTWRIGHT_LEADER_ELECTION_RETRY_PERIOD",
        default_value = "15s"
    )]
    pub leader_election_retry_period: crate::api::Duration,
    #[command(flatten)]
    pub acme: AcmeArgs,
}

/// The ACME flags of `certwright controller`.
#[derive(Debug, clap::Args)]
pub struct AcmeArgs {
    /// Address where the controller answers ACME HTTP-01 challenges; `off` disables it.
    #[arg(
        long,
        env = "CERTWRIGHT_ACME_HTTP01_LISTEN",
        default_value = "0.0.0.0:8089"
    )]
    pub acme_http01_listen: String,
    /// This Pod's IP (the chart sets it from the downward API): per-challenge Ingresses route
    /// HTTP-01 validations to it. Unset: no Ingress is made (the listener is reached directly).
    #[arg(long, env = "POD_IP")]
    pub acme_http01_solver_ip: Option<std::net::IpAddr>,
    /// Connect the HTTP-01 self check (made before a challenge is accepted whenever an Ingress
    /// routes it) to this IP:PORT instead of resolving the challenge's host name.
    #[arg(long, env = "CERTWRIGHT_ACME_HTTP01_SELF_CHECK_ADDRESS")]
    pub acme_http01_self_check_address: Option<std::net::SocketAddr>,
    /// Most orders of one ACME issuer in progress at the CA at once; more wait their turn
    /// (0: no cap).
    #[arg(
        long,
        env = "CERTWRIGHT_ACME_MAX_CONCURRENT_ORDERS",
        default_value_t = 60
    )]
    pub acme_max_concurrent_orders: usize,
    /// Resolvers (IP or IP:PORT, comma-separated) for DNS-01 lookups: the zone of a record, its
    /// authoritative servers, CNAMEs. Default: the nameservers of /etc/resolv.conf.
    #[arg(
        long,
        env = "CERTWRIGHT_DNS01_RECURSIVE_NAMESERVERS",
        value_delimiter = ','
    )]
    pub dns01_recursive_nameservers: Vec<String>,
    /// Check DNS-01 propagation at the resolvers above only, not at the zone's authoritative
    /// servers (for split-horizon DNS, or authoritative servers this Pod cannot reach).
    #[arg(long, env = "CERTWRIGHT_DNS01_RECURSIVE_NAMESERVERS_ONLY")]
    pub dns01_recursive_nameservers_only: bool,
    /// Pause between DNS-01 propagation checks.
    #[arg(
        long,
        env = "CERTWRIGHT_DNS01_CHECK_RETRY_PERIOD",
        default_value = "10s"
    )]
    pub dns01_check_retry_period: crate::api::Duration,
    /// Port on which the zone's authoritative servers are asked during the propagation check
    /// (53 everywhere but in tests and unusual set-ups).
    #[arg(
        long,
        env = "CERTWRIGHT_DNS01_AUTHORITATIVE_PORT",
        default_value_t = 53
    )]
    pub dns01_authoritative_port: u16,
}

impl AcmeArgs {
    fn settings(&self) -> anyhow::Result<crate::controller::acme::Settings> {
        Ok(crate::controller::acme::Settings {
            http01_listen: match self.acme_http01_listen.as_str() {
                "off" | "" => None,
                a => Some(a.parse().map_err(|e| {
                    anyhow::anyhow!("--acme-http01-listen {a:?}: not an IP:PORT address ({e})")
                })?),
            },
            http01_solver_ip: self.acme_http01_solver_ip,
            http01_self_check_address: self.acme_http01_self_check_address,
            max_concurrent_orders: self.acme_max_concurrent_orders,
            dns01: crate::controller::acme::dns01::Settings {
                recursive_nameservers: if self.dns01_recursive_nameservers.is_empty() {
                    crate::controller::acme::dns01::system_nameservers()
                } else {
                    self.dns01_recursive_nameservers
                        .iter()
                        .map(|s| parse_resolver(s))
                        .collect::<anyhow::Result<_>>()?
                },
                recursive_only: self.dns01_recursive_nameservers_only,
                check_retry_period: self.dns01_check_retry_period.0,
                authoritative_port: self.dns01_authoritative_port,
            },
        })
    }
}

/// A resolver address: `IP:PORT`, `[IPv6]:PORT` or a bare IP (port 53).
fn parse_resolver(s: &str) -> anyhow::Result<std::net::SocketAddr> {
    let s = s.trim();
    s.parse()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(|ip| (ip, 53).into()))
        .map_err(|_| {
            anyhow::anyhow!("--dns01-recursive-nameservers {s:?}: not an IP or IP:PORT address")
        })
}

/// `certwright controller`: connect and run until SIGTERM.
fn controller(args: ControllerArgs) -> ExitCode {
    // Multi-threaded, unlike the one-shot verbs: reconciles run in parallel.
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        let config = match &args.kubeconfig {
            Some(path) => {
                let kc = kube::config::Kubeconfig::read_from(path)?;
                kube::Config::from_custom_kubeconfig(kc, &Default::default()).await?
            }
            None => kube::Config::infer().await?,
        };
        let settings = crate::controller::Settings {
            cluster_resource_namespace: args.cluster_resource_namespace,
            enable_certificate_owner_ref: args.enable_certificate_owner_ref,
            namespace: args.namespace,
            concurrent_workers: args.concurrent_workers,
            acme: args.acme.settings()?,
        };
        let options = crate::manager::Options {
            metrics_listen_address: args.metrics_listen_address,
            leader_election: args.leader_elect.then(|| crate::leader::Params {
                namespace: args.leader_election_namespace,
                name: crate::leader::LEASE_NAME.into(),
                identity: crate::leader::identity(),
                lease_duration: args.leader_election_lease_duration.0,
                renew_deadline: args.leader_election_renew_deadline.0,
                retry_period: args.leader_election_retry_period.0,
            }),
        };
        crate::manager::run(config, settings, options).await
    });
    // Do not wait on stragglers (a request the apiserver never answers): after a lost Lease
    // the process must be gone, and the kubelet restart it, without delay.
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "controller stopped");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the chosen verb and maps its outcome to the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Version => {
            println!("certwright {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Pki(cmd) => crate::pki_cli::run(cmd),
        Command::Crds(args) => crds(&args),
        Command::Controller(args) => controller(args),
        Command::Status(args) => crate::ops::run_async(crate::ops::status::run(args)),
        Command::Inspect(args) => crate::ops::run_async(crate::ops::inspect::run(args)),
        Command::Renew(args) => crate::ops::run_async(crate::ops::renew::run(args)),
        Command::Approve(args) => crate::ops::run_async(crate::ops::approve::run(args, true)),
        Command::Deny(args) => crate::ops::run_async(crate::ops::approve::run(args, false)),
        Command::Check(what) => crate::ops::run_async(crate::ops::check::run(what)),
        Command::List(args) => crate::ops::run_async(crate::ops::list::run(args)),
        Command::Verify(args) => crate::ops::run_async(crate::ops::verify::run(args)),
    }
}

/// Flags of `certwright crds`.
#[derive(Debug, clap::Args)]
pub struct CrdsArgs {
    /// Write `<plural>.cert-manager.io.yaml` files into this directory instead of printing
    /// (e.g. `--out-dir crds/`). Default: print to stdout.
    #[arg(long, visible_alias = "write", env = "CERTWRIGHT_CRDS_OUT_DIR")]
    pub out_dir: Option<std::path::PathBuf>,
    /// Do not write: exit non-zero if the files in this directory differ from the types.
    #[arg(long, env = "CERTWRIGHT_CRDS_CHECK", conflicts_with = "out_dir")]
    pub check: Option<std::path::PathBuf>,
}

/// `certwright crds`: print, write or check the generated CRDs.
fn crds(args: &CrdsArgs) -> ExitCode {
    use crate::api::crd;
    let outcome = if let Some(dir) = &args.out_dir {
        crd::write_dir(dir).map(|paths| {
            paths
                .iter()
                .for_each(|p| eprintln!("wrote {}", p.display()));
            true
        })
    } else if let Some(dir) = &args.check {
        crd::check_dir(dir).map(|drift| {
            drift.iter().for_each(|d| eprintln!("{d}"));
            if !drift.is_empty() {
                eprintln!(
                    "CRDs are out of date: run `cargo run -- crds --out-dir {}`",
                    dir.display()
                );
            }
            drift.is_empty()
        })
    } else {
        crd::render_all().map(|yaml| {
            print!("{yaml}");
            true
        })
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            tracing::error!(reason = e.reason(), error = %e, "crds failed");
            ExitCode::FAILURE
        }
    }
}
