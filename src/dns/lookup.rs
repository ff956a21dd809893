//! The lookups of DNS-01: the zone that holds a name (SOA), its authoritative servers (NS and
//! their addresses), where a CNAME points, and what TXT values a server answers.
//!
//! Queries go to the given servers in order; the next is tried only when one is unreachable,
//! so an answer (even "no such name") is taken from the first server that gives one.
use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};

use super::transport::{self, Protocol};
use super::{Error, rcode_error};

/// Asks `server` one question; `recurse` sets RD (off for authoritative servers).
pub async fn query(
    server: SocketAddr,
    name: &Name,
    kind: RecordType,
    recurse: bool,
) -> Result<Message, Error> {
    let mut msg = Message::query();
    msg.metadata.recursion_desired = recurse;
    msg.add_query(Query::query(name.clone(), kind));
    let bytes = msg
        .to_vec()
        .map_err(|e| Error::Config(format!("encoding a query for {name}: {e}")))?;
    let answer = transport::exchange(server, msg.id, &bytes, Protocol::Udp).await?;
    let parsed = Message::from_vec(&answer).map_err(|e| Error::Malformed {
        server: server.to_string(),
        problem: e.to_string(),
    })?;
    match parsed.response_code {
        ResponseCode::NoError | ResponseCode::NXDomain => Ok(parsed),
        rcode => Err(rcode_error(
            &server.to_string(),
            rcode,
            None,
            &format!("the {kind} query for {name}"),
        )),
    }
}

/// [`query`] against the first of `servers` that answers.
async fn ask(
    servers: &[SocketAddr],
    name: &Name,
    kind: RecordType,
    recurse: bool,
) -> Result<Message, Error> {
    let mut last = Error::Config("no DNS server to ask".into());
    for s in servers {
        match query(*s, name, kind, recurse).await {
            Ok(m) => return Ok(m),
            Err(e @ Error::Unreachable { .. }) => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// The zone `name` is in: the closest enclosing name with an SOA record.
pub async fn zone_of(servers: &[SocketAddr], name: &Name, recurse: bool) -> Result<Name, Error> {
    let mut candidate = name.clone();
    loop {
        let answer = ask(servers, &candidate, RecordType::SOA, recurse).await;
        match answer {
            Ok(m)
                if m.answers.iter().any(|r| {
                    r.record_type() == RecordType::SOA && r.name.eq_ignore_root_case(&candidate)
                }) =>
            {
                return Ok(candidate);
            }
            // A server that is not authoritative for this name may refuse: go on upwards.
            Ok(_) | Err(Error::Refused { .. }) => {}
            Err(e) => return Err(e),
        }
        if candidate.is_root() || candidate.num_labels() == 0 {
            return Err(Error::NoZone {
                server: servers
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                name: name.to_string(),
            });
        }
        candidate = candidate.base_name();
    }
}

/// Where a CNAME at `name` points, if there is one.
pub async fn cname(servers: &[SocketAddr], name: &Name) -> Result<Option<Name>, Error> {
    let m = ask(servers, name, RecordType::CNAME, true).await?;
    Ok(m.answers.iter().find_map(|r| match &r.data {
        RData::CNAME(c) if r.name.eq_ignore_root_case(name) => Some(c.0.clone()),
        _ => None,
    }))
}

/// The names of the zone's authoritative servers (its NS records).
pub async fn nameservers(servers: &[SocketAddr], zone: &Name) -> Result<Vec<Name>, Error> {
    let m = ask(servers, zone, RecordType::NS, true).await?;
    Ok(m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::NS(ns) => Some(ns.0.clone()),
            _ => None,
        })
        .collect())
}

/// The IPv4 and IPv6 addresses of `host`.
pub async fn addresses(servers: &[SocketAddr], host: &Name) -> Result<Vec<IpAddr>, Error> {
    let mut out = Vec::new();
    for kind in [RecordType::A, RecordType::AAAA] {
        let m = ask(servers, host, kind, true).await?;
        out.extend(m.answers.iter().filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(IpAddr::V6(a.0)),
            _ => None,
        }));
    }
    Ok(out)
}

/// The TXT values `server` answers for `name`.
pub async fn txt(server: SocketAddr, name: &Name, recurse: bool) -> Result<Vec<String>, Error> {
    let m = query(server, name, RecordType::TXT, recurse).await?;
    Ok(m.answers
        .iter()
        .filter(|r| r.name.eq_ignore_root_case(name))
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(
                t.txt_data
                    .iter()
                    .map(|part| String::from_utf8_lossy(part).into_owned())
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect())
}
