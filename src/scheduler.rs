//! The scheduler: probes every target every `interval`, spread over the interval.
//!
//! Each target (zone × nameserver × address × transport) gets its own tokio task
//! with its own fixed-rate timer, so one slow or silent target never delays
//! another and the schedule does not drift: ticks are planned at
//! `phase + k × interval`, where the phase is derived from a hash of the target
//! so that targets are spread over the interval (no thundering herd). A probe is
//! bounded by the zone's timeout, which config validation keeps below the
//! interval; a tick missed anyway is skipped, not bunched.
//!
//! Probe tasks run on their own tokio runtime ([`PROBE_WORKERS`] threads named
//! `nsprobe-probe`), not on the daemon's: work that holds a daemon worker thread
//! (building a large `/metrics` body, the daemon loop waiting for the state lock)
//! then neither delays ticks nor inflates measured response times.
//!
//! Results leave as [`Report`]s on an mpsc channel to the single owner of the
//! zone state (see `daemon`). The scheduler holds no zone state itself.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::probe::{self, ProbeSpec};
use crate::state::{Observation, TargetKey};

/// One thing to probe on a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Zone name as configured (fully qualified, e.g. `dk.`).
    pub zone: Arc<str>,
    /// Server, address and transport within the zone.
    pub key: TargetKey,
    /// The probe to run (zone, address, transport, timeout, EDNS flags).
    pub spec: ProbeSpec,
    /// Time between two probes of this target.
    pub interval: Duration,
}

/// One probe result, as sent to the state owner.
#[derive(Debug, Clone)]
pub struct Report {
    /// The zone the target belongs to.
    pub zone: Arc<str>,
    /// What was observed.
    pub observation: Observation,
    /// How late the probe started compared with its planned time.
    pub slip: Duration,
}

/// Identity of a scheduled target: zone plus key.
type TargetId = (Arc<str>, TargetKey);

struct Running {
    target: Target,
    task: JoinHandle<()>,
}

/// Worker threads of the probing runtime.
pub const PROBE_WORKERS: usize = 1;

/// Owns one probing task per target; [`Scheduler::sync`] adds and removes tasks.
pub struct Scheduler {
    reports: mpsc::Sender<Report>,
    running: HashMap<TargetId, Running>,
    /// The probing runtime; `None` only while dropping (or if it could not be built,
    /// in which case tasks run on the caller's runtime).
    runtime: Option<tokio::runtime::Runtime>,
}

impl Scheduler {
    /// A scheduler sending its reports to `reports`.
    pub fn new(reports: mpsc::Sender<Report>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(PROBE_WORKERS)
            .thread_name("nsprobe-probe")
            .enable_all()
            .build()
            .map_err(|e| tracing::warn!(error = %e, "no dedicated probe runtime; probing on the main one"))
            .ok();
        Scheduler {
            reports,
            running: HashMap::new(),
            runtime,
        }
    }

    /// Make the running set equal to `targets`: start new ones, stop removed ones,
    /// restart those whose probe parameters changed, leave unchanged ones alone
    /// (their phase in the schedule is kept).
    pub fn sync(&mut self, targets: Vec<Target>) {
        let mut wanted: HashMap<TargetId, Target> = targets
            .into_iter()
            .map(|t| ((t.zone.clone(), t.key.clone()), t))
            .collect();
        self.running.retain(|id, running| match wanted.get(id) {
            Some(t) if *t == running.target => {
                wanted.remove(id);
                true
            }
            _ => {
                running.task.abort();
                false
            }
        });
        for (id, target) in wanted {
            let fut = run_target(target.clone(), self.reports.clone());
            let task = match &self.runtime {
                Some(rt) => rt.spawn(fut),
                None => tokio::spawn(fut),
            };
            self.running.insert(id, Running { target, task });
        }
    }

    /// Number of targets being probed.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// True when no target is scheduled.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }

    /// Stop every probing task.
    pub fn stop(&mut self) {
        for (_, running) in self.running.drain() {
            running.task.abort();
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.stop();
        if let Some(rt) = self.runtime.take() {
            // Dropping a runtime blocks, which is not allowed inside the daemon's runtime.
            rt.shutdown_background();
        }
    }
}

/// Where in `[0, interval)` this target's ticks fall: a stable hash of its identity.
pub fn phase(zone: &str, key: &TargetKey, interval: Duration) -> Duration {
    let mut h = DefaultHasher::new();
    zone.hash(&mut h);
    key.hash(&mut h);
    let nanos = interval.as_nanos().max(1) as u64;
    Duration::from_nanos(h.finish() % nanos)
}

async fn run_target(target: Target, reports: mpsc::Sender<Report>) {
    let start = Instant::now() + phase(&target.zone, &target.key, target.interval);
    let mut ticker = tokio::time::interval_at(start, target.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        let planned = ticker.tick().await;
        let slip = Instant::now().saturating_duration_since(planned);
        let at = crate::now_ms();
        let outcome = probe::probe(&target.spec).await;
        let report = Report {
            zone: target.zone.clone(),
            observation: Observation {
                key: target.key.clone(),
                at,
                outcome,
            },
            slip,
        };
        if reports.send(report).await.is_err() {
            return; // the state owner is gone: shutting down
        }
    }
}
