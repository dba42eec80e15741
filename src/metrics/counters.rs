//! Daemon-level metrics that no zone state holds: schedule slip, serial propagation
//! delay, resolution failures, config reloads and build info.
//!
//! Small hand-written counters and histograms behind one mutex: the daemon loop
//! updates them, a scrape copies them ([`DaemonMetrics::snapshot`]) and renders the
//! copy after releasing the mutex.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::families::{PROPAGATION_BUCKETS, SLIP_BUCKETS, STORE_WRITE_BUCKETS};
use crate::UnixMs;

/// A Prometheus histogram with fixed bucket bounds: per-bucket counts, sum, count.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Upper bounds, ascending (the `+Inf` bucket is `count`).
    pub bounds: &'static [f64],
    /// Observations per bucket (not cumulative; larger ones only in `count`).
    pub buckets: Vec<u64>,
    /// Sum of all observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    /// An empty histogram over `bounds`.
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            buckets: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    /// Count one observation.
    pub fn observe(&mut self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|le| v <= *le) {
            self.buckets[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }

    /// `(upper bound, cumulative count)` per bucket.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        self.bounds
            .iter()
            .zip(&self.buckets)
            .scan(0u64, |acc, (le, n)| {
                *acc += n;
                Some((*le, *acc))
            })
    }
}

/// A copy of the daemon-level metrics, taken at scrape time.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonSnapshot {
    /// `nsprobe_schedule_slip_seconds`.
    pub slip: Histogram,
    /// `nsprobe_serial_propagation_seconds`, per (zone, server).
    pub propagation: BTreeMap<(String, String), Histogram>,
    /// `nsprobe_resolve_failures_total`, per nameserver name.
    pub resolve_failures: BTreeMap<String, u64>,
    /// `nsprobe_config_last_reload_successful`.
    pub reload_ok: bool,
    /// `nsprobe_config_last_reload_success_timestamp_seconds` (ms), once a load succeeded.
    pub reload_success_at: Option<UnixMs>,
    /// `nsprobe_store_write_duration_seconds`.
    pub store_write: Histogram,
    /// `nsprobe_store_errors_total`, per operation.
    pub store_errors: BTreeMap<&'static str, u64>,
    /// `nsprobe_store_size_bytes`.
    pub store_size: u64,
    /// `nsprobe_store_pending_records`.
    pub store_pending: u64,
    /// `nsprobe_incidents_open`.
    pub incidents_open: u64,
}

/// The daemon-level metrics (see the module documentation).
#[derive(Debug)]
pub struct DaemonMetrics {
    inner: Mutex<DaemonSnapshot>,
}

impl Default for DaemonMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl DaemonMetrics {
    /// Empty metrics: no reload recorded yet.
    pub fn new() -> Self {
        DaemonMetrics {
            inner: Mutex::new(DaemonSnapshot {
                slip: Histogram::new(SLIP_BUCKETS),
                propagation: BTreeMap::new(),
                resolve_failures: BTreeMap::new(),
                reload_ok: false,
                reload_success_at: None,
                store_write: Histogram::new(STORE_WRITE_BUCKETS),
                store_errors: ["open", "write", "prune", "dropped"]
                    .into_iter()
                    .map(|op| (op, 0))
                    .collect(),
                store_size: 0,
                store_pending: 0,
                incidents_open: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, DaemonSnapshot> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of every value, for rendering outside the mutex.
    pub fn snapshot(&self) -> DaemonSnapshot {
        self.lock().clone()
    }

    /// Record how late a probe started compared with its plan.
    pub fn observe_slip(&self, slip: Duration) {
        self.lock().slip.observe(slip.as_secs_f64());
    }

    /// Record the delay from a zone's first server showing a new serial to `server` showing it.
    pub fn observe_propagation(&self, zone: &str, server: &str, delay_ms: u64) {
        self.lock()
            .propagation
            .entry((zone.to_string(), server.to_string()))
            .or_insert_with(|| Histogram::new(PROPAGATION_BUCKETS))
            .observe(delay_ms as f64 / 1000.0);
    }

    /// Count a failed resolution of a nameserver name.
    pub fn resolve_failure(&self, server: &str) {
        *self
            .lock()
            .resolve_failures
            .entry(server.to_string())
            .or_default() += 1;
    }

    /// Record the outcome of a config (re)load at `now`.
    pub fn set_reload(&self, ok: bool, now: UnixMs) {
        let mut m = self.lock();
        m.reload_ok = ok;
        if ok {
            m.reload_success_at = Some(now);
        }
    }

    /// Record the duration of one store batch write.
    pub fn observe_store_write(&self, took: Duration) {
        self.lock().store_write.observe(took.as_secs_f64());
    }

    /// Count a store failure of `op` (`open`, `write`, `prune`, `dropped`).
    pub fn store_error(&self, op: &'static str) {
        *self.lock().store_errors.entry(op).or_default() += 1;
    }

    /// Set the store's size in bytes.
    pub fn set_store_size(&self, bytes: u64) {
        self.lock().store_size = bytes;
    }

    /// Set the number of records waiting for the store.
    pub fn set_store_pending(&self, n: usize) {
        self.lock().store_pending = n as u64;
    }

    /// Set the number of open incidents.
    pub fn set_incidents_open(&self, n: usize) {
        self.lock().incidents_open = n as u64;
    }

    /// Drop the propagation series of (zone, server) pairs no longer probed (the
    /// per-target series are rendered from state and vanish by themselves).
    pub fn retain_servers(&self, servers: &HashSet<(&str, &str)>) {
        self.lock()
            .propagation
            .retain(|(z, s), _| servers.contains(&(z.as_str(), s.as_str())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_cumulatively() {
        let mut h = Histogram::new(&[1.0, 5.0]);
        h.observe(0.5);
        h.observe(1.0);
        h.observe(3.0);
        h.observe(9.0);
        assert_eq!(h.cumulative().collect::<Vec<_>>(), [(1.0, 2), (5.0, 3)]);
        assert_eq!(h.count, 4);
        assert_eq!(h.sum, 13.5);
    }

    #[test]
    fn propagation_series_of_removed_servers_are_dropped() {
        let m = DaemonMetrics::new();
        m.observe_propagation("dk.", "a", 1500);
        m.observe_propagation("dk.", "b", 500);
        m.retain_servers(&[("dk.", "a")].into_iter().collect());
        let s = m.snapshot();
        assert_eq!(s.propagation.len(), 1);
        assert_eq!(s.propagation[&("dk.".into(), "a".into())].sum, 1.5);
    }
}
