//! One DNS exchange over UDP or TCP. UDP answers with the truncation bit set are asked again
//! over TCP (RFC 7766); an answer whose ID is not ours is ignored, not taken.
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::Error;

/// How long one exchange may take before the server counts as unreachable.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Transport of an exchange.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// UDP, falling back to TCP for truncated answers.
    #[default]
    Udp,
    /// TCP only.
    Tcp,
}

/// Sends `request` (an encoded message with ID `id`) to `server`; returns the encoded answer.
pub async fn exchange(
    server: SocketAddr,
    id: u16,
    request: &[u8],
    protocol: Protocol,
) -> Result<Vec<u8>, Error> {
    let unreachable = |problem: String| Error::Unreachable {
        server: server.to_string(),
        problem,
    };
    let work = async {
        if protocol == Protocol::Udp {
            let answer = udp(server, id, request)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            // Header byte 2, bit 1: TC.
            if answer.get(2).is_none_or(|b| b & 0x02 == 0) {
                return Ok(answer);
            }
        }
        tcp(server, request)
            .await
            .map_err(|e| unreachable(e.to_string()))
    };
    tokio::time::timeout(TIMEOUT, work)
        .await
        .map_err(|_| unreachable(format!("no answer within {}s", TIMEOUT.as_secs())))?
}

async fn udp(server: SocketAddr, id: u16, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(local).await?;
    sock.connect(server).await?;
    sock.send(request).await?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = sock.recv(&mut buf).await?;
        if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn tcp(server: SocketAddr, request: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(server).await?;
    let len = u16::try_from(request.len())
        .map_err(|_| std::io::Error::other("request larger than 64 KiB"))?;
    let mut framed = Vec::with_capacity(request.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(request);
    s.write_all(&framed).await?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await?;
    let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut answer).await?;
    Ok(answer)
}
