//! Zone state: the pure core, fed with probe [`Observation`]s.
//!
//! No I/O, no clock: every time is a [`UnixMs`] argument. One [`ZoneState`] per
//! watched zone holds
//!
//! - per target (server, address, transport): last outcome, up/down latch with
//!   hysteresis, recent window of results, counters ([`TargetState`]);
//! - per address (server, address; UDP and TCP both report): latest serial, since
//!   when it is behind the zone's newest serial, regressions ([`AddressState`]);
//! - per server: response-time history and the last serial it propagated ([`ServerState`]);
//! - per zone: newest serial (RFC 1982) and when it was first seen, recent
//!   publications and the gaps between them, the learned normal gap and staleness.
//!
//! Service components (the status page's other components) have their own, simpler state
//! ([`ServiceState`], `service.rs`).
//!
//! [`ZoneState::observe`] returns [`Event`]s for the daemon to log and feed into histograms.

mod event;
mod history;
mod minutes;
mod persisted;
mod server;
mod service;
mod target;
#[cfg(test)]
pub(crate) mod tests;
mod vantage;
pub mod window;
mod zone;

pub use event::Event;
pub use history::{
    merge_minutes, window_start, MinutePoint, ResponseHistory, RttHistogram, HISTORY_MINUTES,
    MINUTE_MS, RTT_BUCKETS,
};
pub use persisted::{PersistedAddress, PersistedServer, PersistedZone};
pub use server::{AddressState, ServerState};
pub use service::{
    CheckError, CheckEvent, CheckKey, CheckObservation, CheckState, PersistedCheck,
    PersistedService, ServiceState,
};
pub use target::{LastError, Observation, TargetKey, TargetState};
pub use vantage::{CanaryState, VantageState};
pub use window::{SampleWindow, WindowStats};
pub use zone::{Lag, Publication, Rollback, ZoneState, MAX_GAPS, MAX_PUBLICATIONS};
