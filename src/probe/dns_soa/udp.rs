//! The UDP exchange over a fresh connected socket per query ([`exchange`]), and the
//! judgement of one received datagram ([`judge`]) that `UdpBatch` shares.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use tokio::net::UdpSocket;

use super::message::{classify, SoaQuery, Verdict};
use super::{network_failure, timeout_failure, verdict_outcome, Failure, Outcome};

/// Receive buffer size: the largest possible UDP payload.
const RECV_BUF: usize = 64 * 1024;

/// How a UDP exchange ended.
#[derive(Debug)]
pub(super) enum UdpResult {
    /// A final outcome (answer or classified failure).
    Done(Outcome),
    /// A valid (right ID and question) answer with TC set: retry over TCP.
    Truncated,
}

/// Sends `query` to `addr` over UDP and waits for a valid answer until `deadline`.
///
/// The socket is bound to `source` (when given) or the unspecified address of `addr`'s family on port 0 (a fresh
/// source port each time) and `connect`ed, so the kernel drops datagrams from other
/// sources and reports ICMP port unreachable as `ECONNREFUSED` ([`super::FailureKind::Network`]).
///
/// The RTT is measured from just before `send` to just after the `recv` that returned the
/// accepted datagram; parsing is outside the timed part. Datagrams that do not parse or
/// carry the wrong ID / question do not end the wait; if the deadline passes after only
/// such datagrams, the last one's classification is returned instead of a timeout.
pub(super) async fn exchange(
    query: &SoaQuery,
    addr: SocketAddr,
    source: Option<IpAddr>,
    deadline: tokio::time::Instant,
    timeout: std::time::Duration,
) -> UdpResult {
    let mut last_stray: Option<Failure> = None;
    let fut = run(query, addr, source, &mut last_stray);
    match tokio::time::timeout_at(deadline, fut).await {
        Ok(result) => result,
        Err(_) => UdpResult::Done(Err(
            last_stray.unwrap_or_else(|| timeout_failure(timeout, "udp"))
        )),
    }
}

async fn run(
    query: &SoaQuery,
    addr: SocketAddr,
    source: Option<IpAddr>,
    last_stray: &mut Option<Failure>,
) -> UdpResult {
    let local: SocketAddr = if let Some(ip) = source {
        (ip, 0).into()
    } else if addr.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = match UdpSocket::bind(local).await {
        Ok(s) => s,
        Err(e) => return UdpResult::Done(Err(network_failure("udp bind", &e))),
    };
    if let Err(e) = sock.connect(addr).await {
        return UdpResult::Done(Err(network_failure("udp connect", &e)));
    }
    // Capacity only: `recv_buf` writes into the spare capacity, so the 64 KiB are
    // neither zeroed nor touched beyond the datagram's length.
    let mut buf = Vec::with_capacity(RECV_BUF);
    let start = Instant::now();
    if let Err(e) = sock.send(&query.bytes).await {
        return UdpResult::Done(Err(network_failure("udp send", &e)));
    }
    loop {
        buf.clear();
        let n = match sock.recv_buf(&mut buf).await {
            Ok(n) => n,
            Err(e) => return UdpResult::Done(Err(network_failure("udp recv", &e))),
        };
        let rtt = start.elapsed();
        if let Some(result) = judge(query, buf.get(..n).unwrap_or_default(), rtt, last_stray) {
            return result;
        }
    }
}

/// The result of one datagram received for `query`, or None for a stray (a wrong ID,
/// question or source: remembered in `last_stray`, and the wait goes on).
pub(super) fn judge(
    query: &SoaQuery,
    bytes: &[u8],
    rtt: std::time::Duration,
    last_stray: &mut Option<Failure>,
) -> Option<UdpResult> {
    let verdict = classify(query, bytes);
    if verdict.is_stray() {
        if let Err(f) = verdict_outcome(verdict, rtt, false) {
            *last_stray = Some(f);
        }
        return None;
    }
    Some(match verdict {
        Verdict::Truncated => UdpResult::Truncated,
        other => UdpResult::Done(verdict_outcome(other, rtt, false)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::message::build_query_with_id;
    use crate::probe::FailureKind;
    use hickory_proto::rr::Name;

    #[tokio::test]
    async fn silence_is_a_timeout_and_refusal_is_network() {
        let zone = Name::from_ascii("dk.").expect("name");
        let q = build_query_with_id(1, &zone, false, false).expect("query");
        // A bound socket that never answers.
        let quiet = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let addr = quiet.local_addr().expect("addr");
        let t = std::time::Duration::from_millis(100);
        let deadline = tokio::time::Instant::now() + t;
        match exchange(&q, addr, None, deadline, t).await {
            UdpResult::Done(Err(f)) => assert_eq!(f.kind, FailureKind::Timeout),
            other => panic!("{other:?}"),
        }
        drop(quiet);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
        let started = Instant::now();
        match exchange(&q, addr, None, deadline, t).await {
            UdpResult::Done(Err(f)) => assert_eq!(f.kind, FailureKind::Network),
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
