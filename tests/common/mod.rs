//! Test servers shared by all integration tests.
//!
//! - [`LabServer`]: a small programmable authoritative responder (hand-written with
//!   hickory-proto messages) listening on one random loopback port for both UDP and TCP.
//!   Its serial, NSID, RRSIG expiration and misbehaviour ([`Mode`]) can be changed at any
//!   time, also while a daemon under test is probing it.
//! - [`hickory_auth_server`]: a real hickory-server authoritative server, for the
//!   "well-behaved real server" tests.
//! - Small helpers: [`zone_text`], [`closed_port`]; [`promtool::check_metrics`] for scraped
//!   `/metrics` text; [`tidy::report`] for served HTML.
//!
//! Only loopback addresses are ever used.

#![allow(dead_code)] // Each test crate uses a different subset of this module.

pub mod daemon_lab;
pub mod probe_cases;
pub mod promtool;
pub mod tidy;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption, NSIDPayload};
use hickory_proto::rr::rdata::{NULL, SOA};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use hickory_server::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

/// How a [`LabServer`] answers. Set for both transports with [`LabServer::set_mode`], or
/// per transport with [`LabServer::set_udp_mode`] / [`LabServer::set_tcp_mode`].
///
/// "Normal answer" means: same ID, QR, opcode QUERY, AA, the question echoed, NOERROR,
/// the zone's SOA in the answer section (plus an RRSIG covering it when the query has the
/// DO bit and [`LabServer::set_rrsig_expiration`] is set), EDNS when the query had EDNS,
/// with the NSID when requested and [`LabServer::set_nsid`] is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A normal answer, immediately.
    Normal,
    /// No answer at all (the query is still counted). Over TCP the connection stays open.
    Silent,
    /// A normal answer after the given delay (meant for delays shorter than the probe timeout).
    Delay(Duration),
    /// RCODE REFUSED, AA clear, empty answer.
    Refused,
    /// RCODE SERVFAIL, empty answer.
    Servfail,
    /// RCODE FORMERR, empty answer.
    Formerr,
    /// RCODE NXDOMAIN, AA, empty answer.
    Nxdomain,
    /// A normal answer but with AA clear (a lame server).
    NotAuthoritative,
    /// NOERROR, AA, empty answer section (the SOA only in the authority section, as in NODATA).
    NoSoa,
    /// NOERROR, AA, but the SOA in the answer section is owned by `wrong.<zone>`.
    WrongZoneSoa,
    /// 1 to 11 random bytes (never a whole DNS header, so never parseable).
    Garbage,
    /// A normal answer with a different message ID.
    WrongId,
    /// A normal answer whose question is `wrong.<zone>`.
    WrongQuestion,
    /// TC set and an empty answer over UDP; a normal answer over TCP.
    Truncate,
    /// TC set and an empty answer over both UDP and TCP.
    TruncateAlways,
    /// A normal answer after the given delay, meant for delays longer than the probe
    /// timeout: the answer arrives after the prober has given up. (Same wire behaviour as
    /// [`Mode::Delay`]; the name states the intent of the test.)
    LateAnswer(Duration),
    /// Immediately a garbage datagram and a wrong-ID copy of the answer, then the normal
    /// answer after the given delay: the decoys must not win.
    Decoy(Duration),
    /// No answer; over TCP the connection is closed right after the query is read.
    Hangup,
}

/// The mutable state behind a [`LabServer`], shared with its tasks.
#[derive(Debug)]
struct Shared {
    zone: Name,
    serial: AtomicU32,
    nsid: Mutex<Option<Vec<u8>>>,
    rrsig_expiration: Mutex<Option<u32>>,
    udp_mode: Mutex<Mode>,
    tcp_mode: Mutex<Mode>,
    udp_queries: AtomicU64,
    tcp_queries: AtomicU64,
    last_query: Mutex<Option<Message>>,
    /// Queries from these source addresses get no answer (a path broken for one vantage).
    silent_for: Mutex<Vec<IpAddr>>,
    /// Answers to these source addresses leave this much later (a longer path).
    delay_for: Mutex<Vec<(IpAddr, Duration)>>,
}

impl Shared {
    /// The extra delay for answers to `source`.
    fn delay_for(&self, source: IpAddr) -> Duration {
        lock(&self.delay_for)
            .iter()
            .find(|(ip, _)| *ip == source)
            .map_or(Duration::ZERO, |(_, d)| *d)
    }
}

/// Locks a mutex, ignoring poisoning (a panicking test must not cascade).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Udp,
    Tcp,
}

/// A programmable authoritative responder for one zone on loopback, UDP and TCP on the
/// same port. Stopped by [`LabServer::stop`] or on drop.
#[derive(Debug)]
pub struct LabServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl LabServer {
    /// Starts a server on 127.0.0.1 for `zone` (e.g. `"dk."`) answering with `serial`,
    /// in [`Mode::Normal`], without NSID or RRSIG.
    ///
    /// Panics (test setup) if `zone` is not a valid name or no port can be bound.
    pub async fn start(zone: &str, serial: u32) -> LabServer {
        Self::start_on(IpAddr::V4(Ipv4Addr::LOCALHOST), zone, serial).await
    }

    /// Like [`LabServer::start`] on a given loopback address (e.g. `::1`).
    pub async fn start_on(ip: IpAddr, zone: &str, serial: u32) -> LabServer {
        assert!(ip.is_loopback(), "lab servers only listen on loopback");
        let mut zone = Name::from_ascii(zone).expect("valid zone name");
        zone.set_fqdn(true);
        let (udp, tcp) = bind_same_port(ip).await;
        let addr = udp.local_addr().expect("local addr");
        let shared = Arc::new(Shared {
            zone,
            serial: AtomicU32::new(serial),
            nsid: Mutex::new(None),
            rrsig_expiration: Mutex::new(None),
            udp_mode: Mutex::new(Mode::Normal),
            tcp_mode: Mutex::new(Mode::Normal),
            udp_queries: AtomicU64::new(0),
            tcp_queries: AtomicU64::new(0),
            last_query: Mutex::new(None),
            silent_for: Mutex::new(Vec::new()),
            delay_for: Mutex::new(Vec::new()),
        });
        let tasks = vec![
            tokio::spawn(serve_udp(Arc::new(udp), shared.clone())),
            tokio::spawn(serve_tcp(tcp, shared.clone())),
        ];
        LabServer {
            addr,
            shared,
            tasks,
        }
    }

    /// Queries from `sources` get no answer over either transport (like a firewall
    /// dropping one vantage's packets); the others are answered as the mode says.
    pub fn set_silent_for(&self, sources: &[IpAddr]) {
        *lock(&self.shared.silent_for) = sources.to_vec();
    }

    /// Answers to each source address leave the given time later (over either transport),
    /// like a longer network path from that vantage.
    pub fn set_delay_for(&self, delays: &[(IpAddr, Duration)]) {
        *lock(&self.shared.delay_for) = delays.to_vec();
    }

    /// The address (UDP and TCP share the port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The zone served (fully qualified).
    pub fn zone(&self) -> Name {
        self.shared.zone.clone()
    }

    /// Changes the SOA serial of subsequent answers.
    pub fn set_serial(&self, serial: u32) {
        self.shared.serial.store(serial, Ordering::SeqCst);
    }

    /// The current SOA serial.
    pub fn serial(&self) -> u32 {
        self.shared.serial.load(Ordering::SeqCst)
    }

    /// Sets the NSID returned to queries that request it (`None`: never returned).
    pub fn set_nsid(&self, nsid: Option<&str>) {
        *lock(&self.shared.nsid) = nsid.map(|s| s.as_bytes().to_vec());
    }

    /// Sets raw NSID bytes (e.g. non-printable ones, reported as hex by the probe).
    pub fn set_nsid_bytes(&self, nsid: Option<Vec<u8>>) {
        *lock(&self.shared.nsid) = nsid;
    }

    /// Sets the expiration (seconds since the epoch) of the RRSIG covering the SOA, sent
    /// to queries with the DO bit (`None`: no RRSIG).
    pub fn set_rrsig_expiration(&self, expiration: Option<u32>) {
        *lock(&self.shared.rrsig_expiration) = expiration;
    }

    /// Sets the mode for both UDP and TCP.
    pub fn set_mode(&self, mode: Mode) {
        self.set_udp_mode(mode);
        self.set_tcp_mode(mode);
    }

    /// Sets the mode for UDP only.
    pub fn set_udp_mode(&self, mode: Mode) {
        *lock(&self.shared.udp_mode) = mode;
    }

    /// Sets the mode for TCP only.
    pub fn set_tcp_mode(&self, mode: Mode) {
        *lock(&self.shared.tcp_mode) = mode;
    }

    /// Number of queries received over both transports (unparseable ones included).
    pub fn queries(&self) -> u64 {
        self.udp_queries() + self.tcp_queries()
    }

    /// Number of queries received over UDP.
    pub fn udp_queries(&self) -> u64 {
        self.shared.udp_queries.load(Ordering::SeqCst)
    }

    /// Number of queries received over TCP.
    pub fn tcp_queries(&self) -> u64 {
        self.shared.tcp_queries.load(Ordering::SeqCst)
    }

    /// The last parseable query received, to check what the prober sent.
    pub fn last_query(&self) -> Option<Message> {
        lock(&self.shared.last_query).clone()
    }

    /// Stops serving: both sockets are closed (the port then refuses queries).
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for LabServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds UDP on port 0 of `ip`, then TCP on the same port, retrying on collision.
async fn bind_same_port(ip: IpAddr) -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind((ip, 0)).await.expect("bind udp");
        let port = udp.local_addr().expect("local addr").port();
        if let Ok(tcp) = TcpListener::bind((ip, port)).await {
            return (udp, tcp);
        }
    }
    panic!("could not bind UDP and TCP on the same port of {ip}");
}

async fn serve_udp(sock: Arc<UdpSocket>, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        shared.udp_queries.fetch_add(1, Ordering::SeqCst);
        if lock(&shared.silent_for).contains(&peer.ip()) {
            continue;
        }
        let mode = *lock(&shared.udp_mode);
        let plan = respond(&shared, buf.get(..n).unwrap_or_default(), mode, Via::Udp);
        let sock = sock.clone();
        let extra = shared.delay_for(peer.ip());
        tokio::spawn(async move {
            if !extra.is_zero() {
                tokio::time::sleep(extra).await;
            }
            for (delay, bytes) in plan.packets {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let _ = sock.send_to(&bytes, peer).await;
            }
        });
    }
}

async fn serve_tcp(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(serve_tcp_conn(stream, peer.ip(), shared.clone()));
    }
}

async fn serve_tcp_conn(mut stream: TcpStream, peer: IpAddr, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    loop {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).await.is_err() {
            return;
        }
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        shared.tcp_queries.fetch_add(1, Ordering::SeqCst);
        if lock(&shared.silent_for).contains(&peer) {
            continue;
        }
        let mode = *lock(&shared.tcp_mode);
        let plan = respond(&shared, &body, mode, Via::Tcp);
        if plan.hangup {
            return;
        }
        let extra = shared.delay_for(peer);
        if !extra.is_zero() {
            tokio::time::sleep(extra).await;
        }
        for (delay, bytes) in plan.packets {
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let Ok(n) = u16::try_from(bytes.len()) else {
                return;
            };
            let mut framed = n.to_be_bytes().to_vec();
            framed.extend_from_slice(&bytes);
            if stream.write_all(&framed).await.is_err() {
                return;
            }
        }
    }
}

/// What to send back for one query.
struct Plan {
    /// Messages to send, each after a delay counted from the previous one.
    packets: Vec<(Duration, Vec<u8>)>,
    /// Close the TCP connection without answering.
    hangup: bool,
}

fn respond(shared: &Shared, query: &[u8], mode: Mode, via: Via) -> Plan {
    let mut plan = Plan {
        packets: Vec::new(),
        hangup: false,
    };
    let Ok(q) = Message::from_vec(query) else {
        return plan;
    };
    *lock(&shared.last_query) = Some(q.clone());
    let wrong = shared
        .zone
        .prepend_label("wrong")
        .expect("wrong.<zone> is a valid name");
    let mut m = normal_answer(shared, &q);
    let now = Duration::ZERO;
    match mode {
        Mode::Normal => plan.packets.push((now, encode(&m))),
        Mode::Silent => {}
        Mode::Hangup => plan.hangup = true,
        Mode::Delay(d) | Mode::LateAnswer(d) => plan.packets.push((d, encode(&m))),
        Mode::Decoy(d) => {
            plan.packets.push((now, garbage()));
            let mut decoy = m.clone();
            decoy.metadata.id ^= 0x5a5a;
            plan.packets.push((now, encode(&decoy)));
            plan.packets.push((d, encode(&m)));
        }
        Mode::Refused | Mode::Servfail | Mode::Formerr | Mode::Nxdomain => {
            let (rcode, aa) = match mode {
                Mode::Refused => (ResponseCode::Refused, false),
                Mode::Servfail => (ResponseCode::ServFail, false),
                Mode::Formerr => (ResponseCode::FormErr, false),
                _ => (ResponseCode::NXDomain, true),
            };
            m.metadata.response_code = rcode;
            m.metadata.authoritative = aa;
            m.answers.clear();
            plan.packets.push((now, encode(&m)));
        }
        Mode::NotAuthoritative => {
            m.metadata.authoritative = false;
            plan.packets.push((now, encode(&m)));
        }
        Mode::NoSoa => {
            m.authorities = m
                .answers
                .drain(..)
                .filter(|r| r.record_type() == RecordType::SOA)
                .collect();
            plan.packets.push((now, encode(&m)));
        }
        Mode::WrongZoneSoa => {
            for r in &mut m.answers {
                r.name = wrong.clone();
            }
            plan.packets.push((now, encode(&m)));
        }
        Mode::Garbage => plan.packets.push((now, garbage())),
        Mode::WrongId => {
            m.metadata.id ^= 0x5a5a;
            plan.packets.push((now, encode(&m)));
        }
        Mode::WrongQuestion => {
            for question in &mut m.queries {
                question.name = wrong.clone();
            }
            plan.packets.push((now, encode(&m)));
        }
        Mode::Truncate | Mode::TruncateAlways => {
            if via == Via::Udp || mode == Mode::TruncateAlways {
                m.metadata.truncation = true;
                m.answers.clear();
            }
            plan.packets.push((now, encode(&m)));
        }
    }
    plan
}

fn encode(m: &Message) -> Vec<u8> {
    m.to_vec().expect("encode lab answer")
}

/// 1 to 11 random bytes: shorter than a DNS header, so never parseable.
fn garbage() -> Vec<u8> {
    let n = rand::random_range(1..12usize);
    (0..n).map(|_| rand::random::<u8>()).collect()
}

fn normal_answer(shared: &Shared, q: &Message) -> Message {
    let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.authoritative = true;
    m.queries = q.queries.clone();
    let zone = shared.zone.clone();
    let soa = SOA::new(
        zone.prepend_label("ns1").expect("ns1.<zone>"),
        zone.prepend_label("hostmaster").expect("hostmaster.<zone>"),
        shared.serial.load(Ordering::SeqCst),
        1800,
        600,
        1_209_600,
        300,
    );
    m.answers
        .push(Record::from_rdata(zone.clone(), 3600, RData::SOA(soa)));
    if let Some(qedns) = &q.edns {
        if let (true, Some(exp)) = (qedns.flags().dnssec_ok, *lock(&shared.rrsig_expiration)) {
            m.answers.push(rrsig_over_soa(&zone, exp));
        }
        let mut edns = Edns::new();
        edns.set_max_payload(1232)
            .set_dnssec_ok(qedns.flags().dnssec_ok);
        if qedns.option(EdnsCode::NSID).is_some() {
            if let Some(nsid) = lock(&shared.nsid).clone() {
                edns.options_mut()
                    .insert(EdnsOption::NSID(NSIDPayload::new(nsid).expect("nsid")));
            }
        }
        m.set_edns(edns);
    }
    m
}

/// An RRSIG (as raw RDATA: the crate has no dnssec feature) covering the zone's SOA.
fn rrsig_over_soa(zone: &Name, expiration: u32) -> Record {
    let mut b = Vec::new();
    b.extend_from_slice(&u16::from(RecordType::SOA).to_be_bytes());
    b.push(13); // ECDSAP256SHA256
    b.push(zone.num_labels());
    b.extend_from_slice(&3600u32.to_be_bytes());
    b.extend_from_slice(&expiration.to_be_bytes());
    b.extend_from_slice(&expiration.saturating_sub(14 * 86400).to_be_bytes());
    b.extend_from_slice(&12345u16.to_be_bytes());
    for label in zone.iter() {
        b.push(u8::try_from(label.len()).expect("label length"));
        b.extend_from_slice(label);
    }
    b.push(0);
    b.extend((0..64).map(|_| rand::random::<u8>()));
    Record::from_rdata(
        zone.clone(),
        3600,
        RData::Unknown {
            code: RecordType::RRSIG,
            rdata: NULL::with(b),
        },
    )
}

/// The NSID a [`hickory_auth_server`] returns.
pub const HICKORY_NSID: &str = "hickory-test";

/// A minimal zone file (with `$ORIGIN`) for `zone` (e.g. `"dk."`) with the given serial,
/// suitable for [`hickory_auth_server`].
pub fn zone_text(zone: &str, serial: u32) -> String {
    format!(
        "$ORIGIN {zone}\n\
         $TTL 3600\n\
         @ IN SOA ns1 hostmaster {serial} 1800 600 1209600 300\n\
         @ IN NS ns1\n\
         ns1 IN A 127.0.0.1\n"
    )
}

/// A running hickory-server; shut down with [`AuthServer::shutdown`] or on drop.
pub struct AuthServer {
    server: Server<Catalog>,
}

impl AuthServer {
    /// Shuts the server down gracefully.
    pub async fn shutdown(mut self) {
        let _ = self.server.shutdown_gracefully().await;
    }
}

/// Starts a real hickory-server authoritative server on 127.0.0.1 (UDP and TCP on the same
/// port) serving `zone_text`, a zone file that must set its origin with `$ORIGIN` (see
/// [`zone_text`]). It answers NSID requests with [`HICKORY_NSID`].
///
/// Panics (test setup) if the zone does not parse or no port can be bound.
pub async fn hickory_auth_server(zone_text: &str) -> (SocketAddr, AuthServer) {
    let (addr, server, _) = hickory_zone_server(zone_text).await;
    (addr, server)
}

/// Like [`hickory_auth_server`], but also returns the zone's handler so a test can
/// change records while the server runs (`handler.upsert(record, serial).await`).
pub async fn hickory_zone_server(
    zone_text: &str,
) -> (
    SocketAddr,
    AuthServer,
    Arc<InMemoryZoneHandler<TokioRuntimeProvider>>,
) {
    let (origin, records) = hickory_proto::serialize::txt::Parser::new(zone_text, None, None)
        .parse()
        .expect("zone text parses");
    let handler = Arc::new(
        InMemoryZoneHandler::<TokioRuntimeProvider>::new(
            origin.clone(),
            records,
            ZoneType::Primary,
            AxfrPolicy::Deny,
        )
        .expect("zone handler"),
    );
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::from(&origin), vec![handler.clone()]);
    catalog.set_nsid(Some(
        NSIDPayload::new(HICKORY_NSID.as_bytes().to_vec()).expect("nsid"),
    ));
    let mut server = Server::new(catalog);
    let (udp, tcp) = bind_same_port(IpAddr::V4(Ipv4Addr::LOCALHOST)).await;
    let addr = udp.local_addr().expect("local addr");
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 64);
    (addr, AuthServer { server }, handler)
}

/// A loopback address where nothing listens (UDP or TCP): a port that was just bound and
/// released. Probes to it fail fast with connection refused.
pub async fn closed_port() -> SocketAddr {
    let (udp, tcp) = bind_same_port(IpAddr::V4(Ipv4Addr::LOCALHOST)).await;
    let addr = udp.local_addr().expect("local addr");
    drop(udp);
    drop(tcp);
    addr
}

/// A minimal HTTP/1.1 client for the daemon's API in tests: one request per
/// connection (`Connection: close`), returns the status code and the body.
pub async fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect to daemon");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    stream
        .write_all(req.as_bytes())
        .await
        .expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .expect("HTTP response has a head");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("HTTP status code");
    let chunked = head
        .lines()
        .any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

/// `GET path` returning the body parsed as JSON, with the status code.
pub async fn get_json(addr: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let (status, body) = http(addr, "GET", path).await;
    let v = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("GET {path}: body is not JSON ({e}): {body}"));
    (status, v)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Poll `cond` every 50 ms until it returns true or `limit` passes; returns the
/// time it took, or panics with `what` on time-out.
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, mut cond: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    loop {
        if cond().await {
            return start.elapsed();
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes `nsprobe.toml` into `dir`: one zone `dk.` with one nameserver `ns1.lab` at
/// `server` (1 s interval, 300 ms timeout), the HTTP listener on an ephemeral loopback
/// port and the state file in `dir`. Returns the config's path.
pub fn one_server_config(dir: &std::path::Path, server: SocketAddr) -> std::path::PathBuf {
    let config = dir.join("nsprobe.toml");
    std::fs::write(
        &config,
        format!(
            "[http]\nlisten = \"127.0.0.1:0\"\n[state]\npath = \"{}\"\n\
             [[zone]]\nname = \"dk.\"\ninterval = \"1s\"\ntimeout = \"300ms\"\n\
             [[zone.nameservers]]\nname = \"ns1.lab\"\naddresses = [\"{}\"]\n",
            dir.join("state.json").display(),
            server
        ),
    )
    .expect("write the config");
    config
}
