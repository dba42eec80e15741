//! Per-server response-time history for status-page graphs: the recent tail.
//!
//! Raw response times are kept only for the current (open) minute; when a probe
//! for a later minute arrives, the open minute is summarised (probes, failures,
//! min/median/p95/max of successful response times) and its samples dropped.
//! Closed minutes stay here until the store has them ([`ResponseHistory::release`]:
//! the daemon sends every closed minute to the store and releases those the writer
//! has committed), so in a running daemon the tail is a minute or two long; the
//! 24-hour charts join the store's minute rows with this tail ([`merge_minutes`]).
//! When nothing releases them (no store, or a disk refusing writes) they are kept
//! up to [`HISTORY_MINUTES`] (24 h; packed, about 10 bytes each: `minutes.rs`).

use std::time::Duration;

use serde::Serialize;

use super::minutes::Minutes;
use crate::UnixMs;

/// Length of one history bucket in milliseconds.
pub const MINUTE_MS: u64 = 60_000;

/// Most closed minutes kept per server (24 hours), when the store does not take them.
pub const HISTORY_MINUTES: usize = 1440;

/// One summarised minute (response times in microseconds); stored packed ([`Minutes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bucket {
    /// Minutes since the epoch (32 bits last until the year 10000).
    pub(super) minute: u32,
    pub(super) probes: u32,
    pub(super) failures: u32,
    /// Min/median/p95/max of successful response times (µs); meaningless when no success.
    pub(super) min_us: u32,
    pub(super) median_us: u32,
    pub(super) p95_us: u32,
    pub(super) max_us: u32,
}

impl Bucket {
    fn summarise(minute: u64, probes: u32, failures: u32, samples: &mut [u32]) -> Bucket {
        samples.sort_unstable();
        let (min_us, median_us, p95_us, max_us) = match (samples.first(), samples.last()) {
            (Some(&min), Some(&max)) => (
                min,
                median_sorted(samples).unwrap_or(min),
                p95_sorted(samples).unwrap_or(max),
                max,
            ),
            _ => (0, 0, 0, 0),
        };
        Bucket {
            minute: u32::try_from(minute).unwrap_or(u32::MAX),
            probes,
            failures,
            min_us,
            median_us,
            p95_us,
            max_us,
        }
    }

    fn point(&self) -> MinutePoint {
        let ok = self.probes.saturating_sub(self.failures) > 0;
        let ms = |us: u32| ok.then_some(f64::from(us) / 1000.0);
        MinutePoint {
            start: u64::from(self.minute).saturating_mul(MINUTE_MS),
            probes: self.probes,
            failures: self.failures,
            min_ms: ms(self.min_us),
            median_ms: ms(self.median_us),
            p95_ms: ms(self.p95_us),
            max_ms: ms(self.max_us),
        }
    }
}

/// The open minute: counters plus raw samples (µs) of successful probes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OpenMinute {
    minute: u64,
    probes: u32,
    failures: u32,
    samples_us: Vec<u32>,
}

impl OpenMinute {
    fn new(minute: u64) -> OpenMinute {
        OpenMinute {
            minute,
            probes: 0,
            failures: 0,
            samples_us: Vec::new(),
        }
    }

    fn summary(&self) -> Bucket {
        let mut samples = self.samples_us.clone();
        Bucket::summarise(self.minute, self.probes, self.failures, &mut samples)
    }
}

/// One minute of a server's response-time graph, as served to status pages.
///
/// Response times are in milliseconds and cover successful probes only; they are
/// `None` when every probe of the minute failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MinutePoint {
    /// Start of the minute (ms since the epoch).
    pub start: UnixMs,
    /// Probes (all targets of the server) completed in this minute.
    pub probes: u32,
    /// Failed probes in this minute.
    pub failures: u32,
    /// Fastest successful response (ms).
    pub min_ms: Option<f64>,
    /// Median successful response (ms; mean of the two middle samples for an even count).
    pub median_ms: Option<f64>,
    /// 95th percentile successful response (ms, nearest-rank).
    pub p95_ms: Option<f64>,
    /// Slowest successful response (ms).
    pub max_ms: Option<f64>,
}

/// A server's per-minute response-time history: the minutes the store may not have yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseHistory {
    closed: Minutes,
    open: Option<OpenMinute>,
}

impl ResponseHistory {
    /// Records one probe completed at `at`: `rtt` is `Some` for a success, `None` for a failure.
    ///
    /// A probe for a minute earlier than the open one (out-of-order delivery) is
    /// counted in the open minute.
    pub fn record(&mut self, at: UnixMs, rtt: Option<Duration>) {
        let minute = at / MINUTE_MS;
        let needs_new = match &self.open {
            Some(open) => open.minute < minute,
            None => true,
        };
        if needs_new {
            if let Some(open) = self.open.take() {
                self.closed.push(&open.summary());
            }
            self.open = Some(OpenMinute::new(minute));
            self.evict(minute);
        }
        if let Some(open) = self.open.as_mut() {
            open.probes = open.probes.saturating_add(1);
            match rtt {
                Some(rtt) => {
                    let us = u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX);
                    open.samples_us.push(us);
                }
                None => open.failures = open.failures.saturating_add(1),
            }
        }
    }

    /// Drops closed minutes that fall out of the 24 h range ending at `minute`, and
    /// keeps at most [`HISTORY_MINUTES`] of them.
    fn evict(&mut self, minute: u64) {
        let horizon = minute.saturating_sub(HISTORY_MINUTES as u64);
        while let Some(front) = self.closed.first_minute() {
            if front < horizon || self.closed.len() > HISTORY_MINUTES {
                self.closed.pop_front();
            } else {
                break;
            }
        }
    }

    /// Number of closed (summarised) minutes currently stored (at most [`HISTORY_MINUTES`]).
    pub fn closed_minutes(&self) -> usize {
        self.closed.len()
    }

    /// Drops the closed minutes before `minute` (minutes since the epoch): the store has
    /// them. The open minute is kept.
    pub fn release(&mut self, minute: u64) {
        while self.closed.first_minute().is_some_and(|m| m < minute) {
            self.closed.pop_front();
        }
    }

    /// Points of the minutes in `[from, before)` (minutes since the epoch), oldest first,
    /// the open minute included (as of now) if in range: what the daemon sends to the
    /// store once `before` has begun.
    pub fn points_between(&self, from: u64, before: u64) -> Vec<MinutePoint> {
        let in_range = |m: u64| m >= from && m < before;
        let mut points: Vec<MinutePoint> = self
            .closed
            .iter()
            .filter(|b| in_range(u64::from(b.minute)))
            .map(|b| b.point())
            .collect();
        if let Some(open) = self.open.as_ref().filter(|o| in_range(o.minute)) {
            points.push(open.summary().point());
        }
        points
    }

    /// Points for the `minutes` minutes ending with the minute containing `now` (inclusive),
    /// oldest first. Minutes without any probe are omitted. The open minute is included,
    /// summarised as of now. `minutes` is capped at [`HISTORY_MINUTES`].
    pub fn points(&self, now: UnixMs, minutes: usize) -> Vec<MinutePoint> {
        let minutes = minutes.min(HISTORY_MINUTES) as u64;
        if minutes == 0 {
            return Vec::new();
        }
        let last = now / MINUTE_MS;
        self.points_between((last + 1).saturating_sub(minutes), last + 1)
    }
}

/// The first minute (ms since the epoch) of the `minutes` minutes ending with the minute
/// containing `now`, as [`ResponseHistory::points`] counts them (`minutes` capped at
/// [`HISTORY_MINUTES`]): the start of the store query that joins a history's tail.
pub fn window_start(now: UnixMs, minutes: usize) -> UnixMs {
    let minutes = minutes.clamp(1, HISTORY_MINUTES) as u64;
    ((now / MINUTE_MS + 1).saturating_sub(minutes)) * MINUTE_MS
}

/// Joins minute points read from the store with a history's tail ([`ResponseHistory::points`]
/// over the same window), both oldest first: every minute once, oldest first; a minute
/// in both is taken from the tail (the open minute, or one the store may hold an earlier
/// summary of).
pub fn merge_minutes(stored: Vec<MinutePoint>, tail: Vec<MinutePoint>) -> Vec<MinutePoint> {
    let Some(tail_first) = tail.first().map(|p| p.start) else {
        return stored;
    };
    let mut out: Vec<MinutePoint> = Vec::with_capacity(stored.len() + tail.len());
    let mut tail = tail.into_iter().peekable();
    for p in stored {
        if p.start >= tail_first {
            while let Some(t) = tail.next_if(|t| t.start <= p.start) {
                out.push(t);
            }
            if out.last().is_some_and(|t| t.start == p.start) {
                continue;
            }
        }
        out.push(p);
    }
    out.extend(tail);
    out
}

/// Median of a sorted slice (mean of the two middle values for an even length).
pub(crate) fn median_sorted(sorted: &[u32]) -> Option<u32> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    if n % 2 == 1 {
        sorted.get(n / 2).copied()
    } else {
        let a = u64::from(*sorted.get(n / 2 - 1)?);
        let b = u64::from(*sorted.get(n / 2)?);
        u32::try_from((a + b) / 2).ok()
    }
}

/// 95th percentile of a sorted slice by the nearest-rank method.
pub(crate) fn p95_sorted(sorted: &[u32]) -> Option<u32> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    // rank = ceil(0.95 * n), 1-based.
    let rank = (95 * n).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixMs = 1_782_290_341_000 - 1_782_290_341_000 % MINUTE_MS;

    fn ms(v: u64) -> Option<Duration> {
        Some(Duration::from_millis(v))
    }

    #[test]
    fn median_and_p95() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(median_sorted(&v), Some(50));
        assert_eq!(p95_sorted(&v), Some(95));
        assert_eq!(median_sorted(&[3]), Some(3));
        assert_eq!(p95_sorted(&[3]), Some(3));
        assert_eq!(median_sorted(&[1, 2, 9]), Some(2));
        assert_eq!(median_sorted(&[]), None);
        assert_eq!(p95_sorted(&[]), None);
        let twenty: Vec<u32> = (1..=20).collect();
        assert_eq!(p95_sorted(&twenty), Some(19));
    }

    #[test]
    fn minute_buckets_summarise() {
        let mut h = ResponseHistory::default();
        // Minute 0: 100 successes of 1..=100 ms (shuffled order) and 2 failures.
        for i in 0..100u64 {
            let v = (i * 37) % 100 + 1;
            h.record(T0 + i * 100, ms(v));
        }
        h.record(T0 + 59_000, None);
        h.record(T0 + 59_500, None);
        // Minute 2 (minute 1 has no probes): one success.
        h.record(T0 + 2 * MINUTE_MS + 10, ms(7));
        assert_eq!(h.closed_minutes(), 1);
        let pts = h.points(T0 + 2 * MINUTE_MS + 20_000, 10);
        assert_eq!(pts.len(), 2, "empty minute omitted: {pts:?}");
        let p = &pts[0];
        assert_eq!(p.start, T0);
        assert_eq!(p.probes, 102);
        assert_eq!(p.failures, 2);
        assert_eq!(p.min_ms, Some(1.0));
        assert_eq!(p.median_ms, Some(50.5));
        assert_eq!(p.p95_ms, Some(95.0));
        assert_eq!(p.max_ms, Some(100.0));
        // The open minute is included, summarised on the fly.
        let q = &pts[1];
        assert_eq!(q.start, T0 + 2 * MINUTE_MS);
        assert_eq!((q.probes, q.failures), (1, 0));
        assert_eq!(q.median_ms, Some(7.0));
        // Window limits: only the current minute.
        let last = h.points(T0 + 2 * MINUTE_MS + 20_000, 1);
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].start, T0 + 2 * MINUTE_MS);
    }

    #[test]
    fn all_failed_minute_has_no_times() {
        let mut h = ResponseHistory::default();
        h.record(T0, None);
        let pts = h.points(T0, 5);
        assert_eq!(pts.len(), 1);
        assert_eq!(pts[0].failures, 1);
        assert_eq!(pts[0].median_ms, None);
        assert_eq!(pts[0].max_ms, None);
    }

    #[test]
    fn bounded_to_a_day() {
        let mut h = ResponseHistory::default();
        for m in 0..3000u64 {
            h.record(T0 + m * MINUTE_MS, ms(m % 50 + 1));
            h.record(T0 + m * MINUTE_MS + 1, ms(m % 50 + 1));
        }
        assert!(h.closed_minutes() <= HISTORY_MINUTES);
        let now = T0 + 2999 * MINUTE_MS;
        let pts = h.points(now, 100_000);
        assert_eq!(pts.len(), HISTORY_MINUTES);
        assert_eq!(pts[0].start, T0 + (2999 - 1439) * MINUTE_MS);
        assert!(pts.windows(2).all(|w| w[0].start < w[1].start));
        // A gap of more than a day drops everything old.
        h.record(now + 2000 * MINUTE_MS, ms(1));
        assert_eq!(h.closed_minutes(), 0);
        assert_eq!(h.points(now + 2000 * MINUTE_MS, 1440).len(), 1);
    }

    #[test]
    fn release_keeps_the_open_minute_and_later_closed_ones() {
        let mut h = ResponseHistory::default();
        for m in 0..5u64 {
            h.record(T0 + m * MINUTE_MS, ms(m + 1));
        }
        let m0 = T0 / MINUTE_MS;
        assert_eq!(h.closed_minutes(), 4);
        h.release(m0 + 2);
        assert_eq!(h.closed_minutes(), 2);
        let starts: Vec<u64> = h
            .points(T0 + 4 * MINUTE_MS, 60)
            .iter()
            .map(|p| p.start)
            .collect();
        assert_eq!(starts, [2, 3, 4].map(|k| T0 + k * MINUTE_MS));
        // Releasing past the open minute drops every closed one, never the open one.
        h.release(m0 + 100);
        assert_eq!(h.closed_minutes(), 0);
        assert_eq!(h.points(T0 + 4 * MINUTE_MS, 60).len(), 1);
        // points_between: closed and open minutes of the half-open range.
        h.record(T0 + 5 * MINUTE_MS, ms(9));
        let b = h.points_between(m0 + 4, m0 + 5);
        assert_eq!(b.len(), 1);
        assert_eq!((b[0].start, b[0].max_ms), (T0 + 4 * MINUTE_MS, Some(5.0)));
        let open = h.points_between(m0 + 5, m0 + 6);
        assert_eq!(
            (open[0].start, open[0].max_ms),
            (T0 + 5 * MINUTE_MS, Some(9.0))
        );
        assert!(h.points_between(m0 + 6, m0 + 9).is_empty());
    }

    #[test]
    fn merge_takes_each_minute_once_and_the_tail_first() {
        let p = |m: u64, probes: u32| MinutePoint {
            start: T0 + m * MINUTE_MS,
            probes,
            failures: 0,
            min_ms: None,
            median_ms: None,
            p95_ms: None,
            max_ms: None,
        };
        let stored = vec![p(0, 1), p(1, 1), p(3, 1), p(4, 1)];
        let tail = vec![p(3, 2), p(5, 2), p(6, 2)];
        let got: Vec<(u64, u32)> = merge_minutes(stored.clone(), tail)
            .iter()
            .map(|q| ((q.start - T0) / MINUTE_MS, q.probes))
            .collect();
        assert_eq!(got, [(0, 1), (1, 1), (3, 2), (4, 1), (5, 2), (6, 2)]);
        assert_eq!(merge_minutes(stored.clone(), Vec::new()), stored);
        assert_eq!(merge_minutes(Vec::new(), stored.clone()), stored);
        // A tail older than every stored minute goes first.
        let got: Vec<u64> = merge_minutes(vec![p(4, 1)], vec![p(1, 2), p(2, 2)])
            .iter()
            .map(|q| (q.start - T0) / MINUTE_MS)
            .collect();
        assert_eq!(got, [1, 2, 4]);
    }

    #[test]
    fn window_start_matches_points() {
        let mut h = ResponseHistory::default();
        for m in 0..100u64 {
            h.record(T0 + m * MINUTE_MS, ms(1));
        }
        let now = T0 + 99 * MINUTE_MS + 30_000;
        for minutes in [1usize, 7, 60, 100, 5000] {
            let pts = h.points(now, minutes);
            let first = window_start(now, minutes);
            assert!(pts.iter().all(|p| p.start >= first));
            assert_eq!(pts.len(), minutes.min(100), "{minutes}");
            if minutes < 100 {
                assert_eq!(pts[0].start, first);
            }
        }
    }

    #[test]
    fn late_sample_counts_in_open_minute() {
        let mut h = ResponseHistory::default();
        h.record(T0 + MINUTE_MS, ms(5));
        h.record(T0 + 59_999, ms(9));
        let pts = h.points(T0 + MINUTE_MS, 5);
        assert_eq!(pts.len(), 1);
        assert_eq!(pts[0].probes, 2);
        assert_eq!(pts[0].max_ms, Some(9.0));
    }
}

/// Upper bounds (seconds) of the response-time histogram buckets: 100 µs … 5 s,
/// suited to DNS (loopback answers in ~0.1 ms, far servers in tens of ms, timeouts
/// in seconds). Exported as `nsprobe_probe_duration_seconds`.
pub const RTT_BUCKETS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Response-time histogram of one target's successful probes since the daemon started
/// (a Prometheus histogram: cumulative counts per bucket, sum and count).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RttHistogram {
    /// Observations per bucket of [`RTT_BUCKETS`] (not cumulative; larger ones only in `count`).
    pub buckets: [u64; RTT_BUCKETS.len()],
    /// Sum of all observations, in seconds.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl RttHistogram {
    /// Count one response time.
    pub fn observe(&mut self, rtt: Duration) {
        let secs = rtt.as_secs_f64();
        if let Some(i) = RTT_BUCKETS.iter().position(|le| secs <= *le) {
            self.buckets[i] += 1;
        }
        self.sum += secs;
        self.count += 1;
    }

    /// `(upper bound, cumulative count)` per bucket, as Prometheus exposes them
    /// (the `+Inf` bucket is `count`).
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        RTT_BUCKETS
            .iter()
            .zip(self.buckets.iter())
            .scan(0u64, |acc, (le, n)| {
                *acc += n;
                Some((*le, *acc))
            })
    }
}

#[cfg(test)]
mod rtt_tests {
    use super::*;

    #[test]
    fn histogram_counts_cumulatively_and_keeps_overflow_in_count() {
        let mut h = RttHistogram::default();
        h.observe(Duration::from_micros(100)); // on the first bound: le="0.0001"
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(30));
        h.observe(Duration::from_secs(6)); // above every bound: only +Inf
        let c: Vec<(f64, u64)> = h.cumulative().collect();
        assert_eq!(c[0], (0.0001, 1));
        assert_eq!(c[1], (0.00025, 1));
        assert_eq!(c[2], (0.0005, 2));
        assert_eq!(c[7], (0.025, 2));
        assert_eq!(c[8], (0.05, 3));
        assert_eq!(c[14], (5.0, 3));
        assert_eq!(h.count, 4);
        assert!((h.sum - 6.0304).abs() < 1e-9);
    }
}
