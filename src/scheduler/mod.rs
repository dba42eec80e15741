//! The scheduler: probes every target every `interval`, spread over the interval.
//!
//! Each target (zone × nameserver × address × transport, or service component × check ×
//! address) gets its own tokio task
//! with its own fixed-rate timer, so one slow or silent target never delays
//! another and the schedule does not drift: ticks are planned at
//! `phase + k × interval`, where the phase is derived from a hash of the target
//! so that targets are spread over the interval (no thundering herd), and each is moved
//! to the next boundary of the tick grid ([`grid_for`]), so that targets due in the same
//! slot share one wake-up of the probe thread. A probe is
//! bounded by the zone's timeout, which config validation keeps below the
//! interval; a tick missed anyway is skipped, not bunched.
//!
//! Probe tasks run on their own single-threaded tokio runtime (one thread named
//! `nsprobe-probe`), not on the daemon's: work that holds a daemon worker thread
//! (building a large `/metrics` body, the daemon loop waiting for the state lock)
//! then neither delays ticks nor inflates measured response times.
//!
//! Nameserver targets over UDP, the bulk of the probes, are the exception: one task,
//! the driver (`driver.rs`), runs all of them on the same schedule, with no task, timer
//! or inbox per probe. The other targets (DNS over TCP, service checks) keep a task each.
//!
//! Results leave as [`Report`]s on an mpsc channel to the single owner of the
//! zone and service state (see `daemon`). The scheduler holds no zone state itself.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::probe::{self, CheckSpec};
use crate::state::{CheckKey, CheckObservation, Observation, TargetKey};

mod driver;

/// Who a target belongs to, and so where its results go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TargetId {
    /// A nameserver target of a zone (or a vantage canary: the targets module's `CANARY_ZONE`).
    Dns {
        /// Zone name as configured (fully qualified, e.g. `dk.`).
        zone: Arc<str>,
        /// Server, address and transport within the zone.
        key: TargetKey,
    },
    /// One target of a service component's check.
    Check {
        /// The component's group.
        group: Arc<str>,
        /// The component's name.
        component: Arc<str>,
        /// Kind and target within the component.
        key: CheckKey,
    },
}

/// One thing to probe on a schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Who the results go to.
    pub id: TargetId,
    /// The check to run. A `Dns` target carries a [`CheckSpec::DnsSoa`], run through the SOA
    /// probe directly (the probe's own timeout bounds it; no conversion per probe).
    pub spec: CheckSpec,
    /// Time between two probes of this target.
    pub interval: Duration,
    /// Deadline of one check (for `Dns` targets the probe spec's timeout applies).
    pub timeout: Duration,
    /// Local address the check's connections leave from (`[vantage] source_address`;
    /// `Dns` targets carry it in their probe spec).
    pub source: Option<IpAddr>,
}

/// What one probe or check produced.
#[derive(Debug, Clone)]
pub enum Probed {
    /// A nameserver (or canary) probe.
    Dns {
        /// The zone the target belongs to.
        zone: Arc<str>,
        /// What was observed.
        observation: Observation,
    },
    /// A service component's check.
    Check {
        /// The component's group.
        group: Arc<str>,
        /// The component's name.
        component: Arc<str>,
        /// What was observed.
        observation: CheckObservation,
    },
}

/// One probe result, as sent to the state owner.
#[derive(Debug, Clone)]
pub struct Report {
    /// What was observed, and for whom.
    pub probed: Probed,
    /// How late the probe started compared with its planned time.
    pub slip: Duration,
}

struct Running {
    target: Target,
    /// The target's own task; None for one run by the driver.
    task: Option<JoinHandle<()>>,
}

/// The probing runtime: a current-thread tokio runtime driven by its own thread.
///
/// One thread, not a one-worker multi-thread runtime: every timer and socket wake-up
/// schedules locally (no inject queue, no idle-worker bookkeeping on each park).
struct ProbeRuntime {
    handle: tokio::runtime::Handle,
    /// Dropping it stops the thread.
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl ProbeRuntime {
    fn start() -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .thread_name("nsprobe-probe")
            // Probing runs above the readers, and above the process where allowed
            // (see `priority`); the same for the runtime's blocking threads.
            .on_thread_start(|| {
                crate::priority::raise_probing_thread();
            })
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("nsprobe-probe".into())
            .spawn(move || {
                crate::priority::raise_probing_thread();
                let _ = rt.block_on(stopped);
                rt.shutdown_background();
            })?;
        Ok(ProbeRuntime {
            handle,
            _stop: stop,
        })
    }
}

/// Owns one probing task per target; [`Scheduler::sync`] adds and removes tasks.
pub struct Scheduler {
    reports: mpsc::Sender<Report>,
    running: HashMap<TargetId, Running>,
    /// The probing runtime's handle and the sender that stops its thread; `None` if it
    /// could not be started (tasks then run on the caller's runtime).
    runtime: Option<ProbeRuntime>,
    /// The driver of the UDP nameserver targets, started with the first of them (and again
    /// after [`Scheduler::stop`]).
    driver: Option<driver::Driver>,
    /// Every target's ticks are `epoch + phase + k × interval`, so targets in the same
    /// grid slot wake together whenever they were started.
    epoch: Instant,
    /// The tick grid's slot length for the current targets ([`grid_for`]).
    grid: Duration,
}

impl Scheduler {
    /// A scheduler sending its reports to `reports`.
    pub fn new(reports: mpsc::Sender<Report>) -> Self {
        // tokio's timer counts whole milliseconds from the moment its runtime is built and
        // rounds every deadline up to the next one: with the epoch taken after the build,
        // every tick (epoch + whole milliseconds) fell just after a timer tick and fired up
        // to 1 ms late. Taken just before, ticks fall on (or a few µs before) timer ticks.
        let epoch = Instant::now();
        let runtime = ProbeRuntime::start()
            .map_err(|e| tracing::warn!(error = %e, "no dedicated probe runtime; probing on the main one"))
            .ok();
        Scheduler {
            reports,
            running: HashMap::new(),
            runtime,
            driver: None,
            epoch,
            grid: TICK_GRID,
        }
    }

    /// Make the running set equal to `targets`: start new ones, stop removed ones,
    /// restart those whose probe parameters changed, leave unchanged ones alone
    /// (their phase in the schedule is kept).
    ///
    /// When the targets call for another grid ([`grid_for`]), every target restarts on it
    /// (a phase on the old grid would wake the probe thread off the new one).
    pub fn sync(&mut self, targets: Vec<Target>) {
        let grid = grid_for(&targets);
        if grid != self.grid {
            if !self.running.is_empty() {
                tracing::info!(
                    grid_ms = grid.as_millis() as u64,
                    previous_ms = self.grid.as_millis() as u64,
                    targets = targets.len(),
                    "probe tick grid changed; restarting every target on it"
                );
            }
            self.stop();
            self.grid = grid;
        }
        let mut wanted: HashMap<TargetId, Target> =
            targets.into_iter().map(|t| (t.id.clone(), t)).collect();
        self.running.retain(|id, running| match wanted.get(id) {
            Some(t) if *t == running.target => {
                wanted.remove(id);
                true
            }
            _ => {
                match &running.task {
                    Some(task) => task.abort(),
                    None => {
                        if let Some(d) = &self.driver {
                            d.remove(id.clone());
                        }
                    }
                }
                false
            }
        });
        for (id, target) in wanted {
            if driver::drives(&target) {
                let runtime = self.runtime.as_ref().map(|rt| &rt.handle);
                let (reports, epoch, grid) = (&self.reports, self.epoch, self.grid);
                self.driver
                    .get_or_insert_with(|| {
                        driver::Driver::start(runtime, reports.clone(), epoch, grid)
                    })
                    .add(target.clone());
                self.running.insert(id, Running { target, task: None });
                continue;
            }
            let fut = run_target(target.clone(), self.reports.clone(), self.epoch, self.grid);
            let task = match &self.runtime {
                Some(rt) => rt.handle.spawn(fut),
                None => tokio::spawn(fut),
            };
            self.running.insert(
                id,
                Running {
                    target,
                    task: Some(task),
                },
            );
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
            if let Some(task) = running.task {
                task.abort();
            }
        }
        self.driver = None;
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.stop();
        // Dropping the stop sender ends the probe thread, which shuts its runtime down
        // in the background (dropping a runtime here would block the daemon's runtime).
        self.runtime.take();
    }
}

/// Ticks are planned on a grid: every tick is moved to the next slot boundary
/// (`epoch + m × grid`), so that targets due in the same slot are probed on one timer
/// wake-up of the probe thread (and their answers read on the next), still spread over
/// the interval, and a tick is never more than one slot late. This is the finest slot.
///
/// Slots are powers of two milliseconds: tokio's timer wheel files a deadline more than
/// 64 ms past a multiple of 64 ms (from the runtime's start, which the epoch is) in its
/// second level, and wakes the thread at that boundary only to move it down. A deadline
/// on a boundary fires there; with 50 ms slots, 15 of the 35 wake-ups a second at 1,000
/// targets were such moves.
pub const TICK_GRID: Duration = Duration::from_millis(8);

/// The coarsest slot: answers are read (and reach the state) at most this much later,
/// and a tick runs at most this much after its planned time.
pub const TICK_GRID_MAX: Duration = Duration::from_millis(64);

/// At most this many probes a slot on average; the grid is the coarsest that keeps to it.
///
/// A wake-up of the probe thread costs as much CPU as several probes on a VM (30–100 µs);
/// 1,000 targets at 1 s on a 10 ms grid woke it 112 times a second for 10 probes each.
/// A slot's probes go out as one burst, and the last of them starts late by the time the
/// others took: at 1,000 targets under 1,000 HTTP connections (bench/load.sh) 64 probes a
/// slot put the schedule slip's p99 at 4.9 and 6.4 ms, 32 at 4.8 and 4.6 ms (the goal is
/// under 5 ms), for 8 % more CPU per probe (bench/README.md, fourth cost round).
const SLOT_PROBES: f64 = 50.0;

/// The grid's slot length for `targets`: the longest power of two milliseconds from
/// [`TICK_GRID`] to [`TICK_GRID_MAX`] that holds at most [`SLOT_PROBES`] probes at their
/// combined rate and is at most a tenth of the shortest interval (a probe's answer waits
/// for a slot); [`TICK_GRID`] when even that is too long.
pub fn grid_for(targets: &[Target]) -> Duration {
    let rate: f64 = targets
        .iter()
        .filter(|t| !t.interval.is_zero())
        .map(|t| 1.0 / t.interval.as_secs_f64())
        .sum();
    let shortest = targets
        .iter()
        .map(|t| t.interval)
        .filter(|i| !i.is_zero())
        .min()
        .unwrap_or(Duration::MAX);
    let mut grid = TICK_GRID_MAX;
    while grid > TICK_GRID && (rate * grid.as_secs_f64() > SLOT_PROBES || grid * 10 > shortest) {
        grid /= 2;
    }
    grid
}

/// Where in `[0, interval)` this target's ticks fall before they are moved to the grid: a
/// stable hash of its identity, rounded down to the `grid` (not below one slot per
/// interval).
pub fn phase(id: &TargetId, interval: Duration, grid: Duration) -> Duration {
    let mut h = DefaultHasher::new();
    match id {
        TargetId::Dns { zone, key } => {
            zone.hash(&mut h);
            key.hash(&mut h);
        }
        TargetId::Check {
            group,
            component,
            key,
        } => {
            group.hash(&mut h);
            component.hash(&mut h);
            key.hash(&mut h);
        }
    }
    let nanos = interval.as_nanos().max(1) as u64;
    let grid = (grid.as_nanos().max(1) as u64).min(nanos);
    let slots = nanos / grid;
    Duration::from_nanos((h.finish() % slots) * grid)
}

/// The index of the first tick at or after `now` of a schedule `base + k × interval`.
fn next_index(base: Instant, interval: Duration, now: Instant) -> u128 {
    if now <= base || interval.is_zero() {
        return 0;
    }
    (now - base).as_nanos().div_ceil(interval.as_nanos())
}

/// `t` moved to the next slot boundary of the grid `epoch + m × grid` (unchanged on one).
fn on_grid(epoch: Instant, grid: Duration, t: Instant) -> Instant {
    let g = grid.as_nanos().max(1);
    let offset = t.saturating_duration_since(epoch).as_nanos();
    let nanos = offset.div_ceil(g) * g;
    epoch + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// Tick `k` of a target: `base + k × interval`, moved to the grid.
fn planned(epoch: Instant, grid: Duration, base: Instant, interval: Duration, k: u128) -> Instant {
    let nanos = u64::try_from(k * interval.as_nanos()).unwrap_or(u64::MAX);
    on_grid(epoch, grid, base + Duration::from_nanos(nanos))
}

async fn run_target(target: Target, reports: mpsc::Sender<Report>, epoch: Instant, grid: Duration) {
    // Ticks at `base + k × interval` moved to the grid: the k-th is at most one slot late,
    // and they never drift. A tick missed (a probe that ran past the next) is skipped.
    let interval = target.interval.max(Duration::from_millis(1));
    let base = epoch + phase(&target.id, interval, grid);
    let mut k = next_index(base, interval, Instant::now());
    loop {
        let planned = planned(epoch, grid, base, interval, k);
        tokio::time::sleep_until(planned).await;
        let slip = Instant::now().saturating_duration_since(planned);
        let at = crate::now_ms();
        let probed = match (&target.id, &target.spec) {
            // The SOA probe (over TCP: UDP ones are the driver's), no conversion of its
            // outcome.
            (TargetId::Dns { zone, key }, CheckSpec::DnsSoa(spec)) => Probed::Dns {
                zone: zone.clone(),
                observation: Observation {
                    key: key.clone(),
                    at,
                    // Boxed too (about 1 KB, with the TCP retry): allocated for the
                    // probe's duration only, not held in every idle target's task.
                    outcome: Box::pin(probe::probe(spec)).await,
                },
            },
            (
                TargetId::Check {
                    group,
                    component,
                    key,
                },
                spec,
            ) => {
                // Boxed: the check kinds' futures (HTTP, TLS, Whois, EPP) are kilobytes,
                // and inline they would size every target's task, DNS ones included.
                let outcome = Box::pin(probe::run_from(
                    spec,
                    target.source,
                    Instant::now() + target.timeout,
                ))
                .await;
                Probed::Check {
                    group: group.clone(),
                    component: component.clone(),
                    observation: CheckObservation {
                        key: key.clone(),
                        at,
                        outcome,
                    },
                }
            }
            (TargetId::Dns { zone, key }, other) => {
                tracing::error!(%zone, server = %key.server, kind = %other.kind(), "a nameserver target needs a dns_soa spec; not probing it");
                return;
            }
        };
        if reports.send(Report { probed, slip }).await.is_err() {
            return; // the state owner is gone: shutting down
        }
        k = (k + 1).max(next_index(base, interval, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(n: usize, interval: Duration) -> Vec<Target> {
        (0..n)
            .map(|i| Target {
                id: TargetId::Check {
                    group: "g".into(),
                    component: format!("c{i}").into(),
                    key: CheckKey {
                        kind: crate::probe::Kind::Tcp,
                        target: format!("t{i}"),
                    },
                },
                spec: CheckSpec::Tcp(crate::probe::tcp::TcpSpec::connect(
                    "127.0.0.1:1".parse().unwrap(),
                )),
                interval,
                timeout: interval / 2,
                source: None,
            })
            .collect()
    }

    #[test]
    fn the_grid_is_the_coarsest_power_of_two_ms_with_at_most_50_probes_a_slot() {
        let s = Duration::from_secs(1);
        let ms = Duration::from_millis;
        // 10,000 probes a second: 80 a slot of 8 ms, the finest (more than 50: no finer).
        assert_eq!(grid_for(&targets(10_000, s)), ms(8));
        assert_eq!(grid_for(&targets(20_000, s)), ms(8));
        assert_eq!(grid_for(&targets(5_000, s)), ms(8));
        // 2,000 a second: 32 a slot of 16 ms; 1,000 (the benchmark): 32 a slot of 32 ms.
        assert_eq!(grid_for(&targets(2_000, s)), ms(16));
        assert_eq!(grid_for(&targets(1_000, s)), ms(32));
        // 780 a second and fewer: the coarsest, 64 ms.
        assert_eq!(grid_for(&targets(780, s)), ms(64));
        assert_eq!(grid_for(&targets(28, s)), ms(64));
        assert_eq!(grid_for(&[]), ms(64));
        // The rate counts, not the number of targets: 2,000 targets at 2 s are 1,000 a second.
        assert_eq!(grid_for(&targets(2_000, 2 * s)), ms(32));
        // Never more than a tenth of the shortest interval, never below the finest slot.
        let mut mixed = targets(10, s);
        mixed.extend(targets(1, ms(200)));
        assert_eq!(grid_for(&mixed), ms(16));
        assert_eq!(grid_for(&targets(3, ms(30))), ms(8));
        assert_eq!(grid_for(&targets(3, ms(3))), ms(8));
    }

    #[test]
    fn ticks_are_aligned_to_the_epoch() {
        let epoch = Instant::now();
        let s = Duration::from_secs(1);
        let ms = Duration::from_millis;
        let base = epoch + ms(32);
        assert_eq!(next_index(base, s, epoch), 0);
        assert_eq!(next_index(base, s, base), 0);
        assert_eq!(next_index(base, s, base + ms(1)), 1);
        assert_eq!(next_index(base, s, epoch + ms(2500)), 3);
        // On a 64 ms grid, 1 s ticks land on the next boundary: never early, at most a
        // slot late, and the schedule does not drift (tick k is k seconds after tick 0,
        // moved to the grid).
        let g = ms(64);
        assert_eq!(planned(epoch, g, base, s, 0), epoch + ms(64));
        assert_eq!(planned(epoch, g, base, s, 1), epoch + ms(1088));
        assert_eq!(planned(epoch, g, base, s, 2), epoch + ms(2048));
        for k in 0..200u128 {
            let nominal = base + s * k as u32;
            let p = planned(epoch, g, base, s, k);
            assert!(p >= nominal && p - nominal < g, "{k}");
            assert_eq!((p - epoch).as_nanos() % g.as_nanos(), 0);
        }
        // A time on a boundary stays there.
        assert_eq!(on_grid(epoch, g, epoch + ms(128)), epoch + ms(128));
        assert_eq!(on_grid(epoch, g, epoch), epoch);
    }

    #[test]
    fn phases_fall_on_the_grid_within_the_interval() {
        for i in 0..200 {
            let id = TargetId::Check {
                group: "g".into(),
                component: format!("c{i}").into(),
                key: CheckKey {
                    kind: crate::probe::Kind::Tcp,
                    target: format!("t{i}"),
                },
            };
            for grid in [TICK_GRID, TICK_GRID_MAX] {
                let p = phase(&id, Duration::from_secs(1), grid);
                assert!(p < Duration::from_secs(1));
                assert_eq!(p.as_nanos() % grid.as_nanos(), 0, "{p:?}");
                // An interval shorter than the grid still spreads nothing past the interval.
                assert!(phase(&id, Duration::from_millis(3), grid) < Duration::from_millis(3));
            }
        }
    }
}
