//! The state of one zone: servers, the newest serial and its publications, staleness, lag.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::event::Event;
use super::history::{MinutePoint, ResponseHistory};
use super::persisted::Pending;
use super::server::{AddressState, ServerState};
use super::target::Observation;
use super::target::{TargetKey, TargetState};
use crate::config::Thresholds;
use crate::probe::Answer;
use crate::serial::{distance, is_newer};
use crate::{duration_ms, UnixMs};

/// Number of publication gaps kept for learning the normal publication cadence.
pub const MAX_GAPS: usize = 32;

/// Number of recent publications kept (one more than the gaps between them).
pub const MAX_PUBLICATIONS: usize = MAX_GAPS + 1;
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
/// The state of one zone.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneState {
    pub(super) zone: String,
    pub(super) thresholds: Thresholds,
    pub(super) servers: BTreeMap<String, ServerState>,
    /// Configured nameserver names: kept as servers even while they have no target
    /// (e.g. their name does not resolve), so they still show as components.
    pub(super) declared: BTreeSet<String>,
    pub(super) publications: VecDeque<Publication>,
    pub(super) gaps: VecDeque<u64>,
    pub(super) pending: Pending,
    /// When an address last answered the newest serial (None: not yet known).
    pub(super) newest_served_at: Option<UnixMs>,
    /// Zone-wide rollbacks so far.
    pub(super) rollbacks: u64,
    /// The last zone-wide rollback.
    pub(super) last_rollback: Option<Rollback>,
}

/// A zone-wide rollback: every responding server served an older serial than the zone's
/// newest for `rollback_after`, so the zone re-baselined to the newest serial served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollback {
    /// The newest serial before (no longer served anywhere).
    pub from: u32,
    /// The newest serial served, the zone's newest from now on.
    pub to: u32,
    /// When the zone re-baselined.
    pub at: UnixMs,
    /// How long no address had answered `from` (ms).
    pub unserved_ms: u64,
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
            newest_served_at: None,
            rollbacks: 0,
            last_rollback: None,
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
                Box::new(
                    pending
                        .addresses
                        .remove(&(key.server.clone(), key.addr))
                        .unwrap_or_default(),
                )
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
        self.servers
            .get(&key.server)?
            .targets
            .get(key)
            .map(|t| &**t)
    }

    /// One address of a server.
    pub fn address(&self, server: &str, addr: SocketAddr) -> Option<&AddressState> {
        self.servers.get(server)?.addresses.get(&addr).map(|a| &**a)
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

    /// Per-minute response times of `server` for the `minutes` minutes up to `now` that
    /// its history still holds (the tail the store may not have yet: see
    /// [`super::ResponseHistory`]), oldest first; minutes without probes are omitted. None
    /// for an unknown server.
    pub fn response_times(
        &self,
        server: &str,
        now: UnixMs,
        minutes: usize,
    ) -> Option<Vec<MinutePoint>> {
        Some(self.servers.get(server)?.history.points(now, minutes))
    }

    /// Every server's response-time history, by server name (to send its minutes to the
    /// store and release them).
    pub fn histories_mut(&mut self) -> impl Iterator<Item = (&String, &mut ResponseHistory)> {
        self.servers.iter_mut().map(|(n, s)| (n, &mut s.history))
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
        let rtt = outcome.as_ref().ok().map(|a| a.rtt);
        if let Some(event) = target.record(&key, at, outcome, &self.thresholds) {
            events.push(event);
        }
        let span = duration_ms(self.thresholds.stats_window);
        if target.is_down() {
            server.samples.trim(at, span);
        } else {
            server.samples.push(at, rtt, span);
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
        let mut regressed = false;
        if let Some(prev) = a.serial {
            if is_newer(prev, s) {
                regressed = true;
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
            if regressed && a.behind_since.is_none() {
                // It was up to date until now: it is behind from this answer on.
                a.behind_since = Some(at);
            } else if changed || a.behind_since.is_none() {
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
        if s == newest {
            self.newest_served_at = Some(at);
        }
        self.check_rollback(at, events);
    }

    /// Zone-wide rollback: when no address has answered the newest serial for
    /// `rollback_after` while some have answered (older serials), the zone re-baselines to
    /// the newest serial answered in that time. A server that stopped answering does not
    /// hold the zone back; one that still answers the newest serial does.
    fn check_rollback(&mut self, now: UnixMs, events: &mut Vec<Event>) {
        let Some(from) = self.newest_serial() else {
            return;
        };
        let hold = duration_ms(self.thresholds.rollback_after);
        let last_newest = match self.newest_served_at {
            Some(t) => t,
            // First answer since start (or a restore): the clock starts now.
            None => *self.newest_served_at.insert(now),
        };
        if now.saturating_sub(last_newest) < hold {
            return;
        }
        let horizon = now.saturating_sub(hold);
        let served = self
            .servers
            .values()
            .flat_map(|s| s.addresses.values())
            .filter(|a| a.serial_at.is_some_and(|t| t >= horizon && t > last_newest))
            .filter_map(|a| a.serial)
            .reduce(|x, y| if is_newer(y, x) { y } else { x });
        let Some(to) = served else { return };
        if !is_newer(from, to) {
            return;
        }
        self.publications.clear();
        self.push_publication(Publication {
            serial: to,
            first_seen: now,
            observed: false,
        });
        self.newest_served_at = Some(now);
        for a in self
            .servers
            .values_mut()
            .flat_map(|s| s.addresses.values_mut())
        {
            a.behind_since = None;
        }
        self.refresh_behind(now);
        for server in self.servers.values_mut() {
            server.propagated_serial = server
                .addresses
                .values()
                .filter_map(|a| a.serial)
                .reduce(|x, y| if is_newer(y, x) { y } else { x });
        }
        self.rollbacks = self.rollbacks.saturating_add(1);
        let rollback = Rollback {
            from,
            to,
            at: now,
            unserved_ms: now.saturating_sub(last_newest),
        };
        self.last_rollback = Some(rollback);
        events.push(Event::ZoneRollback(rollback));
    }

    /// Zone-wide rollbacks so far (`nsprobe_zone_serial_rollbacks_total`).
    pub fn rollbacks(&self) -> u64 {
        self.rollbacks
    }

    /// The last zone-wide rollback, if any.
    pub fn last_rollback(&self) -> Option<Rollback> {
        self.last_rollback
    }

    /// When an address last answered the zone's newest serial.
    pub fn newest_served_at(&self) -> Option<UnixMs> {
        self.newest_served_at
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
}

/// When the zone first saw the oldest known serial newer than `serial` (the moment an address
/// at `serial` fell behind); `fallback` when no such publication is known.
fn behind_since_for(publications: &VecDeque<Publication>, serial: u32, fallback: UnixMs) -> UnixMs {
    publications
        .iter()
        .find(|p| is_newer(p.serial, serial))
        .map_or(fallback, |p| p.first_seen)
}
