//! Canary reachability: is nsprobe's own network working?
//!
//! Canaries are DNS servers outside the monitored zones. Any DNS answer from a canary, even
//! an error or a non-authoritative one, shows the path to it works; only silence (timeout) or
//! a network error counts against it. Each canary has an up/down latch like a target.

use std::collections::BTreeMap;

use super::target::{Observation, TargetKey};
use crate::probe::FailureKind;
use crate::UnixMs;

/// One canary's reachability.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CanaryState {
    /// None before the first verdict; false after `fail_after` unreachable probes in a row;
    /// true after a reachable one.
    pub up: Option<bool>,
    /// Unreachable probes in a row.
    pub consecutive_failures: u32,
    /// When the last probe completed.
    pub last_at: Option<UnixMs>,
    /// The last unreachable outcome (`timeout`, `network`).
    pub last_error: Option<FailureKind>,
}

/// All canaries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VantageState {
    canaries: BTreeMap<TargetKey, CanaryState>,
}

impl VantageState {
    /// No canaries.
    pub fn new() -> VantageState {
        VantageState::default()
    }

    /// Makes the set of canaries exactly `keys`; kept ones keep their state.
    pub fn sync(&mut self, keys: &[TargetKey]) {
        self.canaries.retain(|k, _| keys.contains(k));
        for k in keys {
            self.canaries.entry(k.clone()).or_default();
        }
    }

    /// The canaries, by key.
    pub fn canaries(&self) -> &BTreeMap<TargetKey, CanaryState> {
        &self.canaries
    }

    /// Applies one canary probe; `fail_after` unreachable probes in a row mark it down.
    /// Returns Some(new latch) when the latch flipped.
    pub fn observe(&mut self, obs: &Observation, fail_after: u32) -> Option<bool> {
        let c = self.canaries.get_mut(&obs.key)?;
        c.last_at = Some(obs.at);
        let reachable = match &obs.outcome {
            Ok(_) => true,
            Err(f) => !matches!(f.kind, FailureKind::Timeout | FailureKind::Network),
        };
        let before = c.up;
        if reachable {
            c.consecutive_failures = 0;
            c.last_error = None;
            c.up = Some(true);
        } else {
            c.consecutive_failures = c.consecutive_failures.saturating_add(1);
            c.last_error = obs.outcome.as_ref().err().map(|f| f.kind);
            if c.consecutive_failures >= fail_after.max(1) {
                c.up = Some(false);
            }
        }
        (c.up != before && before.is_some()).then_some(c.up == Some(true))
    }
}
