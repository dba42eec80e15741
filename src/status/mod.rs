//! Statuses: what nsprobe publishes per status-page component.
//!
//! Three pure layers (rules in README.md, section Status rules):
//! - [`dns`]: zone state + maintenance + now → the *proposed* status of every nameserver
//!   (what the evidence says right now) and the group rule;
//! - [`confirm`]: a generic confirmation layer (proposed status + now → confirmed status with
//!   since and reason) that any component kind reuses;
//! - [`vantage`]: is nsprobe's own view trustworthy (canaries)?
//! - [`observation`] and [`quorum`]: what each vantage saw, and the verdict of several
//!   vantages (a hub with `[[peer]]`s);
//! - [`service`]: the same reachability rules for service components (tcp, tls, http, whois,
//!   epp checks) plus certificate expiry, their group rule and [`ServiceTracker`];
//! - [`judge`]: the judgements both share (targets down, loss and slowness over the window).
//!
//! [`tracker::ZoneTracker`] ties them together for one zone; the daemon calls it every
//! [`STATUS_TICK`].

pub mod confirm;
pub mod dns;
pub mod freshness;
pub mod judge;
pub mod observation;
pub mod quorum;
pub mod service;
pub mod tracker;
pub mod vantage;
pub mod vantage_series;

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::UnixMs;

pub use confirm::{
    Change, Confirmation, Member, SavedConfirmation, SavedTracker, Timing, RESTORE_HOLD,
};
pub use dns::{active_maintenance, evaluate_server, evaluate_zone, propose_servers, staleness};
pub use freshness::{Freshest, SerialSightings};
pub use observation::{
    Noted, ObservationLog, ObservationPage, ObservationRecord, Seen, VantageViews,
};
pub use quorum::{decide, QuorumRule};
pub use service::{
    evaluate_service, evaluate_service_group, GroupRule, GroupStatus, ServiceTracker,
};
pub use tracker::{HubView, ZoneTracker};
pub use vantage::{vantage_verdict, Vantage};
pub use vantage_series::{SeriesPoint, VantageSeries};

/// How often statuses are evaluated and published through the confirmation layer: the
/// granularity of `confirm_after` / `clear_after` (a bound gains at most two ticks).
///
/// Each tick applies the reports that arrived since the last one and judges every
/// component, so the state thread's CPU is nearly proportional to the tick rate: at 1,000
/// targets the 250 ms tick was a quarter of the process, and 512 ms took 16 % off the CPU
/// per probe (bench/README.md, eighth cost round) for half a second more on each status
/// bound. A multiple of 64 ms, counted from the state runtime's start: tokio's timer
/// wheel fires such a deadline where it lies, where one off those boundaries costs a
/// second wake-up first (to move it down a level of the wheel).
pub const STATUS_TICK: Duration = Duration::from_millis(512);

/// A component status: the five of Atlassian Statuspage, plus `unknown` for a component
/// nsprobe cannot observe (no address known, not probed yet, or its own vantage is down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Working normally.
    Operational,
    /// Working, but slow, lossy, lagging, stale or with a sub-component not operational.
    DegradedPerformance,
    /// Partly unavailable.
    PartialOutage,
    /// Unavailable.
    MajorOutage,
    /// In a declared maintenance window.
    UnderMaintenance,
    /// Not observable: nothing is claimed (never `operational` without evidence).
    Unknown,
}

impl Status {
    /// Every status, in a stable order (for pre-creating metric series).
    pub const ALL: [Status; 6] = [
        Status::Operational,
        Status::DegradedPerformance,
        Status::PartialOutage,
        Status::MajorOutage,
        Status::UnderMaintenance,
        Status::Unknown,
    ];

    /// Stable snake_case name (`operational`, `degraded_performance`, `partial_outage`,
    /// `major_outage`, `under_maintenance`, `unknown`), as in the JSON API and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Operational => "operational",
            Status::DegradedPerformance => "degraded_performance",
            Status::PartialOutage => "partial_outage",
            Status::MajorOutage => "major_outage",
            Status::UnderMaintenance => "under_maintenance",
            Status::Unknown => "unknown",
        }
    }

    /// How bad an observed status is: 0 operational … 3 major outage; None for maintenance
    /// and unknown, which are not observations of health.
    pub fn severity(self) -> Option<usize> {
        match self {
            Status::Operational => Some(0),
            Status::DegradedPerformance => Some(1),
            Status::PartialOutage => Some(2),
            Status::MajorOutage => Some(3),
            Status::UnderMaintenance | Status::Unknown => None,
        }
    }

    /// The observed status of a severity (inverse of [`Status::severity`]).
    pub fn from_severity(level: usize) -> Status {
        match level {
            0 => Status::Operational,
            1 => Status::DegradedPerformance,
            2 => Status::PartialOutage,
            _ => Status::MajorOutage,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status of one status-page component, with a short human reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentStatus {
    /// Component name (nameserver name, or the zone's group component name).
    pub name: String,
    /// The status.
    pub status: Status,
    /// Why, as a short sentence with the numbers (e.g. `udp [2001:db8::1]:53 down: timeout`).
    pub reason: String,
    /// When the published status last changed (the last confirmed change); None for a
    /// proposed status that has not been through the confirmation layer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<UnixMs>,
    /// The last confirmed observed status (operational … major outage), kept while the
    /// status is `unknown` or `under_maintenance`; None when nothing was ever confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_known: Option<Status>,
}

impl ComponentStatus {
    /// A proposed status (not confirmed yet: no since, no history).
    pub fn new(name: &str, status: Status, reason: String) -> ComponentStatus {
        ComponentStatus {
            name: name.to_string(),
            status,
            reason,
            since: None,
            last_known: None,
        }
    }

    /// The status on the Statuspage-compatible API, which has no `unknown`: the last
    /// confirmed observed status is held; a nameserver never observed because none of its
    /// names resolves is a `major_outage` (no resolver can reach it either); a component
    /// with no observation yet is `degraded_performance` (README, section Status rules).
    pub fn statuspage_status(&self) -> Status {
        match self.status {
            Status::Unknown => match self.last_known {
                Some(s) => s,
                None if self.reason.starts_with(dns::NO_ADDRESS) => Status::MajorOutage,
                None => Status::DegradedPerformance,
            },
            s => s,
        }
    }
}

/// The statuses of a zone: its group component and one component per nameserver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZoneStatus {
    /// The zone's group component (e.g. `DNS (.dk)`).
    pub group: ComponentStatus,
    /// True when the zone's newest serial is older than its staleness threshold
    /// (reported even while the group is in maintenance or in an outage).
    pub stale: bool,
    /// One component per nameserver, ordered by name.
    pub servers: Vec<ComponentStatus>,
}

/// A span in whole seconds, humantime style (`26m 3s`); below a second: `0s`.
/// The one format every status reason uses for spans.
pub(crate) fn fmt_ms(ms: u64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(ms / 1000)).to_string()
}
