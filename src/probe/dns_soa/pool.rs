//! Long-lived connected UDP sockets shared by the probes of one server, read in batches.
//!
//! A fresh socket per query costs six system calls (socket, bind, connect, two epoll
//! registrations, close) on top of the send and the receive, and every answer woke the
//! probe thread on its own; at thousands of probes per second that was most of a
//! probe's CPU. A [`UdpPool`] keeps one socket per (source address, server address),
//! `connect`ed like the fresh one was, so the kernel still drops datagrams from any
//! other source and still reports an ICMP port unreachable as `ECONNREFUSED`.
//!
//! The sockets are not in the poller: the pool's owner (a `UdpBatch`) reads the sockets
//! of the queries it has in flight ([`Socket`]) when it polls, so answers that arrive
//! together cost one wake-up of the probe thread, not one each. The response time does
//! not depend on when the answer is read: the kernel stamps each datagram on arrival
//! (`SO_TIMESTAMPNS`) and the RTT is that stamp minus the wall clock read just before
//! `send` (falling back to the monotonic clock at read time if the wall clock stepped,
//! or if no stamp came).
//!
//! Each datagram goes to the query waiting for its message ID, which validates it
//! exactly as before ([`super::message::classify`]: ID, question, flags):
//! - datagrams whose ID matches no pending query are *strays*: every query pending on
//!   the socket sees them (and records their classification, as a fresh socket's
//!   query did), except late answers to this socket's ended queries, which are dropped
//!   (on a fresh socket they arrived at a closed port);
//! - a receive error (ICMP port unreachable) is reported to every query pending on
//!   the socket: they were all sent to that one server address and port;
//! - an ID is never handed out twice on the same socket: each socket walks the 65,536
//!   IDs in its own random order ([`super::ids`]).
//!
//! Sockets are replaced every [`ROTATE_AFTER`] (a new random source port: a spoofer
//! must match the port as well as the ID), or sooner once their IDs are all used, and
//! closed after [`IDLE_AFTER`] unused. A replaced socket is still drained until its last
//! pending query ends (its queries hold it).
//!
//! Plain system calls on non-blocking sockets: a pool needs no runtime.

use std::collections::HashMap;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags};

use super::ids::IdSequence;

/// A socket is replaced (new source port) after this long in use.
pub const ROTATE_AFTER: Duration = Duration::from_secs(60);

/// A socket not used for this long is closed (its targets were removed).
pub const IDLE_AFTER: Duration = Duration::from_secs(300);

/// Largest number of datagrams read from one socket per drain.
const DRAIN_MAX: usize = 256;

type Key = (Option<IpAddr>, SocketAddr);

/// A hash map with a fast hasher: the keys are configured server addresses and message
/// IDs the pool draws itself, nothing a peer chooses.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Shared connected UDP sockets, one per (source, server address). See the module doc.
#[derive(Debug, Default)]
pub(super) struct UdpPool {
    state: Mutex<PoolState>,
}

#[derive(Debug, Default)]
struct PoolState {
    conns: FastMap<Key, Arc<Conn>>,
    last_sweep: Option<Instant>,
}

/// One connected socket and the queries waiting on it.
#[derive(Debug)]
struct Conn {
    sock: std::net::UdpSocket,
    created: Instant,
    state: Mutex<ConnState>,
}

#[derive(Debug, Default)]
struct ConnState {
    pending: FastMap<u16, Waiting>,
    /// Pending queries no datagram with their ID was routed to yet (or whose last one was
    /// not their answer): while none is left, a drain reads nothing (no system call to
    /// learn that the socket is empty).
    unmatched: usize,
    /// The socket's message IDs: which were handed out, which is next.
    ids: IdSequence,
    last_used: Option<Instant>,
}

/// The token of a pending query (its datagrams go to the [`Sink`] under it), and whether
/// a datagram with its ID was routed to it.
#[derive(Debug)]
struct Waiting {
    token: u32,
    matched: bool,
}

/// What a drain routed to tokens: datagrams copied once into one arena (a stray routed
/// to several queries is stored once), reused from drain to drain.
#[derive(Debug, Default)]
pub(super) struct Sink {
    arena: Vec<u8>,
    items: Vec<(u32, Routed)>,
}

/// One delivery to a token.
#[derive(Debug, Clone)]
pub(super) enum Routed {
    /// A datagram: its bytes in the arena, and when it arrived.
    Datagram(std::ops::Range<usize>, Stamp),
    /// A receive error (ICMP unreachable and the like).
    Error(Arc<io::Error>),
}

impl Sink {
    /// Forget what the last drain routed (keeps the memory).
    pub(super) fn clear(&mut self) {
        self.arena.clear();
        self.items.clear();
    }

    /// How many deliveries are held.
    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    /// Delivery `i`: its token, and its datagram's bytes (empty for an error).
    pub(super) fn get(&self, i: usize) -> Option<(u32, &Routed, &[u8])> {
        let (token, routed) = self.items.get(i)?;
        let bytes = match routed {
            Routed::Datagram(range, _) => self.arena.get(range.clone()).unwrap_or_default(),
            Routed::Error(_) => &[],
        };
        Some((*token, routed, bytes))
    }

    /// Routes a datagram to `token`. `stored`: where it already lies in the arena, when
    /// another token got it first (a stray is stored once); set when this one stores it.
    fn datagram(
        &mut self,
        token: u32,
        bytes: &[u8],
        stamp: Stamp,
        stored: &mut Option<std::ops::Range<usize>>,
    ) {
        let range = stored
            .get_or_insert_with(|| {
                let start = self.arena.len();
                self.arena.extend_from_slice(bytes);
                start..self.arena.len()
            })
            .clone();
        self.items.push((token, Routed::Datagram(range, stamp)));
    }

    /// Routes a receive error to `token`.
    fn error(&mut self, token: u32, err: &Arc<io::Error>) {
        self.items.push((token, Routed::Error(err.clone())));
    }
}

/// When a datagram arrived: the kernel's stamp (wall clock) if any, and when it was read.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stamp {
    /// `SO_TIMESTAMPNS`: arrival in the kernel.
    pub(super) wall: Option<SystemTime>,
    /// When `recvmsg` returned it.
    pub(super) read: Instant,
}

/// A query registered on a socket; dropping it ends the registration.
#[derive(Debug)]
pub(super) struct Registration {
    conn: Arc<Conn>,
    /// The message ID reserved for the query.
    pub(super) id: u16,
}

impl Registration {
    /// The datagram routed to this query by its ID was not its answer (the query goes on
    /// waiting): its socket is drained again for it.
    pub(super) fn rearm(&self) {
        let mut st = lock(&self.conn.state);
        let st = &mut *st;
        if let Some(w) = st.pending.get_mut(&self.id) {
            if w.matched {
                w.matched = false;
                st.unmatched += 1;
            }
        }
    }

    /// The query's socket, and a key that tells it from the others.
    pub(super) fn socket(&self) -> (usize, Socket) {
        (Arc::as_ptr(&self.conn) as usize, Socket(self.conn.clone()))
    }

    /// Sends `bytes` once on the query's socket (a full socket buffer is `WouldBlock`;
    /// the caller tries again later).
    pub(super) fn try_send(&self, bytes: &[u8]) -> io::Result<()> {
        self.conn.sock.send(bytes).map(|_| ())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut st = lock(&self.conn.state);
        if st.pending.remove(&self.id).is_some_and(|w| !w.matched) {
            st.unmatched -= 1;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl UdpPool {
    /// Number of open sockets (for tests and diagnostics).
    pub(super) fn len(&self) -> usize {
        lock(&self.state).conns.len()
    }

    /// Reserves a fresh message ID for a query to `addr` from `source` at `now` on a
    /// shared socket: the ID's datagrams go to `token` in the [`Sink`] its [`Socket`] is
    /// drained into.
    pub(super) fn register(
        &self,
        source: Option<IpAddr>,
        addr: SocketAddr,
        token: u32,
        now: Instant,
    ) -> io::Result<Registration> {
        let conn = self.conn(source, addr, now)?;
        match conn.reserve(token, now) {
            Some(id) => Ok(Registration { conn, id }),
            // Every ID of the socket was used within ROTATE_AFTER (over 1,092 queries a
            // second to one server): replaced as at rotation.
            None => {
                lock(&self.state).conns.remove(&(source, addr));
                let conn = self.conn(source, addr, now)?;
                let id = conn
                    .reserve(token, now)
                    .ok_or_else(|| io::Error::other("a new socket has no message ID"))?;
                Ok(Registration { conn, id })
            }
        }
    }

    /// The current socket for (`source`, `addr`): opened on first use, replaced after
    /// [`ROTATE_AFTER`]; sockets idle for [`IDLE_AFTER`] are closed on the way.
    fn conn(
        &self,
        source: Option<IpAddr>,
        addr: SocketAddr,
        now: Instant,
    ) -> io::Result<Arc<Conn>> {
        let mut st = lock(&self.state);
        if st
            .last_sweep
            .is_none_or(|t| now.duration_since(t) >= ROTATE_AFTER)
        {
            st.last_sweep = Some(now);
            st.conns.retain(|_, c| {
                lock(&c.state)
                    .last_used
                    .is_some_and(|t| now.duration_since(t) < IDLE_AFTER)
            });
        }
        let key = (source, addr);
        if let Some(c) = st.conns.get(&key) {
            if now.duration_since(c.created) < ROTATE_AFTER {
                return Ok(c.clone());
            }
            // Its pending queries hold it (and their owner reads it) until they end.
            st.conns.remove(&key);
        }
        let conn = Arc::new(Conn::open(source, addr)?);
        st.conns.insert(key, conn.clone());
        Ok(conn)
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
        // Without stamps the RTT falls back to the monotonic clock at read time.
        let _ = setsockopt(&sock, sockopt::ReceiveTimestampns, &true);
        Ok(Conn {
            sock,
            created: Instant::now(),
            state: Mutex::new(ConnState::default()),
        })
    }

    /// The socket's next ID (never handed out on it before), routed to `token`; None once
    /// its IDs are all used.
    fn reserve(&self, token: u32, now: Instant) -> Option<u16> {
        let mut st = lock(&self.state);
        st.last_used = Some(now);
        let id = st.ids.next_id()?;
        st.pending.insert(
            id,
            Waiting {
                token,
                matched: false,
            },
        );
        st.unmatched += 1;
        Some(id)
    }

    /// Reads what is queued on the socket, routing each datagram into `sink` (see
    /// [`Conn::deliver`]), until every pending query has had a datagram with its ID: what
    /// else is queued waits for a query that needs it, or the next drain.
    fn drain(&self, buf: &mut [u8], cmsg: &mut [u8], sink: &mut Sink) {
        for _ in 0..DRAIN_MAX {
            if lock(&self.state).unmatched == 0 {
                return;
            }
            match recv(&self.sock, buf, cmsg) {
                Ok((n, stamp)) => self.deliver(buf.get(..n).unwrap_or_default(), stamp, sink),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => self.fail_all(e, sink),
            }
        }
    }

    /// Routes one datagram: to its ID's query, else dropped as a late answer to an
    /// ended query of this socket, else to every pending query as a stray.
    fn deliver(&self, bytes: &[u8], stamp: Stamp, sink: &mut Sink) {
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        let id = match bytes {
            [a, b, ..] => Some(u16::from_be_bytes([*a, *b])),
            _ => None,
        };
        if let Some(w) = id.and_then(|id| st.pending.get_mut(&id)) {
            if !w.matched {
                w.matched = true;
                st.unmatched -= 1;
            }
            sink.datagram(w.token, bytes, stamp, &mut None);
            return;
        }
        if id.is_some_and(|id| st.ids.issued(id)) {
            return;
        }
        // A stray: stored once in the sink, whoever it goes to.
        let mut stored = None;
        for w in st.pending.values() {
            sink.datagram(w.token, bytes, stamp, &mut stored);
        }
    }

    /// Routes a receive error to every pending query (all sent to this one address).
    fn fail_all(&self, err: io::Error, sink: &mut Sink) {
        let err = Arc::new(err);
        for w in lock(&self.state).pending.values() {
            sink.error(w.token, &err);
        }
    }
}

/// A socket with queries in flight, as its driver holds it (see `UdpBatch`).
#[derive(Debug, Clone)]
pub(super) struct Socket(Arc<Conn>);

impl Socket {
    /// Reads the socket (up to the point where each pending query has had a datagram with
    /// its ID), routing to tokens into `sink`.
    pub(super) fn drain_into(&self, buf: &mut [u8], cmsg: &mut [u8], sink: &mut Sink) {
        self.0.drain(buf, cmsg, sink);
    }
}

/// One `recvmsg` with the kernel's arrival stamp.
fn recv(sock: &std::net::UdpSocket, buf: &mut [u8], cmsg: &mut [u8]) -> io::Result<(usize, Stamp)> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(cmsg),
        MsgFlags::MSG_DONTWAIT,
    )
    .map_err(|e: Errno| io::Error::from_raw_os_error(e as i32))?;
    let read = Instant::now();
    let wall = msg.cmsgs().ok().and_then(|mut it| {
        it.find_map(|c| match c {
            ControlMessageOwned::ScmTimestampns(ts) => {
                let since = Duration::new(
                    u64::try_from(ts.tv_sec()).ok()?,
                    u32::try_from(ts.tv_nsec()).ok()?,
                );
                SystemTime::UNIX_EPOCH.checked_add(since)
            }
            _ => None,
        })
    });
    Ok((msg.bytes, Stamp { wall, read }))
}

/// The response time of a datagram sent at (`wall`, `mono`): the kernel stamp minus the
/// wall clock at send, unless the wall clock stepped (then the monotonic clock at read).
pub(super) fn rtt(sent_wall: SystemTime, sent_mono: Instant, stamp: Stamp) -> Duration {
    let by_read = stamp.read.saturating_duration_since(sent_mono);
    match stamp.wall.map(|w| w.duration_since(sent_wall)) {
        Some(Ok(d)) if d <= by_read => d,
        _ => by_read,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_whose_ids_ran_out_is_replaced_and_never_repeats_an_id() {
        let pool = UdpPool::default();
        let addr: SocketAddr = "127.0.0.1:9".parse().expect("address");
        let now = Instant::now();
        let first = pool.register(None, addr, 0, now).expect("register");
        let socket = first.conn.clone();
        let mut seen = vec![false; 1 << 16];
        seen[usize::from(first.id)] = true;
        drop(first);
        for n in 1..(1u32 << 16) {
            let r = pool.register(None, addr, n, now).expect("register");
            assert!(Arc::ptr_eq(&r.conn, &socket), "replaced early, at {n}");
            assert!(!seen[usize::from(r.id)], "ID {} twice", r.id);
            seen[usize::from(r.id)] = true;
        }
        // The 65,537th query on the socket goes out on a new one.
        let next = pool.register(None, addr, 0, now).expect("register");
        assert!(!Arc::ptr_eq(&next.conn, &socket));
        assert_eq!(pool.len(), 1);
    }

    #[test]
    fn rtt_prefers_the_kernel_stamp_unless_the_clock_stepped() {
        let wall = SystemTime::now();
        let mono = Instant::now();
        let read = mono + Duration::from_millis(5);
        let stamp = |w| Stamp { wall: w, read };
        let at = wall + Duration::from_micros(300);
        assert_eq!(rtt(wall, mono, stamp(Some(at))), Duration::from_micros(300));
        // No stamp, a stamp before the send (clock stepped back) or after the read
        // (stepped forward): the monotonic clock at read time.
        assert_eq!(rtt(wall, mono, stamp(None)), Duration::from_millis(5));
        let before = wall - Duration::from_secs(1);
        assert_eq!(
            rtt(wall, mono, stamp(Some(before))),
            Duration::from_millis(5)
        );
        let later = wall + Duration::from_secs(10);
        assert_eq!(
            rtt(wall, mono, stamp(Some(later))),
            Duration::from_millis(5)
        );
    }
}
