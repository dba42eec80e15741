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
pub mod priority;
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

/// A stable 12-character id from `bytes` (FNV-1a 64, base 36): the Statuspage ids of
/// components, maintenances and incidents.
pub(crate) fn stable_id_of(bytes: impl IntoIterator<Item = u8>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = [b'0'; 12];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(h % 36) as usize];
        h /= 36;
    }
    String::from_utf8_lossy(&out).into_owned()
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
