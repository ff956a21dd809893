//! `certwright pki ...`: the PKI core by hand, for people doing one step of what the controller
//! automates (make a key and CSR, order a bundle, read a certificate). No logic lives here
//! beyond turning flags into [`crate::pki`] calls and errors into messages that name the flag.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Args, Subcommand};

use crate::pki::{
    self, CsrSpec, KeyAlgorithm, KeyEncoding, KeySpec, OtherName, PrivateKey, SignatureAlgorithm,
    Subject, SubjectAltNames, SubjectFields, Usage,
};

/// The `pki` verbs.
#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Generate a private key (or load one) and print a CSR for it, like
    /// `openssl req -new -newkey ...`.
    Csr(Box<CsrArgs>),
    /// Order a PEM bundle given in any order: print `tls.crt` (leaf, then intermediates), or
    /// `ca.crt` with `--ca`. Exits 1 with the reason when the bundle is broken.
    Bundle(BundleArgs),
    /// Print what a certificate says: names, validity, key, usages, fingerprint.
    Inspect(InspectArgs),
}

/// Flags of `certwright pki csr`; names follow the Certificate spec fields.
#[derive(Debug, Args)]
pub struct CsrArgs {
    /// Subject common name.
    #[arg(long, env = "CERTWRIGHT_PKI_COMMON_NAME")]
    pub common_name: Option<String>,
    /// Literal RFC 4514 subject, kept in order (e.g. `CN=web,O=Example,DC=example,DC=com`);
    /// excludes --common-name and the other subject flags.
    #[arg(long, env = "CERTWRIGHT_PKI_SUBJECT", conflicts_with_all = ["common_name", "organization", "organizational_unit", "country", "locality", "province", "street_address", "postal_code", "serial_number"])]
    pub subject: Option<String>,
    /// Subject O (repeatable).
    #[arg(long, env = "CERTWRIGHT_PKI_ORGANIZATION")]
    pub organization: Vec<String>,
    /// Subject OU (repeatable).
    #[arg(long, env = "CERTWRIGHT_PKI_ORGANIZATIONAL_UNIT")]
    pub organizational_unit: Vec<String>,
    /// Subject C, two letters (repeatable).
    #[arg(long, env = "CERTWRIGHT_PKI_COUNTRY")]
    pub country: Vec<String>,
    /// Subject L (repeatable).
    #[arg(long, env = "CERTWRIGHT_PKI_LOCALITY")]
    pub locality: Vec<String>,
    /// Subject ST (repeatable).
    #[arg(long, env = "CERTWRIGHT_PKI_PROVINCE")]
    pub province: Vec<String>,
    /// Subject STREET (repeatable).
    #[arg(long, env = "CERTWRIGHT_PKI_STREET_ADDRESS")]
    pub street_address: Vec<String>,
    /// Subject postalCode (repeatable).
    #[arg(long, env = "CERTWRIGHT_PKI_POSTAL_CODE")]
    pub postal_code: Vec<String>,
    /// Subject serialNumber attribute.
    #[arg(long, env = "CERTWRIGHT_PKI_SERIAL_NUMBER")]
    pub serial_number: Option<String>,
    /// DNS SAN, wildcards allowed (repeatable).
    #[arg(long, env = "CERTWRIGHT_PKI_DNS_NAME")]
    pub dns_name: Vec<String>,
    /// IP address SAN, IPv4 or IPv6 (repeatable).
    #[arg(long, env = "CERTWRIGHT_PKI_IP_ADDRESS")]
    pub ip_address: Vec<std::net::IpAddr>,
    /// URI SAN (repeatable).
    #[arg(long, env = "CERTWRIGHT_PKI_URI")]
    pub uri: Vec<String>,
    /// E-mail SAN (repeatable).
    #[arg(long, env = "CERTWRIGHT_PKI_EMAIL_ADDRESS")]
    pub email_address: Vec<String>,
    /// otherName SAN as OID=UTF8VALUE (repeatable), e.g. `1.3.6.1.4.1.311.20.2.3=user@corp`.
    #[arg(long, env = "CERTWRIGHT_PKI_OTHER_NAME")]
    pub other_name: Vec<String>,
    /// Usage in cert-manager's spelling (repeatable) [default: "digital signature",
    /// "key encipherment"].
    #[arg(long, env = "CERTWRIGHT_PKI_USAGE")]
    pub usage: Vec<String>,
    /// Request a CA certificate.
    #[arg(long, env = "CERTWRIGHT_PKI_IS_CA")]
    pub is_ca: bool,
    /// Key algorithm: RSA, ECDSA or Ed25519.
    #[arg(long, env = "CERTWRIGHT_PKI_KEY_ALGORITHM", default_value = "RSA")]
    pub key_algorithm: String,
    /// Key size [default: 2048 for RSA, 256 for ECDSA].
    #[arg(long, env = "CERTWRIGHT_PKI_KEY_SIZE")]
    pub key_size: Option<u32>,
    /// Key encoding: PKCS1 (PKCS#1 / SEC1) or PKCS8.
    #[arg(long, env = "CERTWRIGHT_PKI_KEY_ENCODING", default_value = "PKCS1")]
    pub key_encoding: String,
    /// CSR signature algorithm, e.g. SHA384WithRSA [default: chosen from the key].
    #[arg(long, env = "CERTWRIGHT_PKI_SIGNATURE_ALGORITHM")]
    pub signature_algorithm: Option<String>,
    /// Use this existing private key instead of generating one.
    #[arg(long, env = "CERTWRIGHT_PKI_KEY", conflicts_with_all = ["key_size", "key_out"])]
    pub key: Option<PathBuf>,
    /// Where to write the new private key (mode 0600; an existing file is never overwritten).
    #[arg(long, env = "CERTWRIGHT_PKI_KEY_OUT", default_value = "tls.key")]
    pub key_out: PathBuf,
    /// Where to write the CSR [default: stdout].
    #[arg(long, env = "CERTWRIGHT_PKI_CSR_OUT")]
    pub csr_out: Option<PathBuf>,
}

/// Flags of `certwright pki bundle`.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// PEM files holding the certificates, in any order (`-` reads stdin).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print `ca.crt` (the root, else the top-most issuer) instead of `tls.crt`.
    #[arg(long, env = "CERTWRIGHT_PKI_BUNDLE_CA")]
    pub ca: bool,
}

/// Flags of `certwright pki inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// PEM file; the first certificate in it is shown (`-` reads stdin).
    pub file: PathBuf,
}

/// Runs a `pki` verb; failures print `error: <flag or file>: <message> (<reason>)` and exit 1.
pub fn run(cmd: PkiCommand) -> ExitCode {
    let outcome = match cmd {
        PkiCommand::Csr(args) => csr(&args),
        PkiCommand::Bundle(args) => bundle(&args),
        PkiCommand::Inspect(args) => inspect(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// The CLI flag behind a PKI field name, so errors point at what the user typed.
fn flag_for(field: &str) -> Option<&'static str> {
    Some(match field {
        "commonName" => "--common-name",
        "literalSubject" => "--subject",
        "subject.organizations" => "--organization",
        "subject.organizationalUnits" => "--organizational-unit",
        "subject.countries" => "--country",
        "subject.localities" => "--locality",
        "subject.provinces" => "--province",
        "subject.streetAddresses" => "--street-address",
        "subject.postalCodes" => "--postal-code",
        "subject.serialNumber" => "--serial-number",
        "dnsNames" => "--dns-name",
        "uris" => "--uri",
        "emailAddresses" => "--email-address",
        "otherNames.oid" => "--other-name",
        "usages" => "--usage",
        "privateKey.algorithm" => "--key-algorithm",
        "privateKey.size" => "--key-size",
        "privateKey.encoding" => "--key-encoding",
        "signatureAlgorithm" => "--signature-algorithm",
        _ => return None,
    })
}

fn describe(e: &pki::Error) -> String {
    let flag = match e {
        pki::Error::InvalidField { field, .. } => flag_for(field),
        pki::Error::WeakKey { what, .. } if what == "privateKey.size" => Some("--key-size"),
        pki::Error::UnsupportedKeySize { .. } => Some("--key-size"),
        pki::Error::IncompatibleSignatureAlgorithm { .. } => Some("--signature-algorithm"),
        _ => None,
    };
    match flag {
        Some(flag) => format!("{flag}: {e} ({})", e.reason()),
        None => format!("{e} ({})", e.reason()),
    }
}

fn read_input(path: &Path) -> Result<Vec<u8>, String> {
    let limit = pki::pem::MAX_PEM_BYTES as u64 + 1;
    let mut buf = Vec::new();
    let result = if path == Path::new("-") {
        std::io::Read::read_to_end(&mut std::io::Read::take(std::io::stdin(), limit), &mut buf)
    } else {
        std::fs::File::open(path)
            .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, limit), &mut buf))
    };
    result.map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(buf)
}

fn csr(args: &CsrArgs) -> Result<(), String> {
    let key = match &args.key {
        Some(path) => PrivateKey::from_pem(&read_input(path)?)
            .map_err(|e| format!("--key {}: {}", path.display(), describe(&e)))?,
        None => {
            let alg: KeyAlgorithm = args.key_algorithm.parse().map_err(|e| describe(&e))?;
            let spec = KeySpec::new(alg, args.key_size).map_err(|e| describe(&e))?;
            PrivateKey::generate(spec).map_err(|e| describe(&e))?
        }
    };
    let encoding: KeyEncoding = args.key_encoding.parse().map_err(|e| describe(&e))?;
    let signature_algorithm = args
        .signature_algorithm
        .as_deref()
        .map(str::parse::<SignatureAlgorithm>)
        .transpose()
        .map_err(|e| describe(&e))?;
    let usages = if args.usage.is_empty() {
        Usage::defaults()
    } else {
        args.usage
            .iter()
            .map(|u| u.parse::<Usage>())
            .collect::<Result<_, _>>()
            .map_err(|e| describe(&e))?
    };
    let other_names = args
        .other_name
        .iter()
        .map(|o| {
            let (oid, value) = o
                .split_once('=')
                .ok_or_else(|| format!("--other-name: {o:?} is not OID=VALUE"))?;
            Ok(OtherName {
                oid: oid.to_string(),
                utf8_value: value.to_string(),
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let subject = match &args.subject {
        Some(literal) => Subject::Literal(literal.clone()),
        None => Subject::Fields(SubjectFields {
            common_name: args.common_name.clone(),
            organizations: args.organization.clone(),
            organizational_units: args.organizational_unit.clone(),
            countries: args.country.clone(),
            localities: args.locality.clone(),
            provinces: args.province.clone(),
            street_addresses: args.street_address.clone(),
            postal_codes: args.postal_code.clone(),
            serial_number: args.serial_number.clone(),
        }),
    };
    let spec = CsrSpec {
        subject,
        sans: SubjectAltNames {
            dns_names: args.dns_name.clone(),
            ip_addresses: args.ip_address.clone(),
            uris: args.uri.clone(),
            email_addresses: args.email_address.clone(),
            other_names,
            unsupported: Vec::new(),
        },
        usages,
        is_ca: args.is_ca,
        signature_algorithm,
        name_constraints: None,
    };
    let csr = pki::build_csr(&spec, &key).map_err(|e| describe(&e))?;
    if args.key.is_none() {
        let pem = key.to_pem(encoding).map_err(|e| describe(&e))?;
        write_private(&args.key_out, pem.as_bytes())
            .map_err(|e| format!("--key-out {}: {e}", args.key_out.display()))?;
    }
    match &args.csr_out {
        Some(path) => std::fs::write(path, csr.as_bytes())
            .map_err(|e| format!("--csr-out {}: {e}", path.display())),
        None => std::io::stdout()
            .write_all(csr.as_bytes())
            .map_err(|e| format!("stdout: {e}")),
    }
}

/// Writes key material readable by the owner only, refusing to replace an existing file
/// (a key someone depends on must never be clobbered by a typo).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

fn bundle(args: &BundleArgs) -> Result<(), String> {
    let mut input = Vec::new();
    for path in &args.files {
        input.extend(read_input(path)?);
        input.push(b'\n');
    }
    let ordered = pki::order_bundle(&input).map_err(|e| format!("bundle: {}", describe(&e)))?;
    let out = if args.ca {
        ordered.ca_crt_pem().ok_or_else(|| {
            "bundle: no CA certificate: the bundle is a lone leaf without its issuer".to_string()
        })?
    } else {
        ordered.tls_crt_pem()
    };
    std::io::stdout()
        .write_all(out.as_bytes())
        .map_err(|e| format!("stdout: {e}"))
}

fn inspect(args: &InspectArgs) -> Result<(), String> {
    let input = read_input(&args.file)?;
    let info = pki::inspect_pem(&input)
        .map_err(|e| format!("{}: {}", args.file.display(), describe(&e)))?;
    print!("{}", render(&info));
    Ok(())
}

/// Text report of a certificate, one `label: value` per line.
pub fn render(info: &pki::CertInfo) -> String {
    let join = |v: Vec<String>| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    let s = &info.sans;
    let lines = [
        ("subject", info.subject.clone()),
        ("issuer", info.issuer.clone()),
        ("serial", info.serial.clone()),
        ("not before", rfc3339(info.not_before)),
        ("not after", rfc3339(info.not_after)),
        ("key", info.key.to_string()),
        ("signature", info.signature_algorithm.clone()),
        ("is CA", info.is_ca.to_string()),
        (
            "usages",
            join(info.usages.iter().map(|u| u.to_string()).collect()),
        ),
        ("DNS names", join(s.dns_names.clone())),
        (
            "IP addresses",
            join(s.ip_addresses.iter().map(|i| i.to_string()).collect()),
        ),
        ("URIs", join(s.uris.clone())),
        ("e-mails", join(s.email_addresses.clone())),
        (
            "other names",
            join(
                s.other_names
                    .iter()
                    .map(|o| format!("{}={}", o.oid, o.utf8_value))
                    .collect(),
            ),
        ),
        ("sha256", info.sha256_fingerprint.clone()),
        (
            "extensions",
            join(
                info.extensions
                    .iter()
                    .map(|e| {
                        let crit = if e.critical { " critical" } else { "" };
                        let unknown = if e.known { "" } else { " unknown" };
                        format!("{}{crit}{unknown}", e.oid)
                    })
                    .collect(),
            ),
        ),
    ];
    lines
        .iter()
        .map(|(k, v)| format!("{:<13} {v}\n", format!("{k}:")))
        .collect()
}

fn rfc3339(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
