//! The one HTTP listener of the controller: `/metrics`, `/livez`, `/readyz` (cert-manager's
//! `--metrics-listen-address`, default `0.0.0.0:9402`; the chart points its probes and its
//! Service at this one port). Plain HTTP/1, GET only, no request body read: there is nothing
//! on it worth a TLS set-up, and nothing a client can send that changes state.
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::metrics::Metrics;

/// The Prometheus text exposition format.
const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Binds `addr`. Separate from [`serve`] so that a port in use fails the start-up with a clear
/// error, and so that `:0` (tests) can be resolved and logged before serving.
pub async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves until the listener fails. Each connection runs on its own task, so a slow scraper
/// never holds up a probe.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Usually EMFILE; the next accept may succeed once connections close.
                tracing::warn!(error = %e, "accepting a metrics connection failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(route(&req, &metrics)) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(error = %e, %peer, "metrics connection");
            }
        });
    }
}

fn text(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

/// Answers one request; pure apart from reading the metrics, so it is tested without sockets.
pub fn route(req: &Request<Incoming>, metrics: &Metrics) -> Response<Full<Bytes>> {
    respond(req.method(), req.uri().path(), metrics)
}

fn respond(method: &Method, path: &str, metrics: &Metrics) -> Response<Full<Bytes>> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if method != Method::GET && method != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            PLAIN,
            "only GET is served\n".into(),
        );
    }
    let probe = |(ok, body): (bool, String)| {
        let status = if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        text(status, PLAIN, body)
    };
    match path {
        "/metrics" => text(StatusCode::OK, METRICS_CONTENT_TYPE, metrics.render()),
        "/livez" | "/healthz" => probe(metrics.health.livez()),
        "/readyz" => probe(metrics.health.readyz()),
        _ => text(
            StatusCode::NOT_FOUND,
            PLAIN,
            "not found: try /metrics, /livez or /readyz\n".into(),
        ),
    }
}

/// The address actually bound (resolves a `:0` port).
pub fn local_addr(l: &TcpListener) -> Option<SocketAddr> {
    l.local_addr().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Role;

    #[test]
    fn routes_answer_with_the_right_status() {
        let m = Metrics::new();
        let get = |p: &str| respond(&Method::GET, p, &m).status();
        assert_eq!(get("/livez"), StatusCode::OK);
        assert_eq!(get("/readyz"), StatusCode::SERVICE_UNAVAILABLE);
        m.health.set_role(Role::Standby);
        assert_eq!(get("/readyz"), StatusCode::OK);
        assert_eq!(get("/metrics"), StatusCode::OK);
        assert_eq!(get("/nope"), StatusCode::NOT_FOUND);
        assert_eq!(
            respond(&Method::POST, "/metrics", &m).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        let r = respond(&Method::GET, "/metrics", &m);
        assert_eq!(r.headers()[header::CONTENT_TYPE], METRICS_CONTENT_TYPE);
    }
}
