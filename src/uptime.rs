//! Uptime: per component and UTC day, the time spent in each status and a weighted
//! uptime percentage. Pure: a function of the confirmed status changes and `now`.
//!
//! Weighting (README, section Uptime), as Statuspage-style pages count it:
//! - `major_outage` counts fully as downtime;
//! - `partial_outage` counts [`PARTIAL_WEIGHT`] (30 %) of its time as downtime;
//! - `degraded_performance` counts as up (the service works, slowly);
//! - `under_maintenance` and time without data (`unknown`, before the first
//!   confirmed status) are excluded from the measured time.
//!
//! `uptime = 100 × (1 − (major + 0.3 × partial) / measured)`, `None` when nothing was
//! measured that day.

use serde::Serialize;

use crate::status::Status;
use crate::UnixMs;

/// One day in milliseconds.
pub const DAY_MS: u64 = 86_400_000;

/// Share of partial-outage time counted as downtime.
pub const PARTIAL_WEIGHT: f64 = 0.3;

/// Seconds spent in each status over a span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StatusSeconds {
    /// `operational`.
    pub operational: f64,
    /// `degraded_performance`.
    pub degraded_performance: f64,
    /// `partial_outage`.
    pub partial_outage: f64,
    /// `major_outage`.
    pub major_outage: f64,
    /// `under_maintenance` (excluded from uptime).
    pub under_maintenance: f64,
    /// `unknown` and time before the first confirmed status (excluded from uptime).
    pub no_data: f64,
}

impl StatusSeconds {
    fn add(&mut self, s: Option<Status>, secs: f64) {
        match s {
            Some(Status::Operational) => self.operational += secs,
            Some(Status::DegradedPerformance) => self.degraded_performance += secs,
            Some(Status::PartialOutage) => self.partial_outage += secs,
            Some(Status::MajorOutage) => self.major_outage += secs,
            Some(Status::UnderMaintenance) => self.under_maintenance += secs,
            Some(Status::Unknown) | None => self.no_data += secs,
        }
    }

    fn merge(&mut self, o: &StatusSeconds) {
        self.operational += o.operational;
        self.degraded_performance += o.degraded_performance;
        self.partial_outage += o.partial_outage;
        self.major_outage += o.major_outage;
        self.under_maintenance += o.under_maintenance;
        self.no_data += o.no_data;
    }

    /// Time that counts for uptime (everything but maintenance and no data).
    pub fn measured(&self) -> f64 {
        self.operational + self.degraded_performance + self.partial_outage + self.major_outage
    }

    /// Weighted uptime percentage (module documentation); `None` when nothing was measured.
    pub fn uptime_percent(&self) -> Option<f64> {
        let measured = self.measured();
        if measured <= 0.0 {
            return None;
        }
        let down = self.major_outage + PARTIAL_WEIGHT * self.partial_outage;
        Some(100.0 * (1.0 - down / measured))
    }

    /// The worst observed status with any time (operational … major outage); `None` when
    /// nothing was measured.
    pub fn worst(&self) -> Option<Status> {
        [
            (self.major_outage, Status::MajorOutage),
            (self.partial_outage, Status::PartialOutage),
            (self.degraded_performance, Status::DegradedPerformance),
            (self.operational, Status::Operational),
        ]
        .into_iter()
        .find(|(t, _)| *t > 0.0)
        .map(|(_, s)| s)
    }
}

/// One UTC day of a component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayUptime {
    /// The day, `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Start of the day (ms since the epoch).
    pub start: UnixMs,
    /// Time in each status (the current day up to `now`).
    pub seconds: StatusSeconds,
    /// Weighted uptime percentage; `None` when nothing was measured.
    pub uptime_percent: Option<f64>,
    /// Worst observed status of the day, for a bar's colour; `None` without data.
    pub worst: Option<Status>,
}

/// Daily figures of one component and the total over them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Uptime {
    /// Oldest first; the last entry is today (up to `now`).
    pub days: Vec<DayUptime>,
    /// Sum over all days.
    pub total: StatusSeconds,
    /// Weighted uptime over all days; `None` when nothing was measured.
    pub total_uptime_percent: Option<f64>,
}

/// Daily uptime for the `days` UTC days ending with today (the day of `now`).
///
/// `before` is the status in force before the first of `changes` (the last change
/// before the window, if any); `changes` are `(at, new status)` in time order. Changes
/// after `now` are ignored.
pub fn daily(
    before: Option<Status>,
    changes: &[(UnixMs, Status)],
    days: u32,
    now: UnixMs,
) -> Uptime {
    let today = now / DAY_MS * DAY_MS;
    let first = today.saturating_sub(u64::from(days.saturating_sub(1)) * DAY_MS);
    let mut out = Vec::with_capacity(days as usize);
    let mut total = StatusSeconds::default();
    let mut current = before;
    let mut i = 0;
    // Changes before the window only set the status in force at its start.
    while i < changes.len() && changes[i].0 <= first {
        current = Some(changes[i].1);
        i += 1;
    }
    let mut day = first;
    while day <= today && days > 0 {
        let end = (day + DAY_MS).min(now.max(day));
        let mut secs = StatusSeconds::default();
        let mut t = day;
        while i < changes.len() && changes[i].0 < end {
            let (at, s) = changes[i];
            secs.add(current, (at.saturating_sub(t)) as f64 / 1000.0);
            t = at.max(t);
            current = Some(s);
            i += 1;
        }
        secs.add(current, end.saturating_sub(t) as f64 / 1000.0);
        total.merge(&secs);
        out.push(DayUptime {
            date: date(day),
            start: day,
            uptime_percent: secs.uptime_percent(),
            worst: secs.worst(),
            seconds: secs,
        });
        day += DAY_MS;
    }
    Uptime {
        days: out,
        total_uptime_percent: total.uptime_percent(),
        total,
    }
}

/// `YYYY-MM-DD` (UTC) of a timestamp.
pub fn date(ms: UnixMs) -> String {
    let s = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
    )
    .to_string();
    s.get(..10).unwrap_or(&s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const D0: UnixMs = 20_000 * DAY_MS; // 2024-10-04 00:00 UTC
    const H: u64 = 3_600_000;

    #[test]
    fn weighting_and_days() {
        // Day 1: operational all day. Day 2: 2 h major, 10 h partial, 1 h maintenance,
        // 1 h degraded, rest operational. Today (day 3): 6 h so far, operational.
        let changes = [
            (D0 + DAY_MS, Status::MajorOutage),
            (D0 + DAY_MS + 2 * H, Status::PartialOutage),
            (D0 + DAY_MS + 12 * H, Status::UnderMaintenance),
            (D0 + DAY_MS + 13 * H, Status::DegradedPerformance),
            (D0 + DAY_MS + 14 * H, Status::Operational),
        ];
        let now = D0 + 2 * DAY_MS + 6 * H;
        let u = daily(Some(Status::Operational), &changes, 3, now);
        assert_eq!(u.days.len(), 3);
        assert_eq!(u.days[0].date, "2024-10-04");
        assert_eq!(u.days[0].uptime_percent, Some(100.0));
        let d = &u.days[1];
        assert_eq!(d.seconds.major_outage, 2.0 * 3600.0);
        assert_eq!(d.seconds.partial_outage, 10.0 * 3600.0);
        assert_eq!(d.seconds.under_maintenance, 3600.0);
        assert_eq!(d.seconds.degraded_performance, 3600.0);
        assert_eq!(d.seconds.operational, 10.0 * 3600.0);
        // measured 23 h, down 2 + 0.3 × 10 = 5 h.
        let want = 100.0 * (1.0 - 5.0 / 23.0);
        assert!((d.uptime_percent.expect("measured") - want).abs() < 1e-9);
        assert_eq!(d.worst, Some(Status::MajorOutage));
        assert_eq!(u.days[2].seconds.operational, 6.0 * 3600.0);
        let total_measured = 24.0 + 23.0 + 6.0;
        let want = 100.0 * (1.0 - 5.0 / total_measured);
        assert!((u.total_uptime_percent.expect("total") - want).abs() < 1e-9);
    }

    #[test]
    fn no_data_before_the_first_status() {
        let now = D0 + 12 * H;
        let u = daily(None, &[(D0 + 6 * H, Status::Operational)], 2, now);
        assert_eq!(u.days[0].uptime_percent, None);
        assert_eq!(u.days[0].worst, None);
        assert_eq!(u.days[0].seconds.no_data, 86_400.0);
        assert_eq!(u.days[1].seconds.no_data, 6.0 * 3600.0);
        assert_eq!(u.days[1].uptime_percent, Some(100.0));
        // Changes before the window set the starting status only.
        let u = daily(None, &[(D0 - 5 * DAY_MS, Status::MajorOutage)], 1, now);
        assert_eq!(u.days[0].seconds.major_outage, 12.0 * 3600.0);
        assert_eq!(u.days[0].uptime_percent, Some(0.0));
    }
}
