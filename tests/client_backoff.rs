//! The controller's API client backs off on HTTP 429 (and honours Retry-After) instead of
//! failing the reconcile or hammering the apiserver. certwright builds its client the plain way
//! (`Config` from a kubeconfig, then `Client::try_from`), which in kube 5 carries a retry
//! layer; this test pins that behaviour against a loopback server that throttles once, so an
//! upgrade or a different client construction that loses it fails here.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use tokio::net::{TcpListener, TcpStream};

/// Reads what is available (without tokio's io-util feature, which the crate does not need).
async fn read_some(sock: &TcpStream, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        sock.readable().await?;
        match sock.try_read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            r => return r,
        }
    }
}

async fn write_all(sock: &TcpStream, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        sock.writable().await?;
        match sock.try_write(data) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
            Ok(n) => data = &data[n..],
        }
    }
    Ok(())
}

/// Serves HTTP/1.1 on loopback: the first `throttled` requests get 429 with `Retry-After: 1`,
/// later ones a Namespace. Returns the port and the request counter.
async fn throttling_server(throttled: usize) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let c = c.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    // One request per header block (GETs carry no body).
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match read_some(&sock, &mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    buf.drain(..end);
                    let n = c.fetch_add(1, Ordering::SeqCst);
                    let (status, extra, body) = if n < throttled {
                        (
                            "429 Too Many Requests",
                            "Retry-After: 1\r\n",
                            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"TooManyRequests","code":429}"#.to_string(),
                        )
                    } else {
                        (
                            "200 OK",
                            "",
                            r#"{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"probe"}}"#
                                .to_string(),
                        )
                    };
                    let resp = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if write_all(&sock, resp.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, count)
}

/// A client built the way `certwright controller` builds it from `--kubeconfig`.
async fn client_like_the_controller(port: u16) -> kube::Client {
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\nusers: [{{name: u, user: {{token: t}}}}]\ncontexts: [{{name: x, context: {{cluster: c, user: u}}}}]\ncurrent-context: x\n"
    );
    let kc = kube::config::Kubeconfig::from_yaml(&yaml).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

#[tokio::test]
async fn a_throttled_request_is_retried_after_the_servers_delay() {
    let (port, count) = throttling_server(2).await;
    let client = client_like_the_controller(port).await;
    let started = Instant::now();
    let ns = Api::<Namespace>::all(client)
        .get("probe")
        .await
        .expect("the request succeeds once the server stops throttling");
    assert_eq!(ns.metadata.name.as_deref(), Some("probe"));
    assert_eq!(
        count.load(Ordering::SeqCst),
        3,
        "two throttled tries, then success"
    );
    // Retry-After: 1 was honoured each time (a lower bound only: never a speed assertion).
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "retried before the server's Retry-After: {:?}",
        started.elapsed()
    );
}
