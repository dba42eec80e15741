//! Checks: one file per kind behind one small interface. Pure I/O.
//!
//! A check takes its [`CheckSpec`] and a deadline and returns one [`CheckOutcome`]:
//! a [`Success`] with the response time and kind-specific [`Facts`], or a
//! [`CheckFailure`] with a stable [`Reason`] label. [`run`] is the only entry point
//! the rest of nsprobe needs; each kind's file (`dns_soa.rs`, `tcp.rs`, `tls.rs`,
//! `http.rs`, `whois.rs`, `epp.rs`) exposes its spec type, its facts type and a
//! pure `bytes in, verdict out` function for what the server sent (fuzzed and
//! property-tested separately). Checks know nothing of zones, components,
//! schedules, statuses or metrics, and nothing a server sends can make them panic.
//!
//! Response times come from the monotonic clock; what each kind's time covers is
//! documented on its spec type and in README's "Check kinds".
//!
//! The DNS SOA probe keeps its own richer types ([`ProbeSpec`], [`Outcome`],
//! [`FailureKind`]), re-exported here; [`run`] maps them onto the common shape.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::time::Instant;

pub mod cert;
pub mod dns_soa;
pub mod epp;
pub mod http;
pub mod millis;
pub mod tcp;
pub mod tls;
pub mod whois;

pub use cert::{CertFacts, TlsClient, TlsOptions};
pub use dns_soa::{
    message, probe, Answer, Failure, FailureKind, Finished, Outcome, ProbeSpec, Token, Transport,
    UdpBatch,
};

/// What to check and how: one variant per check kind.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckSpec {
    /// One SOA query to one nameserver address (the DNS layer builds on its [`Answer`]).
    DnsSoa(ProbeSpec),
    /// TCP connect, optional send, optional expected pattern.
    Tcp(tcp::TcpSpec),
    /// TCP connect plus TLS handshake; reports the certificate.
    Tls(tls::TlsSpec),
    /// HTTP(S) GET: status, optional body pattern, redirects, certificate.
    Http(http::HttpSpec),
    /// RFC 3912 whois: one query line, answer read to EOF, expected pattern.
    Whois(whois::WhoisSpec),
    /// RFC 5734 EPP over TLS: the greeting frame, parsed.
    Epp(epp::EppSpec),
}

/// The kind of a check, as a stable label (`dns_soa`, `tcp`, `tls`, `http`, `whois`, `epp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// [`CheckSpec::DnsSoa`].
    DnsSoa,
    /// [`CheckSpec::Tcp`].
    Tcp,
    /// [`CheckSpec::Tls`].
    Tls,
    /// [`CheckSpec::Http`].
    Http,
    /// [`CheckSpec::Whois`].
    Whois,
    /// [`CheckSpec::Epp`].
    Epp,
}

impl Kind {
    /// Every kind, in a stable order.
    pub const ALL: [Kind; 6] = [
        Kind::DnsSoa,
        Kind::Tcp,
        Kind::Tls,
        Kind::Http,
        Kind::Whois,
        Kind::Epp,
    ];

    /// Stable lower-case name, used as a label and as `kind = "..."` in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::DnsSoa => "dns_soa",
            Kind::Tcp => "tcp",
            Kind::Tls => "tls",
            Kind::Http => "http",
            Kind::Whois => "whois",
            Kind::Epp => "epp",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CheckSpec {
    /// What is checked, for logs and the API: `udp://192.0.2.1:53 dk.`, `tcp://…`,
    /// `tls://localhost@127.0.0.1:443`, the URL, `whois://…`, `epp://…`.
    pub fn target(&self) -> String {
        match self {
            CheckSpec::DnsSoa(p) => format!("{}://{} {}", p.transport, p.addr, p.zone),
            CheckSpec::Tcp(t) => format!("tcp://{}", t.addr),
            CheckSpec::Tls(t) => format!("tls://{}@{}", t.server_name.to_str(), t.addr),
            CheckSpec::Http(h) => match h.addr {
                Some(a) => format!("{} via {a}", h.url),
                None => h.url.to_string(),
            },
            CheckSpec::Whois(w) => format!("whois://{} {}", w.addr, w.query),
            CheckSpec::Epp(e) => format!("epp://{}@{}", e.server_name.to_str(), e.addr),
        }
    }

    /// This spec's kind.
    pub fn kind(&self) -> Kind {
        match self {
            CheckSpec::DnsSoa(_) => Kind::DnsSoa,
            CheckSpec::Tcp(_) => Kind::Tcp,
            CheckSpec::Tls(_) => Kind::Tls,
            CheckSpec::Http(_) => Kind::Http,
            CheckSpec::Whois(_) => Kind::Whois,
            CheckSpec::Epp(_) => Kind::Epp,
        }
    }
}

/// A passed check: the response time and what the server showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Success {
    /// Response time (monotonic clock); what it covers depends on the kind.
    /// JSON: `rtt_ms`, float milliseconds.
    #[serde(rename = "rtt_ms", with = "millis")]
    pub rtt: Duration,
    /// Kind-specific facts.
    pub facts: Facts,
}

/// What a passed check learned, per kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Facts {
    /// The validated SOA answer.
    DnsSoa(Answer),
    /// What a `tcp` check read.
    Tcp(tcp::StreamFacts),
    /// The TLS session and certificate.
    Tls(tls::TlsFacts),
    /// The final HTTP response.
    Http(http::HttpFacts),
    /// What a `whois` check read.
    Whois(tcp::StreamFacts),
    /// The EPP greeting and certificate.
    Epp(epp::EppFacts),
}

impl Facts {
    /// The server certificate, for kinds that saw one (`tls`, `epp`, `https` URLs).
    pub fn cert(&self) -> Option<&CertFacts> {
        match self {
            Facts::Tls(t) => Some(&t.cert),
            Facts::Http(h) => h.cert.as_ref(),
            Facts::Epp(e) => Some(&e.cert),
            Facts::DnsSoa(_) | Facts::Tcp(_) | Facts::Whois(_) => None,
        }
    }
}

/// Why a check failed: a stable short label usable as a Prometheus label value.
///
/// The first thirteen are the DNS probe's [`FailureKind`]s under the same names;
/// the rest belong to the other kinds. README's "Check kinds" lists which kind
/// produces which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Nothing (or nothing acceptable) before the deadline.
    Timeout,
    /// The network said no: connection refused, unreachable, reset, or closed mid-exchange.
    Network,
    /// DNS RCODE SERVFAIL.
    Servfail,
    /// DNS RCODE REFUSED (a connection refusal is [`Reason::Network`]).
    Refused,
    /// DNS RCODE FORMERR.
    Formerr,
    /// DNS RCODE NXDOMAIN.
    Nxdomain,
    /// Any other DNS RCODE.
    Rcode,
    /// DNS: NOERROR but not authoritative.
    Lame,
    /// DNS: no SOA for the zone in the answer.
    NoSoa,
    /// DNS: only answers with the wrong message ID.
    IdMismatch,
    /// DNS: the answer does not echo the question.
    QuestionMismatch,
    /// Bytes that do not parse as what the protocol promises (DNS message, HTTP response, XML).
    Malformed,
    /// DNS: TC set over TCP.
    TruncatedTcp,
    /// The TLS handshake failed for a reason other than the certificate (protocol error,
    /// not TLS at all, alert from the server).
    TlsHandshake,
    /// The server certificate (or one in its chain) has expired.
    CertExpired,
    /// The server certificate is not valid yet.
    CertNotYetValid,
    /// The server certificate is not valid for the name checked.
    CertNameMismatch,
    /// The server certificate does not chain to a trusted root (unknown issuer, bad signature).
    CertUntrusted,
    /// Any other certificate problem (revoked, wrong usage, unparseable).
    CertInvalid,
    /// HTTP: the final status is not one of the expected ones.
    HttpStatus,
    /// HTTP: more redirects than allowed (or a redirect loop).
    HttpRedirects,
    /// HTTP: the body does not match the expected pattern.
    BodyMismatch,
    /// TCP/whois: the answer does not match the expected pattern (EOF or read bound reached).
    ExpectMismatch,
    /// Whois: the server closed the connection without sending anything.
    EmptyResponse,
    /// HTTP body or whois answer larger than the configured bound.
    TooLarge,
    /// EPP: the frame header is invalid (length below 5 or above the bound).
    EppFrame,
    /// EPP: well-formed XML, but not an EPP `<greeting>`.
    NotEppGreeting,
}

impl Reason {
    /// Every reason, in a stable order (for pre-creating metric series).
    pub const ALL: [Reason; 27] = [
        Reason::Timeout,
        Reason::Network,
        Reason::Servfail,
        Reason::Refused,
        Reason::Formerr,
        Reason::Nxdomain,
        Reason::Rcode,
        Reason::Lame,
        Reason::NoSoa,
        Reason::IdMismatch,
        Reason::QuestionMismatch,
        Reason::Malformed,
        Reason::TruncatedTcp,
        Reason::TlsHandshake,
        Reason::CertExpired,
        Reason::CertNotYetValid,
        Reason::CertNameMismatch,
        Reason::CertUntrusted,
        Reason::CertInvalid,
        Reason::HttpStatus,
        Reason::HttpRedirects,
        Reason::BodyMismatch,
        Reason::ExpectMismatch,
        Reason::EmptyResponse,
        Reason::TooLarge,
        Reason::EppFrame,
        Reason::NotEppGreeting,
    ];

    /// Stable snake_case label (`timeout`, `cert_expired`, `http_status`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Timeout => "timeout",
            Reason::Network => "network",
            Reason::Servfail => "servfail",
            Reason::Refused => "refused",
            Reason::Formerr => "formerr",
            Reason::Nxdomain => "nxdomain",
            Reason::Rcode => "rcode",
            Reason::Lame => "lame",
            Reason::NoSoa => "no_soa",
            Reason::IdMismatch => "id_mismatch",
            Reason::QuestionMismatch => "question_mismatch",
            Reason::Malformed => "malformed",
            Reason::TruncatedTcp => "truncated_tcp",
            Reason::TlsHandshake => "tls_handshake",
            Reason::CertExpired => "cert_expired",
            Reason::CertNotYetValid => "cert_not_yet_valid",
            Reason::CertNameMismatch => "cert_name_mismatch",
            Reason::CertUntrusted => "cert_untrusted",
            Reason::CertInvalid => "cert_invalid",
            Reason::HttpStatus => "http_status",
            Reason::HttpRedirects => "http_redirects",
            Reason::BodyMismatch => "body_mismatch",
            Reason::ExpectMismatch => "expect_mismatch",
            Reason::EmptyResponse => "empty_response",
            Reason::TooLarge => "too_large",
            Reason::EppFrame => "epp_frame",
            Reason::NotEppGreeting => "not_epp_greeting",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<FailureKind> for Reason {
    fn from(kind: FailureKind) -> Reason {
        match kind {
            FailureKind::Timeout => Reason::Timeout,
            FailureKind::Network => Reason::Network,
            FailureKind::Servfail => Reason::Servfail,
            FailureKind::Refused => Reason::Refused,
            FailureKind::Formerr => Reason::Formerr,
            FailureKind::Nxdomain => Reason::Nxdomain,
            FailureKind::Rcode => Reason::Rcode,
            FailureKind::Lame => Reason::Lame,
            FailureKind::NoSoa => Reason::NoSoa,
            FailureKind::IdMismatch => Reason::IdMismatch,
            FailureKind::QuestionMismatch => Reason::QuestionMismatch,
            FailureKind::Malformed => Reason::Malformed,
            FailureKind::TruncatedTcp => Reason::TruncatedTcp,
        }
    }
}

/// A failed check: the classified reason plus detail for logs and the JSON API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckFailure {
    /// The classified reason (a stable label).
    pub reason: Reason,
    /// Human-readable detail: the OS error, the status received, what did not match.
    pub detail: String,
    /// Time until the failing answer arrived, when one did (None for timeouts and network errors).
    /// JSON: `rtt_ms`, float milliseconds or `null`.
    #[serde(rename = "rtt_ms", with = "millis::option")]
    pub rtt: Option<Duration>,
    /// The server certificate, when one was received (also when it failed verification,
    /// so an expired certificate still reports its expiry).
    pub cert: Option<CertFacts>,
}

impl From<Failure> for CheckFailure {
    fn from(f: Failure) -> CheckFailure {
        CheckFailure {
            reason: f.kind.into(),
            detail: f.detail,
            rtt: f.rtt,
            cert: None,
        }
    }
}

/// The result of one check.
pub type CheckOutcome = Result<Success, CheckFailure>;

/// A rejection by a pure response parser: the reason and what was wrong. The I/O
/// side adds the response time and certificate to make a [`CheckFailure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The classified reason.
    pub reason: Reason,
    /// What was wrong, for humans.
    pub detail: String,
}

impl Rejection {
    /// A rejection with `reason` and `detail`.
    pub fn new(reason: Reason, detail: impl Into<String>) -> Rejection {
        Rejection {
            reason,
            detail: detail.into(),
        }
    }

    /// Turns the rejection into a failure observed after `rtt`, with the certificate if any.
    pub fn into_failure(self, rtt: Option<Duration>, cert: Option<CertFacts>) -> CheckFailure {
        CheckFailure {
            reason: self.reason,
            detail: self.detail,
            rtt,
            cert,
        }
    }
}

/// A regular expression over bytes (a server's answer need not be UTF-8), compared by its source.
#[derive(Debug, Clone)]
pub struct Pattern(regex::bytes::Regex);

impl Pattern {
    /// Compiles `re` (Rust `regex` syntax; `(?m)` for per-line `^`/`$`).
    pub fn new(re: &str) -> Result<Pattern, regex::Error> {
        regex::bytes::Regex::new(re).map(Pattern)
    }

    /// The source text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether `haystack` contains a match.
    pub fn is_match(&self, haystack: &[u8]) -> bool {
        self.0.is_match(haystack)
    }

    /// The first match in `haystack`, as (lossy UTF-8) text capped at 200 characters.
    pub fn find(&self, haystack: &[u8]) -> Option<String> {
        self.0.find(haystack).map(|m| {
            String::from_utf8_lossy(m.as_bytes())
                .chars()
                .take(200)
                .collect()
        })
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Pattern {}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Deserialises from a string holding a regular expression; a bad one is an error that
/// quotes the regex parser's explanation (so a config error says what to fix).
impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Pattern, D::Error> {
        let s = String::deserialize(d)?;
        Pattern::new(&s)
            .map_err(|e| serde::de::Error::custom(format!("bad regular expression: {e}")))
    }
}

/// Runs one check of any kind; everything (connect, handshake, reads) ends by `deadline`.
///
/// For `dns_soa` the probe's own `timeout` still applies when it is shorter than
/// the time left until `deadline`.
pub async fn run(spec: &CheckSpec, deadline: Instant) -> CheckOutcome {
    run_from(spec, None, deadline).await
}

/// Like [`run`], with the check's connections leaving from `source` (`[vantage]
/// source_address`): each TCP socket is bound to it (port 0) before `connect` when the
/// target has the same address family; otherwise, and with None, the kernel chooses. A
/// `dns_soa` check uses its own spec's `source` instead.
pub async fn run_from(spec: &CheckSpec, source: Option<IpAddr>, deadline: Instant) -> CheckOutcome {
    match spec {
        CheckSpec::DnsSoa(p) => {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut p = p.clone();
            p.timeout = p.timeout.min(left);
            match probe(&p).await {
                Ok(answer) => Ok(Success {
                    rtt: answer.rtt,
                    facts: Facts::DnsSoa(answer),
                }),
                Err(f) => Err(f.into()),
            }
        }
        CheckSpec::Tcp(s) => tcp::check(s, source, deadline).await,
        CheckSpec::Tls(s) => tls::check(s, source, deadline).await,
        CheckSpec::Http(s) => http::check(s, source, deadline).await,
        CheckSpec::Whois(s) => whois::check(s, source, deadline).await,
        CheckSpec::Epp(s) => epp::check(s, source, deadline).await,
    }
}

/// A failure with no answer and no certificate.
pub(crate) fn fail(reason: Reason, detail: impl Into<String>) -> CheckFailure {
    CheckFailure {
        reason,
        detail: detail.into(),
        rtt: None,
        cert: None,
    }
}

/// Runs one step of a check with the deadline: elapsed becomes [`Reason::Timeout`] naming `what`.
pub(crate) async fn step<T>(
    deadline: Instant,
    what: &str,
    fut: impl Future<Output = Result<T, CheckFailure>>,
) -> Result<T, CheckFailure> {
    match tokio::time::timeout_at(deadline, fut).await {
        Ok(r) => r,
        Err(_) => Err(fail(Reason::Timeout, format!("{what}: deadline passed"))),
    }
}

/// An I/O error as a failure: a TLS error inside it (e.g. an alert after the handshake,
/// such as a required client certificate) is classified as TLS, the rest is [`Reason::Network`].
pub(crate) fn io_failure(what: &str, err: &std::io::Error) -> CheckFailure {
    match cert::find_rustls_error(err) {
        Some(t) => fail(cert::classify_tls_error(t), format!("{what}: TLS: {t}")),
        None => fail(Reason::Network, format!("{what}: {err}")),
    }
}

/// TCP connect (no Nagle) before `deadline`.
pub(crate) async fn connect(
    addr: SocketAddr,
    source: Option<IpAddr>,
    deadline: Instant,
) -> Result<TcpStream, CheckFailure> {
    step(deadline, "tcp connect", async {
        let s = match source.filter(|s| s.is_ipv4() == addr.is_ipv4()) {
            Some(src) => {
                let socket = if src.is_ipv4() {
                    tokio::net::TcpSocket::new_v4()
                } else {
                    tokio::net::TcpSocket::new_v6()
                }
                .map_err(|e| io_failure("tcp socket", &e))?;
                socket
                    .bind(SocketAddr::new(src, 0))
                    .map_err(|e| io_failure(&format!("tcp bind to source {src}"), &e))?;
                socket.connect(addr).await
            }
            None => TcpStream::connect(addr).await,
        }
        .map_err(|e| io_failure(&format!("tcp connect to {addr}"), &e))?;
        s.set_nodelay(true)
            .map_err(|e| io_failure("tcp set_nodelay", &e))?;
        Ok(s)
    })
    .await
}
