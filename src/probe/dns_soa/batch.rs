//! Many UDP SOA probes in flight at once, driven by one caller: no task, timer or inbox
//! per probe.
//!
//! A future per probe costs a task wake-up for its tick, a deadline timer and a wake-up
//! for its answer; at 1,000 probes a second those cost as much CPU as the system calls
//! (bench/README.md, fifth cost round). A [`UdpBatch`] holds the probes as plain entries
//! instead: its owner (the scheduler's driver, one task for every UDP nameserver target)
//! calls [`UdpBatch::start`] for the probes due in a slot and [`UdpBatch::poll`] once a
//! slot, which drains the sockets, judges each datagram where it lies and ends the probes
//! whose deadline passed.
//!
//! What a probe observes is what [`probe`](super::probe) observes over a fresh socket —
//! the same query (encoded once per target, a fresh message ID per probe), the same
//! validation ([`super::message::classify`]), strays that do not end the wait, and at the
//! deadline the last stray's classification or a timeout — but over long-lived connected
//! sockets shared per server address (the pool: rotation, ID reservation, late answers
//! to ended queries dropped, strays seen by every query on the socket, a receive error
//! failing all of them). The RTT is the kernel's arrival stamp minus the clock before
//! `send`, and a datagram stamped later than the timeout is ignored, so it does not
//! matter when a poll reads the answer. A valid answer with TC is handed back as
//! [`Finished::Truncated`]: the caller retries over TCP ([`UdpBatch::tcp_retry`]) within
//! the same deadline.
//!
//! Sockets, not timers: nothing here sleeps. The owner must call [`UdpBatch::poll`] at
//! [`UdpBatch::next_deadline`] at the latest while probes are in flight.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::deadlines::Deadlines;
use super::message::SoaQuery;
use super::pool::{self, Routed, Sink, Socket, UdpPool};
use super::udp::{judge, UdpResult};
use super::{
    network_failure, timeout_failure, Failure, FailureKind, Outcome, ProbeSpec, Transport,
};

/// Receive buffer size: the largest possible UDP payload.
const RECV_BUF: usize = 64 * 1024;

/// A probe's handle in a [`UdpBatch`] (stable while it is in the batch; reused after
/// [`UdpBatch::remove`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token(pub u32);

/// How a probe of the batch ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Finished {
    /// A final outcome: an answer or a classified failure.
    Done(Outcome),
    /// A valid answer with TC set: retry over TCP ([`UdpBatch::tcp_retry`]) by the deadline.
    Truncated(Instant),
}

/// UDP SOA probes of many targets over the batch's own shared sockets. See the module doc.
#[derive(Debug)]
pub struct UdpBatch {
    pool: UdpPool,
    entries: Vec<Option<Entry>>,
    free: Vec<u32>,
    /// Number of probes in flight.
    flying: usize,
    /// Their deadlines, earliest first.
    deadlines: Deadlines,
    /// Numbers the flights, so that a deadline filed for an ended flight is told from the
    /// target's next one.
    flights: u64,
    /// The probes whose query a full socket buffer held back: (token, flight).
    unsent: Vec<(u32, u64)>,
    /// Scratch: the deadlines due in a poll.
    due: Vec<(u32, u64)>,
    /// The sockets with probes in flight (by [`pool::Registration::socket`]'s key): a poll
    /// reads these, not every socket of the pool.
    live: HashMap<usize, Live, foldhash::fast::RandomState>,
    /// Between [`UdpBatch::begin_burst`] and the next poll: probes started are fresh.
    burst: bool,
    buf: Vec<u8>,
    cmsg: Vec<u8>,
    sink: Sink,
}

#[derive(Debug)]
struct Entry {
    spec: ProbeSpec,
    /// `spec.source` when of the address's family.
    source: Option<IpAddr>,
    query: Result<SoaQuery, Failure>,
    flight: Option<Flight>,
}

/// A socket with probes in flight.
#[derive(Debug)]
struct Live {
    socket: Socket,
    /// Probes in flight on it.
    flights: u32,
    /// How many of them were started in the current burst.
    fresh: u32,
}

/// One probe in flight.
#[derive(Debug)]
struct Flight {
    /// Which of the target's flights (see [`UdpBatch::flights`]).
    number: u64,
    reg: pool::Registration,
    /// Its socket's key in [`UdpBatch::live`].
    socket: usize,
    sent_wall: SystemTime,
    sent: std::time::Instant,
    deadline: Instant,
    /// The socket buffer was full: the query goes out at the next poll.
    unsent: bool,
    last_stray: Option<Failure>,
}

impl Default for UdpBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl UdpBatch {
    /// An empty batch with its own sockets.
    pub fn new() -> Self {
        UdpBatch {
            pool: UdpPool::default(),
            entries: Vec::new(),
            free: Vec::new(),
            flying: 0,
            deadlines: Deadlines::default(),
            flights: 0,
            unsent: Vec::new(),
            due: Vec::new(),
            live: HashMap::default(),
            burst: false,
            buf: vec![0; RECV_BUF],
            cmsg: nix::cmsg_space!(nix::sys::time::TimeSpec),
            sink: Sink::default(),
        }
    }

    /// Adds a target (a UDP spec; its query is encoded once, here).
    pub fn add(&mut self, spec: ProbeSpec) -> Token {
        let query = spec.query();
        let source = spec.source_ip();
        let entry = Entry {
            spec,
            source,
            query,
            flight: None,
        };
        match self.free.pop() {
            Some(t) => {
                if let Some(slot) = self.entries.get_mut(t as usize) {
                    *slot = Some(entry);
                }
                Token(t)
            }
            None => {
                self.entries.push(Some(entry));
                Token(u32::try_from(self.entries.len() - 1).unwrap_or(u32::MAX))
            }
        }
    }

    /// Removes a target; a probe in flight is abandoned (its ID stays reserved for a while,
    /// so a late answer is not taken for another query's).
    pub fn remove(&mut self, token: Token) {
        if let Some(slot) = self.entries.get_mut(token.0 as usize) {
            if let Some(entry) = slot.take() {
                let mut flight = entry.flight;
                if land(&mut self.live, &mut self.flying, &mut flight).is_some() {
                    self.prune();
                }
                self.free.push(token.0);
            }
        }
    }

    /// True while the target's last probe has not finished.
    pub fn in_flight(&self, token: Token) -> bool {
        self.entry(token).is_some_and(|e| e.flight.is_some())
    }

    /// Reads what starting or judging the probes of `tokens` reads first (their entries and
    /// their queries' bytes) before any of them is worked on. A target's entry was last
    /// touched an interval ago and is rarely still in cache: reading a whole slot's in one
    /// loop whose loads do not depend on one another overlaps their cache misses, where
    /// the probe loop would wait for each in turn.
    pub fn warm(&self, tokens: impl IntoIterator<Item = u32>) {
        let mut x = 0u64;
        for token in tokens {
            if let Some(e) = self.entry(Token(token)) {
                let query = e.query.as_ref().ok().and_then(|q| q.bytes.first().copied());
                x ^= u64::from(e.flight.is_some()) ^ u64::from(query.unwrap_or_default());
            }
        }
        std::hint::black_box(x);
    }

    /// Number of probes in flight.
    pub fn flying(&self) -> usize {
        self.flying
    }

    /// Number of open sockets.
    pub fn sockets(&self) -> usize {
        self.pool.len()
    }

    fn entry(&self, token: Token) -> Option<&Entry> {
        self.entries.get(token.0 as usize).and_then(Option::as_ref)
    }

    /// Starts a probe of `token` at `now` (its deadline: `now` + the spec's timeout). An
    /// outcome known at once (the query cannot be encoded, no socket, the send failed) is
    /// returned; otherwise the probe ends in a later [`UdpBatch::poll`]. A target whose last
    /// probe is still in flight, or an unknown token, starts nothing (`None`).
    pub fn start(&mut self, token: Token, now: Instant) -> Option<Outcome> {
        let entry = self.entries.get_mut(token.0 as usize)?.as_mut()?;
        if entry.flight.is_some() {
            return None;
        }
        let query = match &mut entry.query {
            Ok(q) => q,
            Err(f) => return Some(Err(f.clone())),
        };
        if entry.spec.transport != Transport::Udp {
            return Some(Err(Failure {
                kind: FailureKind::Network,
                detail: "a UDP batch probes over UDP only".to_string(),
                rtt: None,
            }));
        }
        let reg = match self
            .pool
            .register(entry.source, entry.spec.addr, token.0, now.into_std())
        {
            Ok(r) => r,
            Err(e) => return Some(Err(network_failure("udp socket", &e))),
        };
        query.set_id(reg.id);
        let sent_wall = SystemTime::now();
        let sent = std::time::Instant::now();
        let unsent = match reg.try_send(&query.bytes) {
            Ok(()) => false,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => true,
            Err(e) => return Some(Err(network_failure("udp send", &e))),
        };
        let (socket, handle) = reg.socket();
        let live = self.live.entry(socket).or_insert(Live {
            socket: handle,
            flights: 0,
            fresh: 0,
        });
        live.flights += 1;
        if self.burst {
            live.fresh += 1;
        }
        self.flights += 1;
        let number = self.flights;
        let deadline = now + entry.spec.timeout;
        self.deadlines
            .push(entry.spec.timeout, deadline, token.0, number);
        if unsent {
            self.unsent.push((token.0, number));
        }
        entry.flight = Some(Flight {
            number,
            reg,
            socket,
            sent_wall,
            sent,
            deadline,
            unsent,
            last_stray: None,
        });
        self.flying += 1;
        None
    }

    /// The earliest deadline of the probes in flight.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.earliest()
    }

    /// Marks the probes started from now until the next poll as a burst: that poll does not
    /// read a socket whose probes in flight were all started in the burst (their answers
    /// are rarely there yet, and reading an empty socket is a system call for nothing; the
    /// next poll reads them, and the RTT is the kernel's arrival stamp either way), unless
    /// a probe's deadline has passed.
    pub fn begin_burst(&mut self) {
        self.burst = true;
    }

    /// Sends what a full socket buffer held back, drains the sockets with probes in flight
    /// (see [`UdpBatch::begin_burst`] for those it leaves for the next poll), judges what
    /// arrived, and ends the probes answered or past their deadline at `now`: each ended
    /// probe is appended to `done` once.
    pub fn poll(&mut self, now: Instant, done: &mut Vec<(Token, Finished)>) {
        let burst = std::mem::take(&mut self.burst);
        if self.flying == 0 {
            return;
        }
        self.resend();
        self.sink.clear();
        let all = !burst || self.next_deadline().is_some_and(|d| d <= now);
        for live in self.live.values_mut() {
            if all || live.flights > live.fresh {
                live.socket
                    .drain_into(&mut self.buf, &mut self.cmsg, &mut self.sink);
            }
            live.fresh = 0;
        }
        self.warm((0..self.sink.len()).filter_map(|i| self.sink.get(i).map(|(token, ..)| token)));
        for i in 0..self.sink.len() {
            let Some((token, routed, bytes)) = self.sink.get(i) else {
                break;
            };
            let Some(entry) = self
                .entries
                .get_mut(token as usize)
                .and_then(Option::as_mut)
            else {
                continue;
            };
            let (Some(flight), Ok(query)) = (&mut entry.flight, &entry.query) else {
                continue; // ended earlier in this drain (a stray after its answer)
            };
            let result = match routed {
                Routed::Error(e) => UdpResult::Done(Err(network_failure("udp recv", e))),
                Routed::Datagram(_, stamp) => {
                    let rtt = pool::rtt(flight.sent_wall, flight.sent, *stamp);
                    if rtt > entry.spec.timeout {
                        continue; // arrived after the deadline
                    }
                    match judge(query, bytes, rtt, &mut flight.last_stray) {
                        Some(result) => result,
                        None => {
                            flight.reg.rearm();
                            continue;
                        }
                    }
                }
            };
            let Some(flight) = land(&mut self.live, &mut self.flying, &mut entry.flight) else {
                continue;
            };
            done.push((
                Token(token),
                match result {
                    UdpResult::Done(outcome) => Finished::Done(outcome),
                    UdpResult::Truncated => Finished::Truncated(flight.deadline),
                },
            ));
        }
        self.sink.clear();
        self.expire(now, done);
        self.prune();
    }

    /// Sends the queries a full socket buffer held back.
    fn resend(&mut self) {
        let entries = &mut self.entries;
        self.unsent.retain(|&(t, number)| {
            let Some(entry) = entries.get_mut(t as usize).and_then(Option::as_mut) else {
                return false;
            };
            match (&mut entry.flight, &entry.query) {
                (Some(flight), Ok(query)) if flight.number == number => {
                    if flight.unsent && flight.reg.try_send(&query.bytes).is_ok() {
                        flight.unsent = false;
                    }
                    flight.unsent
                }
                _ => false, // ended
            }
        });
    }

    /// Ends the probes past their deadline.
    fn expire(&mut self, now: Instant, done: &mut Vec<(Token, Finished)>) {
        let mut due = std::mem::take(&mut self.due);
        self.deadlines.take_due(now, &mut due);
        for (t, number) in due.drain(..) {
            let Some(entry) = self.entries.get_mut(t as usize).and_then(Option::as_mut) else {
                continue;
            };
            let Some(flight) = entry.flight.as_mut().filter(|f| f.number == number) else {
                continue; // ended before its deadline
            };
            let failure = if flight.unsent {
                network_failure("udp send", &io::Error::from(io::ErrorKind::WouldBlock))
            } else {
                flight
                    .last_stray
                    .take()
                    .unwrap_or_else(|| timeout_failure(entry.spec.timeout, "udp"))
            };
            land(&mut self.live, &mut self.flying, &mut entry.flight);
            done.push((Token(t), Finished::Done(Err(failure))));
        }
        self.due = due;
    }

    /// Drops the deadlines of ended flights from the fronts of the queues, so that
    /// [`UdpBatch::next_deadline`] is a live probe's.
    fn prune(&mut self) {
        let entries = &self.entries;
        self.deadlines.prune(|t, number| {
            entries
                .get(t as usize)
                .and_then(Option::as_ref)
                .and_then(|e| e.flight.as_ref())
                .is_some_and(|f| f.number == number)
        });
    }

    /// The TCP retry of a probe that ended [`Finished::Truncated`]: the same query over
    /// TCP by `deadline`, its answer marked truncated. Owns what it needs (run it as a task).
    pub fn tcp_retry(
        &self,
        token: Token,
        deadline: Instant,
    ) -> impl std::future::Future<Output = Outcome> + Send + 'static {
        let job = self
            .entry(token)
            .map(|e| (e.query.clone(), e.spec.addr, e.source, e.spec.timeout));
        async move {
            match job {
                Some((Ok(query), addr, source, timeout)) => {
                    super::tcp::exchange(&query, addr, source, deadline, timeout, true).await
                }
                Some((Err(f), ..)) => Err(f),
                None => Err(timeout_failure(Duration::ZERO, "tcp")),
            }
        }
    }
}

/// Ends the flight in `slot`, if any: one probe in flight fewer, on its socket too.
/// Returns the flight.
fn land(
    live: &mut HashMap<usize, Live, foldhash::fast::RandomState>,
    flying: &mut usize,
    slot: &mut Option<Flight>,
) -> Option<Flight> {
    let flight = slot.take()?;
    release(live, flight.socket);
    *flying -= 1;
    Some(flight)
}

/// One probe in flight on the socket `key` fewer.
fn release(live: &mut HashMap<usize, Live, foldhash::fast::RandomState>, key: usize) {
    if let Some(l) = live.get_mut(&key) {
        l.flights = l.flights.saturating_sub(1);
        l.fresh = l.fresh.min(l.flights);
        if l.flights == 0 {
            live.remove(&key);
        }
    }
}
