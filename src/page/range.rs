//! The response-time charts' ranges (`?range=24h|7d|30d`): 24 hours from memory (5-minute
//! points), 7 and 30 days from the store's hour series (1- and 4-hour points).

use super::view::{buckets, ChartPoint};
use crate::store::SeriesPoint;

/// A chart range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChartRange {
    /// The last 24 hours, from the in-memory minutes (the default).
    #[default]
    Day,
    /// The last 7 days, hourly points from the store.
    Week,
    /// The last 30 days, 4-hour points from the store.
    Month,
}

impl ChartRange {
    /// Every range, shortest first.
    pub const ALL: [ChartRange; 3] = [ChartRange::Day, ChartRange::Week, ChartRange::Month];

    /// From the `range` query parameter (`24h`, `7d`, `30d`).
    pub fn parse(s: &str) -> Option<ChartRange> {
        ChartRange::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The query value.
    pub fn as_str(self) -> &'static str {
        match self {
            ChartRange::Day => "24h",
            ChartRange::Week => "7d",
            ChartRange::Month => "30d",
        }
    }

    /// In words, for captions and links.
    pub fn words(self) -> &'static str {
        match self {
            ChartRange::Day => "24 hours",
            ChartRange::Week => "7 days",
            ChartRange::Month => "30 days",
        }
    }

    /// The span shown, ms.
    pub fn span_ms(self) -> u64 {
        match self {
            ChartRange::Day => 86_400_000,
            ChartRange::Week => 7 * 86_400_000,
            ChartRange::Month => 30 * 86_400_000,
        }
    }

    /// One point per this many ms.
    pub fn step_ms(self) -> u64 {
        match self {
            ChartRange::Day => 5 * 60_000,
            ChartRange::Week => 3_600_000,
            ChartRange::Month => 4 * 3_600_000,
        }
    }

    /// The step in words, for the caption.
    pub fn step_words(self) -> &'static str {
        match self {
            ChartRange::Day => "5 minutes",
            ChartRange::Week => "hour",
            ChartRange::Month => "4 hours",
        }
    }

    /// True when the points come from the store.
    pub fn from_store(self) -> bool {
        self != ChartRange::Day
    }
}

/// Store points (hours, oldest first) → one chart point per `step_ms` (aligned), the
/// typical response weighted by successful probes as the store weights hours.
pub fn from_series(points: &[SeriesPoint], step_ms: u64) -> Vec<ChartPoint> {
    let count = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
    buckets(
        points.iter().map(|p| {
            let ok = p.probes.saturating_sub(p.failures).max(1);
            (
                p.start,
                count(p.probes),
                count(p.failures),
                p.typical_ms.map(|t| (t, ok)),
            )
        }),
        step_ms,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hour(h: u64, probes: u64, failures: u64, typical: Option<f64>) -> SeriesPoint {
        SeriesPoint {
            start: h * 3_600_000,
            probes,
            failures,
            min_ms: typical,
            typical_ms: typical,
            p95_ms: typical,
            max_ms: typical,
        }
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(ChartRange::parse("7d"), Some(ChartRange::Week));
        assert_eq!(ChartRange::parse("30d"), Some(ChartRange::Month));
        assert_eq!(ChartRange::parse("24h"), Some(ChartRange::Day));
        assert_eq!(ChartRange::parse("1y"), None);
        // 30 days at 4 hours: 180 points, as light as the 24-hour chart's 288.
        assert_eq!(
            ChartRange::Month.span_ms() / ChartRange::Month.step_ms(),
            180
        );
    }

    #[test]
    fn hours_merge_weighted_by_successful_probes() {
        let pts = [
            hour(3, 10, 0, Some(2.0)),
            hour(4, 40, 20, Some(8.0)),
            hour(5, 5, 5, None),
            hour(9, 10, 0, Some(1.0)),
        ];
        let out = from_series(&pts, 4 * 3_600_000);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].start, 0);
        assert_eq!(out[0].median_ms, Some(2.0));
        // (8 × 20 + 0) / 20: the all-failed hour adds failures, not a median.
        assert_eq!(out[1].start, 4 * 3_600_000);
        assert_eq!(out[1].median_ms, Some(8.0));
        assert_eq!((out[1].probes, out[1].failures), (45, 25));
        assert_eq!(out[2].start, 8 * 3_600_000);
    }
}
