//! The HTTP-01 listener: answers `GET /.well-known/acme-challenge/<token>` for the Challenges
//! this controller is presenting, straight from the Challenge watch cache.
//!
//! In a cluster, the Ingress or HTTPRoute of the challenge routes the path to the controller's
//! Service on this port; the ACME server's validation request thus lands here. Only a
//! Challenge of type HTTP-01 with `status.presented` true and not yet final is answered, and
//! only for its own host name, so a token cannot be fetched through another name.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use kube::runtime::reflector::Store;
use tracing::{debug, info, warn};

use crate::api::Challenge;
use crate::api::acme_order::{AcmeChallengeType, AcmeState};

/// The path prefix RFC 8555 section 8.3 fixes.
pub const PATH_PREFIX: &str = "/.well-known/acme-challenge/";

/// The key authorization to serve for `host` and `path`, if a presented Challenge has it.
pub fn answer<'a>(
    challenges: impl IntoIterator<Item = &'a Challenge>,
    host: &str,
    path: &str,
) -> Option<String> {
    let token = path.strip_prefix(PATH_PREFIX)?;
    if token.is_empty() || token.contains('/') {
        return None;
    }
    let host = strip_port(host);
    challenges
        .into_iter()
        .find(|c| {
            let s = c.status.clone().unwrap_or_default();
            c.spec.r#type == AcmeChallengeType::Http01
                && c.spec.token == token
                && c.spec.dns_name.eq_ignore_ascii_case(host)
                && s.presented == Some(true)
                && !s.state.is_some_and(AcmeState::is_final)
                && c.metadata.deletion_timestamp.is_none()
        })
        .map(|c| c.spec.key.clone())
}

/// `host:port` or `[v6]:port` to the host alone.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

fn respond(store: &Store<Challenge>, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())
        .unwrap_or_default();
    let path = req.uri().path();
    let all = store.state();
    let found = (req.method() == http::Method::GET)
        .then(|| answer(all.iter().map(Arc::as_ref), host, path))
        .flatten();
    let (status, body) = match found {
        Some(key) => {
            info!(host, "answered an HTTP-01 challenge");
            (StatusCode::OK, key)
        }
        None => {
            debug!(host, path, "no HTTP-01 challenge here");
            (StatusCode::NOT_FOUND, String::new())
        }
    };
    let mut rsp = Response::new(Full::new(Bytes::from(body)));
    *rsp.status_mut() = status;
    rsp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    rsp
}

/// Serves until the process ends. A bind failure is reported and the listener stays off: the
/// other controllers keep running (DNS-01 and non-ACME issuers do not need it).
pub async fn serve(addr: SocketAddr, store: Store<Challenge>) {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            warn!(%addr, error = %e, "cannot listen for HTTP-01 challenges");
            return;
        }
    };
    info!(%addr, "serving HTTP-01 challenges");
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                debug!(error = %e, "accepting an HTTP-01 connection");
                continue;
            }
        };
        let store = store.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let rsp = respond(&store, &req);
                async move { Ok::<_, Infallible>(rsp) }
            });
            // A slow client cannot hold a connection open by trickling its headers.
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Fetches the challenge response the way the ACME server will (plain HTTP, the challenge's
/// host name), before the server is asked to validate: an Ingress that is not routing yet
/// then costs a retry here instead of an invalid order at the CA.
///
/// `via` connects to that address instead of resolving the host (the Host header still names
/// it): for tests, and for clusters whose own DNS view differs from the CA's.
pub async fn self_check(
    via: Option<SocketAddr>,
    dns_name: &str,
    token: &str,
    expected: &str,
) -> Result<(), String> {
    use http_body_util::BodyExt;
    let authority = match via {
        Some(a) => a.to_string(),
        None => dns_name.to_string(),
    };
    let url = format!("http://{authority}{PATH_PREFIX}{token}");
    let req = Request::get(&url)
        .header(http::header::HOST, dns_name)
        .body(http_body_util::Empty::<Bytes>::new())
        .map_err(|e| format!("self check {url}: {e}"))?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<Bytes>>();
    let work = async {
        let rsp = client
            .request(req)
            .await
            .map_err(|e| format!("self check GET http://{dns_name}{PATH_PREFIX}{token}: {e}"))?;
        let status = rsp.status();
        let body = http_body_util::Limited::new(rsp.into_body(), 64 * 1024)
            .collect()
            .await
            .map_err(|e| format!("self check: reading the answer: {e}"))?
            .to_bytes();
        if status != StatusCode::OK {
            return Err(format!(
                "self check GET http://{dns_name}{PATH_PREFIX}{token}: HTTP {status}"
            ));
        }
        if body.as_ref() != expected.as_bytes() {
            return Err(format!(
                "self check GET http://{dns_name}{PATH_PREFIX}{token}: wrong key authorization served"
            ));
        }
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .map_err(|_| {
            format!("self check http://{dns_name}{PATH_PREFIX}{token}: no answer within 10s")
        })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ChallengeSpec, ChallengeStatus, IssuerRef};

    fn ch(token: &str, host: &str, presented: bool, state: Option<AcmeState>) -> Challenge {
        let mut c = Challenge::new(
            "c",
            ChallengeSpec {
                url: "https://ca/chall".into(),
                authorization_url: "https://ca/authz".into(),
                dns_name: host.into(),
                wildcard: None,
                r#type: AcmeChallengeType::Http01,
                token: token.into(),
                key: format!("{token}.thumb"),
                solver: Default::default(),
                issuer_ref: IssuerRef::default(),
            },
        );
        c.status = Some(ChallengeStatus {
            presented: Some(presented),
            state,
            ..Default::default()
        });
        c
    }

    #[test]
    fn answers_only_presented_challenges_for_their_own_host() {
        let cs = [
            ch("t1", "a.test", true, Some(AcmeState::Pending)),
            ch("t2", "b.test", false, None),
            ch("t3", "c.test", true, Some(AcmeState::Valid)),
        ];
        let p = |t: &str| format!("{PATH_PREFIX}{t}");
        assert_eq!(answer(&cs, "a.test", &p("t1")).as_deref(), Some("t1.thumb"));
        assert_eq!(
            answer(&cs, "A.TEST:80", &p("t1")).as_deref(),
            Some("t1.thumb")
        );
        assert_eq!(answer(&cs, "other.test", &p("t1")), None, "wrong host");
        assert_eq!(answer(&cs, "b.test", &p("t2")), None, "not presented yet");
        assert_eq!(answer(&cs, "c.test", &p("t3")), None, "final");
        assert_eq!(answer(&cs, "a.test", "/t1"), None);
        assert_eq!(answer(&cs, "a.test", PATH_PREFIX), None);
    }

    #[test]
    fn ports_are_stripped_from_host_headers() {
        assert_eq!(strip_port("a.test:5002"), "a.test");
        assert_eq!(strip_port("a.test"), "a.test");
        assert_eq!(strip_port("[::1]:80"), "::1");
    }
}
