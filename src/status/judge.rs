//! The reachability judgements nameservers ([`super::dns`]) and service components
//! ([`super::service`]) share (README.md, section Status rules): targets down → an outage,
//! loss or slowness over the evidence window → degraded performance, and the reason of a
//! maintenance window. Pure functions; each caller words its own samples ([`Wording`]).

use std::time::Duration;

use super::{fmt_ms, Status};
use crate::config::MaintenanceWindow;
use crate::state::WindowStats;

/// The reason of a component in maintenance window `w`: its reason, or "scheduled maintenance".
pub fn maintenance_reason(w: &MaintenanceWindow) -> String {
    if w.reason.is_empty() {
        "scheduled maintenance".to_string()
    } else {
        w.reason.clone()
    }
}

/// The status and reason of a component when `down` (one text per target that is down,
/// naming it and its error) is not empty: all `targets` down → `major_outage` ("all N targets
/// down: …" when there are several), some → `partial_outage`. None when no target is down.
pub fn targets_down(down: &[String], targets: usize) -> Option<(Status, String)> {
    if down.is_empty() {
        return None;
    }
    if down.len() < targets {
        return Some((Status::PartialOutage, down.join("; ")));
    }
    let reason = if down.len() > 1 {
        format!("all {} targets down: {}", down.len(), down.join("; "))
    } else {
        down.join("; ")
    };
    Some((Status::MajorOutage, reason))
}

/// The thresholds of the evidence window of one component.
#[derive(Debug, Clone, Copy)]
pub struct WindowRule {
    /// The window's length in ms (`stats_window`).
    pub span_ms: u64,
    /// Degraded when the lower bound of the loss share is above this (`loss_after`).
    pub loss_after: f64,
    /// Successes needed before slowness is judged (`min_samples`, at least 1).
    pub min_samples: u32,
    /// Degraded when the median response time is above this (`slow_after`).
    pub slow_after: Duration,
}

/// How a component kind words the window judgements.
#[derive(Debug, Clone, Copy)]
pub struct Wording {
    /// What the samples are ("probes", "checks"): "N of M probes failed".
    pub samples: &'static str,
    /// What the successes are ("answers", "checks"): "median … over N answers".
    pub successes: &'static str,
    /// How a median response time is written.
    pub median: fn(Duration) -> String,
    /// How `slow_after` is written.
    pub slow_after: fn(Duration) -> String,
}

/// The degraded-performance reasons of window `w` under `rule`, in order: "lossy: …" when
/// failures exist and the lower bound of the 95 % loss interval is above `loss_after`,
/// "slow: …" when at least `min_samples` successes have a median above `slow_after`.
pub fn window_reasons(w: &WindowStats, rule: &WindowRule, wording: &Wording) -> Vec<String> {
    let mut reasons = Vec::new();
    if w.failures > 0 && w.loss_low > rule.loss_after {
        reasons.push(format!(
            "lossy: {} of {} {} failed in the last {} ({:.0}%, at least {:.0}% at 95% confidence; degraded above {:.0}%)",
            w.failures,
            w.samples,
            wording.samples,
            fmt_ms(rule.span_ms),
            w.loss() * 100.0,
            w.loss_low * 100.0,
            rule.loss_after * 100.0
        ));
    }
    if let Some(median) = w.median_rtt {
        if w.successes >= rule.min_samples.max(1) as usize && median > rule.slow_after {
            reasons.push(format!(
                "slow: median {} over {} {} in the last {} (slow after {})",
                (wording.median)(median),
                w.successes,
                wording.successes,
                fmt_ms(rule.span_ms),
                (wording.slow_after)(rule.slow_after)
            ));
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> String {
        format!("{}ms", d.as_millis())
    }

    const WORDS: Wording = Wording {
        samples: "probes",
        successes: "answers",
        median: ms,
        slow_after: ms,
    };

    #[test]
    fn down_targets() {
        assert_eq!(targets_down(&[], 2), None);
        let one = ["a down".to_string()];
        assert_eq!(
            targets_down(&one, 2),
            Some((Status::PartialOutage, "a down".into()))
        );
        assert_eq!(
            targets_down(&one, 1),
            Some((Status::MajorOutage, "a down".into()))
        );
        let two = ["a down".to_string(), "b down".to_string()];
        assert_eq!(
            targets_down(&two, 2),
            Some((
                Status::MajorOutage,
                "all 2 targets down: a down; b down".into()
            ))
        );
    }

    #[test]
    fn loss_and_slowness() {
        let rule = WindowRule {
            span_ms: 300_000,
            loss_after: 0.2,
            min_samples: 3,
            slow_after: Duration::from_millis(500),
        };
        let mut w = WindowStats {
            samples: 10,
            failures: 0,
            loss_low: 0.0,
            loss_high: 0.3,
            median_rtt: Some(Duration::from_millis(800)),
            successes: 2,
        };
        assert!(
            window_reasons(&w, &rule, &WORDS).is_empty(),
            "too few answers"
        );
        w.successes = 3;
        assert_eq!(
            window_reasons(&w, &rule, &WORDS),
            ["slow: median 800ms over 3 answers in the last 5m (slow after 500ms)"]
        );
        w.failures = 5;
        w.loss_low = 0.21;
        w.median_rtt = Some(Duration::from_millis(500));
        assert_eq!(
            window_reasons(&w, &rule, &WORDS),
            ["lossy: 5 of 10 probes failed in the last 5m (50%, at least 21% at 95% confidence; degraded above 20%)"]
        );
    }
}
