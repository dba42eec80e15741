//! A hub's response-time history per vantage: for every (component, vantage) one point
//! per minute of the last 24 hours, built from the observation records (this vantage's
//! own and the peers'), each of which carries the vantage's median response time over
//! its stats window. Bounded: at most [`SERIES_MINUTES`] points per series, at most
//! [`MAX_PER_MINUTE`] values per minute and [`MAX_SERIES`] series. Pure: no I/O, time is
//! the records' own.

use std::collections::{BTreeMap, VecDeque};

use super::observation::ObservationRecord;
use crate::UnixMs;

/// Minutes of history kept per series (24 hours).
pub const SERIES_MINUTES: usize = 1440;

/// Most response-time values a minute's median is taken over (a vantage writes a record
/// per component every few seconds; more in one minute are counted but not kept).
pub const MAX_PER_MINUTE: usize = 64;

/// Most (component, vantage) series kept; records of further ones are ignored.
pub const MAX_SERIES: usize = 8192;

const MINUTE_MS: u64 = 60_000;

/// One minute of one vantage's view of one component.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeriesPoint {
    /// Start of the minute (ms).
    pub start: UnixMs,
    /// Median of the response times (ms) the vantage reported in that minute; None when
    /// its records carried none (nothing answered there).
    pub median_ms: Option<f64>,
    /// Records received for that minute.
    pub records: u32,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Series {
    points: VecDeque<SeriesPoint>,
    /// The values of the newest minute (its median is recomputed on each).
    open: Vec<f64>,
}

impl Series {
    fn ingest(&mut self, at: UnixMs, rtt_ms: Option<f64>) {
        let start = at - at % MINUTE_MS;
        match self.points.back() {
            Some(last) if last.start > start => return, // older than kept: late, dropped
            Some(last) if last.start == start => {}
            _ => {
                self.open.clear();
                self.points.push_back(SeriesPoint {
                    start,
                    median_ms: None,
                    records: 0,
                });
            }
        }
        let span = SERIES_MINUTES as u64 * MINUTE_MS;
        while self
            .points
            .front()
            .is_some_and(|p| p.start.saturating_add(span) <= start)
            || self.points.len() > SERIES_MINUTES
        {
            self.points.pop_front();
        }
        let Some(last) = self.points.back_mut() else {
            return;
        };
        last.records = last.records.saturating_add(1);
        if let Some(v) = rtt_ms.filter(|v| v.is_finite() && *v >= 0.0) {
            if self.open.len() < MAX_PER_MINUTE {
                self.open.push(v);
                last.median_ms = median(&mut self.open.clone());
            }
        }
    }
}

/// The median of `v` (the mean of the middle two when even); None when empty.
fn median(v: &mut [f64]) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// Every (component, vantage) series.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VantageSeries {
    series: BTreeMap<(String, String), BTreeMap<String, Series>>,
    count: usize,
}

impl VantageSeries {
    /// Nothing yet.
    pub fn new() -> VantageSeries {
        VantageSeries::default()
    }

    /// Takes a record's response time in (a record of a series not yet known is ignored
    /// once [`MAX_SERIES`] series exist).
    pub fn ingest(&mut self, r: &ObservationRecord) {
        let key = (r.group.clone(), r.component.clone());
        let full = self.count >= MAX_SERIES;
        let per = match self.series.get_mut(&key) {
            Some(per) => per,
            None if full => return,
            None => self.series.entry(key).or_default(),
        };
        let s = match per.get_mut(&r.vantage) {
            Some(s) => s,
            None if full => return,
            None => {
                self.count += 1;
                per.entry(r.vantage.clone()).or_default()
            }
        };
        s.ingest(r.at, r.rtt_ms);
    }

    /// Each vantage's points of (`group`, `component`) starting in the last `minutes`
    /// before `now`, oldest first, by vantage name; vantages without any are left out.
    pub fn of(
        &self,
        group: &str,
        component: &str,
        now: UnixMs,
        minutes: usize,
    ) -> Vec<(&str, Vec<SeriesPoint>)> {
        let from = now.saturating_sub(minutes as u64 * MINUTE_MS);
        let key = (group.to_string(), component.to_string());
        let Some(per) = self.series.get(&key) else {
            return Vec::new();
        };
        per.iter()
            .map(|(v, s)| {
                let pts: Vec<SeriesPoint> = s
                    .points
                    .iter()
                    .filter(|p| p.start >= from && p.start <= now)
                    .copied()
                    .collect();
                (v.as_str(), pts)
            })
            .filter(|(_, pts)| !pts.is_empty())
            .collect()
    }

    /// Forgets the series of components no longer configured (`keep` says which stay).
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.series.retain(|(g, c), _| keep(g, c));
        self.count = self.series.values().map(BTreeMap::len).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Status;

    fn rec(vantage: &str, at: UnixMs, rtt: Option<f64>) -> ObservationRecord {
        ObservationRecord {
            seq: 1,
            vantage: vantage.to_string(),
            at,
            group: "DNS (.dk)".to_string(),
            component: "a.nic.dk".to_string(),
            status: Status::Operational,
            reason: String::new(),
            rtt_ms: rtt,
            serial: None,
        }
    }

    #[test]
    fn one_point_per_minute_with_the_median() {
        let mut s = VantageSeries::new();
        for (at, v) in [(0, 1.0), (10_000, 9.0), (20_000, 2.0), (60_000, 5.0)] {
            s.ingest(&rec("cph-1", at, Some(v)));
        }
        s.ingest(&rec("fra-1", 30_000, Some(40.0)));
        s.ingest(&rec("fra-1", 70_000, None));
        let got = s.of("DNS (.dk)", "a.nic.dk", 90_000, 60);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "cph-1");
        let cph: Vec<(u64, Option<f64>, u32)> = got[0]
            .1
            .iter()
            .map(|p| (p.start, p.median_ms, p.records))
            .collect();
        assert_eq!(cph, [(0, Some(2.0), 3), (60_000, Some(5.0), 1)]);
        assert_eq!(got[1].0, "fra-1");
        assert_eq!(got[1].1[0].median_ms, Some(40.0));
        assert_eq!(got[1].1[1].median_ms, None, "nothing answered there");
        assert!(s.of("DNS (.dk)", "b.nic.dk", 90_000, 60).is_empty());
    }

    #[test]
    fn bounded_to_a_day_and_late_records_dropped() {
        let mut s = VantageSeries::new();
        for m in 0..(SERIES_MINUTES as u64 + 100) {
            s.ingest(&rec("cph-1", m * MINUTE_MS, Some(1.0)));
        }
        s.ingest(&rec("cph-1", 5 * MINUTE_MS, Some(100.0)));
        let now = (SERIES_MINUTES as u64 + 100) * MINUTE_MS;
        let got = s.of("DNS (.dk)", "a.nic.dk", now, 10 * SERIES_MINUTES);
        let pts = &got[0].1;
        assert_eq!(pts.len(), SERIES_MINUTES);
        assert!(pts.iter().all(|p| p.median_ms == Some(1.0)));
        assert_eq!(pts.first().map(|p| p.start), Some(100 * MINUTE_MS));
    }

    #[test]
    fn values_per_minute_are_capped() {
        let mut s = VantageSeries::new();
        for i in 0..(MAX_PER_MINUTE as u64 + 10) {
            s.ingest(&rec("cph-1", i, Some(if i < 40 { 1.0 } else { 1000.0 })));
        }
        let got = s.of("DNS (.dk)", "a.nic.dk", 1_000, 1);
        assert_eq!(got[0].1[0].records, MAX_PER_MINUTE as u32 + 10);
        assert_eq!(got[0].1[0].median_ms, Some(1.0));
    }

    #[test]
    fn retain_forgets_removed_components() {
        let mut s = VantageSeries::new();
        s.ingest(&rec("cph-1", 0, Some(1.0)));
        s.retain(|_, c| c != "a.nic.dk");
        assert!(s.of("DNS (.dk)", "a.nic.dk", 0, 1).is_empty());
        assert_eq!(s.count, 0);
    }
}
