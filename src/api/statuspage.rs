//! A Statuspage v2-compatible view (`/api/v2/summary.json`,
//! `/api/v2/components.json`, `/api/v2/status.json`), so existing Statuspage
//! clients and widgets can read nsprobe directly.
//!
//! Each zone's group (e.g. "DNS (.dk)") and each service group (`[[group]]`)
//! is itself a component with `group: true` and its members' ids in
//! `components`, as Statuspage lists groups. Ids are derived from names, so they are stable across restarts.

use serde::Serialize;

use super::{rfc3339, severity, worst};
use crate::model::{ComponentId, Inner};
use crate::status::{ComponentStatus, Status};
use crate::UnixMs;

/// `page` object.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// Stable page id.
    pub id: String,
    /// Page name.
    pub name: String,
    /// Page URL (the API's own base).
    pub url: String,
    /// Always `Etc/UTC`.
    pub time_zone: String,
    /// When anything on the page last changed.
    pub updated_at: String,
}

/// A component (or a component group).
#[derive(Debug, Clone, Serialize)]
pub struct Component {
    /// Stable id derived from the name.
    pub id: String,
    /// Component name (nameserver name, or the zone's group name).
    pub name: String,
    /// One of the five Statuspage statuses.
    pub status: Status,
    /// When nsprobe first reported the component.
    pub created_at: String,
    /// When the status last changed.
    pub updated_at: String,
    /// Position within its group (groups: among groups), from 1.
    pub position: usize,
    /// Why the component has this status.
    pub description: Option<String>,
    /// Always true.
    pub showcase: bool,
    /// Not tracked: null.
    pub start_date: Option<String>,
    /// Id of the group this component belongs to (null for groups).
    pub group_id: Option<String>,
    /// Page id.
    pub page_id: String,
    /// True for a group component.
    pub group: bool,
    /// Always false.
    pub only_show_if_degraded: bool,
    /// Member ids (groups only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<String>>,
}

/// Top-level `status`.
#[derive(Debug, Clone, Serialize)]
pub struct PageStatus {
    /// `none`, `minor`, `major` or `critical`.
    pub indicator: &'static str,
    /// Human description of the indicator.
    pub description: &'static str,
}

/// A scheduled maintenance from the config's windows.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduledMaintenance {
    /// Stable id from the window.
    pub id: String,
    /// Name: the window's reason.
    pub name: String,
    /// `scheduled`, `in_progress` or `completed`.
    pub status: &'static str,
    /// Start of the window.
    pub created_at: String,
    /// Start of the window.
    pub updated_at: String,
    /// Not tracked: null.
    pub monitoring_at: Option<String>,
    /// End of the window once it has passed.
    pub resolved_at: Option<String>,
    /// Always `maintenance`.
    pub impact: &'static str,
    /// Not tracked: null.
    pub shortlink: Option<String>,
    /// Start of the window, once started.
    pub started_at: Option<String>,
    /// Page id.
    pub page_id: String,
    /// Window start.
    pub scheduled_for: String,
    /// Window end.
    pub scheduled_until: String,
    /// Always empty.
    pub incident_updates: Vec<serde_json::Value>,
    /// Affected components.
    pub components: Vec<Component>,
}

/// `/api/v2/summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Page.
    pub page: Page,
    /// Every component, groups first then their members.
    pub components: Vec<Component>,
    /// Always empty: nsprobe does not write incidents.
    pub incidents: Vec<serde_json::Value>,
    /// Windows in progress or to come.
    pub scheduled_maintenances: Vec<ScheduledMaintenance>,
    /// Overall indicator.
    pub status: PageStatus,
}

/// `/api/v2/components.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentsDoc {
    /// Page.
    pub page: Page,
    /// Components.
    pub components: Vec<Component>,
}

/// `/api/v2/status.json`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusDoc {
    /// Page.
    pub page: Page,
    /// Overall indicator.
    pub status: PageStatus,
}

/// Stable 12-character id from a name (FNV-1a 64, base 36).
pub fn stable_id(kind: &str, name: &str) -> String {
    crate::model::stable_id(kind, name)
}

/// The Statuspage id of a component (see [`ComponentId::public_id`]).
pub fn component_id(id: &ComponentId) -> String {
    id.public_id()
}

/// Statuspage indicator for the worst status on the page.
pub fn indicator(s: Status) -> PageStatus {
    match s {
        Status::Operational | Status::UnderMaintenance | Status::Unknown => PageStatus {
            indicator: "none",
            description: "All Systems Operational",
        },
        Status::DegradedPerformance => PageStatus {
            indicator: "minor",
            description: "Minor Service Outage",
        },
        Status::PartialOutage => PageStatus {
            indicator: "major",
            description: "Partial System Outage",
        },
        Status::MajorOutage => PageStatus {
            indicator: "critical",
            description: "Major Service Outage",
        },
    }
}

/// Build the whole Statuspage summary from the daemon's state at `now`.
pub fn summary(inner: &Inner, now: UnixMs) -> Summary {
    let page_id = stable_id("page", "nsprobe");
    let page = Page {
        id: page_id.clone(),
        name: inner.config.page.name.clone(),
        url: format!("http://{}", inner.http_addr),
        time_zone: "Etc/UTC".into(),
        updated_at: rfc3339(now),
    };
    let created = rfc3339(inner.started_at);
    // A component is (group, name): a nameserver in two zones is two components.
    // Statuspage has no `unknown`: the last confirmed status is held and the description
    // says so (README, section Status rules); `updated_at` is the last confirmed change.
    let component =
        |id: &ComponentId, c: &ComponentStatus, position: usize, group_id: Option<String>| {
            let description = if c.status == Status::Unknown {
                match c.last_known {
                    Some(k) => format!(
                        "status unknown, showing the last confirmed ({k}): {}",
                        c.reason
                    ),
                    None => format!("status unknown: {}", c.reason),
                }
            } else {
                c.reason.clone()
            };
            Component {
                id: component_id(id),
                name: id.name.clone(),
                status: c.statuspage_status(),
                created_at: created.clone(),
                updated_at: c.since.map(rfc3339).unwrap_or_else(|| created.clone()),
                position,
                description: Some(description).filter(|r| !r.is_empty()),
                showcase: true,
                start_date: None,
                group_id,
                page_id: page_id.clone(),
                group: false,
                only_show_if_degraded: false,
                components: None,
            }
        };
    let mut components = Vec::new();
    // The (group, name) of each entry of `components`, for matching maintenance windows.
    let mut ids: Vec<ComponentId> = Vec::new();
    // The page indicator follows the zone groups (as `status` of `/api/v1/status`
    // does): one server out of several is the group's degradation, not a
    // critical outage of the page.
    let mut groups = Vec::new();
    for (gi, (_, zs)) in inner.statuses(now).into_iter().enumerate() {
        let group_id = ComponentId::group(&zs.group.name);
        let gid = component_id(&group_id);
        let mut group = component(&group_id, &zs.group, gi + 1, None);
        group.group = true;
        group.components = Some(
            zs.servers
                .iter()
                .map(|s| component_id(&ComponentId::member(&zs.group.name, &s.name)))
                .collect(),
        );
        groups.push(zs.group.statuspage_status());
        ids.push(group_id);
        components.push(group);
        for (si, s) in zs.servers.iter().enumerate() {
            let id = ComponentId::member(&zs.group.name, &s.name);
            components.push(component(&id, s, si + 1, Some(gid.clone())));
            ids.push(id);
        }
    }
    // Service groups follow the zone groups, in config order, with their members.
    let zone_groups = groups.len();
    for (gi, (_, gs)) in inner.group_statuses(now).into_iter().enumerate() {
        let group_id = ComponentId::group(&gs.group.name);
        let gid = component_id(&group_id);
        let mut group = component(&group_id, &gs.group, zone_groups + gi + 1, None);
        group.group = true;
        group.components = Some(
            gs.components
                .iter()
                .map(|c| component_id(&ComponentId::member(&gs.group.name, &c.name)))
                .collect(),
        );
        groups.push(gs.group.statuspage_status());
        ids.push(group_id);
        components.push(group);
        for (ci, c) in gs.components.iter().enumerate() {
            let id = ComponentId::member(&gs.group.name, &c.name);
            components.push(component(&id, c, ci + 1, Some(gid.clone())));
            ids.push(id);
        }
    }
    let scheduled_maintenances = inner
        .config
        .maintenance
        .iter()
        .filter(|w| w.end > now)
        .map(|w| {
            let started = w.start <= now;
            ScheduledMaintenance {
                id: stable_id(
                    "maintenance",
                    &format!("{}{}{:?}", w.start, w.end, w.components),
                ),
                name: if w.reason.is_empty() {
                    "Scheduled maintenance".into()
                } else {
                    w.reason.clone()
                },
                status: if started { "in_progress" } else { "scheduled" },
                created_at: rfc3339(w.start),
                updated_at: rfc3339(w.start),
                monitoring_at: None,
                resolved_at: None,
                impact: "maintenance",
                shortlink: None,
                started_at: started.then(|| rfc3339(w.start)),
                page_id: page_id.clone(),
                scheduled_for: rfc3339(w.start),
                scheduled_until: rfc3339(w.end),
                incident_updates: Vec::new(),
                components: components
                    .iter()
                    .zip(&ids)
                    .filter(|(_, id)| w.covers(&id.group, &id.name))
                    .map(|(c, _)| c.clone())
                    .collect(),
            }
        })
        .collect();
    let worst_status = worst(groups.iter().copied().filter(|s| severity(*s) > 1));
    Summary {
        page,
        components,
        incidents: Vec::new(),
        scheduled_maintenances,
        status: indicator(worst_status),
    }
}
