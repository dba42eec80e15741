//! Prometheus metrics: one exposition system behind `/metrics`.
//!
//! - `families.rs`: [`FAMILIES`], the contract (names, types, labels, help) and bucket bounds;
//! - `counters.rs`: [`DaemonMetrics`], the daemon-level counters and histograms no zone
//!   state holds (schedule slip, propagation delay, resolution failures, reloads);
//! - `snapshot.rs`: [`Snapshot`], the numbers copied out of the read model under the lock;
//! - `render.rs`: [`render`], the hand-written text exposition, run after the lock is released.
//!
//! Everything about targets, servers and zones — probe counters and response-time
//! histograms included — lives in the zone state, so the probe hot path does no
//! metric work and series of removed targets vanish with them.

mod counters;
mod families;
mod render;
mod snapshot;

pub use counters::{DaemonMetrics, DaemonSnapshot, Histogram};
pub use families::{
    spec, Family, Kind, DURATION_BUCKETS, FAMILIES, PROPAGATION_BUCKETS, SLIP_BUCKETS,
};
pub use render::render;
pub use snapshot::{
    AddressSnapshot, CheckSnapshot, ComponentSnapshot, GroupSnapshot, Snapshot, TargetSnapshot,
    ZoneSnapshot,
};

/// Render `/metrics` from the read model: copy under the lock, render after.
///
/// Returns the body and how long the lock was held (for the caller to log or measure).
pub fn scrape(
    shared: &crate::model::Shared,
    daemon: &DaemonMetrics,
    now: crate::UnixMs,
) -> (String, std::time::Duration) {
    let (snap, held) = {
        let inner = shared.lock();
        let t0 = std::time::Instant::now();
        let snap = Snapshot::take(&inner, now);
        (snap, t0.elapsed())
    };
    (render(&snap, &daemon.snapshot()), held)
}
