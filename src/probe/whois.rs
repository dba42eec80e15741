//! The `whois` check (RFC 3912): connect to port 43, send one query line, read the
//! answer until the server closes the connection, match a pattern.
//!
//! The response time runs from before the connect until EOF (the whole answer).

use std::net::{IpAddr, SocketAddr};
use std::time::Instant as StdInstant;

use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use super::tcp::{excerpt, read_until_deadline, ReadEnd, StreamFacts};
use super::{connect, io_failure, step, CheckOutcome, Facts, Pattern, Reason, Rejection, Success};

/// Default bound on the answer size (256 KiB).
pub const DEFAULT_MAX_READ: usize = 256 * 1024;

/// A `whois` check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoisSpec {
    /// The server address (port 43 normally).
    pub addr: SocketAddr,
    /// The query, without the line end (`\r\n` is appended), e.g. `punktum.dk`.
    pub query: String,
    /// Pattern the answer must contain; without one any non-empty answer passes.
    pub expect: Option<Pattern>,
    /// Bound on the answer size; a longer answer is [`Reason::TooLarge`].
    pub max_read: usize,
}

impl WhoisSpec {
    /// A query for `query` to `addr`, any non-empty answer passing, [`DEFAULT_MAX_READ`].
    pub fn new(addr: SocketAddr, query: &str) -> WhoisSpec {
        WhoisSpec {
            addr,
            query: query.to_string(),
            expect: None,
            max_read: DEFAULT_MAX_READ,
        }
    }
}

/// Verdict on a complete whois answer (`full`: the read stopped at the size bound).
///
/// Empty → [`Reason::EmptyResponse`]; bound reached → [`Reason::TooLarge`]; no match
/// → [`Reason::ExpectMismatch`]; otherwise the matched text (None without `expect`).
/// Pure; never panics on any input.
pub fn evaluate(
    answer: &[u8],
    full: bool,
    expect: Option<&Pattern>,
) -> Result<Option<String>, Rejection> {
    if full {
        return Err(Rejection::new(
            Reason::TooLarge,
            format!("answer reached the {}-byte bound before EOF", answer.len()),
        ));
    }
    if answer.is_empty() {
        return Err(Rejection::new(
            Reason::EmptyResponse,
            "the server closed the connection without answering",
        ));
    }
    match expect {
        None => Ok(None),
        Some(p) => match p.find(answer) {
            Some(m) => Ok(Some(m)),
            None => Err(Rejection::new(
                Reason::ExpectMismatch,
                format!(
                    "no match for /{}/ in the {}-byte answer: {}",
                    p.as_str(),
                    answer.len(),
                    excerpt(answer)
                ),
            )),
        },
    }
}

/// Runs a `whois` check.
pub async fn check(spec: &WhoisSpec, source: Option<IpAddr>, deadline: Instant) -> CheckOutcome {
    let start = StdInstant::now();
    let mut stream = connect(spec.addr, source, deadline).await?;
    let connected = start.elapsed();
    let line = format!("{}\r\n", spec.query);
    step(deadline, "whois send", async {
        stream
            .write_all(line.as_bytes())
            .await
            .map_err(|e| io_failure("whois send", &e))
    })
    .await?;
    let mut buf = Vec::new();
    let end = read_until_deadline(
        &mut stream,
        &mut buf,
        spec.max_read,
        |_| false,
        deadline,
        |buf| {
            format!(
                "no EOF before the deadline; read {} bytes: {}",
                buf.len(),
                excerpt(buf)
            )
        },
    )
    .await?;
    let rtt = start.elapsed();
    match evaluate(&buf, end == ReadEnd::Full, spec.expect.as_ref()) {
        Ok(matched) => Ok(Success {
            rtt,
            facts: Facts::Whois(StreamFacts {
                connect: connected,
                bytes_read: buf.len(),
                matched,
            }),
        }),
        Err(r) => Err(r.into_failure(Some(rtt), None)),
    }
}
