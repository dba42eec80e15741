//! The probe: one SOA query to one address over one transport. Pure I/O.
//!
//! The probe knows nothing of zones' state, schedules, statuses or metrics: it
//! takes a [`ProbeSpec`] and returns an [`Outcome`]. Every byte sequence a
//! server may send is classified; nothing here panics on input.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::rr::Name;
use serde::{Deserialize, Serialize};

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
}

/// A successful, validated, authoritative SOA answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The SOA serial the server answered with.
    pub serial: u32,
    /// Response time: monotonic clock around send and receive (TCP: connect included).
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
    pub rtt: Option<Duration>,
}

/// The result of one probe: a validated answer or a classified failure.
pub type Outcome = Result<Answer, Failure>;
