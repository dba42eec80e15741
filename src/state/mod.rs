//! Zone state: the pure core, fed with probe [`Observation`]s.
//!
//! No I/O, no clock: every time is a [`UnixMs`] argument. One [`ZoneState`] per
//! watched zone holds
//!
//! - per target (server, address, transport): last outcome, up/down latch with
//!   hysteresis, recent window of results, counters ([`TargetState`]);
//! - per address (server, address; UDP and TCP both report): latest serial, since
//!   when it is behind the zone's newest serial, regressions ([`AddressState`]);
//! - per server: response-time history and the last serial it propagated ([`ServerState`]);
//! - per zone: newest serial (RFC 1982) and when it was first seen, recent
//!   publications and the gaps between them, the learned normal gap and staleness.
//!
//! [`ZoneState::observe`] returns [`Event`]s for the daemon to log and feed into histograms.

mod history;
#[cfg(test)]
pub(crate) mod tests;

pub use history::{
    MinutePoint, ResponseHistory, RttHistogram, HISTORY_MINUTES, MINUTE_MS, RTT_BUCKETS,
};

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Thresholds;
use crate::probe::{Answer, Failure, FailureKind, Outcome, Transport};
use crate::serial::{distance, is_newer};
use crate::UnixMs;

/// Number of publication gaps kept for learning the normal publication cadence.
pub const MAX_GAPS: usize = 32;

/// Number of recent publications kept (one more than the gaps between them).
pub const MAX_PUBLICATIONS: usize = MAX_GAPS + 1;

/// One probed target: a server's address over one transport.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TargetKey {
    /// Nameserver name (`a.nic.dk`), also its status-page component name.
    pub server: String,
    /// The address probed.
    pub addr: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
}

impl TargetKey {
    /// Builds a key.
    pub fn new(server: &str, addr: SocketAddr, transport: Transport) -> TargetKey {
        TargetKey {
            server: server.to_string(),
            addr,
            transport,
        }
    }
}

impl fmt::Display for TargetKey {
    /// `tcp [::1]:53` — transport and address (the server name is not included).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.transport, self.addr)
    }
}

/// One completed probe, as delivered by the scheduler.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Which target was probed.
    pub key: TargetKey,
    /// When the probe completed.
    pub at: UnixMs,
    /// What it returned.
    pub outcome: Outcome,
}

/// Something noteworthy that an observation caused.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The zone's newest serial advanced (or the first serial was seen: `previous` is None).
    NewZoneSerial {
        /// The new newest serial.
        serial: u32,
        /// The previous newest serial, None for the first serial ever seen.
        previous: Option<u32>,
    },
    /// The first address of `server` showed a newly published `serial`, `delay_ms` after
    /// the zone first saw it (0 for the server that showed it first). Not emitted for the
    /// baseline serial seen at startup, whose publication time is unknown.
    Propagated {
        /// Server name.
        server: String,
        /// The serial that reached the server.
        serial: u32,
        /// Milliseconds since the zone first saw this serial.
        delay_ms: u64,
    },
    /// An address answered a serial older (RFC 1982) than it answered before.
    SerialRegression {
        /// The target that answered the older serial.
        key: TargetKey,
        /// Serial the address had before.
        from: u32,
        /// Older serial just answered.
        to: u32,
    },
    /// A target went down (`fail_after` consecutive failures).
    TargetDown {
        /// The target.
        key: TargetKey,
        /// Human-readable cause, e.g. `3 consecutive failures, last: timeout (no answer)`.
        reason: String,
    },
    /// A down target recovered (`recover_after` consecutive successes). Not emitted for a
    /// target's very first success (it was never down).
    TargetUp {
        /// The target.
        key: TargetKey,
    },
}

/// The last failure of a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastError {
    /// Classified reason.
    pub kind: FailureKind,
    /// Human-readable detail.
    pub detail: String,
    /// When it happened.
    pub at: UnixMs,
}

/// State of one target (server, address, transport).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetState {
    /// The last outcome.
    pub last_outcome: Option<Outcome>,
    /// When the last outcome arrived.
    pub last_at: Option<UnixMs>,
    /// When the last successful probe arrived.
    pub last_success_at: Option<UnixMs>,
    /// Failures in a row (0 after a success).
    pub consecutive_failures: u32,
    /// Successes in a row (0 after a failure).
    pub consecutive_successes: u32,
    /// Up/down latch with hysteresis: None before the first probe (and while the first
    /// failures are fewer than `fail_after`); the first success sets it up; `fail_after`
    /// consecutive failures set it down; `recover_after` consecutive successes bring it back.
    pub up: Option<bool>,
    /// Serial of the last successful answer.
    pub last_serial: Option<u32>,
    /// NSID of the last successful answer.
    pub last_nsid: Option<String>,
    /// SOA RRSIG expiration (seconds since the epoch) of the last successful answer.
    pub last_rrsig_expiration: Option<u32>,
    /// Response time of the last successful answer.
    pub last_rtt: Option<Duration>,
    /// The last failure.
    pub last_error: Option<LastError>,
    /// The last `window` results, oldest first: `Some(rtt)` for a success, `None` for a failure.
    pub window: VecDeque<Option<Duration>>,
    /// Probes completed.
    pub probes: u64,
    /// Successful probes.
    pub successes: u64,
    /// Failed probes by kind.
    pub failures_by_kind: BTreeMap<FailureKind, u64>,
    /// Response times of the successful probes (`nsprobe_probe_duration_seconds`).
    pub rtt_histogram: RttHistogram,
}

impl TargetState {
    /// True when the latch says down (`up == Some(false)`).
    pub fn is_down(&self) -> bool {
        self.up == Some(false)
    }

    /// Median response time of the successes in the window (None without successes).
    pub fn window_median_rtt(&self) -> Option<Duration> {
        let mut us: Vec<u32> = self
            .window
            .iter()
            .flatten()
            .map(|d| u32::try_from(d.as_micros()).unwrap_or(u32::MAX))
            .collect();
        us.sort_unstable();
        history::median_sorted(&us).map(|v| Duration::from_micros(u64::from(v)))
    }

    /// Failures in the window.
    pub fn window_failures(&self) -> usize {
        self.window.iter().filter(|r| r.is_none()).count()
    }

    /// Share of failures in the window, over `max(results in window, window_size)`, so that
    /// a single early failure does not count as 100% loss. None when the window is empty.
    pub fn window_loss(&self, window_size: u32) -> Option<f64> {
        if self.window.is_empty() {
            return None;
        }
        let denom = self.window.len().max(window_size as usize);
        Some(self.window_failures() as f64 / denom as f64)
    }

    /// Failed probes in total.
    pub fn failures(&self) -> u64 {
        self.failures_by_kind.values().sum()
    }

    /// Applies one outcome; returns a TargetDown/TargetUp event when the latch flips.
    fn record(
        &mut self,
        key: &TargetKey,
        at: UnixMs,
        outcome: Outcome,
        thresholds: &Thresholds,
    ) -> Option<Event> {
        let fail_after = thresholds.fail_after.max(1);
        let recover_after = thresholds.recover_after.max(1);
        let window = thresholds.window.max(1) as usize;
        self.probes = self.probes.saturating_add(1);
        self.last_at = Some(at);
        let mut event = None;
        match &outcome {
            Ok(answer) => {
                self.successes = self.successes.saturating_add(1);
                self.last_success_at = Some(at);
                self.consecutive_failures = 0;
                self.consecutive_successes = self.consecutive_successes.saturating_add(1);
                self.last_serial = Some(answer.serial);
                self.last_nsid.clone_from(&answer.nsid);
                self.last_rrsig_expiration = answer.rrsig_expiration;
                self.last_rtt = Some(answer.rtt);
                self.rtt_histogram.observe(answer.rtt);
                self.window.push_back(Some(answer.rtt));
                match self.up {
                    None => self.up = Some(true),
                    Some(false) if self.consecutive_successes >= recover_after => {
                        self.up = Some(true);
                        event = Some(Event::TargetUp { key: key.clone() });
                    }
                    _ => {}
                }
            }
            Err(failure) => {
                *self.failures_by_kind.entry(failure.kind).or_insert(0) += 1;
                self.consecutive_successes = 0;
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                self.last_error = Some(LastError {
                    kind: failure.kind,
                    detail: failure.detail.clone(),
                    at,
                });
                self.window.push_back(None);
                if self.up != Some(false) && self.consecutive_failures >= fail_after {
                    self.up = Some(false);
                    event = Some(Event::TargetDown {
                        key: key.clone(),
                        reason: down_reason(self.consecutive_failures, failure),
                    });
                }
            }
        }
        while self.window.len() > window {
            self.window.pop_front();
        }
        self.last_outcome = Some(outcome);
        event
    }
}

fn down_reason(count: u32, failure: &Failure) -> String {
    if failure.detail.is_empty() {
        format!("{count} consecutive failures, last: {}", failure.kind)
    } else {
        format!(
            "{count} consecutive failures, last: {} ({})",
            failure.kind, failure.detail
        )
    }
}

/// State of one server address (both transports report into it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressState {
    /// Latest serial answered on this address (any transport).
    pub serial: Option<u32>,
    /// When `serial` was last answered.
    pub serial_at: Option<UnixMs>,
    /// Since when this address has been behind the zone's newest serial (the time the zone
    /// first saw the oldest serial newer than this address's). None when up to date or unknown.
    pub behind_since: Option<UnixMs>,
    /// Times this address answered a serial older than it had before.
    pub regressions: u64,
    /// Latest NSID answered on this address.
    pub nsid: Option<String>,
    /// Latest SOA RRSIG expiration (seconds since the epoch) answered on this address.
    pub rrsig_expiration: Option<u32>,
}

/// State of one nameserver.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerState {
    /// The server's targets (address × transport).
    pub targets: BTreeMap<TargetKey, TargetState>,
    /// The server's addresses.
    pub addresses: BTreeMap<SocketAddr, AddressState>,
    /// The newest serial any of its addresses has shown (drives [`Event::Propagated`]).
    pub propagated_serial: Option<u32>,
    /// Per-minute response-time history (all targets of the server).
    pub history: ResponseHistory,
}

impl ServerState {
    /// True when no target of the server has completed a probe yet.
    pub fn never_probed(&self) -> bool {
        self.targets.values().all(|t| t.probes == 0)
    }
}

/// A newest serial of the zone and when it was first seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    /// The serial.
    pub serial: u32,
    /// When the zone first saw it on any server.
    pub first_seen: UnixMs,
    /// True when the change to this serial was observed (false for the baseline serial seen
    /// at startup, whose real publication time is unknown). Gaps and propagation delays are
    /// measured only from observed publications.
    pub observed: bool,
}

/// How far an address is behind the zone's newest serial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Lag {
    /// Serial units: `distance(address serial, newest)`, 0 when up to date.
    pub serials: u32,
    /// Milliseconds since the address fell behind, 0 when up to date.
    pub ms: u64,
}

/// Persisted state of one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedAddress {
    /// Server name.
    pub server: String,
    /// Address.
    pub addr: SocketAddr,
    /// Latest serial.
    #[serde(default)]
    pub serial: Option<u32>,
    /// When the latest serial was answered.
    #[serde(default)]
    pub serial_at: Option<UnixMs>,
    /// Behind the zone's newest serial since.
    #[serde(default)]
    pub behind_since: Option<UnixMs>,
    /// Regression count.
    #[serde(default)]
    pub regressions: u64,
}

/// Persisted state of one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedServer {
    /// The last serial propagated to the server.
    #[serde(default)]
    pub propagated_serial: Option<u32>,
}

/// What of a [`ZoneState`] survives a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedZone {
    /// Recent publications, oldest first; the last one is the newest serial and its first-seen time.
    #[serde(default)]
    pub publications: Vec<Publication>,
    /// Recent gaps (ms) between successive observed publications, oldest first.
    #[serde(default)]
    pub gaps: Vec<u64>,
    /// Per-address serial state.
    #[serde(default)]
    pub addresses: Vec<PersistedAddress>,
    /// Per-server propagation state.
    #[serde(default)]
    pub servers: BTreeMap<String, PersistedServer>,
}

impl PersistedZone {
    /// The newest serial and when it was first seen, if any.
    pub fn newest(&self) -> Option<(u32, UnixMs)> {
        self.publications.last().map(|p| (p.serial, p.first_seen))
    }
}

/// Restored state for servers/addresses not (yet) registered by [`ZoneState::sync_targets`].
#[derive(Debug, Clone, Default, PartialEq)]
struct Pending {
    addresses: BTreeMap<(String, SocketAddr), AddressState>,
    propagated: BTreeMap<String, u32>,
}

/// The state of one zone.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneState {
    zone: String,
    thresholds: Thresholds,
    servers: BTreeMap<String, ServerState>,
    /// Configured nameserver names: kept as servers even while they have no target
    /// (e.g. their name does not resolve), so they still show as components.
    declared: BTreeSet<String>,
    publications: VecDeque<Publication>,
    gaps: VecDeque<u64>,
    pending: Pending,
}

impl ZoneState {
    /// An empty state for `zone` (no targets: call [`ZoneState::sync_targets`]).
    pub fn new(zone: &str, thresholds: Thresholds) -> ZoneState {
        ZoneState {
            zone: zone.to_string(),
            thresholds,
            servers: BTreeMap::new(),
            declared: BTreeSet::new(),
            publications: VecDeque::new(),
            gaps: VecDeque::new(),
            pending: Pending::default(),
        }
    }

    /// The zone name as given to [`ZoneState::new`].
    pub fn zone(&self) -> &str {
        &self.zone
    }

    /// The thresholds in force.
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// Replaces the thresholds (configuration reload); windows are trimmed to the new size.
    pub fn set_thresholds(&mut self, thresholds: Thresholds) {
        let window = thresholds.window.max(1) as usize;
        for target in self
            .servers
            .values_mut()
            .flat_map(|s| s.targets.values_mut())
        {
            while target.window.len() > window {
                target.window.pop_front();
            }
        }
        self.thresholds = thresholds;
    }

    /// Makes the set of targets exactly `keys`: new targets are added, absent ones removed,
    /// along with addresses and servers left without targets. Unchanged targets keep their state.
    /// Restored state (see [`ZoneState::restore`]) for a server or address is applied when it
    /// is first added.
    pub fn sync_targets(&mut self, keys: &[TargetKey]) {
        let wanted: BTreeSet<&TargetKey> = keys.iter().collect();
        for server in self.servers.values_mut() {
            server.targets.retain(|k, _| wanted.contains(k));
            let targets = &server.targets;
            server
                .addresses
                .retain(|addr, _| targets.keys().any(|k| k.addr == *addr));
        }
        let declared = &self.declared;
        self.servers
            .retain(|name, s| !s.targets.is_empty() || declared.contains(name));
        for key in keys {
            let pending = &mut self.pending;
            let server = self
                .servers
                .entry(key.server.clone())
                .or_insert_with(|| ServerState {
                    propagated_serial: pending.propagated.remove(&key.server),
                    ..ServerState::default()
                });
            server.targets.entry(key.clone()).or_default();
            server.addresses.entry(key.addr).or_insert_with(|| {
                pending
                    .addresses
                    .remove(&(key.server.clone(), key.addr))
                    .unwrap_or_default()
            });
        }
    }

    /// Declare the zone's configured nameservers: each is a server of the zone (and a
    /// status-page component) even while it has no target to probe, e.g. because its
    /// name does not resolve. Servers no longer declared and without targets are dropped.
    pub fn declare_servers<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        self.declared = names.into_iter().map(str::to_string).collect();
        let declared = &self.declared;
        self.servers
            .retain(|name, s| !s.targets.is_empty() || declared.contains(name));
        for name in declared {
            if !self.servers.contains_key(name) {
                let server = ServerState {
                    propagated_serial: self.pending.propagated.remove(name),
                    ..ServerState::default()
                };
                self.servers.insert(name.clone(), server);
            }
        }
    }

    /// All servers, by name.
    pub fn servers(&self) -> &BTreeMap<String, ServerState> {
        &self.servers
    }

    /// One server.
    pub fn server(&self, name: &str) -> Option<&ServerState> {
        self.servers.get(name)
    }

    /// One target.
    pub fn target(&self, key: &TargetKey) -> Option<&TargetState> {
        self.servers.get(&key.server)?.targets.get(key)
    }

    /// One address of a server.
    pub fn address(&self, server: &str, addr: SocketAddr) -> Option<&AddressState> {
        self.servers.get(server)?.addresses.get(&addr)
    }

    /// The newest serial seen on any server (RFC 1982), None before any answer.
    pub fn newest_serial(&self) -> Option<u32> {
        self.publications.back().map(|p| p.serial)
    }

    /// When the newest serial was first seen: the last publication as the world sees it.
    pub fn serial_first_seen(&self) -> Option<UnixMs> {
        self.publications.back().map(|p| p.first_seen)
    }

    /// Age of the newest serial at `now` in ms (None before any answer).
    pub fn serial_age_ms(&self, now: UnixMs) -> Option<u64> {
        self.serial_first_seen().map(|t| now.saturating_sub(t))
    }

    /// Recent publications, oldest first (at most [`MAX_PUBLICATIONS`]).
    pub fn publications(&self) -> &VecDeque<Publication> {
        &self.publications
    }

    /// Recent gaps (ms) between successive observed publications, oldest first (at most [`MAX_GAPS`]).
    pub fn gaps(&self) -> &VecDeque<u64> {
        &self.gaps
    }

    /// The learned normal publication gap (median of the recent gaps), once at least
    /// `stale_min_samples` gaps are known.
    pub fn learned_gap_ms(&self) -> Option<u64> {
        let min = self.thresholds.stale_min_samples.max(1) as usize;
        if self.gaps.len() < min {
            return None;
        }
        let mut g: Vec<u64> = self.gaps.iter().copied().collect();
        g.sort_unstable();
        let n = g.len();
        if n % 2 == 1 {
            g.get(n / 2).copied()
        } else {
            Some((g.get(n / 2 - 1)? + g.get(n / 2)?) / 2)
        }
    }

    /// The adaptive threshold `stale_factor × learned gap`, when configured and learned.
    pub fn adaptive_threshold_ms(&self) -> Option<u64> {
        let factor = self.thresholds.stale_factor?;
        if !(factor.is_finite() && factor > 0.0) {
            return None;
        }
        let gap = self.learned_gap_ms()?;
        Some((factor * gap as f64).round() as u64)
    }

    /// Serial age above which the zone is stale: `stale_after`, or
    /// `min(stale_after, stale_factor × learned gap)` when adaptive staleness applies.
    pub fn stale_threshold_ms(&self) -> u64 {
        let fixed = duration_ms(self.thresholds.stale_after);
        match self.adaptive_threshold_ms() {
            Some(adaptive) => fixed.min(adaptive),
            None => fixed,
        }
    }

    /// True when the newest serial's age exceeds the staleness threshold (false before any answer).
    pub fn is_stale(&self, now: UnixMs) -> bool {
        self.serial_age_ms(now)
            .is_some_and(|age| age > self.stale_threshold_ms())
    }

    /// How far an address is behind the newest serial (None for an unknown address or
    /// one that has not answered yet).
    pub fn lag(&self, server: &str, addr: SocketAddr, now: UnixMs) -> Option<Lag> {
        let a = self.address(server, addr)?;
        self.lag_of(a, now)
    }

    /// How far an address state is behind the newest serial (None before it answered).
    pub fn lag_of(&self, a: &AddressState, now: UnixMs) -> Option<Lag> {
        let serial = a.serial?;
        let newest = self.newest_serial()?;
        if !is_newer(newest, serial) {
            return Some(Lag { serials: 0, ms: 0 });
        }
        Some(Lag {
            serials: distance(serial, newest),
            ms: a.behind_since.map_or(0, |t| now.saturating_sub(t)),
        })
    }

    /// Per-minute response times of `server` for the `minutes` minutes up to `now`, oldest
    /// first; minutes without probes are omitted. None for an unknown server.
    pub fn response_times(
        &self,
        server: &str,
        now: UnixMs,
        minutes: usize,
    ) -> Option<Vec<MinutePoint>> {
        Some(self.servers.get(server)?.history.points(now, minutes))
    }

    /// Applies one probe result and returns what it caused. Observations for targets not
    /// registered by [`ZoneState::sync_targets`] are ignored (e.g. a probe that completed
    /// after a reload removed its target).
    pub fn observe(&mut self, obs: Observation) -> Vec<Event> {
        let mut events = Vec::new();
        let Observation { key, at, outcome } = obs;
        let Some(server) = self.servers.get_mut(&key.server) else {
            return events;
        };
        let Some(target) = server.targets.get_mut(&key) else {
            return events;
        };
        let answer = outcome.as_ref().ok().cloned();
        server
            .history
            .record(at, outcome.as_ref().ok().map(|a| a.rtt));
        if let Some(event) = target.record(&key, at, outcome, &self.thresholds) {
            events.push(event);
        }
        if let Some(answer) = answer {
            self.observe_answer(&key, at, &answer, &mut events);
        }
        events
    }

    fn observe_answer(
        &mut self,
        key: &TargetKey,
        at: UnixMs,
        answer: &Answer,
        events: &mut Vec<Event>,
    ) {
        let s = answer.serial;
        // Zone newest serial.
        match self.newest_serial() {
            None => {
                self.push_publication(Publication {
                    serial: s,
                    first_seen: at,
                    observed: false,
                });
                events.push(Event::NewZoneSerial {
                    serial: s,
                    previous: None,
                });
            }
            Some(newest) if is_newer(s, newest) => {
                if let Some(prev) = self.publications.back() {
                    if prev.observed {
                        self.gaps.push_back(at.saturating_sub(prev.first_seen));
                        while self.gaps.len() > MAX_GAPS {
                            self.gaps.pop_front();
                        }
                    }
                }
                self.push_publication(Publication {
                    serial: s,
                    first_seen: at,
                    observed: true,
                });
                events.push(Event::NewZoneSerial {
                    serial: s,
                    previous: Some(newest),
                });
                self.refresh_behind(at);
            }
            _ => {}
        }
        let newest = self.newest_serial().unwrap_or(s);
        let publications = &self.publications;
        let Some(server) = self.servers.get_mut(&key.server) else {
            return;
        };
        // The address.
        let a = server.addresses.entry(key.addr).or_default();
        if let Some(prev) = a.serial {
            if is_newer(prev, s) {
                a.regressions = a.regressions.saturating_add(1);
                events.push(Event::SerialRegression {
                    key: key.clone(),
                    from: prev,
                    to: s,
                });
            }
        }
        let changed = a.serial != Some(s);
        a.serial = Some(s);
        a.serial_at = Some(at);
        a.nsid.clone_from(&answer.nsid);
        a.rrsig_expiration = answer.rrsig_expiration;
        if is_newer(newest, s) {
            if changed || a.behind_since.is_none() {
                a.behind_since = Some(behind_since_for(publications, s, at));
            }
        } else {
            a.behind_since = None;
        }
        // Propagation to the server.
        match server.propagated_serial {
            None => server.propagated_serial = Some(s),
            Some(p) if is_newer(s, p) => {
                server.propagated_serial = Some(s);
                if let Some(publication) = publications.iter().find(|p| p.serial == s && p.observed)
                {
                    events.push(Event::Propagated {
                        server: key.server.clone(),
                        serial: s,
                        delay_ms: at.saturating_sub(publication.first_seen),
                    });
                }
            }
            _ => {}
        }
    }

    fn push_publication(&mut self, p: Publication) {
        self.publications.push_back(p);
        while self.publications.len() > MAX_PUBLICATIONS {
            self.publications.pop_front();
        }
    }

    /// After the newest serial advanced: marks addresses that fell behind.
    fn refresh_behind(&mut self, at: UnixMs) {
        let Some(newest) = self.newest_serial() else {
            return;
        };
        let publications = &self.publications;
        for a in self
            .servers
            .values_mut()
            .flat_map(|s| s.addresses.values_mut())
        {
            let Some(serial) = a.serial else { continue };
            if is_newer(newest, serial) {
                if a.behind_since.is_none() {
                    a.behind_since = Some(behind_since_for(publications, serial, at));
                }
            } else {
                a.behind_since = None;
            }
        }
    }

    /// What of this state survives a restart.
    pub fn to_persisted(&self) -> PersistedZone {
        let mut addresses: Vec<PersistedAddress> = self
            .servers
            .iter()
            .flat_map(|(name, s)| {
                s.addresses
                    .iter()
                    .map(move |(addr, a)| persisted_address(name, *addr, a))
            })
            .collect();
        addresses.extend(
            self.pending
                .addresses
                .iter()
                .map(|((name, addr), a)| persisted_address(name, *addr, a)),
        );
        let mut servers: BTreeMap<String, PersistedServer> = self
            .pending
            .propagated
            .iter()
            .map(|(name, s)| {
                (
                    name.clone(),
                    PersistedServer {
                        propagated_serial: Some(*s),
                    },
                )
            })
            .collect();
        for (name, s) in &self.servers {
            servers.insert(
                name.clone(),
                PersistedServer {
                    propagated_serial: s.propagated_serial,
                },
            );
        }
        PersistedZone {
            publications: self.publications.iter().copied().collect(),
            gaps: self.gaps.iter().copied().collect(),
            addresses,
            servers,
        }
    }

    /// Restores persisted state; meant to be called at startup, before the first observation.
    ///
    /// Replaces the publication history (newest serial and its first-seen time) and gaps,
    /// so that observing the same serial again does not reset its age. Address and server
    /// state is applied to registered addresses/servers now and to others when
    /// [`ZoneState::sync_targets`] first adds them.
    pub fn restore(&mut self, p: PersistedZone) {
        let skip = p.publications.len().saturating_sub(MAX_PUBLICATIONS);
        self.publications = p.publications.into_iter().skip(skip).collect();
        let skip = p.gaps.len().saturating_sub(MAX_GAPS);
        self.gaps = p.gaps.into_iter().skip(skip).collect();
        for pa in p.addresses {
            let state = AddressState {
                serial: pa.serial,
                serial_at: pa.serial_at,
                behind_since: pa.behind_since,
                regressions: pa.regressions,
                nsid: None,
                rrsig_expiration: None,
            };
            match self
                .servers
                .get_mut(&pa.server)
                .and_then(|s| s.addresses.get_mut(&pa.addr))
            {
                Some(a) => {
                    a.serial = state.serial;
                    a.serial_at = state.serial_at;
                    a.behind_since = state.behind_since;
                    a.regressions = state.regressions;
                }
                None => {
                    self.pending.addresses.insert((pa.server, pa.addr), state);
                }
            }
        }
        for (name, ps) in p.servers {
            let Some(serial) = ps.propagated_serial else {
                continue;
            };
            match self.servers.get_mut(&name) {
                Some(s) => s.propagated_serial = Some(serial),
                None => {
                    self.pending.propagated.insert(name, serial);
                }
            }
        }
    }
}

fn persisted_address(server: &str, addr: SocketAddr, a: &AddressState) -> PersistedAddress {
    PersistedAddress {
        server: server.to_string(),
        addr,
        serial: a.serial,
        serial_at: a.serial_at,
        behind_since: a.behind_since,
        regressions: a.regressions,
    }
}

/// When the zone first saw the oldest known serial newer than `serial` (the moment an address
/// at `serial` fell behind); `fallback` when no such publication is known.
fn behind_since_for(publications: &VecDeque<Publication>, serial: u32, fallback: UnixMs) -> UnixMs {
    publications
        .iter()
        .find(|p| is_newer(p.serial, serial))
        .map_or(fallback, |p| p.first_seen)
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
