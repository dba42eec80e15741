//! Prometheus metrics: one exposition system behind `/metrics`.
//!
//! - `families.rs`: [`FAMILIES`], the contract (names, types, labels, help) and bucket bounds;
//! - `counters.rs`: [`DaemonMetrics`], the daemon-level counters and histograms no zone
//!   state holds (schedule slip, propagation delay, resolution failures, reloads);
//! - `snapshot.rs`: [`Snapshot`], the numbers copied out of the read model under the lock;
//! - `render.rs`: [`render`], the hand-written text exposition, run after the lock is released;
//! - `scrapes.rs`: [`Scrapes`], serving it: concurrent scrapes share one render, gzip once.
//!
//! Everything about targets, servers and zones — probe counters and response-time
//! histograms included — lives in the zone state, so the probe hot path does no
//! metric work and series of removed targets vanish with them.

mod counters;
mod families;
mod render;
mod scrapes;
mod snapshot;

pub use counters::{DaemonMetrics, DaemonSnapshot, Histogram};
pub use families::{
    spec, Family, Kind, DURATION_BUCKETS, FAMILIES, PROPAGATION_BUCKETS, SLIP_BUCKETS,
    STORE_WRITE_BUCKETS,
};
pub use render::{render, render_into, CHUNK};
pub use scrapes::{
    accepts_gzip, gzip, render_gzip, MetricsBody, Rendered, Scrapes, REUSE, STREAM_ABOVE,
};
pub use snapshot::{
    AddressSnapshot, CheckSnapshot, ComponentSnapshot, GroupSnapshot, Snapshot, TargetSnapshot,
    ZoneSnapshot,
};

/// How long a scrape spent where (for the debug log and measurements).
#[derive(Debug, Clone, Copy, Default)]
pub struct ScrapeTimes {
    /// Waiting for the state lock.
    pub lock_wait: std::time::Duration,
    /// Holding the state lock (evaluating statuses and copying numbers).
    pub lock_held: std::time::Duration,
    /// Rendering the text (and compressing it, for gzip), after the lock was released.
    pub render: std::time::Duration,
}

/// The copies a scrape renders from: taken under the lock ([`Snapshot::take`]).
pub fn take(
    shared: &crate::model::Shared,
    daemon: &DaemonMetrics,
    now: crate::UnixMs,
) -> (Snapshot, DaemonSnapshot, ScrapeTimes) {
    use std::time::Instant;
    let t0 = Instant::now();
    let (snap, lock_wait, lock_held) = {
        let inner = shared.lock();
        let t1 = Instant::now();
        let snap = Snapshot::take(&inner, now);
        (snap, t1 - t0, t1.elapsed())
    };
    let times = ScrapeTimes {
        lock_wait,
        lock_held,
        render: std::time::Duration::ZERO,
    };
    (snap, daemon.snapshot(), times)
}

/// Render `/metrics` from the read model: copy under the lock, render after.
pub fn scrape(
    shared: &crate::model::Shared,
    daemon: &DaemonMetrics,
    now: crate::UnixMs,
) -> (String, ScrapeTimes) {
    use std::time::Instant;
    let t0 = Instant::now();
    let (snap, lock_wait, lock_held) = {
        let inner = shared.lock();
        let t1 = Instant::now();
        let snap = Snapshot::take(&inner, now);
        (snap, t1 - t0, t1.elapsed())
    };
    let t2 = Instant::now();
    let body = render(&snap, &daemon.snapshot());
    let times = ScrapeTimes {
        lock_wait,
        lock_held,
        render: t2.elapsed(),
    };
    (body, times)
}
