//! Ordering a PEM bundle into the `tls.crt` chain and the `ca.crt` trust anchor.
//!
//! Links are established the way a verifier would: a certificate is issued by another when its
//! issuer name equals the other's subject byte for byte, their AKI/SKI agree when both are
//! present, and the signature verifies with the other's key. Names alone are never trusted,
//! because two CAs can share a name.
use std::collections::{HashMap, HashSet};

use x509_parser::prelude::X509Certificate;

use super::alg::{is_weak_signature_oid, signature_oid_name, verify_signature};
use super::error::{CertName, CertNames, Error, Result};
use super::inspect::{cert_name, parse_certificate, subject_key_id};
use super::keys::KeySpec;
use super::name::to_rfc4514;
use super::pem;

/// The most certificates a bundle may hold; far above any real chain, low enough that the
/// pairwise link search stays cheap.
pub const MAX_CERTIFICATES: usize = 1000;

/// A bundle in signing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderedBundle {
    /// DER certificates for `tls.crt`: the leaf, then each issuer in turn. A self-signed root
    /// is left out (clients must already trust it; sending it only costs bytes) unless the
    /// leaf itself is self-signed.
    pub chain: Vec<Vec<u8>>,
    /// DER certificate for `ca.crt`: the self-signed root when the bundle has one, else the
    /// top-most issuer; `None` when the bundle is a lone leaf whose issuer is absent.
    pub ca: Option<Vec<u8>>,
}

impl OrderedBundle {
    /// The `tls.crt` contents: the chain as concatenated PEM.
    pub fn tls_crt_pem(&self) -> String {
        self.chain
            .iter()
            .map(|d| pem::encode(pem::CERTIFICATE, d))
            .collect()
    }

    /// The `ca.crt` contents, if any.
    pub fn ca_crt_pem(&self) -> Option<String> {
        self.ca.as_ref().map(|d| pem::encode(pem::CERTIFICATE, d))
    }
}

struct Node<'a> {
    der: &'a [u8],
    cert: X509Certificate<'a>,
    key: KeySpec,
    self_signed: bool,
}

/// Orders a PEM bundle given in any order, with duplicates, with or without its root.
///
/// Fails, naming the certificate by subject and serial, when the bundle has no leaf, several
/// leaves, a missing intermediate, an issuer cycle, or a certificate unrelated to the leaf's
/// chain; also on non-PEM input, non-certificate blocks, more than [`MAX_CERTIFICATES`],
/// input over [`pem::MAX_PEM_BYTES`], weak keys, and SHA-1/MD5 signatures (except a root's
/// signature on itself, which no verifier relies on).
pub fn order_bundle(input: &[u8]) -> Result<OrderedBundle> {
    let blocks = pem::parse_all(input, "certificate bundle")?;
    if blocks.len() > MAX_CERTIFICATES {
        return Err(Error::TooManyCertificates {
            count: blocks.len(),
            limit: MAX_CERTIFICATES,
        });
    }
    let mut seen = HashSet::new();
    let mut nodes = Vec::new();
    for block in &blocks {
        if block.tag() != pem::CERTIFICATE {
            return Err(Error::UnexpectedPemLabel {
                what: "certificate bundle",
                label: block.tag().into(),
            });
        }
        if !seen.insert(block.contents()) {
            continue; // duplicates are harmless; keep the first
        }
        let cert = parse_certificate(block.contents())?;
        let key = KeySpec::from_spki(
            cert.public_key(),
            &format!("certificate {}", cert_name(&cert)),
        )?;
        let weak = is_weak_signature_oid(&cert.signature_algorithm.algorithm.to_id_string());
        // A root's signature on itself is never relied upon, so a legacy SHA-1 self-signature
        // still makes it a root; every other weak signature is refused below.
        let self_signed = cert.subject().as_raw() == cert.issuer().as_raw()
            && (weak || signed_by(&cert, key, &cert.public_key().subject_public_key.data));
        nodes.push(Node {
            der: block.contents(),
            cert,
            key,
            self_signed,
        });
    }
    for n in &nodes {
        check_strength(n)?;
    }

    // parents[i]: indices of certificates that issued certificate i.
    let mut by_subject: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        by_subject
            .entry(n.cert.subject().as_raw())
            .or_default()
            .push(i);
    }
    let parents: Vec<Vec<usize>> = nodes
        .iter()
        .enumerate()
        .map(|(i, child)| {
            let same_name = by_subject
                .get(child.cert.issuer().as_raw())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            same_name
                .iter()
                .copied()
                .filter(|&j| j != i && issued_by(child, &nodes[j]))
                .collect()
        })
        .collect();
    let mut is_issuer = vec![false; nodes.len()];
    for ps in &parents {
        for &p in ps {
            is_issuer[p] = true;
        }
    }

    let leaf = pick_leaf(&nodes, &is_issuer)?;
    let mut path = vec![leaf];
    let mut cur = leaf;
    while !nodes[cur].self_signed {
        let Some(&next) = parents[cur]
            .iter()
            .find(|p| !path.contains(p))
            .or(parents[cur].first())
        else {
            break;
        };
        if path.contains(&next) {
            return Err(Error::Cycle {
                certificate: cert_name(&nodes[next].cert),
            });
        }
        path.push(next);
        cur = next;
    }

    let top = *path.last().unwrap_or(&leaf);
    if let Some(stray) = (0..nodes.len()).find(|i| !path.contains(i)) {
        if !nodes[top].self_signed {
            return Err(Error::MissingLink {
                certificate: cert_name(&nodes[top].cert),
                issuer: to_rfc4514(nodes[top].cert.issuer()),
            });
        }
        return Err(Error::Unrelated {
            certificate: cert_name(&nodes[stray].cert),
            leaf: cert_name(&nodes[leaf].cert),
        });
    }

    let der = |i: usize| nodes[i].der.to_vec();
    let bundle = match (path.len(), nodes[top].self_signed) {
        (1, true) => OrderedBundle {
            chain: vec![der(top)],
            ca: Some(der(top)),
        },
        (1, false) => OrderedBundle {
            chain: vec![der(top)],
            ca: None,
        },
        (n, true) => OrderedBundle {
            chain: path[..n - 1].iter().map(|&i| der(i)).collect(),
            ca: Some(der(top)),
        },
        (_, false) => OrderedBundle {
            chain: path.iter().map(|&i| der(i)).collect(),
            ca: Some(der(top)),
        },
    };
    Ok(bundle)
}

/// The leaf is the one certificate that issues nothing else in the bundle. When CA
/// certificates also issue nothing (a stray root, say), the single non-CA one wins and the
/// strays are reported as unrelated by the caller.
fn pick_leaf(nodes: &[Node<'_>], is_issuer: &[bool]) -> Result<usize> {
    let candidates: Vec<usize> = (0..nodes.len()).filter(|&i| !is_issuer[i]).collect();
    let names = |idx: &[usize]| CertNames(idx.iter().map(|&i| cert_name(&nodes[i].cert)).collect());
    let non_ca: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| !is_ca(&nodes[i].cert))
        .collect();
    match (candidates.as_slice(), non_ca.as_slice()) {
        ([], _) => Err(Error::NoLeaf),
        ([only], _) => Ok(*only),
        (_, [only]) => Ok(*only),
        (all, []) => Err(Error::SeveralLeaves { leaves: names(all) }),
        (_, several) => Err(Error::SeveralLeaves {
            leaves: names(several),
        }),
    }
}

fn is_ca(cert: &X509Certificate<'_>) -> bool {
    cert.basic_constraints()
        .ok()
        .flatten()
        .is_some_and(|bc| bc.value.ca)
}

fn issued_by(child: &Node<'_>, parent: &Node<'_>) -> bool {
    let aki = child
        .cert
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(a) => {
                a.key_identifier.as_ref()
            }
            _ => None,
        });
    if let (Some(aki), Some(ski)) = (aki, subject_key_id(&parent.cert))
        && aki.0 != ski
    {
        return false;
    }
    signed_by(
        &child.cert,
        parent.key,
        &parent.cert.public_key().subject_public_key.data,
    )
}

fn signed_by(cert: &X509Certificate<'_>, key: KeySpec, public_key: &[u8]) -> bool {
    verify_signature(
        &cert.signature_algorithm.algorithm.to_id_string(),
        key,
        public_key,
        cert.tbs_certificate.as_ref(),
        &cert.signature_value.data,
    )
}

fn check_strength(n: &Node<'_>) -> Result<()> {
    let name: CertName = cert_name(&n.cert);
    let oid = n.cert.signature_algorithm.algorithm.to_id_string();
    if !n.self_signed && is_weak_signature_oid(&oid) {
        return Err(Error::WeakSignatureAlgorithm {
            what: format!("certificate {name}"),
            algorithm: signature_oid_name(&oid),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
