//! The `tcp` check: connect, optionally send a string, optionally read until a pattern matches.
//!
//! For line protocols such as DAS (domain availability service) or any banner.
//! The response time is the TCP connect when there is no `expect`, otherwise the
//! time until the pattern matched (connect, send and reads included).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant as StdInstant};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::{
    connect, fail, io_failure, step, CheckFailure, CheckOutcome, Facts, Pattern, Reason, Rejection,
    Success,
};

/// Default bound on the bytes read while waiting for `expect` (64 KiB).
pub const DEFAULT_MAX_READ: usize = 64 * 1024;

/// A `tcp` check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSpec {
    /// The address to connect to.
    pub addr: SocketAddr,
    /// Bytes written right after connecting (e.g. `"status\r\n"`), if any.
    pub send: Option<Vec<u8>>,
    /// Pattern the received bytes must match; reading stops at the first match,
    /// at EOF, after `max_read` bytes, or at the deadline.
    pub expect: Option<Pattern>,
    /// Bound on the bytes read while waiting for `expect`.
    pub max_read: usize,
}

impl TcpSpec {
    /// A plain connect check to `addr`.
    pub fn connect(addr: SocketAddr) -> TcpSpec {
        TcpSpec {
            addr,
            send: None,
            expect: None,
            max_read: DEFAULT_MAX_READ,
        }
    }
}

/// What a `tcp` or `whois` check read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamFacts {
    /// Time to establish the TCP connection. JSON: `connect_ms`, float milliseconds.
    #[serde(rename = "connect_ms", with = "super::millis")]
    pub connect: Duration,
    /// Bytes received.
    pub bytes_read: usize,
    /// The text `expect` matched (lossy UTF-8, at most 200 characters), if an `expect` was set.
    pub matched: Option<String>,
}

/// Verdict on bytes read so far: `Ok(Some(m))` matched, `Ok(None)` keep reading,
/// `Err` give up. `done` says no more bytes will come (EOF or `max_read` reached).
///
/// Pure; never panics on any input.
pub fn evaluate(buf: &[u8], expect: &Pattern, done: bool) -> Result<Option<String>, Rejection> {
    match expect.find(buf) {
        Some(m) => Ok(Some(m)),
        None if done => Err(Rejection::new(
            Reason::ExpectMismatch,
            format!(
                "no match for /{}/ in {} bytes: {}",
                expect.as_str(),
                buf.len(),
                excerpt(buf)
            ),
        )),
        None => Ok(None),
    }
}

/// The first 80 bytes of `buf` as escaped text, for failure details.
pub fn excerpt(buf: &[u8]) -> String {
    let head = buf.get(..80).unwrap_or(buf);
    let mut s: String = head.escape_ascii().to_string();
    if buf.len() > head.len() {
        s.push('…');
    }
    format!("\"{s}\"")
}

/// How a bounded read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadEnd {
    /// `stop` said yes.
    Stopped,
    /// The peer closed the connection.
    Eof,
    /// `max` bytes were read without `stop` saying yes.
    Full,
}

/// Reads into `buf` until `stop(buf)`, EOF or `max` bytes; I/O errors are [`Reason::Network`].
pub(crate) async fn read_until<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    mut stop: impl FnMut(&[u8]) -> bool,
) -> Result<ReadEnd, CheckFailure> {
    let mut chunk = vec![0u8; 8192];
    loop {
        if stop(buf) {
            return Ok(ReadEnd::Stopped);
        }
        let room = max.saturating_sub(buf.len());
        if room == 0 {
            return Ok(ReadEnd::Full);
        }
        let want = room.min(chunk.len());
        let n = r
            .read(chunk.get_mut(..want).unwrap_or_default())
            .await
            .map_err(|e| io_failure("read", &e))?;
        if n == 0 {
            return Ok(ReadEnd::Eof);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

/// [`read_until`] bounded by `deadline`; at the deadline a [`Reason::Timeout`] failure whose
/// detail `timed_out` writes from the bytes read so far.
pub(crate) async fn read_until_deadline<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    stop: impl FnMut(&[u8]) -> bool,
    deadline: Instant,
    timed_out: impl FnOnce(&[u8]) -> String,
) -> Result<ReadEnd, CheckFailure> {
    match tokio::time::timeout_at(deadline, read_until(r, buf, max, stop)).await {
        Ok(end) => end,
        Err(_) => Err(fail(Reason::Timeout, timed_out(buf))),
    }
}

/// Runs a `tcp` check (see the module doc for what the response time covers).
pub async fn check(spec: &TcpSpec, source: Option<IpAddr>, deadline: Instant) -> CheckOutcome {
    let start = StdInstant::now();
    let mut stream = connect(spec.addr, source, deadline).await?;
    let connected = start.elapsed();
    if let Some(send) = &spec.send {
        step(deadline, "tcp send", async {
            stream
                .write_all(send)
                .await
                .map_err(|e| io_failure("tcp send", &e))
        })
        .await?;
    }
    let Some(expect) = &spec.expect else {
        let _ = stream.shutdown().await;
        return Ok(Success {
            rtt: connected,
            facts: Facts::Tcp(StreamFacts {
                connect: connected,
                bytes_read: 0,
                matched: None,
            }),
        });
    };
    let mut buf = Vec::new();
    let end = read_until_deadline(
        &mut stream,
        &mut buf,
        spec.max_read,
        |b| expect.is_match(b),
        deadline,
        |buf| {
            format!(
                "no match for /{}/ before the deadline; read {} bytes: {}",
                expect.as_str(),
                buf.len(),
                excerpt(buf)
            )
        },
    )
    .await?;
    let rtt = start.elapsed();
    match evaluate(&buf, expect, end != ReadEnd::Stopped) {
        Ok(Some(m)) => Ok(Success {
            rtt,
            facts: Facts::Tcp(StreamFacts {
                connect: connected,
                bytes_read: buf.len(),
                matched: Some(m),
            }),
        }),
        Ok(None) => Err(fail(Reason::ExpectMismatch, "read ended without a match")),
        Err(r) => Err(r.into_failure(Some(rtt), None)),
    }
}
