//! The pure decisions of DNS-01: which provider a solver uses, where the TXT record goes, how
//! a CNAME chain is followed, and how the RFC 2136 `nameserver` field reads. The network side
//! is in [`crate::dns`]; the controller that ties them to Challenges is `controller::acme::dns01`.
use crate::api::acme_dns01::{AcmeChallengeSolverDns01, AcmeIssuerDns01ProviderRfc2136};

/// Most CNAMEs followed from the challenge name before giving up (a chain this long is a
/// misconfiguration, and a loop must end somewhere).
pub const MAX_CNAMES: usize = 8;

/// The name of the TXT record for `dns_name` (without `*.`; a wildcard is proven at its base
/// name, RFC 8555 section 8.4), as an absolute name.
pub fn record_name(dns_name: &str) -> String {
    let base = dns_name.trim_start_matches("*.").trim_end_matches('.');
    format!("_acme-challenge.{base}.")
}

/// The RFC 2136 block of a DNS-01 solver, or why the solver cannot be used.
pub fn rfc2136(
    dns01: &AcmeChallengeSolverDns01,
) -> Result<&AcmeIssuerDns01ProviderRfc2136, String> {
    if let Some(p) = &dns01.rfc2136 {
        return Ok(p);
    }
    let name = [
        (dns01.acme_dns.is_some(), "acmeDNS"),
        (dns01.akamai.is_some(), "akamai"),
        (dns01.azure_dns.is_some(), "azureDNS"),
        (dns01.cloud_dns.is_some(), "cloudDNS"),
        (dns01.cloudflare.is_some(), "cloudflare"),
        (dns01.digitalocean.is_some(), "digitalocean"),
        (dns01.route53.is_some(), "route53"),
        (dns01.webhook.is_some(), "webhook"),
    ]
    .into_iter()
    .find_map(|(set, n)| set.then_some(n))
    .unwrap_or("none");
    Err(format!(
        "the DNS-01 provider {name} is not supported by certwright: only rfc2136 is; use an RFC 2136 server (BIND, Knot, PowerDNS...) or solve these names with another solver"
    ))
}

/// Splits cert-manager's `nameserver` (`host:port`, `host`, `[v6]:port`, `[v6]` or a bare
/// IPv6 address) into host and port (53 when absent).
pub fn parse_nameserver(s: &str) -> Result<(String, u16), String> {
    let s = s.trim();
    let bad = |why: &str| {
        format!(
            "nameserver {s:?}: {why}; expected host:port, e.g. 10.0.0.53:53 or [2001:db8::1]:53"
        )
    };
    if s.is_empty() {
        return Err(bad("empty"));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| bad("unclosed ["))?;
        let port = match after {
            "" => 53,
            p => p
                .strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| bad("bad port"))?,
        };
        return Ok((host.to_string(), port));
    }
    if s.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((s.to_string(), 53));
    }
    match s.rsplit_once(':') {
        Some((h, p)) => {
            let port = p.parse().map_err(|_| bad("bad port"))?;
            if h.is_empty() {
                return Err(bad("no host"));
            }
            Ok((h.to_string(), port))
        }
        None => Ok((s.to_string(), 53)),
    }
}

/// One step along a CNAME chain: `chain` holds the names seen so far (the challenge name
/// first), `target` what the last one points to. `Ok(None)`: the chain ends at its last name;
/// `Ok(Some(next))`: look `next` up; `Err`: a loop or an overlong chain.
pub fn cname_step(chain: &[String], target: Option<&str>) -> Result<Option<String>, String> {
    let Some(t) = target else {
        return Ok(None);
    };
    let t = format!("{}.", t.trim_end_matches('.')).to_ascii_lowercase();
    if chain.iter().any(|c| c.eq_ignore_ascii_case(&t)) {
        return Err(format!(
            "cnameStrategy Follow: the CNAMEs of {} loop ({} -> {t})",
            chain[0],
            chain.join(" -> ")
        ));
    }
    if chain.len() > MAX_CNAMES {
        return Err(format!(
            "cnameStrategy Follow: more than {MAX_CNAMES} CNAMEs from {}",
            chain[0]
        ));
    }
    Ok(Some(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_live_at_the_base_name_of_a_wildcard() {
        assert_eq!(record_name("example.test"), "_acme-challenge.example.test.");
        assert_eq!(
            record_name("*.example.test"),
            "_acme-challenge.example.test."
        );
        assert_eq!(
            record_name("a.example.test."),
            "_acme-challenge.a.example.test."
        );
    }

    #[test]
    fn nameserver_forms() {
        let p = |s: &str| parse_nameserver(s);
        assert_eq!(p("10.0.0.1:5353").unwrap(), ("10.0.0.1".into(), 5353));
        assert_eq!(
            p("ns.example.test").unwrap(),
            ("ns.example.test".into(), 53)
        );
        assert_eq!(p("[2001:db8::1]:54").unwrap(), ("2001:db8::1".into(), 54));
        assert_eq!(p("[2001:db8::1]").unwrap(), ("2001:db8::1".into(), 53));
        assert_eq!(p("2001:db8::1").unwrap(), ("2001:db8::1".into(), 53));
        assert!(p("host:notaport").unwrap_err().contains("bad port"));
        assert!(p("[::1").is_err());
        assert!(p("").is_err());
        assert!(p(":53").is_err());
    }

    #[test]
    fn cname_chains_are_followed_until_they_end_or_loop() {
        let chain = vec!["_acme-challenge.a.test.".to_string()];
        assert_eq!(cname_step(&chain, None).unwrap(), None);
        assert_eq!(
            cname_step(&chain, Some("A.Validation.Test"))
                .unwrap()
                .as_deref(),
            Some("a.validation.test.")
        );
        let looped = vec![chain[0].clone(), "x.test.".to_string()];
        let e = cname_step(&looped, Some("_acme-challenge.a.test.")).unwrap_err();
        assert!(e.contains("loop"), "{e}");
        let long: Vec<String> = (0..=MAX_CNAMES).map(|i| format!("n{i}.test.")).collect();
        assert!(
            cname_step(&long, Some("next.test"))
                .unwrap_err()
                .contains("more than")
        );
    }

    #[test]
    fn providers_other_than_rfc2136_are_named_in_the_refusal() {
        let mut s = AcmeChallengeSolverDns01 {
            cloudflare: Some(Default::default()),
            ..Default::default()
        };
        let e = rfc2136(&s).unwrap_err();
        assert!(e.contains("cloudflare is not supported"), "{e}");
        s.cloudflare = None;
        s.rfc2136 = Some(AcmeIssuerDns01ProviderRfc2136 {
            nameserver: "127.0.0.1:53".into(),
            ..Default::default()
        });
        assert_eq!(rfc2136(&s).unwrap().nameserver, "127.0.0.1:53");
    }
}
