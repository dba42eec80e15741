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
    /// Updates, newest first: scheduled, then in progress at the start, completed at the end.
    pub incident_updates: Vec<Update>,
    /// Affected components.
    pub components: Vec<Component>,
}

/// An incident (`incidents.json`, `incidents/unresolved.json`, `summary.json`).
#[derive(Debug, Clone, Serialize)]
pub struct IncidentDoc {
    /// Stable id.
    pub id: String,
    /// Title.
    pub name: String,
    /// `investigating` or `resolved`.
    pub status: &'static str,
    /// When opened.
    pub created_at: String,
    /// When last updated.
    pub updated_at: String,
    /// Not used: null.
    pub monitoring_at: Option<String>,
    /// When resolved.
    pub resolved_at: Option<String>,
    /// `none`, `minor`, `major` or `critical`.
    pub impact: &'static str,
    /// Not tracked: null.
    pub shortlink: Option<String>,
    /// When opened.
    pub started_at: String,
    /// Page id.
    pub page_id: String,
    /// Updates, newest first.
    pub incident_updates: Vec<Update>,
    /// Components the incident touched (current statuses).
    pub components: Vec<Component>,
}

/// One incident or maintenance update.
#[derive(Debug, Clone, Serialize)]
pub struct Update {
    /// Stable id.
    pub id: String,
    /// The incident's status after this update.
    pub status: &'static str,
    /// The text.
    pub body: String,
    /// The incident's id.
    pub incident_id: String,
    /// When written.
    pub created_at: String,
    /// When written.
    pub updated_at: String,
    /// When written.
    pub display_at: String,
    /// Components whose status changed with this update.
    pub affected_components: Vec<Affected>,
}

/// A component change in an update.
#[derive(Debug, Clone, Serialize)]
pub struct Affected {
    /// The component's id.
    pub code: String,
    /// The component's name.
    pub name: String,
    /// Status before.
    pub old_status: Status,
    /// Status after.
    pub new_status: Status,
}

/// `/api/v2/summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Page.
    pub page: Page,
    /// Every component, groups first then their members.
    pub components: Vec<Component>,
    /// Unresolved incidents, newest first.
    pub incidents: Vec<IncidentDoc>,
    /// Windows in progress or to come.
    pub scheduled_maintenances: Vec<ScheduledMaintenance>,
    /// Overall indicator.
    pub status: PageStatus,
    /// Every declared window, past ones `completed` (for `scheduled-maintenances.json`).
    #[serde(skip)]
    pub all_maintenances: Vec<ScheduledMaintenance>,
    /// The (group, name) of each entry of `components`.
    #[serde(skip)]
    pub component_ids: Vec<ComponentId>,
}

/// The Statuspage document of an incident; `components`/`ids` as in [`Summary`].
pub fn incident_doc(
    inc: &crate::incidents::Incident,
    page_id: &str,
    components: &[Component],
    ids: &[ComponentId],
) -> IncidentDoc {
    let code = |group: &str, name: &str| {
        let id = if group.is_empty() {
            ComponentId::group(name)
        } else {
            ComponentId::member(group, name)
        };
        component_id(&id)
    };
    let mut updates: Vec<Update> = inc
        .updates
        .iter()
        .map(|u| Update {
            id: u.id.clone(),
            status: u.status.as_str(),
            body: u.body.clone(),
            incident_id: inc.id.clone(),
            created_at: rfc3339(u.at),
            updated_at: rfc3339(u.at),
            display_at: rfc3339(u.at),
            affected_components: u
                .affected_components
                .iter()
                .map(|a| Affected {
                    code: code(&a.group, &a.name),
                    name: a.name.clone(),
                    old_status: a.old_status,
                    new_status: a.new_status,
                })
                .collect(),
        })
        .collect();
    updates.reverse();
    IncidentDoc {
        id: inc.id.clone(),
        name: inc.name.clone(),
        status: inc.status.as_str(),
        created_at: rfc3339(inc.created_at),
        updated_at: rfc3339(inc.updated_at),
        monitoring_at: None,
        resolved_at: inc.resolved_at.map(rfc3339),
        impact: inc.impact.as_str(),
        shortlink: None,
        started_at: rfc3339(inc.created_at),
        page_id: page_id.to_string(),
        incident_updates: updates,
        components: components
            .iter()
            .zip(ids)
            .filter(|(_, id)| {
                inc.components
                    .iter()
                    .any(|a| a.group == id.group && a.name == id.name)
            })
            .map(|(c, _)| c.clone())
            .collect(),
    }
}

/// Maintenance status at `now`: `scheduled` before the window, `in_progress` during it,
/// `completed` after.
pub fn maintenance_status(start: UnixMs, end: UnixMs, now: UnixMs) -> &'static str {
    if now < start {
        "scheduled"
    } else if now < end {
        "in_progress"
    } else {
        "completed"
    }
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
    // A group component (a zone's or a service group's) at `position`, then its members.
    let mut add_group = |group: &ComponentStatus, members: &[ComponentStatus], position| {
        let group_id = ComponentId::group(&group.name);
        let gid = component_id(&group_id);
        let mut g = component(&group_id, group, position, None);
        g.group = true;
        g.components = Some(
            members
                .iter()
                .map(|m| component_id(&ComponentId::member(&group.name, &m.name)))
                .collect(),
        );
        groups.push(group.statuspage_status());
        ids.push(group_id);
        components.push(g);
        for (mi, m) in members.iter().enumerate() {
            let id = ComponentId::member(&group.name, &m.name);
            components.push(component(&id, m, mi + 1, Some(gid.clone())));
            ids.push(id);
        }
    };
    let zones = inner.statuses(now);
    let zone_groups = zones.len();
    for (gi, (_, zs)) in zones.into_iter().enumerate() {
        add_group(&zs.group, &zs.servers, gi + 1);
    }
    // Service groups follow the zone groups, in config order, with their members.
    for (gi, (_, gs)) in inner.group_statuses(now).into_iter().enumerate() {
        add_group(&gs.group, &gs.components, zone_groups + gi + 1);
    }
    let all_maintenances: Vec<ScheduledMaintenance> = inner
        .config
        .maintenance
        .iter()
        .map(|w| {
            let status = maintenance_status(w.start, w.end, now);
            let id = stable_id(
                "maintenance",
                &format!("{}{}{:?}", w.start, w.end, w.components),
            );
            let name = if w.reason.is_empty() {
                "Scheduled maintenance".to_string()
            } else {
                w.reason.clone()
            };
            let affected: Vec<Component> = components
                .iter()
                .zip(&ids)
                .filter(|(_, id)| w.covers(&id.group, &id.name))
                .map(|(c, _)| c.clone())
                .collect();
            let names: Vec<String> = affected.iter().map(|c| c.name.clone()).collect();
            let names = crate::incidents::text::and_list(&names);
            let mut updates = Vec::new();
            let mut update = |n: usize, st: &'static str, at: UnixMs, body: String| {
                updates.push(Update {
                    id: format!("{id}-{n}"),
                    status: st,
                    body,
                    incident_id: id.clone(),
                    created_at: rfc3339(at),
                    updated_at: rfc3339(at),
                    display_at: rfc3339(at),
                    affected_components: Vec::new(),
                })
            };
            update(
                1,
                "scheduled",
                w.start.min(inner.started_at),
                format!(
                    "Scheduled — {name}: {names} from {} until {}.",
                    crate::incidents::text::datetime(w.start),
                    crate::incidents::text::datetime(w.end)
                ),
            );
            if status != "scheduled" {
                update(
                    2,
                    "in_progress",
                    w.start,
                    format!("In progress — {name}: maintenance of {names} has begun."),
                );
            }
            if status == "completed" {
                update(
                    3,
                    "completed",
                    w.end,
                    format!("Completed — {name}: maintenance of {names} is complete."),
                );
            }
            updates.reverse();
            let updated = match status {
                "scheduled" => w.start.min(inner.started_at),
                "in_progress" => w.start,
                _ => w.end,
            };
            ScheduledMaintenance {
                id: id.clone(),
                name,
                status,
                created_at: rfc3339(w.start.min(inner.started_at)),
                updated_at: rfc3339(updated),
                monitoring_at: None,
                resolved_at: (status == "completed").then(|| rfc3339(w.end)),
                impact: "maintenance",
                shortlink: None,
                started_at: (status != "scheduled").then(|| rfc3339(w.start)),
                page_id: page_id.clone(),
                scheduled_for: rfc3339(w.start),
                scheduled_until: rfc3339(w.end),
                incident_updates: updates,
                components: affected,
            }
        })
        .collect();
    let scheduled_maintenances = all_maintenances
        .iter()
        .filter(|m| m.status != "completed")
        .cloned()
        .collect();
    let mut open: Vec<&crate::incidents::Incident> = inner.incidents.open().collect();
    open.sort_by_key(|i| std::cmp::Reverse(i.created_at));
    let incidents = open
        .into_iter()
        .map(|i| incident_doc(i, &page_id, &components, &ids))
        .collect();
    let worst_status = worst(groups.iter().copied().filter(|s| severity(*s) > 1));
    Summary {
        page,
        components,
        incidents,
        scheduled_maintenances,
        status: indicator(worst_status),
        all_maintenances,
        component_ids: ids,
    }
}
