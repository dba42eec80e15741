//! One probed target: its key, one completed probe ([`Observation`]), and its state
//! (last outcome, up/down latch with hysteresis, recent window, counters).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::event::Event;
use super::history::{self, RttHistogram};
use crate::config::Thresholds;
use crate::probe::{Failure, FailureKind, Outcome, Transport};
use crate::UnixMs;

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
    pub(super) fn record(
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
