//! The `tls` check: TCP connect plus a TLS handshake (rustls); reports the certificate.
//!
//! The response time covers connect and handshake (until the handshake completed).
//! Expired, wrong-host and untrusted certificates are classified
//! (`cert_expired`, `cert_name_mismatch`, `cert_untrusted`) and still reported.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

pub use rustls::pki_types::ServerName;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::cert::{cert_facts, classify_handshake, unix_now, CertFacts, TlsClient};
use super::{connect, fail, CheckFailure, CheckOutcome, Facts, Reason, Success};

/// A `tls` check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSpec {
    /// The address to connect to.
    pub addr: SocketAddr,
    /// The name sent as SNI and verified against the certificate (an IP address sends no SNI).
    pub server_name: ServerName<'static>,
    /// Trust anchors and verification mode.
    pub tls: TlsClient,
}

/// Parses a host name or IP address for SNI and certificate verification.
pub fn server_name(
    name: &str,
) -> Result<ServerName<'static>, rustls::pki_types::InvalidDnsNameError> {
    ServerName::try_from(name.to_string())
}

/// What a `tls` check saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFacts {
    /// Time to establish the TCP connection (the handshake is the rest of the response time).
    /// JSON: `connect_ms`, float milliseconds.
    #[serde(rename = "connect_ms", with = "super::millis")]
    pub connect: Duration,
    /// Negotiated protocol version (e.g. `TLSv1_3`).
    pub version: String,
    /// The server certificate.
    pub cert: CertFacts,
}

/// An established TLS session and what it showed.
pub(crate) struct Session {
    /// The stream.
    pub stream: TlsStream<TcpStream>,
    /// TCP connect time.
    pub connect: Duration,
    /// Negotiated version.
    pub version: String,
    /// The certificate (verified unless the client is insecure).
    pub cert: CertFacts,
    /// Just before the TCP connect: response times are measured from here.
    pub started: StdInstant,
    /// Connect + handshake.
    pub handshake_done: Duration,
}

/// Connects and handshakes before `deadline`; used by `tls` and `epp`.
pub(crate) async fn handshake(
    addr: SocketAddr,
    server_name: &ServerName<'static>,
    client: &TlsClient,
    alpn: &[&[u8]],
    source: Option<IpAddr>,
    deadline: Instant,
) -> Result<Session, CheckFailure> {
    let (config, seen) = client
        .connection(alpn)
        .map_err(|r| r.into_failure(None, None))?;
    let start = StdInstant::now();
    let tcp = connect(addr, source, deadline).await?;
    let connected = start.elapsed();
    let connector = TlsConnector::from(Arc::new(config));
    let now = unix_now();
    let stream = match tokio::time::timeout_at(
        deadline,
        connector.connect(server_name.clone(), tcp),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let rtt = start.elapsed();
            return Err(classify_handshake(&e, &seen).into_failure(Some(rtt), seen.cert(now)));
        }
        Err(_) => {
            let mut f = fail(Reason::Timeout, "TLS handshake: deadline passed");
            f.cert = seen.cert(now);
            return Err(f);
        }
    };
    let (_, conn) = stream.get_ref();
    let version = conn
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_default();
    let chain = conn.peer_certificates().unwrap_or_default();
    let handshake_done = start.elapsed();
    let cert = cert_facts(chain, now).map_err(|r| r.into_failure(Some(handshake_done), None))?;
    Ok(Session {
        stream,
        connect: connected,
        version,
        cert,
        started: start,
        handshake_done,
    })
}

/// Runs a `tls` check.
pub async fn check(spec: &TlsSpec, source: Option<IpAddr>, deadline: Instant) -> CheckOutcome {
    let mut s = handshake(
        spec.addr,
        &spec.server_name,
        &spec.tls,
        &[],
        source,
        deadline,
    )
    .await?;
    let rtt = s.handshake_done;
    // Polite close (close_notify); the outcome does not depend on it.
    let _ = tokio::time::timeout_at(deadline, s.stream.shutdown()).await;
    Ok(Success {
        rtt,
        facts: Facts::Tls(TlsFacts {
            connect: s.connect,
            version: s.version,
            cert: s.cert,
        }),
    })
}
