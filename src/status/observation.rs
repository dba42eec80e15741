//! What a vantage tells a hub: one record per (component, time) with the status that
//! vantage's own evidence proposes, in a bounded log with a monotonic cursor
//! (`GET /api/v1/observations?after=CURSOR&limit=N`), and the hub's per-vantage latest
//! view built from such records.
//!
//! A record is written when a component's proposed status changes at this vantage, and
//! otherwise every [`HEARTBEAT_MS`] per component, so a hub can tell a quiet vantage from a
//! vanished one. Pure: no I/O, time is an argument.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::freshness::{Freshest, SerialSightings};
use super::Status;
use crate::UnixMs;

/// The version of the observation wire format (`"version": 1` in every response).
pub const WIRE_VERSION: u32 = 1;

/// A component's record is repeated at least this often while nothing changes (or a
/// third of `[vantage] max_age` when that is shorter, see [`heartbeat_ms`]).
pub const HEARTBEAT_MS: u64 = 5_000;

/// The heartbeat for a `max_age` (ms): three heartbeats fit in it, so one lost pull never
/// makes a live vantage stale.
pub fn heartbeat_ms(max_age_ms: u64) -> u64 {
    (max_age_ms / 3).clamp(1, HEARTBEAT_MS)
}

/// Records kept for pulling (the oldest are dropped first; a hub that falls further
/// behind is told with `truncated`).
pub const LOG_CAPACITY: usize = 20_000;

/// Default `limit` of one pull.
pub const DEFAULT_LIMIT: usize = 500;

/// Largest `limit` of one pull: with reasons capped at [`MAX_REASON`] bytes, one response
/// stays under 1 MiB.
pub const MAX_LIMIT: usize = 1_000;

/// Longest reason carried in a record (longer ones are cut at a character boundary).
pub const MAX_REASON: usize = 400;

/// One observation: what vantage `vantage` saw of component (`group`, `component`) at `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservationRecord {
    /// Position in the vantage's log (monotonic, starts at 1).
    pub seq: u64,
    /// The vantage that observed (`[vantage] name`).
    pub vantage: String,
    /// When (Unix ms, the vantage's clock).
    pub at: UnixMs,
    /// The component's group (`DNS (.dk)`).
    pub group: String,
    /// The component (`l.nic.dk`).
    pub component: String,
    /// The status the vantage's own evidence proposes (before confirmation).
    pub status: Status,
    /// Why, as at that vantage.
    pub reason: String,
    /// Median response time at that vantage over the stats window, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Newest SOA serial that vantage saw from the component (nameservers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u32>,
}

/// What a record says before it has a place in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen<'a> {
    /// The component's group.
    pub group: &'a str,
    /// The component.
    pub component: &'a str,
    /// The proposed status.
    pub status: Status,
    /// Why.
    pub reason: &'a str,
    /// Median response time, ms.
    pub rtt_ms: Option<f64>,
    /// Newest serial seen.
    pub serial: Option<u32>,
}

/// One page of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservationPage {
    /// [`WIRE_VERSION`].
    pub version: u32,
    /// The serving vantage's name.
    pub vantage: String,
    /// The serving vantage's location (may be empty).
    pub location: String,
    /// When the serving log began (the process start): a different epoch means a new log
    /// whose `seq` started again at 1, so the puller starts over from `after=0`.
    pub epoch: UnixMs,
    /// The records with `seq > after`, oldest first, at most `limit`.
    pub observations: Vec<ObservationRecord>,
    /// Pass as `after` next time (the last `seq` returned, or `after` when none).
    pub cursor: u64,
    /// More records are waiting after `cursor`.
    pub more: bool,
    /// Records after `after` were dropped before this pull (the hub fell behind or the
    /// vantage restarted); the page starts at the oldest kept record.
    pub truncated: bool,
}

/// A component's last record in the log: its status and when (None before the first).
///
/// Kept by the caller next to the component (a tracker keeps one per member, beside its
/// confirmation), not in the log: [`ObservationLog::due`] is asked for every component
/// on every status tick, and a comparison of two fields costs nothing where a lookup by
/// group and component name read two cold strings per component.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Noted(Option<(Status, UnixMs)>);

/// The bounded log of this vantage's records.
#[derive(Debug, Clone)]
pub struct ObservationLog {
    records: VecDeque<ObservationRecord>,
    next_seq: u64,
    capacity: usize,
    epoch: UnixMs,
    heartbeat_ms: u64,
}

impl Default for ObservationLog {
    fn default() -> Self {
        ObservationLog::with_capacity(LOG_CAPACITY, 0)
    }
}

impl ObservationLog {
    /// An empty log begun at `epoch` keeping at most `capacity` records.
    pub fn with_capacity(capacity: usize, epoch: UnixMs) -> ObservationLog {
        ObservationLog {
            epoch,
            heartbeat_ms: HEARTBEAT_MS,
            records: VecDeque::new(),
            next_seq: 1,
            capacity: capacity.max(1),
        }
    }

    /// Sets the heartbeat (see [`heartbeat_ms`]).
    pub fn set_heartbeat(&mut self, ms: u64) {
        self.heartbeat_ms = ms.max(1);
    }

    /// True when [`ObservationLog::note`] would write a record for a component whose
    /// last record is `noted`, proposing `status` at `now` (so a caller can skip gathering
    /// the record's figures otherwise): its status changed, or its last record is a
    /// heartbeat old, or it has none.
    pub fn due(&self, noted: &Noted, status: Status, now: UnixMs) -> bool {
        match noted.0 {
            Some((last, at)) => last != status || now.saturating_sub(at) >= self.heartbeat_ms,
            None => true,
        }
    }

    /// Records what `vantage` sees of a component at `now` when [`ObservationLog::due`]
    /// (`noted` is the component's last record, updated here); returns the record
    /// written, if any.
    pub fn note(
        &mut self,
        noted: &mut Noted,
        vantage: &str,
        seen: Seen<'_>,
        now: UnixMs,
    ) -> Option<&ObservationRecord> {
        if !self.due(noted, seen.status, now) {
            return None;
        }
        *noted = Noted(Some((seen.status, now)));
        let record = ObservationRecord {
            seq: self.next_seq,
            vantage: vantage.to_string(),
            at: now,
            group: seen.group.to_string(),
            component: seen.component.to_string(),
            status: seen.status,
            reason: cut(seen.reason, MAX_REASON),
            rtt_ms: seen.rtt_ms,
            serial: seen.serial,
        };
        self.next_seq += 1;
        if self.records.len() == self.capacity {
            self.records.pop_front();
        }
        self.records.push_back(record);
        self.records.back()
    }

    /// The newest `seq` written (0 before the first record).
    pub fn head(&self) -> u64 {
        self.next_seq - 1
    }

    /// The records with `seq > after`, at most `limit` (clamped to 1..=[`MAX_LIMIT`]).
    pub fn page(&self, vantage: &str, location: &str, after: u64, limit: usize) -> ObservationPage {
        let limit = limit.clamp(1, MAX_LIMIT);
        let oldest = self.records.front().map_or(self.next_seq, |r| r.seq);
        // A cursor from the future (the vantage restarted and its log began again) is a
        // gap too: start over from the oldest record.
        let truncated =
            (after.saturating_add(1) < oldest && self.head() > after) || after > self.head();
        let from = if after > self.head() { 0 } else { after };
        let start = self.records.partition_point(|r| r.seq <= from);
        let observations: Vec<ObservationRecord> = self
            .records
            .iter()
            .skip(start)
            .take(limit)
            .cloned()
            .collect();
        let cursor = observations.last().map_or(from, |r| r.seq);
        ObservationPage {
            version: WIRE_VERSION,
            vantage: vantage.to_string(),
            location: location.to_string(),
            epoch: self.epoch,
            more: cursor < self.head(),
            observations,
            cursor,
            truncated,
        }
    }
}

/// `s` cut to at most `max` bytes at a character boundary.
fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The newest record of every component, per vantage: what a hub votes with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VantageViews {
    views: BTreeMap<String, BTreeMap<(String, String), ObservationRecord>>,
    sightings: SerialSightings,
}

impl VantageViews {
    /// No vantage yet.
    pub fn new() -> VantageViews {
        VantageViews::default()
    }

    /// Takes a record in: it replaces the vantage's record of that component unless it is
    /// older.
    pub fn ingest(&mut self, record: ObservationRecord) {
        self.sightings.note(&record);
        let per = self.views.entry(record.vantage.clone()).or_default();
        let key = (record.group.clone(), record.component.clone());
        match per.get(&key) {
            Some(old) if old.at > record.at => {}
            _ => {
                per.insert(key, record);
            }
        }
    }

    /// Every vantage's newest record of (`group`, `component`), by vantage name.
    pub fn of(&self, group: &str, component: &str) -> Vec<&ObservationRecord> {
        let key = (group.to_string(), component.to_string());
        self.views
            .values()
            .filter_map(|per| per.get(&key))
            .collect()
    }

    /// The vantages known, with the time of their newest record.
    pub fn vantages(&self) -> Vec<(&str, Option<UnixMs>)> {
        self.views
            .iter()
            .map(|(v, per)| (v.as_str(), per.values().map(|r| r.at).max()))
            .collect()
    }

    /// Forgets the records of components no longer configured (`keep` says which stay).
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        for per in self.views.values_mut() {
            per.retain(|(g, c), _| keep(g, c));
        }
        let views = &self.views;
        self.sightings
            .retain(|g| views.values().any(|per| per.keys().any(|(pg, _)| pg == g)));
    }

    /// The newest serial of zone group `group` across vantages (see
    /// [`SerialSightings::freshest`]).
    pub fn freshest(
        &self,
        group: &str,
        own: Option<(u32, UnixMs)>,
        own_name: &str,
        max_age_ms: u64,
        now: UnixMs,
    ) -> Option<Freshest> {
        self.sightings
            .freshest(group, own, own_name, max_age_ms, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log with each component's [`Noted`] beside it, as the trackers keep them.
    #[derive(Default)]
    struct Log {
        log: ObservationLog,
        noted: BTreeMap<String, Noted>,
    }

    impl Log {
        fn with_capacity(capacity: usize) -> Log {
            Log {
                log: ObservationLog::with_capacity(capacity, 0),
                noted: BTreeMap::new(),
            }
        }

        fn due(&self, component: &str, status: Status, now: UnixMs) -> bool {
            let noted = self.noted.get(component).copied().unwrap_or_default();
            self.log.due(&noted, status, now)
        }

        fn note(
            &mut self,
            vantage: &str,
            seen: Seen<'_>,
            now: UnixMs,
        ) -> Option<&ObservationRecord> {
            let noted = self.noted.entry(seen.component.to_string()).or_default();
            self.log.note(noted, vantage, seen, now)
        }

        fn head(&self) -> u64 {
            self.log.head()
        }

        fn page(&self, vantage: &str, location: &str, after: u64, limit: usize) -> ObservationPage {
            self.log.page(vantage, location, after, limit)
        }
    }

    fn seen(component: &str, status: Status) -> Seen<'_> {
        Seen {
            group: "DNS (.dk)",
            component,
            status,
            reason: "why",
            rtt_ms: Some(1.5),
            serial: Some(7),
        }
    }

    #[test]
    fn records_on_change_and_on_heartbeat_only() {
        let mut log = Log::default();
        assert!(log
            .note("cph-1", seen("a", Status::Operational), 1_000)
            .is_some());
        assert!(log
            .note("cph-1", seen("a", Status::Operational), 2_000)
            .is_none());
        assert!(log
            .note("cph-1", seen("a", Status::MajorOutage), 2_250)
            .is_some());
        assert!(log
            .note(
                "cph-1",
                seen("a", Status::MajorOutage),
                2_250 + HEARTBEAT_MS - 1
            )
            .is_none());
        assert!(log
            .note(
                "cph-1",
                seen("a", Status::MajorOutage),
                2_250 + HEARTBEAT_MS
            )
            .is_some());
        assert!(log
            .note("cph-1", seen("b", Status::Operational), 2_300)
            .is_some());
        assert_eq!(log.head(), 4);
    }

    #[test]
    fn cursor_pages_through_every_record_once() {
        let mut log = Log::default();
        for i in 0..25u64 {
            log.note(
                "cph-1",
                seen(&format!("s{i}"), Status::Operational),
                1_000 + i,
            );
        }
        let mut after = 0;
        let mut got = Vec::new();
        loop {
            let p = log.page("cph-1", "", after, 10);
            assert!(!p.truncated);
            assert!(p.observations.len() <= 10);
            got.extend(p.observations.iter().map(|r| r.seq));
            after = p.cursor;
            if !p.more {
                break;
            }
        }
        assert_eq!(got, (1..=25).collect::<Vec<_>>());
        // Nothing new: an empty page, the cursor stays.
        let p = log.page("cph-1", "", after, 10);
        assert!(p.observations.is_empty());
        assert_eq!(p.cursor, 25);
        assert!(!p.more);
        // Something new: only that.
        log.note("cph-1", seen("new", Status::Operational), 9_000);
        let p = log.page("cph-1", "", after, 10);
        assert_eq!(
            p.observations.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![26]
        );
    }

    #[test]
    fn limit_is_clamped() {
        let mut log = Log::default();
        for i in 0..(MAX_LIMIT as u64 + 50) {
            log.note("v", seen(&format!("s{i}"), Status::Operational), i);
        }
        assert_eq!(
            log.page("v", "", 0, usize::MAX).observations.len(),
            MAX_LIMIT
        );
        assert_eq!(log.page("v", "", 0, 0).observations.len(), 1);
    }

    #[test]
    fn dropped_records_and_restarts_are_reported_as_truncated() {
        let mut log = Log::with_capacity(5);
        for i in 0..12u64 {
            log.note("v", seen(&format!("s{i}"), Status::Operational), i);
        }
        let p = log.page("v", "", 2, 100);
        assert!(p.truncated);
        assert_eq!(p.observations.first().map(|r| r.seq), Some(8));
        assert_eq!(p.cursor, 12);
        // Up to date: no gap.
        assert!(!log.page("v", "", 7, 100).truncated);
        // A cursor past the head (the peer restarted): start over.
        let p = log.page("v", "", 500, 100);
        assert!(p.truncated);
        assert_eq!(p.observations.len(), 5);
    }

    #[test]
    fn long_reasons_are_cut_at_a_char_boundary() {
        let mut log = Log::default();
        let reason = "é".repeat(MAX_REASON);
        let mut s = seen("a", Status::Operational);
        s.reason = &reason;
        let r = log.note("v", s, 0).expect("recorded");
        assert!(r.reason.len() <= MAX_REASON);
        assert!(reason.starts_with(&r.reason));
    }

    #[test]
    fn views_keep_the_newest_record_per_vantage() {
        let mut log = Log::default();
        let old = log
            .note("fra-1", seen("a", Status::MajorOutage), 10)
            .cloned()
            .expect("rec");
        let new = log
            .note("fra-1", seen("a", Status::Operational), 20)
            .cloned()
            .expect("rec");
        let mut views = VantageViews::new();
        views.ingest(new.clone());
        views.ingest(old);
        assert_eq!(views.of("DNS (.dk)", "a"), vec![&new]);
        assert_eq!(views.vantages(), vec![("fra-1", Some(20))]);
    }

    /// `due` says exactly when `note` writes, over a seeded sequence of statuses and times.
    #[test]
    fn due_says_when_note_writes() {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(7);
        let mut log = Log::with_capacity(100);
        log.log.set_heartbeat(5_000);
        let statuses = [
            Status::Operational,
            Status::DegradedPerformance,
            Status::MajorOutage,
        ];
        let names = ["a", "b", "c"];
        let mut now = 1_000;
        let mut written = 0;
        for _ in 0..2_000 {
            now += rng.random_range(0..1_000u64);
            let name = names[rng.random_range(0..names.len())];
            let status = statuses[rng.random_range(0..statuses.len())];
            let due = log.due(name, status, now);
            let wrote = log.note("here", seen(name, status), now).is_some();
            assert_eq!(due, wrote, "{name} {status:?} at {now}");
            written += usize::from(wrote);
        }
        assert!(written > 0 && written < 2_000, "{written}");
    }
}
