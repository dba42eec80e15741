//! Long-lived connected UDP sockets shared by the probes of one server.
//!
//! A fresh socket per query costs six system calls (socket, bind, connect, two epoll
//! registrations, close) and a poller registration on top of the send and the receive;
//! at thousands of probes per second that was most of a probe's CPU. A [`UdpPool`]
//! keeps one socket per (source address, server address), `connect`ed like the fresh
//! one was, so the kernel still drops datagrams from any other source and still
//! reports an ICMP port unreachable as `ECONNREFUSED`. One receive task per socket
//! hands each datagram to the query waiting for its message ID; the waiting probe
//! validates it exactly as before ([`super::message::classify`]: ID, question, flags).
//!
//! - Datagrams whose ID matches no pending query are *strays*: every query pending on
//!   the socket sees them (and records their classification, as a fresh socket's
//!   query did), except late answers to this socket's recently abandoned queries,
//!   which are dropped (on a fresh socket they arrived at a closed port).
//! - A receive error (ICMP port unreachable) is reported to every query pending on
//!   the socket: they were all sent to that one server address and port.
//! - An ID is never reused while pending or recently abandoned on the same socket.
//! - Sockets are replaced every [`ROTATE_AFTER`] (a new random source port; a
//!   spoofer must match the port as well as the ID) and closed after
//!   [`IDLE_AFTER`] without use. A replaced socket keeps receiving until its
//!   last pending query ends.
//!
//! A pool belongs to one tokio runtime (its sockets and receive tasks live there).

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::Notify;

/// Receive buffer size: the largest possible UDP payload.
const RECV_BUF: usize = 64 * 1024;

/// A socket is replaced (new source port) after this long in use.
pub const ROTATE_AFTER: Duration = Duration::from_secs(60);

/// A socket not used for this long is closed (its targets were removed).
pub const IDLE_AFTER: Duration = Duration::from_secs(300);

/// How many abandoned or answered IDs each socket remembers.
const EXPIRED_KEEP: usize = 512;

/// Largest number of datagrams queued for one waiting query (a flood is cut).
const INBOX_MAX: usize = 64;

/// Consecutive receive errors after which a socket is replaced.
const MAX_ERRORS: u32 = 64;

type Key = (Option<IpAddr>, SocketAddr);

/// Shared connected UDP sockets, one per (source, server address). See the module doc.
#[derive(Debug, Default)]
pub struct UdpPool {
    state: Mutex<PoolState>,
}

#[derive(Debug, Default)]
struct PoolState {
    conns: HashMap<Key, Arc<Conn>>,
    last_sweep: Option<Instant>,
}

/// One connected socket and the queries waiting on it.
#[derive(Debug)]
pub(super) struct Conn {
    sock: UdpSocket,
    created: Instant,
    state: Mutex<ConnState>,
    /// Wakes the receive task when the socket is retired (it ends once idle).
    wake: Notify,
}

#[derive(Debug, Default)]
struct ConnState {
    pending: HashMap<u16, Arc<Inbox>>,
    /// IDs whose query ended (answered or abandoned), newest last.
    expired: VecDeque<u16>,
    last_used: Option<Instant>,
    /// No new queries: replaced in the pool or broken.
    retired: bool,
    /// The receive task ended: nothing can be received any more.
    closed: bool,
}

/// What the receive task hands to a waiting query.
#[derive(Debug)]
pub(super) enum Delivery {
    /// A datagram and when `recv` returned it.
    Datagram(Vec<u8>, Instant),
    /// A receive error (ICMP unreachable and the like).
    Error(Arc<io::Error>),
}

/// Datagrams for one waiting query.
#[derive(Debug, Default)]
pub(super) struct Inbox {
    queue: Mutex<VecDeque<Delivery>>,
    notify: Notify,
}

impl Inbox {
    fn push(&self, d: Delivery) {
        {
            let mut q = lock(&self.queue);
            if q.len() >= INBOX_MAX {
                q.pop_front();
            }
            q.push_back(d);
        }
        self.notify.notify_one();
    }

    /// The next delivery (waits for one).
    pub(super) async fn next(&self) -> Delivery {
        loop {
            if let Some(d) = lock(&self.queue).pop_front() {
                return d;
            }
            self.notify.notified().await;
        }
    }
}

/// A query registered on a socket; dropping it ends the registration.
#[derive(Debug)]
pub(super) struct Registration {
    conn: Arc<Conn>,
    /// The message ID reserved for the query.
    pub(super) id: u16,
}

impl Registration {
    /// The socket to send on.
    pub(super) fn socket(&self) -> &UdpSocket {
        &self.conn.sock
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut st = lock(&self.conn.state);
        st.pending.remove(&self.id);
        if st.expired.len() >= EXPIRED_KEEP {
            st.expired.pop_front();
        }
        st.expired.push_back(self.id);
        if st.retired && st.pending.is_empty() {
            self.conn.wake.notify_one();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl UdpPool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of open sockets (for tests and diagnostics).
    pub fn len(&self) -> usize {
        lock(&self.state).conns.len()
    }

    /// True when no socket is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reserves a fresh message ID for a query to `addr` from `source` on a shared
    /// socket and routes that ID's datagrams to `inbox`.
    pub(super) fn register(
        &self,
        source: Option<IpAddr>,
        addr: SocketAddr,
        inbox: &Arc<Inbox>,
    ) -> io::Result<Registration> {
        // A socket retired between lookup and registration is skipped; two rounds suffice.
        for _ in 0..3 {
            let conn = self.conn(source, addr)?;
            if let Some(id) = conn.reserve(inbox) {
                return Ok(Registration { conn, id });
            }
        }
        Err(io::Error::other("no usable UDP socket"))
    }

    fn conn(&self, source: Option<IpAddr>, addr: SocketAddr) -> io::Result<Arc<Conn>> {
        let now = Instant::now();
        let mut st = lock(&self.state);
        if st
            .last_sweep
            .is_none_or(|t| now.duration_since(t) >= ROTATE_AFTER)
        {
            st.last_sweep = Some(now);
            st.conns.retain(|_, c| {
                let idle = lock(&c.state)
                    .last_used
                    .is_none_or(|t| now.duration_since(t) >= IDLE_AFTER);
                if idle {
                    c.retire();
                }
                !idle
            });
        }
        let key = (source, addr);
        if let Some(c) = st.conns.get(&key) {
            if now.duration_since(c.created) < ROTATE_AFTER && !lock(&c.state).retired {
                return Ok(c.clone());
            }
            c.retire();
            st.conns.remove(&key);
        }
        let conn = Arc::new(Conn::open(source, addr)?);
        tokio::spawn(receive(conn.clone()));
        st.conns.insert(key, conn.clone());
        Ok(conn)
    }
}

impl Drop for UdpPool {
    fn drop(&mut self) {
        for c in lock(&self.state).conns.values() {
            c.retire();
        }
    }
}

impl Conn {
    fn open(source: Option<IpAddr>, addr: SocketAddr) -> io::Result<Conn> {
        let local: SocketAddr = match source {
            Some(ip) => (ip, 0).into(),
            None if addr.is_ipv4() => (Ipv4Addr::UNSPECIFIED, 0).into(),
            None => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let sock = std::net::UdpSocket::bind(local)?;
        sock.connect(addr)?;
        sock.set_nonblocking(true)?;
        Ok(Conn {
            sock: UdpSocket::from_std(sock)?,
            created: Instant::now(),
            state: Mutex::new(ConnState::default()),
            wake: Notify::new(),
        })
    }

    /// A random ID neither pending nor recently used on this socket, routed to `inbox`;
    /// None when the socket no longer receives.
    fn reserve(&self, inbox: &Arc<Inbox>) -> Option<u16> {
        let mut st = lock(&self.state);
        if st.closed || st.retired {
            return None;
        }
        st.last_used = Some(Instant::now());
        loop {
            let id = rand::random::<u16>();
            if !st.pending.contains_key(&id) && !st.expired.contains(&id) {
                st.pending.insert(id, inbox.clone());
                return Some(id);
            }
        }
    }

    fn retire(&self) {
        lock(&self.state).retired = true;
        self.wake.notify_one();
    }

    /// Routes one datagram: to its ID's query, else dropped as a late answer to an
    /// ended query, else to every pending query as a stray.
    fn deliver(&self, bytes: &[u8], at: Instant) {
        let st = lock(&self.state);
        let id = match bytes {
            [a, b, ..] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        };
        if let Some(inbox) = id.and_then(|id| st.pending.get(&id)) {
            inbox.push(Delivery::Datagram(bytes.to_vec(), at));
            return;
        }
        if id.is_some_and(|id| st.expired.contains(&id)) {
            return;
        }
        for inbox in st.pending.values() {
            inbox.push(Delivery::Datagram(bytes.to_vec(), at));
        }
    }

    fn fail_all(&self, err: io::Error) {
        let err = Arc::new(err);
        for inbox in lock(&self.state).pending.values() {
            inbox.push(Delivery::Error(err.clone()));
        }
    }
}

/// The receive task of one socket: runs until the socket is retired and no query waits.
async fn receive(conn: Arc<Conn>) {
    let mut buf = Vec::with_capacity(RECV_BUF);
    let mut errors = 0u32;
    loop {
        {
            let mut st = lock(&conn.state);
            if st.retired && st.pending.is_empty() {
                st.closed = true;
                return;
            }
        }
        tokio::select! {
            res = conn.sock.recv_buf(&mut buf) => {
                let at = Instant::now();
                match res {
                    Ok(n) => {
                        errors = 0;
                        conn.deliver(buf.get(..n).unwrap_or_default(), at);
                    }
                    Err(e) => {
                        conn.fail_all(e);
                        errors += 1;
                        if errors >= MAX_ERRORS {
                            conn.retire();
                        }
                        tokio::task::yield_now().await;
                    }
                }
                buf.clear();
            }
            _ = conn.wake.notified() => {}
        }
    }
}
