//! nsprobe: watches the authoritative nameservers of DNS zones.
//!
//! The crate reads as a pipeline (see `ARCHITECTURE.md`):
//! [`config`] → [`probe`] (one query to one address) → [`scheduler`] →
//! [`state`] (pure zone state) → [`status`] (pure status function) →
//! [`metrics`] / [`api`], which read the [`model`]; [`daemon`] wires it all together.

#![warn(missing_docs)]

pub mod api;
pub mod check;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod incidents;
pub mod metrics;
pub mod model;
pub mod page;
pub mod peer;
pub mod persist;
pub mod probe;
pub mod resolve;
pub mod scheduler;
pub mod serial;
pub mod state;
pub mod status;
pub mod store;
pub mod systemd;
pub mod targets;
pub mod uptime;
pub mod web;

/// Wall-clock time as milliseconds since the Unix epoch.
///
/// The pure core ([`state`], [`status`]) never reads a clock: every function
/// that needs "now" takes a `UnixMs` argument, so tests drive it with a fake clock.
pub type UnixMs = u64;

/// A duration in whole milliseconds, saturating at `u64::MAX`: the unit every
/// `UnixMs` comparison in the pure core uses.
pub(crate) fn duration_ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The current wall-clock time in milliseconds since the Unix epoch.
///
/// Only the shell (scheduler, daemon, API) calls this; the pure core takes time as an argument.
pub fn now_ms() -> UnixMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
