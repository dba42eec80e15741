//! The TCP exchange: connect, one length-prefixed query, one length-prefixed answer.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::message::{classify, SoaQuery, Verdict};
use super::{network_failure, timeout_failure, verdict_outcome, Failure, FailureKind, Outcome};

/// Sends `query` to `addr` over TCP and reads one answer, all before `deadline`.
///
/// The RTT is measured from just before `connect` to the moment the whole answer body has
/// been read, so **it includes the TCP handshake** (about one extra round trip); parsing is
/// outside the timed part. `truncated` is copied into the answer (set when this is the
/// retry of a UDP answer with TC).
///
/// Classification: TC set → [`FailureKind::TruncatedTcp`]. Every I/O error, including the
/// peer closing the connection before the length prefix or the announced body was read
/// completely (a short read), is [`FailureKind::Network`]: the transport failed, not the
/// DNS message. Only a completely received body that does not parse is
/// [`FailureKind::Malformed`].
pub(super) async fn exchange(
    query: &SoaQuery,
    addr: SocketAddr,
    source: Option<IpAddr>,
    deadline: tokio::time::Instant,
    timeout: Duration,
    truncated: bool,
) -> Outcome {
    let (body, rtt) = match tokio::time::timeout_at(deadline, run(query, addr, source)).await {
        Ok(Ok(got)) => got,
        Ok(Err(f)) => return Err(f),
        Err(_) => return Err(timeout_failure(timeout, "tcp")),
    };
    match classify(query, &body) {
        Verdict::Truncated => Err(Failure {
            kind: FailureKind::TruncatedTcp,
            detail: "TC set on an answer over TCP".to_string(),
            rtt: Some(rtt),
        }),
        other => verdict_outcome(other, rtt, truncated),
    }
}

async fn run(
    query: &SoaQuery,
    addr: SocketAddr,
    source: Option<IpAddr>,
) -> Result<(Vec<u8>, Duration), Failure> {
    let framed = frame(&query.bytes)?;
    let start = Instant::now();
    let mut stream = connect(addr, source)
        .await
        .map_err(|e| network_failure("tcp connect", &e))?;
    stream
        .set_nodelay(true)
        .map_err(|e| network_failure("tcp set_nodelay", &e))?;
    stream
        .write_all(&framed)
        .await
        .map_err(|e| network_failure("tcp write", &e))?;
    let body = read_framed(&mut stream).await?;
    Ok((body, start.elapsed()))
}

/// A message with its RFC 1035 §4.2.2 two-byte length prefix; a message over 65,535
/// bytes cannot be framed ([`FailureKind::Malformed`]).
pub fn frame(message: &[u8]) -> Result<Vec<u8>, Failure> {
    let len = u16::try_from(message.len()).map_err(|_| Failure {
        kind: FailureKind::Malformed,
        detail: "query too long for TCP framing".to_string(),
        rtt: None,
    })?;
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    Ok(framed)
}

/// Reads one length-prefixed message: exactly the announced number of bytes after the
/// prefix (bytes after it are left unread). A stream that ends before the prefix or the
/// announced body is complete is [`FailureKind::Network`] (a short read).
pub async fn read_framed<R: AsyncRead + Unpin>(stream: &mut R) -> Result<Vec<u8>, Failure> {
    let mut len_buf = [0u8; 2];
    stream
        .read_exact(&mut len_buf)
        .await
        .map_err(|e| network_failure("tcp read length", &e))?;
    let n = usize::from(u16::from_be_bytes(len_buf));
    let mut body = vec![0u8; n];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|e| network_failure(&format!("tcp read {n}-byte answer"), &e))?;
    Ok(body)
}

/// Connects to `addr`, from `source` (port chosen by the kernel) when given: the socket is
/// bound before `connect`, so the packets leave with that source address.
async fn connect(addr: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(ip) = source else {
        return TcpStream::connect(addr).await;
    };
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    sock.bind(SocketAddr::new(ip, 0))?;
    sock.connect(addr).await
}
