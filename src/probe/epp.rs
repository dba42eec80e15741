//! The `epp` check (RFC 5734, EPP over TLS, port 700): handshake, read the greeting
//! frame the server sends unasked, check it is an EPP `<greeting>`, report `svID`.
//!
//! A frame is a 4-byte big-endian length that counts itself, then that many bytes
//! of XML less four. The response time runs from before the connect until the whole
//! greeting frame is read (connect + handshake + greeting). No login is attempted.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use rustls::pki_types::ServerName;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::cert::{CertFacts, TlsClient};
use super::tcp::{read_until_deadline, ReadEnd};
use super::tls::handshake;
use super::{fail, CheckOutcome, Facts, Reason, Rejection, Success};

/// The EPP XML namespace (RFC 5730).
pub const EPP_NS: &str = "urn:ietf:params:xml:ns:epp-1.0";

/// Default bound on the greeting frame (64 KiB; real greetings are a few KiB).
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;

/// An `epp` check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EppSpec {
    /// The server address (port 700 normally).
    pub addr: SocketAddr,
    /// SNI and the name the certificate must be valid for.
    pub server_name: ServerName<'static>,
    /// Trust anchors and verification mode.
    pub tls: TlsClient,
    /// Bound on the announced frame length (header included).
    pub max_frame: usize,
}

impl EppSpec {
    /// A greeting check of `addr` verifying `server_name`, [`DEFAULT_MAX_FRAME`].
    pub fn new(addr: SocketAddr, server_name: ServerName<'static>, tls: TlsClient) -> EppSpec {
        EppSpec {
            addr,
            server_name,
            tls,
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}

/// What an `epp` check saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EppFacts {
    /// Time to establish the TCP connection. JSON: `connect_ms`, float milliseconds.
    #[serde(rename = "connect_ms", with = "super::millis")]
    pub connect: Duration,
    /// Negotiated TLS version.
    pub version: String,
    /// The greeting's `<svID>` (server name).
    pub sv_id: String,
    /// The greeting's `<svDate>` (server time, as sent), if present.
    pub sv_date: Option<String>,
    /// Size of the greeting frame in bytes, header included.
    pub frame_bytes: usize,
    /// The server certificate.
    pub cert: CertFacts,
}

/// What a greeting says (the parts nsprobe reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// `<svID>`.
    pub sv_id: String,
    /// `<svDate>`, if present.
    pub sv_date: Option<String>,
}

/// The length of the XML following a frame header, or [`Reason::EppFrame`] when the
/// announced total is below 5 (no room for XML) or above `max_frame`.
///
/// Pure; never panics.
pub fn frame_length(header: [u8; 4], max_frame: usize) -> Result<usize, Rejection> {
    let total = u32::from_be_bytes(header);
    let total = usize::try_from(total).unwrap_or(usize::MAX);
    if total < 5 {
        return Err(Rejection::new(
            Reason::EppFrame,
            format!("frame length {total} leaves no room for XML (it counts its own 4 bytes)"),
        ));
    }
    if total > max_frame {
        return Err(Rejection::new(
            Reason::EppFrame,
            format!("frame length {total} exceeds the {max_frame}-byte bound"),
        ));
    }
    Ok(total - 4)
}

/// Checks that `xml` is an EPP greeting (`<epp><greeting>` in [`EPP_NS`]) with an `svID`.
///
/// Not UTF-8 or not well-formed XML → [`Reason::Malformed`]; well-formed but another
/// root, namespace or first child (e.g. `<response>`), or no `svID` →
/// [`Reason::NotEppGreeting`]. Pure; never panics on any input; no entity expansion.
pub fn parse_greeting(xml: &[u8]) -> Result<Greeting, Rejection> {
    let text = std::str::from_utf8(xml)
        .map_err(|e| Rejection::new(Reason::Malformed, format!("greeting is not UTF-8: {e}")))?;
    let mut reader = NsReader::from_str(text);
    let not_greeting = |what: String| Rejection::new(Reason::NotEppGreeting, what);
    // Element path from the root: depth 1 = epp, 2 = greeting, 3 = its children.
    let mut depth = 0usize;
    let mut saw_root = false;
    let mut saw_first_child = false;
    let mut field: Option<&'static str> = None;
    let mut sv_id: Option<String> = None;
    let mut sv_date: Option<String> = None;
    loop {
        let pos = reader.buffer_position();
        let (ns, event) = reader.read_resolved_event().map_err(|e| {
            Rejection::new(
                Reason::Malformed,
                format!("XML error after byte {pos}: {e}"),
            )
        })?;
        let in_epp = matches!(ns, ResolveResult::Bound(n) if n.as_ref() == EPP_NS);
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = e.local_name().as_ref().to_string();
                let empty = matches!(event, Event::Empty(_));
                match depth {
                    0 if saw_root => {
                        return Err(Rejection::new(
                            Reason::Malformed,
                            "more than one root element",
                        ))
                    }
                    0 => {
                        saw_root = true;
                        if name != "epp" || !in_epp {
                            return Err(not_greeting(format!(
                                "root element is <{name}>, not <epp> in {EPP_NS}"
                            )));
                        }
                    }
                    1 if !saw_first_child => {
                        saw_first_child = true;
                        if name != "greeting" || !in_epp {
                            return Err(not_greeting(format!(
                                "<epp> holds <{name}>, not <greeting>"
                            )));
                        }
                    }
                    2 if in_epp && name == "svID" => field = Some("svID"),
                    2 if in_epp && name == "svDate" => field = Some("svDate"),
                    _ => {}
                }
                if empty {
                    field = None;
                } else {
                    depth += 1;
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                field = None;
            }
            Event::Text(ref t) => append(&mut sv_id, &mut sv_date, field, &t.xml10_content()),
            Event::CData(ref t) => append(&mut sv_id, &mut sv_date, field, &t.xml10_content()),
            Event::GeneralRef(ref r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten().map(String::from)
                } else {
                    quick_xml::escape::resolve_predefined_entity(r).map(String::from)
                };
                if let Some(s) = resolved {
                    append(&mut sv_id, &mut sv_date, field, &s);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err(Rejection::new(Reason::Malformed, "no XML element"));
    }
    if depth != 0 {
        return Err(Rejection::new(
            Reason::Malformed,
            "document ends inside an element",
        ));
    }
    if !saw_first_child {
        return Err(not_greeting("<epp> is empty".to_string()));
    }
    let sv_id = sv_id.map(|s| s.trim().to_string()).unwrap_or_default();
    if sv_id.is_empty() {
        return Err(not_greeting("<greeting> has no <svID>".to_string()));
    }
    Ok(Greeting {
        sv_id,
        sv_date: sv_date.map(|s| s.trim().to_string()),
    })
}

/// Appends text to the field being read, if any.
fn append(sv_id: &mut Option<String>, sv_date: &mut Option<String>, field: Option<&str>, s: &str) {
    let slot = match field {
        Some("svID") => sv_id,
        Some("svDate") => sv_date,
        _ => return,
    };
    slot.get_or_insert_with(String::new).push_str(s);
}

/// Runs an `epp` check.
pub async fn check(spec: &EppSpec, source: Option<IpAddr>, deadline: Instant) -> CheckOutcome {
    let mut s = handshake(
        spec.addr,
        &spec.server_name,
        &spec.tls,
        &[],
        source,
        deadline,
    )
    .await?;
    let start = s.started;
    let cert = s.cert.clone();
    let with_cert = |mut f: super::CheckFailure| {
        f.cert = Some(cert.clone());
        f
    };
    let mut header = [0u8; 4];
    match tokio::time::timeout_at(deadline, s.stream.read_exact(&mut header)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(with_cert(fail(
                Reason::EppFrame,
                "connection closed before a complete frame header",
            )))
        }
        Ok(Err(e)) => return Err(with_cert(super::io_failure("epp read header", &e))),
        Err(_) => {
            return Err(with_cert(fail(
                Reason::Timeout,
                "no greeting frame header before the deadline",
            )))
        }
    }
    let body_len = frame_length(header, spec.max_frame)
        .map_err(|r| r.into_failure(Some(start.elapsed()), Some(cert.clone())))?;
    let mut body = Vec::with_capacity(body_len.min(DEFAULT_MAX_FRAME));
    let read = read_until_deadline(
        &mut s.stream,
        &mut body,
        body_len,
        |_| false,
        deadline,
        |body| {
            format!(
                "greeting incomplete at the deadline: {} of {} bytes",
                body.len(),
                body_len
            )
        },
    )
    .await;
    let rtt = start.elapsed();
    match read {
        Ok(ReadEnd::Full) => {}
        Ok(_) => {
            return Err(Rejection::new(
                Reason::EppFrame,
                format!(
                    "frame announced {} bytes of XML, connection closed after {}",
                    body_len,
                    body.len()
                ),
            )
            .into_failure(Some(rtt), Some(cert)))
        }
        Err(f) => return Err(with_cert(f)),
    }
    let _ = tokio::time::timeout_at(deadline, s.stream.shutdown()).await;
    match parse_greeting(&body) {
        Ok(g) => Ok(Success {
            rtt,
            facts: Facts::Epp(EppFacts {
                connect: s.connect,
                version: s.version,
                sv_id: g.sv_id,
                sv_date: g.sv_date,
                frame_bytes: body_len + 4,
                cert,
            }),
        }),
        Err(r) => Err(r.into_failure(Some(rtt), Some(cert))),
    }
}
