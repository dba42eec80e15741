//! Evidence over a time window: (at, ok, rtt) samples and robust statistics over them.
//!
//! Generic over what produced the samples: a nameserver feeds the probes of all its targets
//! into one [`SampleWindow`]; a service component can do the same with its checks. Loss is
//! judged with a Wilson score interval (a few lost probes out of many never count as lossy;
//! sustained loss does), slowness with the median of the successes once there are enough.

use std::cell::Cell;
use std::collections::VecDeque;
use std::time::Duration;

use crate::UnixMs;

/// The z value of a two-sided 95 % interval (the Wilson bounds use it).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// Most samples kept, whatever the window span (bounds memory at very short intervals).
pub const MAX_SAMPLES: usize = 20_000;

/// One probe result as evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// When the probe completed.
    pub at: UnixMs,
    /// Response time of a success; None for a failure.
    pub rtt: Option<Duration>,
}

impl Sample {
    /// True for a success.
    pub fn ok(&self) -> bool {
        self.rtt.is_some()
    }
}

/// Samples of the last `span` milliseconds, oldest first.
///
/// Stored packed, 8 bytes a sample ([`Packed`]): at 1 s per target and the default 5 min
/// span a server holds 300 of them, so at 10,000 servers this is one of the daemon's
/// largest structures.
///
/// [`SampleWindow::stats`] is read several times per sample (every status tick, the
/// observation log, the API), so its last result is kept until the window changes or a
/// read's cut-off would include or exclude a different set of samples.
#[derive(Debug, Clone, Default)]
pub struct SampleWindow {
    /// Every stored `at` is `base + Packed::at`.
    base: UnixMs,
    samples: VecDeque<Packed>,
    failures: usize,
    /// Bumped by every change of `samples`.
    generation: u64,
    /// The last [`SampleWindow::stats`] result and the cut-offs it holds for.
    cached: Cell<Option<Cached>>,
}

/// A [`WindowStats`] valid for generation `generation` and every cut-off `oldest` with
/// `after < oldest <= upto` (None: unbounded on that side): no sample's time lies in
/// between, so those cut-offs select the same samples.
#[derive(Debug, Clone, Copy)]
struct Cached {
    generation: u64,
    after: Option<UnixMs>,
    upto: Option<UnixMs>,
    stats: WindowStats,
}

impl PartialEq for SampleWindow {
    /// Equal when they hold the same samples (whatever their base; the cache is not part
    /// of the value).
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.samples().eq(other.samples())
    }
}

impl Eq for SampleWindow {}

/// One stored sample: completion time in ms after the window's base, response time encoded
/// by [`encode_rtt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Packed {
    at: u32,
    rtt: u32,
}

/// Encoded failure.
const FAILED: u32 = u32::MAX;
/// Top bit of an encoded response time: set = microseconds, clear = nanoseconds.
const MICROS: u32 = 1 << 31;

/// A response time in 32 bits: exact to the nanosecond below 2.147 s (top bit clear), in
/// whole microseconds above (top bit set; saturates at about 35 minutes, far beyond any
/// timeout). `None` (a failure) is [`FAILED`].
fn encode_rtt(rtt: Option<Duration>) -> u32 {
    match rtt {
        None => FAILED,
        Some(d) => match u32::try_from(d.as_nanos()) {
            Ok(ns) if ns < MICROS => ns,
            _ => {
                MICROS
                    | u32::try_from(d.as_micros())
                        .unwrap_or(u32::MAX)
                        .min(!MICROS - 1)
            }
        },
    }
}

/// The inverse of [`encode_rtt`].
fn decode_rtt(v: u32) -> Option<Duration> {
    if v == FAILED {
        None
    } else if v & MICROS == 0 {
        Some(Duration::from_nanos(u64::from(v)))
    } else {
        Some(Duration::from_micros(u64::from(v & !MICROS)))
    }
}

/// What a window says at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowStats {
    /// Samples in the window.
    pub samples: usize,
    /// Failures among them.
    pub failures: usize,
    /// Lower bound of the 95 % Wilson interval of the failure share (0 without samples).
    pub loss_low: f64,
    /// Upper bound of the 95 % Wilson interval of the failure share (1 without samples).
    pub loss_high: f64,
    /// Median response time of the successes (None without successes).
    pub median_rtt: Option<Duration>,
    /// Successes the median is taken over.
    pub successes: usize,
}

impl WindowStats {
    /// Observed failure share (0 without samples).
    pub fn loss(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.failures as f64 / self.samples as f64
        }
    }
}

impl SampleWindow {
    /// An empty window.
    pub fn new() -> SampleWindow {
        SampleWindow::default()
    }

    /// Adds a sample (`rtt` None for a failure) and drops samples older than `span_ms`
    /// before `at`. Samples are expected in roughly increasing time order.
    pub fn push(&mut self, at: UnixMs, rtt: Option<Duration>, span_ms: u64) {
        if rtt.is_none() {
            self.failures += 1;
        }
        let at_off = self.offset(at);
        if self.samples.len() == self.samples.capacity() {
            // Grow by a quarter, not double: a full window stays within 25 % of its size.
            let len = self.samples.len();
            self.samples.reserve_exact((len / 4).max(8));
        }
        self.samples.push_back(Packed {
            at: at_off,
            rtt: encode_rtt(rtt),
        });
        self.generation += 1;
        while self.samples.len() > MAX_SAMPLES {
            self.pop();
        }
        self.trim(at, span_ms);
    }

    /// `at` as an offset from `base`, moving `base` (and every stored offset) when `at`
    /// does not fit: an empty window starts at `at`; a sample older than `base` moves it
    /// down; one more than `u32::MAX` ms (49 days) after it moves it up to the oldest
    /// stored sample, dropping samples that are still too old to fit (only a window
    /// spanning more than 49 days could have such).
    fn offset(&mut self, at: UnixMs) -> u32 {
        if self.samples.is_empty() {
            self.base = at;
        }
        if at < self.base {
            let down = self.base - at;
            if self
                .samples
                .iter()
                .all(|p| u64::from(p.at) + down <= u64::from(u32::MAX))
            {
                // Fits: checked above (offsets are >= 0).
                let down = u32::try_from(down).unwrap_or(u32::MAX);
                for p in self.samples.iter_mut() {
                    p.at += down;
                }
                self.base = at;
            } else {
                // Cannot hold both ends: the new sample is clamped to the base.
                return 0;
            }
        }
        if let Ok(off) = u32::try_from(at - self.base) {
            return off;
        }
        // Move the base up to the oldest sample that fits with `at`.
        let lowest = at - u64::from(u32::MAX);
        while self
            .samples
            .front()
            .is_some_and(|p| self.base + u64::from(p.at) < lowest)
        {
            self.pop();
        }
        let new_base = self
            .samples
            .iter()
            .map(|p| self.base + u64::from(p.at))
            .min()
            .unwrap_or(at)
            .max(lowest);
        let up = new_base - self.base;
        for p in self.samples.iter_mut() {
            p.at = u32::try_from((u64::from(p.at)).saturating_sub(up)).unwrap_or(0);
        }
        self.base = new_base;
        u32::try_from(at - self.base).unwrap_or(u32::MAX)
    }

    fn unpack(&self, p: Packed) -> Sample {
        Sample {
            at: self.base + u64::from(p.at),
            rtt: decode_rtt(p.rtt),
        }
    }

    /// Drops samples older than `span_ms` before `now`.
    pub fn trim(&mut self, now: UnixMs, span_ms: u64) {
        let oldest = now.saturating_sub(span_ms);
        while self
            .samples
            .front()
            .is_some_and(|p| self.base + u64::from(p.at) < oldest)
        {
            self.pop();
        }
        // Give memory back once the window is far below what it held (a server gone
        // down, a shorter span after a reload).
        let (len, cap) = (self.samples.len(), self.samples.capacity());
        if cap > 64 && len < cap / 4 {
            self.samples.shrink_to(len + len / 4);
        }
    }

    fn pop(&mut self) {
        if let Some(p) = self.samples.pop_front() {
            self.generation += 1;
            if p.rtt == FAILED {
                self.failures -= 1;
            }
        }
    }

    /// Samples held, oldest first.
    pub fn samples(&self) -> impl Iterator<Item = Sample> + '_ {
        self.samples.iter().map(|p| self.unpack(*p))
    }

    /// Number of samples held.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// True without samples.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Statistics over the samples of the last `span_ms` before `now` (older ones are ignored,
    /// not dropped: this is a read).
    pub fn stats(&self, now: UnixMs, span_ms: u64) -> WindowStats {
        let oldest = now.saturating_sub(span_ms);
        if let Some(c) = self.cached.get() {
            if c.generation == self.generation
                && c.after.is_none_or(|a| a < oldest)
                && c.upto.is_none_or(|u| oldest <= u)
            {
                return c.stats;
            }
        }
        let (stats, after, upto) = self.compute(oldest);
        self.cached.set(Some(Cached {
            generation: self.generation,
            after,
            upto,
            stats,
        }));
        stats
    }

    /// The statistics over the samples at or after `oldest`, with the newest time of a
    /// sample left out and the oldest time of a sample taken (the range of cut-offs that
    /// select the same samples).
    fn compute(&self, oldest: UnixMs) -> (WindowStats, Option<UnixMs>, Option<UnixMs>) {
        let mut n = 0usize;
        let mut failures = 0usize;
        let mut after: Option<UnixMs> = None;
        let mut upto: Option<UnixMs> = None;
        let mut rtts: Vec<Duration> = Vec::with_capacity(self.samples.len());
        for s in self.samples() {
            if s.at < oldest {
                after = Some(after.map_or(s.at, |a| a.max(s.at)));
                continue;
            }
            upto = Some(upto.map_or(s.at, |u| u.min(s.at)));
            n += 1;
            match s.rtt {
                Some(rtt) => rtts.push(rtt),
                None => failures += 1,
            }
        }
        let (loss_low, loss_high) = wilson(failures, n, Z_95);
        let stats = WindowStats {
            samples: n,
            failures,
            loss_low,
            loss_high,
            successes: rtts.len(),
            median_rtt: median(&mut rtts),
        };
        (stats, after, upto)
    }
}

/// The Wilson score interval `(low, high)` for `k` events in `n` trials at `z` (e.g.
/// [`Z_95`]). Without trials the interval is `(0, 1)`: nothing is known.
pub fn wilson(k: usize, n: usize, z: f64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let p = (k as f64 / n).clamp(0.0, 1.0);
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = p + z2 / (2.0 * n);
    let margin = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    let low = if k == 0 {
        0.0
    } else {
        ((centre - margin) / denom).clamp(0.0, 1.0)
    };
    (low, ((centre + margin) / denom).clamp(0.0, 1.0))
}

/// Median of `v` (reorders it); the mean of the two middle values for an even count.
fn median(v: &mut [Duration]) -> Option<Duration> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    // Selection, not a sort: linear time, the same values as sorting and indexing.
    let (below, &mut upper, _) = v.select_nth_unstable(n / 2);
    if n % 2 == 1 {
        Some(upper)
    } else {
        // The lower middle value is the largest of those below the upper one.
        below.iter().max().map(|&lower| (lower + upper) / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn wilson_known_values() {
        // 0 of 10: upper bound about 0.278 (textbook value).
        let (lo, hi) = wilson(0, 10, Z_95);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.2775).abs() < 0.001, "{hi}");
        // 30 of 100: (0.219, 0.396).
        let (lo, hi) = wilson(30, 100, Z_95);
        assert!((lo - 0.2189).abs() < 0.001, "{lo}");
        assert!((hi - 0.3958).abs() < 0.001, "{hi}");
        assert_eq!(wilson(0, 0, Z_95), (0.0, 1.0));
        let (lo, _) = wilson(10, 10, Z_95);
        assert!(lo > 0.69 && lo < 0.73, "{lo}");
    }

    #[test]
    fn window_trims_by_time_and_counts_failures() {
        let mut w = SampleWindow::new();
        for i in 0..10u64 {
            let rtt = if i % 5 == 0 { None } else { Some(MS(10 + i)) };
            w.push(i * 1000, rtt, 5000);
        }
        // Samples at 4000..=9000 remain (6), failures at 5000 only.
        assert_eq!(w.len(), 6);
        let s = w.stats(9000, 5000);
        assert_eq!((s.samples, s.failures, s.successes), (6, 1, 5));
        // Median of 14, 16, 17, 18, 19 ms.
        assert_eq!(s.median_rtt, Some(MS(17)));
        // A read with a shorter span ignores the older ones.
        let s = w.stats(9000, 2000);
        assert_eq!((s.samples, s.failures), (3, 0));
        w.trim(20_000, 5000);
        assert!(w.is_empty());
        assert_eq!(w.stats(20_000, 5000).failures, 0);
    }

    #[test]
    fn response_times_round_trip() {
        let exact = [
            Duration::ZERO,
            Duration::from_nanos(61_234),
            Duration::from_nanos(2_147_483_647),
            Duration::from_millis(1500),
        ];
        for d in exact {
            assert_eq!(decode_rtt(encode_rtt(Some(d))), Some(d));
        }
        // From 2^31 ns on: whole microseconds.
        let d = Duration::from_nanos(2_147_483_648 + 1_999);
        assert_eq!(
            decode_rtt(encode_rtt(Some(d))),
            Some(Duration::from_micros(2_147_484 + 1))
        );
        let d = Duration::from_secs(30) + Duration::from_nanos(7_001);
        assert_eq!(
            decode_rtt(encode_rtt(Some(d))),
            Some(Duration::from_micros(30_000_007))
        );
        // Saturates, never reads as a failure.
        assert!(decode_rtt(encode_rtt(Some(Duration::from_secs(10_000)))).is_some());
        assert_eq!(decode_rtt(encode_rtt(None)), None);
    }

    #[test]
    fn out_of_order_and_far_apart_times_are_kept_exactly() {
        let mut w = SampleWindow::new();
        let t = 1_782_290_341_123u64;
        w.push(t, Some(MS(3)), 60_000);
        w.push(t - 5_000, None, 60_000); // older than the base
        w.push(t + 1, Some(MS(4)), 60_000);
        let got: Vec<Sample> = w.samples().collect();
        assert_eq!(
            got,
            vec![
                Sample {
                    at: t,
                    rtt: Some(MS(3))
                },
                Sample {
                    at: t - 5_000,
                    rtt: None
                },
                Sample {
                    at: t + 1,
                    rtt: Some(MS(4))
                },
            ]
        );
        let s = w.stats(t + 1, 60_000);
        assert_eq!((s.samples, s.failures, s.successes), (3, 1, 2));
        // A span of 35 days: samples 30 days apart, the last one 60 days after the base
        // (beyond u32 ms of it): the base moves up, the kept times stay exact.
        let day = 86_400_000u64;
        let mut w = SampleWindow::new();
        w.push(t, Some(MS(1)), 35 * day);
        w.push(t + 30 * day, Some(MS(2)), 35 * day);
        w.push(t + 60 * day + 7, None, 35 * day);
        let got: Vec<Sample> = w.samples().collect();
        assert_eq!(
            got,
            vec![
                Sample {
                    at: t + 30 * day,
                    rtt: Some(MS(2))
                },
                Sample {
                    at: t + 60 * day + 7,
                    rtt: None
                },
            ]
        );
        // Equality ignores how the times are stored.
        let mut a = SampleWindow::new();
        a.push(t, None, day);
        let mut b = SampleWindow::new();
        b.push(t - 10, Some(MS(1)), day);
        b.push(t, None, day);
        b.trim(t, 5);
        assert_eq!(a, b);
    }

    #[test]
    fn capacity_stays_near_the_size() {
        let mut w = SampleWindow::new();
        for i in 0..10_000u64 {
            w.push(i * 1000, Some(MS(1)), 600_000);
        }
        assert_eq!(w.len(), 601);
        assert!(
            w.samples.capacity() <= 601 + 601 / 4 + 8,
            "{}",
            w.samples.capacity()
        );
        w.trim(10_000_000, 10_000);
        assert!(w.samples.capacity() < 100, "{}", w.samples.capacity());
    }

    /// Seeded random loss: 5 % never has a lower bound above 20 % on windows of 300+ samples,
    /// sustained 30 % always does.
    #[test]
    fn random_loss_is_judged_by_the_interval() {
        for (seed, share, lossy) in [(1u64, 0.05, false), (2, 0.05, false), (3, 0.30, true)] {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut w = SampleWindow::new();
            let span = 300_000;
            for i in 0..3600u64 {
                let at = i * 500; // two samples a second, 30 minutes
                let rtt = if rng.random_bool(share) {
                    None
                } else {
                    Some(MS(1))
                };
                w.push(at, rtt, span);
                if at >= span {
                    let s = w.stats(at, span);
                    assert_eq!(s.loss_low > 0.2, lossy, "seed {seed} at {at}: {s:?}");
                }
            }
        }
    }

    /// The cached statistics are exactly a fresh computation's, over random pushes (out of
    /// order by up to a second, failures, trims) and reads at random times and spans;
    /// the median by selection is the median by sorting.
    #[test]
    fn cached_stats_equal_a_fresh_computation() {
        fn by_sorting(
            w: &SampleWindow,
            now: UnixMs,
            span: u64,
        ) -> (usize, usize, Option<Duration>) {
            let oldest = now.saturating_sub(span);
            let inside: Vec<Sample> = w.samples().filter(|s| s.at >= oldest).collect();
            let mut rtts: Vec<Duration> = inside.iter().filter_map(|s| s.rtt).collect();
            rtts.sort();
            let n = rtts.len();
            let median = match n {
                0 => None,
                _ if n % 2 == 1 => Some(rtts[n / 2]),
                _ => Some((rtts[n / 2 - 1] + rtts[n / 2]) / 2),
            };
            (
                inside.len(),
                inside.iter().filter(|s| !s.ok()).count(),
                median,
            )
        }
        for seed in 0..20u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut w = SampleWindow::new();
            let span = rng.random_range(1_000..20_000u64);
            let mut now = 100_000u64;
            let mut hits = 0;
            for _ in 0..3000 {
                now += rng.random_range(0..400u64);
                match rng.random_range(0..10u32) {
                    0..=3 => {
                        let at = now.saturating_sub(rng.random_range(0..1000u64));
                        let rtt = (!rng.random_bool(0.1)).then(|| MS(rng.random_range(1..50u64)));
                        w.push(at, rtt, span);
                    }
                    4 => w.trim(now, span),
                    _ => {
                        let at = now.saturating_sub(rng.random_range(0..3000u64));
                        let read_span = if rng.random_bool(0.8) {
                            span
                        } else {
                            rng.random_range(0..span * 2)
                        };
                        let was = w.cached.get().map(|c| c.generation);
                        let got = w.stats(at, read_span);
                        hits += usize::from(was == Some(w.generation));
                        let fresh = w.compute(at.saturating_sub(read_span)).0;
                        assert_eq!(got, fresh, "seed {seed} at {at} span {read_span}");
                        let (n, failures, median) = by_sorting(&w, at, read_span);
                        assert_eq!(
                            (got.samples, got.failures, got.median_rtt),
                            (n, failures, median),
                            "seed {seed} at {at} span {read_span}"
                        );
                    }
                }
            }
            assert!(hits > 0, "seed {seed}: the cache was never used");
        }
    }
}
