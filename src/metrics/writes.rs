//! Counting API writes: a tower layer on the kube client that sees every request the process
//! sends, so no write escapes the count however it is made (typed `Api`, the Event publisher,
//! the Lease). Few writes per issuance is a goal of certwright; this counter is how an operator
//! checks it, and how the failover test proves that a standby writes nothing but its Lease.
use std::task::{Context, Poll};

use http::{Method, Request};
use prometheus::IntCounterVec;
use tower::{Layer, Service};

/// The `(resource, verb)` of a write, in RBAC's terms (`certificates/status`, `patch`); `None`
/// for reads and for paths that are not resource paths.
pub fn classify(method: &Method, path: &str) -> Option<(String, &'static str)> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    // Core group: /api/v1/...; named groups: /apis/{group}/{version}/...
    let rest = match segs.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return None,
    };
    // /namespaces/{ns}/{resource}/... is namespaced; /namespaces/{name} is a Namespace itself.
    let rest = match rest {
        ["namespaces", _ns, tail @ ..] if !tail.is_empty() => tail,
        other => other,
    };
    let (resource, name, sub) = match rest {
        [] => return None,
        [r] => (*r, None, None),
        [r, n] => (*r, Some(*n), None),
        [r, n, s, ..] => (*r, Some(*n), Some(*s)),
    };
    let verb = match *method {
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if name.is_some() => "delete",
        Method::DELETE => "deletecollection",
        _ => return None,
    };
    let resource = match sub {
        Some(s) => format!("{resource}/{s}"),
        None => resource.to_string(),
    };
    Some((resource, verb))
}

/// Wraps the client's service stack; see [`CountWrites`].
#[derive(Clone)]
pub struct CountWritesLayer {
    pub counter: IntCounterVec,
}

impl<S> Layer<S> for CountWritesLayer {
    type Service = CountWrites<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CountWrites {
            inner,
            counter: self.counter.clone(),
        }
    }
}

/// Increments `certwright_api_writes_total{resource, verb}` for each write it forwards. It
/// counts attempts, not successes: a refused write still cost the apiserver a request.
#[derive(Clone)]
pub struct CountWrites<S> {
    inner: S,
    counter: IntCounterVec,
}

impl<S, B> Service<Request<B>> for CountWrites<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if let Some((resource, verb)) = classify(req.method(), req.uri().path()) {
            self.counter.with_label_values(&[&resource, verb]).inc();
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(m: Method, p: &str) -> Option<(String, &'static str)> {
        classify(&m, p)
    }

    #[test]
    fn writes_are_named_as_rbac_names_them() {
        let ok = |r: &str, v| Some((r.to_string(), v));
        assert_eq!(
            c(
                Method::PATCH,
                "/apis/cert-manager.io/v1/namespaces/a/certificates/web/status"
            ),
            ok("certificates/status", "patch")
        );
        assert_eq!(
            c(
                Method::POST,
                "/apis/cert-manager.io/v1/namespaces/a/certificaterequests"
            ),
            ok("certificaterequests", "create")
        );
        assert_eq!(
            c(Method::DELETE, "/api/v1/namespaces/a/secrets/web-next"),
            ok("secrets", "delete")
        );
        assert_eq!(
            c(Method::DELETE, "/api/v1/namespaces/a/secrets"),
            ok("secrets", "deletecollection")
        );
        assert_eq!(
            c(
                Method::PUT,
                "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/certwright"
            ),
            ok("leases", "update")
        );
        assert_eq!(
            c(
                Method::PATCH,
                "/apis/cert-manager.io/v1/clusterissuers/root/status"
            ),
            ok("clusterissuers/status", "patch")
        );
        // A Namespace itself, not something in it.
        assert_eq!(
            c(Method::DELETE, "/api/v1/namespaces/a"),
            ok("namespaces", "delete")
        );
    }

    #[test]
    fn reads_and_odd_paths_are_not_writes() {
        assert_eq!(c(Method::GET, "/api/v1/namespaces/a/secrets/x"), None);
        assert_eq!(
            c(
                Method::GET,
                "/apis/cert-manager.io/v1/certificates?watch=true"
            ),
            None
        );
        assert_eq!(c(Method::POST, "/version"), None);
        assert_eq!(c(Method::POST, "/apis/cert-manager.io/v1"), None);
    }
}
