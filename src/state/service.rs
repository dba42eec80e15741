//! Service component state: the pure core for the status page's other components.
//!
//! One [`ServiceState`] per service component (group, name) holds, per check target
//! ([`CheckKey`]: kind + target), the last outcome and facts, an up/down latch with
//! hysteresis, counters by reason and a response-time histogram ([`CheckState`]); and per
//! component the per-minute response-time history and the time-window samples that loss
//! and slowness are judged over (the same [`SampleWindow`] nameservers use).
//! No I/O, no clock: times are arguments.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::history::{ResponseHistory, RttHistogram};
use super::window::SampleWindow;
use crate::config::ServiceThresholds;
use crate::probe::{CertFacts, CheckOutcome, Facts, Kind, Reason};
use crate::UnixMs;

/// One target of a component's check: its kind and what it connects to
/// ([`crate::probe::CheckSpec::target`], e.g. `epp://epp.example.dk@192.0.2.7:700`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CheckKey {
    /// The check kind.
    pub kind: Kind,
    /// What is checked, as shown in logs, the API and the `target` label.
    pub target: String,
}

impl fmt::Display for CheckKey {
    /// `epp epp://…` — kind and target.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.target)
    }
}

/// One completed check, as delivered by the scheduler.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckObservation {
    /// Which target was checked.
    pub key: CheckKey,
    /// When the check completed.
    pub at: UnixMs,
    /// What it returned.
    pub outcome: CheckOutcome,
}

/// The last failure of a check target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckError {
    /// Classified reason (a stable label).
    pub reason: Reason,
    /// Human-readable detail.
    pub detail: String,
    /// When it happened.
    pub at: UnixMs,
}

/// State of one check target.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckState {
    /// When the last result arrived.
    pub last_at: Option<UnixMs>,
    /// Up/down latch: None before the first result (and while the first failures are fewer
    /// than `fail_after`); the first success sets it up; `fail_after` consecutive failures set
    /// it down; `recover_after` consecutive successes bring it back.
    pub up: Option<bool>,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// Successes in a row.
    pub consecutive_successes: u32,
    /// Response time of the last success.
    pub last_rtt: Option<Duration>,
    /// Facts of the last success (HTTP status, EPP svID, certificate…).
    pub last_facts: Option<Facts>,
    /// The last server certificate seen, from a success or a failure (an expired
    /// certificate still shows its expiry).
    pub cert: Option<CertFacts>,
    /// The last failure (it stays after recovery).
    pub last_error: Option<CheckError>,
    /// Checks completed.
    pub checks: u64,
    /// Successful checks.
    pub successes: u64,
    /// Failed checks by reason.
    pub failures_by_reason: BTreeMap<Reason, u64>,
    /// Response times of the successes (`nsprobe_check_duration_seconds`).
    pub rtt_histogram: RttHistogram,
}

/// A check target's latch flipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckEvent {
    /// The target went down (after `fail_after` failures), with the last failure.
    Down {
        /// Which target.
        key: CheckKey,
        /// `3 consecutive failures, last: timeout (…)`.
        reason: String,
    },
    /// The target is up again (after `recover_after` successes).
    Up {
        /// Which target.
        key: CheckKey,
    },
}

impl CheckState {
    /// True when the latch says down.
    pub fn is_down(&self) -> bool {
        self.up == Some(false)
    }

    fn record(
        &mut self,
        key: &CheckKey,
        at: UnixMs,
        outcome: CheckOutcome,
        th: &ServiceThresholds,
    ) -> Option<CheckEvent> {
        self.checks = self.checks.saturating_add(1);
        self.last_at = Some(at);
        match outcome {
            Ok(success) => {
                self.successes = self.successes.saturating_add(1);
                self.consecutive_failures = 0;
                self.consecutive_successes = self.consecutive_successes.saturating_add(1);
                self.last_rtt = Some(success.rtt);
                self.rtt_histogram.observe(success.rtt);
                if let Some(cert) = success.facts.cert() {
                    self.cert = Some(cert.clone());
                }
                self.last_facts = Some(success.facts);
                match self.up {
                    None => self.up = Some(true),
                    Some(false) if self.consecutive_successes >= th.recover_after.max(1) => {
                        self.up = Some(true);
                        return Some(CheckEvent::Up { key: key.clone() });
                    }
                    _ => {}
                }
                None
            }
            Err(failure) => {
                *self.failures_by_reason.entry(failure.reason).or_insert(0) += 1;
                self.consecutive_successes = 0;
                self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                if failure.cert.is_some() {
                    self.cert = failure.cert.clone();
                }
                self.last_error = Some(CheckError {
                    reason: failure.reason,
                    detail: failure.detail.clone(),
                    at,
                });
                if self.up != Some(false) && self.consecutive_failures >= th.fail_after.max(1) {
                    self.up = Some(false);
                    let detail = if failure.detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", failure.detail)
                    };
                    return Some(CheckEvent::Down {
                        key: key.clone(),
                        reason: format!(
                            "{} consecutive failures, last: {}{detail}",
                            self.consecutive_failures, failure.reason
                        ),
                    });
                }
                None
            }
        }
    }

    /// Failed checks in total.
    pub fn failures(&self) -> u64 {
        self.failures_by_reason.values().sum()
    }
}

/// What of a check target survives a restart: its up/down latch and its last failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedCheck {
    /// The check kind.
    pub kind: Kind,
    /// What is checked ([`CheckKey::target`]).
    pub target: String,
    /// The latch ([`CheckState::up`]).
    #[serde(default)]
    pub up: Option<bool>,
    /// Failures in a row.
    #[serde(default)]
    pub consecutive_failures: u32,
    /// Successes in a row.
    #[serde(default)]
    pub consecutive_successes: u32,
    /// When the last result arrived.
    #[serde(default)]
    pub last_at: Option<UnixMs>,
    /// The last failure.
    #[serde(default)]
    pub last_error: Option<CheckError>,
}

/// What of a [`ServiceState`] survives a restart: the latch of every check target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistedService {
    /// One per check target.
    #[serde(default)]
    pub checks: Vec<PersistedCheck>,
}

/// State of one service component.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceState {
    thresholds: ServiceThresholds,
    /// The component's check targets.
    pub checks: BTreeMap<CheckKey, CheckState>,
    /// Restored latches of targets not registered yet (their hosts resolve later).
    pending: BTreeMap<CheckKey, CheckState>,
    /// Per-minute response-time history (every check of the component).
    pub history: ResponseHistory,
    /// Evidence for loss and slowness over `stats_window` (a target that is down is an
    /// outage, not loss: its results are left out).
    pub samples: SampleWindow,
}

impl ServiceState {
    /// A component with no targets yet.
    pub fn new(thresholds: ServiceThresholds) -> ServiceState {
        ServiceState {
            thresholds,
            checks: BTreeMap::new(),
            pending: BTreeMap::new(),
            history: ResponseHistory::default(),
            samples: SampleWindow::new(),
        }
    }

    /// The thresholds in force.
    pub fn thresholds(&self) -> &ServiceThresholds {
        &self.thresholds
    }

    /// Replaces the thresholds (configuration reload).
    pub fn set_thresholds(&mut self, thresholds: ServiceThresholds) {
        self.thresholds = thresholds;
    }

    /// Makes the set of targets equal to `keys`: new ones start empty, removed ones go,
    /// the others keep their state.
    pub fn sync_checks(&mut self, keys: &[CheckKey]) {
        self.checks.retain(|k, _| keys.contains(k));
        for k in keys {
            if !self.checks.contains_key(k) {
                let restored = self.pending.remove(k).unwrap_or_default();
                self.checks.insert(k.clone(), restored);
            }
        }
    }

    /// What survives a restart: each target's latch (restored ones not registered yet
    /// included).
    pub fn to_persisted(&self) -> PersistedService {
        PersistedService {
            checks: self
                .checks
                .iter()
                .chain(&self.pending)
                .map(|(k, c)| PersistedCheck {
                    kind: k.kind,
                    target: k.target.clone(),
                    up: c.up,
                    consecutive_failures: c.consecutive_failures,
                    consecutive_successes: c.consecutive_successes,
                    last_at: c.last_at,
                    last_error: c.last_error.clone(),
                })
                .collect(),
        }
    }

    /// Restores the latches saved before a restart: a target registered later by
    /// [`ServiceState::sync_checks`] starts from its saved latch instead of empty, so a
    /// target that was down is down at its first failed check (not after `fail_after`
    /// new ones) and comes back after `recover_after` successes. Counters start afresh.
    pub fn restore(&mut self, saved: PersistedService) {
        for p in saved.checks {
            let key = CheckKey {
                kind: p.kind,
                target: p.target,
            };
            let state = CheckState {
                up: p.up,
                consecutive_failures: p.consecutive_failures,
                consecutive_successes: p.consecutive_successes,
                last_at: p.last_at,
                last_error: p.last_error,
                ..CheckState::default()
            };
            match self.checks.get_mut(&key) {
                Some(c) if c.checks == 0 => *c = state,
                Some(_) => {}
                None => {
                    self.pending.insert(key, state);
                }
            }
        }
    }

    /// True when no target has completed a check yet.
    pub fn never_checked(&self) -> bool {
        self.checks.values().all(|c| c.checks == 0)
    }

    /// Applies one check result; returns the latch change, if any. Results of targets not
    /// registered by [`ServiceState::sync_checks`] are ignored.
    pub fn observe(&mut self, obs: CheckObservation) -> Option<CheckEvent> {
        let CheckObservation { key, at, outcome } = obs;
        let check = self.checks.get_mut(&key)?;
        let rtt = outcome.as_ref().ok().map(|s| s.rtt);
        self.history.record(at, rtt);
        let event = check.record(&key, at, outcome, &self.thresholds);
        let span = u64::try_from(self.thresholds.stats_window.as_millis()).unwrap_or(u64::MAX);
        if check.is_down() {
            self.samples.trim(at, span);
        } else {
            self.samples.push(at, rtt, span);
        }
        event
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // helpers return whole check outcomes, as the probe does
mod tests {
    use super::*;
    use crate::probe::{tcp::StreamFacts, CheckFailure, Success};

    fn key() -> CheckKey {
        CheckKey {
            kind: Kind::Tcp,
            target: "tcp://127.0.0.1:4343".into(),
        }
    }

    fn ok(ms: u64) -> CheckOutcome {
        Ok(Success {
            rtt: Duration::from_millis(ms),
            facts: Facts::Tcp(StreamFacts {
                connect: Duration::from_millis(ms),
                bytes_read: 0,
                matched: None,
            }),
        })
    }

    fn bad() -> CheckOutcome {
        Err(CheckFailure {
            reason: Reason::Network,
            detail: "refused".into(),
            rtt: None,
            cert: None,
        })
    }

    fn obs(at: UnixMs, outcome: CheckOutcome) -> CheckObservation {
        CheckObservation {
            key: key(),
            at,
            outcome,
        }
    }

    #[test]
    fn latch_has_hysteresis_and_counts_by_reason() {
        let mut s = ServiceState::new(ServiceThresholds::default());
        assert!(s.observe(obs(0, ok(1))).is_none(), "unknown target ignored");
        s.sync_checks(&[key()]);
        assert!(s.never_checked());
        assert!(s.observe(obs(1, ok(1))).is_none());
        assert_eq!(s.checks[&key()].up, Some(true));
        assert!(s.observe(obs(2, bad())).is_none());
        assert!(s.observe(obs(3, bad())).is_none());
        match s.observe(obs(4, bad())) {
            Some(CheckEvent::Down { reason, .. }) => {
                assert!(
                    reason.starts_with("3 consecutive failures, last: network"),
                    "{reason}"
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(
            s.observe(obs(5, ok(1))).is_none(),
            "one success is not enough"
        );
        assert_eq!(
            s.observe(obs(6, ok(1))),
            Some(CheckEvent::Up { key: key() })
        );
        let c = &s.checks[&key()];
        assert_eq!((c.checks, c.successes, c.failures()), (6, 3, 3));
        assert_eq!(c.failures_by_reason[&Reason::Network], 3);
        assert_eq!(c.last_error.as_ref().map(|e| e.at), Some(4));
        // Failures while down are not loss: one failure before the latch fell counts twice
        // (samples at 2 and 3), the one that made it fall is trimmed, not pushed.
        assert_eq!(s.samples.stats(6, 600_000).failures, 2);
        s.sync_checks(&[]);
        assert!(s.checks.is_empty());
    }

    #[test]
    fn restored_latch_applies_when_the_target_is_registered() {
        let mut s = ServiceState::new(ServiceThresholds::default());
        s.sync_checks(&[key()]);
        for t in 1..=3 {
            s.observe(obs(t, bad()));
        }
        assert!(s.checks[&key()].is_down());
        let saved: PersistedService =
            serde_json::from_str(&serde_json::to_string(&s.to_persisted()).unwrap()).unwrap();

        // After a restart the target is registered only once its host resolves.
        let mut r = ServiceState::new(ServiceThresholds::default());
        r.restore(saved);
        assert!(r.checks.is_empty());
        assert_eq!(r.to_persisted().checks.len(), 1, "kept while pending");
        r.sync_checks(&[key()]);
        assert!(r.checks[&key()].is_down());
        assert!(r.never_checked(), "counters start afresh");
        // One more failure: still down (not a new run of fail_after); then recover_after
        // successes bring it back.
        assert!(r.observe(obs(10, bad())).is_none());
        assert!(r.checks[&key()].is_down());
        assert!(r.observe(obs(11, ok(1))).is_none());
        assert_eq!(
            r.observe(obs(12, ok(1))),
            Some(CheckEvent::Up { key: key() })
        );
    }
}
