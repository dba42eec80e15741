//! The `dns_soa` check: one SOA query to one address over one transport. Pure I/O.
//!
//! The probe knows nothing of zones' state, schedules, statuses or metrics: it
//! takes a [`ProbeSpec`] and returns an [`Outcome`]. Every byte sequence a
//! server may send is classified; nothing here panics on input. Its types are
//! re-exported from [`crate::probe`], where the other check kinds live beside it.
//!
//! Two ways to probe: [`probe`], one future per probe (a fresh socket or connection
//! each; TCP targets and one-shot checks), and [`UdpBatch`], many UDP probes in flight
//! over shared long-lived sockets, started and polled by one owner (the daemon's UDP
//! nameserver targets). Both encode, validate and classify alike.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::rr::Name;
use serde::{Deserialize, Serialize};

mod batch;
mod deadlines;
mod ids;
pub mod message;
mod pool;
mod tcp;
mod udp;

pub use batch::{Finished, Token, UdpBatch};
pub use pool::{IDLE_AFTER, ROTATE_AFTER};
pub use tcp::{frame, read_framed};

use message::Verdict;

/// How a query travels to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// DNS over UDP (a TC answer is retried over TCP and recorded as truncated).
    Udp,
    /// DNS over TCP (length-prefixed; the measured time includes the TCP connect).
    Tcp,
}

impl Transport {
    /// Stable lower-case name, used as a metric label and in the JSON API.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything one probe needs: which zone's SOA to ask for, where, how, and how long to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    /// The zone whose SOA is asked for (fully qualified, e.g. `dk.`).
    pub zone: Name,
    /// The server address to query directly.
    pub addr: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// Upper bound on the whole exchange (including a TC retry over TCP).
    pub timeout: Duration,
    /// Set the EDNS DO bit so that the SOA's RRSIG comes back.
    pub dnssec_ok: bool,
    /// Request the EDNS NSID option (RFC 5001).
    pub nsid: bool,
    /// Local address to send from (`[vantage] source_address`); used when its family
    /// matches `addr`'s, otherwise (and when None) the kernel picks.
    pub source: Option<IpAddr>,
}

impl ProbeSpec {
    /// The SOA query this spec sends (random ID; [`message::build_query`]). An encoding
    /// error cannot happen for a valid `Name`; it is a [`FailureKind::Malformed`] failure,
    /// reported for the probe rather than a panic.
    pub fn query(&self) -> Result<message::SoaQuery, Failure> {
        message::build_query(&self.zone, self.dnssec_ok, self.nsid).map_err(|e| Failure {
            kind: FailureKind::Malformed,
            detail: format!("cannot encode the query: {e}"),
            rtt: None,
        })
    }

    /// The local address to send from: `source` when of `addr`'s family, else none (the
    /// kernel picks).
    pub fn source_ip(&self) -> Option<IpAddr> {
        self.source.filter(|ip| ip.is_ipv4() == self.addr.is_ipv4())
    }
}

/// A successful, validated, authoritative SOA answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The SOA serial the server answered with.
    pub serial: u32,
    /// Response time: monotonic clock around send and receive (TCP: connect included).
    /// JSON: `rtt_ms`, float milliseconds.
    #[serde(rename = "rtt_ms", with = "super::millis")]
    pub rtt: Duration,
    /// The NSID the server returned, if any (printable ASCII as is, otherwise hex).
    pub nsid: Option<String>,
    /// Expiration time (seconds since the epoch, 32-bit as on the wire) of the RRSIG covering the SOA, if any.
    pub rrsig_expiration: Option<u32>,
    /// Size in bytes of the answer message.
    pub size: usize,
    /// The UDP answer had TC set and the answer came from the TCP retry.
    pub truncated: bool,
}

/// Why a probe failed. Each kind has a stable short name usable as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// No valid answer within the timeout.
    Timeout,
    /// The network said no: connection refused, host/network unreachable, reset, send error.
    Network,
    /// RCODE SERVFAIL.
    Servfail,
    /// RCODE REFUSED.
    Refused,
    /// RCODE FORMERR.
    Formerr,
    /// RCODE NXDOMAIN.
    Nxdomain,
    /// Any other non-NOERROR RCODE.
    Rcode,
    /// NOERROR but AA clear: the server is not authoritative for the zone (lame).
    Lame,
    /// Authoritative but no SOA for exactly the zone in the answer section.
    NoSoa,
    /// Only answers with the wrong message ID arrived.
    IdMismatch,
    /// The answer's question section does not echo the query (or opcode/QR wrong).
    QuestionMismatch,
    /// Bytes that do not parse as a DNS message.
    Malformed,
    /// TC set on an answer over TCP.
    TruncatedTcp,
}

impl FailureKind {
    /// Every kind, in a stable order (for pre-creating metric series).
    pub const ALL: [FailureKind; 13] = [
        FailureKind::Timeout,
        FailureKind::Network,
        FailureKind::Servfail,
        FailureKind::Refused,
        FailureKind::Formerr,
        FailureKind::Nxdomain,
        FailureKind::Rcode,
        FailureKind::Lame,
        FailureKind::NoSoa,
        FailureKind::IdMismatch,
        FailureKind::QuestionMismatch,
        FailureKind::Malformed,
        FailureKind::TruncatedTcp,
    ];

    /// Stable short name (`timeout`, `network`, `lame`…), used as a label.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::Network => "network",
            FailureKind::Servfail => "servfail",
            FailureKind::Refused => "refused",
            FailureKind::Formerr => "formerr",
            FailureKind::Nxdomain => "nxdomain",
            FailureKind::Rcode => "rcode",
            FailureKind::Lame => "lame",
            FailureKind::NoSoa => "no_soa",
            FailureKind::IdMismatch => "id_mismatch",
            FailureKind::QuestionMismatch => "question_mismatch",
            FailureKind::Malformed => "malformed",
            FailureKind::TruncatedTcp => "truncated_tcp",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed probe: the classified reason plus human detail for logs and the JSON API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The classified reason.
    pub kind: FailureKind,
    /// Human-readable detail (e.g. the OS error, the RCODE, what mismatched).
    pub detail: String,
    /// Time until the failing answer arrived, when one did (None for timeouts and network errors).
    /// JSON: `rtt_ms`, float milliseconds or `null`.
    #[serde(rename = "rtt_ms", with = "super::millis::option")]
    pub rtt: Option<Duration>,
}

/// The result of one probe: a validated answer or a classified failure.
pub type Outcome = Result<Answer, Failure>;

/// Runs one probe: one SOA query for `spec.zone` to `spec.addr` over `spec.transport`.
///
/// - The query has a random ID, RD clear, EDNS0 with a 1232-byte payload, the DO bit when
///   `spec.dnssec_ok` and an NSID request when `spec.nsid` (see [`message::build_query`]).
/// - UDP: a fresh connected socket per query; stray datagrams (unparseable, wrong ID or
///   question) do not end the wait. A valid answer with TC is retried over TCP within the
///   same deadline; the answer then has `truncated: true` and the TCP exchange's RTT.
/// - TCP: the RTT includes the TCP connect. Short reads and closed connections are
///   [`FailureKind::Network`]; TC over TCP is [`FailureKind::TruncatedTcp`].
/// - `spec.timeout` bounds the whole exchange, TC retry included.
///
/// The answer is validated by [`message::classify`]. Never panics on any server input.
///
/// This is how `nsprobe check`, the `dns_soa` check kind and the daemon's nameserver
/// targets over TCP probe. The daemon's nameserver targets over UDP are entries of one
/// [`UdpBatch`] instead: the same query, validation, TC retry and outcomes over shared
/// long-lived sockets, with no future per probe.
pub async fn probe(spec: &ProbeSpec) -> Outcome {
    let deadline = tokio::time::Instant::now() + spec.timeout;
    let query = spec.query()?;
    let source = spec.source_ip();
    match spec.transport {
        Transport::Udp => {
            match udp::exchange(&query, spec.addr, source, deadline, spec.timeout).await {
                udp::UdpResult::Done(outcome) => outcome,
                udp::UdpResult::Truncated => {
                    tcp::exchange(&query, spec.addr, source, deadline, spec.timeout, true).await
                }
            }
        }
        Transport::Tcp => {
            tcp::exchange(&query, spec.addr, source, deadline, spec.timeout, false).await
        }
    }
}

/// Turns a final verdict plus the measured RTT into an outcome.
fn verdict_outcome(verdict: Verdict, rtt: Duration, truncated: bool) -> Outcome {
    match verdict {
        Verdict::Answer(v) => Ok(Answer {
            serial: v.serial,
            rtt,
            nsid: v.nsid,
            rrsig_expiration: v.rrsig_expiration,
            size: v.size,
            truncated,
        }),
        Verdict::Truncated => Err(Failure {
            kind: FailureKind::TruncatedTcp,
            detail: "TC set".to_string(),
            rtt: Some(rtt),
        }),
        Verdict::Reject(kind, detail) => Err(Failure {
            kind,
            detail,
            rtt: Some(rtt),
        }),
    }
}

/// A [`FailureKind::Network`] failure from an I/O error.
fn network_failure(what: &str, err: &std::io::Error) -> Failure {
    Failure {
        kind: FailureKind::Network,
        detail: format!("{what}: {err}"),
        rtt: None,
    }
}

/// A [`FailureKind::Timeout`] failure.
fn timeout_failure(timeout: Duration, transport: &str) -> Failure {
    Failure {
        kind: FailureKind::Timeout,
        detail: format!("no valid {transport} answer within {timeout:?}"),
        rtt: None,
    }
}
