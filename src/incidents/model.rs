//! Incident records: what is stored, served (Statuspage `incidents.json`, feeds) and
//! continued after a restart.

use serde::{Deserialize, Serialize};

use crate::status::Status;
use crate::UnixMs;

/// Statuspage incident status (nsprobe writes `investigating` and `resolved`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// Open: the problem is being looked at.
    Investigating,
    /// Closed: every affected component is operational again.
    Resolved,
}

impl IncidentStatus {
    /// `investigating` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "investigating",
            IncidentStatus::Resolved => "resolved",
        }
    }
}

/// Statuspage impact, following the worst status seen during the incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    /// Nothing user-visible.
    None,
    /// Degraded performance.
    Minor,
    /// Partial outage.
    Major,
    /// Major outage.
    Critical,
}

impl Impact {
    /// The impact of a status: degraded → minor, partial → major, major → critical.
    pub fn of(s: Status) -> Impact {
        match s {
            Status::DegradedPerformance => Impact::Minor,
            Status::PartialOutage => Impact::Major,
            Status::MajorOutage => Impact::Critical,
            _ => Impact::None,
        }
    }

    /// `none`, `minor`, `major` or `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Minor => "minor",
            Impact::Major => "major",
            Impact::Critical => "critical",
        }
    }
}

/// A component touched by an incident update: (group, name) and its statuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedComponent {
    /// The component's group (empty for a group component).
    pub group: String,
    /// The component's name.
    pub name: String,
    /// Status before the change.
    pub old_status: Status,
    /// Status after the change.
    pub new_status: Status,
}

/// One update of an incident, in the operator's words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentUpdate {
    /// Stable id (incident id + sequence number).
    pub id: String,
    /// The incident's status after this update.
    pub status: IncidentStatus,
    /// The text ("Investigating — …", "Update — …", "Resolved — …").
    pub body: String,
    /// When the update was written (the confirmed change's time).
    pub at: UnixMs,
    /// Components whose status changed with this update.
    pub affected_components: Vec<AffectedComponent>,
}

/// An incident: one per group and episode (a server and its group are one incident).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Stable id (from the group and the opening time).
    pub id: String,
    /// Title, e.g. "Updates to the dk. zone are not being published".
    pub name: String,
    /// The group the incident belongs to (e.g. `DNS (.dk)`).
    pub group: String,
    /// Which templates it uses: `stall`, `server` or `component`.
    #[serde(default)]
    pub kind: String,
    /// Investigating or resolved.
    pub status: IncidentStatus,
    /// Worst impact so far.
    pub impact: Impact,
    /// When the incident was opened (the first confirmed non-operational change).
    pub created_at: UnixMs,
    /// When it last changed.
    pub updated_at: UnixMs,
    /// When it was resolved.
    pub resolved_at: Option<UnixMs>,
    /// Updates, oldest first.
    pub updates: Vec<IncidentUpdate>,
    /// Current status of every component the incident touched, by (group, name).
    pub components: Vec<AffectedComponent>,
}

impl Incident {
    /// True until resolved.
    pub fn is_open(&self) -> bool {
        self.status != IncidentStatus::Resolved
    }
}
